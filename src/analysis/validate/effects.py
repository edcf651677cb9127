"""The effects stage's estimates against the truth's estimands
(:mod:`analysis.synth.estimands`).

Each estimate is matched to the true value of what it estimates, on its own scale:

* county policies (DiD): the truth's ATT(g,t) on the same school panel, aggregated over
  exactly the cells the estimate used (a cell csdid could not estimate is left out of
  both), with the groups weighted by the truth panel's pupils;
* placebo: zero;
* mentoring: the effect at the cutoff (RD), the ATT and ATE on the ledger's pupils (AIPW),
  the ATE among recent returners;
* persuasion steps: the hazard ratios drawn (pooled: their geometric mean weighted by the
  cases that reached the step).

For each: the truth in expectation (``truth``: the probabilities' difference, the
parameter the intervals are for) and as realised (``truth_realised``: the potential
outcomes' difference with common random numbers), the error, and whether the interval
covers the truth. The targeting lists are scored on the potential outcomes: dropouts each
list would prevent at the same capacity.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.effects.panels import aggregate
from analysis.layout import Layout
from analysis.validate.truth import Truth

_DID_KIND = {"ATT (simple)": "simple", "ATT (group)": "group", "ATT (dynamic)": "dynamic", "ATT (calendar)": "calendar"}  # fmt: skip


def _did_truth(panels: pd.DataFrame, attgt: pd.DataFrame, policy: str, county: str, kind: str) -> tuple[float, float]:  # fmt: skip
    """The truth of one DiD aggregation over the cells the estimate used."""
    p = panels[panels["policy"] == policy]
    if county != "all":
        p = p[p["county_code"] == county]
    post = p[(p["group"] > 0) & (p["period"] >= p["group"])]
    cells = attgt[
        (attgt["intervention"] == policy) & (attgt["kind"] == "attgt") & attgt["att"].notna()
    ]
    used = set(zip(cells["group"].astype(int), cells["time"].astype(int), strict=True))
    post = post[[(g, t) in used for g, t in zip(post["group"], post["period"], strict=True)]]
    if post.empty:
        return np.nan, np.nan
    units = panels[panels["policy"] == policy].drop_duplicates("school_code")
    pg = (units.groupby("group")["weight"].sum() / units["weight"].sum()).to_dict()
    out = []
    for a, b in (("p", "p_without"), ("dropped", "dropped_without")):
        eff = post.assign(e=post[a] - post[b])
        att = eff.groupby(["group", "period"])[["e", "weight"]].apply(lambda x: np.average(x["e"], weights=x["weight"]))  # fmt: skip
        att = att.rename("att").reset_index().rename(columns={"period": "time"})
        out.append(aggregate(att, pg)[kind]["overall"])
    return out[0], out[1]


def _truth_of(r, truth: pd.DataFrame, panels: pd.DataFrame, attgt: pd.DataFrame) -> tuple[float, float]:  # fmt: skip
    if r.design == "placebo":
        return 0.0, 0.0
    if r.design == "did":
        kind = _DID_KIND.get(r.estimand)
        return _did_truth(panels, attgt, r.intervention, r.county_code, kind) if kind else (np.nan, np.nan)  # fmt: skip
    name = {"effect at cutoff": "cutoff"}.get(r.estimand, r.estimand)
    m = truth[(truth["design"] == r.design) & (truth["intervention"] == r.intervention)
              & (truth["county_code"] == str(r.county_code)) & (truth["estimand"] == name)]  # fmt: skip
    if m.empty:
        return np.nan, np.nan
    return float(m["value_expected"].iloc[0]), float(m["value"].iloc[0])


def validate_effects(layout: Layout, truth: Truth) -> dict:
    """Score every estimate (see the module docstring).

    Returns
    -------
    dict
        ``by_design``: per design, the estimates scored, the share of intervals covering the
        truth, the mean absolute error; ``prefecture``: every prefecture-wide estimate with
        its truth; ``targeting``: dropouts prevented by the risk and the benefit list.
    """
    est = pd.read_parquet(layout.effects_table("estimates"))
    tru = pd.read_parquet(truth.path("estimands"))
    panels = pd.read_parquet(truth.path("policy_panels"))
    attgt = layout.effects_table("attgt")
    attgt = pd.read_parquet(attgt) if attgt.exists() else None
    out = summarise(score(est, tru, panels, attgt))
    target = _targeting(layout, truth)
    if target:
        out["targeting"] = target
    return out


def score(est: pd.DataFrame, tru: pd.DataFrame, panels: pd.DataFrame, attgt: pd.DataFrame | None) -> pd.DataFrame:  # fmt: skip
    """Each estimate with its truth (expected and realised), error and coverage."""
    if attgt is None:
        attgt = pd.DataFrame(columns=["intervention", "kind", "group", "time", "att"])
    rows = []
    for r in est[est["estimate"].notna()].itertuples():
        t, t_real = _truth_of(r, tru, panels, attgt)
        if np.isnan(t):
            continue
        rows.append({"design": r.design, "intervention": r.intervention, "county_code": r.county_code,
                     "estimand": r.estimand, "interval": r.interval, "estimate": r.estimate,
                     "ci_low": r.ci_low, "ci_high": r.ci_high, "truth": t, "truth_realised": t_real,
                     "error": r.estimate - t, "covered": bool(r.ci_low <= t <= r.ci_high),
                     "verdict": r.verdict})  # fmt: skip
    return pd.DataFrame(rows)


def summarise(scored: pd.DataFrame) -> dict:
    """Per design and interval kind: estimates scored, coverage, mean absolute error; and
    the scored rows, prefecture and counties."""
    by_design = {}
    if len(scored):
        for (design, interval), g in scored.groupby(["design", "interval"]):
            err = g["error"] if design != "cox" else np.log(g["estimate"]) - np.log(g["truth"])
            by_design[f"{design} / {interval}"] = {
                "estimates": len(g),
                "coverage": float(g["covered"].mean()),
                "mean_abs_error": float(err.abs().mean()),
                "scale": "log hazard ratio" if design == "cox" else "pp per term",
            }
    pref = scored[scored["county_code"] == "all"] if len(scored) else scored
    out = {
        "by_design": by_design,
        "prefecture": pref.round(5).to_dict("records") if len(pref) else [],
        "counties": scored[scored["county_code"] != "all"].round(5).to_dict("records") if len(scored) else [],
    }  # fmt: skip
    return out


def _targeting(layout: Layout, truth: Truth) -> dict | None:
    """Dropouts (per term, expected and realised) each list would prevent, from the truth's
    outcomes of its pupils mentored and not."""
    path = layout.effects_table("targeting")
    if not path.exists():
        return None
    lists = pd.read_parquet(path)
    con = truth.con
    con.register("lists_", lists[["person_id", "term", "on_risk_list", "on_benefit_list"]])
    tp = truth.persons(layout)
    d = con.execute(
        f"""SELECT l.on_risk_list, l.on_benefit_list,
                   s.p_if_not_mentored - s.p_if_mentored AS prevented,
                   s.dropped_if_not_mentored::INT - s.dropped_if_mentored::INT AS prevented_realised
            FROM lists_ l JOIN {tp} USING (person_id)
            JOIN {truth.table("student_terms")} s ON s.person_id = tp.tpid AND s.term = l.term
            WHERE s.at_risk"""
    ).df()
    con.unregister("lists_")
    out = {"term": str(lists["term"].iloc[0]), "capacity": int(lists["on_risk_list"].sum())}
    for name in ("risk", "benefit"):
        sel = d[d[f"on_{name}_list"]]
        out[f"{name}_list"] = {"pupils": len(sel), "prevented": float(sel["prevented"].sum()),
                               "prevented_realised": int(sel["prevented_realised"].sum())}  # fmt: skip
    return out
