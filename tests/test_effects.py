"""The effect estimators on data with known effects, and the effects stage end to end on
the small prefecture."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.effects import aipw, partial_pool, rdd, time_to_event, verdict
from analysis.effects.survival import case_durations, episodes


def test_fuzzy_rd_recovers_the_effect_at_the_cutoff_and_reports_its_checks():
    rng = np.random.default_rng(3)
    n = 6000
    x = np.round(rng.uniform(-3, 3, n), 1)
    d = np.where(x >= 0, rng.random(n) < 0.85, rng.random(n) < 0.08)
    y = 0.4 * x + 0.1 * x**2 - 2.0 * d + rng.normal(0, 1, n)
    r = rdd(pd.DataFrame({"y": y, "x": x, "d": d}), "y", "x", treatment="d")
    assert r.effect.covers(-2.0) and r.effect.ci_high < 0
    assert r.design.startswith("Fuzzy")
    assert "0.7" in r.checks["first stage"] or "0.8" in r.checks["first stage"]
    assert "no evidence of sorting" in r.checks["no manipulation (density)"]
    sharp = rdd(pd.DataFrame({"y": y, "x": x}), "y", "x")
    assert sharp.design.startswith("Sharp")


def _confounded(n: int, seed: int):
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), (rng.random(n) < 0.4).astype(float)
    t = (rng.random(n) < 1 / (1 + np.exp(-(-0.3 + 1.2 * x1 + 0.8 * x2)))).astype(int)
    effect = -1.0 - 0.5 * x2  # heterogeneous: ATT differs from ATE
    y = 1.5 * x1 + x2 + effect * t + rng.normal(size=n)
    return pd.DataFrame({"y": y, "t": t, "x1": x1, "x2": x2}), effect


def test_aipw_recovers_ate_and_att_where_a_naive_comparison_is_confounded():
    df, effect = _confounded(4000, 5)
    ate, att = effect.mean(), effect[df["t"] == 1].mean()
    naive = df.loc[df["t"] == 1, "y"].mean() - df.loc[df["t"] == 0, "y"].mean()
    assert naive > ate + 1.0  # confounded upwards
    r_ate = aipw(df, "y", "t", ["x1", "x2"], estimand="ATE")
    r_att = aipw(df, "y", "t", ["x1", "x2"], estimand="ATT")
    assert r_ate.effect.covers(ate) and r_att.effect.covers(att)
    assert {"overlap", "balance after weighting"} <= set(r_ate.checks)


def test_aipw_standard_error_is_statsmodels_gmm_one():
    """The influence-function SE stands in for statsmodels' GMM SE (slow on big data)."""
    import statsmodels.api as sm
    from statsmodels.treatment.treatment_effects import TreatmentEffect

    df, _ = _confounded(1500, 8)
    X = sm.add_constant(df[["x1", "x2"]].to_numpy())
    sel = sm.Logit(df["t"].to_numpy(), X).fit(disp=0)
    gmm = TreatmentEffect(
        sm.OLS(df["y"].to_numpy(), X), df["t"].to_numpy(), results_select=sel
    ).aipw()
    ours = aipw(df, "y", "t", ["x1", "x2"], estimand="ATE").effect
    assert ours.estimate == pytest.approx(gmm.effect[0], abs=1e-6)
    assert ours.se == pytest.approx(np.asarray(gmm.summary_frame()["std err"])[0], rel=0.05)


