"""The extractor: clean columns in, a messy raw file out, and the truth of every row.

Every builder produces clean columns (:class:`Col`) and hands them to
:meth:`Extractor.emit`, which applies the mess (recorded value by value), inserts exact
duplicate rows, picks header names, formats and encodings, writes the file and records,
for every data row, which real person it describes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.resources import legacy_county_codes, legacy_county_names, load_names
from analysis.synth.mess import MessLog, format_dates, legacy15, mess_ids, mess_names
from analysis.synth.population import ETHNIC_NAMES
from analysis.synth.world import World
from analysis.synth.writers import Sheet, write_csv, write_xlsx

GRADE_CN = {
    1: "一年级",
    2: "二年级",
    3: "三年级",
    4: "四年级",
    5: "五年级",
    6: "六年级",
    7: "七年级",
    8: "八年级",
    9: "九年级",
}
GRADE_SHORT = {7: "初一", 8: "初二", 9: "初三"}
DISABILITY_DIGIT = {
    "视力": "1",
    "听力": "2",
    "言语": "3",
    "肢体": "4",
    "智力": "5",
    "精神": "6",
    "多重": "7",
}
LEVEL_CN = {1: "一级", 2: "二级", 3: "三级", 4: "四级"}


@dataclass
class Col:
    """A column of a file: canonical name, clean values, kind, header aliases, header group."""

    canonical: str
    values: np.ndarray
    kind: str = "text"
    aliases: tuple[str, ...] = ()
    group: str | None = None
    birth_year: np.ndarray | None = None
    regno: np.ndarray | None = None


def _obj(a) -> np.ndarray:
    return np.asarray(a, dtype=object)


def _lookup(values: np.ndarray, fn) -> np.ndarray:
    """``fn`` applied to each distinct value once, broadcast back (fast on repetitive columns)."""
    uniq, inv = np.unique(np.asarray(values), return_inverse=True)
    return np.array([fn(u) for u in uniq], dtype=object)[inv]


def _month_start(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    return (
        ((np.asarray(year) - 1970) * 12 + np.asarray(month) - 1)
        .astype("datetime64[M]")
        .astype("datetime64[D]")
    )


def _replace_all(text: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        text = text.replace(old, new)
    return text


def _unknown_code(code: str, known: frozenset[str]) -> str:
    """A mistyped school code that is in no roster (the last two digits changed)."""
    for step in range(50, 150):
        cand = code[:-2] + f"{(int(code[-2:]) + step) % 100:02d}"
        if cand not in known:
            return cand
    return code[:-3] + "999"


def child_columns(world: World) -> dict[str, np.ndarray]:
    """Children's columns as numpy arrays, converted once and shared by all builders."""
    children = world.pop.children
    return {
        k: (
            children[k].to_numpy(dtype=object)
            if children[k].dtype == "str"
            else children[k].to_numpy()
        )
        for k in children.columns
    }


