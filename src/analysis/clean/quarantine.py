"""The accounting of the cleaning stage: what happened to every raw row and value.

* :data:`QUARANTINE_SCHEMA`: one record per quarantined row (``scope='row'``), per value set
  to null (``'value'``) and per row kept but flagged by a cross-field rule (``'flag'``), each
  with its file, sheet, row, line, reason, column and raw text;
* :data:`MERGES_SCHEMA`: exact duplicate rows merged into their first occurrence;
* :class:`FileReport`: one raw file's entry of the manifest; read = kept + merged +
  quarantined, always (:meth:`FileReport.balanced`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analysis.clean.read import RawTable

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
MERGES_SCHEMA = pa.schema(
    [
        ("source_file", pa.string()),
        ("source_sheet", pa.string()),
        ("source_row", pa.int64()),
        ("merged_into_row", pa.int64()),
    ]
)


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
    #: what the file says of all its rows (term, year, county, school): "value (source)"
    context: dict[str, str] = field(default_factory=dict)
    context_conflicts: list[str] = field(default_factory=list)  # title vs name, say
    #: a workbook's data sheets that could not be read while others were (their reasons)
    sheets_rejected: list[str] = field(default_factory=list)

    def balanced(self) -> bool:
        return self.rows_read == self.rows_kept + self.rows_merged + sum(
            self.rows_quarantined.values()
        )

    def count(self, key: str, reason: str, n: int) -> None:
        """Add ``n`` to the counter ``key`` (``rows_quarantined``, ``flags`` ...) of ``reason``."""
        if n:
            d = getattr(self, key)
            d[reason] = d.get(reason, 0) + int(n)


class Collector:
    """Quarantine records and repairs of one sheet."""

    def __init__(self, t: RawTable):
        self.t = t
        self.rows: list[pa.Table] = []
        self.repairs: Counter = Counter()
        self.values: Counter = Counter()
        #: rows that are not records (a form's footer and totals): their cells are not
        #: values, so none of them is quarantined as a value
        self.not_records: np.ndarray | None = None

    def value(self, mask: np.ndarray, column: str, reason: str, raw: pa.Array) -> None:
        """Values set to null (``mask`` of rows), with their raw text."""
        if self.not_records is not None:
            mask = mask & ~self.not_records
        idx = np.flatnonzero(mask)
        if not len(idx):
            return
        self.values[reason] += len(idx)
        raw_vals = pc.take(raw, pa.array(idx))
        if pa.types.is_dictionary(raw_vals.type):
            raw_vals = raw_vals.cast(pa.string())
        self.rows.append(self._records(idx, "value", reason, column, raw_vals))

    def row(self, mask: np.ndarray, reason: str, table: pa.Table, scope: str = "row") -> None:
        """Rows quarantined whole (or flagged), with their raw text joined by ``|``."""
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


def malformed_records(rel: str, t: RawTable) -> pa.Table:
    """Quarantine records of the lines of ``t`` the reader could not split into fields."""
    n = len(t.malformed)
    return pa.table(
        {
            "source_file": [rel] * n,
            "source_sheet": [t.sheet] * n,
            "source_row": pa.array([None] * n, pa.int64()),
            "source_line": pa.array([ln for ln, _ in t.malformed], pa.int64()),
            "kind": [t.kind] * n,
            "scope": ["row"] * n,
            "reason": ["malformed_line"] * n,
            "column": [""] * n,
            "raw_value": [m for _, m in t.malformed],
        }
    )


def merge_records(rel: str, t: RawTable, idx: np.ndarray, first: np.ndarray) -> pa.Table:
    """Records of the duplicate rows ``idx`` of ``t`` merged into the rows ``first[idx]``."""
    return pa.table(
        {
            "source_file": [rel] * len(idx),
            "source_sheet": [t.sheet] * len(idx),
            "source_row": pc.take(t.table.column("source_row"), pa.array(idx)),
            "merged_into_row": pc.take(t.table.column("source_row"), pa.array(first[idx])),
        }
    )
