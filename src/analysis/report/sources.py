"""What a report reads, one county's rows at a time.

Every reader here takes a county code and returns only that county's rows (pyarrow filters
the Parquet files as they are read, so another county's child is never in memory of a
county's report), or the prefecture's aggregates, which hold no child.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from analysis.engine import scan
from analysis.layout import Layout


def county_rows(path: Path, county: str, columns: list[str] | None = None) -> pd.DataFrame:
    """The rows of the Parquet table at ``path`` whose ``county_code`` is ``county``.

    Parameters
    ----------
    path : a Parquet file or dataset folder with a ``county_code`` column.
    county : the six-digit county code.
    columns : the columns to read (default: all).
    """
    if not Path(path).exists():
        raise FileNotFoundError(f"{path} is missing: run the stage that writes it first")
    return pd.read_parquet(path, columns=columns, filters=[("county_code", "==", str(county))])


def read_json(path: Path) -> dict:
    """A stage's JSON output, or an error that names the stage to run."""
    if not Path(path).exists():
        raise FileNotFoundError(f"{path} is missing: run the stage that writes it first")
    return json.loads(Path(path).read_text(encoding="utf-8"))


def last_record_month(layout: Layout) -> date | None:
    """The latest month of the clean attendance table (the records' horizon)."""
    path = layout.table("attendance")
    if not path.exists():
        return None
    with duckdb.connect() as con:
        row = con.execute(f"SELECT max(month) FROM {scan(path)}").fetchone()
    return row[0] if row else None


def county_names(layout: Layout) -> dict[str, str]:
    """County code → name, from the school roster."""
    with duckdb.connect() as con:
        rows = con.execute(
            f"SELECT DISTINCT county_code, county FROM {scan(layout.table('schools'))} "
            "WHERE county_code IS NOT NULL ORDER BY county_code"
        ).fetchall()
    return {c: n for c, n in rows}


def roster(layout: Layout, county: str | None = None) -> pd.DataFrame:
    """The school roster (one row per school code): name, county, township, stage."""
    where = f"WHERE county_code = '{county}'" if county else ""
    with duckdb.connect() as con:
        return con.execute(
            f"""SELECT school_code, any_value(school_name ORDER BY school_name) AS school_name,
                   any_value(county_code ORDER BY county_code) AS county_code,
                   any_value(township ORDER BY township) AS township,
                   any_value(stage ORDER BY stage) AS stage
            FROM {scan(layout.table("schools"))} {where} GROUP BY school_code
            ORDER BY school_code"""
        ).df()


def inspections(layout: Layout) -> pd.DataFrame:
    """The inspection visits (date, school code), or an empty frame when none were
    delivered."""
    path = layout.table("inspections")
    if not path.exists():
        return pd.DataFrame({"date": pd.Series([], dtype="datetime64[s]"), "school_code": []})
    frame = pd.read_parquet(path, columns=["date", "school_code"])
    return frame.assign(date=pd.to_datetime(frame["date"]))
