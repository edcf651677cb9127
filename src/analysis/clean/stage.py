"""The cleaning stage: every raw file in, one clean table per kind out, nothing lost.

For each raw file:

1. read it (:mod:`analysis.clean.read`): encoding, title rows, merged headers, the header
   dictionary; a file that cannot be read is *rejected* with its reason in the manifest;
2. merge exact duplicate rows into their first occurrence (recorded in ``merges``);
3. normalise every column by its type (:data:`COLUMN_TYPES`), repairing only what is certain
   (IDs, names, dates, legacy county codes), and apply the declared schema
   (:mod:`analysis.clean.schema`: code lists, ranges, formats); a value that cannot be
   trusted is set to null and recorded in the quarantine with ``scope='value'`` and a
   reason, the row is kept;
4. quarantine whole rows that cannot be trusted (``scope='row'``): a required value
   missing, impossible attendance, a birth date in the future; flag rows that break a
   declared cross-field rule (``scope='flag'``, kept);
5. write the file's rows as one part of ``data/interim/<kind>.parquet``, a Parquet dataset
   in the table's declared schema with the lineage columns ``source_file``,
   ``source_sheet``, ``source_row``, ``source_line``; likewise ``quarantine.parquet`` and
   ``merges.parquet``; then ``manifest.json``.

Every rule runs on a column's distinct values and is broadcast to the rows; the files of one
county and dataset are cleaned together in a worker process and share their distinct
values (:func:`_encode_group`).

The manifest says, per raw file, rows read, kept, merged and quarantined by reason; read =
kept + merged + quarantined, always. Outputs are written to a temporary folder and swapped in
whole, so a failed run leaves the previous outputs as they were. A rerun on unchanged input
(same file contents, same code version, same header dictionary and schema) does no work.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from analysis import __version__
from analysis.clean.dates import parse_dates
from analysis.clean.headers import TableSpec, load_dictionary
from analysis.clean.ids import normalize_ids
from analysis.clean.names import normalize_names
from analysis.clean.read import RawFileError, RawTable, read_raw_file
from analysis.clean.schema import (
    TableSchema,
    arrow_schema,
    check_values,
    conform,
    failing_rules,
    load_schema,
)

#: How each canonical column is normalised. Columns not listed are text (NFKC, trimmed).
COLUMN_TYPES: dict[str, str] = {
    **dict.fromkeys(
        ["id_number", "father_id", "mother_id", "guardian_id", "head_id", "member_id"], "id"
    ),
    **dict.fromkeys(
        ["name", "father_name", "mother_name", "guardian_name", "head_name", "member_name"], "name"
    ),
    **dict.fromkeys(
        [
            "birth_date",
            "detected",
            "step1",
            "step2",
            "step3",
            "step4",
            "return_date",
            "start_date",
            "end_date",
            "issued",
            "adopted",
            "date",
        ],
        "date",
    ),
    **dict.fromkeys(["month", "entry_date"], "month"),
    **dict.fromkeys(
        [
            "days_required",
            "days_present",
            "sick_leave",
            "personal_leave",
            "unexcused",
            "days",
            "rank",
            "problems",
            "visits_per_month",
            "registered_year",
            "lifted_year",
        ],
        "int",
    ),
    "risk_score": "float",
    "school_code": "school_code",
    "county_code": "county_code",
    **dict.fromkeys(["hukou_address", "current_address", "address"], "address"),
}
#: Old county names in addresses (Jiangchuan became a district in 2015, Chengjiang a city in 2019).
LEGACY_COUNTY_NAMES = {"江川县": "江川区", "澄江县": "澄江市"}
#: Legacy county codes and names of Yuxi, mapped to the current ones.
LEGACY_COUNTY_CODES = {"530421": "530403", "530422": "530481"}
ATTENDANCE_PARTS = ("days_present", "sick_leave", "personal_leave", "unexcused")
#: Values without which a row cannot be used at all (the row is quarantined when empty).
#: A required *column* (header dictionary) may still have empty values, e.g. the return
#: date of a child who has not returned.
NOT_NULL: dict[str, tuple[str, ...]] = {
    "schools": ("school_code", "school_name"),
    "hukou": ("name",),
    "xueji": ("student_no", "name", "school_code"),
    "attendance": ("student_no", "month"),
    "leave": ("student_no", "start_date"),
    "poverty": ("member_name",),
    "disability": ("name",),
    "persuasion": ("name",),
    "redlist": ("student_no",),
    "home_teaching": ("name",),
    "policies": ("county", "policy"),
    "inspections": ("school_code", "date"),
}


@dataclass
class FileReport:
    """What happened to one raw file (one entry of the manifest)."""

    file: str
    sha1: str
    status: str = "read"  # 'read' or 'rejected'
    message: str = ""
    kinds: list[str] = field(default_factory=list)
    encoding: str = ""
    rows_read: int = 0
    rows_kept: int = 0
    rows_merged: int = 0
    rows_quarantined: dict[str, int] = field(default_factory=dict)
    values_quarantined: dict[str, int] = field(default_factory=dict)
    repairs: dict[str, int] = field(default_factory=dict)
    unknown_columns: list[str] = field(default_factory=list)
    duplicate_columns: list[str] = field(default_factory=list)
    malformed_lines: int = 0
    empty_rows: int = 0
    flags: dict[str, int] = field(default_factory=dict)  # rows kept but flagged, by rule
    seconds: float = 0.0  # time spent cleaning this file

    def balanced(self) -> bool:
        return self.rows_read == self.rows_kept + self.rows_merged + sum(
            self.rows_quarantined.values()
        )


def _sha1(path: Path) -> str:
    h = hashlib.sha1()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def per_distinct(a: pa.ChunkedArray | pa.Array, fn):
    """Apply ``fn`` (array -> array, or tuple of arrays) to the distinct values of ``a`` only,
    and broadcast back. Registry columns repeat heavily (ten million attendance rows hold
    fifty months), so this is where the cleaning stage gets its speed."""
    e = _Encoded.of(a)
    out = fn(e.raw)
    if isinstance(out, tuple):
        return tuple(e.rows(o) for o in out)
    return e.rows(out)


def _text_values(a: pa.Array) -> pa.Array:
    return pc.utf8_trim_whitespace(pc.utf8_normalize(a, "NFKC"))


def _text(a: pa.ChunkedArray | pa.Array) -> pa.Array:
    return per_distinct(a, _text_values)


@dataclass
class _Encoded:
    """A raw column as codes into its distinct values: every rule runs on the distinct
    values (``raw``, and ``text`` = NFKC, trimmed) and is broadcast to rows by the codes."""

    codes: np.ndarray  # int32, one per row
    raw: pa.Array  # distinct raw values, null read as ''
    #: Results of rules on the distinct values, shared by every table whose column was
    #: encoded against the same distinct values (see :func:`_encode_group`).
    cache: dict = field(default_factory=dict)

    @classmethod
    def of(cls, a: pa.ChunkedArray | pa.Array) -> _Encoded:
        if isinstance(a, pa.ChunkedArray):
            a = a.combine_chunks()
        enc = pc.dictionary_encode(pc.fill_null(a.cast(pa.string()), ""))
        return cls(enc.indices.to_numpy(zero_copy_only=False), enc.dictionary)

    def once(self, key, fn: Callable):
        """``fn()`` computed once per set of distinct values, whichever table asks."""
        if key not in self.cache:
            self.cache[key] = fn()
        return self.cache[key]

    @property
    def text(self) -> pa.Array:
        """The distinct values NFKC-normalised and trimmed."""
        return self.once("text", lambda: _text_values(self.raw))

    def rows(self, distinct: pa.Array) -> pa.Array:
        """Values per distinct value -> values per row."""
        return pc.take(distinct, pa.array(self.codes))

    def mask(self, distinct: pa.Array | np.ndarray) -> np.ndarray:
        """A boolean per distinct value -> a numpy mask per row (nulls are False)."""
        if not isinstance(distinct, np.ndarray):
            distinct = pc.fill_null(distinct, False).to_numpy(zero_copy_only=False)
        return np.asarray(distinct, bool)[self.codes]

    def raw_rows(self) -> pa.Array:
        return pa.DictionaryArray.from_arrays(pa.array(self.codes), self.raw)

    def text_rows(self) -> pa.Array:
        return pa.DictionaryArray.from_arrays(pa.array(self.codes), self.text)


class _Collector:
    """Quarantine records and repairs of one file."""

    def __init__(self, t: RawTable):
        self.t = t
        self.rows: list[pa.Table] = []
        self.repairs: Counter = Counter()
        self.values: Counter = Counter()

    def value(self, mask: np.ndarray, column: str, reason: str, raw: pa.Array) -> None:
        idx = np.flatnonzero(mask)
        if not len(idx):
            return
        self.values[reason] += len(idx)
        raw_vals = pc.take(raw, pa.array(idx))
        if pa.types.is_dictionary(raw_vals.type):
            raw_vals = raw_vals.cast(pa.string())
        self.rows.append(self._records(idx, "value", reason, column, raw_vals))

    def row(self, mask: np.ndarray, reason: str, table: pa.Table, scope: str = "row") -> None:
        idx = np.flatnonzero(mask)
        if not len(idx):
            return
        cols = [c for c in table.column_names if c not in ("source_row", "source_line")]
        sub = table.take(pa.array(idx))
        raw = (
            pc.binary_join_element_wise(
                *[pc.fill_null(sub.column(c).cast(pa.string()), "") for c in cols], "|"
            )
            if cols
            else pa.array([""] * len(idx))
        )
        self.rows.append(self._records(idx, scope, reason, "|".join(cols), raw))

    def _records(self, idx, scope, reason, column, raw) -> pa.Table:
        tab = self.t.table
        return pa.table(
            {
                "source_file": pa.array([self.t.file] * len(idx)),
                "source_sheet": pa.array([self.t.sheet] * len(idx)),
                "source_row": pc.take(tab.column("source_row"), pa.array(idx)),
                "source_line": pc.take(tab.column("source_line"), pa.array(idx)),
                "kind": pa.array([self.t.kind] * len(idx)),
                "scope": pa.array([scope] * len(idx)),
                "reason": pa.array([reason] * len(idx)),
                "column": pa.array([column] * len(idx)),
                "raw_value": pa.array(raw, type=pa.string())
                if not isinstance(raw, pa.ChunkedArray)
                else raw.combine_chunks().cast(pa.string()),
            }
        )


def _normalise(
    t: RawTable,
    spec: TableSpec,
    schools: dict[str, str] | None,
    today: dt.date,
    col: _Collector,
    enc: dict[str, _Encoded],
    schema: TableSchema | None = None,
) -> tuple[pa.Table, np.ndarray]:
    """Typed clean columns for one table, and the mask of rows to keep.

    Every rule runs on a column's distinct values (``enc``) and is broadcast to the rows."""
    tab = t.table
    n = tab.num_rows
    out: dict[str, pa.Array] = {}
    keep = np.ones(n, bool)
    for c, e in enc.items():
        kind = COLUMN_TYPES.get(c, "text")
        v = e.text
        d_empty = e.once(
            "empty", lambda v=v: pc.equal(pc.utf8_length(v), 0).to_numpy(zero_copy_only=False)
        )
        empty = d_empty[e.codes]
        if kind == "id":
            ids = e.once("ids", lambda e=e: normalize_ids(e.raw))
            id18, id_status, id_partial, id_regno = (
                ids.column(k).combine_chunks()
                for k in ("id_number", "id_status", "id_partial", "id_regno")
            )
            out[c] = e.rows(id18)
            out[f"{c}_status"] = e.rows(id_status)
            out[f"{c}_partial"] = e.rows(id_partial)
            d_status = id_status.to_numpy(zero_copy_only=False)
            for st in ("bad_check", "bad_date", "malformed", "excel_truncated", "registry_number"):
                col.value((d_status == st)[e.codes], c, f"id_{st}", e.raw_rows())
            d_changed = (d_status == "valid") & pc.fill_null(
                pc.not_equal(e.raw, id18), False
            ).to_numpy(zero_copy_only=False)
            col.repairs["id_normalised"] += int(d_changed[e.codes].sum())
            col.repairs["id_upgraded15"] += int((d_status == "upgraded15")[e.codes].sum())
            if "student_no" in enc:
                d_reg = pc.is_valid(id_regno).to_numpy(zero_copy_only=False)
                col.repairs["id_column_held_registry_number"] += int(d_reg[e.codes].sum())
        elif kind == "name":
            norm, trad = e.once("names", lambda e=e: normalize_names(e.raw))
            out[c] = e.rows(norm)
            out[f"{c}_raw"] = e.rows(e.raw)
            col.repairs["name_traditional_to_simplified"] += int(e.mask(trad).sum())
        elif kind in ("date", "month"):
            d, _fmt = e.once(kind, lambda v=v, k=kind: parse_dates(v, month_only=k == "month"))
            bad = ~empty & ~e.mask(pc.is_valid(d))
            col.value(bad, c, "unparseable_date", e.text_rows())
            d = _declared(c, d, d_empty, e, schema, col)
            out[c] = e.rows(d)
            if c == "birth_date":
                future = e.mask(pc.greater(d, pa.scalar(today, pa.date32())))
                col.row(future & keep, "future_birth_date", tab)
                keep &= ~future
        elif kind == "int":
            d_ok = pc.match_substring_regex(v, r"^-?\d+(\.0+)?$").to_numpy(zero_copy_only=False)
            d_vals = np.zeros(len(v), np.int64)
            if d_ok.any():
                d_vals[d_ok] = pc.cast(
                    pc.cast(pc.filter(v, pa.array(d_ok)), pa.float64()), pa.int64()
                ).to_numpy()
            col.value(~d_ok[e.codes] & ~empty, c, "not_an_integer", e.text_rows())
            dv = _declared(
                c, pa.array(d_vals, mask=~d_ok, type=pa.int64()), d_empty, e, schema, col
            )
            out[c] = e.rows(dv)
        elif kind == "float":
            d_ok = pc.match_substring_regex(v, r"^-?\d+(\.\d*)?$").to_numpy(zero_copy_only=False)
            d_vals = np.zeros(len(v), np.float64)
            if d_ok.any():
                d_vals[d_ok] = pc.cast(pc.filter(v, pa.array(d_ok)), pa.float64()).to_numpy()
            col.value(~d_ok[e.codes] & ~empty, c, "not_a_number", e.text_rows())
            dv = _declared(c, pa.array(d_vals, mask=~d_ok), d_empty, e, schema, col)
            out[c] = e.rows(dv)
        elif kind == "school_code":
            out[c] = e.rows(v)
            if schools is not None:
                d_unknown = ~d_empty & ~pc.is_in(v, pa.array(sorted(schools))).to_numpy(
                    zero_copy_only=False
                )
                unknown = d_unknown[e.codes]
                col.value(unknown, c, "unknown_school_code", e.text_rows())
                # A known code with another school's name: a code typed wrong (or a name).
                mismatch = np.zeros(n, bool)
                if "school_name" in enc:
                    codes = e.rows(v)
                    roster_name = pc.take(
                        pa.array(list(schools.values()), type=pa.string()),
                        pc.index_in(codes, pa.array(list(schools.keys()), type=pa.string())),
                    )
                    name = enc["school_name"].rows(enc["school_name"].text)
                    named = pc.greater(pc.utf8_length(name), 0)
                    mismatch = (
                        pc.fill_null(
                            pc.and_(named, pc.not_equal(roster_name, name)), False
                        ).to_numpy(zero_copy_only=False)
                        & ~unknown
                    )
                    col.value(mismatch, c, "school_code_name_mismatch", e.text_rows())
                out[c] = pc.if_else(
                    pa.array(unknown | mismatch), pa.scalar(None, pa.string()), out[c]
                )
        elif kind == "address":
            fixed = v
            for old_name, new_name in LEGACY_COUNTY_NAMES.items():
                fixed = pc.replace_substring(fixed, old_name, new_name)
            col.repairs["legacy_county_name"] += int(e.mask(pc.not_equal(fixed, v)).sum())
            out[c] = e.rows(fixed)
        elif kind == "county_code":
            d_legacy = pc.is_in(v, pa.array(list(LEGACY_COUNTY_CODES)))
            mapped = v
            for old_code, new_code in LEGACY_COUNTY_CODES.items():
                mapped = pc.if_else(pc.equal(mapped, old_code), new_code, mapped)
            out[c] = e.rows(mapped)
            col.repairs["legacy_county_code"] += int(e.mask(d_legacy).sum())
        else:
            out[c] = e.rows(_declared(c, v, d_empty, e, schema, col))
        if c in NOT_NULL.get(t.kind, ()):
            missing = empty & keep
            col.row(missing, f"missing_{c}", tab)
            keep &= ~empty
    _cross_check_id(out, col)
    if t.kind == "attendance":
        nums = {
            c: out[c].to_numpy(zero_copy_only=False) for c in ("days_required", *ATTENDANCE_PARTS)
        }
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
        col.row(bad_num & keep, "attendance_not_a_number", tab)
        keep &= ~bad_num
        col.row((negative | impossible) & keep, "impossible_attendance", tab)
        keep &= ~(negative | impossible)
    return pa.table(out), keep


