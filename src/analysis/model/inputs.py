"""Checks at the door of the risk model's API: every message names the column and says what
is expected, so a researcher's table fails where it is wrong, not three calls later.

What is refused, and why:

* a feature table that is not a data frame of named columns (a numpy array is accepted and
  its columns named ``x0``, ``x1`` …);
* a label that is not binary (0/1 or True/False): a label coded 1/2 would otherwise give
  every row the same score, with no word;
* a missing label (drop those rows, or say which rows are unlabelled);
* periods that cannot be put in time order: numbers, dates and text holding numbers
  (``2019-1``, ``2019-2``, ``term10``) order as time runs; text without a number
  (``spring``, ``autumn``) or a mix of numbers and text does not.

Text and category features are not refused: the model treats them as categories.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd


def as_frame(X) -> pd.DataFrame:
    """``X`` as a data frame: a data frame as it is, a 2-D array with columns ``x0`` …

    >>> as_frame(np.zeros((2, 2))).columns.tolist()
    ['x0', 'x1']
    >>> as_frame([1, 2])
    Traceback (most recent call last):
    ...
    TypeError: X: expected a pandas DataFrame (or a 2-D array), got list
    """
    if isinstance(X, pd.DataFrame):
        if not all(isinstance(c, str) for c in X.columns):
            return X.rename(columns=str)
        return X
    if isinstance(X, np.ndarray) and X.ndim == 2:
        return pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    raise TypeError(f"X: expected a pandas DataFrame (or a 2-D array), got {type(X).__name__}")


def binary_label(y, name: str = "y") -> np.ndarray:
    """``y`` as an int array of 0 and 1, refused when it holds anything else or a null.

    >>> binary_label(pd.Series([True, False])).tolist()
    [1, 0]
    >>> binary_label(pd.Series([1, 2, 2]), "dropout")
    Traceback (most recent call last):
    ...
    ValueError: label 'dropout' must be 0/1 or True/False; it holds 1, 2 (recode it: 1 for the outcome, 0 otherwise)
    """
    s = pd.Series(np.asarray(y) if not isinstance(y, pd.Series) else y.to_numpy())
    if s.isna().any():
        raise ValueError(
            f"label {name!r} has {int(s.isna().sum())} missing value(s): drop those rows "
            "before fitting (their outcome is not known yet)"
        )
    values = set(pd.unique(s).tolist())
    if not values <= {0, 1}:  # True == 1 and False == 0
        shown = ", ".join(map(repr, sorted(values, key=str)[:5]))
        raise ValueError(
            f"label {name!r} must be 0/1 or True/False; it holds {shown} "
            "(recode it: 1 for the outcome, 0 otherwise)"
        )
    return s.astype(int).to_numpy()


def _natural_key(value) -> tuple:
    """Text ordered by the numbers in it: 'term9' before 'term10', '2019-2' before '2020-1'."""
    parts = re.split(r"(\d+)", str(value))
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts if p)


def ordered_periods(values, name: str = "period") -> list:
    """The distinct periods of ``values`` in time order: numbers and dates as such, text by
    the numbers in it (``term9`` before ``term10``; ``2019-1``, ``2019-2``, ``2020-1``).

    >>> ordered_periods(pd.Series(["term10", "term9", "term9"]))
    ['term9', 'term10']
    >>> ordered_periods(pd.Series([2020, 2019]))
    [2019, 2020]
    >>> ordered_periods(pd.Series(["spring", "autumn"]), "season")
    Traceback (most recent call last):
    ...
    ValueError: period 'season' cannot be put in time order: 'autumn', 'spring' hold no number; use numbers, dates, or text with the year (2019-1, 2019年秋季)
    """
    s = pd.Series(values).dropna()
    uniq = pd.unique(s)
    if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_datetime64_any_dtype(s):
        return sorted(uniq.tolist())
    kinds = {type(v) for v in uniq.tolist()}
    if len(kinds) > 1:
        shown = ", ".join(sorted(k.__name__ for k in kinds))
        raise ValueError(f"period {name!r} mixes value types ({shown}): make it one type")
    wordy = sorted(str(v) for v in uniq.tolist() if not re.search(r"\d", str(v)))
    if wordy:
        shown = ", ".join(map(repr, wordy[:5]))
        raise ValueError(
            f"period {name!r} cannot be put in time order: {shown} hold no number; use "
            "numbers, dates, or text with the year (2019-1, 2019年秋季)"
        )
    return sorted(uniq.tolist(), key=_natural_key)


def columns_present(frame: pd.DataFrame, columns, what: str = "column") -> None:
    """Refuse a column that is not in ``frame``, naming it and the columns there are.

    >>> columns_present(pd.DataFrame({"a": [1]}), ["a", "b"])
    Traceback (most recent call last):
    ...
    ValueError: no column 'b' in the frame (its columns: a)
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c is not None and c not in frame.columns]
    if missing:
        more = "…" if len(frame.columns) > 20 else ""
        raise ValueError(
            f"no {what} {', '.join(map(repr, missing))} in the frame "
            f"(its columns: {', '.join(map(str, frame.columns[:20]))}{more})"
        )


def is_categorical(s: pd.Series) -> bool:
    """A column the model treats as categories: text, category or object dtype."""
    return not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s))


def categories_of(X: pd.DataFrame) -> dict[str, list]:
    """The categories seen in each text or category column of ``X`` (sorted as text): what
    a model treats as categories.

    >>> categories_of(pd.DataFrame({"g": ["b", "a", None], "x": [1.0, 2.0, 3.0]}))
    {'g': ['a', 'b']}
    """
    return {
        c: sorted(pd.unique(X[c].dropna()).tolist(), key=str)
        for c in X.columns
        if is_categorical(X[c])
    }
