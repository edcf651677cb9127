"""Regression discontinuity at a list's cutoff (rdrobust), with its checks: the density of
the running variable at the cutoff (rddensity), the first stage when compliance is
imperfect, and the estimate's sensitivity to the bandwidth.

A red list is a cutoff on a score: pupils just above it and just below are alike but for
the list, so the jump in dropout at the cutoff, divided by the jump in the share mentored
(the first stage, when some listed pupils are not mentored and some unlisted are), is the
effect of mentoring on pupils at the cutoff (a local average effect for those whom the
list decides). The headline interval is rdrobust's robust bias-corrected one (Calonico,
Cattaneo & Titiunik 2014).

Example::

    >>> rng = np.random.default_rng(0)
    >>> x = np.round(rng.uniform(-3, 3, 4000), 1)
    >>> d = np.where(x > 0, rng.random(4000) < 0.85, rng.random(4000) < 0.1)
    >>> y = 0.5 * x + 1.0 * d + rng.normal(0, 1, 4000)
    >>> r = rdd(pd.DataFrame({"y": y, "x": x, "d": d}), "y", "x", treatment="d")
    >>> r.effect.ci_low < 1.0 < r.effect.ci_high
    True
    >>> sorted(r.checks)
    ['bandwidth sensitivity', 'first stage', 'no manipulation (density)']
"""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pandas as pd

from analysis.effects.results import Effect, EffectResult

#: Bandwidths tried for the sensitivity table, as multiples of the MSE-optimal one.
BANDWIDTH_MULTIPLIERS = (0.5, 0.75, 1.0, 1.5, 2.0)


def _quiet():
    stack = contextlib.ExitStack()
    stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore")
    return stack


def _fit(y, x, cutoff, fuzzy, h=None, cluster=None):
    from rdrobust import rdrobust

    with _quiet():
        return rdrobust(y, x, c=cutoff, fuzzy=fuzzy, h=h, cluster=cluster, vce="hc1" if cluster is None else "cr1")  # fmt: skip


def density_test(x: np.ndarray, cutoff: float = 0.0) -> tuple[float, float]:
    """rddensity's test of no jump in the running variable's density at the cutoff
    (jackknife standard errors): the statistic and its p-value."""
    from rddensity import rddensity

    with _quiet():
        dn = rddensity(X=np.asarray(x, float), c=cutoff)
    return float(dn.test["t_jk"]), float(dn.test["p_jk"])


def rdd(
    data: pd.DataFrame,
    outcome: str,
    running: str,
    cutoff: float = 0.0,
    treatment: str | None = None,
    *,
    cluster: str | None = None,
    unit_label: str = "",
    multipliers: tuple[float, ...] = BANDWIDTH_MULTIPLIERS,
) -> EffectResult:
    """The effect of crossing ``cutoff`` on ``outcome``, sharp or fuzzy.

    Parameters
    ----------
    data : one row per unit (a pupil in a term).
    outcome : the outcome column (e.g. dropped out this term, in percentage points).
    running : the score, with units above ``cutoff`` listed.
    treatment : the treatment actually received (0/1). Omitted, or equal to being above
        the cutoff, gives a sharp design; otherwise fuzzy (the jump in outcome over the
        jump in treatment).
    cluster : cluster column for the standard errors (e.g. the pupil, across terms).
    multipliers : bandwidths (multiples of the MSE-optimal one) for the sensitivity table.

    Returns
    -------
    EffectResult
        ``effects``: robust bias-corrected, then conventional; ``table``: the three
        rdrobust rows and the sensitivity rows; ``checks``: density test, first stage,
        bandwidth sensitivity; ``n``: pupils each side within the bandwidth.
    """
    d = data[[c for c in (outcome, running, treatment, cluster) if c]].dropna()
    y = d[outcome].to_numpy(float)
    x = d[running].to_numpy(float)
    above = x >= cutoff
    fuzzy = None
    if treatment is not None:
        t = d[treatment].to_numpy(float)
        if not np.array_equal(t, above.astype(float)):
            fuzzy = t
    cl = d[cluster].astype("category").cat.codes.to_numpy() if cluster else None
    r = _fit(y, x, cutoff, fuzzy, cluster=cl)
    h = float(r.bws.loc["h", "left"])
    coef, se, ci = r.coef.iloc[:, 0], r.se.iloc[:, 0], r.ci
    effects = [
        Effect("effect at cutoff", float(coef["Robust"]), float(se["Robust"]),
               float(ci.loc["Robust"].iloc[0]), float(ci.loc["Robust"].iloc[1]), unit_label,
               "robust bias-corrected", float(r.pv.iloc[2, 0])),
        Effect("effect at cutoff", float(coef["Conventional"]), float(se["Conventional"]),
               float(ci.loc["Conventional"].iloc[0]), float(ci.loc["Conventional"].iloc[1]),
               unit_label, "conventional", float(r.pv.iloc[0, 0])),
    ]  # fmt: skip
    rows = [e.row() | {"bandwidth": h, "kind": "rdrobust"} for e in effects]
    sens = []
    for m in multipliers:
        if m == 1.0:
            continue
        try:
            rm = _fit(y, x, cutoff, fuzzy, h=h * m, cluster=cl)
        except Exception:  # too few pupils within a narrow bandwidth
            continue
        e = Effect("effect at cutoff", float(rm.coef.iloc[0, 0]), float(rm.se.iloc[2, 0]),
                   float(rm.ci.iloc[2, 0]), float(rm.ci.iloc[2, 1]), unit_label,
                   "robust bias-corrected")  # fmt: skip
        rows.append(e.row() | {"bandwidth": h * m, "kind": f"bandwidth x{m:g}"})
        sens.append(f"x{m:g}: {e.estimate:.3f}")
    checks = {}
    try:
        stat, p = density_test(x, cutoff)
        word = "no evidence of sorting" if p >= 0.05 else "DENSITY JUMPS: scores may be manipulated"
        checks["no manipulation (density)"] = f"rddensity t = {stat:.2f}, p = {p:.3f} ({word})"
    except Exception as exc:  # too few distinct scores near the cutoff
        checks["no manipulation (density)"] = f"not computable ({exc.__class__.__name__})"
    if fuzzy is not None:
        fs, fs_se = float(r.tau_T.iloc[0, 0]), float(r.se_T.iloc[0, 0])
        weak = " (weak: the estimate is unreliable)" if abs(fs / fs_se) < 3.2 else ""
        checks["first stage"] = f"jump in treatment at the cutoff {fs:.3f} (se {fs_se:.3f}){weak}"
    else:
        checks["first stage"] = "sharp design: everyone above the cutoff treated"
    checks["bandwidth sensitivity"] = f"h = {h:.2f}; " + ", ".join(sens)
    n = {"below, within h": int(r.N_h[0]), "above, within h": int(r.N_h[1]), "all": len(d)}
    design = f"{'Fuzzy' if fuzzy is not None else 'Sharp'} regression discontinuity (rdrobust, local linear, triangular kernel)"  # fmt: skip
    return EffectResult(design, outcome, effects, pd.DataFrame(rows), checks, n,
                        extra={"bandwidth": h, "first_stage": checks["first stage"]})  # fmt: skip