class Extractor:
    """Writes files under ``root`` and collects the truth about every row and change."""

    def __init__(
        self,
        world: World,
        root: Path,
        rng: np.random.Generator,
        columns: dict | None = None,
        parts: Path | None = None,
        prefix: str = "",
        regno=None,
    ):
        from analysis.synth.extracts.recording import registry_numbers

        self.world = world
        #: Each child's registry number over the terms, as the registry assigned it
        #: (:func:`analysis.synth.extracts.recording.registry_numbers`).
        self.regno = regno if regno is not None else registry_numbers(world)
        self.root = root
        self.rng = rng
        self.rates = world.params.mess
        self.names = load_names()
        #: Children's columns as numpy arrays (pandas' Arrow strings are slow to convert, and
        #: every file takes a slice of them).
        self.C = columns if columns is not None else child_columns(world)
        #: Truth about rows and changed values: written to ``parts`` file by file (so ten
        #: million attendance rows are never all in memory), or kept here without ``parts``.
        self.parts = parts
        self.prefix = prefix
        self.school_codes = frozenset(world.geo.schools["school_code"])
        self.rows: list[pd.DataFrame] = []
        self.corruptions: list[pd.DataFrame] = []
        self.files: list[dict] = []
        self._buffer: dict[str, list] = {}

    #: Truth rows buffered before a part is written (a file per school and month would
    #: otherwise cost a Parquet file each).
    FLUSH_ROWS = 400_000

    def _keep(self, what: str, cols: dict[str, np.ndarray]) -> None:
        """Keep truth columns (equal-length arrays) of one file: buffered and written as a
        part when large enough, or kept in memory without ``parts``."""
        if self.parts is None:
            getattr(self, what).append(pd.DataFrame(cols))
            return
        buf = self._buffer.setdefault(what, [len(self.files), 0, []])
        buf[1] += len(next(iter(cols.values())))
        buf[2].append(cols)
        if buf[1] >= self.FLUSH_ROWS:
            self._flush(what)

    def _flush(self, what: str) -> None:
        buf = self._buffer.pop(what, None)
        if not buf or not buf[2]:
            return
        names = list(buf[2][0])
        frame = pd.DataFrame({c: np.concatenate([part[c] for part in buf[2]]) for c in names})
        frame.to_parquet(self.parts / f"{self.prefix}{buf[0]:06d}_{what}.parquet", index=False)

    def flush(self) -> None:
        """Write the truth still buffered (call when the builder is done)."""
        for what in list(self._buffer):
            self._flush(what)

    # ------------------------------------------------------------------------------------
    def emit(
        self,
        dataset: str,
        filename: str,
        cols: list[Col],
        person_id: np.ndarray,
        key: np.ndarray,
        fmt: str,
        titles: list[str] | None = None,
        sheet_of: np.ndarray | None = None,
        row_kind: np.ndarray | None = None,
        allow_duplicates: bool = True,
        extra_cols: bool = True,
        footer: float = 0.0,
    ) -> None:
        """Write ``dataset/filename.fmt`` from clean columns, made messy, and record the
        truth of its rows, of every value changed, and of the file.

        ``footer``: the chance that the form ends as paper forms do, below the records: a
        total row (合计, or a bare row of sums) and the signatures and date (填表人,
        审核人, 制表日期), recorded in the truth as rows of kind ``footer``."""
        n = len(person_id)
        log = MessLog()
        style = _Style.draw(self.rng, fmt == "xlsx", self.names)
        if extra_cols and self.rng.random() < 0.5:
            cols = [Col("_serial", np.arange(1, n + 1), "int", ("序号",)), *cols]
        table = _Table()
        for col in cols:
            self._messy_column(col, n, log, style, table)
        if fmt == "csv" and any(table.groups):
            table.header = [
                h if g is None or h.startswith(g) else g + h
                for h, g in zip(table.header, table.groups, strict=True)
            ]
            table.groups = [None] * len(table.groups)
        rows = _Rows.lay_out(self.rng, self.rates, n, allow_duplicates, sheet_of, style.xlsx)
        foot = _footer_rows(self.rng, table, rows, self.names) if self.rng.random() < footer else []
        rel = f"{dataset}/{filename}.{fmt}"
        written = self._write(rel, fmt, table, rows, titles, foot)
        self._record(
            rel, dataset, fmt, table, rows, person_id, key, row_kind, log, style, written, foot
        )

    def _messy_column(self, col: Col, n: int, log: MessLog, style: _Style, table: _Table) -> None:
        """One column's header (one of its aliases) and its values made messy by kind."""
        rng, rates = self.rng, self.rates
        alias = (
            col.aliases[0]
            if (len(col.aliases) == 1 or rng.random() < 0.45)
            else str(rng.choice(col.aliases[1:]))
        )
        kind_w, numeric = "text", None
        v = col.values
        if col.kind in ("id", "parent_id"):
            vals = _obj(v)
            if col.kind == "parent_id" and col.birth_year is not None:
                vals = legacy15(
                    rng, vals, col.birth_year, col.canonical, log, rates.parent_id_legacy15
                )
            raw, num = mess_ids(
                rng, vals, col.canonical, log, rates, regno=col.regno, xlsx=style.xlsx
            )
            if num.any():
                numeric, kind_w = num, "float_id"
        elif col.kind == "name":
            raw = mess_names(rng, _obj(v), col.canonical, log, rates, self.names, style.dot)
        elif col.kind == "date" and style.date == "cell":
            raw, numeric, kind_w = self._date_cells(col, n, log)
        elif col.kind in ("date", "month"):
            fmt = style.month if col.kind == "month" else style.date
            raw, serial = format_dates(
                rng, v, col.canonical, log, fmt, rates.date_mixed_format,
                month_only=col.kind == "month",
            )  # fmt: skip
            if serial.any():
                numeric, kind_w = serial, "serial"
        elif col.kind in _LEGACY:
            raw = _LEGACY[col.kind](self, col, n, log)
        elif col.kind == "int":
            raw, kind_w = np.asarray(v), "int"
        else:
            raw = _obj(v)
        table.add(alias, col, raw, kind_w, numeric)

    def _date_cells(self, col: Col, n: int, log: MessLog):
        """Real Excel date cells; a share typed in as text or left as a serial."""
        before = len(log.row)
        txt, serial = format_dates(
            self.rng, col.values, col.canonical, log, "iso", self.rates.date_mixed_format
        )
        mixed = np.zeros(n, bool)
        mixed[np.asarray(log.row[before:], dtype=int)] = True
        raw = np.empty(n, dtype=object)
        raw[:] = list(np.asarray(col.values).astype("datetime64[D]"))
        raw[mixed] = txt[mixed]
        return raw, serial, "mixed_date"

    def _legacy_address(self, col: Col, n: int, log: MessLog) -> np.ndarray:
        """Addresses with the county's name before it was reorganised (江川县, 澄江县)."""
        v = _obj(col.values)
        raw = v.copy()
        old_names = {new: old for old, new in legacy_county_names().items()}
        legacy = np.flatnonzero(
            pd.Series(raw, dtype="str").str.contains("|".join(old_names), regex=True).to_numpy()
            & (self.rng.random(n) < self.rates.legacy_county_address)
        )
        raw[legacy] = [_replace_all(s, old_names) for s in raw[legacy]]
        log.add(legacy, col.canonical, "legacy_county_address", v[legacy], raw[legacy])
        return raw

    def _legacy_code(self, col: Col, n: int, log: MessLog) -> np.ndarray:
        """County codes in the form before the county was reorganised (530421, 530422)."""
        v = _obj(col.values)
        raw = v.copy()
        legacy = {new: old for old, new in legacy_county_codes().items()}
        hit = np.flatnonzero(
            np.isin(raw, list(legacy)) & (self.rng.random(n) < self.rates.legacy_county_address)
        )
        raw[hit] = [legacy[x] for x in raw[hit]]
        log.add(hit, col.canonical, "legacy_county_code", v[hit], raw[hit])
        return raw

    def _mistyped_school(self, col: Col, n: int, log: MessLog) -> np.ndarray:
        """A few school codes mistyped into codes of no school."""
        v = _obj(col.values)
        raw = v.copy()
        bad = np.flatnonzero(self.rng.random(n) < self.rates.unknown_school_code)
        raw[bad] = [_unknown_code(s, self.school_codes) for s in raw[bad]]
        log.add(bad, col.canonical, "unknown_school_code", v[bad], raw[bad])
        return raw

    def _write(self, rel: str, fmt: str, table: _Table, rows: _Rows, titles, foot=()) -> dict:
        """The file itself: CSV in a drawn encoding and line ending, or a workbook with title
        rows, a sheet per group of rows and sometimes a notes sheet; footer rows (``foot``,
        a list of rows of cells) after the last record."""
        rng, rates, path = self.rng, self.rates, self.root / rel
        raw_cols = [a[rows.order] for a in table.raw_cols]
        numeric = {c: m[rows.order] for c, m in table.numeric.items()}
        kinds = list(table.kinds)
        last = rows.sheet[-1] if len(rows.sheet) else ("Sheet1" if fmt == "xlsx" else "")
        sheet_of_row = rows.sheet
        if foot:
            nf = len(foot)
            raw_cols = [
                np.concatenate(
                    [
                        a.astype(str).astype(object) if kinds[c] == "int" else a.astype(object),
                        np.array([r[c] for r in foot], dtype=object),
                    ]
                )
                for c, a in enumerate(raw_cols)
            ]
            numeric = {c: np.concatenate([m, np.zeros(nf, bool)]) for c, m in numeric.items()}
            kinds = ["text" if k == "int" else k for k in kinds]
            sheet_of_row = np.concatenate([rows.sheet, np.full(nf, last, dtype=object)])
        out = {"encoding": "", "crlf": False, "merged_header": False, "title_rows": 0}
        if fmt == "csv":
            enc_names = [e for e, _ in rates.csv_encoding]
            enc_p = np.array([p for _, p in rates.csv_encoding])
            out["encoding"] = str(rng.choice(enc_names, p=enc_p / enc_p.sum()))
            out["crlf"] = bool(rng.random() < 0.5)
            write_csv(path, table.header, raw_cols, out["encoding"], out["crlf"])
            return out
        merged = out["merged_header"] = bool(any(g for g in table.groups))
        ts = list(titles or [])
        title_rows = int(rng.integers(1, rates.xlsx_title_rows_max + 1)) if ts else 0
        ts = ts[:title_rows]
        out["title_rows"] = len(ts)
        sheets = []
        for s in pd.unique(sheet_of_row):
            m = sheet_of_row == s
            sheets.append(
                Sheet(
                    name=str(s),
                    header=table.header,
                    columns=[a[m] for a in raw_cols],
                    kinds=kinds,
                    titles=ts,
                    groups=table.groups if merged else None,
                    numeric={c: numeric[c][m] for c in numeric},
                )
            )
        if rng.random() < 0.3:
            notes = _obj(["本表由各乡镇（街道）核实后上报。", "身份证号请以文本格式填写。"])
            sheets.append(Sheet(name="填表说明", header=["说明"], columns=[notes], kinds=["text"]))
        write_xlsx(path, sheets)
        return out

    def _record(
        self, rel, dataset, fmt, table, rows, person_id, key, row_kind, log, style, written,
        foot=(),
    ) -> None:  # fmt: skip
        """The truth of the file's rows, of the values changed, and of the file."""
        n = len(person_id)
        kinds_rows = (row_kind if row_kind is not None else np.full(n, "record", dtype=object))[
            rows.order
        ].copy()
        kinds_rows[rows.is_dup] = "exact_duplicate"
        n_rows = len(rows.order)
        truth = {
            "file": np.full(n_rows, rel, dtype=object),
            "sheet": np.asarray(rows.sheet, dtype=object),
            "row": np.asarray(rows.row_no, dtype=np.int64),
            "dataset": np.full(n_rows, dataset, dtype=object),
            "person_id": np.asarray(person_id[rows.order], dtype=object),
            "key": np.asarray(key[rows.order], dtype=object),
            "row_kind": np.asarray(kinds_rows, dtype=object),
            "dup_of_row": np.where(rows.is_dup, rows.row_no - 1, 0).astype(np.int64),
        }
        if foot:
            last = rows.sheet[-1] if len(rows.sheet) else ("Sheet1" if fmt == "xlsx" else "")
            start = int(rows.row_no[rows.sheet == last].max()) if len(rows.sheet) else 0
            nf = len(foot)
            extra = {
                "file": np.full(nf, rel, dtype=object),
                "sheet": np.full(nf, last, dtype=object),
                "row": np.arange(start + 1, start + 1 + nf, dtype=np.int64),
                "dataset": np.full(nf, dataset, dtype=object),
                "person_id": np.full(nf, "", dtype=object),
                "key": np.full(nf, "", dtype=object),
                "row_kind": np.full(nf, "footer", dtype=object),
                "dup_of_row": np.zeros(nf, np.int64),
            }
            truth = {c: np.concatenate([truth[c], extra[c]]) for c in truth}
        self._keep("rows", truth)
        if log.row:
            self._keep("corruptions", _corruptions(rel, log, rows))
        self.files.append(
            {
                "file": rel,
                "dataset": dataset,
                "format": fmt,
                "encoding": written["encoding"],
                "crlf": written["crlf"],
                "title_rows": written["title_rows"],
                "merged_header": written["merged_header"],
                "date_format": style.date,
                "month_format": style.month,
                "dot_variant": style.dot,
                "n_rows": len(rows.order) + len(foot),
                "sheets": "|".join(str(s) for s in pd.unique(rows.sheet)),
                "headers": "|".join(table.header),
                "columns": "|".join(table.canon),
            }
        )


