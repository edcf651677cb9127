"""Train a calibrated dropout-risk model and validate it over time, on any feature table.

The API works on any table with a binary label, a time column (terms, or anything that
sorts) and group columns, so a researcher can use it on other data::

    from analysis.model.train import fit, rolling_validation
    result = rolling_validation(frame, features=[...], label="dropout", time="term",
                                group="county_code", capacity={"530402": 320, ...},
                                tiebreak="person_id")
    result.metrics        # every model × metric × test period, with bootstrap CIs
                          # and the paired difference from the main model (diff, CI)

**Model.** Gradient boosting (LightGBM, chosen over scikit-learn's HistGradientBoosting
for its exact additive contributions, TreeSHAP, which give each child's reasons) with
shallow trees and many pupils per leaf: dropouts are rare (0.1-0.5 % a term), so a leaf
must hold enough of them to mean something.

**Calibration.** The dropout rate falls from year to year, so a model fit on earlier
terms over-predicts the next one. The boosting model is fit on the training periods but
the last, and a logistic recalibration of its margin (Platt scaling: slope and intercept)
on that last period, out of time, brings its probabilities to the most recent rate.

**Rolling origin.** For each of the last ``n_test`` labelled periods, every model is fit
on the periods before it only (its labels were all known when the test period started)
and scored on it; the test period never overlaps a training label.
"""

from __future__ import annotations

import hashlib
import pickle
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.model import metrics as M


def _settings():
    """The model section of the configuration (``resources/config.yaml``): LightGBM's
    parameters, the rounds and the share of negatives kept. 7 leaves and 150 rounds beat 15
    leaves and 300 rounds by about 0.01 AUC on the yuxi prefecture (the deeper model
    over-fits the early years, when dropout was five times as common); 4 leaves, more rounds,
    a slower rate, bigger leaves or no subsampling of the negatives changed the AUC by less
    than its noise (about 0.015 with 120 dropouts a term). With 0.3 % positives, a tenth of
    the negatives lose almost nothing and fit five times faster; the recalibration on the
    full last period undoes the weighting. See the note of issue 5."""
    from analysis.config import default_config

    return default_config().model


def _sample(
    frame: pd.DataFrame, columns: list[str], label: str, share: float, seed: int
) -> tuple[pd.DataFrame, np.ndarray]:
    """Every positive row and a ``share`` of the others, with weights (1 and 1/share) that
    keep the sum of each class.

    The rows are chosen and ordered by a hash of their ``columns`` (features, label,
    period), not by their position: the feature table is sorted by ``person_id``, a salted
    hash that differs from one data folder to the next, and LightGBM's bagging draws rows by
    position. So the same records give the same model and scores, wherever and
    however often they are run."""
    y = frame[label].to_numpy()
    key = f"{seed:016d}"[-16:]
    h = pd.util.hash_pandas_object(frame[columns], index=False, hash_key=key).to_numpy()
    keep = (y == 1) | (h / 2.0**64 < share)  # h / 2**64 is uniform on [0, 1)
    order = np.lexsort((y[keep], h[keep]))  # by hash, then label
    sub = frame[keep].iloc[order]
    w = np.where(sub[label].to_numpy() == 1, 1.0, 1.0 / min(share, 1.0))
    return sub, w


def fingerprint(frame: pd.DataFrame) -> str:
    """A SHA-256 of a data frame's contents (row order included), to name the data a model was
    trained on.

    >>> df = pd.DataFrame({"a": [1, 2]})
    >>> fingerprint(df) == fingerprint(df.copy()) != fingerprint(df[::-1])
    True
    """
    h = hashlib.sha256()
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    h.update(",".join(map(str, frame.columns)).encode())
    return h.hexdigest()


