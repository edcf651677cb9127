"""Read a raw registry file (CSV or XLSX) into text columns named by the header dictionary.

Everything is read as text: ID-like columns never pass through a float. The reader finds
the header row below any title rows, joins merged two-row headers, and keeps for every data
row its ordinal in the sheet (``source_row``, 1-based) and its physical line or Excel row
(``source_line``), so every clean row can be traced back.

A file that cannot be read at all raises :class:`RawFileError` with the file and the reason.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from analysis.clean.derive import derive_columns
from analysis.clean.headers import (
    HeaderError,
    HeaderMap,
    TableSpec,
    best_table,
    combine_two_row_header,
    header_matches,
    load_dictionary,
)

HEADER_SCAN_ROWS = 12


class RawFileError(ValueError):
    """A raw file that cannot be read: the message names the file and the reason."""


class DataSheetError(RawFileError):
    """A sheet with a header row that does not make a table of its folder's kind: a data
    sheet that failed (not a notes sheet without a header)."""


@dataclass
class RawTable:
    """One sheet of one raw file, with canonical text columns and lineage."""

    file: str  # path relative to data/raw
    sheet: str  # '' for CSV
    kind: str  # table kind of the header dictionary
    table: pa.Table  # canonical columns (string) + source_row, source_line
    encoding: str = ""  # detected CSV encoding
    unknown_columns: list[str] = field(default_factory=list)
    malformed: list[tuple[int, str]] = field(default_factory=list)  # (line, reason) rows not read
    empty_rows: int = 0  # fully empty rows skipped (not records)
    duplicate_columns: list[str] = field(default_factory=list)  # titled twice: first kept
    title_lines: int = 0  # lines above the header
    mapping: list[tuple[str, str]] = field(default_factory=list)  # (header text, column or '')
    titles: list[str] = field(default_factory=list)  # text of the rows above the header
    #: the workbook's other sheets that look like data but could not be read (their reasons)
    rejected_sheets: list[str] = field(default_factory=list)
    #: each row's first filled cell, of any column (known or not): where a form's footer
    #: (合计, 填表人) is written, often under a column the dictionary does not know (序号)
    first_cells: pa.Array | None = None


def first_filled(columns: list) -> pa.Array | None:
    """Per row, the first non-empty cell of ``columns`` (text arrays in file order)."""
    out = None
    for col in columns:
        col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        v = pc.if_else(
            pc.equal(pc.utf8_trim_whitespace(col), ""), pa.scalar(None, pa.string()), col
        )
        out = v if out is None else pc.coalesce(out, v)
    return out


def detect_encoding(data: bytes, file: str) -> str:
    """'utf-8-sig' with a BOM, else 'utf-8' if it is valid UTF-8, else 'gb18030'.

    GB18030 rather than GBK: GBK cannot encode rare characters in names. Binary content
    (NUL bytes) and text that is neither is rejected.
    """
    return as_utf8(data, file)[0]


def _is_utf8(data: bytes) -> bool:
    """Strict UTF-8 validation in Arrow (ten times faster than decoding in Python)."""
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    one = pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        one.cast(pa.large_string())  # no copy of the bytes: only validated
        return True
    except pa.ArrowInvalid:
        return False


def as_utf8(data: bytes, file: str) -> tuple[str, bytes]:
    """The encoding (as :func:`detect_encoding`) and the content as UTF-8 bytes, without the
    byte-order mark. UTF-8 input is validated, never decoded: the CSV parser reads bytes."""
    if not data or data.isspace():  # isspace() stops at the first other byte: no copy
        raise RawFileError(f"{file}: the file is empty")
    if b"\x00" in data[:65536]:
        raise RawFileError(f"{file}: binary content, not a CSV text file")
    if data.startswith(b"\xef\xbb\xbf"):
        if _is_utf8(data[3:]):
            return "utf-8-sig", data[3:]
        # The BOM says UTF-8 but the text is not: GB18030 behind a wrong declaration.
        try:
            return "gb18030-after-utf8-bom", data[3:].decode("gb18030").encode("utf-8")
        except UnicodeDecodeError:
            raise RawFileError(
                f"{file}: starts with a UTF-8 byte-order mark but is neither UTF-8 nor GB18030"
            ) from None
    if _is_utf8(data):
        return "utf-8", data
    try:
        return "gb18030", data.decode("gb18030").encode("utf-8")
    except UnicodeDecodeError as exc:
        raise RawFileError(f"{file}: neither UTF-8 nor GB18030 text (byte {exc.start})") from None


def _cell_text(v: object) -> str:
    """An XLSX cell as text, faithful to what the clerk typed.

    Floats that are whole numbers print without '.0' unless they are too large to be exact
    (an 18-digit ID typed as a number keeps its float form, e.g. '5.30402200803011e+17', so
    the ID cleaner knows only 15 digits survive). Date cells print as ISO dates.
    """
    if v is None or v == "":
        return ""
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return repr(v)
    if isinstance(v, dt.datetime):
        return v.date().isoformat() if v.time() == dt.time(0) else v.isoformat(sep=" ")
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def _find_header(rows: list[list[str]], specs: dict[str, TableSpec]) -> tuple[int, bool]:
    """Index of the header row, and whether a second header row (merged groups) follows."""
    best, best_i = 0, -1
    for i, r in enumerate(rows[:HEADER_SCAN_ROWS]):
        n = header_matches(r, specs)
        filled = sum(1 for c in r if c)
        if n >= 2 and n >= 0.4 * filled and n > best:
            best, best_i = n, i
            break
    if best_i < 0:
        return -1, False
    top = rows[best_i]
    if best_i + 1 < len(rows):
        nxt = rows[best_i + 1]
        sub_filled = [j for j, c in enumerate(nxt) if c]
        # A sub-header row: only filled under blanks or group names of the top row, all known.
        if (
            sub_filled
            and header_matches(nxt, specs) == len(sub_filled)
            and any(
                j < len(top) and (not top[j] or header_matches([top[j]], specs) == 0)
                for j in sub_filled
            )
        ):
            return best_i, True
    return best_i, False


def _cells_one_by_one(values: tuple) -> pa.Array:
    """Cell by cell, by :func:`_cell_text` (text cells as they are)."""
    return pa.array([v if type(v) is str else _cell_text(v) for v in values], pa.string())


def _text_column(values: tuple) -> pa.Array:
    """One worksheet column as text, as :func:`_cell_text` would give it cell by cell.

    Columns of text cells (nearly all) go to Arrow in one call; so do columns of dates,
    of whole numbers and of date-times (formatted in Arrow). Anything else (floats that are
    not whole, booleans, mixed cells) is converted cell by cell."""
    try:
        return pc.fill_null(pa.array(values, type=pa.string()), "")
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        pass
    filled = [None if v == "" else v for v in values]
    kinds = {type(v) for v in filled if v is not None}
    typed = None
    if len(kinds) == 1 and kinds <= {dt.date, dt.datetime, int, float}:  # one kind of cell
        try:
            typed = pa.array(filled)
        except (pa.ArrowTypeError, pa.ArrowInvalid, OverflowError):
            typed = None
    if typed is not None:
        t = typed.type
        if pa.types.is_date(t) or pa.types.is_integer(t):
            return pc.fill_null(typed.cast(pa.string()), "")
        if pa.types.is_timestamp(t) and typed.null_count < len(typed):
            try:
                typed = typed.cast(pa.timestamp("s"))  # fails on fractions of a second
            except pa.ArrowInvalid:
                return _cells_one_by_one(values)
            t = typed.type
            day = pc.strftime(typed, format="%Y-%m-%d")
            midnight = pc.equal(pc.cast(typed, pa.date32()).cast(t), typed)
            full = pc.strftime(typed, format="%Y-%m-%d %H:%M:%S")
            return pc.fill_null(pc.if_else(midnight, day, full), "")
        if pa.types.is_floating(t):
            whole = pc.and_(pc.equal(pc.floor(typed), typed), pc.less(pc.abs(typed), 1e15))
            if pc.all(pc.fill_null(whole, True)).as_py():
                return pc.fill_null(typed.cast(pa.int64()).cast(pa.string()), "")
    return _cells_one_by_one(values)


def _build(
    file: str,
    sheet: str,
    rows: list[list],
    folder: str,
    specs: dict[str, TableSpec],
) -> RawTable:
    """A worksheet's cells (as calamine gives them) -> canonical text columns with lineage."""
    where = f"{file}{f' [{sheet}]' if sheet else ''}"
    head = [[_cell_text(v) for v in r] for r in rows[: HEADER_SCAN_ROWS + 1]]
    h, two = _find_header(head, specs)
    if h < 0:
        raise RawFileError(f"{where}: no header row found in the first {HEADER_SCAN_ROWS} rows")
    width = max(len(r) for r in rows[h:]) if rows[h:] else 0
    top = head[h] + [""] * (width - len(head[h]))
    if two:
        sub = head[h + 1] + [""] * (width - len(head[h + 1]))
        cells = combine_two_row_header(top, sub)
        start = h + 2
    else:
        cells = [(t, None) for t in top]
        start = h + 1
    try:
        hmap: HeaderMap = best_table(cells, specs, folder, where)
    except HeaderError as exc:
        raise DataSheetError(str(exc)) from None
    data = [r if len(r) == width else [*r, *[""] * (width - len(r))] for r in rows[start:]]
    columns = list(zip(*data, strict=True)) if data else [()] * width  # one tuple per column
    text = [_text_column(c) for c in columns]
    filled = np.zeros(len(data), bool)  # rows with any cell filled (others are not records)
    for col in text:
        filled |= pc.not_equal(pc.utf8_trim_whitespace(col), "").to_numpy(zero_copy_only=False)
    empty = int(len(data) - filled.sum())
    mask = pa.array(filled)
    cols = {canon: text[pos].filter(mask) for pos, canon in hmap.columns.items()}
    cols["source_row"] = pa.array(np.arange(1, int(filled.sum()) + 1), type=pa.int64())
    # Excel rows are 1-based and the sheet starts at row 1 (skip_empty_area=False).
    cols["source_line"] = pa.array(np.arange(start + 1, start + 1 + len(data))[filled])
    first = first_filled([c.filter(mask) for c in text])
    return RawTable(
        file,
        sheet,
        hmap.kind,
        pa.table(cols),
        "",
        hmap.unknown,
        [],
        empty,
        hmap.duplicates,
        h,
        header_mapping(cells, hmap),
        titles=_titles(head[:h]),
        first_cells=first,
    )


