"""The risk model's public API is shaped like scikit-learn's, refuses bad input at the door
naming the column, orders periods as time runs, takes text and category features, and
samples negatives only when positives are rare, saying so (issue 17)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier

from analysis.model import (
    ColumnScore,
    GroupRate,
    LogisticBaseline,
    RiskModel,
    rolling_validation,
)
from analysis.model.inputs import ordered_periods

SMALL = {"num_leaves": (7,), "max_rounds": 200}


def _frame(n_periods: int = 4, n: int = 1500, seed: int = 0, base: float = 2.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "t": np.repeat([f"term{k}" for k in range(8, 8 + n_periods)], n),
            "x": rng.normal(size=n * n_periods),
            "g": rng.choice(["a", "b"], n * n_periods),
        }
    )
    df["y"] = (rng.random(len(df)) < 1 / (1 + np.exp(base - 2 * df["x"]))).astype(int)
    df["id"] = np.arange(len(df))
    return df


def test_a_label_that_is_not_binary_is_named():
    df = _frame()
    with pytest.raises(ValueError, match=r"label 'y' must be 0/1.*holds 1, 2"):
        RiskModel(**SMALL).fit(df[["x"]], df["y"] + 1)  # coded 1/2
    with pytest.raises(ValueError, match=r"label 'y' has 1 missing"):
        RiskModel(**SMALL).fit(df[["x"]], df["y"].astype(float).mask(df.index == 0))
    with pytest.raises(ValueError, match=r"one class only"):
        RiskModel(**SMALL).fit(df[["x"]], df["y"] * 0)


def test_a_missing_column_is_named_and_the_time_column_is_optional():
    df = _frame()
    with pytest.raises(ValueError, match=r"no column 'z'"):
        rolling_validation(df, features=["z"], label="y", time="t", n_test=2, n_boot=20)
    m = RiskModel(**SMALL).fit(df[["x"]], df["y"])  # no period: a random holdout
    assert m.trained_on_ is None and m.calibrated_on_ is None
    with pytest.raises(ValueError, match=r"X lacks the model's feature\(s\) 'x'"):
        m.predict_proba(df[["g"]])
    with pytest.raises(TypeError, match=r"X: expected a pandas DataFrame"):
        RiskModel(**SMALL).fit([1, 2, 3], [0, 1, 0])


def test_text_and_category_features_are_used_as_categories():
    df = _frame()
    # The outcome depends on the group, which is text: the model must use it.
    df["y"] = ((df["x"] + np.where(df["g"] == "a", 2.0, -2.0)) > 0.5).astype(int)
    m = RiskModel(**SMALL).fit(df[["x", "g"]], df["y"], period=df["t"])
    assert m.categories_ == {"g": ["a", "b"]}
    p = m.predict_proba(pd.DataFrame({"x": [0.0, 0.0, 0.0], "g": ["a", "b", "unseen"]}))[:, 1]
    assert p[0] > 0.9 > 0.1 > p[1]
    assert 0 < p[2] < 1  # an unseen category counts as missing, not as an error
    cat = df.astype({"g": "category"})
    assert RiskModel(**SMALL).fit(cat[["x", "g"]], cat["y"]).categories_ == {"g": ["a", "b"]}


def test_periods_order_as_time_runs_and_unorderable_ones_are_refused():
    assert ordered_periods(pd.Series(["term10", "term9", "term11"])) == [
        "term9", "term10", "term11",
    ]  # fmt: skip
    assert ordered_periods(pd.Series(["2020-1", "2019-2", "2019-1"])) == [
        "2019-1", "2019-2", "2020-1",
    ]  # fmt: skip
    days = pd.Series(pd.to_datetime(["2020-03-01", "2019-09-01"]))
    assert ordered_periods(days)[0] == pd.Timestamp("2019-09-01")
    df = _frame()
    m = RiskModel(**SMALL).fit(df[["x"]], df["y"], period=df["t"])
    assert m.trained_on_ == ["term8", "term9", "term10"] and m.calibrated_on_ == ["term11"]
    with pytest.raises(ValueError, match=r"'season' cannot be put in time order"):
        season = pd.Series(np.where(df["id"] % 2, "spring", "autumn"), name="season")
        RiskModel(**SMALL).fit(df[["x"]], df["y"], period=season)
    with pytest.raises(ValueError, match=r"mixes value types"):
        ordered_periods(pd.Series([2019, "2020-1"], dtype=object))
    with pytest.raises(ValueError, match=r"has one value"):
        RiskModel(**SMALL).fit(df[["x"]], df["y"], period=np.zeros(len(df)))


def test_a_capacity_may_be_one_number_and_a_wrong_one_is_named():
    df = _frame()
    kw = dict(features=["x"], label="y", time="t", group="g", tiebreak="id", n_test=2, n_boot=20)
    v = rolling_validation(df, capacity=50, model=RiskModel(**SMALL), **kw)
    assert sorted(v.metrics["t"].unique()) == ["term10", "term11"]
    listed = v.predictions[(v.predictions["model"] == "risk_model") & v.predictions["listed"]]
    assert listed.groupby(["t", "g"]).size().eq(50).all()
    with pytest.raises(TypeError, match=r"capacity: a share \(float\), a list size \(int\)"):
        rolling_validation(df, capacity="50", model=RiskModel(**SMALL), **kw)
    with pytest.raises(ValueError, match=r"a share is in \(0, 1\]"):
        rolling_validation(df, capacity=1.5, model=RiskModel(**SMALL), **kw)
    with pytest.raises(ValueError, match=r"need 4 for 2 test periods"):
        rolling_validation(df[df["t"] != "term8"].iloc[:3000], capacity=0.1, **kw)


def test_bad_parameters_are_named():
    X, y = _frame()[["x"]], _frame()["y"]
    with pytest.raises(ValueError, match=r"negative_share: 'auto' or a share"):
        RiskModel(negative_share=0).fit(X, y)
    with pytest.raises(ValueError, match=r"num_leaves: whole numbers"):
        RiskModel(num_leaves=(1,)).fit(X, y)


def test_negatives_are_sampled_only_when_positives_are_rare_and_it_is_said():
    common = _frame(base=1.0)  # about a third positive
    m = RiskModel(**SMALL).fit(common[["x"]], common["y"], period=common["t"])
    assert m.negative_share_ == 1.0 and "negatives all kept" in repr(m)
    rare = _frame(n=20000, base=7.0)  # about 0.3 % positive
    m = RiskModel(**SMALL).fit(rare[["x"]], rare["y"], period=rare["t"])
    assert 0.05 < m.negative_share_ < 0.3
    said = dict(m.summary().values)["negatives"]
    assert "kept (positives" in said and "< 3%" in said and "weighted back" in said
    assert "kept (positives" in repr(m)
    # Asked for: sampled whatever the rate, and said so.
    m = RiskModel(**SMALL, negative_share=0.5).fit(common[["x"]], common["y"])
    assert m.negative_share_ == 0.5 and "as asked" in dict(m.summary().values)["negatives"]


def test_it_is_a_scikit_learn_estimator_and_the_baselines_stand_in_for_it(tmp_path):
    df = _frame()
    m = RiskModel(**SMALL, C=0.5)
    assert clone(m).get_params()["C"] == 0.5
    m.fit(df[["x"]], df["y"], period=df["t"])
    assert list(m.classes_) == [0, 1] and list(m.feature_names_in_) == ["x"]
    p = m.predict_proba(df[["x"]])
    assert p.shape == (len(df), 2) and np.allclose(p.sum(axis=1), 1)
    assert set(np.unique(m.predict(df[["x"]]))) <= {0, 1}
    c = m.contributions(df.head(5))
    assert np.allclose(c.sum(axis=1), m.decision_function(df.head(5)))
    m.save(tmp_path / "m.pkl")
    assert np.allclose(RiskModel.load(tmp_path / "m.pkl").predict_proba(df)[:, 1], p[:, 1])
    # Any of the baselines, or any scikit-learn classifier, can be the main model.
    kw = dict(features=["x"], label="y", time="t", n_test=2, n_boot=20)
    for main in (LogisticBaseline(), HistGradientBoostingClassifier(max_iter=20)):
        v = rolling_validation(df, model=main, baselines={"rate": GroupRate("g")}, **kw)
        assert set(v.metrics["model"]) == {"risk_model", "rate"}
    v = rolling_validation(df, model=RiskModel(**SMALL), baselines={"x": ColumnScore("x")}, **kw)
    briers = v.metrics[v.metrics["metric"] == "brier"]
    assert set(briers["model"]) == {"risk_model"}  # a score is not a probability
    assert list(v.summary().columns) == ["model", "ROC-AUC", "prec@list", "recall@list",
                                         "AUC gain"]  # fmt: skip
