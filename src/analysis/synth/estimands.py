"""The true value of each effect design's estimand, on the scale its estimator reports.

Potential outcomes share one uniform per pupil-term (common random numbers), so each
estimand is known as realised in this world (``value``: what the treatment did to these
pupils) and in expectation (``value_expected``: the probabilities'). Dropout effects are
in percentage points per term (negative: fewer dropouts).

* **Red-list mentoring, regression discontinuity** (``design = "rd"``): the effect at
  each county's cutoff, pooling its terms on the score minus the term's cutoff: a
  triangular-kernel average of the pupils' effects within :data:`RD_TRUTH_WINDOW` score
  points of the cutoff, on the screening ledger.
* **Mentoring, doubly robust** (``"aipw"``): the ATE on the ledger's pupils the design
  uses (ranked within three times the capacity), and the ATT on the mentored among them;
  ``"re-dropout"``: the ATE among those who had returned within the year before.
* **County policies, staggered DiD** (``"did"``): ATT(g,t) of each county (its group g)
  and of the prefecture's groups, on the school panel of :mod:`analysis.effects.panels`,
  and their simple, group, dynamic and calendar aggregations.
* **Persuasion steps** (``"cox"``): each step's hazard ratio of return, per county as
  drawn; for the prefecture, the average county's (the geometric mean over the counties).
* **Inspections** (``"placebo"``): zero by construction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.effects.inputs import prepare_ledger
from analysis.effects.panels import POLICY_DESIGNS, aggregate, school_panel

#: Score points either side of the cutoff over which the true RD effect is averaged.
RD_TRUTH_WINDOW = 1.5
PREFECTURE = "all"
_POLICY_COLUMN = {"video_check": "video", "boarding_subsidy": "subsidy"}


def ledger_truth(world) -> pd.DataFrame:
    """The screening ledgers' pupils, prepared exactly as the stage prepares the recorded
    ledgers (:func:`analysis.effects.inputs.prepare_ledger`: each county-term's cutoff
    midway between the last listed and the first unlisted score, the running variable, the
    AIPW design's pupils), with their potential outcomes."""
    sc = world.school.screening
    if not len(sc):
        return pd.DataFrame()
    st = world.school.student_terms
    label = {t.label: k for k, t in enumerate(world.school.terms)}
    records = pd.DataFrame({
        "child": sc["child"].to_numpy(), "school": sc["school"].to_numpy(),
        "k": sc["term"].map(label).to_numpy(), "term": sc["term"].to_numpy(),
        "county_code": sc["county_code"].astype(str).to_numpy(), "risk_score": sc["score"].to_numpy(),
        "rank": sc["rank"].to_numpy(), "red_list": np.where(sc["assigned"], "是", "否"),
        "mentored": np.where(sc["mentored"], "是", "否"),
    })  # fmt: skip
    led = prepare_ledger(records, [])
    cols = ["child", "k", "dropped", "p_true", "p_if_mentored", "p_if_not_mentored",
            "dropped_if_mentored", "dropped_if_not_mentored"]  # fmt: skip
    out = led.merge(st[cols], on=["child", "k"], how="left")
    out["effect"] = 100.0 * (
        out["dropped_if_mentored"].astype(float) - out["dropped_if_not_mentored"].astype(float)
    )
    out["effect_expected"] = 100.0 * (out["p_if_mentored"] - out["p_if_not_mentored"])
    return out


def _row(design, intervention, county, estimand, value, expected, n, **keys) -> dict:
    return {"design": design, "intervention": intervention, "county_code": str(county),
            "estimand": estimand, "value": float(value), "value_expected": float(expected),
            "n": int(n), **keys}  # fmt: skip


def _mentoring_rows(led: pd.DataFrame, recent: pd.Series) -> list[dict]:
    rows = []
    if not len(led):
        return rows
    for county, g in [(PREFECTURE, led), *led.groupby("county_code")]:
        near = g[g["running"].abs() <= RD_TRUTH_WINDOW]
        w = 1 - near["running"].abs() / RD_TRUTH_WINDOW
        if w.sum() > 0:
            rows.append(_row("rd", "mentoring", county, "cutoff",
                             np.average(near["effect"], weights=w),
                             np.average(near["effect_expected"], weights=w), len(near)))  # fmt: skip
        pop = g[g["in_design"]]
        rows.append(_row("aipw", "mentoring", county, "ATE", pop["effect"].mean(),
                         pop["effect_expected"].mean(), len(pop)))  # fmt: skip
        tr = pop[pop["treated"] == 1]
        rows.append(_row("aipw", "mentoring", county, "ATT", tr["effect"].mean(),
                         tr["effect_expected"].mean(), len(tr)))  # fmt: skip
        back = pop[recent.reindex(pop.index, fill_value=False)]
        if len(back):
            rows.append(_row("re-dropout", "mentoring", county, "ATE", back["effect"].mean(),
                             back["effect_expected"].mean(), len(back)))  # fmt: skip
    return rows


def recent_return(world, led: pd.DataFrame) -> pd.Series:
    """Whether each ledger pupil had returned from a dropout in the year before the term."""
    cases = world.school.cases
    back = cases[cases["return_date"].notna()][["child", "return_date"]]
    first = {k: np.datetime64(t.first_day) for k, t in enumerate(world.school.terms)}
    m = led[["child", "k"]].reset_index().merge(back, on="child")
    start = m["k"].map(first).astype("datetime64[ns]")
    ok = (m["return_date"] < start) & (m["return_date"] >= start - pd.Timedelta(days=365))
    return ok.groupby(m["index"]).any().reindex(led.index, fill_value=False)


def policy_panels(world) -> pd.DataFrame:
    """Each policy's school panel with realised and expected rates with and without it."""
    st = world.school.student_terms
    st = st[st["at_risk"]]
    sch = world.geo.schools["school_code"].to_numpy()
    label = {k: t.label for k, t in enumerate(world.school.terms)}
    pupils = pd.DataFrame({
        "school_code": sch[st["school"].to_numpy()], "county_code": st["county_code"].astype(str).to_numpy(),
        "term": st["k"].map(label).to_numpy(), "poverty_now": st["poverty_now"].astype(int).to_numpy(),
        "boarding": st["boarding"].astype(int).to_numpy(),
        "dropped": st["dropped"].astype(float).to_numpy(), "p": st["p_true"].to_numpy(),
    })  # fmt: skip
    pol = world.school.policies
    frames = []
    for policy, design in POLICY_DESIGNS.items():
        suffix = _POLICY_COLUMN[policy]
        pupils["dropped_without"] = st[f"dropped_without_{suffix}"].astype(float).to_numpy()
        pupils["p_without"] = st[f"p_without_{suffix}"].to_numpy()
        starts = pol[pol["policy"] == policy].set_index("county_code")["start_term"]
        adoption = {str(c): (None if t == "never" else t) for c, t in starts.items()}
        panel = school_panel(
            pupils, ["dropped", "dropped_without", "p", "p_without"], adoption, design
        )
        frames.append(panel.assign(policy=policy))
    return pd.concat(frames, ignore_index=True)


def _did_rows(panels: pd.DataFrame) -> list[dict]:
    rows = []
    for policy, panel in panels.groupby("policy"):
        panel = panel.assign(
            effect=panel["dropped"] - panel["dropped_without"],
            effect_expected=panel["p"] - panel["p_without"],
        )
        post = panel[(panel["group"] > 0) & (panel["period"] >= panel["group"])]
        if post.empty:  # no county adopted within the panel's window
            continue
        units = panel.drop_duplicates("school_code")
        total = units["weight"].sum()
        for county, part in [(PREFECTURE, post), *post.groupby("county_code")]:
            cells = {}
            for col in ("effect", "effect_expected"):
                cells[col] = part.groupby(["group", "period"])[[col, "weight"]].apply(
                    lambda x, c=col: np.average(x[c], weights=x["weight"])
                )
            att = pd.DataFrame(cells).reset_index()
            att = att.rename(columns={"period": "time"})
            for r in att.itertuples():
                rows.append(_row("did", policy, county, "ATT(g,t)", r.effect, r.effect_expected,
                                 0, group=int(r.group), time=int(r.time)))  # fmt: skip
            pg = (units.groupby("group")["weight"].sum() / total).to_dict()
            real = aggregate(att.rename(columns={"effect": "att"}), pg)
            expd = aggregate(att.rename(columns={"effect_expected": "att"}), pg)
            for kind in real:
                rows.append(_row("did", policy, county, kind, real[kind]["overall"],
                                 expd[kind]["overall"], 0))  # fmt: skip
    return rows


def _step_rows(world) -> list[dict]:
    eff = world.school.effects
    cases = world.school.cases
    rows = []
    for step in (2, 3, 4):
        e = eff[eff["intervention"] == f"persuasion_step{step}"].set_index("county_code")["value"]
        reached = cases[cases[f"step{step}"].notna()].groupby("county_code").size()
        reached = reached.reindex(e.index, fill_value=0)
        for county, hr in e.items():
            rows.append(_row("cox", f"persuasion_step{step}", county, "hazard_ratio", hr, hr,
                             reached[county]))  # fmt: skip
        # The average county's (the random-effects mean's target): the counties' mean log.
        pooled = float(np.exp(np.mean(np.log(e))))
        rows.append(_row("cox", f"persuasion_step{step}", PREFECTURE, "hazard_ratio",
                         pooled, pooled, reached.sum()))  # fmt: skip
    return rows


def true_estimands(world) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The estimands (one row each), the ledger with its potential outcomes, and the
    policies' school panels (for scoring an estimate on exactly the cells it used)."""
    led = ledger_truth(world)
    rows = _mentoring_rows(led, recent_return(world, led) if len(led) else pd.Series())
    panels = policy_panels(world)
    rows += _did_rows(panels)
    rows += _step_rows(world)
    rows += [_row("placebo", "inspection", PREFECTURE, "ATT", 0.0, 0.0, 0)]
    out = pd.DataFrame(rows)
    for col in ("group", "time"):
        if col not in out:
            out[col] = np.nan
        out[col] = out[col].astype("Int64")
    return out, led, panels
