"""The dropout-risk model: features as of each term's start, rolling-origin validation
against baselines, a calibrated risk model (boosting stacked with logistic regression),
red and white lists with reasons, model cards.

The public API, for a researcher's own tables as much as for the stage
(``docs/model.md``)::

    from analysis.model import RiskModel, rolling_validation
    model = RiskModel().fit(X, y, period=terms)      # scikit-learn shaped
    model.predict_proba(new_rows)[:, 1]; model.contributions(new_rows); model.summary()
    v = rolling_validation(frame, features=[...], label="dropout", time="term",
                           group="county_code", capacity=0.05)
    v.summary()                                      # held-out metrics, with intervals
"""

from analysis.model.baselines import ColumnScore, GroupRate, LogisticBaseline
from analysis.model.estimator import RiskModel
from analysis.model.features import (
    FEATURES,
    ModelTables,
    feature_table,
    features_as_of,
    model_tables,
)
from analysis.model.lists import county_lists, importance, reasons
from analysis.model.stage import ModelSummary, baselines, model, score_term
from analysis.model.train import Validation, default_baselines, rolling_validation

__all__ = [
    "FEATURES",
    "ColumnScore",
    "GroupRate",
    "LogisticBaseline",
    "ModelSummary",
    "ModelTables",
    "RiskModel",
    "Validation",
    "baselines",
    "county_lists",
    "default_baselines",
    "feature_table",
    "features_as_of",
    "importance",
    "model",
    "model_tables",
    "reasons",
    "rolling_validation",
    "score_term",
]
