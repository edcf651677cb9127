"""DuckDB, set up once: connections with the threads, memory limit and spill folder of the
configuration (:class:`analysis.config.EngineConfig`), the project's SQL macros, and how a
Parquet table is named in a query.

Every stage that runs SQL opens its connection here, so the resources a run may take are
set in one place (``resources/config.yaml``, section ``engine``) and not at each call.

Examples
--------
>>> con = connect()
>>> con.execute("SELECT term_of(DATE '2020-01-10'), school_year(DATE '2020-08-31')").fetchall()[0]
('2019-1', 2019)
>>> con.execute("SELECT mask_id('530402200803011235')").fetchall()[0][0]
'530402********1235'
>>> con.close()
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

from analysis.config import EngineConfig, default_config


def connect(engine: EngineConfig | None = None, *, threads: int | None = None):
    """A DuckDB connection: ``engine``'s threads, memory limit and temporary folder (spill
    files go there, not to the working directory), no progress bar, and the calendar's and
    the privacy rules' macros (:data:`analysis.calendar.MACROS`,
    :data:`analysis.privacy.MACROS`). ``threads`` overrides the configuration (a worker
    process of a pool uses one)."""
    import duckdb

    from analysis import calendar, privacy

    engine = engine or default_config().engine
    temp = engine.temp_directory or str(Path(tempfile.gettempdir()) / "analysis-duckdb")
    con = duckdb.connect(
        config={
            "threads": int(threads or engine.threads),
            "memory_limit": engine.memory_limit,
            "temp_directory": temp,
        }
    )
    # In a notebook without ipywidgets DuckDB refuses to touch the bar (and shows none).
    with contextlib.suppress(duckdb.InvalidInputException):
        con.execute("SET enable_progress_bar = false")
    for name, params, body in (*calendar.MACROS, *privacy.MACROS):
        con.execute(f"CREATE OR REPLACE MACRO {name}({', '.join(params)}) AS {body}")
    return con


def scan(path: Path) -> str:
    """A Parquet table as a DuckDB table expression: a file, or a folder of parts (the
    clean tables are datasets of one part per raw file sheet).

    >>> scan(Path("/d/processed/person_index.parquet"))
    "read_parquet('/d/processed/person_index.parquet')"
    """
    path = Path(path)
    return f"read_parquet('{path}/*.parquet')" if path.is_dir() else f"read_parquet('{path}')"


def has_table(con, name: str) -> bool:
    """Whether ``con`` holds a table or view called ``name``.

    >>> con = connect()
    >>> _ = con.execute("CREATE TABLE t (x INTEGER)")
    >>> has_table(con, "t"), has_table(con, "u")
    (True, False)
    >>> con.close()
    """
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
        ).fetchall()[0][0]
    )