def _titles(rows: list[list[str]]) -> list[str]:
    """The rows above the header as text (a title, an export date): what the file says of
    itself (:mod:`analysis.clean.context`)."""
    out = [" ".join(c.strip() for c in r if c and c.strip()) for r in rows]
    return [t for t in out if t]


def header_mapping(cells: list[tuple[str, str | None]], hmap: HeaderMap) -> list[tuple[str, str]]:
    """Each header cell as written (a merged header as ``group/sub``) and the canonical
    column it maps to ('' when none): what ``analysis inspect`` shows."""
    return [
        ("/".join(x for x in cell if x) or f"(column {i + 1})", hmap.columns.get(i, ""))
        for i, cell in enumerate(cells)
    ]


def _sniff(data: bytes, rel: str) -> tuple[str, int]:
    """The delimiter and the number of columns, from the first lines (never splitting the
    whole file): the widest of them fixes the columns, as title rows are narrower."""
    end = -1
    for _ in range(HEADER_SCAN_ROWS):
        end = data.find(b"\n", end + 1)
        if end < 0:
            break
    head_text = (data if end < 0 else data[:end]).decode("utf-8")
    sample = "\n".join(head_text.splitlines()[:HEADER_SCAN_ROWS])
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    head = list(csv.reader(io.StringIO(sample), delimiter=delimiter))
    ncol = max((len(r) for r in head), default=0)
    if ncol == 0:
        raise RawFileError(f"{rel}: no rows")
    return delimiter, ncol


