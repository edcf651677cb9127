"""Which school answers for a listed child in the coming term (the list's responsible unit).

A red list is made for the term about to start, from the records of the term before. The
school that must act is the one the child attends *in the coming term*, which is not always
last term's:

1. **The coming term's registry is in** (the autumn snapshot arrived): the school it lists.
2. **Not yet, and the child moves up from grade 6 to grade 7** in autumn: the junior-middle
   school that most of its primary school's grade-6 pupils entered in earlier years (read
   from the registry's own grade-6 → grade-7 transitions), else the junior-middle school of
   its township with the most pupils. The list says this is an expectation
   (``升学去向（依往年）``), and names last term's school for the hand-over.
3. **Otherwise**: last term's school.

Examples
--------
>>> import duckdb
>>> con = duckdb.connect()
>>> _ = con.execute('''CREATE TABLE reg AS SELECT * FROM (VALUES
...   ('a', '2019-2', 6, 'P1', 'T'), ('a', '2020-1', 7, 'J1', 'T'),
...   ('b', '2019-2', 6, 'P1', 'T'), ('b', '2020-1', 7, 'J1', 'T'),
...   ('c', '2020-2', 6, 'P1', 'T'), ('d', '2020-2', 8, 'J2', 'T'))
...   t(person_id, term, grade, school_code, school_township)''')
>>> _ = con.execute('''CREATE TABLE schools AS SELECT * FROM (VALUES
...   ('P1', '甲小学', 'T', '小学'), ('J1', '甲中学', 'T', '初中'), ('J2', '乙中学', 'T', '初中'))
...   t(school_code, school_name, school_township, stage)''')
>>> wanted = pd.DataFrame({"person_id": ["c", "d"], "school_code": ["P1", "J2"],
...                        "grade": [7, 9], "grade_prev": [6, 8]})
>>> coming_school(con, wanted, "2021-1", reg="reg", schools="schools")
  person_id school_code basis last_school_code
0         c          J1  升学去向（依往年）               P1
1         d          J2     上学期学籍               J2
"""

from __future__ import annotations

import pandas as pd

#: How the coming term's school was found (the ``basis`` column).
BASIS = {
    "registry": "本学期学籍",
    "destination": "升学去向（依往年）",
    "township": "升学去向（本乡镇初中）",
    "last": "上学期学籍",
}


def coming_school(
    con, wanted: pd.DataFrame, term: str, *, reg: str = "reg", schools: str = "schools"
) -> pd.DataFrame:
    """The school each of ``wanted`` attends in ``term`` (see the module docstring).

    Parameters
    ----------
    con : a DuckDB connection holding ``reg`` (person, term, grade, school_code) and
        ``schools`` (school_code, school_township and, if known, stage 小学/初中).
    wanted : ``person_id``, last term's ``school_code``, the coming ``grade`` and
        ``grade_prev``.
    term : the coming term (``YYYY-N``).

    Returns
    -------
    pandas.DataFrame
        ``person_id``, ``school_code`` (the coming term's), ``basis`` (:data:`BASIS`) and
        ``last_school_code``, in the order of ``wanted``.
    """
    w = wanted[["person_id", "school_code", "grade", "grade_prev"]].reset_index(drop=True)
    w = w.assign(_i=range(len(w)))
    has_stage = "stage" in {
        r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {schools}").fetchall()
    }
    junior = "s.stage = '初中'" if has_stage else "true"
    con.register("_wanted", w)
    try:
        out = con.execute(
            f"""
            WITH now AS (
                SELECT person_id, arg_max(school_code, school_code) AS school_code
                FROM {reg} WHERE term = '{term}' AND school_code IS NOT NULL GROUP BY person_id),
            moves AS (
                SELECT a.school_code AS from_school, b.school_code AS to_school, count(*) AS n
                FROM {reg} a JOIN {reg} b ON a.person_id = b.person_id
                 AND right(a.term, 1) = '2' AND a.grade = 6 AND b.grade = 7
                 AND b.term = (CAST(left(a.term, 4) AS INTEGER) + 1)::VARCHAR || '-1'
                WHERE b.school_code IS NOT NULL GROUP BY ALL),
            dest AS (
                SELECT from_school, arg_max(to_school, (n, to_school)) AS to_school
                FROM moves GROUP BY from_school),
            size AS (
                SELECT r.school_code, any_value(s.school_township) AS township, count(*) AS n
                FROM {reg} r JOIN {schools} s USING (school_code)
                WHERE r.grade BETWEEN 7 AND 9 AND {junior} GROUP BY r.school_code),
            town AS (
                SELECT township, arg_max(school_code, (n, school_code)) AS to_school
                FROM size GROUP BY township)
            SELECT w._i, w.person_id, w.school_code AS last_school_code,
                   now.school_code AS now_school, dest.to_school AS dest_school,
                   town.to_school AS town_school,
                   w.grade = 7 AND w.grade_prev = 6 AS moves_up
            FROM _wanted w
            LEFT JOIN now USING (person_id)
            LEFT JOIN dest ON dest.from_school = w.school_code
            LEFT JOIN {schools} ps ON ps.school_code = w.school_code
            LEFT JOIN town ON town.township = ps.school_township
            ORDER BY w._i"""
        ).df()
    finally:
        con.unregister("_wanted")
    school, basis = [], []
    for r in out.itertuples(index=False):
        moves_up = pd.notna(r.moves_up) and bool(r.moves_up)
        if isinstance(r.now_school, str):
            school.append(r.now_school), basis.append(BASIS["registry"])
        elif moves_up and isinstance(r.dest_school, str):
            school.append(r.dest_school), basis.append(BASIS["destination"])
        elif moves_up and isinstance(r.town_school, str):
            school.append(r.town_school), basis.append(BASIS["township"])
        else:
            school.append(r.last_school_code), basis.append(BASIS["last"])
    return pd.DataFrame(
        {
            "person_id": out["person_id"],
            "school_code": school,
            "basis": basis,
            "last_school_code": out["last_school_code"],
        }
    )
