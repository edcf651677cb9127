"""Personal data, handled by one set of rules: ID numbers masked in anything rendered, the
keyed pseudonymous ``person_id``, small counts suppressed in published tables, and a
county's artifacts holding only that county's children.

**Masking.** An ID number keeps its first six characters (the area of first registration)
and its last four; the rest (birth date and order code) becomes ``*``:
``530402********1235``. The Python form (:func:`mask_id`, and :func:`mask_ids_in_text`
for free text such as a quarantined raw line) and the SQL macro ``mask_id`` follow the
same rule, held in :data:`KEEP_HEAD` and :data:`KEEP_TAIL`.

**Pseudonyms.** ``person_id`` is the first 16 hex digits of SHA-256 of the data folder's
salt, a unit separator and the person's key (the ID number, or a registry number or record
key for a person without one). The salt (:func:`salt_for`) is made once at random per data
folder and never leaves it: ids are stable from run to run and mean nothing elsewhere.
Nothing the pipeline *decides* may depend on them (see :mod:`analysis.runs`).

**Small cells.** :func:`suppress_small` hides counts from 1 to ``threshold - 1`` in a
published table, the rates built on them, and, where a hidden cell could be recovered
from its group's total, the next smallest cell of the group too.

**One county's artifacts.** :func:`check_one_county` refuses a table bound for a county's
folder that holds a row of another county.

Examples
--------
>>> mask_id("530402200803011235")
'530402********1235'
>>> mask_ids_in_text("身份证号530402200803011235，户号12")
'身份证号530402********1235，户号12'
>>> person_id("530402200803011235", "00" * 16)
'360f4bd128aaee9a'
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

#: Characters of an ID number left visible at its start and at its end.
KEEP_HEAD, KEEP_TAIL = 6, 4
#: The shortest value masked as an ID number (a legacy 15-digit number, a registry number
#: and an 18-digit number all are); a shorter value keeps only its head.
ID_MIN_LENGTH = 14
_ID_IN_TEXT = re.compile(
    rf"(?<![0-9])[0-9]{{{KEEP_HEAD}}}[0-9]{{{ID_MIN_LENGTH - KEEP_HEAD - KEEP_TAIL},11}}"
    rf"[0-9]{{{KEEP_TAIL - 1}}}[0-9Xx](?![0-9])"
)


class PrivacyError(RuntimeError):
    """An artifact would hold personal data it must not hold."""


def mask_id(value: str | None) -> str | None:
    """An ID number (or registry number) masked for display (see the module docstring).

    >>> mask_id("53040219800101123X"), mask_id("5304021"), mask_id(None)
    ('530402********123X', '530402****', None)
    """
    if value is None or (isinstance(value, float) and value != value):
        return None
    s = str(value)
    if len(s) >= ID_MIN_LENGTH:
        return s[:KEEP_HEAD] + "*" * (len(s) - KEEP_HEAD - KEEP_TAIL) + s[-KEEP_TAIL:]
    return s[:KEEP_HEAD] + "****"


def mask_ids_in_text(text: str) -> str:
    """Every ID-like run of digits in ``text`` masked by :func:`mask_id`.

    >>> mask_ids_in_text("5304021980010112 and 530402198001011")
    '530402******0112 and 530402*****1011'
    """
    return _ID_IN_TEXT.sub(lambda m: mask_id(m.group(0)), text)


def mask_id_sql(expr: str) -> str:
    """SQL: :func:`mask_id` of a text expression."""
    return (
        f"(CASE WHEN length({expr}) >= {ID_MIN_LENGTH} THEN left({expr}, {KEEP_HEAD}) || "
        f"repeat('*', length({expr}) - {KEEP_HEAD + KEEP_TAIL}) || right({expr}, {KEEP_TAIL}) "
        f"WHEN {expr} IS NOT NULL THEN left({expr}, {KEEP_HEAD}) || '****' END)"
    )


def person_id(key: str, salt: str) -> str:
    """The pseudonymous id of a person's key under ``salt``.

    >>> person_id("530402200803011235", "00" * 16)
    '360f4bd128aaee9a'
    """
    return hashlib.sha256(f"{salt}\x1f{key}".encode()).hexdigest()[:16]


def person_id_sql(key: str, salt: str) -> str:
    """SQL: :func:`person_id` of a key expression (``salt`` is checked to be hex first).

    >>> from analysis.engine import connect
    >>> con = connect()
    >>> con.execute(f"SELECT {person_id_sql(repr('530402200803011235'), '00' * 16)}").fetchall()
    [('360f4bd128aaee9a',)]
    >>> person_id_sql("key", "not hex")
    Traceback (most recent call last):
    ...
    ValueError: salt: not a salt of hex digits; delete it to make a new one
    """
    _check_salt(salt, "salt")
    return f"sha256('{salt}' || chr(31) || {key})[1:16]"


#: DuckDB macros of the rules above (installed by :func:`analysis.engine.connect`).
MACROS: tuple[tuple[str, tuple[str, ...], str], ...] = (("mask_id", ("x",), mask_id_sql("x")),)


def _check_salt(salt: str, where: str) -> str:
    if not salt or any(c not in "0123456789abcdef" for c in salt):
        raise ValueError(f"{where}: not a salt of hex digits; delete it to make a new one")
    return salt


def salt_for(path: Path) -> str:
    """The person-id salt kept in ``path`` (32 hex digits), created at random on first use.
    Delete the file and every ``person_id`` of the folder changes.

    >>> import tempfile
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / ".person_salt"
    >>> salt = salt_for(path)
    >>> len(salt), salt_for(path) == salt
    (32, True)
    """
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(16), encoding="ascii")
    return _check_salt(path.read_text(encoding="ascii").strip(), str(path))


def suppress_small(
    frame: pd.DataFrame,
    counts: Iterable[str],
    *,
    threshold: int = 5,
    by: list[str] | None = None,
    rates: Mapping[str, Iterable[str]] | None = None,
) -> pd.DataFrame:
    """A published table with its small counts hidden (set to missing).

    Parameters
    ----------
    frame : the table, one row per cell group (e.g. county and category).
    counts : columns of counts of children. A count from 1 to ``threshold - 1`` is hidden
        (primary suppression); zero is shown.
    threshold : the smallest count shown (5 unless the bureau's rules say otherwise).
    by : columns whose groups sum to a total that is published elsewhere (e.g. the school
        year, whose prefecture total is shown). Where a group would have a single hidden
        cell in a column, its smallest other non-zero cell is hidden too (secondary
        suppression), so no hidden cell is the total minus the shown ones.
    rates : for each rate column, the count columns it is built on; it is hidden wherever
        one of them is.

    Returns
    -------
    A copy, counts as nullable integers, hidden cells missing.

    Examples
    --------
    >>> t = pd.DataFrame({"county": ["a", "b", "c"], "n": [2, 40, 7]})
    >>> suppress_small(t, ["n"], by=[])["n"].tolist()
    [<NA>, 40, <NA>]
    """
    out = frame.copy()
    counts = list(counts)
    hidden = pd.DataFrame(False, index=out.index, columns=counts)
    for c in counts:
        v = pd.to_numeric(out[c])
        hidden[c] = (v > 0) & (v < threshold)
    if by is not None:
        groups = [out.index] if not by else [g.index for _, g in out.groupby(by, sort=False)]
        for c in counts:
            v = pd.to_numeric(out[c])
            for idx in groups:
                if hidden.loc[idx, c].sum() != 1:
                    continue
                shown = v[idx][~hidden.loc[idx, c] & (v[idx] > 0)]
                if len(shown):
                    hidden.loc[shown.sort_values(kind="stable").index[0], c] = True
    for c in counts:
        out[c] = pd.to_numeric(out[c]).astype("Int64").mask(hidden[c])
    for rate, parts in (rates or {}).items():
        mask = hidden[[p for p in parts]].any(axis=1)
        out[rate] = out[rate].astype("Float64").mask(mask)
    return out


def check_one_county(
    frame: pd.DataFrame, county: str, what: str, column: str = "county_code"
) -> None:
    """Raise :class:`PrivacyError` if ``frame`` (bound for ``county``'s artifacts, named ``what``
    in the message) holds a row of another county or of none.

    >>> check_one_county(pd.DataFrame({"county_code": ["530402"]}), "530402", "red list")
    >>> check_one_county(pd.DataFrame({"county_code": ["530402", "530403"]}), "530402", "red list")
    Traceback (most recent call last):
    ...
    analysis.privacy.PrivacyError: red list: 1 row(s) of another county (530403) in county 530402's artifact
    """
    if column not in frame.columns:
        raise PrivacyError(f"{what}: no {column!r} column to check the county of its rows by")
    other = frame[column].astype("string").fillna("") != str(county)
    if other.any():
        found = sorted(set(frame.loc[other, column].astype("string").fillna("(none)")))
        raise PrivacyError(
            f"{what}: {int(other.sum())} row(s) of another county ({', '.join(found[:5])}) "
            f"in county {county}'s artifact"
        )
