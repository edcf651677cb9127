"""The risk model stage on the small prefecture: as-of correctness of the features, the
lists officials act on, the saved model, the card, and the metrics' arithmetic."""

from __future__ import annotations

import re
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from analysis.calendar import Term
from analysis.engine import connect
from analysis.layout import Layout
from analysis.link.tables import base_tables
from analysis.model import metrics as M
from analysis.model.estimator import RiskModel
from analysis.model.features import FEATURES, features_as_of, model_tables
from analysis.model.stage import model, score_term
from analysis.validate import Truth, validate_model


@pytest.fixture(scope="module")
def tables(linked):
    data, _, _ = linked
    con = connect()
    m = model_tables(base_tables(con, Layout(data)), Layout(data))
    yield m
    con.close()


@pytest.mark.parametrize("label", ["2018-2", "2019-1"])
def test_no_feature_moves_when_every_fact_after_the_as_of_date_changes(tables, label):
    con = tables.base.con
    before = features_as_of(tables, label)
    s = Term.parse(label).as_of
    d = f"DATE '{s.isoformat()}'"
    year = s.year
    con.execute("BEGIN TRANSACTION")
    try:
        # Attendance from the as-of month on: everyone misses every day.
        con.execute(f"UPDATE am SET unx = req, pres = 0, sick = 3, pers = 4 WHERE month >= {d}")
        # Registry snapshots of the term and later: other status, grade, school, flags.
        con.execute(
            f"UPDATE reg SET status = '辍学', grade = grade + 3, school_code = 'X', "
            f"migrant = NOT coalesce(migrant, false) WHERE term >= '{label}'"
        )
        con.execute(
            f"UPDATE xattr SET left_behind = NOT left_behind, boarding = true, "
            f"disability = true, minority = NOT minority WHERE term >= '{label}'"
        )
        con.execute(
            f"UPDATE xj SET sex = '女', birth_date = birth_date + INTERVAL 400 DAY "
            f"WHERE term >= '{label}'"
        )
        # Ledger: a new case for every pupil after the date; returns after it moved.
        con.execute(
            f"""UPDATE ledger SET return_date = {d} + INTERVAL 30 DAY
            WHERE return_date IS NULL OR return_date >= {d}"""
        )
        con.execute(
            f"""INSERT INTO ledger (person_id, detected, return_date)
            SELECT person_id, {d} + INTERVAL 10 DAY, NULL FROM pop"""
        )
        # Certificates issued, households registered or lifted out after the date.
        con.execute(f"INSERT INTO certs SELECT person_id, {d} + INTERVAL 1 DAY FROM pop")
        con.execute(f"UPDATE poverty SET lifted_year = {year + 1} WHERE lifted_year > {year}")
        con.execute(
            f"INSERT INTO poverty SELECT person_id, {year + 1}, NULL FROM pop "
            f"WHERE person_id NOT IN (SELECT person_id FROM poverty)"
        )
        # The label's runs: everyone drops out in the term.
        con.execute(f"UPDATE drops SET out_month = {d}")
        con.execute(f"INSERT INTO drops SELECT person_id, -1, {d} FROM pop")
        after = features_as_of(tables, label)
    finally:
        con.execute("ROLLBACK")
    cols = ["person_id", "county_code", "school_code", *FEATURES]
    key = ["person_id"]
    pd.testing.assert_frame_equal(
        before[cols].sort_values(key, ignore_index=True),
        after[cols].sort_values(key, ignore_index=True),
    )
    assert after["dropout"].sum() == len(after) > before["dropout"].sum()


def test_the_early_2020_closure_is_not_absence(tables):
    f = features_as_of(tables, "2020-1")  # its year back holds the closure (Feb-Apr 2020)
    assert (f["months_recorded_year"] < 10).mean() > 0.9
    # The rates are over recorded months: pupils with no unexcused day have rate 0.
    am = tables.base.con.execute(
        "SELECT person_id, sum(unx) AS u, sum(req) AS r FROM am "
        "WHERE month >= DATE '2019-09-01' AND month < DATE '2020-09-01' GROUP BY person_id"
    ).df()
    m = f.merge(am, on="person_id")
    np.testing.assert_allclose(m["unx_rate_year"], m["u"] / m["r"], rtol=1e-5)


@pytest.fixture(scope="module")
def modelled(linked, model_config):
    data, truth, _ = linked
    result = model(Layout(data), model_config, force=True)
    return data, truth, result


