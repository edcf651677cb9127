"""Benchmark: the risk model's training and evaluation at yuxi scale.

Target (issue 5): training and evaluation of all origins (rolling-origin validation of the
model and its five baselines, with bootstrap intervals) in under 3 minutes wall on this
2-core machine. The feature table and the whole stage (features, validation, final model,
lists and cards) are timed too.

The alternative it names: scikit-learn's HistGradientBoostingClassifier, fit on every
training row (no sampling of the negatives) with as many iterations and leaves, for the
same origins, without calibration or baselines: the plain way to fit the same kind of
model. Its wall time and its ROC-AUC on each test term are printed beside ours.

Usage::

    python benchmarks/bench_model.py --data-dir data      # after analysis link
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=Path("data"))
    ap.add_argument("--test-terms", type=int, default=4)
    ap.add_argument("--boot", type=int, default=500)
    ap.add_argument("--skip-alternative", action="store_true")
    args = ap.parse_args()

    from analysis.config import default_config
    from analysis.engine import connect
    from analysis.layout import Layout
    from analysis.link.tables import base_tables
    from analysis.model import metrics as M
    from analysis.model.features import FEATURES, GROUPS, feature_table, model_tables
    from analysis.model.lists import TIEBREAK
    from analysis.model.stage import baselines, model
    from analysis.model.train import _matrix, rolling_validation

    layout = Layout(args.data_dir)
    config = default_config().with_("model", n_test=args.test_terms, n_boot=args.boot)
    params = config.model.lightgbm
    con = connect()
    t0 = time.perf_counter()
    ft = feature_table(model_tables(base_tables(con, layout), layout), decay=config.model.decay)
    t_feat = time.perf_counter() - t0
    con.close()
    print(f"features: {len(ft):,} pupil-terms × {len(FEATURES)} features in {t_feat:.1f} s")

    t0 = time.perf_counter()
    val = rolling_validation(
        ft,
        list(FEATURES),
        "dropout",
        "term",
        "county_code",
        config.model.capacity_share,
        TIEBREAK,
        baselines=baselines(),
        audit_groups=GROUPS,
        n_test=args.test_terms,
        n_boot=args.boot,
    )
    t_val = time.perf_counter() - t0
    auc = val.metrics[val.metrics["metric"] == "roc_auc"].pivot_table(
        index="term", columns="model", values="estimate"
    )
    print(
        f"rolling-origin validation, {args.test_terms} origins, 6 models, {args.boot} "
        f"bootstrap replicates on the last term: {t_val:.1f} s (target < 180 s)"
    )

    if not args.skip_alternative:
        from sklearn.ensemble import HistGradientBoostingClassifier

        lab = ft[ft["dropout"].notna()]
        periods = sorted(lab["term"].unique())[-args.test_terms :]
        t0 = time.perf_counter()
        alt = {}
        for p in periods:
            train, test = lab[lab["term"] < p], lab[lab["term"] == p]
            hgb = HistGradientBoostingClassifier(
                max_iter=config.model.rounds,
                learning_rate=params["learning_rate"],
                max_leaf_nodes=params["num_leaves"],
                early_stopping=False,
                random_state=0,
            ).fit(_matrix(train, list(FEATURES)), train["dropout"].to_numpy(int))
            alt[p] = M.auc(
                test["dropout"].to_numpy(int),
                hgb.predict_proba(_matrix(test, list(FEATURES)))[:, 1],
            )
        t_alt = time.perf_counter() - t0
        fits = t_alt
        print(
            f"alternative (HistGradientBoosting on every row, fits only): {fits:.1f} s; "
            f"ours, fits and everything else: {t_val:.1f} s (ratio {fits / t_val:.2f})"
        )
        auc["hist_gradient_boosting_all_rows"] = auc.index.map(alt)
    print(auc.round(4).to_string())

    t0 = time.perf_counter()
    model(layout, config, force=True)
    t_stage = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 2**30
    print(f"whole stage (features, validation, final model, lists, cards): {t_stage:.1f} s")
    print(f"peak memory of this process: {peak:.2f} GB")


if __name__ == "__main__":
    main()
