"""Each design run on the stage's inputs, prefecture-wide and per county, into tidy
frames: one row per estimate (:data:`ESTIMATE_COLUMNS`), plus each design's detail.

The estimate rows carry the design, intervention, county (``all`` for the prefecture),
estimand, estimate, standard error, interval and its kind, and n; the stage adds the
partially pooled per-county estimates and the verdicts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.effects.aipw import aipw
from analysis.effects.did import county_effects, staggered_did
from analysis.effects.inputs import COVARIATES, TIE_OFFSET, EffectInputs
from analysis.effects.panels import POLICY_DESIGNS, school_panel
from analysis.effects.pooling import partial_pool
from analysis.effects.rdd import rdd
from analysis.effects.results import Effect
from analysis.effects.survival import case_durations, episodes, funnel, redropout, time_to_event

ALL = "all"
ESTIMATE_COLUMNS = ["design", "intervention", "county_code", "estimand", "estimate", "se",
                    "ci_low", "ci_high", "p_value", "interval", "unit", "n", "note"]  # fmt: skip
#: Fewest treated (and untreated) pupils, and outcome events, for a county's estimate.
MIN_TREATED = 30
MIN_EVENTS = 5
#: Fewest pupils in each arm of an AIPW comparison: below it, the weights rest on a handful
#: of pupils (per-county re-dropout estimates on ten or twenty returners missed the truth).
MIN_ARM = 30
# Fewest dropouts in each arm: ``effects.min_arm_events`` (with fewer, a rare outcome's
# normal interval is too narrow: per-county ATT intervals on a handful of dropouts covered
# the truth 73 % of the time).
#: A hazard ratio whose log has a larger standard error is not an estimate (too few returns).
MAX_LOG_SE = 2.0


def _row(design: str, intervention: str, county: str, e: Effect, n: int, note: str = "") -> dict:
    r = e.row()
    return {"design": design, "intervention": intervention, "county_code": county, **r,
            "interval": r.pop("interval"), "n": int(n), "note": note}  # fmt: skip


def _skip(design, intervention, county, estimand, note, n=0) -> dict:
    return {"design": design, "intervention": intervention, "county_code": county,
            "estimand": estimand, "n": int(n), "note": note}  # fmt: skip


# ---- county policies: staggered DiD ---------------------------------------------------------


def with_baseline(panel: pd.DataFrame, roster: pd.DataFrame) -> pd.DataFrame:
    """The panel with ``baseline``: the level of dropout of the school's county and stage
    (primary, junior-middle) before adoption, in percentage points of the first term.

    Dropout falls several-fold over the years and is 2.6 times higher in the autonomous
    counties and 9 times higher in junior-middle school, so the counties' rates fall by
    different amounts: parallel in proportion, not in percentage points. A term's change
    is then proportional to the level, and the outcome regression on ``baseline`` (csdid's
    ``reg`` with this covariate) compares like with like. The level is each untreated
    term's rate of the county and stage relative to the prefecture's untreated rate that
    term, pooled over the county's terms before adoption (every term if it never adopts):
    more terms average out more of the county-by-term shocks than the first term alone."""
    stage = roster.drop_duplicates("school_code").set_index("school_code")["stage"]
    p = panel.assign(junior=panel["school_code"].map(stage).eq("初中").astype(int))
    untreated = (p["group"] == 0) | (p["period"] < p["group"])
    u = p[untreated].assign(wy=lambda x: x["dropped"] * x["n"])
    prefecture = u.groupby(["junior", "period"])[["wy", "n"]].sum()
    prefecture = (prefecture["wy"] / prefecture["n"]).rename("ref")
    cell = u.groupby(["county_code", "junior", "period"])[["wy", "n"]].sum().reset_index()
    cell = cell.join(prefecture, on=["junior", "period"])
    # sum of the county's dropouts over the sum of what the prefecture's rates predict
    cell["expected"] = cell["ref"] * cell["n"]
    level = cell.groupby(["county_code", "junior"])[["wy", "expected"]].sum()
    level = level["wy"] / level["expected"].where(level["expected"] > 0)
    first = prefecture.groupby(level="junior").first()
    base = (level * level.index.get_level_values("junior").map(first).to_numpy()).rename("baseline")
    return p.join(base, on=["county_code", "junior"]).fillna({"baseline": 0.0})


def _did(panel, draws, seed, cluster="county_code"):
    return staggered_did(panel, "dropped", "period", "school_code", "group", cluster=cluster,
                         weights="weight", covariates=["baseline"], method="reg", draws=draws,
                         seed=seed, unit_label="pp")  # fmt: skip


def policies(inp: EffectInputs, draws: int, seed: int) -> tuple[list[dict], dict]:
    """Each county policy's school panel, prefecture DiD (analytic and randomisation
    inference; parallel trends given the county-stage's baseline level,
    :func:`with_baseline`) and per-county shock-adjusted effects."""
    rows, detail = [], {}
    pupils = inp.pupils.assign(dropped=inp.pupils["dropout"].astype(float))
    for policy, design in POLICY_DESIGNS.items():
        panel = school_panel(pupils, ["dropped"], inp.adoption.get(policy, {}), design)
        if panel.empty or panel["group"].nunique() < 2:
            rows.append(_skip("did", policy, ALL, "ATT (simple)", "no panel: no school has the policy's pupils every term, or no county adopted"))  # fmt: skip
            continue
        panel = with_baseline(panel, inp.roster)
        try:
            r = _did(panel, draws, seed)
        except Exception as exc:
            rows.append(_skip("did", policy, ALL, "simple", f"not estimable: {exc}"))
            continue
        n = r.n["units"]
        rows += [_row("did", policy, ALL, e, n) for e in r.effects]
        for kind in ("group", "dynamic", "calendar"):
            a = r.extra["aggregations"][kind]
            rows.append(_row("did", policy, ALL, Effect.normal(f"ATT ({kind})", a["overall_att"], a["overall_se"], "pp"), n))  # fmt: skip
        county = county_effects(panel, "dropped", "period", "school_code", "group", "county_code",
                                weights="weight", covariates=["baseline"], method="reg",
                                unit_label="pp")  # fmt: skip
        for c in county.itertuples():
            if c.note:
                rows.append(_skip("did", policy, c.county_code, "ATT (simple)", c.note))
                continue
            e = Effect("ATT (simple)", c.estimate, c.se, c.ci_low, c.ci_high, "pp", "shock-adjusted", c.p_value)  # fmt: skip
            rows.append(_row("did", policy, c.county_code, e, int((panel["county_code"] == c.county_code).sum() / panel["period"].nunique())))  # fmt: skip
        detail[policy] = {"result": r, "panel": panel, "county": county}
    return rows, detail


def placebo(inp: EffectInputs, draws: int, seed: int) -> tuple[list[dict], dict]:
    """Inspections have no effect on dropout: the city's inspection campaign (市级督查),
    which reached the counties at different terms, analysed exactly as a county policy
    (each county's junior-middle schools, from the term the campaign first visited one
    of them), must find none."""
    ins = inp.inspections
    city = ins[ins["level"] == "市级"].merge(
        inp.roster[["school_code", "county_code"]], on="school_code"
    )
    if city.empty:
        return [_skip("placebo", "inspection", ALL, "ATT (simple)", "no city-level inspections recorded")], {}  # fmt: skip
    adoption = dict.fromkeys(inp.counties)
    adoption.update(city.groupby("county_code")["term"].min().to_dict())
    design = POLICY_DESIGNS["video_check"]
    pupils = inp.pupils[inp.pupils["school_code"].isin(ins["school_code"].unique())]
    pupils = pupils.assign(dropped=pupils["dropout"].astype(float))
    panel = with_baseline(school_panel(pupils, ["dropped"], adoption, design), inp.roster)
    try:
        r = _did(panel, draws, seed)
    except Exception as exc:
        return [_skip("placebo", "inspection", ALL, "ATT (simple)", f"not estimable: {exc}")], {}
    return [_row("placebo", "inspection", ALL, e, r.n["units"]) for e in r.effects], {"result": r}


# ---- red-list mentoring: RD and AIPW --------------------------------------------------------


def _with_outcome(inp: EffectInputs) -> pd.DataFrame:
    led = inp.ledger.merge(inp.pupils.drop(columns=["county_code", "school_code"]),
                           on=["person_id", "term"], how="inner")  # fmt: skip
    led["dropped_pp"] = 100.0 * led["dropout"].astype(float)
    # Covariates with no value: never returned (years since a return), no attendance yet.
    if "years_since_return" in led:
        led["years_since_return"] = led["years_since_return"].fillna(10.0)
    for c in COVARIATES:
        if c in led:
            led[c] = led[c].astype(float).fillna(0.0)
    return led.dropna(subset=["running"])


def mentoring(inp: EffectInputs, min_arm_events: int = 10) -> tuple[list[dict], dict]:
    """RD at the cutoff and AIPW (ATT, ATE; ATE among pupils back from a dropout within a
    year), prefecture-wide (the counties' cutoffs pooled on the running variable) and per
    county."""
    if inp.ledger.empty:
        return [_skip("rd", "mentoring", ALL, "effect at cutoff", "no ledgers")], {"fits": {}}
    led = _with_outcome(inp)
    rows, detail = [], {}
    out = {"fits": detail, "ledger": led}
    covs = ["running", "listed", *[c for c in COVARIATES if c in led]]
    for county, g in [(ALL, led), *led.groupby("county_code")]:
        detail[county] = {}
        if g["treated"].sum() < MIN_TREATED or g["dropout"].sum() < MIN_EVENTS:
            note = (
                f"数据不足: {int(g['treated'].sum())} mentored, {int(g['dropout'].sum())} dropouts"
            )
            rows += [_skip(d, "mentoring", county, est, note, len(g)) for d, est in (("rd", "effect at cutoff"), ("aipw", "ATT"))]  # fmt: skip
            continue
        # A donut: pupils tied at the cutoff are ordered by the ledger's tie-break (often the
        # student number, which follows the birth date, so age and risk): left out.
        donut = g[g["running"].abs() > 1.5 * TIE_OFFSET]
        try:
            r = rdd(donut, "dropped_pp", "running", 0.0, "treated", cluster="person_id", unit_label="pp")  # fmt: skip
            r.checks["ties at the cutoff"] = f"{len(g) - len(donut)} pupils tied at the cutoff left out (donut)"  # fmt: skip
            if not r.effect.se > 0:  # no dropout near the cutoff: nothing to compare
                raise ValueError("no variation in the outcome near the cutoff")
            rows += [_row("rd", "mentoring", county, e, len(donut)) for e in r.effects]
            detail[county]["rd"] = r
        except Exception as exc:
            rows.append(_skip("rd", "mentoring", county, "effect at cutoff", f"not estimable: {exc}", len(g)))  # fmt: skip
        pop = g[g["in_design"]]
        for name, sub, est in (("aipw", pop, "ATT"), ("aipw", pop, "ATE"),
                               ("re-dropout", pop[pop["years_since_return"] <= 1] if "years_since_return" in pop else pop.iloc[:0], "ATE")):  # fmt: skip
            arms = (int(sub["treated"].sum()), int((1 - sub["treated"]).sum()))
            events = (int(sub.loc[sub["treated"] == 1, "dropout"].sum()), int(sub.loc[sub["treated"] == 0, "dropout"].sum()))  # fmt: skip
            if min(arms) < MIN_ARM or min(events) < min_arm_events:
                note = f"数据不足: {arms[0]} mentored ({events[0]} dropouts), {arms[1]} not ({events[1]})"
                rows.append(_skip(name, "mentoring", county, est, note, len(sub)))
                continue
            try:
                a = aipw(sub, "dropped_pp", "treated", covs, estimand=est, cluster="person_id", unit_label="pp")  # fmt: skip
                rows.append(_row(name, "mentoring", county, a.effect, len(sub)))
                detail[county][f"{name}_{est}"] = a
            except Exception as exc:
                rows.append(_skip(name, "mentoring", county, est, f"not estimable: {exc}", len(sub)))  # fmt: skip
    return rows, out


# ---- persuasion to return -------------------------------------------------------------------


def persuasion(inp: EffectInputs, censor_at: str | None) -> tuple[list[dict], dict]:
    """The funnel, time to return (KM per county), the Cox model of the steps (pooled with
    county strata, and per county), re-dropout."""
    if inp.cases.empty:
        return [_skip("cox", "persuasion_step2", ALL, "hazard_ratio", "no persuasion ledgers")], {}
    c = case_durations(inp.cases, censor_at)
    c["far"] = c["whereabouts"].astype(str).str.startswith("外出").astype(int)
    c["county_code"] = c["county_code"].fillna("unknown")
    ep = episodes(c)
    ep = ep.join(c[["far", "county_code", "detected"]], on="case")
    ep["year"] = pd.to_datetime(ep["detected"]).dt.year - (
        pd.to_datetime(ep["detected"]).dt.month < 9
    )
    years = [f"y{y}" for y in sorted(ep["year"].unique())[1:]]
    for y in years:
        ep[y] = (ep["year"] == int(y[1:])).astype(int)
    covs = ["step2", "step3", "step4", "far", *years]
    rows, detail = [], {"funnel": funnel(c), "redropout": redropout(inp.cases)}
    curves, km = [], []
    for county, g in [(ALL, ep), *ep.groupby("county_code")]:
        r = time_to_event(g, "exit", "returned", entry="entry", subject="case", covariates=covs,
                          strata="county_code" if county == ALL else None)  # fmt: skip
        curves.append(r.extra["curves"].assign(county_code=county))
        km.append(r.table.query("group == 'all'").assign(county_code=county))
        for e in r.effects:
            step = e.name.removeprefix("HR ")
            if not step.startswith("step"):
                continue
            if not np.isfinite(e.se) or e.se > MAX_LOG_SE:
                rows.append(_skip("cox", f"persuasion_{step}", county, "hazard_ratio",
                                  f"数据不足: too few returns after {step} to estimate", r.n["subjects"]))  # fmt: skip
                continue
            name = "hazard_ratio" if county != ALL else "hazard_ratio (stratified Cox)"
            rows.append(_row("cox", f"persuasion_{step}", county,
                             Effect(name, e.estimate, e.se, e.ci_low, e.ci_high, "hazard ratio", e.method, e.p_value),
                             r.n["subjects"]))  # fmt: skip
    rows += _average_county(rows)
    detail["curves"] = pd.concat(curves, ignore_index=True)
    detail["km"] = pd.concat(km, ignore_index=True)
    detail["cases"] = c
    return rows, detail


def _average_county(rows: list[dict]) -> list[dict]:
    """The prefecture's step effect as the average county's: the random-effects mean of
    the counties' Cox log hazard ratios. A stratified Cox model's common coefficient
    weighs the counties by an information no one can state when their effects differ
    (in the validation study it missed the step-4 truth in 30 % of worlds); the mean of
    the counties' effects is a target one can state, and its interval carries their spread."""
    out = []
    d = pd.DataFrame([r for r in rows if r["county_code"] != ALL and pd.notna(r.get("estimate"))])
    if d.empty:
        return out
    for inter, g in d.groupby("intervention"):
        if len(g) < 3:
            out.append(_skip("cox", inter, ALL, "hazard_ratio", "数据不足: fewer than 3 counties with an estimate"))  # fmt: skip
            continue
        r = partial_pool(g.assign(y=np.log(g["estimate"])), "y", "se", "county_code")
        m = r.effect
        e = Effect("hazard_ratio", float(np.exp(m.estimate)), m.se, float(np.exp(m.ci_low)),
                   float(np.exp(m.ci_high)), "hazard ratio", "random-effects mean of the counties", m.p_value)  # fmt: skip
        out.append(_row("cox", inter, ALL, e, int(g["n"].sum()), f"{len(g)} counties"))
    return out


def as_frame(rows: list[dict]) -> pd.DataFrame:
    out = pd.DataFrame(rows)
    for col in ESTIMATE_COLUMNS:
        if col not in out:
            out[col] = np.nan
    out["note"] = out["note"].fillna("")
    return out[ESTIMATE_COLUMNS]


__all__ = ["ALL", "ESTIMATE_COLUMNS", "as_frame", "mentoring", "persuasion", "placebo", "policies"]  # fmt: skip
