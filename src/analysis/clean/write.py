"""Writing the clean tables: one Parquet part per raw file sheet, in the declared schema.

Each table ``interim/<kind>.parquet`` is a Parquet dataset (a folder of parts) that pandas,
pyarrow and DuckDB read as one table; every part is in exactly the table's declared Arrow
schema (:func:`output_schema`), whichever extract it came from, so nothing is concatenated
afterwards.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from analysis.clean.headers import TableSpec
from analysis.clean.quarantine import MERGES_SCHEMA, QUARANTINE_SCHEMA
from analysis.clean.schema import TableSchema, arrow_schema, conform
from analysis.layout import Layout


def output_schema(kind: str, specs: dict[str, TableSpec], schema: TableSchema) -> pa.Schema:
    """The declared Arrow schema of clean table ``kind``: every canonical column of the header
    dictionary, typed by the declared schema, plus lineage."""
    return arrow_schema(list(specs[kind].aliases), schema)


def write_part(dest: Path, table: pa.Table, name: str, dictionary: list[str] | bool = True) -> None:
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


def write_parts(
    out: Layout,
    i: int,
    bodies: list[tuple[str, pa.Table, list[str]]],
    quarantine: list[pa.Table],
    merges: list[pa.Table],
) -> None:
    """Write raw file ``i``'s output straight into the tables' folders of ``out``: one part
    per sheet (``bodies``: kind, rows, columns worth a dictionary), and its quarantine and
    merge records."""
    for j, (kind, body, dictionary) in enumerate(bodies):
        write_part(out.table(kind), body, f"part-{i:04d}-{j:02d}.parquet", dictionary)
    if quarantine:
        q = pa.concat_tables([conform(x, QUARANTINE_SCHEMA) for x in quarantine])
        write_part(out.quarantine, q, f"part-{i:04d}.parquet")
    if merges:
        m = pa.concat_tables([conform(x, MERGES_SCHEMA) for x in merges])
        write_part(out.merges, m, f"part-{i:04d}.parquet")


def write_empty(out: Layout) -> None:
    """The quarantine and merges always exist, empty if nothing went there."""
    for path, sch in ((out.quarantine, QUARANTINE_SCHEMA), (out.merges, MERGES_SCHEMA)):
        if not path.exists():
            write_part(path, sch.empty_table(), "part-0000.parquet")
