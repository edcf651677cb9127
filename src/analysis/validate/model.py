"""The risk model's held-out predictions against the truth, per test term.

Our pupils are mapped to true children by their rows (as for the lists). On the rows that
map to a child at risk that term in the truth, we compare

* the ROC-AUC of our score against the true label (dropped out that term) with the ROC-AUC
  of the true probability ``p_true``, the best any model could do, and their ratio;
* the precision of our list (each county's capacity, as the model stage cut it) with that
  of a list cut on ``p_true`` at the same sizes;
* the expected calibration error of our probability against the true label;
* every baseline's ROC-AUC against the true label;
* the expected precision ratio: the true probabilities summed over our list, over the same
  sum for the list cut on ``p_true`` (who happened to drop out is noise around that; with a
  hundred dropouts a term the realised precision swings widely);
* on the last term, ``best_from_features``: what the best function of our features
  reaches. A boosting model fit on the earlier terms to the *true probabilities* (soft
  labels) estimates ``E[p_true | features]``. The gap between it and ``p_true`` is
  information the records do not hold (latent engagement, learning difficulty, the
  household factor of the simulation); the gap between our model and it is what learning
  from real labels costs.

Lists are cut as the model stage cuts them: ties by the row's ``order_key``, then
``person_id`` (:data:`analysis.model.lists.TIEBREAK`).
"""

from __future__ import annotations

import pandas as pd

from analysis.engine import scan
from analysis.layout import Layout
from analysis.model import metrics as M
from analysis.model.lists import TIEBREAK
from analysis.runs import read_manifest
from analysis.validate.truth import Truth


def validate_model(layout: Layout, truth: Truth) -> dict:
    """Score the held-out predictions against the truth (see the module docstring).

    Parameters
    ----------
    layout : the data folder whose model stage is scored.
    truth : the truth.

    Returns
    -------
    dict
        Per test term: pupils, true dropouts, ROC-AUC against the true probabilities', precision
        at the list against theirs, ECE, the baselines' ROC-AUC; on the last term, the ceiling
        of the model's features (``best_from_features``).

    Examples
    --------
    >>> with Truth(prefecture_truth) as t:
    ...     v = validate_model(prefecture, t)
    >>> last = v[max(v)]
    >>> 0.5 < last["roc_auc"] <= 1, "best_from_features" in last
    (True, True)
    """
    con = truth.con
    tp = truth.persons(layout)
    st = truth.table("student_terms")
    preds = scan(layout.validation("predictions"))
    df = con.execute(
        f"""SELECT p.*, st.p_true, st.dropped::INTEGER AS dropped
        FROM {preds} p JOIN {tp} tp USING (person_id)
        JOIN {st} st ON st.person_id = tp.tpid AND st.term = p.term AND st.at_risk"""
    ).df()
    n_ours = dict(
        con.execute(
            f"SELECT term, count(*) FROM {preds} WHERE model = 'risk_model' GROUP BY term"
        ).fetchall()
    )
    # Every scored term's features with the truth, for the ceiling of the last term. (Left
    # joins materialised, then filtered: as inner joins DuckDB 2.0 picks a plan that takes
    # over ten minutes here.)
    con.execute(
        f"""CREATE OR REPLACE TABLE ft AS SELECT f.*, st.p_true, st.dropped::INTEGER AS dropped
        FROM {scan(layout.features)} f
        LEFT JOIN {tp} tp USING (person_id)
        LEFT JOIN {st} st ON st.person_id = tp.tpid AND st.term = f.term AND st.at_risk"""
    )
    feats_true = con.execute("SELECT * FROM ft WHERE p_true IS NOT NULL").df()
    out: dict = {}
    caps: dict = {}  # each term's list sizes per county, as the model stage cut them
    for term, g in df.groupby("term", sort=True):
        out[str(term)], caps[str(term)] = _term_scores(g, int(n_ours.get(term, 0)))
    if out:
        last = max(out)
        out[last]["best_from_features"] = _feature_ceiling(
            layout, feats_true, last, caps[last], out[last]["roc_auc_true_probability"]
        )
    return out


def _term_scores(g: pd.DataFrame, scored: int) -> tuple[dict, dict]:
    """One test term's figures (see the module docstring) and its list sizes per county."""
    main = g[g["model"] == "risk_model"].sort_values(TIEBREAK, ignore_index=True)
    y = main["dropped"].to_numpy()
    cap = main[main["listed"]].groupby("county_code").size().to_dict()
    true_list = M.listed(main, main["p_true"].to_numpy(), "county_code", cap, TIEBREAK)
    ours_p = M.list_metrics(y, main["listed"].to_numpy())["precision_at_list"]
    pt = main["p_true"].to_numpy()
    exp_ratio = pt[main["listed"].to_numpy()].sum() / pt[true_list].sum()
    true_p = M.list_metrics(y, true_list)["precision_at_list"]
    auc_ours = M.auc(y, main["score"].to_numpy())
    auc_true = M.auc(y, main["p_true"].to_numpy())
    return {
        "pupils_scored": scored,
        "pupils_matched": len(main),
        "true_dropouts": int(y.sum()),
        "our_label_dropouts": int(main["dropout"].sum()),
        "roc_auc": round(auc_ours, 4),
        "roc_auc_true_probability": round(auc_true, 4),
        "roc_auc_ratio": round(auc_ours / auc_true, 4),
        "precision_at_list": round(ours_p, 4),
        "precision_at_list_true_probability": round(true_p, 4),
        "precision_ratio": round(ours_p / true_p, 4) if true_p else None,
        "expected_precision_ratio": round(float(exp_ratio), 4),
        "ece": round(M.ece(y, main["score"].to_numpy()), 5),
        "baselines_roc_auc": {
            m: round(M.auc(b["dropped"].to_numpy(), b["score"].to_numpy()), 4)
            for m, b in g.groupby("model")
            if m != "risk_model"
        },
    }, cap


def _feature_ceiling(
    layout: Layout, frame: pd.DataFrame, term: str, capacity: dict, auc_true: float
) -> dict:
    """ROC-AUC and expected precision ratio on ``term`` of a boosting model fit to the true
    probabilities of the earlier terms, on the model's own features (see the module
    docstring). The rows are in the feature table's own order (``order_key``), so the fit
    is the same in every data folder."""
    import lightgbm as lgb

    features = read_manifest(layout.model_json)["model"]["features"]
    frame = frame.sort_values(["term", *TIEBREAK], ignore_index=True)
    train, test = frame[frame["term"] < term], frame[frame["term"] == term].reset_index(drop=True)
    params = {
        "objective": "cross_entropy",  # accepts labels in [0, 1]
        "num_leaves": 15,
        "learning_rate": 0.05,
        "min_data_in_leaf": 200,
        "num_threads": 2,
        "seed": 0,
        "deterministic": True,
        "verbose": -1,
        # bins from every row, not a sample of the first ones: the same fit in any row order
        "bin_construct_sample_cnt": max(len(train), 200_000),
    }
    booster = lgb.train(params, lgb.Dataset(train[features], train["p_true"]), 300)
    s = booster.predict(test[features])
    y = test["dropped"].to_numpy()
    pt = test["p_true"].to_numpy()
    tie = M.tie_order(test, TIEBREAK)
    ours = M.listed(test, s, "county_code", capacity, tie)
    best = M.listed(test, pt, "county_code", capacity, tie)
    auc = M.auc(y, s)
    return {
        "roc_auc": round(auc, 4),
        "roc_auc_ratio": round(auc / auc_true, 4),
        "expected_precision_ratio": round(float(pt[ours].sum() / pt[best].sum()), 4),
    }
