"""Staggered difference-in-differences: Callaway & Sant'Anna (2021) group-time effects
ATT(g,t), their four aggregations, the pre-trend test, and inference that holds with few
clusters.

The estimates come from csdid (which matches R's ``did`` 2.5.0 on ``mpdta``; a test holds
it to R's published figures). Around it this module adds what a bureau's analysis needs:

* **Few clusters.** A policy is adopted by a county, and a prefecture has nine; two never
  adopt. Cluster-robust standard errors from so few clusters are too small. Randomisation
  inference over adoption schedules (:func:`randomisation_inference`) permutes which county
  got which adoption term (never included) and recomputes the estimate each time; the
  p-value and the interval (by inverting the test under a constant effect) hold whatever
  the number of clusters, because the assignment, not a large-sample approximation, is
  the source of randomness.
* **One county's effect.** A county's own ATT carries its county-by-term shocks, which no
  within-county standard error sees. :func:`county_effects` widens each county's interval by
  the shock variance measured on the pre-adoption placebo cells of every county.

Periods are integers in order; ``group`` is the first period a unit is treated, 0 for
never. Units first treated after the last period are recoded as never treated, and units
treated from the first period are dropped (no pre-period), as R's ``did`` does.

Example (the mpdta data of R's ``did``)::

    >>> import pandas as pd
    >>> from analysis.effects import staggered_did
    >>> d = pd.read_csv(MPDTA).rename(columns={"first.treat": "first_treat"})
    >>> r = staggered_did(d, "lemp", "year", "countyreal", "first_treat",
    ...                   control="nevertreated")
    >>> round(r.effect.estimate, 4), round(r.effect.se, 4)
    (-0.04, 0.012)
    >>> print(r.summary())  # doctest: +ELLIPSIS
    Callaway & Sant'Anna staggered DiD (dr, never-treated controls)
    ...
"""

from __future__ import annotations

import contextlib
import io
import itertools
import math
import warnings

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

from analysis.effects.results import Effect, EffectResult

AGGREGATIONS = ("simple", "group", "dynamic", "calendar")


def prepare(data: pd.DataFrame, time: str, unit: str, group: str) -> tuple[pd.DataFrame, list[str]]:
    """The panel as csdid needs it, with notes of what changed: groups after the last
    period become never treated; units treated from the first period are dropped."""
    d = data.copy()
    notes = []
    t_min, t_max = d[time].min(), d[time].max()
    late = (d[group] > t_max).groupby(d[unit]).any()
    if late.any():
        d.loc[d[group] > t_max, group] = 0
        notes.append(
            f"{int(late.sum())} units first treated after the last period count as never treated"
        )
    early = d[(d[group] > 0) & (d[group] <= t_min)][unit].unique()
    if len(early):
        d = d[~d[unit].isin(early)]
        notes.append(
            f"{len(early)} units treated from the first period are left out (no pre-period)"
        )
    if not (d[group] == 0).any() and d[group].nunique() > 1:
        # No never-treated units: the last group to adopt is the comparison until it adopts,
        # and the periods from then on (no one left to compare with) are left out.
        last = d[group].max()
        d = d[d[time] < last].copy()
        d.loc[d[group] == last, group] = 0
        notes.append(f"no never-treated units: the group adopting in period {last} is the comparison, periods from {last} on are left out")  # fmt: skip
    return d.reset_index(drop=True), notes


def _fit_csdid(d, outcome, time, unit, group, control, method, covariates, weights, cluster):
    from csdid.att_gt import ATTgt

    # csdid wants numeric unit and cluster ids: codes in order of appearance.
    d = d.copy()
    for col in {unit, cluster} - {None}:
        if not pd.api.types.is_numeric_dtype(d[col]):
            d[col] = pd.factorize(d[col])[0] + 1

    xformla = "~" + "+".join(covariates) if covariates else None
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        m = ATTgt(
            yname=outcome,
            tname=time,
            idname=unit,
            gname=group,
            data=d,
            control_group=control,
            xformla=xformla,
            clustervar=cluster,
            weights_name=weights,
        )
        fit = m.fit(est_method=method, bstrap=False)
    return fit


def _aggregate(fit, typec: str) -> dict:
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        fit.aggte(typec=typec, bstrap=False, na_rm=True)
    a = fit.atte
    return {
        "overall_att": float(a["overall_att"]),
        "overall_se": float(a["overall_se"]),
        "egt": np.asarray(a["egt"], float) if a["egt"] is not None else np.array([]),
        "att_egt": np.asarray(a["att_egt"], float) if a["att_egt"] is not None else np.array([]),
        "se_egt": np.asarray(a["se_egt"], float) if a["se_egt"] is not None else np.array([]),
    }


