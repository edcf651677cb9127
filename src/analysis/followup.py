"""Filled ledgers coming back: what schools and townships wrote in the follow-up columns.

A county's ledger (:mod:`analysis.report.ledger`) filled in and dropped into
``data/raw/followup/`` is cleaned like every raw file (kind ``followup`` of the header
dictionary; 跟进情况 checked against its code list, 跟进日期 as a date, 是否开展结对帮扶 as
是/否), so a value outside the dropdown, a date that is not a date or a missing 编号 reaches
the quarantine with its file, sheet, row and reason. This module reads the clean rows back:

* :func:`read_followup`: the entries with a known child (编号 is the child's ``person_id``;
  an 编号 that is no child of this data folder is invalid too), one row per entry;
* :func:`invalid_entries`: every entry that could not be used, by file, sheet and row, with
  the reason in Chinese, for the next report to list;
* :func:`latest`: each child's latest entry, as the next report and ledger show it.

The effects stage reads the same entries (:func:`analysis.effects.inputs.load_inputs`): a
persuasion step or a return with its date updates the child's open case, and 是否开展结对帮扶
overrides the red-list ledger's mentoring record for that term.

Examples
--------
>>> entries = pd.DataFrame({"person_id": ["a", "a", "b"], "follow_up": ["已家访", "已返校", None],
...     "follow_date": pd.to_datetime(["2021-09-01", "2021-09-20", None]),
...     "source_row": [1, 2, 3]})
>>> latest(entries)
  person_id  follow_up follow_date            最近跟进
0         a       已返校  2021-09-20  已返校（2021-09-20）
"""

from __future__ import annotations

import duckdb
import pandas as pd

from analysis.engine import scan
from analysis.layout import Layout

#: The quarantine's reasons, as a school reads them.
REASONS = {
    "unknown_code": "跟进情况或是否开展结对帮扶不是下拉列表中的值",
    "bad_date": "不是有效日期",
    "out_of_range": "超出允许范围",
    "bad_format": "格式不对（编号被改动或学期不是YYYY-N）",
    "missing_key": "缺少编号",
    "unknown_key": "编号不存在（不是本系统生成的台账，或编号被改动）",
}

_COLUMNS = [
    "person_id", "term", "follow_up", "follow_date", "mentored", "mentor", "note",
    "source_file", "source_sheet", "source_row",
]  # fmt: skip


def _persons(layout: Layout) -> str:
    return f"(SELECT DISTINCT person_id FROM {scan(layout.persons)})"


def read_followup(layout: Layout) -> pd.DataFrame:
    """The filled-in entries of every ledger that came back, with a known child: one row
    per ledger row that says something (a follow-up value, a date, a mentoring record or a
    note), in file, sheet and row order."""
    path = layout.table("followup")
    if not path.exists() or not layout.persons.exists():
        return pd.DataFrame(columns=_COLUMNS)
    with duckdb.connect() as con:
        return con.execute(
            f"""SELECT f.person_key AS person_id, f.term, f.follow_up, f.follow_date,
                   f.mentored, f.mentor, f.note, f.source_file, f.source_sheet, f.source_row
            FROM {scan(path)} f SEMI JOIN {_persons(layout)} p ON p.person_id = f.person_key
            WHERE coalesce(f.follow_up, f.mentored, f.mentor, f.note) IS NOT NULL
               OR f.follow_date IS NOT NULL
            ORDER BY f.source_file, f.source_sheet, f.source_row"""
        ).df()


def invalid_entries(layout: Layout) -> pd.DataFrame:
    """Every ledger entry that could not be used: file, sheet, row, column, the value as
    written and the reason (:data:`REASONS`). Values the cleaning quarantined, and rows
    whose 编号 is no child of this data folder."""
    cols = ["文件", "工作表", "行", "列", "填写的值", "原因"]
    path = layout.table("followup")
    if not path.exists():
        return pd.DataFrame(columns=cols)
    with duckdb.connect() as con:
        q = con.execute(
            f"""SELECT source_file, source_sheet, source_row, "column", raw_value, reason
            FROM {scan(layout.quarantine)} WHERE kind = 'followup'"""
        ).df()
        unknown = (
            con.execute(
                f"""SELECT source_file, source_sheet, source_row, '编号' AS "column",
                       person_key AS raw_value, 'unknown_key' AS reason
                FROM {scan(path)} f
                WHERE f.person_key IS NOT NULL
                  AND f.person_key NOT IN (SELECT person_id FROM {_persons(layout)})"""
            ).df()
            if layout.persons.exists()
            else q.iloc[:0]
        )
    out = pd.concat([q, unknown], ignore_index=True)
    out["reason"] = out["reason"].map(lambda r: REASONS.get(r, r))
    out.columns = cols
    # A row's line in the workbook: the header is row 1.
    out["行"] = out["行"].astype("int64") + 1
    return out.sort_values(["文件", "工作表", "行"], ignore_index=True)


def file_counties(layout: Layout) -> pd.DataFrame:
    """The county of each ledger file that came back: the county most of its known children
    were last registered in (``source_file``, ``county_code``). Never the file's name."""
    path = layout.table("followup")
    timeline = layout.check("timeline")
    if not path.exists() or not timeline.exists():
        return pd.DataFrame(columns=["source_file", "county_code"])
    with duckdb.connect() as con:
        return con.execute(
            f"""WITH home AS (
                SELECT person_id, arg_max(county_code, term) AS county_code
                FROM {scan(timeline)} WHERE county_code IS NOT NULL GROUP BY person_id)
            SELECT f.source_file, mode(h.county_code ORDER BY h.county_code) AS county_code
            FROM {scan(path)} f JOIN home h ON h.person_id = f.person_key
            GROUP BY f.source_file ORDER BY f.source_file"""
        ).df()


def latest(entries: pd.DataFrame) -> pd.DataFrame:
    """Each child's latest follow-up (by date, then by the ledger's row order), with
    ``最近跟进`` as a report writes it (``已返校（2021-09-20）``)."""
    e = entries.dropna(subset=["follow_up"])
    if e.empty:
        return pd.DataFrame(columns=["person_id", "follow_up", "follow_date", "最近跟进"])
    e = e.assign(_d=pd.to_datetime(e["follow_date"]))
    e = e.sort_values(["person_id", "_d", "source_row"], na_position="first")
    last = e.groupby("person_id", sort=True).tail(1)
    when = last["_d"].dt.strftime("%Y-%m-%d")
    text = last["follow_up"] + when.map(lambda d: f"（{d}）" if isinstance(d, str) else "")
    return pd.DataFrame(
        {
            "person_id": last["person_id"].to_numpy(),
            "follow_up": last["follow_up"].to_numpy(),
            "follow_date": when.to_numpy(),
            "最近跟进": text.to_numpy(),
        }
    )
