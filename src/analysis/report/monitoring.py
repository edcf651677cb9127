"""The model's monitoring panel for one county: does the model still fit it?

* **By held-out term** (:func:`term_checks`): on the county's own labels, each test term's
  pupils, dropouts, expected dropouts (the sum of the predicted risks), observed over
  expected (O/E) with its exact Poisson 95 % interval, and the ROC-AUC with its
  Hanley–McNeil 95 % interval. Each test term was predicted by a model fit on earlier terms
  only (:func:`analysis.model.train.rolling_validation`).
* **Drift of the inputs** (:func:`drift`): the population stability index (PSI) of the
  model's most important inputs, between the terms of the same season (autumn or spring:
  first-graders have no autumn row) the final model was trained on and the term now
  listed, in the county. An input with one value for the whole county (the county's
  out-of-school rate, its policies) has no distribution to compare and is left out.
  Conventional reading: below 0.1 stable, 0.1–0.25 watch, above 0.25 shifted.
* **Warnings** (:func:`warnings_for`): plain sentences when a rule of the configuration
  (``report`` section) fires; none means the model still fits.

Examples
--------
>>> psi(np.r_[np.zeros(50), np.ones(50)], np.r_[np.zeros(50), np.ones(50)])
0.0
>>> round(psi(np.r_[np.zeros(90), np.ones(10)], np.r_[np.zeros(50), np.ones(50)]), 2)
0.88
>>> poisson_interval(0)
(0.0, 3.68887945411393...)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from analysis.config import ReportConfig
from analysis.model.features import FEATURES
from analysis.model.metrics import auc

#: Small share put in an empty bin so the index stays finite.
_EPS = 1e-4


def poisson_interval(k: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Garwood) interval of a Poisson mean after observing ``k`` events."""
    a = 1 - level
    lo = 0.0 if k == 0 else stats.chi2.ppf(a / 2, 2 * k) / 2
    return float(lo), float(stats.chi2.ppf(1 - a / 2, 2 * k + 2) / 2)


def auc_interval(a: float, n_pos: int, n_neg: int) -> tuple[float, float]:
    """Hanley–McNeil 95 % interval of an AUC from ``n_pos`` positives and ``n_neg``
    negatives (clipped to [0, 1])."""
    if not n_pos or not n_neg or np.isnan(a):
        return np.nan, np.nan
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    var = (a * (1 - a) + (n_pos - 1) * (q1 - a * a) + (n_neg - 1) * (q2 - a * a)) / (n_pos * n_neg)
    se = float(np.sqrt(max(var, 0.0)))
    return max(0.0, a - 1.96 * se), min(1.0, a + 1.96 * se)


def term_checks(predictions: pd.DataFrame, main: str = "risk_model") -> pd.DataFrame:
    """Calibration and ranking by held-out term, on one county's predictions.

    Parameters
    ----------
    predictions : the validation's predictions of the county (``term``, ``model``,
        ``dropout``, ``score``).
    main : the model whose predictions are judged.

    Returns
    -------
    pandas.DataFrame
        ``term``, ``pupils``, ``dropouts``, ``expected``, ``oe``, ``oe_low``, ``oe_high``,
        ``auc``, ``auc_low``, ``auc_high``.
    """
    p = predictions[(predictions["model"] == main) & predictions["dropout"].notna()]
    rows = []
    for term, g in p.groupby("term", sort=True):
        y, s = g["dropout"].to_numpy(int), g["score"].to_numpy(float)
        k, e = int(y.sum()), float(s.sum())
        lo, hi = poisson_interval(k)
        a = auc(y, s) if 0 < k < len(y) else np.nan
        alo, ahi = auc_interval(a, k, len(y) - k)
        rows.append(
            {
                "term": term, "pupils": len(y), "dropouts": k, "expected": e,
                "oe": k / e if e else np.nan, "oe_low": lo / e if e else np.nan,
                "oe_high": hi / e if e else np.nan, "auc": a, "auc_low": alo, "auc_high": ahi,
            }
        )  # fmt: skip
    return pd.DataFrame(rows)


def psi(expected: np.ndarray, actual: np.ndarray, bins: int = 10) -> float:
    """Population stability index of ``actual`` against ``expected`` (the reference):
    ``sum((a - e) * ln(a / e))`` over bins cut at the reference's quantiles (each distinct
    value its own bin when there are few); missing values form a bin of their own."""
    e = np.asarray(expected, float)
    a = np.asarray(actual, float)
    if len(e) == 0 or len(a) == 0:
        return np.nan
    values = np.unique(e[~np.isnan(e)])
    if len(values) <= bins:
        edges = (values[:-1] + values[1:]) / 2
    else:
        edges = np.unique(np.quantile(e[~np.isnan(e)], np.linspace(0, 1, bins + 1)[1:-1]))

    def shares(x: np.ndarray) -> np.ndarray:
        idx = np.where(np.isnan(x), len(edges) + 1, np.searchsorted(edges, x, side="right"))
        counts = np.bincount(idx.astype(int), minlength=len(edges) + 2).astype(float)
        return np.maximum(counts / len(x), _EPS)

    pe, pa = shares(e), shares(a)
    return float(np.round(np.sum((pa - pe) * np.log(pa / pe)), 10))


