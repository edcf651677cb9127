"""``analysis report``: the reports of a period, from ``processed/`` to ``reports/<period>/``.

* ``counties/<code>.html``: each county's report (``notebooks/county_report``), its
  executed notebook ``counties/<code>.ipynb`` beside it for audit;
* ``prefecture.html`` and ``prefecture_public.html`` (``notebooks/prefecture_report``; the
  public version suppresses small counts), with their executed notebooks;
* ``ledgers/<code>.xlsx``: each county's follow-up ledger (:mod:`analysis.report.ledger`);
* ``metrics.json``: each report's outcome, seconds and warnings, and the run's inputs.

The notebooks run in parallel worker processes (``report.workers``); one report's failure
is recorded and the others go on; the stage's summary says which failed and why, and the
command exits non-zero. A period whose inputs, notebooks and code have not changed since
its last complete run is skipped.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from analysis.config import Config, default_config
from analysis.layout import Layout
from analysis.report.period import check_period, default_period
from analysis.report.render import Job, Result, render_all
from analysis.report.sources import county_names, last_record_month
from analysis.runs import file_sha1, fingerprint, read_manifest, unchanged, write_json
from analysis.summary import StageSummary

#: The subpackages whose code is part of the fingerprint.
CODE = ("report",)
#: The report notebooks (in the notebooks folder).
COUNTY_NOTEBOOK, PREFECTURE_NOTEBOOK = "county_report.ipynb", "prefecture_report.ipynb"


def notebooks_dir(config: Config) -> Path:
    """The folder of the report notebooks: ``report.notebooks``, or the project's
    ``notebooks/`` (beside ``src/``)."""
    if config.report.notebooks:
        folder = Path(config.report.notebooks).expanduser()
    else:
        folder = Path(__file__).resolve().parents[3] / "notebooks"
    missing = [n for n in (COUNTY_NOTEBOOK, PREFECTURE_NOTEBOOK) if not (folder / n).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{folder}: no {', '.join(missing)}; set report.notebooks in a --config file to "
            "the folder holding the report notebooks"
        )
    return folder


def _inputs_key(layout: Layout, config: Config, period: str, lang: str, folder: Path) -> str:
    model = read_manifest(layout.model_json) or {}
    effects = read_manifest(layout.effects_json) or {}
    notebooks = {n: file_sha1(folder / n) for n in (COUNTY_NOTEBOOK, PREFECTURE_NOTEBOOK)}
    indicators = file_sha1(layout.indicators) if layout.indicators.exists() else None
    return fingerprint(
        model.get("fingerprint"), effects.get("fingerprint"), indicators, notebooks, period,
        lang, config.report, config.privacy, config.effects, code=CODE,
    )  # fmt: skip


def jobs_for(
    layout: Layout, counties: list[str], period: str, lang: str, folder: Path
) -> list[Job]:
    """The rendering jobs: one per county, then the prefecture's two versions."""
    data = str(layout.data.resolve())
    jobs = [
        Job(
            name=code,
            notebook=folder / COUNTY_NOTEBOOK,
            parameters={"data_dir": data, "county": code, "period": period, "lang": lang},
            html=layout.county_report(period, code),
            executed=layout.county_report(period, code, ".ipynb"),
        )
        for code in counties
    ]
    for public in (False, True):
        jobs.append(
            Job(
                name="prefecture_public" if public else "prefecture",
                notebook=folder / PREFECTURE_NOTEBOOK,
                parameters={"data_dir": data, "period": period, "lang": lang, "public": public},
                html=layout.prefecture_report(period, public),
                executed=layout.prefecture_report(period, public, ".ipynb"),
            )
        )
    return jobs


