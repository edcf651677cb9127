"""``analysis link``: the linkage stage, from ``interim/`` to ``processed/``.

Writes ``person_index.parquet`` (one row per clean row: which person it is about, by which
rule, with what match probability) and ``persons.parquet`` (:mod:`analysis.link.index`),
the three comparison lists and the status timeline in ``checks/``
(:mod:`analysis.link.checks`), ``indicators.json`` (:func:`indicators_doc`) and
``link_manifest.json`` (what each pass did, and the fingerprint of the clean tables and
settings it ran on, so a rerun on unchanged input does no work). Everything is written
aside and published together (:func:`analysis.runs.staged`).

The salt of the pseudonymous ``person_id`` lives in the data folder
(:attr:`analysis.layout.Layout.salt`, :func:`analysis.privacy.salt_for`), made once at
random: person ids are stable from run to run on the same data folder, and mean nothing
without the salt. Nothing the stage decides depends on them.
"""

from __future__ import annotations

import math
from dataclasses import asdict

import pandas as pd

from analysis.config import Config, Rules, default_config
from analysis.indicators import enrolment_rates
from analysis.layout import Layout
from analysis.link.checks import Checks, build_checks
from analysis.link.index import build_index
from analysis.privacy import salt_for
from analysis.runs import fingerprint, read_manifest, staged, unchanged, write_json
from analysis.summary import StageSummary

#: The subpackages whose code is part of the fingerprint (:func:`analysis.runs.code_version`):
#: the linkage reads the clean tables' declared schema.
CODE = ("link", "clean")


def _plain(v):
    """A JSON-able scalar: numpy numbers as Python ones, NaN (a rate over nobody) as null."""
    v = v.item() if hasattr(v, "item") else v
    return None if isinstance(v, float) and math.isnan(v) else v


def _records(df: pd.DataFrame) -> list[dict]:
    return [{k: _plain(v) for k, v in row.items()} for row in df.to_dict(orient="records")]


def comparison_counts(checks: Checks, rules: Rules) -> list[dict]:
    """Rows of the three lists per school year, county and category (list 2 by the school year
    of the term its runs began), and the prefecture ('5304'); with list 1, the school-age
    children living outside with their parents (``随父母在外``, not on the list).

    Parameters
    ----------
    checks : the lists (:func:`analysis.link.checks.build_checks`).
    rules : the compulsory-school ages.

    Returns
    -------
    list of dict
        ``list``, ``school_year``, ``county_code``, ``category``, ``children``.

    Examples
    --------
    >>> from analysis.config import DEFAULT_RULES
    >>> from analysis.link import build_checks
    >>> counts = comparison_counts(build_checks(prefecture), DEFAULT_RULES)
    >>> sorted({c["list"] for c in counts})
    ['1_not_enrolled', '2_dropouts', '3_poverty']
    """
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


#: What each output of the stage needs among the clean tables (a list's key begins with its
#: number, as in ``comparisons``).
REQUIRES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("1 enrolment rates and list 1 (失学, 残疾缓学)", ("hukou", "xueji")),
    ("the disabled children's enrolment rate", ("disability",)),
    ("2 runs of absence in list 2 (辍学, 疑似辍学) and the returns", ("attendance",)),
    ("2 the persuasion ledger's cases in list 2", ("persuasion",)),
    ("3 list 3 (贫困)", ("poverty",)),
    ("the consolidation rate", ("xueji",)),
)


def not_computed(layout: Layout) -> dict[str, str]:
    """What the stage cannot compute for want of a clean table, and why: each output of
    :data:`REQUIRES` whose inputs were not delivered (or none of their files was read).

    >>> not_computed(prefecture)
    {}
    """
    from analysis.clean.headers import load_dictionary

    specs = load_dictionary()
    out = {}
    for what, kinds in REQUIRES:
        lacking = [k for k in kinds if not layout.table(k).exists()]
        if lacking:
            out[what] = "no " + " and no ".join(
                f"{k} table (nothing read in raw/{specs[k].folder}/)" for k in lacking
            )
    return out


