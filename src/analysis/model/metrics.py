"""Metrics of a risk score as the bureau uses it: a list of fixed size per county.

Every metric takes optional row weights, so that a bootstrap replicate is the same
computation with Poisson(1) weights (the Poisson bootstrap: each row drawn a random number
of times) instead of a resampled copy of the data: 500 replicates of 200,000 rows take
seconds.

**The list and its ties.** A county's list holds its ``capacity`` highest scores. Pupils
with the same score are ordered by ``tiebreak``: in this project the feature row's
``order_key`` (a hash of the pupil's own record values, never of the salted
``person_id``: a fixed order that favours nobody), then ``person_id`` for rows whose
records are identical. So the list at the cut is the same in every run and every data
folder, and a coarse score (a rule with three levels) is not given an unfair advantage or
penalty: its ties are cut the way a lottery would cut them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def tie_order(frame: pd.DataFrame, tiebreak: str | list[str]) -> np.ndarray:
    """Each row's position when the rows are sorted by ``tiebreak`` (a column, or several,
    the first deciding first), as integers: computed once, it orders the ties of every
    score of the same rows (sorting text columns again for each score is the slow part).

    >>> f = pd.DataFrame({"k": [2, 1, 1], "id": ["b", "c", "a"]})
    >>> tie_order(f, ["k", "id"]).tolist()
    [2, 1, 0]
    """
    cols = [tiebreak] if isinstance(tiebreak, str) else list(tiebreak)
    codes = [pd.factorize(frame[c], sort=True, use_na_sentinel=False)[0] for c in cols]
    order = np.lexsort(codes[::-1])
    pos = np.empty(len(frame), np.int64)
    pos[order] = np.arange(len(frame))
    return pos


def rank_within(
    frame: pd.DataFrame,
    score: str | np.ndarray,
    group: str,
    tiebreak: str | list[str] | np.ndarray,
) -> np.ndarray:
    """Each row's rank (1 = highest score) within its group; ties ordered by ``tiebreak``
    (a column, or several, the first deciding first, or :func:`tie_order`'s positions)
    ascending.

    >>> f = pd.DataFrame({"g": ["a", "a", "a"], "s": [0.2, 0.5, 0.5], "k": [3, 2, 1]})
    >>> rank_within(f, "s", "g", "k").tolist()
    [3, 2, 1]
    """
    s = frame[score].to_numpy() if isinstance(score, str) else np.asarray(score)
    tie = tiebreak if isinstance(tiebreak, np.ndarray) else tie_order(frame, tiebreak)
    order = np.lexsort((tie, -s))
    g = frame[group].fillna("").to_numpy()[order]
    rank = np.empty(len(s), int)
    rank[order] = pd.Series(np.ones(len(order), int)).groupby(g).cumsum().to_numpy()
    return rank


def listed(
    frame: pd.DataFrame,
    score: str | np.ndarray,
    group: str,
    capacity: dict,
    tiebreak: str | list[str] | np.ndarray,
) -> np.ndarray:
    """A boolean array: the row is on its group's list (the ``capacity[group]`` highest
    scores; ties ordered by ``tiebreak`` ascending, as in :func:`rank_within`). Groups
    missing from ``capacity`` list nobody."""
    rank = rank_within(frame, score, group, tiebreak)
    cap = np.array([capacity.get(x, 0) for x in frame[group].fillna("").to_numpy()])
    return rank <= cap


def _w(y: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    return np.ones(len(y)) if w is None else np.asarray(w, float)


def auc(y: np.ndarray, s: np.ndarray, w: np.ndarray | None = None) -> float:
    """ROC-AUC (ties count one half), with row weights."""
    return all_metrics(y, s, None, w, probabilistic=False)["roc_auc"]


def average_precision(y: np.ndarray, s: np.ndarray, w: np.ndarray | None = None) -> float:
    """PR-AUC as average precision (each distinct score one threshold, as scikit-learn)."""
    return all_metrics(y, s, None, w, probabilistic=False)["pr_auc"]


def calibration_table(
    y: np.ndarray, p: np.ndarray, bins: int = 10, w: np.ndarray | None = None
) -> pd.DataFrame:
    """Mean predicted and observed rate per decile of the prediction (equal counts)."""
    w = _w(y, w)
    order = np.argsort(p, kind="stable")
    b = np.empty(len(p), int)
    b[order] = np.arange(len(p)) * bins // max(len(p), 1)
    sw = np.bincount(b, w, bins)
    return pd.DataFrame(
        {
            "decile": np.arange(1, bins + 1),
            "n": sw,
            "predicted": np.bincount(b, w * p, bins) / np.maximum(sw, 1e-12),
            "observed": np.bincount(b, w * y, bins) / np.maximum(sw, 1e-12),
        }
    )


def ece(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> float:
    """Expected calibration error: the weighted mean of |predicted - observed| over the
    deciles of the prediction, in probability units."""
    return all_metrics(y, p, None, w)["ece"]


def list_metrics(y: np.ndarray, on_list: np.ndarray) -> dict:
    """Precision and recall of a list (which rows are on it) against the label."""
    m = all_metrics(y, np.zeros(len(y)), on_list, probabilistic=False)
    return {k: m[k] for k in ("precision_at_list", "recall_at_list")}


def all_metrics(
    y: np.ndarray,
    s: np.ndarray,
    on_list: np.ndarray | None = None,
    w: np.ndarray | None = None,
    probabilistic: bool = True,
) -> dict:
    """Every metric of one score: ROC-AUC, PR-AUC, precision and recall of the list
    (``on_list``; none if not given), and for a probability the Brier score and ECE."""
    y = np.asarray(y)
    on_list = np.zeros(len(y), bool) if on_list is None else np.asarray(on_list, bool)
    return _Prepared(y, np.asarray(s, float), on_list, probabilistic).metrics(_w(y, w))


class _Prepared:
    """One score's sort work, done once for all bootstrap replicates: the index of each
    row's distinct value, its decile, the list; the positives apart (they are few, so the
    per-value sums over them are cheap)."""

    def __init__(self, y: np.ndarray, s: np.ndarray, on_list: np.ndarray, prob: bool):
        self.y, self.s, self.prob = y, s, prob
        u, self.inv = np.unique(s, return_inverse=True)
        self.nu = len(u)
        order = np.argsort(s, kind="stable")
        self.decile = np.empty(len(s), int)
        self.decile[order] = np.arange(len(s)) * 10 // max(len(s), 1)
        self.pos_idx = np.flatnonzero(y == 1)
        self.inv_pos = self.inv[self.pos_idx]
        self.dec_pos = self.decile[self.pos_idx]
        self.f_list = on_list.astype(float)
        self.hit_pos = on_list[self.pos_idx].astype(float)
        self.s2 = s * s

    def metrics(self, w: np.ndarray) -> dict:
        wp = w[self.pos_idx]
        pos = np.bincount(self.inv_pos, wp, self.nu)
        tot = np.bincount(self.inv, w, self.nu)
        neg = tot - pos
        P, N = pos.sum(), neg.sum()
        below = np.cumsum(neg) - neg
        out = {"roc_auc": float(pos @ (below + 0.5 * neg) / (P * N)) if P and N else np.nan}
        pr, tr = pos[::-1], tot[::-1]  # highest score first
        prec = np.cumsum(pr) / np.maximum(np.cumsum(tr), 1e-12)
        out["pr_auc"] = float(pr @ prec / P) if P else np.nan
        hits, n_list = float(wp @ self.hit_pos), float(w @ self.f_list)
        out["precision_at_list"] = hits / n_list if n_list else np.nan
        out["recall_at_list"] = hits / P if P else np.nan
        if self.prob:
            W = w.sum()
            # sum w (s - y)^2 = sum w s^2 - 2 sum_pos w s + sum_pos w  (y is 0/1)
            sp = self.s[self.pos_idx]
            out["brier"] = float((w @ self.s2 - 2 * (wp @ sp) + wp.sum()) / W)
            pp = np.bincount(self.decile, w * self.s, 10)
            oo = np.bincount(self.dec_pos, wp, 10)
            out["ece"] = float(np.abs(pp - oo).sum() / W)
        return out


def bootstrap(
    y: np.ndarray,
    scores: dict[str, np.ndarray],
    lists: dict[str, np.ndarray],
    probabilistic: dict[str, bool],
    n_boot: int = 500,
    seed: int = 0,
    level: float = 0.95,
    reference: str | None = None,
) -> pd.DataFrame:
    """Point estimates and percentile confidence intervals of every metric of every score,
    from one shared set of Poisson bootstrap weights (so the models are compared on the
    same replicates). One row per score and metric: ``estimate``, ``lo``, ``hi``.

    With ``reference`` (one of the scores), each row also holds the paired difference
    ``diff`` = reference's metric minus this score's, and its interval ``diff_lo``,
    ``diff_hi`` from the same replicates (NaN on the reference's own rows). Two models
    scored on the same pupils share most of their sampling noise: the interval of the
    difference is the honest test of "better than", far narrower than two overlapping
    marginal intervals suggest."""
    rng = np.random.default_rng(seed)
    y = np.asarray(y)
    prep = {
        n: _Prepared(y, np.asarray(s, float), lists[n], probabilistic[n]) for n, s in scores.items()
    }
    points = {n: p.metrics(np.ones(len(y))) for n, p in prep.items()}
    reps: dict[str, list[dict]] = {n: [] for n in prep}
    for _ in range(n_boot):
        w = rng.poisson(1.0, len(y)).astype(float)
        for n, p in prep.items():
            reps[n].append(p.metrics(w))
    a = (1 - level) / 2

    def interval(r: np.ndarray) -> tuple[float, float]:
        r = r[~np.isnan(r)]
        if not len(r):
            return float("nan"), float("nan")
        return float(np.quantile(r, a)), float(np.quantile(r, 1 - a))

    rows = []
    for n, pt in points.items():
        for k, v in pt.items():
            r = np.array([d[k] for d in reps[n]], float)
            lo, hi = interval(r)
            row = {"model": n, "metric": k, "estimate": v, "lo": lo, "hi": hi}
            if reference is not None:
                diff = dlo = dhi = float("nan")
                if n != reference and k in points[reference]:
                    ref = np.array([d[k] for d in reps[reference]], float)
                    diff = points[reference][k] - v
                    dlo, dhi = interval(ref - r)
                row |= {"diff": diff, "diff_lo": dlo, "diff_hi": dhi}
            rows.append(row)
    return pd.DataFrame(rows)


def bias_audit(
    frame: pd.DataFrame,
    label: str,
    on_list: np.ndarray,
    groups: list[str],
    reference: dict[str, str] | None = None,
    band: tuple[float, float] = (0.8, 1.25),
) -> pd.DataFrame:
    """False-negative rate, false-discovery rate and precision of the list per level of
    each group column, with their ratio to the reference level (default: the largest
    level). ``outside`` marks a ratio outside ``band``; small levels are kept, with their
    counts, so a reader can judge them."""
    reference = reference or {}
    y = frame[label].to_numpy() == 1
    rows = []
    for g in groups:
        col = np.asarray(frame[g].astype(object).fillna("不详").map(str).to_numpy(), dtype=str)
        levels, counts = np.unique(col, return_counts=True)
        ref = reference.get(g) or levels[np.argmax(counts)]
        stats = {}
        for lv in levels:
            m = col == lv
            pos, lst = int((y & m).sum()), int((on_list & m).sum())
            hits = int((y & on_list & m).sum())
            stats[lv] = {
                "n": int(m.sum()),
                "positives": pos,
                "listed": lst,
                "hits": hits,
                "fnr": (pos - hits) / pos if pos else float("nan"),
                "fdr": (lst - hits) / lst if lst else float("nan"),
                "precision": hits / lst if lst else float("nan"),
            }
        for lv, st in stats.items():
            row = {"group": g, "level": lv, "reference": ref, **st}
            for k in ("fnr", "fdr", "precision"):
                base = stats[ref][k]
                row[f"{k}_ratio"] = st[k] / base if base and not np.isnan(base) else float("nan")
            ratios = [row[f"{k}_ratio"] for k in ("fnr", "fdr", "precision")]
            row["outside"] = any(not np.isnan(r) and not (band[0] <= r <= band[1]) for r in ratios)
            rows.append(row)
    return pd.DataFrame(rows)