#: How each place-or-school kind of column is made messy (a method of the extractor).
_LEGACY = {
    "address": Extractor._legacy_address,
    "county_code": Extractor._legacy_code,
    "school_code": Extractor._mistyped_school,
}


@dataclass(frozen=True)
class _Style:
    """A file's habits: how its dates and months are written, which middle dot it uses."""

    date: str
    month: str
    dot: str
    xlsx: bool

    @classmethod
    def draw(cls, rng: np.random.Generator, xlsx: bool, names: dict) -> _Style:
        date = str(
            rng.choice(
                ["iso", "slash", "compact", "chinese"] + (["cell", "cell"] if xlsx else []), p=None
            )
        )
        month = str(rng.choice(["iso", "slash", "compact", "chinese"]))
        dot = str(rng.choice(names["dot_variants"]))
        return cls(date, month, dot, xlsx)


@dataclass
class _Table:
    """A file's columns as written: header texts, raw values, cell kinds, header groups,
    numeric cells (position -> values) and the canonical names."""

    header: list = field(default_factory=list)
    raw_cols: list = field(default_factory=list)
    kinds: list = field(default_factory=list)
    groups: list = field(default_factory=list)
    numeric: dict = field(default_factory=dict)
    canon: list = field(default_factory=list)

    def add(self, alias: str, col: Col, raw: np.ndarray, kind: str, numeric=None) -> None:
        if numeric is not None:
            self.numeric[len(self.header)] = numeric
        self.header.append(alias)
        self.canon.append(col.canonical)
        self.raw_cols.append(raw)
        self.kinds.append(kind)
        self.groups.append(col.group)