def indicators_doc(checks: Checks, rules: Rules, missing: dict[str, str] | None = None) -> dict:
    """``indicators.json``: enrolment rates per school year and county, consolidation rate per
    graduation year and county, suspected dropouts, dropouts and returns per term and county,
    the lists' counts, and the rules' thresholds.

    Examples
    --------
    >>> from analysis.config import DEFAULT_RULES
    >>> from analysis.link import build_checks
    >>> doc = indicators_doc(build_checks(prefecture), DEFAULT_RULES)
    >>> sorted(doc)
    ['comparisons', 'consolidation', 'definitions', 'enrolment', 'monitoring', 'not_computed', 'rules']
    """
    missing = missing or {}
    enrolment = enrolment_rates(checks.census)
    comparisons = comparison_counts(checks, rules)
    if any(w.startswith("1 ") for w in missing):  # no population base: no rates, no list 1
        rates = [c for c in enrolment.columns if c.endswith(("_rate", "_band", "_in"))]
        enrolment[rates] = None
        comparisons = [c for c in comparisons if not c["list"].startswith("1_")]
    if "the disabled children's enrolment rate" in missing:
        enrolment[["d_band", "d_in", "disabled_enrolment_rate"]] = None
    if any(w.startswith("3 ") for w in missing):
        comparisons = [c for c in comparisons if not c["list"].startswith("3_")]
    return {
        "definitions": "analysis.indicators (formulas in its docstring); census: "
        "analysis.link.census; lists and counts: analysis.link.lists and analysis.link.timeline",
        "rules": asdict(rules),
        "enrolment": _records(enrolment),
        "consolidation": _records(checks.consolidation),
        "monitoring": _records(checks.monitoring),
        "comparisons": comparisons,
        "not_computed": missing,
    }


def input_fingerprint(layout: Layout, config: Config) -> str:
    """What the stage's output depends on: the clean tables (their manifest's fingerprint), the
    link threshold and seed, and the monitoring rules (not where pairs are scored: both
    engines give the same persons).

    >>> from analysis.config import default_config
    >>> c = default_config()
    >>> input_fingerprint(prefecture, c) == input_fingerprint(prefecture, c.with_("link", engine="spark"))
    True
    >>> input_fingerprint(prefecture, c) == input_fingerprint(prefecture, c.with_("link", threshold=0.9))
    False
    """
    clean = read_manifest(layout.clean_manifest) or {}
    link = {"threshold": config.link.threshold, "seed": config.link.seed}
    return fingerprint(clean.get("fingerprint"), link, asdict(config.rules), code=CODE)


def link(layout: Layout, config: Config | None = None, *, force: bool = False) -> StageSummary:
    """Build the person index of ``layout``'s clean tables, the lists and the indicators (see
    the module docstring); skipped when the clean tables and the settings are those of the
    last run, unless ``force``.

    Parameters
    ----------
    layout : the data folder (``interim/`` in, ``processed/`` out).
    config : the run's settings (``link``, ``rules``, ``engine``); default: the packaged ones.
    force : link again even if nothing changed.

    Returns
    -------
    StageSummary
        Its manifest is ``link_manifest.json``: the fingerprint, the persons, the rows each
        rule tied, the seconds each pass took.

    Examples
    --------
    >>> summary = link(prefecture)
    >>> summary.skipped, summary.manifest["persons"] > 0
    (True, True)
    >>> list(summary.tables)[0]
    'Linkage · who is who'
    """
    from analysis.link.overview import summary_tables

    config = config or default_config()
    if not layout.clean_manifest.exists():
        raise FileNotFoundError(f"{layout.clean_manifest} not found: run `analysis clean` first")
    key = input_fingerprint(layout, config)
    outputs = [
        layout.person_index,
        layout.persons,
        layout.link_model,
        layout.link_pairs,
        layout.checks,
        layout.indicators,
        layout.link_manifest,
    ]
    prev = None if force else unchanged(layout.link_manifest, key, outputs)
    if prev is not None:
        return StageSummary("link", True, prev, *summary_tables(prev, layout))
    with staged(layout, outputs, "link") as stage:
        result = build_index(layout, stage, salt_for(layout.salt), config.link, config.engine)
        checks = build_checks(layout.reading(stage), stage, config.rules, config.engine)
        missing = not_computed(layout)
        write_json(stage.indicators, indicators_doc(checks, config.rules, missing))
        manifest = {"fingerprint": key, "threshold": config.link.threshold, **result.stats}
        manifest["not_computed"] = missing
        write_json(stage.link_manifest, manifest)
    return StageSummary("link", False, manifest, *summary_tables(manifest, layout))
