"""Benchmark: the risk model at its defaults against plain scikit-learn, on public tables.

The tables ship inside installed packages (no download) and have a binary label with at
least 10 % positives; the project never tuned anything on them:

============== ================ ======= ========= ============================================
table          package          rows    positive  label
============== ================ ======= ========= ============================================
breast_cancer  scikit-learn       569    63 %     benign tumour
fair           statsmodels      6,366    32 %     any affair (occupations as categories)
anes96         statsmodels        944    42 %     voted for Dole (party id as a category)
randhie        statsmodels     20,190    69 %     any doctor visit
modechoice     statsmodels        840    25 %     the travel mode chosen (mode as a category)
============== ================ ======= ========= ============================================

For each table and each of ``--splits`` stratified 70/30 splits, three models are fit on the
same training rows and scored on the same test rows: :class:`analysis.model.RiskModel` at
its defaults (no period: it holds out a quarter of the training rows to choose its size
and stacking, then refits), scikit-learn's ``LogisticRegression`` (standardised numbers with
the median for a missing value, one-hot categories) and ``HistGradientBoostingClassifier``
at its defaults (categories from the dtype). It prints the test ROC-AUC of each, and the
risk model's margin over the better of the two (the target: never below -0.005), per split
and averaged.

Usage::

    python benchmarks/bench_model_public.py [--splits 5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd


def tables():
    """(name, X, y) of each public table; categorical columns as pandas categories."""
    import statsmodels.api as sm
    from sklearn.datasets import load_breast_cancer

    b = load_breast_cancer(as_frame=True)
    yield "breast_cancer", b.data, b.target
    f = sm.datasets.fair.load_pandas().data
    X = f.drop(columns="affairs").astype({"occupation": "category", "occupation_husb": "category"})
    yield "fair", X, (f["affairs"] > 0).astype(int)
    a = sm.datasets.anes96.load_pandas().data
    yield "anes96", a.drop(columns="vote").astype({"PID": "category"}), a["vote"].astype(int)
    r = sm.datasets.randhie.load_pandas().data
    yield "randhie", r.drop(columns="mdvis"), (r["mdvis"] > 0).astype(int)
    m = sm.datasets.modechoice.load_pandas().data
    X = m.drop(columns=["choice", "individual"]).astype({"mode": "category"})
    yield "modechoice", X, m["choice"].astype(int)


def plain_logistic(X: pd.DataFrame):
    """scikit-learn's logistic regression as a researcher first fits it."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    cats = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
    nums = [c for c in X.columns if c not in cats]
    prep = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), nums),
            ("cat", OneHotEncoder(handle_unknown="ignore"), cats),
        ]
    )
    return make_pipeline(prep, LogisticRegression(max_iter=5000))


def run(splits: int) -> pd.DataFrame:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    from analysis.model import RiskModel

    rows = []
    for name, X, y in tables():
        for s in range(splits):
            Xa, Xb, ya, yb = train_test_split(X, y, test_size=0.3, random_state=s, stratify=y)
            row = {"table": name, "split": s, "rows": len(X), "positive": float(y.mean())}
            for label, est in (
                ("risk_model", RiskModel()),
                ("logistic", plain_logistic(X)),
                ("hgb", HistGradientBoostingClassifier(random_state=0)),
            ):
                t0 = time.perf_counter()
                est.fit(Xa, ya)
                row[f"{label}_s"] = time.perf_counter() - t0
                row[label] = roc_auc_score(yb, est.predict_proba(Xb)[:, 1])
            row["margin"] = row["risk_model"] - max(row["logistic"], row["hgb"])
            rows.append(row)
            print(
                f"{name:14s} split {s}: AUC risk model {row['risk_model']:.4f}, logistic "
                f"{row['logistic']:.4f}, HGB {row['hgb']:.4f}, margin {row['margin']:+.4f}",
                flush=True,
            )
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--splits", type=int, default=5)
    args = ap.parse_args()
    res = run(args.splits)
    cols = ["risk_model", "logistic", "hgb", "margin", "risk_model_s", "logistic_s", "hgb_s"]
    summary = res.groupby("table", sort=False)[cols].mean()
    summary["worst_margin"] = res.groupby("table", sort=False)["margin"].min()
    print("\nMean over splits (AUC; margin = risk model minus the better of the two; seconds):")
    print(summary.round(4).to_string())
    worst = res["margin"].min()
    print(f"\nworst margin over {len(res)} splits: {worst:+.4f} (target: at least -0.005)")
    print(f"mean margin: {res['margin'].mean():+.4f}")
    print(f"splits below -0.005: {int((res['margin'] < -0.005).sum())}; "
          f"tables whose mean margin is below -0.005: {int((summary['margin'] < -0.005).sum())}")  # fmt: skip
    return None


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