@dataclass
class _Rows:
    """The file's rows: each a base row (``order``; exact duplicates right after their
    original, as a double export looks), its sheet and 1-based row number in the sheet."""

    order: np.ndarray
    is_dup: np.ndarray
    first_pos: np.ndarray  # each base row's position in the file
    sheet: np.ndarray
    row_no: np.ndarray

    @classmethod
    def lay_out(cls, rng, rates, n: int, allow_duplicates: bool, sheet_of, xlsx: bool) -> _Rows:
        dup = (rng.random(n) < rates.duplicate_row) if allow_duplicates else np.zeros(n, bool)
        order = np.repeat(np.arange(n), 1 + dup.astype(int))
        is_dup = np.zeros(len(order), bool)
        is_dup[1:] = order[1:] == order[:-1]
        if sheet_of is not None:
            sheet = sheet_of[order]
        else:
            sheet = np.full(len(order), "Sheet1" if xlsx else "", dtype=object)
        row_no = np.zeros(len(order), np.int64)
        for s in pd.unique(sheet):
            m = sheet == s
            row_no[m] = np.arange(1, int(m.sum()) + 1)
        return cls(order, is_dup, np.searchsorted(order, np.arange(n)), sheet, row_no)


def _corruptions(rel: str, log: MessLog, rows: _Rows) -> dict[str, np.ndarray]:
    """Every changed value by file row (a duplicate carries its original's raw value)."""
    m = len(rows.order)
    pos = rows.first_pos[np.asarray(log.row, dtype=np.int64)]
    cols = {
        "column": np.asarray(log.column, dtype=object),
        "kind": np.asarray(log.kind, dtype=object),
        "clean": np.asarray(log.clean, dtype=object),
        "raw": np.asarray(log.raw, dtype=object),
    }
    dup = rows.is_dup[np.minimum(pos + 1, m - 1)] & (pos + 1 < m)
    pos_all = np.concatenate([pos, pos[dup] + 1])
    out = {
        "file": np.full(len(pos_all), rel, dtype=object),
        "sheet": np.asarray(rows.sheet, dtype=object)[pos_all],
        "row": np.asarray(rows.row_no, dtype=np.int64)[pos_all],
    }
    out.update({c: np.concatenate([v, v[dup]]) for c, v in cols.items()})
    return out


