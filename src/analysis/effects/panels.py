"""From pupil-terms to the tables the designs take: the school-by-term panel of a county
policy, and the definitions of each design's population.

The same functions build the panel from the pipeline's records (``analysis effects``) and
from the truth's potential outcomes (the true estimand), so the estimate and the truth
are on one scale by construction: a school's dropout rate in a term, in percentage
points, among the pupils the policy is for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.calendar import Term


@dataclass(frozen=True)
class PolicyDesign:
    """Which pupils and terms a county policy's DiD looks at.

    ``pupils``: "all" (every pupil in school), or "poor_boarders" (poverty-registered
    boarders, whom a boarding allowance is for); ``first_term``/``last_term``: the panel's
    window (the boarding allowance's pupils are gone once poverty is lifted everywhere).
    """

    policy: str
    pupils: str = "all"
    first_term: str = "2016-1"
    last_term: str = "2020-2"

    def terms(self) -> list[str]:
        out, t = [], Term.parse(self.first_term)
        while t.label <= self.last_term:
            out.append(t.label)
            t = t.next()
        return out


#: The defaults of the two county policies the bureau records. The panels start in the
#: first term with a history to judge from (the risk model's features start there too).
POLICY_DESIGNS: dict[str, PolicyDesign] = {
    "video_check": PolicyDesign("video_check", "all", "2016-2", "2020-2"),
    "boarding_subsidy": PolicyDesign("boarding_subsidy", "poor_boarders", "2016-2", "2018-2"),
}


def eligible(pupils: pd.DataFrame, design: PolicyDesign) -> pd.Series:
    """Who the policy is for, from columns ``poverty_now`` and ``boarding`` (0/1)."""
    if design.pupils == "all":
        return pd.Series(True, index=pupils.index)
    if design.pupils == "poor_boarders":
        return (pupils["poverty_now"] > 0) & (pupils["boarding"] > 0)
    raise ValueError(f"unknown pupils {design.pupils!r}: use 'all' or 'poor_boarders'")


def school_panel(
    pupils: pd.DataFrame,
    outcomes: list[str],
    adoption: dict[str, str | None],
    design: PolicyDesign,
) -> pd.DataFrame:
    """The balanced school-by-term panel of ``design``.

    Parameters
    ----------
    pupils : one row per pupil at risk and term: ``school_code``, ``county_code``,
        ``term``, the 0/1 ``outcomes`` (dropped out that term), and ``poverty_now``,
        ``boarding`` if the design needs them.
    outcomes : columns to turn into rates (percentage points of the school's pupils).
    adoption : county code -> term label the county adopted the policy (None: never).
    design : the pupils and terms to use.

    Returns
    -------
    DataFrame
        ``school_code, county_code, term, period (1..T), group (adoption period, 0 =
        never or after the window), n (pupils), weight (the school's mean n)`` and a rate
        per outcome. Only schools with pupils in every term of the window (a balanced
        panel) are kept; a school's county is the one most of its pupil-terms name.

    >>> p = pd.DataFrame({"school_code": ["a"] * 4 + ["b"] * 2, "county_code": "c1",
    ...     "term": ["2016-1", "2016-1", "2016-2", "2016-2", "2016-1", "2016-2"],
    ...     "dropped": [1, 0, 0, 0, 0, 0]})
    >>> d = PolicyDesign("x", first_term="2016-1", last_term="2016-2")
    >>> school_panel(p, ["dropped"], {"c1": "2016-2"}, d)[["school_code", "period", "group", "n", "dropped"]]
      school_code  period  group  n  dropped
    0           a       1      2  2     50.0
    1           a       2      2  2      0.0
    2           b       1      2  1      0.0
    3           b       2      2  1      0.0
    """
    terms = design.terms()
    period = {t: i + 1 for i, t in enumerate(terms)}
    p = pupils[pupils["term"].isin(period) & eligible(pupils, design)]
    county = p.groupby("school_code")["county_code"].agg(lambda s: s.value_counts().index[0])
    g = p.groupby(["school_code", "term"])
    panel = g[outcomes].mean().mul(100.0)
    panel["n"] = g.size()
    panel = panel.reset_index()
    full = panel.groupby("school_code")["term"].transform("size") == len(terms)
    panel = panel[full].copy()
    panel["county_code"] = panel["school_code"].map(county)
    panel["period"] = panel["term"].map(period).astype(int)

    def adopted(c: str) -> int:
        t = adoption.get(c)
        if t is None or (t not in period and t > terms[-1]):
            return 0
        return period.get(t, 1)  # adopted before the window: from its first period

    panel["group"] = panel["county_code"].map(adopted).astype(int)
    panel["weight"] = panel.groupby("school_code")["n"].transform("mean")
    cols = ["school_code", "county_code", "term", "period", "group", "n", "weight", *outcomes]
    return panel[cols].sort_values(["school_code", "period"]).reset_index(drop=True)


def aggregate(attgt: pd.DataFrame, pg: dict[int, float]) -> dict[str, dict]:
    """The four aggregations of post-period ATT(g,t), as csdid and R's did weigh them.

    ``attgt``: columns group, time, att (post cells, ``time >= group``); ``pg``: each
    group's weight (its share of units). Returns kind -> {"overall": value, "detail":
    {key: value}} for simple, group (by group), dynamic (by event time) and calendar (by
    period). A test holds it to csdid's point estimates.
    """
    a = attgt[attgt["time"] >= attgt["group"]].copy()
    a["pg"] = a["group"].map(pg).astype(float)
    a["e"] = a["time"] - a["group"]
    out = {"simple": {"overall": float(np.average(a["att"], weights=a["pg"])), "detail": {}}}
    by_g = a.groupby("group")["att"].mean()
    w = by_g.index.map(pg).astype(float)
    out["group"] = {"overall": float(np.average(by_g, weights=w)), "detail": by_g.to_dict()}
    by_e = a.groupby("e")[["att", "pg"]].apply(lambda x: np.average(x["att"], weights=x["pg"]))
    out["dynamic"] = {"overall": float(by_e[by_e.index >= 0].mean()), "detail": by_e.to_dict()}
    by_t = a.groupby("time")[["att", "pg"]].apply(lambda x: np.average(x["att"], weights=x["pg"]))
    out["calendar"] = {"overall": float(by_t.mean()), "detail": by_t.to_dict()}
    return out