def test_each_county_gets_its_red_list_with_reasons_and_only_its_children(modelled):
    data, _, result = modelled
    folder = data / "processed" / "model"
    cap = result.manifest["capacity"]
    scored = pd.read_parquet(folder / "features.parquet")
    scored = scored[scored["term"] == result.manifest["listed_term"]]
    for county, n in cap.items():
        d = folder / "lists" / county
        red = pd.read_parquet(d / "red_list.parquet")
        white = pd.read_parquet(d / "white_list.parquet")
        assert set(red["county_code"]) <= {county} and set(white["county_code"]) <= {county}
        assert len(red) == min(n, int((scored["county_code"] == county).sum()))
        assert red["rank_in_county"].tolist() == list(range(1, len(red) + 1))
        assert red["risk"].is_monotonic_decreasing
        assert set(red["change"]) <= {"新进", "保留"}
        for text in red["reasons"]:
            # Plain Chinese sentences, never a bare feature name.
            assert re.search(r"[\u4e00-\u9fff]", text) and "_" not in text
        assert red["id_masked"].dropna().str.fullmatch(r"\d{6}\*{8}[\dX]{4}|\d{6}\*{4}").all()
        assert not (set(red["person_id"]) & set(white["person_id"]))
        card = (d / "model_card.md").read_text(encoding="utf-8")
        assert "不得用于" in card and "公平性审计" in card and "本县名单" in card
        others = set(cap) - {county}
        assert not any(f"| 县（市、区） | {o} |" in card for o in others)


def test_the_validation_compares_the_model_with_every_baseline_out_of_time(modelled):
    _, _, result = modelled
    m = result.validation.metrics
    assert set(m["model"]) == {
        "risk_model",
        "logistic_regression",
        "abc_rule",
        "prior_absence",
        "school_rate",
        "county_rate",
    }
    ok = m.dropna(subset=["estimate", "lo", "hi"])
    assert (ok["lo"] <= ok["hi"]).all()
    auc = ok[ok["metric"] == "roc_auc"]  # (a skewed metric, like ECE, may lie outside)
    assert ((auc["lo"] <= auc["estimate"]) & (auc["estimate"] <= auc["hi"])).all()
    # Every test term was scored by a model trained on earlier terms only.
    trained = result.manifest["model"]["trained_on"]
    assert max(trained) < max(result.manifest["labelled_terms"])
    assert set(result.validation.bias["group"]) >= {"sex", "ethnicity", "poverty"}
    # The paired difference is the main model's metric minus the baseline's.
    auc = m[m["metric"] == "roc_auc"].set_index(["term", "model"])
    main = auc.xs("risk_model", level="model")["estimate"]
    other = auc.drop(index="risk_model", level="model")
    expect = main.reindex(other.index.get_level_values("term")).to_numpy() - other["estimate"]
    assert np.allclose(other["diff"], expect)
    assert auc.xs("risk_model", level="model")["diff"].isna().all()


def test_the_saved_model_scores_a_new_term_as_it_did_and_names_its_data(modelled):
    data, _, result = modelled
    folder = data / "processed" / "model"
    saved = RiskModel.load(folder / "model.pkl")
    assert re.fullmatch(r"[0-9a-f]{64}", saved.fingerprint_)
    ft = pd.read_parquet(folder / "features.parquet")
    now = ft[ft["term"] == result.manifest["listed_term"]]
    again = score_term(folder / "model.pkl", now)
    red = pd.concat(
        pd.read_parquet(p) for p in (folder / "lists").glob("*/red_list.parquet")
    ).merge(again[["person_id", "risk"]], on="person_id", suffixes=("", "_again"))
    np.testing.assert_allclose(red["risk"], red["risk_again"], rtol=1e-9)
    # Exact additive contributions: they sum to the calibrated log-odds.
    c = saved.contributions(now.head(50))
    p = saved.predict_proba(now.head(50))[:, 1]
    np.testing.assert_allclose(1 / (1 + np.exp(-c.sum(axis=1))), p, rtol=1e-6)


def test_a_second_run_does_nothing_and_a_failed_run_leaves_the_last_output(
    modelled, monkeypatch, model_config
):
    data, _, _ = modelled
    folder = data / "processed" / "model"
    again = model(Layout(data), model_config)
    assert again.skipped
    before = sorted(p.relative_to(folder) for p in folder.rglob("*"))

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr("analysis.model.stage.risk_model", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        model(Layout(data), model_config, force=True)
    assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == before
    assert not [p for p in data.iterdir() if p.name.endswith(".partial")]


def test_validate_scores_the_model_against_the_true_probabilities(modelled):
    data, truth, _ = modelled
    with Truth(truth) as t:
        v = validate_model(Layout(data), t)
    assert v, "no held-out term matched the truth"
    for term in v.values():
        assert term["pupils_matched"] >= 0.98 * term["pupils_scored"]
        assert 0.5 < term["roc_auc_true_probability"] <= 1
        assert set(term["baselines_roc_auc"]) >= {"logistic_regression", "abc_rule"}
        assert 0 < term["expected_precision_ratio"] <= 1.0001  # p_true's list holds most
    best = v[max(v)]["best_from_features"]
    assert 0.5 < best["roc_auc"] <= 1 and 0 < best["expected_precision_ratio"] <= 1.0001


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 1), st.integers(0, 6)), min_size=2, max_size=60).filter(
        lambda r: 0 < sum(y for y, _ in r) < len(r)
    )
)
def test_auc_and_average_precision_agree_with_scikit_learn_with_ties(rows):
    y = np.array([r[0] for r in rows])
    s = np.array([r[1] for r in rows], float)
    assert M.auc(y, s) == pytest.approx(roc_auc_score(y, s))
    assert M.average_precision(y, s) == pytest.approx(average_precision_score(y, s))
    p = s / 6
    assert M.all_metrics(y, p)["brier"] == pytest.approx(brier_score_loss(y, p))
    w = np.ones(len(y))
    prep = M._Prepared(y, s, s > 3, True)
    assert prep.metrics(w)["roc_auc"] == pytest.approx(roc_auc_score(y, s))