def _footer_rows(rng: np.random.Generator, table: _Table, rows: _Rows, names: dict) -> list:
    """The rows a paper form ends with, as cells per column: a total row under 合计 (or a
    bare row of sums), then the signatures and the date, each in the first column."""
    ncol = len(table.header)
    out = []
    ints = [c for c, k in enumerate(table.kinds) if k == "int" and table.canon[c] != "_serial"]
    if ints and rng.random() < 0.8:
        total = [None] * ncol
        for c in ints:
            total[c] = str(int(np.asarray(table.raw_cols[c], dtype=np.int64)[rows.order].sum()))
        if rng.random() < 0.7:
            total[0] = str(rng.choice(["合计", "总计", "合  计"]))
        out.append(total)
    who = [str(rng.choice(names["surnames"]["han"])) + "老师" for _ in range(2)]
    sign = [None] * ncol
    sign[0] = f"填表人：{who[0]}　　审核人：{who[1]}"
    out.append(sign)
    if rng.random() < 0.5:
        date = [None] * ncol
        date[0] = f"制表日期：{int(rng.integers(1, 13))}月{int(rng.integers(1, 29))}日"
        out.append(date)
    return out


def _county_order(ex: Extractor, code: int, cols: list[Col], keep_first: int = 0) -> list[Col]:
    """The county's own column order: the same for all its files (a county's system), drawn
    from a stream of the county's code so the builder's draws are not disturbed."""
    rng = np.random.default_rng([int(code), ex.world.params.seed, 16])
    head, tail = cols[:keep_first], cols[keep_first:]
    return head + [tail[i] for i in rng.permutation(len(tail))]


# ---- helpers over the world ---------------------------------------------------------------
def _sex(sex: np.ndarray, numeric_codes: bool) -> np.ndarray:
    if numeric_codes:
        return np.where(sex == "M", "1", "2").astype(object)
    return np.where(sex == "M", "男", "女").astype(object)


def _eth(eth: np.ndarray, short: bool) -> np.ndarray:
    if short:
        return _lookup(
            eth, lambda e: ETHNIC_NAMES[e][:-1] if len(ETHNIC_NAMES[e]) > 2 else ETHNIC_NAMES[e]
        )
    return _lookup(eth, lambda e: ETHNIC_NAMES[e])


# ---- the datasets ---------------------------------------------------------------------------
