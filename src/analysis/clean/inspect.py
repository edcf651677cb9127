"""``analysis inspect FILE``: how one raw file is understood, before it is cleaned.

An analyst's first tool when a new export arrives: the kind the file is read as (judged by
its folder under ``raw/``), each sheet's header row, every column's mapping to the
canonical columns of the header dictionary (with the user's ``raw/headers.yaml`` merged in),
the columns not understood, the required columns missing and how to supply them, and a few
rows as read (ID and registry numbers masked). A file that cannot be read gives the reason,
as the cleaning would. Nothing is written.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> raw = Path(tempfile.mkdtemp()) / "raw"
>>> (raw / "attendance").mkdir(parents=True)
>>> f = raw / "attendance" / "9月.csv"
>>> _ = f.write_text("学校标识码,学籍号,月份,应出勤天数,在校天数,病假,事假,旷课,班主任\\n"
...                  "2153021001,G1,2019-09,20,20,0,0,0,王\\n", encoding="utf-8")
>>> sheets = inspect_file(f, raw)
>>> sheets[0]["status"], sheets[0]["missing"]
('rejected', ['days_present'])
>>> sheets[0]["columns"].loc[4].tolist()
['在校天数', '']
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis.clean.headers import TableSpec, load_dictionary, normalize_header
from analysis.clean.read import RawFileError, read_raw_file
from analysis.privacy import mask_ids_in_text

#: Rows shown of each sheet.
PREVIEW_ROWS = 3


def _how_to_supply(kind: str, missing: list[str], folder: str) -> str:
    if not missing:
        return ""
    cols = "\n".join(f"      {c}: {{aliases: [<the title in your file>]}}" for c in missing)
    return (
        f"Missing required column(s) {', '.join(missing)}. If the file holds them under another "
        f"title, add the title to your own header dictionary, data/raw/headers.yaml (or "
        f"--headers FILE):\n  {kind}:\n    columns:\n{cols}\n"
        f"If the file does not hold them, it cannot be read as a {kind} table (folder "
        f"'{folder}')."
    )


def _diagnose(path: Path, raw: Path, specs: dict[str, TableSpec], message: str) -> list[dict]:
    """A rejected file: the closest kind of its folder, its columns' mapping as far as it
    goes, and what is missing."""
    folder = path.relative_to(raw).parts[0] if path.is_relative_to(raw) else ""
    kinds = [s for s in specs.values() if s.folder == folder]
    header, sheet = _header_cells(path, message)
    out = []
    for spec in kinds:
        mapped = [spec.lookup.get(normalize_header(h), "") for h in header]
        missing = sorted(spec.required - set(mapped))
        out.append(
            {
                "sheet": sheet,
                "kind": spec.kind,
                "status": "rejected",
                "message": message,
                "header_row": None,
                "columns": pd.DataFrame({"header": header, "column": mapped}),
                "unknown": [h for h, m in zip(header, mapped, strict=True) if h and not m],
                "missing": missing,
                "supply": _how_to_supply(spec.kind, missing, folder),
                "preview": pd.DataFrame(),
            }
        )
    out.sort(key=lambda d: len(d["missing"]))
    if not out:
        out.append(
            {
                "sheet": "", "kind": "", "status": "rejected", "message": message,
                "header_row": None, "columns": pd.DataFrame(), "unknown": [], "missing": [],
                "supply": "", "preview": pd.DataFrame(),
            }
        )  # fmt: skip
    return out[:1]


def _header_cells(path: Path, message: str = "") -> tuple[list[str], str]:
    """A rough header of a rejected file, for its diagnosis: of a CSV, the line with the most
    non-empty fields among the first 20; of a workbook, that row of the sheet the message
    names (the data sheet that failed), else of the first sheet with data. Returns the
    header cells and the sheet's name ('' for a CSV)."""
    import re

    if path.suffix.lower() in (".xlsx", ".xlsm"):
        try:
            from python_calamine import CalamineWorkbook

            wb = CalamineWorkbook.from_path(str(path))
        except Exception:  # a corrupt archive: nothing to diagnose beyond the message
            return [], ""
        named = re.search(r"\[([^\]]+)\]: ", message)
        names = [named.group(1)] if named and named.group(1) in wb.sheet_names else []
        for name in names + list(wb.sheet_names):
            rows = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)[:20]
            rows = [["" if v is None else str(v).strip() for v in r] for r in rows]
            best = max(rows, key=lambda r: sum(bool(c) for c in r), default=[])
            if sum(bool(c) for c in best) >= 2:
                return best, name
        return [], ""
    if path.suffix.lower() not in (".csv", ".txt"):
        return [], ""
    from analysis.clean.read import as_utf8

    try:
        text = as_utf8(path.read_bytes(), str(path))[1][:65536].decode("utf-8", "replace")
    except (RawFileError, OSError):
        return [], ""
    lines = [ln.split(",") for ln in text.splitlines()[:20] if ln.strip()]
    return max(lines, key=lambda r: sum(bool(c.strip()) for c in r), default=[]), ""


def inspect_file(path: Path, raw: Path, headers: Path | None = None) -> list[dict]:
    """How ``path`` (a file under the ``raw`` folder) is understood, one dict per sheet:
    ``sheet``, ``kind``, ``status`` (read, rejected), ``message``, ``header_row`` (1-based),
    ``columns`` (header text → canonical column), ``unknown``, ``missing``, ``supply`` (how
    to supply what is missing) and ``preview`` (the first rows as read)."""
    path, raw = Path(path).resolve(), Path(raw).resolve()
    specs = load_dictionary(headers)
    try:
        tables = read_raw_file(path, raw, specs)
    except RawFileError as exc:
        return _diagnose(path, raw, specs, str(exc))
    out = []
    for t in tables:
        cols = pd.DataFrame(t.mapping, columns=["header", "column"])
        missing = sorted(specs[t.kind].required - set(cols["column"]))
        preview = t.table.slice(0, PREVIEW_ROWS).to_pandas().astype(object)
        # ID and registry numbers masked, as in anything shown.
        preview = preview.map(lambda v: v if not isinstance(v, str) else mask_ids_in_text(v))
        out.append(
            {
                "sheet": t.sheet,
                "kind": t.kind,
                "status": "read",
                "message": f"{t.table.num_rows:,} rows; encoding {t.encoding or 'xlsx'}",
                "header_row": t.title_lines + 1,
                "columns": cols,
                "unknown": list(t.unknown_columns),
                "missing": missing,
                "supply": _how_to_supply(t.kind, missing, specs[t.kind].folder),
                "preview": preview.drop(columns=["source_row"], errors="ignore"),
            }
        )
    return out
