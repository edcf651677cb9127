"""Chinese resident identity numbers (公民身份号码, GB 11643-1999).

An 18-character number: 6-digit administrative division code of the place of first
registration, 8-digit birth date (YYYYMMDD), 3-digit order code (odd for men, even for
women), and a check character computed with ISO 7064 MOD 11-2 (``0``-``9`` or ``X``).
Legacy first-generation numbers (issued before 1999) have 15 digits: the same parts with a
2-digit year and no check character.

No library does this right for our needs (legacy 15-digit upgrade, partial keys for numbers
mangled by Excel), so it lives here, with property tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

#: ISO 7064 MOD 11-2 weights for positions 1..17 (2**(18-i) mod 11).
WEIGHTS: tuple[int, ...] = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
#: Check character for each value of the weighted sum modulo 11.
CHECK_CHARS: str = "10X98765432"


def check_char(first17: str) -> str:
    """Return the GB 11643 check character for the first 17 digits of an ID number.

    >>> check_char("53040220080301123")
    '5'
    """
    if len(first17) != 17 or not first17.isdigit() or not first17.isascii():
        raise ValueError(f"need 17 ASCII digits, got {first17!r}")
    total = sum(int(c) * w for c, w in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


def is_valid(id18: str) -> bool:
    """True when ``id18`` is 18 characters with a correct check character and a real birth date.

    The check character must be upper-case ``X``; callers normalise case first.

    >>> is_valid("530402200803011235"), is_valid("530402200803011234"), is_valid("530402200802301236")
    (True, False, False)
    """
    if len(id18) != 18 or not id18[:17].isdigit() or not id18.isascii():
        return False
    if id18[17] not in "0123456789X":
        return False
    if check_char(id18[:17]) != id18[17]:
        return False
    return birth_date(id18) is not None


def birth_date(id_number: str) -> date | None:
    """Birth date encoded in an 18- or 15-digit number, or None when it is not a real date.

    >>> birth_date("530402200803011235"), birth_date("530402800301123")
    (datetime.date(2008, 3, 1), datetime.date(1980, 3, 1))
    """
    try:
        if len(id_number) == 18:
            return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
        if len(id_number) == 15:
            return date(1900 + int(id_number[6:8]), int(id_number[8:10]), int(id_number[10:12]))
    except ValueError:
        return None
    return None


def sex(id_number: str) -> str:
    """'M' or 'F' from the order code (odd = male), for 15- or 18-digit numbers.

    >>> sex("530402200803011235"), sex("530402800301124")
    ('M', 'F')
    """
    digit = id_number[16] if len(id_number) == 18 else id_number[14]
    return "M" if int(digit) % 2 == 1 else "F"


def upgrade15(id15: str) -> str:
    """Convert a legacy 15-digit number to its 18-digit form (insert '19', add the check).

    >>> upgrade15("530402800301123")
    '530402198003011237'
    """
    if len(id15) != 15 or not id15.isdigit():
        raise ValueError(f"need 15 digits, got {id15!r}")
    first17 = id15[:6] + "19" + id15[6:]
    return first17 + check_char(first17)


def downgrade18(id18: str) -> str:
    """The legacy 15-digit form of an 18-digit number born in the 1900s (drop century, check).

    >>> downgrade18("530402198003011237")
    '530402800301123'
    """
    if id18[6:8] != "19":
        raise ValueError(f"only numbers of people born 1900-1999 had 15 digits: {id18!r}")
    return id18[:6] + id18[8:17]


@dataclass(frozen=True)
class ParsedId:
    """What can be trusted of a raw ID value after normalisation.

    ``status`` is one of: ``valid`` (18 digits, correct check), ``legacy15`` (upgraded from 15
    digits), ``bad_check`` (18 digits, wrong check character), ``truncated`` (Excel float:
    only the leading digits are known), ``malformed`` (anything else), ``missing``.
    ``id18`` is set only for ``valid`` and ``legacy15``; ``partial`` holds the digits that are
    known for a ``truncated`` value (never padded with invented digits).
    """

    status: str
    id18: str | None = None
    partial: str | None = None


def vectorized_check_chars(first17: np.ndarray) -> np.ndarray:
    """Check characters for an (n, 17) integer array of digits; returns an array of str."""
    total = (first17 * np.asarray(WEIGHTS, dtype=np.int64)).sum(axis=1) % 11
    return np.asarray(list(CHECK_CHARS))[total]


def make_ids(area: np.ndarray, birth: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Build 18-character ID numbers in bulk.

    Parameters
    ----------
    area : array of int, 6-digit administrative division codes.
    birth : array of datetime64[D], birth dates.
    order : array of int, 3-digit order codes (0-999; parity encodes sex).

    Returns
    -------
    numpy.ndarray of str (object)

    Examples
    --------
    >>> make_ids(np.array([530402]), np.array(["2008-03-01"], dtype="datetime64[D]"), np.array([123]))
    array(['530402200803011235'], dtype=object)
    """
    ymd = np.datetime_as_string(birth.astype("datetime64[D]"), unit="D")
    ymd = np.char.replace(ymd, "-", "")
    first17 = np.char.add(
        np.char.add(np.char.zfill(area.astype(str), 6), ymd), np.char.zfill(order.astype(str), 3)
    )
    digits = np.frombuffer(first17.astype("S17").tobytes(), dtype=np.uint8).reshape(-1, 17) - 48
    return np.char.add(first17, vectorized_check_chars(digits.astype(np.int64))).astype(object)
