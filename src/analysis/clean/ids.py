"""Normalise resident ID numbers in bulk (Arrow arrays), repairing only what is certain.

For every raw value the result says what it is (``id_status``):

==================  ======================================================================
``valid``           18 characters, correct GB 11643 check, a real birth date
``upgraded15``      a legacy 15-digit number, upgraded to 18 (certain: '19' + check digit)
``bad_check``       18 characters whose check character does not match (a typo)
``bad_date``        the birth date in the number is not a real date
``excel_truncated`` a number mangled by Excel into a float: only the leading digits are
                    known (``id_partial``); the rest is unknown and never invented
``registry_number`` a student registry number (G/L/J...) typed into the ID column
``malformed``       anything else
``missing``         empty
==================  ======================================================================

Repairs applied to every value: NFKC (full-width digits and letters to ASCII), all white
space removed (ASCII and U+3000), ``x`` upper-cased.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analysis.idnumber import CHECK_CHARS, WEIGHTS

_W = np.asarray(WEIGHTS, dtype=np.int64)
_CHECK = np.frombuffer(CHECK_CHARS.encode(), dtype=np.uint8)
# An ID typed as a number, as Excel shows it in CSV ('5.30402E+17') or stores it in a cell
# ('5.30402200803011e+17'); also plain 18-digit integers that lost their tail ('...000').
_FLOAT = r"^(?P<lead>[1-9])\.(?P<rest>\d+)E\+?(?P<exp>1[67])$"


def _fixed_width_bytes(arr: pa.Array, width: int) -> np.ndarray:
    """(n, width) uint8 view of a string array whose values all have ``width`` bytes."""
    arr = pa.concat_arrays([arr]) if len(arr) else arr
    if len(arr) == 0:
        return np.zeros((0, width), np.uint8)
    offsets = np.frombuffer(
        arr.buffers()[1], dtype=np.int32, count=len(arr) + 1, offset=arr.offset * 4
    )
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    return data.reshape(len(arr), width)


def _real_dates(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    ok = (y >= 1900) & (y <= 2100) & (m >= 1) & (m <= 12) & (d >= 1)
    ym = ((np.clip(y, 1900, 2100) - 1970) * 12 + np.clip(m, 1, 12) - 1).astype("datetime64[M]")
    days = ((ym + 1).astype("datetime64[D]") - ym.astype("datetime64[D]")).astype(int)
    return ok & (d <= days)


#: The statuses, in the order of their codes.
STATUSES = (
    "malformed",
    "missing",
    "valid",
    "bad_check",
    "bad_date",
    "upgraded15",
    "excel_truncated",
    "registry_number",
)
_CODE = {name: np.int8(k) for k, name in enumerate(STATUSES)}
_NULL = pa.scalar(None, pa.string())


def normalize_ids(values: pa.Array | pa.ChunkedArray) -> pa.Table:
    """Normalise raw ID values; see the module docstring for the statuses.

    Returns a table with ``id_number`` (18 characters or null), ``id_status``,
    ``id_partial`` (known leading digits of a truncated number) and ``id_regno`` (a registry
    number found in the ID column), aligned with ``values``. Everything stays in Arrow and
    numpy: a county's registry holds a million IDs.

    >>> t = normalize_ids(pa.array(["530402200803011235", "5304022008030112", "5.30402E+17"]))
    >>> t.column("id_status").to_pylist()
    ['valid', 'malformed', 'excel_truncated']
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    s = pc.utf8_normalize(pc.fill_null(values.cast(pa.string()), ""), "NFKC")
    s = pc.replace_substring_regex(s, r"\s+", "")
    s = pc.utf8_upper(s)
    n = len(s)
    status = np.full(n, _CODE["malformed"], dtype=np.int8)
    status[pc.equal(pc.utf8_length(s), 0).to_numpy(zero_copy_only=False)] = _CODE["missing"]
    id18 = _fifteen_digits(s, status, _eighteen_digits(s, status))
    partial = _excel_floats(s, status)
    # Whole numbers that lost digits in a float ('530402200803011000'): 18 digits ending in
    # zeros that fail the check are already 'bad_check'; nothing more can be told.
    is_reg = pc.match_substring_regex(s, r"^[GLJ][0-9A-Z]{10,20}$")
    status[is_reg.to_numpy(zero_copy_only=False)] = _CODE["registry_number"]
    return pa.table(
        {
            "id_number": id18,
            "id_status": pc.take(pa.array(STATUSES), pa.array(status)),
            "id_partial": partial,
            "id_regno": pc.if_else(is_reg, s, _NULL),
        }
    )


