"""The deterministic pass of the linkage: records tied to a person by an identifier alone.

Each clean row about a child gets the first rule that applies:

1. ``id``: the row's own resident ID number is valid (GB 11643 check and a real birth date)
   or a legacy 15-digit number upgraded with certainty; the key is the 18-digit number.
2. ``student_no``: the row carries a student registry number (全国学籍号) that the student
   registry shows, in every term, with one and the same valid ID number; the key is that
   number. A registry number seen with two different IDs resolves nothing.

Rows that no rule resolves (no ID, a typo in it, an Excel-truncated one, an unknown
registry number) are left to the probabilistic pass. The keys are ID numbers: they never
leave the linkage stage, where they become pseudonymous ``person_id``s.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

#: Per table: the column holding the ID number of the row's subject (the child, or the
#: household member), if any, and whether the table carries a registry number.
SUBJECT_ID = {
    "hukou": "id_number",
    "xueji": "id_number",
    "poverty": "member_id",
    "persuasion": "id_number",
    "home_teaching": "id_number",
}
WITH_REGISTRY_NUMBER = ("xueji", "attendance", "leave", "redlist", "persuasion", "home_teaching")
VALID = ("valid", "upgraded15")


def _table(interim: Path, kind: str) -> str:
    return f"read_parquet('{interim / (kind + '.parquet')}/*.parquet')"


def deterministic_links(interim: Path) -> pd.DataFrame:
    """One row per clean row resolved by an identifier: ``kind``, ``source_file``,
    ``source_sheet``, ``source_row``, ``key`` (an 18-digit ID number) and ``rule``."""
    import duckdb

    interim = Path(interim)
    con = duckdb.connect(config={"threads": 2, "memory_limit": "4GB"})
    kinds = [k for k in {*SUBJECT_ID, *WITH_REGISTRY_NUMBER} if (interim / f"{k}.parquet").exists()]
    regno = "(SELECT NULL::VARCHAR AS student_no, NULL::VARCHAR AS key WHERE false)"
    if "xueji" in kinds:
        regno = f"""(
            SELECT student_no, any_value(id_number) AS key
            FROM {_table(interim, "xueji")}
            WHERE id_number_status IN {VALID} AND student_no IS NOT NULL
            GROUP BY student_no
            HAVING count(DISTINCT id_number) = 1)"""
    parts = []
    for kind in sorted(kinds):
        own = SUBJECT_ID.get(kind)
        own_key = (
            f"CASE WHEN t.{own}_status IN {VALID} THEN t.{own} END" if own else "NULL::VARCHAR"
        )
        if kind in WITH_REGISTRY_NUMBER:
            parts.append(
                f"""SELECT '{kind}' AS kind, t.source_file, t.source_sheet, t.source_row,
                           coalesce({own_key}, r.key) AS key,
                           CASE WHEN {own_key} IS NOT NULL THEN 'id' ELSE 'student_no' END AS rule
                    FROM {_table(interim, kind)} t LEFT JOIN {regno} r USING (student_no)"""
            )
        else:
            parts.append(
                f"""SELECT '{kind}' AS kind, t.source_file, t.source_sheet, t.source_row,
                           {own_key} AS key, 'id' AS rule
                    FROM {_table(interim, kind)} t"""
            )
    sql = " UNION ALL ".join(f"({p})" for p in parts)
    out = con.sql(f"SELECT * FROM ({sql}) WHERE key IS NOT NULL").df()
    con.close()
    return out