def _cases(n: int, hr: float, seed: int) -> pd.DataFrame:
    """Children out of school returning at daily hazard 0.004, times ``hr`` once step 2
    (day 30 if still out) is reached."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2017-03-01")
    rows = []
    for _ in range(n):
        e = rng.exponential()
        day = e / 0.004 if e / 0.004 < 30 else 30 + (e - 30 * 0.004) / (0.004 * hr)
        step2 = start + pd.Timedelta(days=30) if day > 30 else pd.NaT
        ret = start + pd.Timedelta(days=int(np.ceil(day))) if day < 365 else pd.NaT
        rows.append({"detected": start, "step1": start, "step2": step2, "step3": pd.NaT,
                     "step4": pd.NaT, "return_date": ret, "grade": 5, "county_code": "c"})  # fmt: skip
    return pd.DataFrame(rows)


def test_cox_on_split_episodes_recovers_a_step_hazard_ratio():
    c = case_durations(_cases(3000, 2.5, 1))
    ep = episodes(c)
    assert (ep.groupby("case")["returned"].sum() <= 1).all()
    assert ((ep["step2"] == 1) == (ep["entry"] >= 30)).all()
    r = time_to_event(ep, "exit", "returned", entry="entry", subject="case", covariates=["step2"])
    assert r.effect.covers(2.5), r.effect
    band = r.extra["curves"]
    assert band["low"].between(0, 1).all() and (band["low"] <= band["still_out"] + 1e-9).all()


def test_cox_without_information_on_a_covariate_gives_no_estimate_not_an_error():
    """A county where no child returned after a step: no hazard ratio, and the stage goes on."""
    from analysis.effects.survival import cox

    d = pd.DataFrame({"days": [10, 20, 30, 40, 50, 60], "back": [1, 1, 1, 0, 0, 0],
                      "step2": [0, 0, 0, 1, 1, 1]})  # fmt: skip
    out = cox(d, "days", "back", ["step2"])
    assert out.empty or not np.isfinite(out["se"]).all() or out["se"].iloc[0] > 2


def test_campaign_censoring_and_class_leaving_stop_follow_up():
    c = _cases(50, 1.0, 2)
    c.loc[0, "return_date"] = pd.Timestamp("2017-09-01")
    c.loc[0, "grade"] = 9  # the class leaves on 2017-07-15: censored then, not returned
    d = case_durations(c, censor_at="2017-04-01")
    assert d.loc[0, "returned"] == 0 and d["days"].max() <= 31
    assert not case_durations(c.assign(step1=pd.Timestamp("2017-05-01")), "2017-04-01")[
        "in_analysis"
    ].any()


def test_partial_pooling_shrinks_noisy_counties_and_says_when_data_cannot_tell():
    est = pd.DataFrame({"county": list("abcdef"), "y": [-1.5, -0.5, -1.0, -1.8, -0.6, 3.0],
                        "se": [0.2, 0.2, 0.2, 0.2, 0.2, 4.0]})  # fmt: skip
    r = partial_pool(est, "y", "se", "county", smallest_effect=0.2)
    t = r.table.set_index("county")
    assert t.loc["f", "shrinkage"] > 0.9 and t.loc["a", "shrinkage"] < 0.5
    assert abs(t.loc["f", "pooled"] - r.effect.estimate) < 0.5
    assert (t.loc[list("abcde"), "verdict"] == "有效").all()
    same = partial_pool(est.assign(y=-1.0, se=0.5), "y", "se", "county")
    assert same.extra["tau"] == 0.0
    assert verdict(-3.0, 2.0, 0.1) == "数据不足以判断" and verdict(-0.05, 0.05, 0.1) == "无明显效果"


def test_effects_stage_on_the_small_prefecture(prefecture, linked):
    """Every design gives an estimate with an interval (or says why not), the policies get
    randomisation inference beside the analytic interval, every county gets a verdict, the
    figures are drawn, and validate scores each estimate against the truth."""
    from analysis.config import default_config
    from analysis.effects.results import CANNOT_TELL, HARMS, HELPS, NO_EFFECT
    from analysis.effects.stage import effects
    from analysis.validate import Truth
    from analysis.validate.effects import validate_effects

    # The small prefecture has few dropouts: let AIPW run on them, to exercise it end to end.
    s = effects(prefecture, default_config().with_("effects", min_arm_events=2))
    est = pd.read_parquet(prefecture.effects_table("estimates"))
    pref = est[est["county_code"] == "all"]
    for design in ("did", "placebo", "rd", "aipw", "cox"):
        rows = pref[pref["design"] == design]
        assert len(rows), design
        assert (rows["estimate"].notna() | (rows["note"] != "")).all(), design
    did = pref[(pref["design"] == "did") & (pref["intervention"] == "video_check")]
    assert {"analytic", "randomisation"} <= {i.split(" ")[0].rstrip(",") for i in did["interval"]}
    assert est["verdict"].isin([HELPS, HARMS, NO_EFFECT, CANNOT_TELL]).all()
    counties = pd.read_parquet(prefecture.effects_table("counties"))
    assert set(counties["county_code"]) == set(s.manifest["counties"])
    assert "person_id" not in est.columns and "person_id" not in counties.columns
    for name in s.manifest["figures"]:
        assert (prefecture.effects / "figures" / name).stat().st_size > 10_000
    _, truth, _ = linked
    with Truth(truth) as t:
        v = validate_effects(prefecture, t)
    scored = pd.DataFrame(v["prefecture"])
    assert set(scored["design"]) >= {"did", "placebo", "rd", "aipw", "cox"}
    assert scored["truth"].notna().all()
    assert v["targeting"]["risk_list"]["pupils"] == v["targeting"]["capacity"] > 0


def test_the_direct_path_agrees_with_the_pipeline(prefecture):
    """The validation study feeds the estimators the world's records without the mess;
    on the same world the pipeline must give the same answers (the cases are the same
    records, the pupils differ only by what cleaning and linkage do)."""
    from analysis.config import default_config
    from analysis.effects.direct import inputs_from_world
    from analysis.effects.stage import effects, estimate_all
    from analysis.synth import SynthParams
    from analysis.synth.world import build_world
    from conftest import SMALL_SEED

    effects(prefecture)
    ours = pd.read_parquet(prefecture.effects_table("estimates")).query("county_code == 'all'")
    direct, _, _ = estimate_all(
        inputs_from_world(build_world(SynthParams.preset("small", SMALL_SEED))),
        default_config().effects,
    )
    keys = ["design", "intervention", "county_code", "estimand", "interval"]
    both = ours.merge(direct, on=keys, suffixes=("", "_direct")).dropna(
        subset=["estimate", "estimate_direct"]
    )
    cox = both[both["estimand"] == "hazard_ratio (stratified Cox)"]
    assert len(cox) == 3
    np.testing.assert_allclose(cox["estimate"], cox["estimate_direct"], rtol=0.05)
    did = both[(both["design"] == "did") & (both["interval"] == "analytic")]
    simple = did[did["estimand"] == "ATT (simple)"]
    assert (
        len(simple) and (abs(simple["estimate"] - simple["estimate_direct"]) < simple["se"]).all()
    )
    assert (abs(did["estimate"] - did["estimate_direct"]) < 2.5 * did["se"]).all()


def test_the_truth_holds_every_designs_estimand():
    """The small world's truth: each policy's panel has adopting and never-adopting schools,
    and every design has its estimand for the prefecture and per county."""
    from analysis.synth import SynthParams
    from analysis.synth.estimands import true_estimands
    from analysis.synth.world import build_world

    tru, ledger, panels = true_estimands(build_world(SynthParams.preset("small", 3)))
    video = panels[panels["policy"] == "video_check"]
    assert (video["group"] > 0).any() and (video["group"] == 0).any()
    have = set(zip(tru["design"], tru["estimand"], strict=True))
    assert {("did", "simple"), ("did", "ATT(g,t)"), ("rd", "cutoff"), ("aipw", "ATT"),
            ("cox", "hazard_ratio"), ("placebo", "ATT")} <= have  # fmt: skip
    assert tru["county_code"].map(type).eq(str).all()
    counties = tru[(tru["design"] == "did") & (tru["county_code"] != "all")]
    assert counties["county_code"].nunique() >= 3
    assert ledger["running"].notna().all()