def _eighteen_digits(s: pa.Array, status: np.ndarray) -> pa.Array:
    """18-character values: their check character and date judged (``status`` set); the
    valid ones as they stand, the rest null."""
    id_mask = np.zeros(len(s), bool)
    is18 = pc.match_substring_regex(s, r"^\d{17}[\dX]$").to_numpy(zero_copy_only=False)
    idx = np.flatnonzero(is18)
    if len(idx):
        b = _fixed_width_bytes(pc.take(s, pa.array(idx)), 18)
        digits = b[:, :17].astype(np.int64) - 48
        ok_check = _CHECK[(digits @ _W) % 11] == b[:, 17]
        y = digits[:, 6] * 1000 + digits[:, 7] * 100 + digits[:, 8] * 10 + digits[:, 9]
        m = digits[:, 10] * 10 + digits[:, 11]
        d = digits[:, 12] * 10 + digits[:, 13]
        ok_date = _real_dates(y, m, d)
        status[idx] = np.where(
            ok_check, np.where(ok_date, _CODE["valid"], _CODE["bad_date"]), _CODE["bad_check"]
        )
        id_mask[idx] = ok_check & ok_date
    return pc.if_else(pa.array(id_mask), s, _NULL)


def _fifteen_digits(s: pa.Array, status: np.ndarray, id18: pa.Array) -> pa.Array:
    """Legacy 15-digit values with a real date, upgraded to 18 (century and check added)."""
    n = len(s)
    idx = np.flatnonzero(pc.match_substring_regex(s, r"^\d{15}$").to_numpy(zero_copy_only=False))
    if not len(idx):
        return id18
    up_mask = np.zeros(n, bool)
    b = _fixed_width_bytes(pc.take(s, pa.array(idx)), 15)
    digits15 = b.astype(np.int64) - 48
    first17 = np.concatenate(
        [digits15[:, :6], np.tile([1, 9], (len(idx), 1)), digits15[:, 6:]], axis=1
    )
    y = 1900 + digits15[:, 6] * 10 + digits15[:, 7]
    m = digits15[:, 8] * 10 + digits15[:, 9]
    d = digits15[:, 10] * 10 + digits15[:, 11]
    ok_date = _real_dates(y, m, d)
    status[idx] = np.where(ok_date, _CODE["upgraded15"], _CODE["bad_date"])
    up_mask[idx] = ok_date
    check = np.zeros(n, np.int64)
    check[idx] = (first17 @ _W) % 11
    upgraded = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(s, 0, 6),
        "19",
        pc.utf8_slice_codeunits(s, 6, 15),
        pc.take(pa.array(list(CHECK_CHARS)), pa.array(check)),
        "",
    )
    return pc.if_else(pa.array(up_mask), upgraded, id18)


def _excel_floats(s: pa.Array, status: np.ndarray) -> pa.Array:
    """Values Excel turned into floats ('5.30402E+17'): the leading digits that are known,
    never padded with invented ones."""
    n = len(s)
    fl = pc.extract_regex(s, _FLOAT)
    idx = np.flatnonzero(pc.is_valid(fl).to_numpy(zero_copy_only=False))
    if not len(idx):
        return pa.nulls(n, pa.string())
    known = np.full(n, None, dtype=object)
    for j, p in zip(idx, pc.take(fl, pa.array(idx)).to_pylist(), strict=True):
        mantissa = p["lead"] + p["rest"]
        if len(mantissa) <= 8:
            # Excel's display ('5.30402E+17') rounds its last digit: the ones before are known.
            known[j] = mantissa[:-1]
        else:
            # A stored float keeps 15 significant digits exactly (trailing zeros included).
            known[j] = mantissa[:15].ljust(15, "0")
    status[idx] = _CODE["excel_truncated"]
    return pa.array(known, type=pa.string())