def test_a_paired_difference_is_narrower_than_the_two_intervals_and_zero_for_a_copy():
    rng = np.random.default_rng(5)
    n = 4000
    risk = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(4 - 1.5 * risk))).astype(int)
    good = risk + rng.normal(0, 0.3, n)
    worse = good + rng.normal(0, 0.4, n)  # the same signal, a little more noise
    scores = {"good": good, "worse": worse, "copy": good.copy()}
    lists = {k: v > np.quantile(v, 0.95) for k, v in scores.items()}
    prob = dict.fromkeys(scores, False)
    b = M.bootstrap(y, scores, lists, prob, n_boot=300, seed=1, reference="good")
    b = b[b["metric"] == "roc_auc"].set_index("model")
    assert np.isnan(b.loc["good", "diff"])
    assert b.loc["copy", ["diff", "diff_lo", "diff_hi"]].tolist() == [0.0, 0.0, 0.0]
    w = b.loc["worse"]
    assert w["diff"] == pytest.approx(b.loc["good", "estimate"] - w["estimate"])
    assert w["diff_lo"] <= w["diff"] <= w["diff_hi"]
    # Shared noise cancels: the difference's interval is narrower than either model's.
    assert w["diff_hi"] - w["diff_lo"] < 0.5 * (w["hi"] - w["lo"])


def test_the_same_records_give_the_same_model_whatever_their_order_and_person_ids():
    # person_id is a salted hash that differs between data folders, and the feature table
    # is sorted by it: the fit must not depend on that order.
    rng = np.random.default_rng(3)
    n = 6000
    frame = pd.DataFrame(
        {
            "term": rng.choice(["2018-1", "2018-2", "2019-1"], n),
            "a": rng.normal(size=n),
            "b": rng.integers(0, 5, n).astype(float),
        }
    )
    frame["y"] = (rng.random(n) < 1 / (1 + np.exp(3 - frame["a"] - 0.3 * frame["b"]))) * 1.0
    frame["person_id"] = [f"p{i}" for i in range(n)]
    other = frame.sample(frac=1, random_state=1).reset_index(drop=True)
    other["person_id"] = [f"q{i}" for i in range(n)]
    probe = frame.head(200)
    for period in ("term", None):  # with periods, and with a holdout of rows
        m1, m2 = (
            RiskModel(num_leaves=(7,)).fit(
                f[["a", "b"]], f["y"], period=None if period is None else f[period]
            )
            for f in (frame, other)
        )
        np.testing.assert_allclose(
            m1.predict_proba(probe)[:, 1], m2.predict_proba(probe)[:, 1], rtol=1e-7
        )


def test_ties_at_the_list_cut_are_broken_by_person_id_the_same_way_every_time():
    frame = pd.DataFrame(
        {
            "person_id": ["d", "a", "c", "b", "e", "f"],
            "county": ["1", "1", "1", "1", "2", "2"],
            "score": [0.9, 0.5, 0.5, 0.5, 0.1, 0.1],
        }
    )
    on = M.listed(frame, "score", "county", {"1": 2, "2": 1}, "person_id")
    assert frame.loc[on, "person_id"].tolist() == ["d", "a", "e"]
    shuffled = frame.sample(frac=1, random_state=3).reset_index(drop=True)
    on2 = M.listed(shuffled, "score", "county", {"1": 2, "2": 1}, "person_id")
    assert sorted(shuffled.loc[on2, "person_id"]) == ["a", "d", "e"]


def test_the_bias_audit_shows_ratios_outside_the_band():
    frame = pd.DataFrame(
        {
            "y": [1, 1, 1, 1, 0, 0, 1, 1, 0, 0],
            "sex": ["男"] * 6 + ["女"] * 4,
        }
    )
    on = np.array([1, 1, 1, 0, 1, 0, 0, 0, 1, 0], bool)
    b = M.bias_audit(frame, "y", on, ["sex"]).set_index("level")
    assert b.loc["男", "fnr"] == pytest.approx(0.25) and b.loc["女", "fnr"] == pytest.approx(1.0)
    assert b.loc["女", "fnr_ratio"] == pytest.approx(4.0) and bool(b.loc["女", "outside"])
    assert b.loc["男", "reference"] == "男" and not bool(b.loc["男", "outside"])


def test_term_dates():
    t = Term.parse("2019-2")
    assert (t.as_of.isoformat(), t.end.isoformat()) == ("2020-02-01", "2020-09-01")
    assert Term.parse("2019-1").end - Term.parse("2019-1").as_of > timedelta(days=150)
    with pytest.raises(ValueError, match="not a term label"):
        Term.parse("2019-3")