@dataclass
class RiskModel:
    """A fitted risk model: the LightGBM booster (as its text), the Platt recalibration of its
    margin, the features in order, and what it was trained on.

    Examples
    --------
    >>> m = RiskModel.load(prefecture.model_pickle)
    >>> m  # doctest: +ELLIPSIS
    RiskModel(LightGBM, 150 rounds × 7 leaves, 44 features, trained on ..., calibrated on ..., data ...)
    """

    booster_text: str
    features: list[str]
    slope: float
    intercept: float
    trained_on: list[str]
    calibrated_on: list[str]
    fingerprint: str
    params: dict = field(default_factory=dict)
    _booster: object = field(default=None, repr=False, compare=False)

    def __repr__(self) -> str:
        p = self.params
        trained = self.trained_on[0] + (
            "…" + self.trained_on[-1] if len(self.trained_on) > 1 else ""
        )
        return (
            f"RiskModel(LightGBM, {p.get('rounds', '?')} rounds × {p.get('num_leaves', '?')} "
            f"leaves, {len(self.features)} features, trained on {trained}, calibrated on "
            f"{', '.join(self.calibrated_on)}, data {self.fingerprint[:12]})"
        )

    @property
    def booster(self):
        if self._booster is None:
            import lightgbm as lgb

            self._booster = lgb.Booster(model_str=self.booster_text)
        return self._booster

    def margin(self, frame: pd.DataFrame) -> np.ndarray:
        """The booster's log-odds (before recalibration)."""
        return self.booster.predict(_matrix(frame, self.features), raw_score=True)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of the label, per row.

        >>> m = RiskModel.load(prefecture.model_pickle)
        >>> p = m.predict(pd.read_parquet(prefecture.features).head(3))
        >>> bool(((p > 0) & (p < 1)).all())
        True
        """
        z = self.intercept + self.slope * self.margin(frame)
        return 1.0 / (1.0 + np.exp(-z))

    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Exact additive contributions (TreeSHAP, in log-odds of the calibrated model: the
        booster's times the recalibration slope) of each feature, per row; with the column
        ``_base``, they sum to the calibrated log-odds.

        >>> m = RiskModel.load(prefecture.model_pickle)
        >>> rows = pd.read_parquet(prefecture.features).head(3)
        >>> c = m.contributions(rows)
        >>> np.allclose(1 / (1 + np.exp(-c.sum(axis=1))), m.predict(rows))
        True
        """
        c = self.booster.predict(_matrix(frame, self.features), pred_contrib=True)
        out = pd.DataFrame(c[:, :-1] * self.slope, columns=self.features, index=frame.index)
        out["_base"] = c[:, -1] * self.slope + self.intercept
        return out

    def save(self, path: Path) -> None:
        """Pickle the model (the booster as text) atomically."""
        path = Path(path)
        tmp = path.with_suffix(path.suffix + ".tmp")
        state = {k: v for k, v in self.__dict__.items() if k != "_booster"}
        tmp.write_bytes(pickle.dumps(state))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> RiskModel:
        return cls(**pickle.loads(Path(path).read_bytes()))


def _matrix(frame: pd.DataFrame, features: list[str]) -> np.ndarray:
    return frame[features].to_numpy(dtype=np.float64, na_value=np.nan)


def _natural_key(value) -> tuple:
    """Text ordered by the numbers in it: 'term9' before 'term10', '2019-2' before '2020-1'."""
    parts = re.split(r"(\d+)", str(value))
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts if p)


def ordered_periods(values) -> list:
    """The distinct periods of ``values`` in time order: numbers and dates as such, text by
    the numbers in it (``term9`` before ``term10``; ``2019-1``, ``2019-2``, ``2020-1``).

    >>> ordered_periods(pd.Series(["term10", "term9", "term9"]))
    ['term9', 'term10']
    >>> ordered_periods(pd.Series([2020, 2019]))
    [2019, 2020]
    """
    uniq = pd.unique(pd.Series(values).dropna())
    if pd.api.types.is_numeric_dtype(pd.Series(uniq)) or pd.api.types.is_datetime64_any_dtype(
        pd.Series(uniq)
    ):
        return sorted(uniq.tolist())
    return sorted(uniq.tolist(), key=_natural_key)