def staggered_did(
    data: pd.DataFrame,
    outcome: str,
    time: str,
    unit: str,
    group: str,
    *,
    control: str = "notyettreated",
    method: str = "dr",
    covariates: list[str] | None = None,
    weights: str | None = None,
    cluster: str | None = None,
    draws: int = 999,
    seed: int = 0,
    unit_label: str = "",
) -> EffectResult:
    """Callaway & Sant'Anna group-time effects of a treatment adopted at different times.

    Parameters
    ----------
    data : a balanced panel, one row per unit and period.
    outcome, time, unit, group : column names; ``group`` is the first treated period (0 =
        never), constant within a unit; ``time`` integer periods.
    control : "notyettreated" (default) or "nevertreated" comparison units.
    method : "dr" (doubly robust), "ipw" or "reg".
    covariates : time-invariant covariates for conditional parallel trends.
    weights : a unit weight column (constant within unit), e.g. pupils per school.
    cluster : the level at which treatment was assigned (the county). With it, standard
        errors are clustered there and randomisation inference over the clusters' adoption
        schedules (``draws`` permutations, all of them if fewer) is reported beside them.
    unit_label : the outcome's unit, for printing (e.g. "pp").

    Returns
    -------
    EffectResult
        ``effects``: the simple aggregation's ATT with its analytic interval, then (with a
        cluster) the randomisation-inference interval; ``table``: every ATT(g,t) and every
        aggregation, tidy; ``checks``: the pre-trend test; ``extra``: "attgt" (frame),
        "aggregations" (dict), "ri" (the permutation results).
    """
    d, notes = prepare(data, time, unit, group)
    fit = _fit_csdid(d, outcome, time, unit, group, control, method, covariates, weights, cluster)
    res = fit.results
    attgt = pd.DataFrame(
        {"group": res["group"], "time": res["year"], "att": res["att"], "se": res["se"]}
    ).astype({"group": int, "time": int})
    attgt["post"] = attgt["time"] >= attgt["group"]
    if attgt["att"].isna().any():
        notes.append(f"{int(attgt['att'].isna().sum())} ATT(g,t) cells not estimable (no comparison units, or a covariate constant among them): left out of the aggregations")  # fmt: skip
    aggs = {k: _aggregate(fit, k) for k in AGGREGATIONS}
    table = _tidy(attgt, aggs)
    label = {"notyettreated": "not-yet-treated", "nevertreated": "never-treated"}[control]
    simple = aggs["simple"]
    effects = [
        Effect.normal("ATT (simple)", simple["overall_att"], simple["overall_se"], unit_label)
    ]
    checks = _pretest(fit, attgt)
    ri = None
    if cluster is not None:
        ri = randomisation_inference(
            d, outcome, time, unit, group, cluster, control=control, weights=weights,
            covariates=covariates if method == "reg" else None, draws=draws, seed=seed,
        )  # fmt: skip
        effects.append(
            Effect("ATT (simple)", ri["estimate"], ri["se"], ri["ci_low"], ri["ci_high"],
                   unit_label, f"randomisation inference, {ri['draws']} schedules", ri["p_value"])
        )  # fmt: skip
        if method != "reg" and covariates:
            notes.append("randomisation inference uses the estimator without covariates (its interval is centred on that estimate)")  # fmt: skip
        checks["few clusters"] = (
            f"{d[cluster].nunique()} clusters; randomisation inference over adoption schedules "
            f"gives p = {ri['p_value']:.3f} for no effect"
        )
    n = {
        "units": int(d[unit].nunique()),
        "periods": int(d[time].nunique()),
        "treated units": int(d.loc[d[group] > 0, unit].nunique()),
        "never-treated units": int(d.loc[d[group] == 0, unit].nunique()),
    }
    if cluster is not None:
        n["clusters"] = int(d[cluster].nunique())
    design = f"Callaway & Sant'Anna staggered DiD ({method}, {label} controls)"
    return EffectResult(
        design, outcome, effects, table, checks, n, notes,
        extra={"attgt": attgt, "aggregations": aggs, "ri": ri, "fit": fit},
    )  # fmt: skip


