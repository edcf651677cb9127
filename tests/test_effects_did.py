"""Staggered DiD: R did 2.5.0's published figures on mpdta, and the few-cluster inference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.effects import randomisation_inference, staggered_did
from analysis.effects.did import cluster_sums, fast_simple_att

REF = Path(__file__).parent / "data" / "did-mpdta"
SCENARIOS = {
    "mpdta_nev_dr": {"control": "nevertreated", "method": "dr"},
    "mpdta_nyt_dr": {"control": "notyettreated", "method": "dr"},
    "mpdta_nev_ipw": {"control": "nevertreated", "method": "ipw"},
    "mpdta_nev_reg_cov": {"control": "nevertreated", "method": "reg", "covariates": ["lpop"]},
}


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    return pd.read_csv(REF / "mpdta.csv").rename(columns={"first.treat": "first_treat"})


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_reproduces_r_did_on_mpdta(mpdta, scenario):
    """Every ATT(g,t) and every aggregation (overall and per group, event time and
    period) as R did 2.5.0: ATT to 1e-6, standard errors to 1e-3 relative."""
    r = staggered_did(mpdta, "lemp", "year", "countyreal", "first_treat", **SCENARIOS[scenario])
    ours = r.tidy()
    ref = pd.read_csv(REF / "r_did_attgt.csv").query("scenario == @scenario")
    got = ours[ours["kind"] == "attgt"].merge(
        ref, left_on=["group", "time"], right_on=["group", "t"], how="right"
    )
    assert len(got) == len(ref) > 0 and got["att_x"].notna().all()
    np.testing.assert_allclose(got["att_x"], got["att_y"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(got["se_x"], got["se_y"], rtol=1e-3)
    agg = pd.read_csv(REF / "r_did_aggte.csv").query("scenario == @scenario")
    for kind, g in agg.groupby("type"):
        overall = ours[(ours["kind"] == kind) & ours[["group", "time", "e"]].isna().all(axis=1)]
        assert overall["att"].iloc[0] == pytest.approx(g["overall_att"].iloc[0], abs=1e-6)
        assert overall["se"].iloc[0] == pytest.approx(g["overall_se"].iloc[0], rel=1e-3)
        if kind == "simple":
            continue
        key = {"group": "group", "dynamic": "e", "calendar": "time"}[kind]
        detail = ours[(ours["kind"] == kind) & ours[key].notna()].merge(
            g, left_on=key, right_on="egt", how="right"
        )
        assert len(detail) == len(g)
        np.testing.assert_allclose(detail["att"], detail["att_egt"], atol=1e-6, rtol=0)
        np.testing.assert_allclose(detail["se"], detail["se_egt"], rtol=1e-3)


@pytest.mark.parametrize("control", ["nevertreated", "notyettreated"])
def test_fast_estimator_equals_csdid_without_covariates(mpdta, control):
    """Randomisation inference recomputes the estimate from cluster sums; with each county
    its own cluster that must be csdid's simple ATT exactly."""
    r = staggered_did(mpdta, "lemp", "year", "countyreal", "first_treat", control=control)
    S, W, X, G, _, periods = cluster_sums(
        mpdta, "lemp", "year", "countyreal", "first_treat", "countyreal"
    )
    assert fast_simple_att(S, W, G, periods, control, X) == pytest.approx(
        r.effect.estimate, abs=1e-12
    )


def test_fast_estimator_equals_csdid_outcome_regression(mpdta):
    """With a covariate constant within each unit (lpop), the fast estimator's outcome
    regression is csdid's ``reg``: randomisation inference adjusts as the estimate does."""
    r = staggered_did(mpdta, "lemp", "year", "countyreal", "first_treat", control="nevertreated",
                      method="reg", covariates=["lpop"])  # fmt: skip
    S, W, X, G, _, periods = cluster_sums(mpdta, "lemp", "year", "countyreal", "first_treat",
                                          "countyreal", covariates=["lpop"])  # fmt: skip
    assert X.shape == (500, 1)
    est = fast_simple_att(S, W, G, periods, "nevertreated", X)
    assert est == pytest.approx(r.effect.estimate, abs=1e-10)


def _policy_panel(effect: float, seed: int, n_clusters: int = 9, schools: int = 8) -> pd.DataFrame:
    """Schools in counties that adopt at random terms (two never), county-by-term shocks."""
    rng = np.random.default_rng(seed)
    starts = rng.permutation([0, 0, 3, 3, 4, 5, 6, 6, 7][:n_clusters])
    rows = []
    shock = rng.normal(0, 0.3, (n_clusters, 8))
    for c in range(n_clusters):
        level = rng.normal(2, 0.5)
        for s in range(schools):
            a = rng.normal(0, 0.3)
            for t in range(1, 9):
                treated = starts[c] > 0 and t >= starts[c]
                y = level + a + 0.1 * t + shock[c, t - 1] + effect * treated + rng.normal(0, 0.2)
                rows.append((f"{c}-{s}", c, t, starts[c], y))
    return pd.DataFrame(rows, columns=["school", "county", "term", "g", "y"])


def test_randomisation_inference_has_its_size_where_clustered_errors_do_not():
    """With nine counties and county-by-term shocks, no effect: randomisation inference
    rejects at about its nominal rate; its interval covers a real effect."""
    rejections = 0
    for seed in range(40):
        d = _policy_panel(0.0, seed)
        ri = randomisation_inference(d, "y", "term", "school", "g", "county", draws=299, seed=seed)
        rejections += ri["p_value"] < 0.05
    assert rejections <= 6  # 5 % of 40 is 2; binomial 95th percentile is 5
    d = _policy_panel(1.0, 99)
    ri = randomisation_inference(d, "y", "term", "school", "g", "county", draws=299)
    assert ri["ci_low"] < 1.0 < ri["ci_high"] and ri["p_value"] < 0.05


def test_groups_after_the_last_period_are_never_treated_and_early_ones_dropped(mpdta):
    d = mpdta.copy()
    d.loc[d["first_treat"] == 2007, "first_treat"] = 2010
    d.loc[d["countyreal"] == d["countyreal"].iloc[0], "first_treat"] = 2003
    r = staggered_did(d, "lemp", "year", "countyreal", "first_treat", control="nevertreated")
    assert any("never treated" in n for n in r.notes)
    assert any("left out" in n for n in r.notes)
    assert 2007 not in set(r.extra["attgt"]["group"]) and 2010 not in set(r.extra["attgt"]["group"])


def test_pretest_from_influence_functions_is_csdids(mpdta):
    """When csdid gives no Wald statistic (a cell not estimable), ours from the influence
    functions stands in; on mpdta both are R's 7.79 (p 0.168)."""
    from analysis.effects.did import _pretest

    r = staggered_did(mpdta, "lemp", "year", "countyreal", "first_treat", control="nevertreated")
    ours = r.checks["parallel pre-trends"]
    r.extra["fit"].MP["W"] = None
    assert _pretest(r.extra["fit"], r.extra["attgt"])["parallel pre-trends"] == ours
    assert ours.startswith("Wald chi2 = 7.79, p = 0.168")
