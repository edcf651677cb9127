"""Benchmark: the risk model's training and evaluation at yuxi scale, side by side with
plain scikit-learn on the same rolling origins.

Target (issue 5): training and evaluation of all origins (rolling-origin validation of the
model and its baselines, with bootstrap intervals) in under 3 minutes wall on this 2-core
machine. Target (issue 17): at its defaults the risk model is never below plain logistic
regression or HistGradientBoosting by more than 0.005 ROC-AUC on the same split.

The alternatives it names, fit on the same training terms and scored on the same test
term: scikit-learn's ``LogisticRegression`` (median for a missing value, standardised, every
row) and ``HistGradientBoostingClassifier`` at its defaults (every row). Their ROC-AUC on
each test term is printed beside the risk model's, with the margin, and the time of the
validation with and without them.

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
    from analysis.model.features import FEATURES, GROUPS, feature_table, model_tables
    from analysis.model.lists import TIEBREAK
    from analysis.model.stage import baselines, model, risk_model
    from analysis.model.train import rolling_validation

    layout = Layout(args.data_dir)
    config = default_config().with_("model", n_test=args.test_terms, n_boot=args.boot)
    con = connect()
    t0 = time.perf_counter()
    ft = feature_table(model_tables(base_tables(con, layout), layout), decay=config.model.decay)
    t_feat = time.perf_counter() - t0
    con.close()
    print(f"features: {len(ft):,} pupil-terms × {len(FEATURES)} features in {t_feat:.1f} s")

    common = dict(
        features=list(FEATURES), label="dropout", time="term", model=risk_model(config.model),
        group="county_code", capacity=config.model.capacity_share, tiebreak=TIEBREAK,
        audit_groups=GROUPS, n_test=args.test_terms, n_boot=args.boot,
    )  # fmt: skip
    t0 = time.perf_counter()
    val = rolling_validation(ft, baselines=baselines(), **common)
    t_val = time.perf_counter() - t0
    print(
        f"rolling-origin validation, {args.test_terms} origins, the model and its 5 baselines, "
        f"{args.boot} bootstrap replicates on the last term: {t_val:.1f} s (target < 180 s)"
    )
    auc = val.metrics[val.metrics["metric"] == "roc_auc"].pivot_table(
        index="term", columns="model", values="estimate"
    )
    if not args.skip_alternative:
        t0 = time.perf_counter()
        alt = rolling_validation(ft, baselines=plain(), **{**common, "n_boot": 50})
        t_alt = time.perf_counter() - t0
        a = alt.metrics[alt.metrics["metric"] == "roc_auc"].pivot_table(
            index="term", columns="model", values="estimate"
        )
        for name in plain():
            auc[name] = a[name]
        auc["margin"] = auc["risk_model"] - auc[list(plain())].max(axis=1)
        print(
            f"the same origins with plain LogisticRegression and HistGradientBoosting on every "
            f"row beside the model (50 replicates): {t_alt:.1f} s"
        )
        print(f"worst margin (risk model minus the better plain model): {auc['margin'].min():+.4f}")
    print(auc.round(4).to_string())

    t0 = time.perf_counter()
    model(layout, config, force=True)
    t_stage = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 2**30
    print(f"whole stage (features, validation, final model, lists, cards): {t_stage:.1f} s")
    print(f"peak memory of this process: {peak:.2f} GB")


def plain() -> dict:
    """The plain alternatives, as a researcher would first fit them."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return {
        "plain_logistic": make_pipeline(
            SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression(max_iter=5000)
        ),
        "hist_gradient_boosting": HistGradientBoostingClassifier(random_state=0),
    }


if __name__ == "__main__":
    main()