def check_inputs(frame: pd.DataFrame, features: list[str], label: str, time: str) -> None:
    """Refuse, with a message naming the column, what would otherwise fail obscurely or give
    every row the same score: a missing column, a label that is not 0/1, a text feature."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    if time is None:
        raise ValueError("time: name the period column (the model fits on all periods but "
                         "the last and calibrates on the last)")  # fmt: skip
    missing = [c for c in (*features, label, time) if c not in frame.columns]
    if missing:
        raise ValueError(
            f"no column {', '.join(map(repr, missing))} in the frame "
            f"(its columns: {', '.join(map(str, frame.columns[:20]))})"
        )
    values = set(pd.unique(frame[label].dropna()).tolist())
    if not values <= {0, 1}:
        shown = ", ".join(map(repr, sorted(values, key=str)[:5]))
        raise ValueError(f"label {label!r} must be 0/1 or True/False; it holds {shown}")
    text = [
        c for c in features
        if not (pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]))
    ]  # fmt: skip
    if text:
        raise ValueError(
            f"feature {', '.join(map(repr, text))} is not numeric: code it as numbers "
            "(one column per category, or an ordinal) before fitting"
        )


def fit(
    frame: pd.DataFrame,
    features: list[str],
    label: str,
    time: str,
    params: dict | None = None,
    rounds: int | None = None,
    seed: int = 0,
    negative_share: float | None = None,
) -> RiskModel:
    """Fit the boosting model on every period of ``frame`` but the last and recalibrate
    it on the last (see the module docstring). Rows with a null label are ignored.

    Parameters
    ----------
    frame : one row per unit and period, with ``features``, the binary ``label`` and the
        period column ``time`` (anything that sorts).
    params, rounds, negative_share : LightGBM's parameters (over the configuration's),
        boosting rounds, and the share of negative rows kept to fit (weighted back);
        default: the configuration's ``model`` section.
    seed : LightGBM's seed and the key of the row sample.

    Returns
    -------
    RiskModel

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"t": np.repeat([1, 2, 3], 2000), "x": rng.normal(size=6000)})
    >>> df["y"] = (rng.random(6000) < 1 / (1 + np.exp(3 - 2 * df["x"]))).astype(int)
    >>> m = fit(df, ["x"], "y", "t")
    >>> m.trained_on, m.calibrated_on
    (['1', '2'], ['3'])
    >>> bool(m.predict(df.head(3)).max() < 1)
    True
    """
    import lightgbm as lgb
    from sklearn.linear_model import LogisticRegression

    cfg = _settings()
    rounds = cfg.rounds if rounds is None else rounds
    negative_share = cfg.negative_share if negative_share is None else negative_share
    check_inputs(frame, features, label, time)
    frame = frame[frame[label].notna()]
    periods = ordered_periods(frame[time])
    if len(periods) < 2:
        raise ValueError(f"need at least two periods of {time!r} to fit and calibrate")
    fit_on, cal_on = frame[frame[time].isin(periods[:-1])], frame[frame[time] == periods[-1]]
    p = {**cfg.lightgbm, **(params or {}), "seed": seed}
    sub, w = _sample(fit_on, [time, label, *features], label, negative_share, seed)
    booster = lgb.train(
        p,
        lgb.Dataset(_matrix(sub, features), sub[label].to_numpy(int), weight=w),
        num_boost_round=rounds,
    )
    z = booster.predict(_matrix(cal_on, features), raw_score=True).reshape(-1, 1)
    y = cal_on[label].to_numpy(int)
    if y.sum() == 0:  # nothing to calibrate on: keep the booster's own scale
        slope, intercept = 1.0, 0.0
    else:
        lr = LogisticRegression(C=1e6, max_iter=1000).fit(z, y)
        slope, intercept = float(lr.coef_[0, 0]), float(lr.intercept_[0])
    return RiskModel(
        booster_text=booster.model_to_string(),
        features=list(features),
        slope=slope,
        intercept=intercept,
        trained_on=[str(x) for x in periods[:-1]],
        calibrated_on=[str(periods[-1])],
        fingerprint=fingerprint(frame[[time, label, *features]]),
        params=p | {"rounds": rounds, "negative_share": negative_share},
        _booster=booster,
    )


#: A baseline: (training rows, test rows) -> scores of the test rows, and whether the
#: score is a probability (Brier and calibration are shown only for those).
Baseline = tuple[Callable[[pd.DataFrame, pd.DataFrame], np.ndarray], bool]


def group_rate(group: str, label: str) -> Baseline:
    """The group's (school's, county's) rate of the label over the training periods (shrunk
    towards the overall rate with 1,000 pseudo-rows, so a small school does not top the list
    by chance), as a :data:`Baseline`.

    >>> score, is_probability = group_rate("g", "y")
    >>> train = pd.DataFrame({"g": ["a"] * 1000 + ["b"] * 1000, "y": [1] * 100 + [0] * 1900})
    >>> score(train, pd.DataFrame({"g": ["a", "b", "c"]})).round(3).tolist()
    [0.075, 0.025, 0.05]
    """

    def score(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
        t = train[train[label].notna()]
        overall = t[label].mean()
        g = t.groupby(group)[label].agg(["sum", "count"])
        rate = (g["sum"] + 1000 * overall) / (g["count"] + 1000)
        return test[group].map(rate).fillna(overall).to_numpy(float)

    return score, True


def logistic(features: list[str], label: str) -> Baseline:
    """Logistic regression on the standardised features (missing values: the median
    and an indicator), L2-penalised, fit on all training periods (negatives sampled as
    for the main model). Its probabilities are not recalibrated to the latest period: it
    is the plain alternative, as a researcher would first fit it."""

    def score(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        share = _settings().negative_share
        t, w = _sample(train[train[label].notna()], [*features, label], label, share, 0)
        pipe = make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True),
            StandardScaler(),
            LogisticRegression(C=1.0, max_iter=2000),
        )
        pipe.fit(_matrix(t, features), t[label].to_numpy(int), logisticregression__sample_weight=w)
        return pipe.predict_proba(_matrix(test, features))[:, 1]

    return score, True


def column(name: str) -> Baseline:
    """A column of the test rows taken as the score (no training): e.g. prior absence.

    >>> score, is_probability = column("days")
    >>> score(None, pd.DataFrame({"days": [3, None]})).tolist(), is_probability
    ([3.0, 0.0], False)
    """
    return (lambda train, test: test[name].fillna(0).to_numpy(float)), False


@dataclass
class Validation:
    """What :func:`rolling_validation` found.

    Attributes
    ----------
    predictions : one row per test row and model: the period, row keys, label, score, on the
        list or not.
    metrics : per period, model and metric: estimate and bootstrap interval, and the main
        model's paired advantage over it (``diff``, ``diff_lo``, ``diff_hi``).
    calibration : per period and decile, for the main model.
    bias : the main model's list on the last period, per audit group.

    Examples
    --------
    >>> v = Validation.load(prefecture.validation_dir)
    >>> v  # doctest: +ELLIPSIS
    Validation(2 test period(s) ...; 6 models; main gradient_boosting)
    >>> list(v.summary().columns)
    ['model', 'ROC-AUC', 'prec@list', 'recall@list', 'AUC gain']
    """

    predictions: pd.DataFrame
    metrics: pd.DataFrame
    calibration: pd.DataFrame
    bias: pd.DataFrame
    main: str = "gradient_boosting"
    time: str = "term"

    TABLES = ("metrics", "calibration", "bias", "predictions")

    def __repr__(self) -> str:
        periods = sorted(self.metrics[self.time].unique()) if len(self.metrics) else []
        models = list(dict.fromkeys(self.metrics["model"])) if len(self.metrics) else []
        return (
            f"Validation({len(periods)} test period(s) {', '.join(map(str, periods))}; "
            f"{len(models)} models; main {self.main})"
        )

    def summary(self, period=None) -> pd.DataFrame:
        """The table the command line prints: each model's ROC-AUC, precision and recall
        at the list on ``period`` (default: the last test period), each with its 95 %
        interval below it, and the main model's paired ROC-AUC gain over it."""
        from analysis.labels import label

        m = self.metrics
        period = period if period is not None else m[self.time].max()
        rows = []
        for name, g in m[m[self.time] == period].groupby("model", sort=False):
            g = g.set_index("metric")
            row = {"model": _label_or(label, "models", name, "short")}
            for k in ("roc_auc", "precision_at_list", "recall_at_list"):
                r = g.loc[k] if k in g.index else None
                row[_label_or(label, "metrics", k, "short")] = (
                    "" if r is None else f"{r.estimate:.3f}\n[{_short(r.lo)},{_short(r.hi)}]"
                )
            d = g.loc["roc_auc"] if "diff" in g.columns and "roc_auc" in g.index else None
            ok = d is not None and pd.notna(d["diff"])
            row[_label_or(label, "metrics", "auc_gain", "short")] = (
                f"{d['diff']:+.3f}\n[{_short(d['diff_lo'])},{_short(d['diff_hi'])}]" if ok else ""
            )
            rows.append(row)
        return pd.DataFrame(rows)

    def save(self, folder: Path) -> None:
        """The four tables as Parquet files in ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name in self.TABLES:
            getattr(self, name).to_parquet(folder / f"{name}.parquet", index=False)

    @classmethod
    def load(cls, folder: Path, main: str = "gradient_boosting", time: str = "term") -> Validation:
        """A validation saved by :meth:`save`."""
        folder = Path(folder)
        tables = {n: pd.read_parquet(folder / f"{n}.parquet") for n in cls.TABLES}
        return cls(**tables, main=main, time=time)


def _label_or(label, section: str, key: str, form: str) -> str:
    try:
        return label(section, key, form)
    except KeyError:
        return key


def _short(x: float) -> str:
    """Three decimals without the leading zero (``.792``, ``-.050``), so a table of
    intervals fits 80 columns."""
    return f"{x:.3f}".replace("0.", ".", 1)


def rolling_validation(
    frame: pd.DataFrame,
    features: list[str],
    label: str,
    time: str,
    group: str,
    capacity: dict,
    tiebreak: str | list[str],
    baselines: dict[str, Baseline] | None = None,
    audit_groups: list[str] | None = None,
    n_test: int = 4,
    n_boot: int = 500,
    keys: list[str] | None = None,
    seed: int = 0,
) -> Validation:
    """Rolling-origin validation of the main model and the baselines on the last ``n_test``
    labelled periods (see the module docstring).

    Parameters
    ----------
    frame : one row per unit and period, with ``features``, ``label``, ``time`` and ``group``.
    features, label, time, group : the columns.
    capacity : the list size of each value of ``group``, or a share (float) of the group's
        rows in each period.
    tiebreak : the column(s) ordering equal scores at a list's cut.
    baselines : name -> :data:`Baseline`, besides logistic regression.
    audit_groups : the columns of the bias audit (last period).
    n_test : test periods, one origin each; ``n_boot``: bootstrap replicates of the last
        (the earlier ones get a fifth); ``keys``: columns kept in the predictions.

    Returns
    -------
    Validation

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> df = pd.DataFrame({"t": np.repeat([1, 2, 3, 4], 3000), "x": rng.normal(size=12000),
    ...                    "g": rng.choice(["a", "b"], 12000)})
    >>> df["y"] = (rng.random(12000) < 1 / (1 + np.exp(3 - 2 * df["x"]))).astype(int)
    >>> df["id"] = np.arange(12000)
    >>> v = rolling_validation(df, ["x"], "y", "t", "g", 0.05, "id", n_test=2, n_boot=50)
    >>> sorted(v.metrics["t"].unique().tolist()), sorted(v.metrics["model"].unique())
    ([3, 4], ['gradient_boosting', 'logistic_regression'])
    """
    main = "gradient_boosting"
    check_inputs(frame, features, label, time)
    if group not in frame.columns:
        raise ValueError(f"no column {group!r} (the group each list is drawn within)")
    labelled = frame[frame[label].notna()]
    periods = ordered_periods(labelled[time])
    if len(periods) < n_test + 2:
        raise ValueError(
            f"{len(periods)} labelled periods: need {n_test + 2} for {n_test} test periods "
            "(two at least to fit and calibrate)"
        )
    baselines = {
        "logistic_regression": logistic(features, label),
        **(baselines or {}),
    }
    keys = keys or ([tiebreak] if isinstance(tiebreak, str) else list(tiebreak))
    preds, mets, cals = [], [], []
    bias = pd.DataFrame()
    for i, test_p in enumerate(periods[-n_test:]):
        train = labelled[labelled[time].isin(periods[: periods.index(test_p)])]
        test = labelled[labelled[time] == test_p].reset_index(drop=True)
        cap = _capacity(test, group, capacity)
        model = fit(train, features, label, time, seed=seed)
        scores = {main: model.predict(test)}
        prob = {main: True}
        for name, (fn, is_prob) in baselines.items():
            scores[name] = fn(train, test)
            prob[name] = is_prob
        tie = M.tie_order(test, tiebreak)
        lists = {n: M.listed(test, s, group, cap, tie) for n, s in scores.items()}
        y = test[label].to_numpy(int)
        # The intervals of the last term are the ones the card reads: it gets every
        # replicate, the earlier terms a fifth.
        reps = n_boot if test_p == periods[-1] else max(n_boot // 5, 50)
        m = M.bootstrap(y, scores, lists, prob, n_boot=reps, seed=seed + i, reference=main)
        m.insert(0, time, test_p)
        mets.append(m)
        c = M.calibration_table(y, scores[main])
        c.insert(0, time, test_p)
        cals.append(c)
        for n, s in scores.items():
            preds.append(
                test[[*keys, time, group, label]].assign(model=n, score=s, listed=lists[n])
            )
        if test_p == periods[-1] and audit_groups:
            bias = M.bias_audit(test, label, lists[main], audit_groups)
    return Validation(
        predictions=pd.concat(preds, ignore_index=True),
        metrics=pd.concat(mets, ignore_index=True),
        calibration=pd.concat(cals, ignore_index=True),
        bias=bias,
        main=main,
        time=time,
    )


def _capacity(test: pd.DataFrame, group: str, capacity) -> dict:
    """Each group's list size: a share (float) of its rows, the same number (int) for
    every group, or a mapping group -> size."""
    if isinstance(capacity, bool):
        raise TypeError("capacity: a share (float), a list size (int) or {group: size}")
    if isinstance(capacity, float):
        return {g: max(1, round(capacity * n)) for g, n in test[group].value_counts().items()}
    if isinstance(capacity, int):
        return {g: capacity for g in test[group].unique()}
    try:
        return dict(capacity)
    except (TypeError, ValueError):
        raise TypeError(
            f"capacity: a share (float), a list size (int) or {{group: size}}, "
            f"not {type(capacity).__name__}"
        ) from None
