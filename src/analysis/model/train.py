"""Rolling-origin validation of a risk model against baselines, on any table with a binary
label and a time column::

    from analysis.model import RiskModel, rolling_validation
    v = rolling_validation(frame, features=[...], label="dropout", time="term",
                           group="county_code", capacity={"530402": 320, ...})
    v.summary()        # each model's held-out ROC-AUC, precision and recall at the list,
                       # with intervals, and the main model's paired gain over it
    v.metrics          # every model × metric × test period, with bootstrap intervals

**Rolling origin.** For each of the last ``n_test`` labelled periods, every model is fit
on the periods before it only (their labels were all known when the test period started)
and scored on it; the test period never overlaps a training label. The main model's own
choices (its size, its stacking, its calibration; see :mod:`analysis.model.estimator`)
are made inside each fit on the training periods alone, so the validation is nested.

**Models.** The main model (default :class:`~analysis.model.estimator.RiskModel`) and
baselines (default: logistic regression and scikit-learn's HistGradientBoosting) are
scikit-learn estimators; ``fit`` gets the period too when it takes one.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.model import metrics as M
from analysis.model.estimator import RiskModel
from analysis.model.inputs import binary_label, columns_present, ordered_periods

#: The main model's name in the validation's tables.
MAIN = "risk_model"


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
    Validation(2 test period(s) ...; 6 models; main risk_model)
    >>> list(v.summary().columns)
    ['model', 'ROC-AUC', 'prec@list', 'recall@list', 'AUC gain']
    """

    predictions: pd.DataFrame
    metrics: pd.DataFrame
    calibration: pd.DataFrame
    bias: pd.DataFrame
    main: str = MAIN
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
    def load(cls, folder: Path, main: str = MAIN, time: str = "term") -> Validation:
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


def default_baselines(seed: int = 0) -> dict:
    """Logistic regression and HistGradientBoosting, at their defaults: the plain tools a
    researcher would try first.

    >>> sorted(default_baselines())
    ['hist_gradient_boosting', 'logistic_regression']
    """
    from sklearn.ensemble import HistGradientBoostingClassifier

    from analysis.model.baselines import LogisticBaseline

    return {
        "logistic_regression": LogisticBaseline(),
        "hist_gradient_boosting": HistGradientBoostingClassifier(random_state=seed),
    }


def fit_scores(
    estimator,
    train: pd.DataFrame,
    test: pd.DataFrame,
    features: list[str],
    label: str,
    time: str | None,
) -> tuple[np.ndarray, bool]:
    """A fresh copy of ``estimator`` fit on ``train`` and its scores of ``test``, and
    whether they are probabilities. It reads its ``columns`` if it names them, else the
    features; it gets the period when its ``fit`` takes one.

    >>> from analysis.model.baselines import ColumnScore
    >>> t = pd.DataFrame({"days": [1.0, 5.0], "y": [0, 1]})
    >>> fit_scores(ColumnScore("days"), t, t, [], "y", None)
    (array([1., 5.]), False)
    """
    from sklearn.base import clone

    est = clone(estimator)
    cols = list(getattr(est, "columns", None) or features)
    columns_present(train, cols, "column of the model")
    kwargs = {}
    if time is not None and "period" in inspect.signature(est.fit).parameters:
        kwargs["period"] = train[time]
    est.fit(train[cols], train[label].astype(int), **kwargs)
    if hasattr(est, "predict_proba"):
        return np.asarray(est.predict_proba(test[cols]))[:, 1], True
    return np.asarray(est.decision_function(test[cols]), float), False