def _tidy(attgt: pd.DataFrame, aggs: dict) -> pd.DataFrame:
    rows = [
        {"kind": "attgt", "group": r.group, "time": r.time, "e": r.time - r.group,
         "att": r.att, "se": r.se}
        for r in attgt.itertuples()
    ]  # fmt: skip
    for kind, a in aggs.items():
        rows.append({"kind": kind, "att": a["overall_att"], "se": a["overall_se"]})
        for e, att, se in zip(a["egt"], a["att_egt"], a["se_egt"], strict=True):
            key = {"group": "group", "dynamic": "e", "calendar": "time"}[kind]
            rows.append({"kind": kind, key: int(e), "att": att, "se": se})
    t = pd.DataFrame(rows)
    t["ci_low"] = t["att"] - 1.959964 * t["se"]
    t["ci_high"] = t["att"] + 1.959964 * t["se"]
    return t[["kind", "group", "time", "e", "att", "se", "ci_low", "ci_high"]]


def _pretest(fit, attgt: pd.DataFrame) -> dict:
    """The Wald test that every pre-period ATT(g,t) is zero, as R's did computes it
    (csdid's own when it gives one; otherwise from the influence functions of the
    estimable pre-period cells, which csdid leaves out when some cell is not estimable)."""
    w, p = fit.MP.get("W"), fit.MP.get("Wpval")
    if w is None or p is None or (isinstance(w, float) and math.isnan(w)):
        pre = (~attgt["post"] & attgt["att"].notna() & (attgt["se"] > 0)).to_numpy()
        if not pre.any():
            return {"parallel pre-trends": "no pre-periods to test"}
        from scipy.stats import chi2

        inf = fit.MP["inffunc"]
        inf = np.asarray(inf["inffunc"] if isinstance(inf, dict) else inf)[:, pre]
        n = inf.shape[0]
        v = inf.T @ inf / n**2
        a = attgt.loc[pre, "att"].to_numpy()
        w = float(a @ np.linalg.pinv(v) @ a)
        p = float(chi2.sf(w, np.linalg.matrix_rank(v)))
    verdict = "no evidence against" if p >= 0.05 else "REJECTED: trends differed before adoption"
    return {"parallel pre-trends": f"Wald chi2 = {float(w):.2f}, p = {float(p):.3f} ({verdict})"}


# ---- the unconditional estimator on cluster sums, for randomisation inference -------------


