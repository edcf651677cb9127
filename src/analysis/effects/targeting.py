"""Beyond the anchors: a red list targeted by expected benefit, and what one more mentor
would prevent in each county.

The risk model ranks pupils by how likely they are to drop out; mentoring helps some
counties' pupils more than others'. A pupil's expected benefit is their risk times the
county's estimated relative effect of mentoring (the share of a mentored pupil's dropout
risk it removes), so a list ranked by benefit moves mentors to where they prevent most.
A county's own estimate is used only where its interval can tell (not 数据不足以判断);
otherwise the prefecture's. In the calibrated world (yuxi, seed 2020, term 2020-2,
1,310 pupils), ranking on every county's noisy estimate sent mentors away from the
counties that needed them: the benefit list would have prevented 2.9 dropouts a term
(expected, from the truth) against the risk lists' 7.0; with this rule it prevents 9.0.
Both lists use the same total capacity; :mod:`analysis.validate` scores them on the
truth's potential outcomes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def relative_effects(att: pd.DataFrame, mentored_rate: pd.Series) -> pd.DataFrame:
    """Each county's relative effect of mentoring (0..0.95) from its pooled ATT (pp) and
    the dropout rate of its mentored pupils (0..1), with the interval's ends.

    With ``y`` the mentored pupils' rate and ``d`` the ATT (pp), their rate unmentored
    would have been ``y - d/100``, so mentoring removed ``-d / (100 y - d)`` of it.

    >>> att = pd.DataFrame({"county_code": ["a"], "pooled": [-0.5], "pooled_low": [-1.0],
    ...                     "pooled_high": [0.1]})
    >>> relative_effects(att, pd.Series({"a": 0.02})).round(3).to_dict("records")
    [{'county_code': 'a', 'relative': 0.2, 'relative_low': 0.0, 'relative_high': 0.333}]
    """
    out = []
    for r in att.itertuples():
        y = float(mentored_rate.get(r.county_code, np.nan))

        def rel(d: float, y: float = y) -> float:
            return float(np.clip(-d / (100 * y - d), 0.0, 0.95)) if y > 0 else 0.0

        out.append({"county_code": r.county_code, "relative": rel(r.pooled),
                    "relative_low": rel(r.pooled_high), "relative_high": rel(r.pooled_low)})  # fmt: skip
    return pd.DataFrame(out)


def benefit_lists(
    scored: pd.DataFrame, rel: pd.DataFrame, capacity: dict[str, int]
) -> pd.DataFrame:
    """The risk list (each county's top ``capacity`` by risk) and the benefit list (the
    prefecture's top sum-of-capacities by risk x relative effect), over the pupils of
    ``scored`` (``person_id, county_code, risk``)."""
    s = scored.merge(rel[["county_code", "relative"]], on="county_code", how="left")
    s["relative"] = s["relative"].fillna(0.0)
    s["benefit"] = s["risk"] * s["relative"]
    s = s.sort_values(["county_code", "risk", "person_id"], ascending=[True, False, True])
    s["risk_rank"] = s.groupby("county_code").cumcount() + 1
    s["on_risk_list"] = s["risk_rank"] <= s["county_code"].map(capacity).fillna(0)
    total = int(s["on_risk_list"].sum())
    order = s.sort_values(["benefit", "risk", "person_id"], ascending=[False, False, True]).index
    s["on_benefit_list"] = False
    s.loc[order[:total], "on_benefit_list"] = True
    return s.reset_index(drop=True)


def capacity_whatif(lists: pd.DataFrame, rel: pd.DataFrame, pupils_per_mentor: int) -> pd.DataFrame:
    """Dropouts (per term) one more mentor would prevent in each county: the next
    ``pupils_per_mentor`` pupils by risk beyond the county's list, times the county's
    relative effect, with the interval from the effect's."""
    rows = []
    for county, g in lists.groupby("county_code"):
        nxt = g[~g["on_risk_list"]].nsmallest(pupils_per_mentor, "risk_rank")
        r = rel[rel["county_code"] == county]
        if r.empty:
            continue
        r = r.iloc[0]
        risk = float(nxt["risk"].sum())
        rows.append({"county_code": county, "pupils": len(nxt), "their_risk": risk,
                     "prevented": risk * r["relative"], "low": risk * r["relative_low"],
                     "high": risk * r["relative_high"]})  # fmt: skip
    return pd.DataFrame(rows)
