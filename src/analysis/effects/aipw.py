"""Doubly robust (augmented inverse probability weighted) effect of a treatment on the
treated pupils or on all, with overlap diagnostics.

Mentoring is not assigned at random: pupils are listed on a score that includes
teachers' judgement. Conditioning on what decided the assignment (the recorded score and
the list) and on the pupils' records, the AIPW estimate is right if either the
propensity model or the outcome model is (doubly robust). It is only as good as that
condition: an estimate that leaves out the recorded score is confounded by the judgement
it holds, and the overlap table says where the comparison rests on few pupils.

* ATE: statsmodels' ``TreatmentEffect`` (propensity by logit, outcome by OLS in each arm)
  gives the point estimate; the standard error is the efficient influence function's,
  which a test holds to statsmodels' GMM standard error (the GMM itself is slow on
  tens of thousands of pupils).
* ATT: the doubly robust ATT (outcome model on the untreated, odds weights),
  with its influence-function standard error.

Example::

    >>> rng = np.random.default_rng(1)
    >>> x = rng.normal(size=3000)
    >>> t = (rng.random(3000) < 1 / (1 + np.exp(-x))).astype(int)
    >>> y = x - 1.0 * t + rng.normal(size=3000)
    >>> r = aipw(pd.DataFrame({"y": y, "t": t, "x": x}), "y", "t", ["x"], estimand="ATT")
    >>> r.effect.covers(-1.0), r.n["treated"] > 1000
    (True, True)
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from analysis.effects.results import Effect, EffectResult

#: Propensities outside this range are trimmed (clipped) before weighting.
TRIM = (0.01, 0.99)


def _design(d: pd.DataFrame, covariates: list[str]) -> np.ndarray:
    x = d[covariates].astype(float)
    keep = [c for c in covariates if x[c].std() > 0]
    return np.column_stack([np.ones(len(d)), x[keep].to_numpy()])


def _nuisance(y: np.ndarray, t: np.ndarray, X: np.ndarray):
    import statsmodels.api as sm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = sm.Logit(t, X).fit(disp=0, maxiter=200, method="bfgs")
    e = np.clip(sel.predict(X), *TRIM)
    m0 = sm.OLS(y[t == 0], X[t == 0]).fit().predict(X)
    m1 = sm.OLS(y[t == 1], X[t == 1]).fit().predict(X)
    return sel, e, m0, m1


def overlap(e: np.ndarray, t: np.ndarray, X: np.ndarray, names: list[str]) -> pd.DataFrame:
    """Propensity ranges per arm, the share of pupils near 0 or 1, the effective sample
    sizes of the weights, and each covariate's standardised mean difference before and
    after weighting (ATE weights)."""
    w = np.where(t == 1, 1 / e, 1 / (1 - e))
    rows = []
    for arm in (0, 1):
        s = t == arm
        ww = w[s]
        rows.append({"what": f"propensity, {'treated' if arm else 'untreated'}",
                     "min": e[s].min(), "median": np.median(e[s]), "max": e[s].max(),
                     "share_extreme": float(np.mean((e[s] < 0.05) | (e[s] > 0.95))),
                     "ess": float(ww.sum() ** 2 / (ww**2).sum())})  # fmt: skip
    for j, name in enumerate(names, start=1):
        x = X[:, j]
        sd = np.sqrt((x[t == 1].var() + x[t == 0].var()) / 2) or 1.0
        raw = (x[t == 1].mean() - x[t == 0].mean()) / sd
        wt = (np.average(x[t == 1], weights=w[t == 1]) - np.average(x[t == 0], weights=w[t == 0])) / sd  # fmt: skip
        rows.append({"what": f"SMD {name}", "before": raw, "after": wt})
    return pd.DataFrame(rows)


def aipw(
    data: pd.DataFrame,
    outcome: str,
    treatment: str,
    covariates: list[str],
    *,
    estimand: str = "ATE",
    cluster: str | None = None,
    unit_label: str = "",
) -> EffectResult:
    """Doubly robust effect of ``treatment`` (0/1) on ``outcome``.

    Parameters
    ----------
    data : one row per unit.
    covariates : what assignment depended on and what predicts the outcome (numeric;
        constant columns are left out).
    estimand : "ATE" (all units) or "ATT" (the treated).
    cluster : units that are not independent (a pupil in several terms): the standard
        error sums the influence function within each, as cluster-robust errors do.

    Returns
    -------
    EffectResult
        ``effects``: the estimate with its influence-function interval; ``table``: the
        overlap diagnostics; ``checks``: overlap, balance after weighting.
    """
    d = data[[outcome, treatment, *covariates, *([cluster] if cluster else [])]].dropna()
    y = d[outcome].to_numpy(float)
    t = d[treatment].to_numpy(int)
    if t.min() == t.max():
        raise ValueError(f"{treatment!r} does not vary: no comparison to make")
    X = _design(d, covariates)
    names = [c for c in covariates if d[c].astype(float).std() > 0]
    sel, e, m0, m1 = _nuisance(y, t, X)
    n = len(y)
    if estimand == "ATE":
        import statsmodels.api as sm
        from statsmodels.treatment.treatment_effects import TreatmentEffect

        te = TreatmentEffect(sm.OLS(y, X), t, results_select=sel)
        est = float(te.aipw(return_results=False)[0])
        psi = m1 - m0 + t * (y - m1) / e - (1 - t) * (y - m0) / (1 - e) - est
    elif estimand == "ATT":
        p = t.mean()
        odds = e / (1 - e)
        est = float(np.sum(t * (y - m0) - (1 - t) * odds * (y - m0)) / t.sum())
        psi = (t * (y - m0 - est) - (1 - t) * odds * (y - m0)) / p
    else:
        raise ValueError(f"unknown estimand {estimand!r}: use 'ATE' or 'ATT'")
    if cluster is None:
        se = float(np.std(psi, ddof=1) / np.sqrt(n))
    else:
        sums = pd.Series(psi).groupby(d[cluster].to_numpy()).sum().to_numpy()
        g = len(sums)
        se = float(np.sqrt(g / max(g - 1, 1) * np.sum(sums**2)) / n)
    eff = Effect.normal(estimand, est, se, unit_label, "influence function")
    table = overlap(e, t, X, names)
    smd = table[table["what"].str.startswith("SMD")]
    worst = smd["after"].abs().max() if len(smd) else 0.0
    extreme = float(np.mean((e < 0.05) | (e > 0.95)))
    checks = {
        "overlap": f"{extreme:.1%} of pupils have a propensity below 0.05 or above 0.95"
        + (" (weak overlap: the estimate leans on few pupils)" if extreme > 0.1 else ""),
        "balance after weighting": f"largest standardised mean difference {worst:.3f}"
        + (" (imbalanced)" if worst > 0.1 else ""),
        "no unmeasured confounding": "assumed: every influence on who was treated is in the covariates",
    }
    counts = {"units": n, "treated": int(t.sum()), "untreated": int(n - t.sum())}
    return EffectResult(f"Doubly robust AIPW ({estimand})", outcome, [eff], table, checks, counts,
                        extra={"propensity": e})  # fmt: skip
