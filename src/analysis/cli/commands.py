"""The ``analysis`` command: one verb per stage of the pipeline (see ``design.md``).

Each verb builds the :class:`~analysis.layout.Layout` and the
:class:`~analysis.config.Config` (the packaged settings, a user's ``--config`` file over
them, the command's flags over both), calls the stage, and prints the stage's summary
(:mod:`analysis.cli.render`). Exit code 0 only on success; bad input is a message (exit 2),
never a traceback.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

from analysis import __version__
from analysis.cli.render import console, show
from analysis.config import Config, ConfigError
from analysis.layout import Layout
from analysis.summary import StageSummary


class UserError(Exception):
    """Bad input or a state the user can fix: shown as a message, exit code 2."""


def _layout(args: argparse.Namespace) -> Layout:
    reports = Path(args.reports_dir).resolve() if args.reports_dir else None
    return Layout(Path(args.data_dir).resolve(), reports)


def parse_capacity(text: str) -> dict[str, int]:
    """``530402=320,530403=110`` as {county code: list size}.

    >>> parse_capacity("530402=320, 530403=110")
    {'530402': 320, '530403': 110}
    """
    capacity = {}
    for part in text.split(","):
        code, _, n = part.partition("=")
        if not (code.strip().isdigit() and n.strip().isdigit()):
            raise UserError(f"--capacity: {part.strip()!r} is not COUNTY=NUMBER (e.g. 530402=320)")
        capacity[code.strip()] = int(n)
    return capacity


def _config(args: argparse.Namespace) -> Config:
    """The run's settings: packaged, then ``--config``, then the flags given."""
    config = Config.load(Path(args.config) if args.config else None)
    flags = {k: v for k, v in vars(args).items() if v is not None}  # a verb has only its own
    config = config.with_(
        "synth", scale=flags.get("scale"), seed=flags.get("seed"), dialect=flags.get("dialect")
    )
    config = config.with_("link", engine=flags.get("engine"))
    capacity = parse_capacity(flags["capacity"]) if flags.get("capacity") else None
    config = config.with_("effects", ri_draws=flags.get("draws"))
    config = config.with_("report", screenshots=flags.get("screenshots"))
    return config.with_(
        "model", capacity=capacity, n_test=flags.get("test_terms"), n_boot=flags.get("boot")
    )


def _stage(
    args: argparse.Namespace, name: str, fn: Callable[..., StageSummary], **kw
) -> StageSummary:
    """Run one stage with a status line (updated by the stage's ``progress`` messages when
    it takes them) and print its summary."""
    layout, config = _layout(args), _config(args)
    with console.status(f"[bold]{name}[/]: starting") as status:
        if "progress" in kw:
            kw["progress"] = lambda m: status.update(f"[bold]{name}[/]: {m} …")
        summary = fn(layout, config, **kw)
    show(summary)
    return summary


def cmd_synth(args: argparse.Namespace) -> int:
    from analysis.synth import synth

    _stage(args, "synth", synth, force=getattr(args, "force", True), progress=None)
    return 0


def cmd_clean(args: argparse.Namespace) -> int:
    from analysis.clean.stage import clean

    headers = getattr(args, "headers", None)
    _stage(
        args, "clean", clean, force=args.force, progress=None,
        headers=Path(headers) if headers else None,
    )  # fmt: skip
    return 0


def cmd_link(args: argparse.Namespace) -> int:
    from analysis.link.stage import link

    _stage(args, "link (deterministic, then Splink)", link, force=args.force)
    return 0


def cmd_model(args: argparse.Namespace) -> int:
    from analysis.model.stage import model

    _stage(args, "model (features, rolling-origin validation, lists)", model, force=args.force)
    return 0


