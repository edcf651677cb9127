"""The three comparison lists (三比对), each row saying who must act and why.

1. **Household registration vs student registry** (:func:`not_enrolled_list`), per school
   year, from the autumn census (:mod:`analysis.link.census`): every resident child of
   compulsory-school age (6-14 on 31 August) who is not in school on the census date, with
   its ``category``: ``失学`` (no registry record anywhere in the prefecture, ever, up to the
   census), ``残疾缓学`` (the same, with a disability certificate), ``辍学`` (in the
   registry, but marked 辍学 or out by the attendance record), ``休学``, ``已毕业`` (finished
   grade 9 before 15), ``转出`` (transferred out of the prefecture), ``已离校`` (in the
   registry before, not now, no reason on record).
2. **Student registry vs attendance** (:func:`dropout_list`): the runs of absence of
   :mod:`analysis.link.absence`, with the persuasion ledger's case if one was opened.
3. **Attending students vs the poverty registry** (:func:`poverty_list`): children of
   poverty-registered households (建档立卡, including households since lifted out) out of
   school in the school year: on list 1 as not enrolled, or in a dropout run of list 2 in
   which they missed more than a school week of that year.

Names are shown as the records give them most often and ID numbers masked
(:func:`analysis.privacy.mask_id`). Rows are ordered by place, then by the child's name and
birth date: the same order every run, whatever the pseudonymous ids.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analysis.config import DEFAULT_RULES, Rules
from analysis.link.absence import Episodes
from analysis.link.tables import BaseTables

#: Categories of comparison 1 that are out of school (the others are enrolled elsewhere,
#: suspended, or finished).
OUT_OF_SCHOOL = ("失学", "残疾缓学", "辍学", "已离校")


@dataclass(frozen=True)
class Who:
    """The table ``who`` in ``con``: name, sex and birth date as the records give them most
    often (ties: the smallest), the masked ID, and the latest household check's township
    and village, for the persons of the lists (:func:`who`)."""

    base: BaseTables
    table: str = "who"


def who(t: BaseTables, persons: str) -> Who:
    """Build :class:`Who` for the persons of ``persons``.

    Parameters
    ----------
    t : the base tables (``hk`` and ``xj`` are read).
    persons : an SQL query of ``person_id``.

    Returns
    -------
    Who
        The table ``who``: per person the name, sex and birth date the records give most often
        (ties: the smallest), the masked ID number (:func:`analysis.privacy.mask_id`), and the
        township and village of the latest household check.

    Examples
    --------
    >>> from analysis.engine import connect
    >>> from analysis.link import base_tables
    >>> con = connect()
    >>> t = base_tables(con, prefecture)
    >>> w = who(t, f"SELECT person_id FROM {t.reg} LIMIT 5")
    >>> con.execute(f"SELECT count(*), bool_and(id_masked LIKE '%********%') FROM {w.table}").fetchall()
    [(5, True)]
    >>> con.close()
    """
    w = Who(t)
    t.con.execute(
        f"""CREATE OR REPLACE TABLE {w.table} AS
        WITH p AS ({persons}),
        r AS (SELECT person_id, name, sex, birth_date, id_number, township, village, year
              FROM {t.hk} SEMI JOIN p USING (person_id)
              UNION ALL
              SELECT person_id, name, sex, birth_date, id_number, NULL, NULL, NULL
              FROM {t.xj} SEMI JOIN p USING (person_id))
        SELECT person_id,
               mode(name ORDER BY name) FILTER (WHERE name IS NOT NULL) AS name,
               mode(sex ORDER BY sex) FILTER (WHERE sex IS NOT NULL) AS sex,
               mode(birth_date ORDER BY birth_date)
                 FILTER (WHERE birth_date IS NOT NULL) AS birth_date,
               mask_id(mode(id_number ORDER BY id_number)
                 FILTER (WHERE id_number IS NOT NULL)) AS id_masked,
               arg_max(township, (year, township)) FILTER (WHERE township IS NOT NULL)
                 AS township,
               arg_max(village, (year, village)) FILTER (WHERE village IS NOT NULL) AS village
        FROM r GROUP BY person_id"""
    )
    return w


def not_enrolled_list(
    t: BaseTables, census: pd.DataFrame, e: Episodes, w: Who, rules: Rules = DEFAULT_RULES
) -> pd.DataFrame:
    """Comparison 1 (see the module docstring): one row per school year and resident child of
    compulsory-school age not in school on the census date, with its category.

    Parameters
    ----------
    t : the base tables.
    census : :func:`analysis.link.census.census`'s frame.
    e : the runs of absence (:func:`analysis.link.absence.absence_episodes`).
    w : the persons' names and masked IDs (:func:`who`).
    rules : the compulsory-school ages (``school_age``).

    Returns
    -------
    pandas.DataFrame
        ``school_year``, ``county_code``, ``township``, ``village``, the school, ``category``,
        the child (``person_id``, name, sex, birth date, masked ID, age, disabled), the
        ``evidence`` and the ``responsible_unit``.

    Examples
    --------
    >>> from analysis.engine import connect
    >>> from analysis.link import absence_episodes, base_tables, census
    >>> con = connect()
    >>> t = base_tables(con, prefecture)
    >>> frame, e = census(t), absence_episodes(t)
    >>> con.register("c", frame)  # doctest: +ELLIPSIS
    <...>
    >>> w = who(t, "SELECT person_id FROM c WHERE NOT enrolled")
    >>> l1 = not_enrolled_list(t, frame, e, w)
    >>> set(l1["category"]) <= {"失学", "残疾缓学", "辍学", "休学", "转出", "已毕业", "已离校"}
    True
    >>> con.close()
    """
    lo, hi = rules.school_age
    t.con.register("census_df", census)
    try:
        return t.con.execute(
            f"""WITH c AS (
                SELECT * FROM census_df
                WHERE resident AND NOT enrolled AND age BETWEEN {lo} AND {hi}),
            cur AS (SELECT c.year, c.person_id, r.status, r.school_code, r.school_name,
                           r.school_township, r.grade
                    FROM c JOIN {t.reg} r ON r.person_id = c.person_id
                         AND r.term = c.year || '-1'),
            prior AS (SELECT c.year, c.person_id,
                             arg_max(r.status, r.term) AS status,
                             arg_max(r.grade, r.term) AS grade, max(r.term) AS term,
                             arg_max(r.school_code, r.term) AS school_code,
                             arg_max(r.school_name, r.term) AS school_name,
                             arg_max(r.school_township, r.term) AS school_township
                      FROM c JOIN {t.reg} r ON r.person_id = c.person_id
                           AND r.term < c.year || '-1'
                      GROUP BY ALL),
            out AS (SELECT DISTINCT c.year, c.person_id FROM c JOIN {e.episodes} x
                      ON x.person_id = c.person_id AND x.kind = 'dropout'
                     AND x.first_month < term_snapshot(c.year || '-1')
                     AND (x.return_month IS NULL OR x.return_month >= census_date(c.year)))
            SELECT c.year AS school_year, c.county_code, w.township, w.village,
                   coalesce(cur.school_code, p.school_code) AS school_code,
                   coalesce(cur.school_name, p.school_name) AS school_name,
                   {_category_sql()} AS category,
                   c.person_id, w.name, w.sex, w.birth_date, w.id_masked, c.age, c.disabled,
                   {_not_enrolled_evidence_sql()} AS evidence,
                   coalesce(w.township || '人民政府', '') ||
                   CASE WHEN w.village IS NOT NULL THEN '（' || w.village || '）' ELSE '' END ||
                   CASE WHEN coalesce(cur.school_name, p.school_name) IS NOT NULL
                        THEN '；' || coalesce(cur.school_name, p.school_name) ELSE '' END
                     AS responsible_unit
            FROM c LEFT JOIN cur USING (year, person_id)
            LEFT JOIN prior p USING (year, person_id)
            LEFT JOIN out o USING (year, person_id)
            LEFT JOIN {w.table} w USING (person_id)
            ORDER BY school_year, county_code, township, category, w.name, w.birth_date,
                     c.person_id"""
        ).df()
    finally:
        t.con.unregister("census_df")


def _category_sql() -> str:
    return """CASE
                 WHEN cur.status IN ('辍学', '在读') OR o.person_id IS NOT NULL THEN '辍学'
                 WHEN cur.status = '休学' THEN '休学'
                 WHEN cur.status = '转出' THEN '转出'
                 WHEN p.person_id IS NULL AND c.disabled THEN '残疾缓学'
                 WHEN p.person_id IS NULL THEN '失学'
                 WHEN p.status = '转出' THEN '转出'
                 WHEN p.status = '在读' AND p.grade = 9 AND right(p.term, 1) = '2' THEN '已毕业'
                 WHEN p.status = '辍学' THEN '辍学'
                 ELSE '已离校'
               END"""


def _not_enrolled_evidence_sql() -> str:
    return """CASE WHEN cur.status IS NOT NULL
                      THEN c.year || '年秋季学籍：' || cur.status || '（' || cur.school_name || '）'
                    WHEN p.person_id IS NOT NULL
                      THEN '最近学籍：' || p.term || '学期' || p.status || '（' || p.school_name
                           || '，' || p.grade || '年级）；' || c.year || '年秋季学籍无记录'
                    ELSE '全市学籍' || c.year || '年秋季及以前均无记录'
               END || '；' || c.year || '年户籍核查在册' ||
               CASE WHEN c.disabled THEN '；持残疾证' ELSE '' END ||
               CASE WHEN o.person_id IS NOT NULL THEN '；考勤显示开学时未返校' ELSE '' END"""


def dropout_list(t: BaseTables, e: Episodes, w: Who) -> pd.DataFrame:
    """Comparison 2: one row per run of absence, with the school, its township and county, the
    grade, the persuasion ledger's case if one was opened (the case detected nearest the run's
    start, then the earliest: detection date, the last of the four steps taken, outcome) and
    the evidence.

    Parameters
    ----------
    t : the base tables.
    e : the runs of absence.
    w : the persons' names and masked IDs.

    Returns
    -------
    pandas.DataFrame
        ``term``, county, township, school, ``responsible_unit``, ``category`` (辍学 or
        疑似辍学), the child, ``first_month``, ``last_month``, ``days_absent``,
        ``return_month``, ``returned``, ``open_until``, ``evidence`` and the ledger's case.

    Examples
    --------
    >>> from analysis.engine import connect
    >>> from analysis.link import absence_episodes, base_tables
    >>> con = connect()
    >>> t = base_tables(con, prefecture)
    >>> e = absence_episodes(t)
    >>> l2 = dropout_list(t, e, who(t, f"SELECT person_id FROM {e.episodes}"))
    >>> len(l2) == len(e.frame), sorted(l2["category"].unique())
    (True, ['疑似辍学', '辍学'])
    >>> con.close()
    """
    return t.con.execute(
        f"""WITH x AS (SELECT *, term_of(first_month) AS term FROM {e.episodes}),
        m AS (SELECT x.person_id, x.first_month,
                     arg_min(l.detected, (abs(datediff('day', x.first_month, l.detected)),
                                          l.detected)) AS case_detected,
                     arg_min(CASE WHEN l.step4 IS NOT NULL THEN '4 申请法院强制执行'
                                  WHEN l.step3 IS NOT NULL THEN '3 行政处罚'
                                  WHEN l.step2 IS NOT NULL THEN '2 责令改正'
                                  WHEN l.step1 IS NOT NULL THEN '1 劝返教育' END,
                             (abs(datediff('day', x.first_month, l.detected)), l.detected,
                              l.step4, l.step3, l.step2, l.step1)) AS case_step,
                     arg_min(l.outcome, (abs(datediff('day', x.first_month, l.detected)),
                                         l.detected, l.outcome)) AS case_outcome
              FROM x JOIN {t.ledger} l ON l.person_id = x.person_id
                   AND l.detected BETWEEN x.first_month - INTERVAL 31 DAY
                       AND coalesce(x.return_month, DATE '9999-12-31') + INTERVAL 31 DAY
              GROUP BY ALL)
        SELECT x.term, x.county_code, s.county, s.school_township AS township, x.school_code,
               s.school_name,
               s.school_name || '；' || coalesce(s.school_township || '人民政府', '')
                 AS responsible_unit,
               CASE x.kind WHEN 'dropout' THEN '辍学' ELSE '疑似辍学' END AS category,
               x.person_id, w.name, w.sex, w.birth_date, w.id_masked, x.grade,
               x.first_month, x.last_month, x.days AS days_absent, x.return_month,
               CASE WHEN x.return_month IS NOT NULL THEN '已返校'
                    WHEN x.open_until <= (SELECT max(month) FROM {t.am})
                      THEN '未返校（超出义务教育年限）'
                    ELSE '未返校' END AS returned, x.open_until,
               x.evidence, m.case_detected, m.case_step, m.case_outcome
        FROM x LEFT JOIN {t.schools} s USING (school_code)
        LEFT JOIN {w.table} w USING (person_id)
        LEFT JOIN m ON m.person_id = x.person_id AND m.first_month = x.first_month
        ORDER BY x.term, x.county_code, s.school_township, x.school_code, w.name,
                 w.birth_date, x.first_month, x.person_id"""
    ).df()


def poverty_list(
    t: BaseTables,
    e: Episodes,
    w: Who,
    not_enrolled: pd.DataFrame,
    dropouts: pd.DataFrame,
    rules: Rules = DEFAULT_RULES,
) -> pd.DataFrame:
    """Comparison 3: per school year, the children of poverty-registered households (registered
    by that year; lifted or not) who were out of school: not enrolled at the census
    (comparison 1, out-of-school categories) or in a dropout run of comparison 2 in which the
    child missed more than a school week of that year. A child on both lists is listed once:
    a reason other than 辍学 first, then list 1's row; the evidence of both, list 1's first.

    Parameters
    ----------
    t, e, w : the base tables, the runs of absence, the persons' names.
    not_enrolled, dropouts : the frames of comparisons 1 and 2.
    rules : the suspected-dropout threshold (``suspected_days``).

    Returns
    -------
    pandas.DataFrame
        One row per school year and child: place, school, ``reason``, the child,
        ``poverty_status`` (建档立卡贫困户 or 已脱贫户), the registry's years and the evidence.

    Examples
    --------
    >>> import pandas as pd
    >>> from analysis.engine import connect
    >>> from analysis.link import absence_episodes, base_tables
    >>> con = connect()
    >>> t = base_tables(con, prefecture)
    >>> e = absence_episodes(t)
    >>> l2 = pd.read_parquet(prefecture.check("dropouts"))
    >>> l1 = pd.read_parquet(prefecture.check("not_enrolled"))
    >>> w = who(t, f"SELECT person_id FROM {e.episodes} UNION SELECT person_id FROM {t.hk}")
    >>> l3 = poverty_list(t, e, w, l1, l2)
    >>> bool(l3["evidence"].str.contains("建档立卡").all())
    True
    >>> con.close()
    """
    t.con.register("l1", not_enrolled[not_enrolled["category"].isin(OUT_OF_SCHOOL)])
    t.con.register("l2", dropouts[dropouts["category"] == "辍学"])
    try:
        return t.con.execute(
            f"""WITH out AS (
                SELECT 1 AS list, school_year, person_id, county_code, township, school_code,
                       school_name, responsible_unit, category AS reason, evidence
                FROM l1
                UNION ALL
                SELECT 2, y.school_year, l2.person_id, l2.county_code, l2.township,
                       l2.school_code, l2.school_name, l2.responsible_unit, '辍学' AS reason,
                       strftime(l2.first_month, '%Y-%m') || '起' || l2.returned || '，本学年缺课'
                         || y.days || '个教学日；' || l2.evidence AS evidence
                FROM l2 JOIN {e.episode_years} y USING (person_id, first_month)
                WHERE y.days > {rules.suspected_days}),
            ranked AS (
                SELECT *, row_number() OVER (
                    PARTITION BY school_year, person_id
                    ORDER BY reason = '辍学', list, reason, evidence) AS k,
                    string_agg(evidence, '；' ORDER BY list, evidence)
                      OVER (PARTITION BY school_year, person_id) AS all_evidence
                FROM out),
            one AS (SELECT * EXCLUDE (evidence, k, list) RENAME (all_evidence AS evidence)
                    FROM ranked WHERE k = 1)
            SELECT o.school_year, o.county_code, o.township, o.school_code, o.school_name,
                   o.responsible_unit, o.reason, o.person_id, w.name, w.sex, w.birth_date,
                   w.id_masked,
                   CASE WHEN p.lifted_year IS NOT NULL AND p.lifted_year <= o.school_year
                        THEN '已脱贫户（' || p.lifted_year || '年脱贫）' ELSE '建档立卡贫困户' END
                     AS poverty_status,
                   p.registered_year, p.lifted_year,
                   o.evidence || '；建档立卡' || p.registered_year || '年登记' AS evidence
            FROM one o JOIN {t.poverty} p ON p.person_id = o.person_id
                 AND p.registered_year <= o.school_year
            LEFT JOIN {w.table} w ON w.person_id = o.person_id
            ORDER BY o.school_year, o.county_code, o.township, w.name, w.birth_date,
                     o.person_id"""
        ).df()
    finally:
        t.con.unregister("l1")
        t.con.unregister("l2")
