"""The cleaning stage against the truth, value by value and row by row.

Each corrupted value (``truth/corruptions.parquet``) is:

* *repaired*: the clean table holds the true value;
* *quarantined*: the value (or its row) is in the quarantine with a reason;
* *undetectable*: kinds no rule can see (a wrong digit that keeps a valid check; a homophone
  of a name), which read as valid: counted and reported, not held against the cleaner;
* *silently wrong*: none of these. The target is repaired + quarantined >= 99.5 % of the
  detectable corruptions;

and clean rows (no corruption, not a duplicate) wrongly quarantined must stay <= 0.1 %.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from analysis.clean.names import normalize_names
from analysis.clean.overview import load_manifest
from analysis.clean.schema import load_schema
from analysis.engine import scan
from analysis.layout import Layout
from analysis.validate.truth import Truth

UNDETECTABLE = {"id_valid_typo", "name_homophone"}
KEY = ["source_file", "source_sheet", "source_row"]
_ON = "USING (source_file, source_sheet, source_row)"


def _in(left: pd.DataFrame, right: pd.DataFrame, on: list[str]) -> np.ndarray:
    """For each row of ``left``: is its key in ``right``? (a merge, not Python sets: the truth
    has millions of rows)."""
    hits = right[on].drop_duplicates().assign(_hit=True)
    m = left[on].reset_index(drop=True).merge(hits, on=on, how="left")
    return m["_hit"].fillna(False).to_numpy(dtype=bool)


def validate_clean(layout: Layout, truth: Truth) -> dict:
    """Score the cleaning stage against the truth; see the module docstring.

    The joins with the clean tables and the truth's row list (tens of millions of rows at yuxi
    scale) run in DuckDB; only the corruptions (a few per cent of the values) come into pandas.

    Parameters
    ----------
    layout : the data folder whose ``interim/`` is scored.
    truth : the truth (:class:`~analysis.validate.truth.Truth`).

    Returns
    -------
    dict
        The share of corrupted values repaired or quarantined, the counts by kind, the clean
        rows wrongly quarantined, and the targets.

    Examples
    --------
    >>> with Truth(prefecture_truth) as t:
    ...     v = validate_clean(prefecture, t)
    >>> v["repaired_or_quarantined_share"] >= v["target_repaired_or_quarantined"]
    True
    """
    con = truth.con
    corr_t = truth.table("corruptions")
    # Corruptions on merged duplicate rows are judged on the row they were merged into.
    corr = con.sql(
        f"SELECT c.* FROM {corr_t} c ANTI JOIN {scan(layout.merges)} m {_ON} "
        'ORDER BY source_file, source_sheet, source_row, "column"'
    ).df()
    q = con.sql(
        f'SELECT source_file, source_sheet, source_row, scope, "column" FROM {scan(layout.quarantine)}'
    ).df()
    outcome = _repaired(layout, truth, corr)
    in_row_q = _in(corr, q[q["scope"] == "row"][KEY].drop_duplicates(), KEY)
    in_val_q = _in(
        corr, q[q["scope"] == "value"][[*KEY, "column"]].drop_duplicates(), [*KEY, "column"]
    )
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
    clean_rows, wrongly = _wrongly_quarantined(layout, truth)
    footers, footers_caught = _footers(layout, truth)
    return {
        "corrupted_values": int(len(corr)),
        "repaired_or_quarantined_share": round(share_ok, 5),
        "target_repaired_or_quarantined": 0.995,
        "undetectable_values": int((outcome == "undetectable").sum()),
        "silently_wrong_values": int((outcome == "silently_wrong").sum()),
        "by_kind": {k: {c: int(v) for c, v in row.items()} for k, row in by_kind.iterrows()},
        "clean_rows": int(clean_rows),
        "clean_rows_wrongly_quarantined": int(wrongly),
        "clean_rows_wrongly_quarantined_share": round(
            float(wrongly) / clean_rows if clean_rows else 0.0, 6
        ),
        "target_wrongly_quarantined": 0.001,
        "footer_rows": int(footers),
        "footer_rows_recognised": int(footers_caught),
    }


def _repaired(layout: Layout, truth: Truth, corr: pd.DataFrame) -> pd.Series:
    """Per corruption: 'repaired' where the clean table holds the true value, else
    'silently_wrong' (to be refined by the caller)."""
    manifest = load_manifest(layout)
    kind_of = {f["file"]: (f["kinds"][0] if f["kinds"] else None) for f in manifest["files"]}
    schemas = load_schema()
    outcome = pd.Series("silently_wrong", index=corr.index, dtype=object)
    for kind, g in corr.groupby(corr["source_file"].map(kind_of)):
        path = layout.table(kind)
        if kind is None or not path.exists():
            continue
        columns = set(truth.con.sql(f"SELECT * FROM {scan(path)} LIMIT 0").columns)
        for column, gc in g.groupby("column"):
            if column not in columns:
                continue
            probe = gc[KEY].assign(_i=np.arange(len(gc)))
            truth.con.register("probe", probe)
            got = (
                truth.con.sql(
                    f'SELECT p._i, t."{column}" AS got FROM probe p '
                    f"LEFT JOIN {scan(path)} t {_ON} ORDER BY p._i"
                )
                .df()["got"]
                .reset_index(drop=True)
            )
            truth.con.unregister("probe")
            typ = schemas[kind].type_of(column) if kind in schemas else "text"
            clean = gc["clean"].reset_index(drop=True)
            if typ == "name":
                expected = pd.Series(normalize_names(pa.array(clean.tolist()))[0].to_pylist())
            elif typ in ("date", "month"):
                got = got.astype(str).str[: 7 if typ == "month" else 10]
                expected = clean.str[: 7 if typ == "month" else 10]
            else:
                expected = clean
            ok = (
                got.astype(str).to_numpy() == expected.astype(str).to_numpy()
            ) & got.notna().to_numpy()
            outcome.loc[gc.index[ok]] = "repaired"
    return outcome


def _footers(layout: Layout, truth: Truth) -> tuple[int, int]:
    """A form's footer rows (totals, signatures), and how many were quarantined as such
    (``footer_row``, ``total_row``): never kept as records, never blamed on a pupil."""
    return truth.con.execute(
        f"""
        WITH f AS (SELECT source_file, source_sheet, source_row FROM {truth.table("rows")}
                   WHERE row_kind = 'footer'),
        q AS (SELECT DISTINCT source_file, source_sheet, source_row FROM {scan(layout.quarantine)}
              WHERE reason IN ('footer_row', 'total_row'))
        SELECT count(*), count(q.source_row) FROM f LEFT JOIN q {_ON}
        """
    ).fetchall()[0]


def _wrongly_quarantined(layout: Layout, truth: Truth) -> tuple[int, int]:
    """Clean rows (records with no corruption at all), and how many were quarantined."""
    return truth.con.execute(
        f"""
        WITH records AS (
            SELECT source_file, source_sheet, source_row FROM {truth.table("rows")}
            WHERE row_kind = 'record'),
        clean AS (SELECT * FROM records r ANTI JOIN {truth.table("corruptions")} c {_ON}),
        row_q AS (SELECT DISTINCT source_file, source_sheet, source_row
                  FROM {scan(layout.quarantine)} WHERE scope = 'row')
        SELECT count(*), count(*) FILTER (WHERE q.source_row IS NOT NULL)
        FROM clean c LEFT JOIN row_q q {_ON}
        """
    ).fetchall()[0]
