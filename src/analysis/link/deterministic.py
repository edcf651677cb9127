"""The deterministic pass of the linkage: records tied to a person by an identifier alone.

Each clean row about a child gets the first rule that applies:

1. ``id``: the row's own resident ID number is valid (GB 11643 check and a real birth date)
   or a legacy 15-digit number upgraded with certainty; the key is the 18-digit number.
2. ``student_no``: the row carries a student registry number (全国学籍号) whose registry
   rows show one valid ID number in a strict majority of them (more rows than all other IDs
   together); the key is that number. A typo that happens to pass the check digit shows up
   in one term's extract, the real number in every other term. A registry number seen with
   two IDs equally often resolves nothing.

   A registry row whose own valid ID is one or two edits away from its registry number's
   majority ID takes the majority ID (rule ``student_no_corrects_id``): one pupil has one
   registry number, so the near-identical ID is the typo.

Which column holds the subject's ID and which tables carry a registry number is declared
in ``schema.yaml`` (the tables' linkage roles), not here.

Rows that no rule resolves (no ID, a typo in it, an Excel-truncated one, an unknown
registry number) are left to the probabilistic pass. The keys are ID numbers: they never
leave the linkage stage, where they become pseudonymous ``person_id``s.
"""

from __future__ import annotations

from functools import cache

import pandas as pd

from analysis.clean.schema import load_schema
from analysis.engine import scan
from analysis.layout import Layout

#: ID statuses of the cleaning stage that make an ID number a key.
VALID = ("valid", "upgraded15")


@cache
def roles() -> dict[str, dict[str, str]]:
    """Per clean table about persons: the column of each linkage role (``schema.yaml``).

    >>> roles()["poverty"]
    {'name': 'member_name', 'sex': 'sex', 'id_number': 'member_id', 'id_partial': 'member_id_partial'}
    """
    return {kind: dict(s.roles) for kind, s in load_schema().items() if s.roles}


def subject_id(kind: str) -> str | None:
    """The column holding the ID number of the row's subject (the child, or the household
    member) in clean table ``kind``, if it has one.

    >>> subject_id("poverty"), subject_id("attendance")
    ('member_id', None)
    """
    return roles().get(kind, {}).get("id_number")


def has_registry_number(kind: str) -> bool:
    """Whether clean table ``kind`` carries the student registry number (全国学籍号).

    >>> has_registry_number("attendance"), has_registry_number("hukou")
    (True, False)
    """
    return "student_no" in roles().get(kind, {})


def deterministic_links(layout: Layout) -> pd.DataFrame:
    """One row per clean row resolved by an identifier (see the module docstring).

    Parameters
    ----------
    layout : the data folder whose clean tables are read.

    Returns
    -------
    pandas.DataFrame
        ``kind``, ``source_file``, ``source_sheet``, ``source_row``, ``key`` (an 18-digit ID
        number) and ``rule`` (``id``, ``student_no`` or ``student_no_corrects_id``).

    Examples
    --------
    >>> links = deterministic_links(prefecture)
    >>> sorted(links["rule"].unique())
    ['id', 'student_no', 'student_no_corrects_id']
    >>> bool(links["key"].str.len().eq(18).all())
    True
    """
    from analysis.engine import connect

    con = connect()
    try:
        return con.sql(deterministic_sql(layout)).df()
    finally:
        con.close()


def deterministic_sql(layout: Layout) -> str:
    """The query behind :func:`deterministic_links`, to run where the rows are (DuckDB)."""
    kinds = [
        k for k in roles() if (subject_id(k) or has_registry_number(k)) and layout.table(k).exists()
    ]
    regno = "(SELECT NULL::VARCHAR AS student_no, NULL::VARCHAR AS key WHERE false)"
    if "xueji" in kinds:
        regno = f"""(
            SELECT student_no, arg_max(id_number, n) AS key
            FROM (SELECT student_no, id_number, count(*) AS n
                  FROM {scan(layout.table("xueji"))}
                  WHERE id_number_status IN {VALID} AND student_no IS NOT NULL
                  GROUP BY ALL)
            GROUP BY student_no
            HAVING 2 * max(n) > sum(n))"""
    parts = []
    for kind in sorted(kinds):
        own = subject_id(kind)
        own_key = (
            f"CASE WHEN t.{own}_status IN {VALID} THEN t.{own} END" if own else "NULL::VARCHAR"
        )
        table = scan(layout.table(kind))
        if has_registry_number(kind):
            parts.append(
                f"""SELECT '{kind}' AS kind, t.source_file, t.source_sheet, t.source_row,
                           CASE WHEN {own_key} IS NULL THEN r.key
                                WHEN r.key IS NOT NULL AND {own_key} <> r.key
                                     AND levenshtein({own_key}, r.key) <= 2 THEN r.key
                                ELSE {own_key} END AS key,
                           CASE WHEN {own_key} IS NULL THEN 'student_no'
                                WHEN r.key IS NOT NULL AND {own_key} <> r.key
                                     AND levenshtein({own_key}, r.key) <= 2
                                THEN 'student_no_corrects_id'
                                ELSE 'id' END AS rule
                    FROM {table} t LEFT JOIN {regno} r USING (student_no)"""
            )
        else:
            parts.append(
                f"""SELECT '{kind}' AS kind, t.source_file, t.source_sheet, t.source_row,
                           {own_key} AS key, 'id' AS rule
                    FROM {table} t"""
            )
    if not parts:
        return (
            "SELECT NULL::VARCHAR AS kind, NULL::VARCHAR AS source_file, NULL::VARCHAR AS "
            "source_sheet, NULL::BIGINT AS source_row, NULL::VARCHAR AS key, "
            "NULL::VARCHAR AS rule WHERE false"
        )
    sql = " UNION ALL ".join(f"({p})" for p in parts)
    return f"SELECT * FROM ({sql}) WHERE key IS NOT NULL"
