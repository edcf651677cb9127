"""The dropout-risk model: features as of each term's start, rolling-origin validation
against baselines, calibrated LightGBM, red and white lists with reasons, model cards.

The public API, for a researcher's own tables as much as for the stage::

    from analysis.model import fit, rolling_validation
    validation = rolling_validation(frame, features, "dropout", "term", "county_code",
                                    capacity, tiebreak="person_id")
    validation.summary()          # the held-out metrics, with intervals
    model = fit(frame, features, "dropout", "term")
    model.predict(new_rows)
"""

from analysis.model.features import (
    FEATURES,
    ModelTables,
    feature_table,
    features_as_of,
    model_tables,
)
from analysis.model.lists import county_lists, importance, reasons
from analysis.model.stage import ModelSummary, baselines, model, score_term
from analysis.model.train import RiskModel, Validation, fit, rolling_validation

__all__ = [
    "FEATURES",
    "ModelSummary",
    "ModelTables",
    "RiskModel",
    "Validation",
    "baselines",
    "county_lists",
    "feature_table",
    "features_as_of",
    "fit",
    "importance",
    "model",
    "model_tables",
    "reasons",
    "rolling_validation",
    "score_term",
]