def rolling_validation(
    frame: pd.DataFrame,
    *,
    features: list[str],
    label: str,
    time: str,
    model=None,
    baselines: dict | None = None,
    group: str | None = None,
    capacity: float | int | dict = 0.1,
    tiebreak: str | list[str] | None = None,
    audit_groups: list[str] | None = None,
    n_test: int = 4,
    n_boot: int = 500,
    keys: list[str] | None = None,
    seed: int = 0,
) -> Validation:
    """Rolling-origin validation of the main model and the baselines on the last ``n_test``
    labelled periods (see the module docstring). Rows with a missing label are not used.

    Parameters
    ----------
    frame : one row per unit and period.
    features, label, time : the feature columns, the 0/1 label, the period (numbers, dates,
        or text such as ``2019-1``).
    model : the main model, an estimator (default :class:`RiskModel` with ``random_state``
        ``seed``).
    baselines : name -> estimator (default :func:`default_baselines`).
    group : the column each list is drawn within (a county); default: one list.
    capacity : each group's list size: a share (float) of its rows in the period, one size
        (int) for every group, or {group: size}.
    tiebreak : the column(s) ordering equal scores at a list's cut (default: row order).
    audit_groups : the columns of the bias audit (last period).
    n_test : test periods, one origin each; ``n_boot``: bootstrap replicates of the last
        (the earlier ones get a fifth); ``keys``: columns kept in the predictions.

    Returns
    -------
    Validation

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> df = pd.DataFrame({"t": np.repeat([1, 2, 3, 4], 1500), "x": rng.normal(size=6000)})
    >>> df["y"] = (rng.random(6000) < 1 / (1 + np.exp(2 - 2 * df["x"]))).astype(int)
    >>> v = rolling_validation(df, features=["x"], label="y", time="t", n_test=2, n_boot=50)
    >>> v
    Validation(2 test period(s) 3, 4; 3 models; main risk_model)
    >>> v.summary().columns.tolist()
    ['model', 'ROC-AUC', 'prec@list', 'recall@list', 'AUC gain']
    """
    columns_present(frame, [*features, label, time, group])
    if audit_groups:
        columns_present(frame, audit_groups, "audit column")
    labelled = frame[frame[label].notna()]
    binary_label(labelled[label], label)
    periods = ordered_periods(labelled[time], time)
    if len(periods) < n_test + 2:
        raise ValueError(
            f"{len(periods)} labelled periods of {time!r}: need {n_test + 2} for {n_test} test "
            "periods (two at least before the first to fit and calibrate); lower n_test"
        )
    model = RiskModel(random_state=seed) if model is None else model
    baselines = default_baselines(seed) if baselines is None else baselines
    models = {MAIN: model, **baselines}
    if group is None:
        group = "_all"
        labelled = labelled.assign(_all="all")
    if tiebreak is None:
        labelled = labelled.assign(_row=np.arange(len(labelled)))
        tiebreak = "_row"
    keys = keys or ([tiebreak] if isinstance(tiebreak, str) else list(tiebreak))
    preds, mets, cals = [], [], []
    bias = pd.DataFrame()
    for i, test_p in enumerate(periods[-n_test:]):
        train = labelled[labelled[time].isin(periods[: periods.index(test_p)])]
        test = labelled[labelled[time] == test_p].reset_index(drop=True)
        cap = _capacity(test, group, capacity)
        scores, prob = {}, {}
        for name, est in models.items():
            scores[name], prob[name] = fit_scores(est, train, test, features, label, time)
        tie = M.tie_order(test, tiebreak)
        lists = {n: M.listed(test, s, group, cap, tie) for n, s in scores.items()}
        y = test[label].to_numpy(int)
        # The intervals of the last period are the ones a card reads: it gets every
        # replicate, the earlier periods a fifth.
        reps = n_boot if test_p == periods[-1] else max(n_boot // 5, 50)
        m = M.bootstrap(y, scores, lists, prob, n_boot=reps, seed=seed + i, reference=MAIN)
        m.insert(0, time, test_p)
        mets.append(m)
        c = M.calibration_table(y, scores[MAIN])
        c.insert(0, time, test_p)
        cals.append(c)
        kept = list(dict.fromkeys([*keys, time, group, label]))
        for n, s in scores.items():
            preds.append(test[kept].assign(model=n, score=s, listed=lists[n]))
        if test_p == periods[-1] and audit_groups:
            bias = M.bias_audit(test, label, lists[MAIN], audit_groups)
    return Validation(
        predictions=pd.concat(preds, ignore_index=True),
        metrics=pd.concat(mets, ignore_index=True),
        calibration=pd.concat(cals, ignore_index=True),
        bias=bias,
        main=MAIN,
        time=time,
    )


def _capacity(test: pd.DataFrame, group: str, capacity) -> dict:
    """Each group's list size: a share (float) of its rows, the same number (int) for
    every group, or a mapping group -> size.

    >>> _capacity(pd.DataFrame({"g": ["a"] * 10}), "g", "10")
    Traceback (most recent call last):
    ...
    TypeError: capacity: a share (float), a list size (int) or {group: size}, not str
    """
    msg = "capacity: a share (float), a list size (int) or {group: size}"
    if isinstance(capacity, bool | str):
        raise TypeError(f"{msg}, not {type(capacity).__name__}")
    if isinstance(capacity, float):
        if not 0 < capacity <= 1:
            raise ValueError(f"capacity: a share is in (0, 1], not {capacity}")
        return {g: max(1, round(capacity * n)) for g, n in test[group].value_counts().items()}
    if isinstance(capacity, int | np.integer):
        return {g: int(capacity) for g in test[group].unique()}
    try:
        return dict(capacity)
    except (TypeError, ValueError):
        raise TypeError(f"{msg}, not {type(capacity).__name__}") from None
