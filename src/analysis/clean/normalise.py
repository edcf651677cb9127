"""Typed clean columns from raw text, by each column's declared type (``schema.yaml``).

One function per type, each repairing only what is certain and counting each repair: ID
numbers (GB 11643 check, ``x`` upper-cased, legacy 15 digits upgraded, Excel-mangled IDs
kept as a partial key), names (simplified, original kept), dates and months, integers and
numbers, school codes (checked against the roster), legacy county codes and names. A value
that cannot be trusted is set to null and quarantined with its reason; a row that cannot be
used (a ``not_null`` value missing, a birth date in the future, impossible attendance) is
quarantined whole. Every rule runs on a column's distinct values (:mod:`.encoding`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analysis.clean.context import term_in
from analysis.clean.dates import parse_dates
from analysis.clean.encoding import Encoded
from analysis.clean.ids import normalize_ids
from analysis.clean.names import normalize_names
from analysis.clean.quarantine import Collector
from analysis.clean.read import RawTable
from analysis.clean.schema import TableSchema, check_values
from analysis.resources import legacy_county_codes, legacy_county_names

#: The attendance columns that must sum to the days required.
ATTENDANCE_PARTS = ("days_present", "sick_leave", "personal_leave", "unexcused")
#: ID statuses that null the value (and quarantine it with ``id_<status>``).
_BAD_ID = ("bad_check", "bad_date", "malformed", "excel_truncated", "registry_number")


@dataclass
class _Sheet:
    """One sheet being cleaned: its inputs, the typed columns so far, the rows kept."""

    t: RawTable
    schema: TableSchema
    schools: dict[str, str] | None
    today: dt.date
    col: Collector
    enc: dict[str, Encoded]
    out: dict[str, pa.Array]
    keep: np.ndarray


def normalise(
    t: RawTable,
    schema: TableSchema,
    schools: dict[str, str] | None,
    today: dt.date,
    col: Collector,
    enc: dict[str, Encoded],
) -> tuple[pa.Table, np.ndarray]:
    """Typed clean columns for one sheet, and the mask of rows to keep.

    ``schools``: the roster (school code -> name) that school codes are checked against
    (None: no roster delivered, no check). ``today``: a birth date after it is impossible.
    """
    s = _Sheet(t, schema, schools, today, col, enc, {}, np.ones(t.table.num_rows, bool))
    first_cells = None if t.first_cells is None else Encoded.of(t.first_cells)
    footer, totals = footer_rows(enc, schema.not_null, first_cells)
    col.row(footer, "footer_row", t.table)
    col.row(totals & ~footer, "total_row", t.table)
    s.keep &= ~(footer | totals)
    col.not_records = footer | totals  # their cells are not values to quarantine
    for c, e in enc.items():
        _BY_TYPE[schema.type_of(c)](s, c, e)
        if c in schema.not_null:
            empty = e.empty[e.codes]
            col.row(empty & s.keep, f"missing_{c}", t.table)
            s.keep &= ~empty
    cross_check_id(s.out, col)
    if t.kind == "attendance":
        _attendance_arithmetic(s)
    return pa.table(s.out), s.keep


#: How a footer or total row begins (its first non-empty cell): totals, and the signatures
#: and dates a form ends with.
FOOTER_MARKERS = (
    "合计", "总计", "小计", "共计", "总数", "填表人", "填报人", "制表人", "审核人", "审核",
    "负责人", "单位负责人", "制表日期", "填表日期", "填报日期", "报送日期", "联系电话", "备注：", "注：",
)  # fmt: skip
_FOOTER = re.compile(
    r"^\s*(?:" + "|".join(r"\s*".join(map(re.escape, m)) for m in FOOTER_MARKERS) + r")"
)
_NUMBER = re.compile(r"^\s*-?[0-9]+(?:\.[0-9]+)?\s*$")


def footer_rows(
    enc: dict[str, Encoded], keys: tuple[str, ...], first_cells: Encoded | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Rows that are not records but a form's footer, as masks ``(footer, totals)``:

    * **footer**: the first non-empty cell begins with a total or signature word
      (:data:`FOOTER_MARKERS`: 合计, 总计, 小计, 填表人, 审核人, 制表日期 ..., spaces
      inside allowed: 合  计); ``first_cells`` holds each row's first filled cell of any column,
      known or not (:attr:`RawTable.first_cells`), else the known columns' are used;
    * **totals**: a row of sums after the last record: every key column (``keys``, the
      table's not-null columns) empty and every filled cell a number.

    ``enc``: the sheet's columns in file order, as codes into their distinct values; each
    test runs on the distinct values and is broadcast to the rows, like every rule here.
    They are counted under their own reasons (``footer_row``, ``total_row``), not as a
    missing name or impossible attendance.

    >>> enc = {"name": Encoded.of(pa.array(["张三", "合计", None, "填表人：李四"])),
    ...        "days": Encoded.of(pa.array(["20", "40", "40", None]))}
    >>> [m.tolist() for m in footer_rows(enc, ("name",))]
    [[False, True, False, True], [False, False, True, False]]
    """
    if not enc:
        return np.zeros(0, bool), np.zeros(0, bool)
    n = len(next(iter(enc.values())).codes)
    footer = np.zeros(n, bool)
    before_empty = np.ones(n, bool)  # every cell to the left is empty
    empty = {}
    for c, e in enc.items():
        empty[c] = e.empty[e.codes]
        first = before_empty & ~empty[c]  # rows whose first filled cell is this column's
        if first_cells is None:
            footer[first] = _matches(e, first, _FOOTER.pattern)[e.codes[first]]
        before_empty &= empty[c]
    if first_cells is not None:
        filled = ~first_cells.empty[first_cells.codes]
        footer = _matches(first_cells, filled, _FOOTER.pattern)[first_cells.codes] & filled
    key_cols = [c for c in keys if c in enc]
    totals = np.zeros(n, bool)
    if not key_cols:
        return footer, totals
    key_empty = np.logical_and.reduce([empty[c] for c in key_cols])
    records = np.flatnonzero(~key_empty & ~footer)
    tail = np.arange(n) > (int(records.max()) if len(records) else -1)
    candidate = tail & key_empty & ~before_empty  # after the last record, something filled
    for c, e in enc.items():
        if candidate.any():
            number = _matches(e, candidate, _NUMBER.pattern)[e.codes]
            candidate &= empty[c] | number
    return footer, candidate


