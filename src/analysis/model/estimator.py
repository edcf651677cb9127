"""The risk model, shaped like a scikit-learn classifier: ``RiskModel(...)``, ``fit(X, y,
period=None)``, ``predict_proba``, fitted attributes ending in ``_``.

**What it is.** Two models on the same features, stacked in log-odds:

* gradient boosting (LightGBM; its exact additive contributions, TreeSHAP, give each
  child's reasons), its size chosen on held-out rows: each ``num_leaves`` candidate grows
  until the held-out log-loss stops falling (early stopping), and the best one is kept;
* a penalised logistic regression (L2) on the standardised features (missing values: the
  median and an indicator; categories: one column each), which does better than trees on
  tables where the signal is smooth and additive, and worse where it is not.

The two margins are combined on the held-out rows, ``logit p = b + w_boost · z_boost +
w_linear · z_linear`` (a logistic fit with weights kept positive and lightly penalised, see
:func:`stack_weights`), which also calibrates the probabilities. On five public tables
this combination was never more than 0.003 AUC below the better of plain logistic
regression and scikit-learn's HistGradientBoosting on the same split
(``benchmarks/bench_model_public.py``; ``docs/model.md``).

**Held-out rows.** With a ``period`` (terms, years, dates, anything :func:`ordered_periods`
can order), the models are fit on every period but the last and the stacking, the early
stopping and the choice of size are done on the last: the rate of the label drifts
(dropout falls from year to year), and the most recent period brings the probabilities to
its level. Without one, a stratified share of the rows (``holdout``, drawn by a hash of each row's
values, so in any row order the same) is held out for
those choices, and the two models are then refit on every row with the rounds chosen.
Either way every choice is made on the training data alone, so a validation that calls
``fit`` once per origin is nested.

**Negative sampling**, only when positives are rare: with ``negative_share="auto"``, when
fewer than 3 % of the fitting rows are positive, the negatives are sampled down so that
3 % of the rows kept are positive (every positive, and each negative with a weight of one
over the share kept). The dropout table has 0.3 % positives: a tenth of the negatives lose
almost nothing and fit five times faster. The held-out rows are never sampled, so the
stacking undoes the weighting. The repr and :meth:`RiskModel.summary` say what was done.

**Categories.** Text and category columns are categories: LightGBM splits on them
natively; the logistic part has a column per category seen in training. A category not
seen in training counts as missing.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from analysis.model.inputs import as_frame, binary_label, categories_of, ordered_periods

#: Below this share of positives among the fitting rows, ``negative_share="auto"`` samples
#: the negatives so that this share of the rows kept are positive.
RARE = 0.03


def negative_share_for(prevalence: float, target: float = RARE) -> float:
    """The share of negatives kept so that ``target`` of the rows kept are positive; 1 (keep
    all) when positives are not rarer than that.

    >>> round(negative_share_for(0.003), 3), negative_share_for(0.3)
    (0.097, 1.0)
    """
    if not 0 < prevalence < target:
        return 1.0
    return min(1.0, prevalence / (1 - prevalence) * (1 - target) / target)


def row_hash(rows: pd.DataFrame, seed: int) -> np.ndarray:
    """A number in [0, 1) per row from the row's own values (and ``seed``): the same row
    gets the same number in any table, in any order. Identical rows (a person-year copied
    into several years, say) get different numbers by their occurrence, so a hash-chosen
    sample splits them as a random one would instead of keeping all copies on one side.

    >>> h = row_hash(pd.DataFrame({"x": [1, 2]}), 0)
    >>> bool(((h >= 0) & (h < 1)).all()), bool(row_hash(pd.DataFrame({"x": [2]}), 0)[0] == h[1])
    (True, True)
    >>> d = row_hash(pd.DataFrame({"x": [5, 5]}), 0)
    >>> bool(d[0] != d[1])
    True
    """
    key = f"{seed:016d}"[-16:]
    h = pd.util.hash_pandas_object(rows, index=False, hash_key=key).to_numpy()
    occurrence = pd.Series(h).groupby(h).cumcount().to_numpy()
    if occurrence.any():
        pair = pd.DataFrame({"h": h, "k": occurrence})
        h = pd.util.hash_pandas_object(pair, index=False, hash_key=key).to_numpy()
    return h / 2.0**64


def sample_negatives(h: np.ndarray, y: np.ndarray, share: float) -> tuple[np.ndarray, np.ndarray]:
    """Positions of every positive row and of a ``share`` of the others, and their weights
    (1, and 1/share), keeping each class's total weight.

    The rows are chosen, and ordered, by their hash ``h`` (:func:`row_hash` of the
    features, label and period), not by their position, even when all are kept: a table
    sorted by a salted identifier differs from one data folder to the next, and LightGBM's
    bagging draws rows by position. So the same records give the same model wherever they
    are run.

    >>> h = row_hash(pd.DataFrame({"x": range(1000)}), 0)
    >>> y = np.r_[np.ones(10, int), np.zeros(990, int)]
    >>> pos, w = sample_negatives(h, y, 0.1)
    >>> int(y[pos].sum()), 60 < len(pos) < 150, float(w[y[pos] == 0][0])
    (10, True, 10.0)
    """
    keep = np.flatnonzero((y == 1) | (h < share))
    keep = keep[np.lexsort((y[keep], h[keep]))]
    return keep, np.where(y[keep] == 1, 1.0, 1.0 / min(share, 1.0))


def stratified_holdout(h: np.ndarray, y: np.ndarray, share: float) -> np.ndarray:
    """A mask of ``share`` of the rows of each class (at least one of each), those of the
    smallest hash ``h`` (:func:`row_hash`): the same rows whatever their order.

    >>> y = np.r_[np.ones(8, int), np.zeros(32, int)]
    >>> m = stratified_holdout(row_hash(pd.DataFrame({"x": range(40)}), 0), y, 0.25)
    >>> int(m[y == 1].sum()), int(m[y == 0].sum())
    (2, 8)
    """
    held = np.zeros(len(y), bool)
    for cls in (0, 1):
        idx = np.flatnonzero(y == cls)
        take = min(len(idx) - 1, max(1, round(share * len(idx))))
        held[idx[np.argsort(h[idx], kind="stable")[:take]]] = True
    return held


def resolve_share(negative_share: float | str, prevalence: float) -> float:
    """The share of negatives to keep: :func:`negative_share_for` the prevalence when
    ``"auto"``, else the share asked for.

    >>> resolve_share("auto", 0.3), resolve_share(0.5, 0.3)
    (1.0, 0.5)
    """
    return negative_share_for(prevalence) if negative_share == "auto" else float(negative_share)


def fingerprint(frame: pd.DataFrame) -> str:
    """A SHA-256 of a data frame's contents (row order included), to name the data a model
    was trained on.

    >>> df = pd.DataFrame({"a": [1, 2]})
    >>> fingerprint(df) == fingerprint(df.copy()) != fingerprint(df[::-1])
    True
    """
    h = hashlib.sha256()
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    h.update(",".join(map(str, frame.columns)).encode())
    return h.hexdigest()


def stack_weights(Z: np.ndarray, y: np.ndarray, penalty: float = 1.0) -> tuple[np.ndarray, float]:
    """Weights (not negative) and intercept of ``logit p = b + Z w``, by penalised maximum
    likelihood on held-out rows: the log-loss plus ``penalty / 2 · |w|²``.

    Why not a plain logistic regression: on a small held-out set that the margins separate
    perfectly, the unpenalised weights run off to infinity (a weight of 200 was seen on a
    100-row holdout), and a negative weight would make a feature's contribution point the
    wrong way in a child's reasons. On a large held-out set (a term of the dropout table)
    the penalty is negligible and this is Platt scaling of the two margins.

    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=(5000, 2)); y = (rng.random(5000) < 1 / (1 + np.exp(-z[:, 0]))).astype(int)
    >>> w, b = stack_weights(z, y)
    >>> bool(0.9 < w[0] < 1.1 and w[1] < 0.1 and abs(b) < 0.1)
    True
    """
    from scipy.optimize import minimize
    from scipy.special import expit

    y = np.asarray(y, float)
    k = Z.shape[1]

    def loss(theta):
        b, w = theta[0], theta[1:]
        z = b + Z @ w
        p = expit(z)
        f = np.logaddexp(0, z).sum() - y @ z + penalty / 2 * w @ w
        g = p - y
        return f, np.r_[g.sum(), Z.T @ g + penalty * w]

    start = np.r_[np.log(max(y.mean(), 1e-6) / max(1 - y.mean(), 1e-6)), np.full(k, 1.0 / k)]
    bounds = [(None, None)] + [(0, None)] * k
    res = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds)
    return res.x[1:].astype(float), float(res.x[0])


class Design:
    """The logistic part's design matrix, built so that each column belongs to one feature
    (``groups_``) and every column is centred on the training rows: a numeric feature is
    standardised after its missing values take the median (plus an indicator column when
    training had missing values); a categorical one has an indicator per category seen.
    So ``coef · column``, summed over a feature's columns, is that feature's exact
    additive contribution to the log-odds, and the intercept is the base.

    >>> X = pd.DataFrame({"a": [1.0, 2.0, None, 4.0], "c": ["u", "v", "u", None]})
    >>> d = Design().fit(X, {"c": ["u", "v"]})
    >>> d.names_
    ['a', 'a (missing)', 'c=u', 'c=v']
    >>> bool(np.allclose(d.transform(X).mean(axis=0), 0))
    True
    """

    def fit(self, X: pd.DataFrame, categories: dict) -> Design:
        self.fit_transform(X, categories)
        return self

    def fit_transform(self, X: pd.DataFrame, categories: dict) -> np.ndarray:
        """Learn the columns from ``X`` and return its matrix (built once)."""
        self.columns_ = list(X.columns)
        self.categories_ = categories
        self.parts_: list[tuple] = []
        names, groups, raw = [], [], []
        for j, c in enumerate(self.columns_):
            if c in categories:
                for v in categories[c]:
                    self.parts_.append(("cat", c, v))
                    names.append(f"{c}={v}")
                    groups.append(j)
                continue
            x = X[c].to_numpy(dtype=float, na_value=np.nan)
            miss = np.isnan(x)
            med = float(np.nanmedian(x)) if (~miss).any() else 0.0
            self.parts_.append(("num", c, med))
            names.append(c)
            groups.append(j)
            if miss.any():
                self.parts_.append(("miss", c, None))
                names.append(f"{c} (missing)")
                groups.append(j)
        self.names_, self.groups_ = names, np.asarray(groups)
        raw = self._raw(X)
        self.mean_ = raw.mean(axis=0)
        sd = raw.std(axis=0)
        self.scale_ = np.where(sd > 0, sd, 1.0)
        return (raw - self.mean_) / self.scale_

    def _raw(self, X: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(X), len(self.parts_)))
        for k, (kind, c, v) in enumerate(self.parts_):
            if kind == "cat":
                out[:, k] = (X[c] == v).fillna(False).to_numpy(dtype=float)
            else:
                x = X[c].to_numpy(dtype=float, na_value=np.nan)
                out[:, k] = np.isnan(x) if kind == "miss" else np.where(np.isnan(x), v, x)
        return out

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        return (self._raw(X) - self.mean_) / self.scale_


class RiskModel(ClassifierMixin, BaseEstimator):
    """Gradient boosting and logistic regression stacked in log-odds (see the module
    docstring), fit and calibrated on held-out rows.

    Parameters
    ----------
    num_leaves : the boosting sizes tried; the one with the lower held-out log-loss is kept.
    learning_rate : LightGBM's shrinkage.
    max_rounds : at most this many boosting rounds; fewer when the held-out log-loss has
        not improved for ``early_stopping_rounds``.
    min_data_in_leaf, lambda_l2 : LightGBM's smallest leaf (rows) and L2 penalty.
    linear : stack a logistic regression with the boosting (``False``: boosting alone,
        recalibrated on the held-out rows).
    C : the logistic part's inverse L2 penalty (on standardised columns).
    negative_share : ``"auto"`` (sample negatives only when positives are under 3 % of the
        fitting rows), a share in (0, 1] to keep, or 1.0 for none.
    holdout : without a period, the share of rows (stratified, random) held out to stop,
        choose and stack; unused with a period (the last period is held out).
    lightgbm : further LightGBM parameters (``feature_fraction``, ``bagging_fraction`` …).
    n_jobs : threads.
    random_state : LightGBM's seed, the hold-out draw and the key of the negative sample.

    Attributes
    ----------
    classes_ : array([0, 1]).
    feature_names_in_, n_features_in_ : the features, in order.
    categories_ : the categories of each categorical feature, as seen in training.
    booster_ : the LightGBM booster; ``num_leaves_``, ``n_rounds_``: its size.
    candidates_ : each size tried, with its rounds and held-out log-loss.
    linear_, design_ : the logistic part and its design matrix (None without ``linear``).
    weights_, intercept_ : the stacking weights (boosting, linear) and intercept.
    negative_share_ : the share of negatives kept to fit (1.0: all).
    prevalence_ : the share of positives among the fitting rows.
    trained_on_, calibrated_on_ : the periods fit on and held out (None without a period).
    fingerprint_ : a SHA-256 of the training data.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"x": rng.normal(size=4000), "school": rng.choice(list("abc"), 4000)})
    >>> y = (rng.random(4000) < 1 / (1 + np.exp(1 - 2 * X["x"] - (X["school"] == "a")))).astype(int)
    >>> m = RiskModel(num_leaves=(7,)).fit(X, y)
    >>> m.categories_
    {'school': ['a', 'b', 'c']}
    >>> p = m.predict_proba(X)[:, 1]
    >>> bool(abs(p.mean() - y.mean()) < 0.02), m.negative_share_
    (True, 1.0)
    >>> c = m.contributions(X.head(3))
    >>> bool(np.allclose(c.sum(axis=1), m.decision_function(X.head(3))))
    True
    """

    def __init__(
        self,
        *,
        num_leaves: Sequence[int] = (7, 31),
        learning_rate: float = 0.05,
        max_rounds: int = 2000,
        early_stopping_rounds: int = 50,
        min_data_in_leaf: int = 20,
        lambda_l2: float = 10.0,
        linear: bool = True,
        C: float = 1.0,
        negative_share: float | str = "auto",
        holdout: float = 0.25,
        lightgbm: dict | None = None,
        n_jobs: int = 2,
        random_state: int = 0,
    ):
        self.num_leaves = num_leaves
        self.learning_rate = learning_rate
        self.max_rounds = max_rounds
        self.early_stopping_rounds = early_stopping_rounds
        self.min_data_in_leaf = min_data_in_leaf
        self.lambda_l2 = lambda_l2
        self.linear = linear
        self.C = C
        self.negative_share = negative_share
        self.holdout = holdout
        self.lightgbm = lightgbm
        self.n_jobs = n_jobs
        self.random_state = random_state

    # -- fitting -------------------------------------------------------------------------

    def _check_params(self) -> None:
        ns = self.negative_share
        if not (ns == "auto" or (isinstance(ns, int | float) and 0 < ns <= 1)):
            raise ValueError(f"negative_share: 'auto' or a share in (0, 1], not {ns!r}")
        leaves = (self.num_leaves,) if isinstance(self.num_leaves, int) else self.num_leaves
        if not leaves or not all(isinstance(v, int | np.integer) and v >= 2 for v in leaves):
            raise ValueError(f"num_leaves: whole numbers of 2 or more, not {self.num_leaves!r}")
        if not 0 < self.holdout < 1:
            raise ValueError(f"holdout: a share in (0, 1), not {self.holdout!r}")

    def _params(self, leaves: int) -> dict:
        return {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            "num_leaves": int(leaves),
            "min_data_in_leaf": self.min_data_in_leaf,
            "lambda_l2": self.lambda_l2,
            "feature_fraction": 0.8,
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "num_threads": self.n_jobs,
            "deterministic": True,
            "force_row_wise": True,
            "verbose": -1,
            **(self.lightgbm or {}),
            "seed": self.random_state,
        }

    def _input(self, X: pd.DataFrame):
        """The features as LightGBM reads them: a float matrix, or a frame whose
        categorical columns carry the training categories (unseen ones become missing)."""
        cols = list(self.feature_names_in_)
        if not self.categories_:
            return X[cols].to_numpy(dtype=np.float64, na_value=np.nan)
        out = {}
        for c in cols:
            if c in self.categories_:
                v = X[c].astype(object)
                seen = v.isin(self.categories_[c])
                out[c] = pd.Categorical(v.where(seen), categories=self.categories_[c])
            else:
                out[c] = X[c].to_numpy(dtype=np.float64, na_value=np.nan)
        return pd.DataFrame(out, index=X.index)

    def _features(self, X) -> pd.DataFrame:
        """``X``'s features (extra columns are ignored), refusing a missing one."""
        check_is_fitted(self)
        X = as_frame(X)
        missing = [c for c in self.feature_names_in_ if c not in X.columns]
        if missing:
            raise ValueError(f"X lacks the model's feature(s) {', '.join(map(repr, missing[:10]))}")
        return X

    def fit(self, X, y, period=None) -> RiskModel:
        """Fit on ``X`` (one row per unit, or per unit and period) and the 0/1 label ``y``.

        Parameters
        ----------
        X : pandas.DataFrame of features (numeric, boolean, text or category columns), or
            a 2-D array.
        y : the label, 0/1 or True/False, no missing values.
        period : optional, aligned with ``X``: the period of each row (numbers, dates or
            text such as ``2019-1``). The last period is held out to stop, choose, stack
            and calibrate; the models are fit on the others.

        Returns
        -------
        RiskModel
            ``self``, fitted.
        """
        self._check_params()
        X = as_frame(X)
        y = binary_label(y, getattr(y, "name", None) or "y")
        if len(y) != len(X):
            raise ValueError(f"X has {len(X)} rows and y {len(y)}: they must align")
        if not (y == 1).any() or not (y == 0).any():
            raise ValueError("y holds one class only: a risk model needs both 0 and 1")
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        self.classes_ = np.array([0, 1])
        self.categories_ = categories_of(X)
        X = X.reset_index(drop=True)
        per = self._periods(y, period)
        key = X.assign(_y=y) if per is None else X.assign(_y=y, _p=per.to_numpy())
        self.fingerprint_ = fingerprint(key)
        # One hash of every row serves the hold-out and each sample of negatives.
        h = row_hash(key, self.random_state)
        if per is None:
            held = stratified_holdout(h, y, self.holdout)
        else:
            held = (per == self.calibrated_on_[0]).to_numpy()
        fit_rows = np.flatnonzero(~held)
        booster, linear, design = self._fit_parts(X, y, fit_rows, h, choose_on=held)
        self._stack(X, y, held, booster, linear, design)
        if per is None:  # refit on every row with the size chosen
            rounds = max(1, round(self.n_rounds_ / (1 - self.holdout)))
            booster, linear, design = self._fit_parts(X, y, np.arange(len(y)), h, rounds=rounds)
        self.booster_, self.linear_, self.design_ = booster, linear, design
        return self

    def _periods(self, y: np.ndarray, period) -> pd.Series | None:
        """The periods as a series (None without), checked; sets ``trained_on_`` and
        ``calibrated_on_`` (the last period, held out)."""
        if period is None:
            self.trained_on_ = self.calibrated_on_ = None
            return None
        name = getattr(period, "name", None) or "period"
        per = pd.Series(
            np.asarray(period) if not isinstance(period, pd.Series) else period.to_numpy()
        )
        if len(per) != len(y):
            raise ValueError(f"period has {len(per)} values and X {len(y)} rows: they must align")
        if per.isna().any():
            raise ValueError(f"period {name!r} has {int(per.isna().sum())} missing value(s)")
        periods = ordered_periods(per, name)
        if len(periods) < 2:
            raise ValueError(
                f"period {name!r} has one value: the model needs two at least (it fits on "
                "every period but the last and calibrates on the last); pass period=None "
                "to hold out random rows instead"
            )
        if not y[(per == periods[-1]).to_numpy()].any():
            raise ValueError(
                f"period {name!r}: the last period ({periods[-1]}) has no positive label to "
                "calibrate on"
            )
        self.trained_on_, self.calibrated_on_ = periods[:-1], [periods[-1]]
        return per

    def _fit_parts(self, X, y, rows, h, *, choose_on=None, rounds=None):
        """The boosting and the logistic part fit on ``rows`` (negatives sampled as the
        parameters say, by the rows' hashes ``h``). With ``choose_on`` (held-out rows), each
        size is grown with early stopping and the best is kept; with ``rounds``, the chosen
        size is refit."""
        import lightgbm as lgb

        if choose_on is not None:
            self.prevalence_ = float(y[rows].mean())
            self.negative_share_ = resolve_share(self.negative_share, self.prevalence_)
        pos, w = sample_negatives(h[rows], y[rows], self.negative_share_)
        rows = rows[pos]
        fit_on = X.iloc[rows]
        data = self._input(fit_on)
        train = lgb.Dataset(data, y[rows], weight=w, free_raw_data=False)
        if choose_on is not None:
            valid = lgb.Dataset(self._input(X[choose_on]), y[choose_on], reference=train)
            leaves = (self.num_leaves,) if isinstance(self.num_leaves, int) else self.num_leaves
            tried, best = [], None
            for n in leaves:
                ev: dict = {}
                b = lgb.train(
                    {**self._params(n), "metric": "binary_logloss"},
                    train,
                    num_boost_round=self.max_rounds,
                    valid_sets=[valid],
                    callbacks=[
                        lgb.early_stopping(self.early_stopping_rounds, verbose=False),
                        lgb.record_evaluation(ev),
                    ],
                )
                it = b.best_iteration or self.max_rounds
                loss = float(ev["valid_0"]["binary_logloss"][it - 1])
                tried.append({"num_leaves": int(n), "rounds": int(it), "holdout_logloss": loss})
                if best is None or loss < best[0]:
                    best = (loss, n, it, b)
            _, self.num_leaves_, self.n_rounds_, booster = best
            self.num_leaves_, self.n_rounds_ = int(self.num_leaves_), int(self.n_rounds_)
            self.candidates_ = pd.DataFrame(tried)
            booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=self.n_rounds_))
        else:
            booster = lgb.train(self._params(self.num_leaves_), train, num_boost_round=rounds)
        linear = design = None
        if self.linear:
            from sklearn.linear_model import LogisticRegression

            design = Design()
            linear = LogisticRegression(C=self.C, max_iter=5000)
            linear.fit(design.fit_transform(fit_on, self.categories_), y[rows], sample_weight=w)
        return booster, linear, design

    def _margins(self, X: pd.DataFrame, booster, linear, design) -> np.ndarray:
        z = [booster.predict(self._input(X), raw_score=True)]
        if linear is not None:
            z.append(linear.decision_function(design.transform(X)))
        return np.column_stack(z)

    def _stack(self, X, y, held, booster, linear, design) -> None:
        """The stacking weights and intercept, fit on the held-out rows: see
        :func:`stack_weights`."""
        Z = self._margins(X[held], booster, linear, design)
        self.weights_, self.intercept_ = stack_weights(Z, y[held])

    # -- using it ------------------------------------------------------------------------

    def decision_function(self, X) -> np.ndarray:
        """The calibrated log-odds of the label, per row."""
        X = self._features(X)
        Z = self._margins(X, self.booster_, self.linear_, self.design_)
        return self.intercept_ + Z @ self.weights_

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities of 0 and of 1 (columns in ``classes_`` order), per row."""
        from scipy.special import expit

        p = expit(self.decision_function(X))
        return np.column_stack([1 - p, p])

    def predict(self, X) -> np.ndarray:
        """1 where the probability is at least one half. A list is rarely cut there: rank
        by ``predict_proba(X)[:, 1]`` and take the list's size."""
        return (self.decision_function(X) >= 0).astype(int)

    def contributions(self, X) -> pd.DataFrame:
        """Each feature's exact additive contribution to the calibrated log-odds, per row
        (the boosting's TreeSHAP values and the logistic part's coefficient times value,
        each times its stacking weight); with ``_base``, they sum to
        :meth:`decision_function`."""
        X = self._features(X)
        feats = list(self.feature_names_in_)
        c = self.booster_.predict(self._input(X), pred_contrib=True)
        out = c[:, :-1] * self.weights_[0]
        base = c[:, -1] * self.weights_[0] + self.intercept_
        if self.linear_ is not None:
            terms = self.design_.transform(X) * self.linear_.coef_[0]
            lin = np.zeros((len(X), len(feats)))
            np.add.at(lin.T, self.design_.groups_, terms.T)
            out = out + lin * self.weights_[1]
            base = base + self.linear_.intercept_[0] * self.weights_[1]
        frame = pd.DataFrame(out, columns=feats, index=X.index)
        frame["_base"] = base
        return frame

    @property
    def feature_importances_(self) -> np.ndarray:
        """The boosting's total gain per feature, as a share of the total."""
        check_is_fitted(self)
        g = self.booster_.feature_importance("gain")
        return g / g.sum() if g.sum() > 0 else g

    def summary(self) -> pd.DataFrame:
        """What the fit chose and did, one row each (what, value): a table to print."""
        check_is_fitted(self)
        rows = [
            ("boosting", f"LightGBM, {self.num_leaves_} leaves × {self.n_rounds_} rounds "
                         f"(sizes tried: {self._tried()})"),
            ("logistic part", "none" if self.linear_ is None else
             f"L2 (C={self.C:g}), {len(self.design_.names_)} columns"),
            ("stacking", self._weights_text()),
            ("negatives", self._negatives_text()),
            ("fit on", "every period but the last: " + _span(self.trained_on_)
             if self.trained_on_ is not None else
             f"all rows (sizes and stacking chosen on a {self.holdout:.0%} random holdout)"),
            ("held out", ", ".join(map(str, self.calibrated_on_))
             if self.calibrated_on_ is not None else f"{self.holdout:.0%} of rows, stratified"),
            ("features", f"{self.n_features_in_} ({len(self.categories_)} categorical)"),
            ("data", self.fingerprint_[:12]),
        ]  # fmt: skip
        return pd.DataFrame(rows, columns=["what", "value"])

    def _tried(self) -> str:
        return ", ".join(
            f"{r.num_leaves}: {r.rounds} rounds, log-loss {r.holdout_logloss:.4f}"
            for r in self.candidates_.itertuples()
        )

    def _weights_text(self) -> str:
        w = self.weights_
        lin = f" + {w[1]:.3f} × logistic" if len(w) > 1 else ""
        return f"logit p = {self.intercept_:.3f} + {w[0]:.3f} × boosting{lin}"

    def _negatives_text(self) -> str:
        s = self.negative_share_
        if s >= 1:
            return f"all kept (positives {self.prevalence_:.1%} of the fitting rows)"
        why = (
            f"positives {self.prevalence_:.2%} < {RARE:.0%}"
            if self.negative_share == "auto"
            else "as asked"
        )
        return f"{s:.1%} kept ({why}), weighted back"

    def __repr__(self, N_CHAR_MAX: int = 700) -> str:
        params = super().__repr__(N_CHAR_MAX)
        if not hasattr(self, "booster_"):
            return params
        per = (
            f"fit on {_span(self.trained_on_)}, held out {self.calibrated_on_[0]}"
            if self.trained_on_ is not None
            else "fit on all rows"
        )
        lin = " + logistic" if self.linear_ is not None else ""
        return (
            f"{params[:-1]}{', ' if params[-2] != '(' else ''}"
            f"fitted: boosting {self.num_leaves_} leaves × {self.n_rounds_} rounds{lin}; "
            f"negatives {self._negatives_text()}; {per}; data {self.fingerprint_[:12]})"
        )

    # -- storage -------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Pickle the fitted model, atomically (a failed write leaves the old file)."""
        path = Path(path)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(pickle.dumps(self))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> RiskModel:
        """A model saved by :meth:`save`."""
        obj = pickle.loads(Path(path).read_bytes())
        if not isinstance(obj, cls):
            raise TypeError(f"{path} holds a {type(obj).__name__}, not a RiskModel")
        return obj


def _span(periods: list) -> str:
    return str(periods[0]) + ("…" + str(periods[-1]) if len(periods) > 1 else "")
