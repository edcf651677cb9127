"""``analysis link``: the linkage stage, from ``data/interim/`` to ``data/processed/``.

Writes ``person_index.parquet`` (one row per clean row: which person it is about, by which
rule, with what match probability), ``persons.parquet``, the three comparison lists and the
status timeline in ``checks/`` (:mod:`analysis.link.checks`), ``indicators.json`` (see
:func:`write_outputs`) and ``link_manifest.json`` (what
each pass did, and the fingerprint of the clean tables it read, so a rerun on unchanged
clean tables does no work).

The salt of the pseudonymous ``person_id`` lives in ``DATA_DIR/.person_salt``, made once
at random: person ids are stable from run to run on the same machine's data, and mean
nothing without the salt. It is not a data file to share.
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
from pathlib import Path

from analysis import __version__
from analysis.link.checks import DEFAULT_RULES, Rules
from analysis.link.index import build_index

#: The match probability at or above which an entity without an ID joins a person (see
#: :mod:`analysis.link.index`). Chosen on the small prefecture (seed 7): at 0.95 one pair of
#: girls born the same day at the same address, with unrelated names, was merged (pairwise
#: precision 0.99988, recall 0.99998); at 0.99 none was (precision 1.0, recall 0.99995).
#: A wrong merge puts one child's absences on another's record; a missed link leaves a
#: record on its own, where the lists still show it. ``analysis validate`` reports the
#: linkage with the probabilistic links cut at stricter thresholds, to check the choice.
THRESHOLD = 0.99


def salt_for(data_dir: Path) -> str:
    """The data folder's person-id salt (32 hex digits), created on first use."""
    path = Path(data_dir) / ".person_salt"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(16), encoding="ascii")
    salt = path.read_text(encoding="ascii").strip()
    if not salt or any(c not in "0123456789abcdef" for c in salt):
        raise ValueError(f"{path}: not a salt of hex digits; delete it to make a new one")
    return salt


def _fingerprint(interim: Path, settings: str) -> str:
    manifest = json.loads((interim / "manifest.json").read_text(encoding="utf-8"))
    h = hashlib.sha1()
    h.update(json.dumps(manifest.get("inputs", {}), sort_keys=True).encode())
    h.update(str(manifest.get("rules")).encode())
    h.update(f"{__version__}|{settings}".encode())
    return h.hexdigest()


def _plain(v):
    """A JSON-able scalar: numpy numbers as Python ones, NaN (a rate over nobody) as null."""
    v = v.item() if hasattr(v, "item") else v
    return None if isinstance(v, float) and math.isnan(v) else v


def _records(df) -> list[dict]:
    return [{k: _plain(v) for k, v in row.items()} for row in df.to_dict(orient="records")]


def comparison_counts(checks, rules: Rules = DEFAULT_RULES) -> list[dict]:
    """Rows of the three lists per school year, county and category (list 2 by the school
    year of the term its runs began), and the prefecture ('5304'); with list 1, the
    school-age children living outside with their parents (``随父母在外``, not on the list)."""
    import pandas as pd

    l2 = checks.dropouts.assign(school_year=checks.dropouts["term"].str[:4].astype(int))
    lo, hi = rules.school_age
    c = checks.census
    away = c[c["outside"] & c["age"].between(lo, hi)]
    parts = [
        checks.not_enrolled.assign(list="1_not_enrolled"),
        away.rename(columns={"year": "school_year"}).assign(
            list="1_not_enrolled", category="随父母在外"
        ),
        l2.assign(list="2_dropouts"),
        checks.poverty.rename(columns={"reason": "category"}).assign(list="3_poverty"),
    ]
    frames = []
    for part in parts:
        if part.empty:
            continue
        g = part.groupby(["list", "school_year", "county_code", "category"]).size()
        pref = part.groupby(["list", "school_year", "category"]).size()
        pref = pref.reset_index().assign(county_code="5304")
        frames += [g.reset_index(), pref]
    if not frames:
        return []
    out = pd.concat(frames, ignore_index=True).rename(columns={0: "children"})
    out["county_code"] = out["county_code"].astype(str)
    return _records(out.sort_values(["list", "school_year", "county_code", "category"]))


def write_outputs(
    interim: Path, index: Path, processed: Path, rules: Rules = DEFAULT_RULES
) -> dict:
    """The census (:mod:`analysis.link.census`), the three comparisons and the status
    timeline (:mod:`analysis.link.checks`, written to ``processed/checks/``) and the
    indicators (``processed/indicators.json``: enrolment rates per school year and county,
    consolidation rate per graduation year and county, suspected dropouts, dropouts and
    returns per term and county, the lists' counts, and the rules' thresholds)."""
    from dataclasses import asdict

    from analysis.indicators import enrolment_rates
    from analysis.link.checks import build_checks

    checks = build_checks(interim, index, processed / "checks", rules)
    census = checks.census
    doc = {
        "definitions": "analysis.indicators (formulas in its docstring); census: "
        "analysis.link.census; lists and counts: analysis.link.checks",
        "rules": asdict(rules),
        "enrolment": _records(enrolment_rates(census)),
        "consolidation": _records(checks.consolidation),
        "monitoring": _records(checks.monitoring),
        "comparisons": comparison_counts(checks, rules),
    }
    out = processed / "indicators.json"
    tmp = out.with_suffix(".partial")
    tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(out)
    return doc


def link(
    data_dir: Path,
    force: bool = False,
    threshold: float = THRESHOLD,
    rules: Rules = DEFAULT_RULES,
    engine: str = "duckdb",
) -> dict:
    """Build the person index of ``data_dir``'s clean tables, the lists and the indicators;
    return the link manifest (with ``skipped`` true when the clean tables had not changed
    since the last run). ``engine``: ``"duckdb"`` or ``"spark"`` for the probabilistic
    pass's scoring (:mod:`analysis.link.spark`); both give the same persons."""
    data_dir = Path(data_dir)
    interim, processed = data_dir / "interim", data_dir / "processed"
    if not (interim / "manifest.json").exists():
        raise FileNotFoundError(
            f"{interim / 'manifest.json'} not found: run `analysis clean` first"
        )
    fp = _fingerprint(interim, f"{threshold}|{rules}")
    out = processed / "link_manifest.json"
    if out.exists() and not force:
        prev = json.loads(out.read_text(encoding="utf-8"))
        if (
            prev.get("fingerprint") == fp
            and (processed / "person_index.parquet").exists()
            and (processed / "checks").is_dir()
        ):
            return {**prev, "skipped": True}
    result = build_index(interim, processed, salt_for(data_dir), threshold=threshold, engine=engine)
    write_outputs(interim, result.links, processed, rules)
    manifest = {"version": __version__, "fingerprint": fp, "threshold": threshold, **result.stats}
    tmp = out.with_suffix(".partial")
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(out)
    return {**manifest, "skipped": False}