def _matches(e: Encoded, rows: np.ndarray, pattern: str) -> np.ndarray:
    """Per distinct value of ``e``: does it match ``pattern``, tested only on the values
    that ``rows`` hold (False for the others)."""
    out = np.zeros(len(e.raw), bool)
    wanted = np.unique(e.codes[rows])
    if len(wanted):
        hit = pc.match_substring_regex(pc.take(e.raw, pa.array(wanted)), pattern)
        out[wanted] = np.asarray(pc.fill_null(hit, False))
    return out


def _id(s: _Sheet, c: str, e: Encoded) -> None:
    ids = e.once("ids", lambda: normalize_ids(e.raw))
    id18, id_status, id_partial, id_regno = (
        ids.column(k).combine_chunks() for k in ("id_number", "id_status", "id_partial", "id_regno")
    )
    s.out[c] = e.rows(id18)
    s.out[f"{c}_status"] = e.rows(id_status)
    s.out[f"{c}_partial"] = e.rows(id_partial)
    d_status = id_status.to_numpy(zero_copy_only=False)
    for st in _BAD_ID:
        s.col.value((d_status == st)[e.codes], c, f"id_{st}", e.raw_rows())
    d_changed = (d_status == "valid") & pc.fill_null(pc.not_equal(e.raw, id18), False).to_numpy(
        zero_copy_only=False
    )
    s.col.repairs["id_normalised"] += int(d_changed[e.codes].sum())
    s.col.repairs["id_upgraded15"] += int((d_status == "upgraded15")[e.codes].sum())
    if "student_no" in s.enc:
        d_reg = pc.is_valid(id_regno).to_numpy(zero_copy_only=False)
        s.col.repairs["id_column_held_registry_number"] += int(d_reg[e.codes].sum())


def _name(s: _Sheet, c: str, e: Encoded) -> None:
    norm, trad = e.once("names", lambda: normalize_names(e.raw))
    s.out[c] = e.rows(norm)
    s.out[f"{c}_raw"] = e.rows(e.raw)
    s.col.repairs["name_traditional_to_simplified"] += int(e.mask(trad).sum())