def _parse_csv(
    data: bytes, rel: str, delimiter: str, ncol: int
) -> tuple[pa.Table, list, dict[int, str]]:
    """Every line as ``ncol`` text fields (blank lines too), the lines that are not
    (malformed: their line number and why), and the text of the first of those (title lines
    above the header are narrower than the table)."""
    malformed: list[tuple[int, str]] = []
    texts: dict[int, str] = {}

    def on_invalid(row) -> str:
        # One thread: the parser knows the physical line (blank lines counted, see below).
        malformed.append(
            (row.number, f"expected {row.expected_columns} fields, found {row.actual_columns}")
        )
        if len(texts) < HEADER_SCAN_ROWS:
            texts[row.number] = row.text
        return "skip"

    names = [f"c{i}" for i in range(ncol)]
    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            # One thread (the stage runs one process per core): rows come in order and
            # rejected rows with their line. Blocks of 2 MB stay in the cache.
            read_options=pacsv.ReadOptions(
                column_names=names, block_size=1 << 21, use_threads=False
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter,
                invalid_row_handler=on_invalid,
                newlines_in_values=False,
                ignore_empty_lines=False,  # blank lines are rows of '' (counted as empty)
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                check_utf8=False,  # as_utf8 validated the whole text
            ),
        )
    except pa.ArrowInvalid as exc:
        raise RawFileError(f"{rel}: not a readable CSV ({exc})") from None
    return table, malformed, texts