def cmd_effects(args: argparse.Namespace) -> int:
    from analysis.effects.stage import effects

    _stage(args, "effects (DiD, RD, AIPW, persuasion, pooling)", effects, force=args.force)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from analysis.report.stage import report

    county = getattr(args, "county", None) or "all"
    try:
        summary = _stage(
            args, "report (notebooks → HTML, ledgers)", report, county=county,
            period=getattr(args, "period", None), lang=getattr(args, "lang", None) or "zh",
            force=args.force, progress=None,
        )  # fmt: skip
    except ValueError as exc:  # a county, period or language that cannot be used
        raise UserError(str(exc)) from None
    failed = summary.manifest.get("failed", [])
    if failed:
        console.print(
            f"[bold red]{len(failed)} report(s) failed[/]: {', '.join(failed)} "
            "(the others were written; the executed notebook of a failed report is kept "
            "beside it as <name>.failed.ipynb)"
        )
        return 1
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    """How one raw file is understood (:mod:`analysis.clean.inspect`)."""
    from analysis.clean.inspect import inspect_file
    from analysis.cli.render import table

    path = Path(args.file)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    layout = _layout(args)
    raw = layout.raw if path.resolve().is_relative_to(layout.raw.resolve()) else path.parent.parent
    headers = Path(args.headers) if args.headers else None
    if headers is None and (layout.raw / "headers.yaml").is_file():
        headers = layout.raw / "headers.yaml"
    for sheet in inspect_file(path, raw, headers):
        name = sheet["sheet"]
        where = f"{path.name} [{name}]" if name else path.name
        state = "[green]read[/]" if sheet["status"] == "read" else "[bold red]rejected[/]"
        console.print(
            f"[bold]{where}[/]: {state} as [bold]{sheet['kind'] or '?'}[/]"
            + (f", header on row {sheet['header_row']}" if sheet["header_row"] else "")
            + f" — {sheet['message']}"
        )
        if len(sheet["columns"]):
            console.print(table("columns (header → canonical column; blank: not understood)",
                                sheet["columns"].fillna("")))  # fmt: skip
        if sheet["unknown"]:
            console.print(f"not in the header dictionary (ignored): {', '.join(sheet['unknown'])}")
        if sheet["supply"]:
            console.print(sheet["supply"], markup=False)
        if len(sheet["preview"]):
            console.print(table("first rows as read", sheet["preview"].astype(str)))
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from analysis.validate import validate

    _stage(args, "validating against the truth", validate)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Every stage in order; a stage whose inputs have not changed is skipped."""
    t0 = time.perf_counter()
    for cmd in (cmd_synth, cmd_clean, cmd_link, cmd_model, cmd_effects):
        cmd(args)
    code = cmd_report(args)
    state = (
        "[bold green]run finished[/]" if code == 0 else "[bold red]run finished, reports failed[/]"
    )
    console.print(f"{state} in {time.perf_counter() - t0:.0f} s.")
    return code


def _force(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--force", action="store_true", help=f"{what} even if the inputs have not changed"
    )


def _synth_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--scale",
        choices=["small", "yuxi"],
        help="yuxi: full size (216,500 students); small: about 1/20, for tests (default: the "
        "configuration's, yuxi)",
    )
    p.add_argument(
        "--seed",
        type=int,
        help="random seed; the same seed gives byte-identical files (default: the "
        "configuration's, 2020)",
    )
    p.add_argument(
        "--dialect",
        choices=["county", "school"],
        help="how the extracts are cut into files: county (a file per county and term) or "
        "school (a file per school and term or month, the school only in the file name, as "
        "another county system exports them); the world is the same (default: county)",
    )


def _clean_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--headers",
        help="a header dictionary of your own (same shape as analysis/resources/headers.yaml, "
        "only the new aliases, columns or kinds), merged over the packaged one "
        "(default: DATA_DIR/raw/headers.yaml if there is one)",
    )


def _link_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--engine",
        choices=("duckdb", "spark"),
        help="where the probabilistic pass scores its pairs (spark: pip install -e '.[spark]', "
        "Java 17; the same persons, slower on one machine; default duckdb)",
    )


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--capacity",
        help="list size per county, e.g. 530402=320,530403=110 (counties not named: their latest "
        "red-list ledger, or 0.6 %% of their pupils; a code not in the registry is an error)",
    )
    p.add_argument("--test-terms", type=int, help="terms held out, one origin each (default 4)")
    p.add_argument("--boot", type=int, help="bootstrap replicates for the intervals (default 500)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="analysis",
        description="Dropout-control analytics (控辍保学) for a prefecture's education bureau.",
    )
    p.add_argument("--version", action="version", version=f"analysis {__version__}")
    p.add_argument(
        "--data-dir",
        default="data",
        help="where raw/, interim/, processed/ and truth/ live (default: ./data)",
    )
    p.add_argument(
        "--reports-dir",
        help="where reports and validation.json go (default: reports/ beside the data folder)",
    )
    p.add_argument(
        "--config",
        help="a YAML file of settings over the packaged ones (same shape as "
        "analysis/resources/config.yaml, only the keys to change)",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for verb, (add_args, func, short, long) in _VERBS.items():
        sp = sub.add_parser(verb, help=short, description=long)
        add_args(sp)
        sp.set_defaults(func=func)
    return p


def _effects_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--draws",
        type=int,
        help="adoption schedules permuted for randomisation inference (default 999)",
    )


def _report_args(p: argparse.ArgumentParser, county: bool = True) -> None:
    if county:
        p.add_argument(
            "--county",
            help="a county code (e.g. 530402) or all (default: all, with the prefecture's reports)",
        )
    p.add_argument(
        "--period",
        help="the report's month YYYY-MM (default: the month after the latest attendance records)",
    )
    p.add_argument("--lang", choices=("zh", "en"), help="the reports' language (default zh)")
    p.add_argument(
        "--screenshots",
        action="store_true",
        default=None,
        help="also render each report to PNG at desktop and phone width (headless Chromium)",
    )


def _run_args(p: argparse.ArgumentParser) -> None:
    _synth_args(p)
    _clean_args(p)
    _link_args(p)
    _model_args(p)
    _effects_args(p)
    _report_args(p, county=False)
    _force(p, "rerun every stage")


#: Each verb: its flags, its command, its one-line help and its description.
_VERBS = {
    "synth": (
        lambda p: (_synth_args(p), p.set_defaults(force=True)),
        cmd_synth,
        "write a synthetic prefecture's raw registries and its ground truth",
        "Simulate a Yuxi-like prefecture (9 counties, five school years 2016/17-2020/21) and "
        "write its registry extracts, messy as counties deliver them, to DATA_DIR/raw/<dataset>/, "
        "and the ground truth to DATA_DIR/truth/. The previous data is replaced only when the "
        "new data is complete.",
    ),
    "clean": (
        lambda p: (_force(p, "clean again"), _clean_args(p)),
        cmd_clean,
        "raw registry files to clean tables, with quarantine and a row-accounting manifest",
        "Read every file under DATA_DIR/raw/ (CSV in GB18030 or UTF-8, XLSX), map headers "
        "through the header dictionary (yours merged over it: DATA_DIR/raw/headers.yaml or "
        "--headers), normalise IDs, names and dates, quarantine what cannot "
        "be trusted, and write one table per kind to DATA_DIR/interim/ with quarantine.parquet "
        "and manifest.json.",
    ),
    "link": (
        lambda p: (_force(p, "link again"), _link_args(p)),
        cmd_link,
        "who is who across registries and years: the person index, the three lists, indicators",
        "Tie every clean row to a person: valid ID numbers and registry numbers first, then "
        "probabilistic linkage (Splink, DuckDB) for rows without a usable ID. Writes "
        "DATA_DIR/processed/person_index.parquet, persons.parquet, checks/ (the three "
        "comparison lists), indicators.json and link_manifest.json.",
    ),
    "model": (
        lambda p: (_model_args(p), _force(p, "redo")),
        cmd_model,
        "dropout risk: features as of each term, temporal validation, red and white lists",
        "Build features as of each term's start, validate the risk model and its baselines on "
        "the last terms (rolling origin), fit the final model, and write each county's red and "
        "white lists with reasons and the model cards to DATA_DIR/processed/model/.",
    ),
    "effects": (
        lambda p: (_effects_args(p), _force(p, "redo")),
        cmd_effects,
        "which measures work, in which county: DiD, RD, AIPW, persuasion, partial pooling",
        "Estimate the effects of the county policies (staggered DiD with randomisation "
        "inference over adoption schedules), red-list mentoring (regression discontinuity at "
        "each county's cutoff, doubly robust AIPW), the persuasion steps (Kaplan-Meier, Cox), "
        "and the inspections as a placebo; pool the counties' estimates (empirical Bayes) and "
        "say 数据不足以判断 where the data cannot tell. Writes DATA_DIR/processed/effects/.",
    ),
    "report": (
        lambda p: (_report_args(p), _force(p, "render again")),
        cmd_report,
        "render the county and prefecture reports (HTML) and the counties' ledgers (XLSX)",
        "Execute the report notebooks with Papermill for every county and the prefecture (and "
        "its public version, small counts suppressed), in parallel, into self-contained HTML "
        "files under REPORTS_DIR/<period>/ with the executed notebooks beside them, and write "
        "each county's follow-up ledger (台账) to REPORTS_DIR/<period>/ledgers/. One report's "
        "failure does not stop the others; the exit code is 1 if any failed.",
    ),
    "inspect": (
        lambda p: (
            p.add_argument(
                "file", help="a raw file (CSV or XLSX), best under DATA_DIR/raw/<kind>/"
            ),
            _clean_args(p),
        ),
        cmd_inspect,
        "show how one raw file is understood: kind, header row, column mapping, what is missing",
        "Read one raw file as the cleaning would and show the kind it is read as (by its folder "
        "under DATA_DIR/raw/), each sheet's header row, every column's mapping to the header "
        "dictionary (with DATA_DIR/raw/headers.yaml or --headers merged in), the columns not "
        "understood, the required columns missing and how to supply them, and the first rows. "
        "Nothing is written.",
    ),
    "validate": (
        lambda p: None,
        cmd_validate,
        "compare every stage's output with the synthetic truth; writes reports/validation.json",
        "Compare every stage's output with DATA_DIR/truth/ and write REPORTS_DIR/validation.json.",
    ),
    "run": (
        _run_args,
        cmd_run,
        "run every stage in order, skipping stages whose inputs have not changed",
        "Run every stage of the pipeline in order (synth, clean, link, model, effects, report), with "
        "any stage's flags. A stage whose inputs have not changed is skipped.",
    ),
}


def main(argv: list[str] | None = None) -> int:
    from analysis.clean.context import ContextError
    from analysis.clean.headers import HeaderError
    from analysis.clean.read import RawFileError
    from analysis.clean.schema import SchemaError
    from analysis.privacy import PrivacyError
    from analysis.summary import CannotCompute

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (
        UserError, ConfigError, RawFileError, SchemaError, HeaderError, ContextError,
        FileNotFoundError,
    ) as exc:  # fmt: skip
        console.print(f"[bold red]error:[/] {exc}")
        return 2
    except PrivacyError as exc:
        console.print(f"[bold red]refused:[/] {exc}")
        return 1
    except CannotCompute as exc:
        console.print(f"[bold red]cannot compute:[/] {exc}")
        return 1
    except KeyboardInterrupt:
        console.print("[bold red]interrupted[/]: nothing half-written was kept")
        return 130
    except OSError as exc:
        console.print(f"[bold red]error:[/] {exc.strerror or exc}: {exc.filename or ''}")
        return 1
