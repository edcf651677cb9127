"""The declared schema of the clean tables, read from ``resources/schema.yaml``.

The schema says, per table kind, what every clean column is (its Arrow type), which code
list standardises it, its allowed range or format, and the cross-field rules a row must
satisfy. The cleaning stage applies it value by value (on distinct values, broadcast to rows)
and writes every table in exactly its declared Arrow schema, so every part of a table has the
same columns and types whichever extract it came from.

Why not pandera: the checks must run on Arrow columns of ten million rows without a detour
through pandas, and every failing value must land in the quarantine with its file, row and
reason rather than in an exception report. The declaration stays data, like pandera's, and a
user extends it without touching code.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import yaml

#: GB 3304 (names and romanisation codes of China's nationalities), in code order 01-56.
GB3304 = [
    "汉族",
    "蒙古族",
    "回族",
    "藏族",
    "维吾尔族",
    "苗族",
    "彝族",
    "壮族",
    "布依族",
    "朝鲜族",
    "满族",
    "侗族",
    "瑶族",
    "白族",
    "土家族",
    "哈尼族",
    "哈萨克族",
    "傣族",
    "黎族",
    "傈僳族",
    "佤族",
    "畲族",
    "高山族",
    "拉祜族",
    "水族",
    "东乡族",
    "纳西族",
    "景颇族",
    "柯尔克孜族",
    "土族",
    "达斡尔族",
    "仫佬族",
    "羌族",
    "布朗族",
    "撒拉族",
    "毛南族",
    "仡佬族",
    "锡伯族",
    "阿昌族",
    "普米族",
    "塔吉克族",
    "怒族",
    "乌孜别克族",
    "俄罗斯族",
    "鄂温克族",
    "德昂族",
    "保安族",
    "裕固族",
    "京族",
    "塔塔尔族",
    "独龙族",
    "鄂伦春族",
    "赫哲族",
    "门巴族",
    "珞巴族",
    "基诺族",
]

#: The types a column may be declared with (``type:`` in schema.yaml; text if absent).
COLUMN_TYPES = (
    "text", "id", "name", "date", "month", "int", "float", "school_code", "county_code", "address",
    "term",
)  # fmt: skip
#: How each column type is stored in the clean table (text types: as strings).
ARROW_TYPES: dict[str, pa.DataType] = {
    "date": pa.date32(),
    "month": pa.date32(),
    "int": pa.int32(),
    "float": pa.float64(),
}
LINEAGE = pa.schema(
    [
        ("source_file", pa.string()),
        ("source_sheet", pa.string()),
        ("source_row", pa.int64()),
        ("source_line", pa.int64()),
    ]
)


class SchemaError(ValueError):
    """The schema file itself is wrong: the message names the entry."""


def _key(value: str) -> str:
    """How a code is compared: NFKC, trimmed, Latin letters lower-cased."""
    return unicodedata.normalize("NFKC", str(value)).strip().lower()


@dataclass(frozen=True)
class CodeList:
    """Canonical values and every spelling that means them."""

    name: str
    lookup: dict[str, object]  # normalised spelling -> canonical value
    integer: bool  # canonical values are integers

    @property
    def arrow_type(self) -> pa.DataType:
        return pa.int16() if self.integer else pa.string()


@dataclass(frozen=True)
class ColumnRule:
    """A column's declaration: its type, and the code list, range or format it must meet."""

    type: str = "text"
    codes: CodeList | None = None
    min: object = None
    max: object = None
    pattern: str | None = None


@dataclass(frozen=True)
class Rule:
    """A cross-field check: a SQL predicate over the typed columns that must not be false."""

    name: str
    check: str
    scope: str  # 'row' (quarantine the row) or 'flag' (keep it, list it)


@dataclass(frozen=True)
class TableSchema:
    """A clean table's declaration (see the grammar at the top of ``schema.yaml``)."""

    kind: str
    columns: dict[str, ColumnRule] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()
    not_null: tuple[str, ...] = ()
    roles: dict[str, str] = field(default_factory=dict)

    def type_of(self, column: str) -> str:
        """The declared type of ``column`` (``text`` if it has none)."""
        rule = self.columns.get(column)
        return rule.type if rule is not None else "text"

    def columns_of(self, type_: str) -> list[str]:
        """The columns declared with ``type_``."""
        return [c for c, r in self.columns.items() if r.type == type_]