def read_csv(
    path: Path, rel: str, folder: str, specs: dict[str, TableSpec], content: bytes | None = None
) -> list[RawTable]:
    """A CSV file: encoding and delimiter detected, every field text, malformed rows recorded
    by line, blank lines and title lines above the header counted but not taken as rows."""
    enc, data = as_utf8(path.read_bytes() if content is None else content, rel)
    delimiter, ncol = _sniff(data, rel)
    table, malformed, texts = _parse_csv(data, rel, delimiter, ncol)
    # Header detection needs the first rows as lists; data stays columnar for speed.
    first = [
        [table.column(j)[i].as_py() for j in range(ncol)]
        for i in range(min(HEADER_SCAN_ROWS, table.num_rows))
    ]
    h, two = _find_header(first, specs)
    if h < 0:
        raise RawFileError(f"{rel}: no header row found in the first {HEADER_SCAN_ROWS} rows")
    cells = combine_two_row_header(first[h], first[h + 1]) if two else [(t, None) for t in first[h]]
    try:
        hmap = best_table(cells, specs, folder, rel)
    except HeaderError as exc:
        raise RawFileError(str(exc)) from None
    start = h + 2 if two else h + 1
    body = table.slice(start)
    # Physical line numbers: every line is a parsed row (blank ones too) or a rejected one.
    all_lines = _line_numbers(table.num_rows, 0, [n for n, _ in malformed])
    header_line = int(all_lines[h]) if len(all_lines) else 1
    titles = [n for n, _ in malformed if n < header_line]
    malformed = [(n, r) for n, r in malformed if n >= header_line]
    filled = np.zeros(body.num_rows, bool)  # rows with any field (',,,,' lines are not rows)
    for j in range(ncol):
        filled |= pc.not_equal(body.column(j), "").to_numpy(zero_copy_only=False)
    cols = {canon: body.column(pos) for pos, canon in hmap.columns.items()}
    cols["source_line"] = pa.array(all_lines[start:], type=pa.int64())
    out = pa.table(cols)
    empty = int(body.num_rows - filled.sum())
    if empty:
        out = out.filter(pa.array(filled))
    out = out.append_column("source_row", pa.array(np.arange(1, out.num_rows + 1, dtype=np.int64)))
    first = first_filled([body.column(j) for j in range(ncol)])
    if first is not None and empty:
        first = first.filter(pa.array(filled))
    table = RawTable(rel, "", hmap.kind, out, enc, hmap.unknown, malformed, int(empty))
    table.duplicate_columns, table.title_lines = hmap.duplicates, len(titles) + h
    title_text = [texts[n].replace(delimiter, " ") for n in titles if n in texts]
    table.titles = [t.strip(' "') for t in title_text if t.strip(' "')] + _titles(first[:h])
    table.mapping = header_mapping(cells, hmap)
    table.first_cells = first
    return [table]