def drift(
    features: pd.DataFrame, trained_on: list[str], term: str, importance: pd.Series, top: int
) -> pd.DataFrame:
    """PSI of the ``top`` most important inputs between the training terms of ``term``'s
    season and ``term`` (see the module docstring).

    Parameters
    ----------
    features : one county's feature rows (``term`` and the model's inputs).
    trained_on : the terms the model was fit on (the reference).
    term : the term now scored.
    importance : the model's importance of each input (index: feature name).
    top : how many inputs to show.

    Returns
    -------
    pandas.DataFrame
        ``feature``, ``说明`` (its description), ``reference_mean``, ``current_mean``,
        ``psi`` and ``reading`` (稳定, 关注, 明显变化), most important first.
    """
    season = term[-2:]
    ref = features[features["term"].isin([t for t in trained_on if t.endswith(season)])]
    now = features[features["term"] == term]
    rows = []
    varying = [f for f in importance.index if f in now and now[f].nunique(dropna=False) > 1]
    for f in importance[varying].sort_values(ascending=False).index[:top]:
        v = psi(ref[f].to_numpy(float), now[f].to_numpy(float))
        rows.append(
            {
                "feature": f,
                "说明": FEATURES.get(f, f),
                "reference_mean": float(np.nanmean(ref[f])) if len(ref) else np.nan,
                "current_mean": float(np.nanmean(now[f])) if len(now) else np.nan,
                "psi": v,
            }
        )
    out = pd.DataFrame(rows)
    return out


def reading(value: float, cfg: ReportConfig) -> str:
    """稳定, 关注 or 明显变化 for a PSI under the configuration's thresholds."""
    if pd.isna(value):
        return "—"
    return "明显变化" if value > cfg.psi_alert else "关注" if value > cfg.psi_warn else "稳定"


def _num(v: float) -> str:
    return f"{v:.2%}" if abs(v) < 1 else f"{v:.1f}"


def warnings_for(
    checks: pd.DataFrame, shifts: pd.DataFrame, cfg: ReportConfig
) -> tuple[list[str], list[str]]:
    """The panel's plain sentences: warnings (the model no longer fits the county) and
    notices (inputs that moved; worth watching, not proof of a misfit).

    A warning needs the model's own performance on the county's labels to have failed (the
    configuration's ``report`` thresholds): the last held-out term's O/E outside ``oe_band``
    with its interval excluding 1, or its AUC interval wholly below ``auc_floor``. Drift
    alone does not: the model is recalibrated on the latest term, and an input can move
    because dropout fell, which the model may well handle. An input with PSI above
    ``psi_alert`` is a notice, with its mean then and now.
    """
    warnings, notices = [], []
    if len(checks):
        last = checks.iloc[-1]
        lo_band, hi_band = cfg.oe_band
        if pd.notna(last["oe"]) and (
            (last["oe"] < lo_band and last["oe_high"] < 1)
            or (last["oe"] > hi_band and last["oe_low"] > 1)
        ):
            more = "多" if last["oe"] > 1 else "少"
            warnings.append(
                f"{last['term']}学期本县实际辍学{int(last['dropouts'])}人，模型预计"
                f"{last['expected']:.1f}人，实际明显偏{more}：模型的概率在本县已不准，"
                "名单排序仍可参考，但预计人数不能直接使用。"
            )
        if pd.notna(last["auc_high"]) and last["auc_high"] < cfg.auc_floor:
            warnings.append(
                f"{last['term']}学期模型在本县的排序能力（AUC {last['auc']:.2f}）接近随机："
                "红名单需由学校结合实际情况重新核实。"
            )
    if len(shifts):
        moved = shifts[shifts["psi"] > cfg.psi_alert]
        if len(moved):
            parts = [
                f"{r['说明'].split('（')[0]}（训练时平均{_num(r['reference_mean'])}，"
                f"现在{_num(r['current_mean'])}）"
                for _, r in moved.iterrows()
            ]
            notices.append(
                f"与训练数据相比明显变化的输入（PSI>{cfg.psi_alert}）：{'；'.join(parts)}。"
                "只要上面的检验仍然合格，模型可以继续使用；下次训练时会纳入新的数据。"
            )
    return warnings, notices