def _declared(
    c: str,
    values: pa.Array,
    d_empty: np.ndarray,
    e: _Encoded,
    schema: TableSchema | None,
    col: _Collector,
) -> pa.Array:
    """Apply the declared codes, format and range of column ``c`` to its distinct values:
    spellings standardised to the canonical code (a repair), failing values set to null and
    quarantined with the reason."""
    rule = schema.columns.get(c) if schema else None
    if rule is None:
        return values

    def run():
        checked, bad = check_values(rule, values, d_empty)
        changed = None
        if rule.codes is not None:
            changed = pc.fill_null(pc.not_equal(checked.cast(pa.string()), values), False)
        return checked, bad, changed

    checked, bad, changed = e.once(("declared", c), run)
    for reason, d_mask in bad.items():
        col.value(d_mask[e.codes], c, reason, e.text_rows())
    if changed is not None:
        col.repairs["code_standardised"] += int(e.mask(changed).sum())
    return checked


def _cross_check_id(out: dict[str, pa.Array], col: _Collector) -> None:
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


def _exact_duplicates(enc: dict[str, _Encoded], n: int) -> np.ndarray:
    """For each row, the index of the first row identical to it in every column (itself
    when it is the first). Built from the columns' codes (hashing integers, never joined
    strings)."""
    import pandas as pd

    if not enc or n == 0:
        return np.arange(n)
    key = np.zeros(n, np.int64)
    for e in enc.values():
        card = max(len(e.raw), 1)
        if key.max(initial=0) >= (np.iinfo(np.int64).max // card) - card:
            key = pd.factorize(key)[0].astype(np.int64)  # re-densify
        key = key * card + e.codes
    codes = pd.factorize(key)[0]  # numbered in order of first occurrence
    first = np.empty(codes.max() + 1, np.int64)
    first[codes[::-1]] = np.arange(n - 1, -1, -1)  # the last write wins: the first row
    return first[codes]


def _clean_one(
    i: int,
    p: Path,
    raw_dir: Path,
    specs: dict,
    schools: dict[str, str] | None,
    today: dt.date,
    sha1: str,
    parts: Path,
    schemas: dict[str, TableSchema],
    tables: list[RawTable] | RawFileError,
    encodings: list[dict[str, _Encoded]],
) -> FileReport:
    """Clean one raw file, already read (``tables``, or the error that rejected it) and
    encoded (see :func:`_clean_group`); its clean tables, quarantine and merges go to
    ``parts``."""
    bodies: list[tuple[str, pa.Table, list[str]]] = []
    quarantine: list[pa.Table] = []
    merges: list[pa.Table] = []
    rel = str(p.relative_to(raw_dir))
    rep = FileReport(rel, sha1)
    if isinstance(tables, RawFileError):
        rep.status, rep.message = "rejected", str(tables)
        return rep
    for k, t in enumerate(tables):
        rep.kinds.append(t.kind)
        rep.encoding = t.encoding
        rep.unknown_columns += [u for u in t.unknown_columns if u not in rep.unknown_columns]
        rep.empty_rows += t.empty_rows
        rep.duplicate_columns += [d for d in t.duplicate_columns if d not in rep.duplicate_columns]
        n = t.table.num_rows
        rep.rows_read += n + len(t.malformed)
        if t.malformed:
            rep.malformed_lines += len(t.malformed)
            rep.rows_quarantined["malformed_line"] = rep.rows_quarantined.get(
                "malformed_line", 0
            ) + len(t.malformed)
            quarantine.append(
                pa.table(
                    {
                        "source_file": [rel] * len(t.malformed),
                        "source_sheet": [t.sheet] * len(t.malformed),
                        "source_row": pa.array([None] * len(t.malformed), pa.int64()),
                        "source_line": pa.array([ln for ln, _ in t.malformed], pa.int64()),
                        "kind": [t.kind] * len(t.malformed),
                        "scope": ["row"] * len(t.malformed),
                        "reason": ["malformed_line"] * len(t.malformed),
                        "column": [""] * len(t.malformed),
                        "raw_value": [m for _, m in t.malformed],
                    }
                )
            )
        enc = encodings[k]
        first = _exact_duplicates(enc, n)
        dup = first != np.arange(n)
        if dup.any():
            idx = np.flatnonzero(dup)
            merges.append(
                pa.table(
                    {
                        "source_file": [rel] * len(idx),
                        "source_sheet": [t.sheet] * len(idx),
                        "source_row": pc.take(t.table.column("source_row"), pa.array(idx)),
                        "merged_into_row": pc.take(
                            t.table.column("source_row"), pa.array(first[idx])
                        ),
                    }
                )
            )
        col = _Collector(t)
        schema = schemas.get(t.kind)
        clean_tab, keep = _normalise(t, specs[t.kind], schools, today, col, enc, schema)
        for name in ("source_row", "source_line"):
            clean_tab = clean_tab.append_column(name, t.table.column(name))
        clean_tab = clean_tab.append_column(
            "source_file", pa.repeat(pa.scalar(rel, pa.string()), n)
        ).append_column("source_sheet", pa.repeat(pa.scalar(t.sheet, pa.string()), n))
        typed = conform(clean_tab, output_schema(t.kind, specs, schema))
        for rule, bad in failing_rules(typed, schema):
            if rule.scope == "row":
                col.row(bad & keep, rule.name, t.table)
                keep &= ~bad
            else:
                col.row(bad, rule.name, t.table, scope="flag")
                rep.flags[rule.name] = rep.flags.get(rule.name, 0) + int((bad & ~dup).sum())
        keep_rows = keep & ~dup
        # A duplicate of a row that was quarantined counts as merged, not twice quarantined.
        rep.rows_merged += int(dup.sum())
        row_q = [q for q in col.rows if q.column("scope")[0].as_py() == "row"]
        # Keep only row-quarantine records of non-duplicate rows.
        for q in col.rows:
            if q.column("scope")[0].as_py() in ("row", "flag"):
                rows_q = q.column("source_row").to_numpy()
                q = q.filter(pa.array(~dup[rows_q - 1]))
            quarantine.append(q)
        for q in row_q:
            rows_q = q.column("source_row").to_numpy()
            reason = q.column("reason")[0].as_py()
            c = int((~dup[rows_q - 1]).sum())
            if c:
                rep.rows_quarantined[reason] = rep.rows_quarantined.get(reason, 0) + c
        for k, v in col.values.items():
            rep.values_quarantined[k] = rep.values_quarantined.get(k, 0) + v
        for k, v in col.repairs.items():
            if v:
                rep.repairs[k] = rep.repairs.get(k, 0) + v
        rep.rows_kept += int(keep_rows.sum())
        body = typed if keep_rows.all() else typed.filter(pa.array(keep_rows))
        # Parquet dictionary pages pay only for columns with few distinct values.
        few = {c for c, e in enc.items() if len(e.raw) <= max(1000, n // 5)}
        few |= {f"{c}_status" for c in enc} | {f"{c}_partial" for c in enc}
        few |= {f"{c}_raw" for c in few} | {"source_file", "source_sheet"}
        bodies.append((t.kind, body, sorted(few & set(body.column_names))))
    _write_parts(parts, i, bodies, quarantine, merges)
    return rep


#: The quarantine: one record per quarantined row (``scope='row'``), per value set to null
#: (``'value'``) and per row kept but flagged by a cross-field rule (``'flag'``).
QUARANTINE_SCHEMA = pa.schema(
    [
        ("source_file", pa.string()),
        ("source_sheet", pa.string()),
        ("source_row", pa.int64()),
        ("source_line", pa.int64()),
        ("kind", pa.string()),
        ("scope", pa.string()),
        ("reason", pa.string()),
        ("column", pa.string()),
        ("raw_value", pa.string()),
    ]
)
#: Exact duplicate rows merged into their first occurrence in the same sheet.
MERGES_SCHEMA = pa.schema(
    [
        ("source_file", pa.string()),
        ("source_sheet", pa.string()),
        ("source_row", pa.int64()),
        ("merged_into_row", pa.int64()),
    ]
)


def output_schema(kind: str, specs: dict, schema: TableSchema | None) -> pa.Schema:
    """The declared Arrow schema of clean table ``kind``: every canonical column of the header
    dictionary, typed by :data:`COLUMN_TYPES` and the declared code lists, plus lineage."""
    return arrow_schema(kind, list(specs[kind].aliases), COLUMN_TYPES, schema)


def _part(dest: Path, table: pa.Table, name: str, dictionary: list[str] | bool = True) -> None:
    """Write one part. Statistics (min/max per row group, for filtering) are kept for
    every column but free text, where they cost much and serve nothing."""
    dest.mkdir(exist_ok=True)
    stats = [
        f.name
        for f in table.schema
        if not pa.types.is_string(f.type)
        or f.name in ("source_file", "source_sheet")
        or f.name.endswith("_status")
        or f.name in ("school_code", "county_code")
    ]
    # Row and line numbers ascend: delta encoding stores them in a few bits a row, 4x faster
    # to write than plain (and not dictionary-encodable then, so never in the dictionary).
    delta = {
        c: "DELTA_BINARY_PACKED"
        for c in ("source_row", "source_line", "merged_into_row")
        if c in table.column_names
    }
    if dictionary is True:
        dictionary = [c for c in table.column_names if c not in delta]
    pq.write_table(
        table,
        dest / name,
        compression="zstd",
        use_dictionary=[c for c in dictionary or [] if c not in delta],
        write_statistics=stats,
        column_encoding=delta,
    )


def _write_parts(parts: Path, i: int, bodies, quarantine, merges) -> None:
    """Write one raw file's output straight into the tables' folders (Parquet datasets: one
    part per raw file sheet, all in the table's declared schema, so nothing is concatenated
    afterwards)."""
    for j, (kind, body, dictionary) in enumerate(bodies):
        _part(parts / f"{kind}.parquet", body, f"part-{i:04d}-{j:02d}.parquet", dictionary)
    if quarantine:
        q = pa.concat_tables([conform(x, QUARANTINE_SCHEMA) for x in quarantine])
        _part(parts / "quarantine.parquet", q, f"part-{i:04d}.parquet")
    if merges:
        m = pa.concat_tables([conform(x, MERGES_SCHEMA) for x in merges])
        _part(parts / "merges.parquet", m, f"part-{i:04d}.parquet")


_JOB: dict = {}


def _rules_hash() -> str:
    """The header dictionary and declared schema in force: a change to either reruns."""
    from importlib.resources import files

    h = hashlib.sha1()
    for name in ("headers.yaml", "schema.yaml"):
        h.update((files("analysis.resources") / name).read_bytes())
    return h.hexdigest()


def _encode_group(tables: list[list[RawTable]]) -> list[list[dict[str, _Encoded]]]:
    """Encode the columns of a group's tables (per file, per sheet) as codes into distinct
    values, one hash pass per column name over all the group's tables of a kind: the same
    children are in every term's registry (ten files of a county hold few new names), so
    each rule then runs once per distinct value of the group, not once per file. Tables
    encoded together share ``raw`` and the ``cache`` of rule results."""
    out: list[list[dict[str, _Encoded]]] = [[{} for _ in ts] for ts in tables]
    by: dict[tuple[str, str], list[tuple[int, int, str, pa.ChunkedArray]]] = {}
    for f, ts in enumerate(tables):
        for k, t in enumerate(ts):
            for c in t.table.column_names:
                if c not in ("source_row", "source_line"):
                    by.setdefault((t.kind, c), []).append((f, k, c, t.table.column(c)))
    for cols in by.values():
        whole = pa.chunked_array(
            [ch for *_, a in cols for ch in a.cast(pa.string()).chunks], pa.string()
        )
        if whole.null_count:
            whole = pc.fill_null(whole, "")
        enc = pc.dictionary_encode(whole)  # one dictionary over all chunks
        codes = np.concatenate(
            [np.asarray(ch.indices, np.int32) for ch in enc.chunks] or [np.zeros(0, np.int32)]
        )
        raw = enc.chunk(0).dictionary if enc.num_chunks else pa.array([], pa.string())
        cache: dict = {}
        off = 0
        for f, k, c, a in cols:
            out[f][k][c] = _Encoded(codes[off : off + len(a)], raw, cache)
            off += len(a)
    return out


def _clean_group(group: list[tuple[int, Path]]) -> list[tuple[int, FileReport]]:
    """A group of files (one county's extracts of one dataset), in a worker: read them all,
    share their distinct values, then clean each; with their SHA-1s for the manifest."""
    j = _JOB
    if j.get("single_thread"):
        pa.set_cpu_count(1)  # one worker per core: Arrow's own threads would only contend
    loaded = []
    for i, p in group:
        t0 = time.perf_counter()
        # A CSV is read once, hashed and parsed from the same bytes.
        content = p.read_bytes() if p.suffix.lower() == ".csv" else None
        sha = _sha1(p) if content is None else hashlib.sha1(content).hexdigest()
        try:
            tables: list[RawTable] | RawFileError = read_raw_file(
                p, j["raw_dir"], j["specs"], content
            )
        except RawFileError as exc:
            tables = exc
        loaded.append([i, p, sha, tables, [], time.perf_counter() - t0])
    t0 = time.perf_counter()
    ok = [item for item in loaded if not isinstance(item[3], RawFileError)]
    for item, encodings in zip(ok, _encode_group([item[3] for item in ok]), strict=True):
        item[4] = encodings
    # The shared encoding's time, spread over the files by rows.
    rows = {id(item): sum(t.table.num_rows for t in item[3]) for item in ok}
    spent, total = time.perf_counter() - t0, max(1, sum(rows.values()))
    for item in ok:
        item[5] += spent * rows[id(item)] / total
    out = []
    for item in loaded:
        i, p, sha, tables, encodings, seconds = item
        t0 = time.perf_counter()
        rep = _clean_one(
            i,
            p,
            j["raw_dir"],
            j["specs"],
            j["schools"],
            j["today"],
            sha,
            j["parts"],
            j["schemas"],
            tables,
            encodings,
        )
        rep.seconds = round(seconds + time.perf_counter() - t0, 3)
        item[3] = item[4] = None  # free the tables as we go
        out.append((i, rep))
    return out


def _group_key(rel: str) -> tuple[str, str]:
    """Files cleaned together: the same dataset folder and county (the code the file name
    starts with); a file without a county code is a group of its own."""
    folder, _, name = rel.partition("/")
    county = name.split("_", 1)[0]
    return folder, county if county.isdigit() and len(county) == 6 else name


def _stats(paths: list[Path], raw_dir: Path) -> dict[str, list[int]]:
    """Size and modification time of every raw file: the cheap test of "unchanged"."""
    return {str(p.relative_to(raw_dir)): [p.stat().st_size, p.stat().st_mtime_ns] for p in paths}


def _unchanged(prev: dict, stats: dict, paths: list[Path], raw_dir: Path) -> dict | None:
    """The previous manifest if the inputs and rules are the same, else None. Files whose
    size or time changed are compared by content (SHA-1), so a copied or touched but
    identical extract does not trigger a rerun."""
    if prev.get("version") != __version__ or prev.get("rules") != _rules_hash():
        return None
    if set(prev.get("inputs", {})) != set(stats):
        return None
    if prev.get("stats") != stats:
        for p in paths:
            rel = str(p.relative_to(raw_dir))
            if prev.get("stats", {}).get(rel) != stats[rel] and _sha1(p) != prev["inputs"][rel]:
                return None
        prev["stats"] = stats
    return prev


def clean(
    raw_dir: Path,
    interim_dir: Path,
    progress: Callable[[str], None] | None = None,
    today: dt.date | None = None,
    force: bool = False,
    workers: int = 2,
) -> dict:
    """Clean every file under ``raw_dir`` into ``interim_dir``; return the manifest."""
    say = progress or (lambda _m: None)
    today = today or dt.date.today()
    raw_dir, interim_dir = Path(raw_dir), Path(interim_dir)
    paths = sorted(p for p in raw_dir.rglob("*") if p.is_file() and not p.name.startswith("."))
    if not paths:
        raise RawFileError(
            f"{raw_dir}: no raw files (run `analysis synth` or copy a county's extracts there)"
        )
    stats = _stats(paths, raw_dir)
    old = interim_dir / "manifest.json"
    if old.is_file() and not force:
        prev = _unchanged(json.loads(old.read_text(encoding="utf-8")), stats, paths, raw_dir)
        if prev is not None:
            old.write_text(json.dumps(prev, ensure_ascii=False, indent=1), encoding="utf-8")
            prev["skipped"] = True
            return prev
    specs = load_dictionary()
    t0 = time.perf_counter()
    # The school roster first: other tables' school codes are checked against it.
    schools: dict[str, str] | None = None  # roster: school code -> school name
    for p in paths:
        if p.relative_to(raw_dir).parts[0] == "schools":
            try:
                for t in read_raw_file(p, raw_dir, specs):
                    if t.kind == "schools":
                        codes = _text(t.table.column("school_code")).to_pylist()
                        names = _text(t.table.column("school_name")).to_pylist()
                        schools = {**(schools or {}), **dict(zip(codes, names, strict=True))}
            except RawFileError:
                pass

    schemas = load_schema()
    # Workers write their parts straight into the new output folder, swapped in at the end.
    tmp = interim_dir.with_name(interim_dir.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    _JOB.update(
        raw_dir=raw_dir,
        specs=specs,
        schools=schools,
        today=today,
        parts=tmp,
        schemas=schemas,
    )

    # Groups of files (a county's extracts of one dataset), largest work first, handed out
    # one at a time: the cores finish together. (Workbooks cost about six times as much per
    # byte as CSV.)
    def cost(k: int) -> float:
        return stats[str(paths[k].relative_to(raw_dir))][0] * (
            6 if paths[k].suffix.lower() in (".xlsx", ".xlsm") else 1
        )

    grouped: dict[tuple[str, str], list[tuple[int, Path]]] = {}
    for k, p in enumerate(paths):
        grouped.setdefault(_group_key(str(p.relative_to(raw_dir))), []).append((k, p))
    groups = sorted(grouped.values(), key=lambda g: -sum(cost(k) for k, _ in g))
    n_proc = max(1, min(workers, len(groups)))
    say(f"cleaning {len(paths)} files in {n_proc} process(es)")
    try:
        if n_proc > 1:
            import multiprocessing as mp

            # Forked: the job description is inherited; only the reports travel back.
            _JOB["single_thread"] = True
            with mp.get_context("fork").Pool(n_proc) as pool:
                results = [
                    r for rs in pool.imap_unordered(_clean_group, groups, chunksize=1) for r in rs
                ]
        else:
            results = [r for g in groups for r in _clean_group(g)]
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        _JOB.clear()
    reports = [rep for _, rep in sorted(results, key=lambda r: r[0])]
    hashes = {rep.file: rep.sha1 for rep in reports}
    # Every table that has a part, and always the quarantine and merges (maybe empty).
    for name, sch in (("quarantine", QUARANTINE_SCHEMA), ("merges", MERGES_SCHEMA)):
        if not (tmp / f"{name}.parquet").exists():
            _part(tmp / f"{name}.parquet", sch.empty_table(), "part-0000.parquet")
    tables_out = {
        d.name.removesuffix(".parquet"): sum(
            pq.read_metadata(f).num_rows for f in d.glob("*.parquet")
        )
        for d in sorted(tmp.glob("*.parquet"))
        if d.name not in ("quarantine.parquet", "merges.parquet")
    }
    manifest = {
        "version": __version__,
        "seconds": round(time.perf_counter() - t0, 1),
        "inputs": hashes,
        "stats": stats,
        "rules": _rules_hash(),
        "tables": tables_out,
        "files": [rep.__dict__ for rep in reports],
        "totals": {
            "files": len(reports),
            "rejected": sum(r.status == "rejected" for r in reports),
            "rows_read": sum(r.rows_read for r in reports),
            "rows_kept": sum(r.rows_kept for r in reports),
            "rows_merged": sum(r.rows_merged for r in reports),
            "rows_quarantined": sum(sum(r.rows_quarantined.values()) for r in reports),
            "values_quarantined": sum(sum(r.values_quarantined.values()) for r in reports),
            "rows_flagged": sum(sum(r.flags.values()) for r in reports),
        },
    }
    (tmp / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    old_dir = interim_dir.with_name(interim_dir.name + ".old")
    shutil.rmtree(old_dir, ignore_errors=True)
    if interim_dir.exists():
        os.replace(interim_dir, old_dir)
    os.replace(tmp, interim_dir)
    shutil.rmtree(old_dir, ignore_errors=True)
    manifest["skipped"] = False
    return manifest
