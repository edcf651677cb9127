"""Tables for looking at a cleaning run (the notebook ``01_cleaning`` shows them).

Everything here reads ``data/interim/``: the manifest for the counts, the quarantine for the
reasons and examples. ID numbers are masked in anything meant to be shown.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

_LONG_NUMBER = re.compile(r"(?<![0-9])([0-9]{6})([0-9]{4,11})([0-9]{3}[0-9Xx])(?![0-9])")


def mask_ids(text: str) -> str:
    """Mask every ID-like number in ``text``: the area code (6 digits) and the last four
    characters stay, the birth date and sequence become ``*`` (530402********1234)."""
    return _LONG_NUMBER.sub(lambda m: m.group(1) + "*" * len(m.group(2)) + m.group(3), text)


def load_manifest(interim: Path) -> dict:
    return json.loads((Path(interim) / "manifest.json").read_text(encoding="utf-8"))


def manifest_table(interim: Path) -> pd.DataFrame:
    """Per dataset: files, rows read, kept, merged, quarantined whole, values set to null
    and rows flagged, and the share of rows kept (per cent)."""
    rows = []
    for f in load_manifest(interim)["files"]:
        # A workbook's sheets may hold several tables: its counts go to their joint label.
        rows.append(
            {
                "table": "+".join(dict.fromkeys(f["kinds"])) or "(rejected)",
                "files": 1,
                "read": f["rows_read"],
                "kept": f["rows_kept"],
                "merged": f["rows_merged"],
                "rows quarantined": sum(f["rows_quarantined"].values()),
                "values nulled": sum(f["values_quarantined"].values()),
                "rows flagged": sum(f.get("flags", {}).values()),
            }
        )
    t = pd.DataFrame(rows).groupby("table").sum()
    t["kept %"] = (100 * t["kept"] / t["read"].where(t["read"] > 0)).round(2)
    return t


def counts_table(interim: Path, key: str) -> pd.DataFrame:
    """Counts by reason (``key``: ``rows_quarantined``, ``values_quarantined``, ``flags``
    or ``repairs``) and table, largest first."""
    rows = [
        {"reason": reason, "table": kind, "count": n}
        for f in load_manifest(interim)["files"]
        for kind in ["+".join(dict.fromkeys(f["kinds"])) or "(rejected)"]
        for reason, n in f.get(key, {}).items()
        if n
    ]
    if not rows:
        return pd.DataFrame(columns=["reason", "table", "count"])
    t = pd.DataFrame(rows).pivot_table(
        index="reason", columns="table", values="count", aggfunc="sum", fill_value=0
    )
    return t.loc[t.sum(axis=1).sort_values(ascending=False).index]


def quarantine_examples(interim: Path, per_reason: int = 3) -> pd.DataFrame:
    """A few quarantine records per reason: file, row, column and the raw value (ID numbers
    masked), to see what the rule caught."""
    import duckdb

    path = Path(interim) / "quarantine.parquet"
    q = duckdb.sql(
        f"""SELECT reason, scope, kind, source_file, source_row, "column", raw_value
            FROM read_parquet('{path}/*.parquet')
            QUALIFY row_number() OVER (PARTITION BY reason ORDER BY source_file, source_row)
                    <= {int(per_reason)}
            ORDER BY reason, source_file, source_row"""
    ).df()
    q["raw_value"] = q["raw_value"].fillna("").map(mask_ids)
    return q
