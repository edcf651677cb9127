"""Tables for looking at a cleaning run: the command line's summary and the notebook
``01_cleaning`` show the same frames.

Everything here reads ``interim/``: the manifest for the counts, the quarantine for the
reasons and examples. ID numbers are masked in anything meant to be shown.
"""

from __future__ import annotations

import pandas as pd

from analysis.layout import Layout
from analysis.privacy import mask_ids_in_text
from analysis.runs import read_manifest

#: Counters of the manifest, with the label of each in the summary's notes.
COUNTERS = {
    "rows_quarantined": "Rows quarantined",
    "values_quarantined": "Values quarantined",
    "flags": "Rows flagged",
    "repairs": "Repairs",
}


def load_manifest(layout: Layout) -> dict:
    """The cleaning stage's manifest (``interim/manifest.json``)."""
    manifest = read_manifest(layout.clean_manifest)
    if manifest is None:
        raise FileNotFoundError(f"{layout.clean_manifest} not found: run `analysis clean` first")
    return manifest


def _label(f: dict) -> str:
    # A workbook's sheets may hold several tables: its counts go to their joint label.
    return "+".join(dict.fromkeys(f["kinds"])) or "(rejected)"


def manifest_table(manifest: dict) -> pd.DataFrame:
    """Per dataset: files, rows read, kept, merged, quarantined whole (``rows out``), values
    set to null (``nulled``) and rows flagged by a cross-field rule; one row per table."""
    rows = [
        {
            "table": _label(f),
            "files": 1,
            "read": f["rows_read"],
            "kept": f["rows_kept"],
            "merged": f["rows_merged"],
            "rows out": sum(f["rows_quarantined"].values()),
            "nulled": sum(f["values_quarantined"].values()),
            "flagged": sum(f.get("flags", {}).values()),
        }
        for f in manifest["files"]
    ]
    return pd.DataFrame(rows).groupby("table", as_index=False).sum()


def totals_by_reason(manifest: dict, key: str) -> dict[str, int]:
    """A counter (``rows_quarantined``, ``values_quarantined``, ``flags`` or ``repairs``)
    summed over the files, largest first, zeros left out."""
    total: dict[str, int] = {}
    for f in manifest["files"]:
        for k, v in f.get(key, {}).items():
            total[k] = total.get(k, 0) + v
    return dict(sorted(((k, v) for k, v in total.items() if v), key=lambda kv: -kv[1]))


def counts_table(manifest: dict, key: str) -> pd.DataFrame:
    """Counts by reason (``key``: as :func:`totals_by_reason`) and table, largest first."""
    rows = [
        {"reason": reason, "table": _label(f), "count": n}
        for f in manifest["files"]
        for reason, n in f.get(key, {}).items()
        if n
    ]
    if not rows:
        return pd.DataFrame(columns=["reason", "table", "count"])
    t = pd.DataFrame(rows).pivot_table(
        index="reason", columns="table", values="count", aggfunc="sum", fill_value=0
    )
    return t.loc[t.sum(axis=1).sort_values(ascending=False).index]


def summary_tables(manifest: dict, layout: Layout) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """The cleaning stage's summary: the per-table counts, and notes (the reasons and
    repairs over all files, rejected files, unknown columns, where the output is)."""
    files = manifest["files"]
    notes = [
        "rows out: quarantined whole; nulled: values quarantined, row kept; "
        "flagged: a cross-field rule broken, row kept."
    ]
    for key, label in COUNTERS.items():
        counts = totals_by_reason(manifest, key)
        if counts:
            notes.append(f"{label}: " + " · ".join(f"{k} {v:,}" for k, v in counts.items()))
    notes += [f"rejected: {f['message']}" for f in files if f["status"] == "rejected"]
    notes += [f"sheet not read: {m}" for f in files for m in f.get("sheets_rejected", [])]
    conflicts = [f"{f['file']}: {c}" for f in files for c in f.get("context_conflicts", [])]
    if conflicts:
        notes.append(
            f"{len(conflicts)} file(s) whose title and name disagree (the title was taken): "
            + "; ".join(conflicts[:3])
        )
    unknown = sorted({u for f in files for u in f["unknown_columns"]})
    if unknown:
        notes.append(f"Columns not in the header dictionary (ignored): {', '.join(unknown)}")
    notes.append(
        f"Clean tables, quarantine and manifest in {layout.interim} "
        f"({manifest.get('seconds', 0):.0f} s)."
    )
    title = f"Cleaning · {manifest['totals']['files']} raw files"
    return {title: manifest_table(manifest)}, notes


def quarantine_examples(layout: Layout, per_reason: int = 3) -> pd.DataFrame:
    """A few quarantine records per reason: file, row, column and the raw value (ID numbers
    masked), to see what the rule caught."""
    from analysis.engine import connect, scan

    con = connect()
    try:
        q = con.execute(
            f"""SELECT reason, scope, kind, source_file, source_row, "column", raw_value
                FROM {scan(layout.quarantine)}
                QUALIFY row_number() OVER (PARTITION BY reason ORDER BY source_file, source_row)
                        <= {int(per_reason)}
                ORDER BY reason, source_file, source_row"""
        ).df()
    finally:
        con.close()
    q["raw_value"] = q["raw_value"].fillna("").map(mask_ids_in_text)
    return q