def report(
    layout: Layout,
    config: Config | None = None,
    *,
    county: str = "all",
    period: str | None = None,
    lang: str = "zh",
    force: bool = False,
    progress=None,
) -> StageSummary:
    """Render the reports and ledgers of a period (see the module docstring).

    Parameters
    ----------
    layout : the data folder and its reports folder.
    config : the run's settings (``report`` section: workers, notebooks folder ...).
    county : a county code, or ``all`` (every county and the prefecture).
    period : ``YYYY-MM`` (default: the month after the latest attendance records).
    lang : ``zh`` or ``en``.
    force : render even if nothing changed.
    progress : called with a short message as each report finishes.

    Returns
    -------
    StageSummary
        ``manifest['failed']`` lists the reports that failed (the command exits 1).
    """
    config = config or default_config()
    for p, stage in (
        (layout.model_json, "analysis model"),
        (layout.indicators, "analysis link"),
        (layout.effects_json, "analysis effects"),
    ):
        if not p.exists():
            raise FileNotFoundError(f"{p} is missing: run `{stage}` first")
    if lang not in ("zh", "en"):
        raise ValueError(f"--lang {lang!r}: zh or en")
    period = check_period(period) if period else default_period(last_record_month(layout))
    names = county_names(layout)
    if county != "all" and county not in names:
        raise ValueError(
            f"--county {county!r} is not in the school roster (its counties: "
            f"{', '.join(sorted(names))}, or all)"
        )
    counties = sorted(names) if county == "all" else [county]
    folder = notebooks_dir(config)
    key = _inputs_key(layout, config, period, lang, folder)
    jobs = jobs_for(layout, counties, period, lang, folder)
    if county != "all":
        jobs = jobs[:1]
    outputs = [j.html for j in jobs] + [layout.ledger(period, c) for c in counties]
    metrics_path = layout.report_metrics(period)
    prev = None if force or county != "all" else unchanged(metrics_path, key, outputs)
    if prev is not None:
        return StageSummary("report", True, prev, _tables(prev), _notes(layout, period))

    t0 = time.perf_counter()
    ledgers = _ledgers(layout, config, counties, period, lang)
    results = render_all(
        jobs, config.report.workers,
        progress=(lambda r: progress(f"{r.name} {'ok' if r.ok else 'FAILED'}")) if progress else None,
    )  # fmt: skip
    manifest = _manifest(results, ledgers, period, lang, key, time.perf_counter() - t0)
    if config.report.screenshots:
        manifest["screenshots"] = _screenshots(results)
    if county == "all":
        write_json(metrics_path, manifest)
    return StageSummary("report", False, manifest, _tables(manifest), _notes(layout, period))


def _ledgers(layout: Layout, config: Config, counties: list[str], period: str, lang: str):
    """Write each county's ledger; a county whose ledger fails is recorded, not raised."""
    from analysis.report.county import CountyReport

    out = {}
    for code in counties:
        t0 = time.perf_counter()
        try:
            r = CountyReport(layout.data, code, period, lang, config)
            r.write_ledger(layout.ledger(period, code))
            out[code] = {"ok": True, "seconds": round(time.perf_counter() - t0, 2)}
        except Exception as exc:  # reported by county; the others go on
            out[code] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return out


def _screenshots(results: list[Result]) -> dict:
    """Each rendered page as PNGs beside it (``<name>.desktop.png``, ``<name>.phone.png``);
    a missing browser is said once, not raised."""
    from analysis.report.screenshot import WIDTHS, screenshot

    out = {}
    for r in results:
        if not r.ok:
            continue
        html = Path(r.html)
        try:
            for device, width in WIDTHS.items():
                shot = screenshot(html, html.with_suffix(f".{device}.png"), width)
            out[r.name] = {"ok": True, "offline": shot["offline"]}
        except (FileNotFoundError, RuntimeError, OSError) as exc:
            out[r.name] = {"ok": False, "error": str(exc)}
            if isinstance(exc, FileNotFoundError):
                break
    return out


def _manifest(results: list[Result], ledgers: dict, period, lang, key, seconds) -> dict:
    reports = {
        r.name: {
            "ok": r.ok,
            "seconds": round(r.seconds, 2),
            "html": r.html,
            "error": r.error,
            "warnings": [w for w in r.warnings if "Kernel is running over TCP" not in w][:20],
        }
        for r in results
    }
    failed = [n for n, r in reports.items() if not r["ok"]]
    failed += [f"ledger {c}" for c, v in ledgers.items() if not v["ok"]]
    return {
        "fingerprint": key,
        "period": period,
        "lang": lang,
        "reports": reports,
        "ledgers": ledgers,
        "failed": failed,
        "seconds": round(seconds, 1),
        "details": {r.name: r.detail for r in results if not r.ok},
    }


def _tables(manifest: dict) -> dict[str, pd.DataFrame]:
    rows = []
    for name, r in manifest["reports"].items():
        ledger = manifest["ledgers"].get(name)
        rows.append(
            {
                "report": name,
                "status": "ok" if r["ok"] else "FAILED",
                "seconds": r["seconds"],
                "ledger": "" if ledger is None else ("ok" if ledger["ok"] else ledger["error"]),
                "file or error": r["html"] if r["ok"] else r["error"],
            }
        )
    return {f"reports of {manifest['period']}": pd.DataFrame(rows)}


def _notes(layout: Layout, period: str) -> list[str]:
    return [
        f"Reports, executed notebooks and ledgers in {layout.period(period)} "
        "(a county's files hold only its own children; ID numbers masked)."
    ]