def _date(s: _Sheet, c: str, e: Encoded) -> None:
    kind = s.schema.type_of(c)
    d, _fmt = e.once(kind, lambda: parse_dates(e.text, month_only=kind == "month"))
    bad = ~e.empty[e.codes] & ~e.mask(pc.is_valid(d))
    s.col.value(bad, c, "unparseable_date", e.text_rows())
    d = _declared(s, c, d, e)
    s.out[c] = e.rows(d)
    if c == "birth_date":
        future = e.mask(pc.greater(d, pa.scalar(s.today, pa.date32())))
        s.col.row(future & s.keep, "future_birth_date", s.t.table)
        s.keep &= ~future


def _number(s: _Sheet, c: str, e: Encoded) -> None:
    integer = s.schema.type_of(c) == "int"
    pattern = r"^-?\d+(\.0+)?$" if integer else r"^-?\d+(\.\d*)?$"
    v = e.text
    d_ok = pc.match_substring_regex(v, pattern).to_numpy(zero_copy_only=False)
    d_vals = np.zeros(len(v), np.int64 if integer else np.float64)
    if d_ok.any():
        as_float = pc.cast(pc.filter(v, pa.array(d_ok)), pa.float64())
        d_vals[d_ok] = (pc.cast(as_float, pa.int64()) if integer else as_float).to_numpy()
    reason = "not_an_integer" if integer else "not_a_number"
    s.col.value(~d_ok[e.codes] & ~e.empty[e.codes], c, reason, e.text_rows())
    typed = (
        pa.array(d_vals, mask=~d_ok, type=pa.int64()) if integer else pa.array(d_vals, mask=~d_ok)
    )
    s.out[c] = e.rows(_declared(s, c, typed, e))


def _school_code(s: _Sheet, c: str, e: Encoded) -> None:
    v = e.text
    s.out[c] = e.rows(v)
    if s.schools is None:
        return
    n = s.t.table.num_rows
    d_unknown = ~e.empty & ~pc.is_in(v, pa.array(sorted(s.schools))).to_numpy(zero_copy_only=False)
    unknown = d_unknown[e.codes]
    s.col.value(unknown, c, "unknown_school_code", e.text_rows())
    # A known code with another school's name: a code typed wrong (or a name).
    mismatch = np.zeros(n, bool)
    if "school_name" in s.enc:
        codes = e.rows(v)
        roster_name = pc.take(
            pa.array(list(s.schools.values()), type=pa.string()),
            pc.index_in(codes, pa.array(list(s.schools.keys()), type=pa.string())),
        )
        name = s.enc["school_name"].rows(s.enc["school_name"].text)
        named = pc.greater(pc.utf8_length(name), 0)
        mismatch = (
            pc.fill_null(pc.and_(named, pc.not_equal(roster_name, name)), False).to_numpy(
                zero_copy_only=False
            )
            & ~unknown
        )
        s.col.value(mismatch, c, "school_code_name_mismatch", e.text_rows())
    s.out[c] = pc.if_else(pa.array(unknown | mismatch), pa.scalar(None, pa.string()), s.out[c])


def _address(s: _Sheet, c: str, e: Encoded) -> None:
    v = fixed = e.text
    for old_name, new_name in legacy_county_names().items():
        fixed = pc.replace_substring(fixed, old_name, new_name)
    s.col.repairs["legacy_county_name"] += int(e.mask(pc.not_equal(fixed, v)).sum())
    s.out[c] = e.rows(fixed)


def _county_code(s: _Sheet, c: str, e: Encoded) -> None:
    legacy = legacy_county_codes()
    v = mapped = e.text
    d_legacy = pc.is_in(v, pa.array(list(legacy)))
    for old_code, new_code in legacy.items():
        mapped = pc.if_else(pc.equal(mapped, old_code), new_code, mapped)
    s.out[c] = e.rows(mapped)
    s.col.repairs["legacy_county_code"] += int(e.mask(d_legacy).sum())


def _text(s: _Sheet, c: str, e: Encoded) -> None:
    s.out[c] = e.rows(_declared(s, c, e.text, e))


def _term(s: _Sheet, c: str, e: Encoded) -> None:
    """A school term as people write it (``2019年秋季学期``, ``2019-2020学年第二学期``,
    ``2020春``, ``2019-1``) as the project's label (``'2019-1'``, ``'2019-2'``)."""
    labels = pa.array([term_in(v, dates=False) for v in e.text.to_pylist()], pa.string())
    bad = ~e.empty[e.codes] & ~e.mask(pc.is_valid(labels))
    s.col.value(bad, c, "unknown_term", e.text_rows())
    s.col.repairs["term_standardised"] += int(
        e.mask(pc.fill_null(pc.not_equal(labels, e.text), False)).sum()
    )
    s.out[c] = e.rows(labels)