def _line_numbers(n: int, start: int, bad_lines: list[int]) -> np.ndarray:
    """1-based physical line of each of ``n`` parsed rows that follow line ``start``,
    skipping the (1-based) lines not parsed as rows: malformed and blank ones."""
    bad = np.unique(np.asarray(bad_lines, dtype=np.int64))
    bad = bad[bad > start]
    lines = np.arange(start + 1, start + 1 + n + len(bad), dtype=np.int64)
    return np.setdiff1d(lines, bad, assume_unique=True)[:n]


def read_xlsx(path: Path, rel: str, folder: str, specs: dict[str, TableSpec]) -> list[RawTable]:
    """Every sheet with a header row; sheets without one (notes, instructions) are skipped."""
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own error types for corrupt archives
        raise RawFileError(
            f"{rel}: not a readable XLSX workbook ({type(exc).__name__}: {exc})"
        ) from None
    out = []
    notes, failed = [], []  # sheets without a header row; data sheets that failed
    for name in wb.sheet_names:
        rows = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
        if not any(v not in (None, "") for r in rows for v in r):
            continue
        try:
            out.append(_build(rel, name, rows, folder, specs))
        except DataSheetError as exc:
            failed.append(str(exc))
        except RawFileError as exc:
            notes.append(str(exc))
    if not out:
        # Blame the sheet that holds data, not the notes sheet before it.
        reason = (failed or notes or [f"{rel}: the workbook has no data"])[0]
        raise RawFileError(reason)
    out[0].rejected_sheets = failed
    return out


def read_raw_file(
    path: Path,
    raw_root: Path,
    specs: dict[str, TableSpec] | None = None,
    content: bytes | None = None,
) -> list[RawTable]:
    r"""Read one file under ``raw_root/<dataset>/``.

    Parameters
    ----------
    path : the file (CSV in UTF-8 or GB18030, or a workbook).
    raw_root : the ``raw/`` folder (the file's dataset is its folder there).
    specs : the header dictionary (default: the packaged one).
    content : the file's bytes if the caller has read them already (to hash them).

    Returns
    -------
    list of RawTable
        One per sheet with data: canonical text columns, ``source_row``, ``source_line``, and
        what the reader noticed (encoding, unknown columns, malformed lines, title lines).

    Raises
    ------
    RawFileError
        A file that cannot be read at all: the message names the file and the reason.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> raw = Path(tempfile.mkdtemp())
    >>> (raw / "leave").mkdir()
    >>> _ = (raw / "leave" / "slips.csv").write_text(
    ...     "学籍号,姓名,请假类型,开始日期,结束日期,天数\n"
    ...     "G530402200803011235,李丽,病假,2019/3/4,2019/3/5,2\n", encoding="gb18030")
    >>> t = read_raw_file(raw / "leave" / "slips.csv", raw)[0]
    >>> t.kind, t.encoding, t.table.column("start_date").to_pylist()
    ('leave', 'gb18030', ['2019/3/4'])
    >>> (raw / "leave" / "empty.csv").write_bytes(b"")
    0
    >>> read_raw_file(raw / "leave" / "empty.csv", raw)
    Traceback (most recent call last):
    ...
    analysis.clean.read.RawFileError: leave/empty.csv: the file is empty
    """
    specs = specs or load_dictionary()
    rel = str(path.relative_to(raw_root))
    folder = path.relative_to(raw_root).parts[0]
    suffix = path.suffix.lower()
    if suffix == ".csv":
        tables = read_csv(path, rel, folder, specs, content)
    elif suffix in (".xlsx", ".xlsm"):
        tables = read_xlsx(path, rel, folder, specs)
    else:
        raise RawFileError(f"{rel}: unsupported file type '{suffix}' (expected .csv or .xlsx)")
    for t in tables:  # what the other columns give (analysis.clean.derive)
        t.table = derive_columns(t.kind, t.table)
    return tables
