"""Per-county effects, honestly: each county's own estimate beside a partially pooled one
(empirical Bayes), and a verdict that says 数据不足以判断 where the interval cannot tell a
helpful measure from a harmful one.

A county with few treated pupils has a wide interval, and its raw estimate is as likely
to be far too good as far too bad. The normal–normal model treats the counties' true
effects as drawn around a prefecture mean ``mu`` with spread ``tau`` (estimated by
restricted maximum likelihood from the estimates and their standard errors). Each
county's pooled estimate moves towards ``mu`` by the share of its variance that is noise,
``se² / (se² + tau²)``; its interval adds the uncertainty in ``mu`` (Morris 1983).

Example::

    County e's raw estimate (-3.0 with se 2.5) is mostly noise: pooled, it says what the
    prefecture's counties say, and its interval still cannot tell.

    >>> est = pd.DataFrame({"county": list("abcde"), "estimate": [-1.0, -0.2, 0.9, -0.6, -3.0],
    ...                     "se": [0.3, 0.5, 0.4, 0.4, 2.5]})
    >>> r = partial_pool(est, "estimate", "se", "county", smallest_effect=0.2)
    >>> r.table[["county", "estimate", "pooled", "shrinkage", "verdict"]].round(2)
      county  estimate  pooled  shrinkage  verdict
    0      a      -1.0   -0.90       0.14       有效
    1      b      -0.2   -0.24       0.31  数据不足以判断
    2      c       0.9    0.63       0.22  数据不足以判断
    3      d      -0.6   -0.54       0.22  数据不足以判断
    4      e      -3.0   -0.54       0.92  数据不足以判断
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar
from scipy.stats import norm

from analysis.effects.results import Effect, EffectResult, verdict


def reml_tau2(y: np.ndarray, v: np.ndarray) -> float:
    """The between-county variance ``tau²`` by restricted maximum likelihood (0 if the
    estimates vary no more than their standard errors say)."""
    if len(y) < 2:
        return 0.0

    def neg(log_t: float) -> float:
        t2 = np.exp(log_t)
        w = 1 / (v + t2)
        mu = np.sum(w * y) / np.sum(w)
        return 0.5 * (np.sum(np.log(v + t2)) + np.log(np.sum(w)) + np.sum(w * (y - mu) ** 2))

    scale = max(np.var(y), np.mean(v), 1e-12)
    res = minimize_scalar(neg, bounds=(np.log(scale) - 20, np.log(scale) + 5), method="bounded")
    t2 = float(np.exp(res.x))
    # The boundary: compare with tau² = 0 (the likelihood may be flat towards it).
    return 0.0 if neg(np.log(scale) - 20) <= neg(res.x) + 1e-9 else t2


def partial_pool(
    data: pd.DataFrame,
    estimate: str,
    se: str,
    label: str,
    *,
    smallest_effect: float = 0.0,
    helpful_sign: int = -1,
    unit_label: str = "",
) -> EffectResult:
    """Empirical-Bayes partial pooling of per-county estimates.

    Parameters
    ----------
    data : one row per county: ``label``, ``estimate``, ``se`` (rows with a missing or zero
        standard error are left out of the pooling and marked).
    smallest_effect : the smallest effect that matters (on the estimate's scale), for the
        verdicts (:func:`analysis.effects.results.verdict`).
    helpful_sign : -1 when a lower outcome is better (dropout).

    Returns
    -------
    EffectResult
        ``effects``: the prefecture mean ``mu``; ``table``: per county the raw estimate and
        interval, the pooled estimate and interval, the shrinkage, and the verdict from
        the pooled interval; ``extra["tau"]``: the between-county spread.
    """
    d = data[[label, estimate, se]].copy()
    ok = d[se].notna() & (d[se] > 0) & d[estimate].notna()
    y, s = d.loc[ok, estimate].to_numpy(float), d.loc[ok, se].to_numpy(float)
    v = s**2
    t2 = reml_tau2(y, v)
    w = 1 / (v + t2)
    mu = float(np.sum(w * y) / np.sum(w)) if len(y) else np.nan
    var_mu = float(1 / np.sum(w)) if len(y) else np.nan
    b = v / (v + t2) if t2 > 0 else np.ones_like(v)
    post = mu + (1 - b) * (y - mu)
    post_var = (1 - b) * v + b**2 * var_mu
    z = norm.ppf(0.975)
    out = d.rename(columns={estimate: "estimate", se: "se"})
    out["ci_low"], out["ci_high"] = out["estimate"] - z * out["se"], out["estimate"] + z * out["se"]
    out["pooled"] = np.nan
    out["pooled_se"] = np.nan
    out.loc[ok, "pooled"] = post
    out.loc[ok, "pooled_se"] = np.sqrt(post_var)
    out["pooled_low"] = out["pooled"] - z * out["pooled_se"]
    out["pooled_high"] = out["pooled"] + z * out["pooled_se"]
    out["shrinkage"] = np.nan
    out.loc[ok, "shrinkage"] = b
    out["verdict"] = [
        verdict(lo, hi, smallest_effect, helpful_sign) if pd.notna(lo) else "无估计"
        for lo, hi in zip(out["pooled_low"], out["pooled_high"], strict=True)
    ]
    mean = Effect.normal(
        "prefecture mean", mu, np.sqrt(var_mu), unit_label, "random effects (REML)"
    )
    checks = {
        "exchangeable counties": "assumed: before seeing the data, no county's effect was expected to differ in a known direction",
        "between-county spread": f"tau = {np.sqrt(t2):.4f}"
        + (" (no spread beyond noise: every county pooled to the mean)" if t2 == 0 else ""),
    }  # fmt: skip
    return EffectResult("Partial pooling (empirical Bayes, normal-normal)", estimate, [mean], out,
                        checks, {"counties": int(ok.sum())}, extra={"tau": float(np.sqrt(t2))})  # fmt: skip