def _code_list(name: str, spec) -> CodeList:
    lookup: dict[str, object] = {}
    if spec == "GB3304":
        for k, people in enumerate(GB3304, start=1):
            canon = people
            for alias in {people, people.removesuffix("族") or people, f"{k:02d}", str(k)}:
                lookup[_key(alias)] = canon
        return CodeList(name, lookup, integer=False)
    if not isinstance(spec, dict) or not spec:
        raise SchemaError(f"schema.yaml: code list '{name}' must map canonical values to aliases")
    integer = all(isinstance(k, int) for k in spec)
    for canon, aliases in spec.items():
        for alias in [canon, *(aliases or [])]:
            k = _key(alias)
            if k in lookup and lookup[k] != canon:
                raise SchemaError(
                    f"schema.yaml: in code list '{name}', '{alias}' means both "
                    f"'{lookup[k]}' and '{canon}'"
                )
            lookup[k] = canon
    return CodeList(name, lookup, integer)


def _bound(value, where: str):
    if value is None or isinstance(value, int | float | dt.date):
        return value
    raise SchemaError(f"schema.yaml: {where} must be a number or an ISO date, not {value!r}")


def parse_schema(doc: dict) -> dict[str, TableSchema]:
    """Check and build the schema from its YAML document."""
    codes = {name: _code_list(name, spec) for name, spec in (doc.get("codes") or {}).items()}
    out: dict[str, TableSchema] = {}
    for kind, tspec in (doc.get("tables") or {}).items():
        tspec = tspec or {}
        unknown = set(tspec) - {"columns", "rules", "not_null", "roles"}
        if unknown:
            raise SchemaError(f"schema.yaml: {kind}: unknown key(s) {sorted(unknown)}")
        cols: dict[str, ColumnRule] = {}
        for col, cspec in (tspec.get("columns") or {}).items():
            cspec = cspec or {}
            unknown = set(cspec) - {"type", "codes", "min", "max", "pattern"}
            if unknown:
                raise SchemaError(f"schema.yaml: {kind}.{col}: unknown key(s) {sorted(unknown)}")
            if cspec.get("type", "text") not in COLUMN_TYPES:
                raise SchemaError(
                    f"schema.yaml: {kind}.{col}: type {cspec['type']!r} is not one of "
                    f"{', '.join(COLUMN_TYPES)}"
                )
            if "codes" in cspec and cspec["codes"] not in codes:
                raise SchemaError(
                    f"schema.yaml: {kind}.{col}: no code list '{cspec['codes']}' "
                    f"(known: {', '.join(sorted(codes))})"
                )
            if "pattern" in cspec:
                try:
                    re.compile(cspec["pattern"])
                except re.error as exc:
                    raise SchemaError(f"schema.yaml: {kind}.{col}: bad pattern ({exc})") from None
            cols[col] = ColumnRule(
                type=cspec.get("type", "text"),
                codes=codes.get(cspec.get("codes")),
                min=_bound(cspec.get("min"), f"{kind}.{col}.min"),
                max=_bound(cspec.get("max"), f"{kind}.{col}.max"),
                pattern=cspec.get("pattern"),
            )
        rules = []
        for r in (tspec or {}).get("rules") or []:
            if not {"name", "check"} <= set(r) or r.get("scope", "flag") not in ("row", "flag"):
                raise SchemaError(
                    f"schema.yaml: {kind}: a rule needs a name, a check and scope row|flag: {r}"
                )
            rules.append(Rule(r["name"], " ".join(str(r["check"]).split()), r.get("scope", "flag")))
        out[kind] = TableSchema(
            kind, cols, tuple(rules), tuple(tspec.get("not_null") or ()), _roles(kind, tspec)
        )
    return out


def _roles(kind: str, tspec: dict) -> dict[str, str]:
    from analysis.link.records import ROLES

    roles = dict(tspec.get("roles") or {})
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise SchemaError(
            f"schema.yaml: {kind}: unknown role(s) {sorted(unknown)} (roles: {', '.join(ROLES)})"
        )
    return roles


@cache
def _default_doc() -> str:
    return (files("analysis.resources") / "schema.yaml").read_text(encoding="utf-8")


def load_schema(path: Path | None = None) -> dict[str, TableSchema]:
    """The declared schema per table kind (the package's, or a user's file)."""
    text = Path(path).read_text(encoding="utf-8") if path else _default_doc()
    return parse_schema(yaml.safe_load(text))


