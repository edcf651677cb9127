"""Baselines of the same shape as :class:`~analysis.model.estimator.RiskModel`: scikit-learn
estimators with ``fit(X, y, period=None)``, so any of them can stand in for the main model
in :func:`~analysis.model.train.rolling_validation`, and any scikit-learn classifier can
stand in for them.

Those that read other columns than the features (a group, one column) name them in
``columns``; :func:`~analysis.model.train.rolling_validation` gives them those columns.
Those that give a score, not a probability, have ``decision_function`` and no
``predict_proba`` (the Brier score and calibration are shown only for probabilities).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from analysis.model.estimator import Design, resolve_share, row_hash, sample_negatives
from analysis.model.inputs import as_frame, binary_label, categories_of


class LogisticBaseline(ClassifierMixin, BaseEstimator):
    """Logistic regression as a researcher would first fit it: standardised features
    (missing values: the median and an indicator; categories: a column each), L2-penalised,
    fit on every training row, not recalibrated to the latest period.

    Negatives are sampled as :class:`~analysis.model.estimator.RiskModel` samples them
    (``"auto"``: only when positives are under 3 % of the rows; weighted back).

    >>> X = pd.DataFrame({"x": [0.0, 1, 2, 3, 4, 5]}); y = [0, 0, 1, 0, 1, 1]
    >>> LogisticBaseline().fit(X, y).predict_proba(X)[:, 1].round(2).tolist()
    [0.22, 0.32, 0.44, 0.56, 0.68, 0.78]
    """

    def __init__(self, *, C: float = 1.0, negative_share: float | str = "auto"):
        self.C = C
        self.negative_share = negative_share

    def fit(self, X, y, period=None) -> LogisticBaseline:
        from sklearn.linear_model import LogisticRegression

        X = as_frame(X).reset_index(drop=True)
        y = binary_label(y, getattr(y, "name", None) or "y")
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        self.classes_ = np.array([0, 1])
        self.negative_share_ = resolve_share(self.negative_share, float(y.mean()))
        rows, w = sample_negatives(row_hash(X.assign(_y=y), 0), y, self.negative_share_)
        self.design_ = Design()
        Z = self.design_.fit_transform(X.iloc[rows], categories_of(X))
        self.model_ = LogisticRegression(C=self.C, max_iter=5000).fit(Z, y[rows], sample_weight=w)
        return self

    def decision_function(self, X) -> np.ndarray:
        check_is_fitted(self)
        return self.model_.decision_function(self.design_.transform(as_frame(X)))

    def predict_proba(self, X) -> np.ndarray:
        p = 1 / (1 + np.exp(-self.decision_function(X)))
        return np.column_stack([1 - p, p])

    def predict(self, X) -> np.ndarray:
        return (self.decision_function(X) >= 0).astype(int)


class GroupRate(ClassifierMixin, BaseEstimator):
    """The group's (school's, county's) rate of the label over the training rows, shrunk
    towards the overall rate with ``prior_rows`` pseudo-rows so that a small school does not
    top the list by chance. A group not seen in training gets the overall rate.

    >>> train = pd.DataFrame({"g": ["a"] * 1000 + ["b"] * 1000})
    >>> m = GroupRate("g").fit(train, [1] * 100 + [0] * 1900)
    >>> m.predict_proba(pd.DataFrame({"g": ["a", "b", "c"]}))[:, 1].round(3).tolist()
    [0.075, 0.025, 0.05]
    """

    def __init__(self, group: str, prior_rows: float = 1000.0):
        self.group = group
        self.prior_rows = prior_rows

    @property
    def columns(self) -> list[str]:
        return [self.group]

    def fit(self, X, y, period=None) -> GroupRate:
        X = as_frame(X)
        y = binary_label(y, getattr(y, "name", None) or "y")
        self.classes_ = np.array([0, 1])
        self.overall_ = float(y.mean())
        g = pd.DataFrame({"g": X[self.group].to_numpy(), "y": y}).groupby("g")["y"]
        s = g.agg(["sum", "count"])
        self.rates_ = (s["sum"] + self.prior_rows * self.overall_) / (s["count"] + self.prior_rows)
        return self

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self)
        p = as_frame(X)[self.group].map(self.rates_).fillna(self.overall_).to_numpy(float)
        return np.column_stack([1 - p, p])


class ColumnScore(ClassifierMixin, BaseEstimator):
    """One column taken as the score (no training), e.g. prior absence; missing values
    score ``fill``. A score, not a probability.

    >>> ColumnScore("days").fit(None, None).decision_function(pd.DataFrame({"days": [3, None]}))
    array([3., 0.])
    """

    def __init__(self, column: str, fill: float = 0.0):
        self.column = column
        self.fill = fill

    @property
    def columns(self) -> list[str]:
        return [self.column]

    def fit(self, X, y, period=None) -> ColumnScore:
        self.classes_ = np.array([0, 1])
        return self

    def decision_function(self, X) -> np.ndarray:
        check_is_fitted(self)
        return as_frame(X)[self.column].fillna(self.fill).to_numpy(float)
