"""Parse the dates registries deliver, in bulk: every format the extracts use.

Recognised: ``2008-03-01``, ``2008/3/1``, ``2008.3.1``, ``20080301``, ``2008年3月1日``,
a date cell read as ``2008-03-01`` (with or without a midnight time), and Excel serial numbers
(days since 1899-12-30) when the column allows them. Months alone (``2016-09``, ``2016/9``,
``201609``, ``2016年9月``) parse to the first of the month with ``month_only=True``.
Anything else, and impossible dates (31 February), give null: the caller quarantines them
with the reason, it never guesses.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_DAY_PATTERNS = (
    r"^(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})(?:[ T]00:00(?::00)?)?$",
    r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$",
    r"^(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日?$",
)
_MONTH_PATTERNS = (
    r"^(?P<y>\d{4})[-/.](?P<m>\d{1,2})$",
    r"^(?P<y>\d{4})(?P<m>\d{2})$",
    r"^(?P<y>\d{4})年(?P<m>\d{1,2})月?$",
)
_SERIAL = r"^(?P<n>\d{4,5})(?:\.0+)?$"
_EXCEL_EPOCH = np.datetime64("1899-12-30", "D")


def parse_dates(
    values: pa.Array | pa.ChunkedArray,
    month_only: bool = False,
    allow_serial: bool = True,
    serial_range: tuple[str, str] = ("1950-01-01", "2035-12-31"),
) -> tuple[pa.Array, pa.Array]:
    """Parse text dates in every format the registries use.

    Parameters
    ----------
    values : the raw texts.
    month_only : the column holds months (入学年月): a day is not expected.
    allow_serial : read a whole number as an Excel serial date (days since 1899-12-30).
    serial_range : the dates a serial may give (others are not dates).

    Returns
    -------
    tuple of (pyarrow.Array, pyarrow.Array)
        The dates (``date32``, null where unparsed) and the format found per value ('iso',
        'slash', 'compact', 'chinese', 'serial', 'month', '' for unparsed), which lets the
        cleaner report how a file wrote its dates.

    Examples
    --------
    >>> d, f = parse_dates(pa.array(["2008-03-01", "2008/3/1", "20080301", "2008年3月1日", "39508", "三月"]))
    >>> [str(x) for x in d.to_pylist()]
    ['2008-03-01', '2008-03-01', '2008-03-01', '2008-03-01', '2008-03-01', 'None']
    >>> f.to_pylist()
    ['iso', 'slash', 'compact', 'chinese', 'serial', '']
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    s = pc.utf8_trim_whitespace(
        pc.utf8_normalize(pc.fill_null(values.cast(pa.string()), ""), "NFKC")
    )
    n = len(s)
    y = np.zeros(n, np.int64)
    m = np.zeros(n, np.int64)
    d = np.ones(n, np.int64)
    found = np.zeros(n, bool)
    fmt = np.full(n, "", dtype=object)
    patterns = _MONTH_PATTERNS if month_only else _DAY_PATTERNS
    names = ("month", "month", "month") if month_only else ("iso_or_slash", "compact", "chinese")
    for pat, name in zip(patterns, names, strict=True):
        ex = pc.extract_regex(s, pat)
        ok = pc.is_valid(ex).to_numpy(zero_copy_only=False) & ~found
        if not ok.any():
            continue
        idx = np.flatnonzero(ok)
        sub = pc.take(ex, pa.array(idx))
        y[idx] = pc.cast(pc.struct_field(sub, "y"), pa.int64()).to_numpy()
        m[idx] = pc.cast(pc.struct_field(sub, "m"), pa.int64()).to_numpy()
        if not month_only:
            d[idx] = pc.cast(pc.struct_field(sub, "d"), pa.int64()).to_numpy()
        found[idx] = True
        if name == "iso_or_slash":
            raw = pc.take(s, pa.array(idx))
            fmt[idx] = np.where(
                pc.match_substring(raw, "/").to_numpy(zero_copy_only=False), "slash", "iso"
            )
        else:
            fmt[idx] = name
    ok_ymd = found & (y >= 1900) & (y <= 2100) & (m >= 1) & (m <= 12) & (d >= 1)
    ym = ((np.clip(y, 1900, 2100) - 1970) * 12 + np.clip(m, 1, 12) - 1).astype("datetime64[M]")
    days_in_month = ((ym + 1).astype("datetime64[D]") - ym.astype("datetime64[D]")).astype(int)
    ok_ymd &= d <= days_in_month
    out = ym.astype("datetime64[D]") + (np.clip(d, 1, 31) - 1).astype("timedelta64[D]")
    valid = ok_ymd.copy()
    fmt[found & ~ok_ymd] = ""
    if allow_serial and not month_only:
        ex = pc.extract_regex(s, _SERIAL)
        ok = pc.is_valid(ex).to_numpy(zero_copy_only=False) & ~found
        if ok.any():
            idx = np.flatnonzero(ok)
            num = pc.cast(pc.struct_field(pc.take(ex, pa.array(idx)), "n"), pa.int64()).to_numpy()
            dates = _EXCEL_EPOCH + num.astype("timedelta64[D]")
            lo, hi = np.datetime64(serial_range[0]), np.datetime64(serial_range[1])
            inside = (dates >= lo) & (dates <= hi)
            out[idx[inside]] = dates[inside]
            valid[idx[inside]] = True
            fmt[idx[inside]] = "serial"
    result = pa.array(out, type=pa.date32(), mask=~valid)
    return result, pa.array(fmt, type=pa.string())
