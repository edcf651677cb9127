"""The risk model's public functions refuse bad input at the door, naming the column, and
order periods as time runs (issue 17)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.model import fit, rolling_validation
from analysis.model.train import ordered_periods


def _frame(n_periods: int = 4, n: int = 1500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "t": np.repeat([f"term{k}" for k in range(8, 8 + n_periods)], n),
            "x": rng.normal(size=n * n_periods),
            "g": rng.choice(["a", "b"], n * n_periods),
        }
    )
    df["y"] = (rng.random(len(df)) < 1 / (1 + np.exp(2 - 2 * df["x"]))).astype(int)
    df["id"] = np.arange(len(df))
    return df


def test_a_label_that_is_not_binary_is_named():
    df = _frame().assign(y=lambda d: d["y"] + 1)  # coded 1/2
    with pytest.raises(ValueError, match=r"label 'y' must be 0/1.*holds 1, 2"):
        fit(df, ["x"], "y", "t")


def test_a_missing_column_and_a_missing_time_are_named():
    with pytest.raises(ValueError, match=r"no column 'z'"):
        fit(_frame(), ["z"], "y", "t")
    with pytest.raises(ValueError, match=r"time: name the period column"):
        fit(_frame(), ["x"], "y", None)


def test_a_text_feature_is_named():
    df = _frame().assign(colour=lambda d: np.where(d["x"] > 0, "red", "blue"))
    with pytest.raises(ValueError, match=r"feature 'colour' is not numeric"):
        fit(df, ["x", "colour"], "y", "t")


def test_text_periods_order_as_time_runs():
    assert ordered_periods(pd.Series(["term10", "term9", "term11"])) == [
        "term9", "term10", "term11",
    ]  # fmt: skip
    assert ordered_periods(pd.Series(["2020-1", "2019-2", "2019-1"])) == [
        "2019-1", "2019-2", "2020-1",
    ]  # fmt: skip
    m = fit(_frame(), ["x"], "y", "t")  # term8 .. term11: calibrated on the last
    assert m.calibrated_on == ["term11"]


def test_a_capacity_may_be_one_number_and_a_wrong_one_is_named():
    v = rolling_validation(_frame(), ["x"], "y", "t", "g", 50, "id", n_test=2, n_boot=20)
    assert sorted(v.metrics["t"].unique()) == ["term10", "term11"]
    with pytest.raises(TypeError, match=r"capacity: a share"):
        rolling_validation(_frame(), ["x"], "y", "t", "g", "50", "id", n_test=2, n_boot=20)
