"""``analysis validate``: compare each stage's output with the synthetic truth.

Only this module (and the tests) read ``data/truth/``. Results go to
``reports/validation.json``.

Cleaning is scored value by value against ``truth/corruptions.parquet``:

* *repaired*: the clean table holds the true value;
* *quarantined*: the value (or its row) is in the quarantine with a reason;
* *undetectable*: kinds no rule can see (a wrong digit that keeps a valid check; a homophone
  of a name), which read as valid: counted and reported, not held against the cleaner;
* *silently wrong*: none of these. The target is repaired + quarantined >= 99.5 % of the
  detectable corruptions.

and row by row: clean rows (no corruption, not a duplicate) wrongly quarantined <= 0.1 %.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from analysis.clean.names import normalize_names
from analysis.clean.stage import COLUMN_TYPES

UNDETECTABLE = {"id_valid_typo", "name_homophone"}
KEY = ["source_file", "source_sheet", "source_row"]


def _in(left: pd.DataFrame, right: pd.DataFrame, on: list[str]) -> np.ndarray:
    """For each row of ``left``: is its key in ``right``? (a merge, not Python sets: the truth
    has millions of rows)."""
    hits = right[on].drop_duplicates().assign(_hit=True)
    m = left[on].reset_index(drop=True).merge(hits, on=on, how="left")
    return m["_hit"].fillna(False).to_numpy(dtype=bool)


def _anti_join(left: pd.DataFrame, right: pd.DataFrame, on: list[str]) -> pd.DataFrame:
    return left[~_in(left, right, on)]


def validate_clean(data_dir: Path) -> dict:
    """Score the cleaning stage against the truth; see the module docstring."""
    data_dir = Path(data_dir)
    interim = data_dir / "interim"
    manifest = json.loads((interim / "manifest.json").read_text(encoding="utf-8"))
    corr = pd.read_parquet(data_dir / "truth" / "corruptions.parquet").rename(
        columns={"file": "source_file", "sheet": "source_sheet", "row": "source_row"}
    )
    rows = pd.read_parquet(data_dir / "truth" / "rows.parquet").rename(
        columns={"file": "source_file", "sheet": "source_sheet", "row": "source_row"}
    )
    q = (
        pd.read_parquet(interim / "quarantine.parquet")
        if (interim / "quarantine.parquet").exists()
        else pd.DataFrame(columns=[*KEY, "scope", "column", "reason"])
    )
    merges = (
        pd.read_parquet(interim / "merges.parquet")
        if (interim / "merges.parquet").exists()
        else pd.DataFrame(columns=KEY)
    )
    kind_of = {f["file"]: (f["kinds"][0] if f["kinds"] else None) for f in manifest["files"]}

    # Corruptions on merged duplicate rows are judged on the row they were merged into.
    for df in (corr, rows, q, merges):
        df["source_row"] = df["source_row"].astype("Int64")
    corr = _anti_join(corr, merges[KEY], KEY)
    row_q = q[q["scope"] == "row"][KEY].drop_duplicates()
    val_q = q[q["scope"] == "value"][[*KEY, "column"]].drop_duplicates()

    outcome = pd.Series("silently_wrong", index=corr.index, dtype=object)
    for kind, g in corr.groupby(corr["source_file"].map(kind_of)):
        path = interim / f"{kind}.parquet"
        if kind is None or not path.exists():
            continue
        table = pd.read_parquet(path)
        table["source_row"] = table["source_row"].astype("int64")
        for column, gc in g.groupby("column"):
            if column not in table.columns:
                continue
            m = gc.merge(table[[*KEY, column]], on=KEY, how="left")
            got = m[column]
            typ = COLUMN_TYPES.get(column, "text")
            if typ == "name":
                expected = pd.Series(normalize_names(pa.array(m["clean"].tolist()))[0].to_pylist())
            elif typ in ("date", "month"):
                got = got.astype(str).str[: 7 if typ == "month" else 10]
                expected = m["clean"].str[: 7 if typ == "month" else 10]
            elif typ == "address":
                expected = m["clean"]
            else:
                expected = m["clean"]
            ok = (
                got.astype(str).to_numpy() == expected.astype(str).to_numpy()
            ) & got.notna().to_numpy()
            outcome.loc[gc.index[ok]] = "repaired"
    in_row_q = _in(corr, row_q, KEY)
    in_val_q = _in(corr, val_q, [*KEY, "column"])
    outcome[(outcome != "repaired") & (in_row_q | in_val_q)] = "quarantined"
    # An ID left empty is flagged by its status ('missing'), not kept as if clean.
    outcome[
        (outcome == "silently_wrong") & (corr["kind"] == "id_missing_regno") & (corr["raw"] == "")
    ] = "quarantined"
    # A value that also carries an undetectable change (a homophone) cannot come out clean.
    also = _in(corr, corr[corr["kind"].isin(UNDETECTABLE)], [*KEY, "column"])
    outcome[(outcome == "silently_wrong") & (corr["kind"].isin(UNDETECTABLE) | also)] = (
        "undetectable"
    )
    by_kind = pd.crosstab(corr["kind"], outcome)
    detectable = outcome != "undetectable"
    share_ok = (
        float(outcome[detectable].isin(["repaired", "quarantined"]).mean())
        if detectable.any()
        else 1.0
    )

    # Clean rows wrongly quarantined: records with no corruption at all.
    records = rows[rows["row_kind"] == "record"][KEY]
    clean_records = _anti_join(records, corr[KEY], KEY)
    clean_mask = np.ones(len(clean_records), bool)
    wrongly = _in(clean_records, row_q, KEY)
    return {
        "corrupted_values": int(len(corr)),
        "repaired_or_quarantined_share": round(share_ok, 5),
        "target_repaired_or_quarantined": 0.995,
        "undetectable_values": int((outcome == "undetectable").sum()),
        "silently_wrong_values": int((outcome == "silently_wrong").sum()),
        "by_kind": {k: {c: int(v) for c, v in row.items()} for k, row in by_kind.iterrows()},
        "clean_rows": int(clean_mask.sum()),
        "clean_rows_wrongly_quarantined": int(wrongly.sum()),
        "clean_rows_wrongly_quarantined_share": round(
            float(wrongly.mean()) if len(wrongly) else 0.0, 6
        ),
        "target_wrongly_quarantined": 0.001,
    }


def validate(data_dir: Path, reports_dir: Path) -> dict:
    """Every stage that has output: today the cleaning stage. Writes validation.json."""
    out: dict = {}
    if (Path(data_dir) / "interim" / "manifest.json").exists():
        out["clean"] = validate_clean(data_dir)
    reports_dir = Path(reports_dir)
    reports_dir.mkdir(parents=True, exist_ok=True)
    (reports_dir / "validation.json").write_text(
        json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    return out