_BY_TYPE = {
    "id": _id,
    "name": _name,
    "date": _date,
    "month": _date,
    "int": _number,
    "float": _number,
    "school_code": _school_code,
    "address": _address,
    "county_code": _county_code,
    "term": _term,
    "text": _text,
}


def _declared(s: _Sheet, c: str, values: pa.Array, e: Encoded) -> pa.Array:
    """Apply the declared codes, format and range of column ``c`` to its distinct values:
    spellings standardised to the canonical code (a repair), failing values set to null and
    quarantined with the reason."""
    rule = s.schema.columns.get(c)
    if rule is None or (
        rule.codes is None and rule.pattern is None and rule.min is None and rule.max is None
    ):
        return values

    def run():
        checked, bad = check_values(rule, values, e.empty)
        changed = None
        if rule.codes is not None:
            changed = pc.fill_null(pc.not_equal(checked.cast(pa.string()), values), False)
        return checked, bad, changed

    checked, bad, changed = e.once(("declared", c), run)
    for reason, d_mask in bad.items():
        s.col.value(d_mask[e.codes], c, reason, e.text_rows())
    if changed is not None:
        s.col.repairs["code_standardised"] += int(e.mask(changed).sum())
    return checked


def cross_check_id(out: dict[str, pa.Array], col: Collector) -> None:
    """The ID number must agree with the birth-date and sex columns (GB 11643 encodes both).

    A disagreement does not say which of the two is wrong, so both are kept and the pair is
    flagged in the quarantine (``id_birth_date_mismatch``, ``id_sex_mismatch``)."""
    if "id_number" not in out:
        return
    ids = out["id_number"]
    valid = pc.is_valid(ids).to_numpy(zero_copy_only=False)
    if not valid.any():
        return
    ymd = pc.utf8_slice_codeunits(ids, 6, 14)
    if "birth_date" in out:
        bd = pc.dictionary_encode(out["birth_date"])  # format the few distinct dates only
        col_ymd = pc.take(
            pc.strftime(pc.cast(bd.dictionary, pa.timestamp("s")), format="%Y%m%d"), bd.indices
        )
        differs = pc.fill_null(pc.not_equal(ymd, col_ymd), False).to_numpy(zero_copy_only=False)
        col.value(differs & valid, "id_number", "id_birth_date_mismatch", ids)
    if "sex" in out:
        odd = pc.equal(
            pc.bit_wise_and(pc.cast(pc.utf8_slice_codeunits(ids, 16, 17), pa.int64()), 1), 1
        )
        sex = out["sex"]
        male = pc.is_in(sex, pa.array(["男", "1", "M", "m", "male"]))
        female = pc.is_in(sex, pa.array(["女", "2", "F", "f", "female"]))
        known = pc.or_(male, female).to_numpy(zero_copy_only=False)
        differs = pc.fill_null(pc.not_equal(odd, male), False).to_numpy(zero_copy_only=False)
        col.value(differs & valid & known, "id_number", "id_sex_mismatch", ids)


def _attendance_arithmetic(s: _Sheet) -> None:
    """Attendance rows whose days are not numbers, are negative, or do not add up (present +
    leave + unexcused = required <= 31) are quarantined whole."""
    out, n, tab = s.out, s.t.table.num_rows, s.t.table
    nums = {c: out[c].to_numpy(zero_copy_only=False) for c in ("days_required", *ATTENDANCE_PARTS)}
    bad_num = np.zeros(n, bool)
    for c in nums:
        bad_num |= ~pc.is_valid(out[c]).to_numpy(zero_copy_only=False)
    finite = {c: np.nan_to_num(np.asarray(x, dtype=float), nan=-1) for c, x in nums.items()}
    negative = np.any([finite[c] < 0 for c in finite], axis=0) & ~bad_num
    parts = sum(finite[c] for c in ATTENDANCE_PARTS)
    impossible = (
        ~bad_num
        & ~negative
        & (
            (finite["days_present"] > finite["days_required"])
            | (parts != finite["days_required"])
            | (finite["days_required"] > 31)
        )
    )
    s.col.row(bad_num & s.keep, "attendance_not_a_number", tab)
    s.keep &= ~bad_num
    s.col.row((negative | impossible) & s.keep, "impossible_attendance", tab)
    s.keep &= ~(negative | impossible)
