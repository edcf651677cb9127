"""The person index and the indicators against the truth."""

from __future__ import annotations

import pandas as pd

from analysis.engine import scan
from analysis.layout import Layout
from analysis.link.evaluate import (
    ERROR_GROUPS,
    SUBJECT_COLUMNS,
    pairwise_scores_sql,
    scores_by_group_sql,
)
from analysis.runs import read_manifest
from analysis.validate.truth import Truth

RATES = ("primary_enrolment_rate", "junior_enrolment_rate", "disabled_enrolment_rate")
_ON = ["source_file", "source_sheet", "source_row"]


def compare_indicators(ours: pd.DataFrame, truth: pd.DataFrame) -> dict:
    """The enrolment rates computed from the raw files against the true ones: per rate, the
    prefecture's 2020 difference (the seed's year; target within 0.05 points) and the largest
    difference over every county and year, in percentage points.

    >>> ours = pd.DataFrame({"year": [2020], "county_code": ["5304"], "primary_enrolment_rate": [99.96],
    ...                      "junior_enrolment_rate": [96.0], "disabled_enrolment_rate": [99.7]})
    >>> true = ours.assign(primary_enrolment_rate=99.97)
    >>> compare_indicators(ours, true)["primary_enrolment_rate"]["prefecture_2020_diff_points"]
    -0.01
    """
    m = ours.merge(truth, on=["year", "county_code"], suffixes=("", "_true"))
    pref = m[(m["county_code"] == "5304") & (m["year"] == 2020)]
    out: dict = {}
    for r in RATES:
        diff = (m[r] - m[f"{r}_true"]).astype(float)
        has = len(pref) > 0
        out[r] = {
            "prefecture_2020": round(float(pref[r].iloc[0]), 4) if has else None,
            "prefecture_2020_true": round(float(pref[f"{r}_true"].iloc[0]), 4) if has else None,
            "prefecture_2020_diff_points": round(float((pref[r] - pref[f"{r}_true"]).iloc[0]), 4)
            if has
            else None,
            "max_abs_diff_points_any_county_year": round(float(diff.abs().max()), 4),
        }
    return out


def validate_link(layout: Layout, truth: Truth) -> dict:
    """Score the person index against the truth (:mod:`analysis.link.evaluate`): pairwise
    precision and recall over every record the truth ties to a person; the same restricted to
    records carrying each identity error; and with the probabilistic links cut at higher
    thresholds (their records then count as unlinked), to show what the threshold buys; and the
    enrolment indicators against the true ones.

    Examples
    --------
    >>> with Truth(prefecture_truth) as t:
    ...     v = validate_link(prefecture, t)
    >>> sorted(v)
    ['by_error', 'by_threshold', 'indicators', 'pairwise', 'rules']
    >>> v["pairwise"]["precision"] > 0.999
    True
    """
    con = truth.con
    records = (
        f"(SELECT source_file, source_sheet, source_row, person_id FROM {truth.table('rows')} "
        "WHERE row_kind = 'record' AND coalesce(person_id, '') <> '')"
    )
    links = (
        "(SELECT source_file, source_sheet, source_row, person_id AS key, rule, "
        f"match_probability FROM {scan(layout.person_index)})"
    )
    out: dict = {"pairwise": pairwise_scores_sql(con, links, records, _ON)}
    groups = " UNION ALL ".join(
        f"""SELECT source_file, source_sheet, source_row, '{g}' AS grp
            FROM {truth.table("corruptions")}
            WHERE kind IN ({", ".join(f"'{k}'" for k in kinds)})
              AND "column" IN {SUBJECT_COLUMNS}"""
        for g, kinds in ERROR_GROUPS.items()
    )
    out["by_error"] = scores_by_group_sql(con, links, records, _ON, f"({groups})")
    out["by_threshold"] = {
        str(t): pairwise_scores_sql(
            con,
            f"(SELECT * FROM {links} WHERE rule <> 'probabilistic' OR match_probability >= {t})",
            records,
            _ON,
        )
        for t in (0.999, 0.9999)
    }
    doc = read_manifest(layout.indicators)
    if doc:
        out["indicators"] = compare_indicators(
            pd.DataFrame(doc["enrolment"]), pd.read_parquet(truth.path("indicators"))
        )
    out["rules"] = dict(
        con.execute(f"SELECT rule, count(*) FROM {links} GROUP BY rule ORDER BY rule").fetchall()
    )
    return out