def cluster_sums(
    d: pd.DataFrame, outcome: str, time: str, unit: str, group: str, cluster: str,
    weights: str | None = None, covariates: list[str] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """The panel summed into cells: one per cluster and value of the (time-invariant)
    covariates. Returns the weighted sums of the outcome per period (cells x T), the
    cells' weights, their covariates (cells x k), adoption periods and cluster numbers, and
    the periods. The group must be constant within a cluster (where treatment was
    assigned)."""
    covariates = list(covariates or [])
    w = d[weights] if weights else pd.Series(1.0, index=d.index)
    per_cluster_g = d.groupby(cluster)[group].nunique()
    if (per_cluster_g > 1).any():
        bad = per_cluster_g[per_cluster_g > 1].index[0]
        raise ValueError(f"cluster {bad!r} holds units of different adoption periods")
    periods = np.sort(d[time].unique())
    keys = [cluster, *covariates]
    wy = (d[outcome] * w).groupby([d[k] for k in keys] + [d[time]]).sum().unstack(time)
    wy = wy.reindex(columns=periods).fillna(0.0)
    first = d[d[time] == periods[0]]
    wc = w[first.index].groupby([first[k] for k in keys]).sum().reindex(wy.index)
    cells = wy.index.to_frame(index=False)
    g = cells[cluster].map(d.groupby(cluster)[group].first())
    X = cells[covariates].to_numpy(float) if covariates else np.empty((len(cells), 0))
    C = pd.factorize(cells[cluster])[0]
    return wy.to_numpy(float), wc.to_numpy(float), X, g.to_numpy(int), C, periods


def _control_change(dy, W, X, ctrl, tg) -> float:
    """The treated cells' expected change had they not been treated: the controls' mean
    change, or (with covariates) its weighted regression on them, predicted for the
    treated (csdid's ``reg``); NaN when the covariates do not vary among the controls."""
    if X.shape[1] == 0:
        return float(np.sum(W[ctrl] * dy[ctrl]) / W[ctrl].sum())
    Z = np.column_stack([np.ones(ctrl.sum()), X[ctrl]])
    sw = np.sqrt(W[ctrl])
    if np.linalg.matrix_rank(Z * sw[:, None]) < Z.shape[1]:
        return np.nan
    beta = np.linalg.lstsq(Z * sw[:, None], dy[ctrl] * sw, rcond=None)[0]
    pred = np.column_stack([np.ones(tg.sum()), X[tg]]) @ beta
    return float(np.sum(W[tg] * pred) / W[tg].sum())


def fast_simple_att(
    S: np.ndarray, W: np.ndarray, G: np.ndarray, periods: np.ndarray, control: str,
    X: np.ndarray | None = None,
) -> float:  # fmt: skip
    """The simple aggregation of ATT(g,t) from cell sums (:func:`cluster_sums`), equal to
    csdid's without covariates or with ``reg`` on covariates constant within cells (tests
    hold them together). Cells csdid could not estimate are left out, as ``na_rm``."""
    X = np.empty((len(W), 0)) if X is None else X
    pos = {p: i for i, p in enumerate(periods)}
    num = den = 0.0
    total = W.sum()
    for g in np.unique(G[G > 0]):
        tg = g == G
        if g not in pos:
            continue
        base = pos[g] - 1
        pg = W[tg].sum() / total
        for t in periods[pos[g] :]:
            it = pos[t]
            never = G == 0
            ctrl = never if control == "nevertreated" else (never | (t < G)) & (g != G)
            if not ctrl.any():
                continue
            dy = (S[:, it] - S[:, base]) / np.where(W > 0, W, 1.0)
            d_tr = float(np.sum(W[tg] * dy[tg]) / W[tg].sum())
            d_c = _control_change(dy, W, X, ctrl, tg)
            if np.isnan(d_c):
                continue
            num += pg * (d_tr - d_c)
            den += pg
    return num / den if den else np.nan


def _schedules(G: np.ndarray, draws: int, rng: np.random.Generator) -> np.ndarray:
    """Distinct permutations of the clusters' adoption periods: all of them when there are
    at most ``draws``, else ``draws`` random ones (the observed first)."""
    counts = pd.Series(G).value_counts().to_numpy()
    distinct = math.factorial(len(G)) // math.prod(math.factorial(int(c)) for c in counts)
    if distinct <= draws:
        seen = sorted(set(itertools.permutations(G.tolist())))
        return np.array(seen)
    out = [G] + [rng.permutation(G) for _ in range(draws - 1)]
    return np.array(out)


def randomisation_inference(
    d: pd.DataFrame, outcome: str, time: str, unit: str, group: str, cluster: str, *,
    control: str = "notyettreated", weights: str | None = None,
    covariates: list[str] | None = None, draws: int = 999, seed: int = 0, level: float = 0.95,
) -> dict:  # fmt: skip
    """Randomisation inference for the simple ATT over the clusters' adoption schedules.

    Under the sharp null of no effect, any permutation of which cluster adopted when was
    as likely as the one observed (adoption was not chosen on the outcome's path). The
    p-value is the share of schedules whose estimate is at least as far from zero as the
    observed one. The interval inverts the test under a constant effect ``tau``: the
    estimator (with or without the covariates' outcome regression) is linear in the
    outcome, so removing ``tau`` from treated cells moves each schedule's estimate by
    ``tau`` times its estimate on the treatment indicator. Covariates must be constant
    within a unit (csdid's ``reg``). ``se`` is the standard deviation of the permutation
    estimates (for display only).
    """
    S, W, X, G, C, periods = cluster_sums(
        d, outcome, time, unit, group, cluster, weights, covariates
    )
    obs = fast_simple_att(S, W, G, periods, control, X)
    Gc = pd.Series(G).groupby(C).first().sort_index().to_numpy()
    scheds = _schedules(Gc, draws, np.random.default_rng(seed))
    # The treatment indicator of the observed schedule, as cell sums (cell x period).
    D = (G[:, None] > 0) & (periods[None, :] >= G[:, None])
    SD = D * W[:, None]
    a = np.array([fast_simple_att(S, W, s[C], periods, control, X) for s in scheds])
    b = np.array([fast_simple_att(SD, W, s[C], periods, control, X) for s in scheds])
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    p = float(np.mean(np.abs(a) >= abs(obs) - 1e-12))
    spread = np.nanstd(a)
    grid = obs + np.linspace(-8, 8, 3201) * max(spread, 1e-9)
    alpha = 1 - level
    keep = []
    for tau in grid:
        stat = np.abs(a - tau * b)
        keep.append(np.mean(stat >= abs(obs - tau) - 1e-12) > alpha)
    keep = np.array(keep)
    lo, hi = (grid[keep].min(), grid[keep].max()) if keep.any() else (np.nan, np.nan)
    return {
        "estimate": obs,
        "p_value": p,
        "ci_low": float(lo),
        "ci_high": float(hi),
        "se": float(spread),
        "draws": int(ok.sum()),
        "null_draws": a,
    }


def county_effects(
    panel: pd.DataFrame, outcome: str, time: str, unit: str, group: str, county: str, *,
    control: str = "notyettreated", weights: str | None = None,
    covariates: list[str] | None = None, method: str = "dr", unit_label: str = "",
    min_units: int = 5,
) -> pd.DataFrame:  # fmt: skip
    """Each adopting county's own simple ATT, with an interval widened for the county-by-term
    shocks that the within-county (school) standard error cannot see.

    A county's estimate is its schools against the other counties' not-yet- or never-
    treated schools, so a shock to that county in a post-adoption term is indistinguishable
    from the effect. Its variance is measured where no effect can be: every county's
    pre-adoption ATT(g,t) cells (each a one-term change) spread by more than their standard
    errors say; half that excess is one term's shock variance ``s2``. A simple ATT over
    ``m`` post terms against one base term carries ``s2 * (1 + 1/m)`` of shock variance.

    The interval uses Student's t with the county's units (schools) less one as degrees
    of freedom: a county's estimate rests on a handful of schools. A county with fewer
    than ``min_units`` units gets no estimate (数据不足).

    Returns one row per county: estimate, analytic se, shock-adjusted se and interval,
    post terms ``m``, degrees of freedom, and the shock standard deviation used.
    """
    fits, pre = {}, []
    for c, g_c in panel.groupby(county)[group].first().items():
        if g_c == 0:
            continue
        units = panel.loc[panel[county] == c, unit].nunique()
        if units < min_units:
            fits[c] = f"数据不足: {units} units (fewer than {min_units})"
            continue
        others = panel[(panel[county] != c) & (panel[group] != g_c)]
        d = pd.concat([panel[panel[county] == c], others])
        try:
            r = staggered_did(d, outcome, time, unit, group, control=control, weights=weights,
                              covariates=covariates, method=method)  # fmt: skip
        except Exception as exc:  # no comparison units left, too few units ...
            fits[c] = exc
            continue
        cells = r.extra["attgt"]
        mine = cells[cells["group"] == g_c]
        fits[c] = (g_c, mine, _mean_se(r, (cells["group"] == g_c) & cells["post"]))
        pre.append(mine[~mine["post"]])
    pre = pd.concat(pre) if pre else pd.DataFrame(columns=["att", "se"])
    excess = float(np.mean(pre["att"] ** 2 - pre["se"] ** 2)) if len(pre) else 0.0
    s2 = max(excess, 0.0) / 2
    rows = []
    for c, fit in fits.items():
        if isinstance(fit, Exception | str):
            note = fit if isinstance(fit, str) else f"not estimable ({fit.__class__.__name__})"
            rows.append({county: c, "note": note})
            continue
        g_c, mine, se_a = fit
        post = mine[mine["post"]].dropna(subset=["att"])
        m = len(post)
        if not m:
            rows.append({county: c, "group": g_c, "note": "no post-adoption term in the panel"})
            continue
        est = float(post["att"].mean())
        se = float(np.sqrt(se_a**2 + s2 * (1 + 1 / m)))
        # A county has few units (schools): Student's t with units - 1 degrees of freedom.
        df = max(int(panel.loc[panel[county] == c, unit].nunique()) - 1, 1)
        q = float(student_t.ppf(0.975, df))
        p_value = float(2 * student_t.sf(abs(est / se), df)) if se > 0 else np.nan
        rows.append({county: c, "group": g_c, "post_terms": m, "estimate": est, "se_analytic": se_a,
                     "se": se, "ci_low": est - q * se, "ci_high": est + q * se, "p_value": p_value,
                     "df": df, "shock_sd": float(np.sqrt(s2)), "pre_cells": len(pre), "note": ""})  # fmt: skip
    return pd.DataFrame(rows)


def _mean_se(r: EffectResult, cells: pd.Series) -> float:
    """The standard error of the mean of some ATT(g,t) cells, from csdid's influence
    functions (equal to its simple aggregation's when the cells are one group's)."""
    inf = r.extra["fit"].MP["inffunc"]
    inf = inf["inffunc"] if isinstance(inf, dict) else inf
    cols = cells.to_numpy()
    if not cols.any():
        return np.nan
    psi = np.asarray(inf)[:, cols].mean(axis=1)
    return float(np.sqrt(np.mean(psi**2) / len(psi)))