def check_values(
    rule: ColumnRule, values: pa.Array, empty: np.ndarray
) -> tuple[pa.Array, dict[str, np.ndarray]]:
    """Apply a column's declared codes, format and range to (distinct) typed values.

    Returns the values (standardised to canonical codes; failing ones null) and, per reason
    (``unknown_code``, ``bad_format``, ``out_of_range``), the mask of failing values. Empty
    values (``empty``) are never failures: whether they are allowed is ``not_null``'s business.
    """
    bad: dict[str, np.ndarray] = {}
    n = len(values)
    if rule.codes is not None:
        keys = pc.utf8_lower(pc.utf8_trim_whitespace(pc.utf8_normalize(values, "NFKC")))
        spellings = list(rule.codes.lookup)
        canon = pa.array([rule.codes.lookup[s] for s in spellings], type=rule.codes.arrow_type)
        pos = pc.index_in(keys, pa.array(spellings, type=pa.string()))
        values = pc.take(canon, pos)
        bad["unknown_code"] = ~pc.is_valid(pos).to_numpy(zero_copy_only=False) & ~empty
    if rule.pattern is not None and pa.types.is_string(values.type):
        ok = pc.fill_null(pc.match_substring_regex(values, rule.pattern), False)
        bad["bad_format"] = ~ok.to_numpy(zero_copy_only=False) & ~empty
    if rule.min is not None or rule.max is not None:
        low = np.zeros(n, bool)
        if rule.min is not None:
            low |= pc.fill_null(pc.less(values, _scalar(rule.min, values.type)), False).to_numpy(
                zero_copy_only=False
            )
        if rule.max is not None:
            low |= pc.fill_null(pc.greater(values, _scalar(rule.max, values.type)), False).to_numpy(
                zero_copy_only=False
            )
        bad["out_of_range"] = low
    failing = np.zeros(n, bool)
    for m in bad.values():
        failing |= m
    if failing.any():
        values = pc.if_else(pa.array(failing), pa.scalar(None, values.type), values)
    return values, {k: m for k, m in bad.items() if m.any()}


def _scalar(value, typ: pa.DataType) -> pa.Scalar:
    if pa.types.is_date(typ) and not isinstance(value, dt.date):
        raise SchemaError(f"schema.yaml: a date column's bound must be a date, not {value!r}")
    return pa.scalar(value, typ)


def arrow_schema(canonical_columns: list[str], schema: TableSchema) -> pa.Schema:
    """The Arrow schema every part of a clean table is written in: each canonical column
    (of the header dictionary) as its declared type, then the lineage."""
    fields: list[pa.Field] = []
    for c in canonical_columns:
        typ = schema.type_of(c)
        rule = schema.columns.get(c)
        if typ == "id":
            fields += [
                pa.field(c, pa.string()),
                pa.field(f"{c}_status", pa.string()),
                pa.field(f"{c}_partial", pa.string()),
            ]
        elif typ == "name":
            fields += [pa.field(c, pa.string()), pa.field(f"{c}_raw", pa.string())]
        elif rule is not None and rule.codes is not None:
            fields.append(pa.field(c, rule.codes.arrow_type))
        else:
            fields.append(pa.field(c, ARROW_TYPES.get(typ, pa.string())))
    return pa.schema(fields + list(LINEAGE))


def conform(table: pa.Table, target: pa.Schema) -> pa.Table:
    """``table`` in exactly the ``target`` schema: columns reordered, cast, missing as null."""
    n = table.num_rows
    cols = [
        table.column(f.name).cast(f.type) if f.name in table.column_names else pa.nulls(n, f.type)
        for f in target
    ]
    return pa.Table.from_arrays(cols, schema=target)


def failing_rules(con, table: pa.Table, schema: TableSchema) -> list[tuple[Rule, np.ndarray]]:
    """Evaluate the cross-field rules on a typed table (in its declared schema), in the
    DuckDB connection ``con``: per rule, the mask of rows where the predicate is false (a
    null predicate passes: unknown is not wrong)."""
    if not schema.rules or table.num_rows == 0:
        return []
    import duckdb

    con.register("t", table)
    try:
        out = []
        for rule in schema.rules:
            try:
                res = con.execute(f"SELECT coalesce(NOT ({rule.check}), false) AS bad FROM t")
            except duckdb.Error as exc:
                raise SchemaError(
                    f"schema.yaml: {schema.kind}: rule '{rule.name}' cannot be evaluated ({exc})"
                ) from None
            out.append((rule, np.asarray(res.fetchnumpy()["bad"], bool)))
        return out
    finally:
        con.unregister("t")
