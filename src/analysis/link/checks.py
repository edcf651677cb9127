"""The three comparisons (三比对) and each child's status timeline, from the linked registries.

Every list row says who must act (county, township, school, the responsible unit), why the
child is on the list and on which records that rests. Children are persons of the index
(:mod:`analysis.link.index`); names are shown as the records give them most often and ID
numbers masked (``530402********1234``).

1. **Household registration vs student registry** (:func:`not_enrolled_list`), per school
   year, from the autumn census (:mod:`analysis.link.census`): every resident child of
   compulsory-school age (6-14 on 31 August) who is not in school on the census date, with
   its ``category``:

   * ``失学`` (not enrolled): no registry record anywhere in the prefecture, ever, up to the
     census; the township and village must find the child and enrol it;
   * ``残疾缓学`` (deferred for disability): the same, for a child with a disability
     certificate: a case for home teaching (送教上门) or the county's expert panel;
   * ``辍学`` (dropout): in the registry, but marked 辍学 or out by the attendance record:
     see comparison 2;
   * ``休学`` (suspension), ``已毕业`` (finished grade 9 before 15), ``转出`` (transferred out
     of the prefecture: enrolled elsewhere), ``已离校`` (in the registry before, not now, no
     reason on record).

   Children living outside the prefecture with their parents (household-check notes
   随父母外出, 随父母在外省就读) are not resident: they are not on the list, but their count
   per county is reported with the lists' counts (category ``随父母在外``), as the practice
   requires them to be separated, not forgotten.
2. **Student registry vs attendance** (:func:`absence_episodes`): the monthly attendance of
   every pupil is read as runs of unexcused absence. A month counts as *out* when the pupil
   missed every school day but at most one without excuse (:attr:`Rules.out_present_days`),
   or three quarters of them with no day of leave (:attr:`Rules.out_share`); a run is the out months with the month before (the days missed at its end; across
   the winter or summer break only if a school week was missed, else the pupil left during
   the break) and the month of return (the days missed at its start). Leave
   (病假, 事假) is never absence, and a transfer is not either: the pupil's rows continue at
   the new school. Per run:

   * **suspected dropout (疑似辍学)**: more than :attr:`Rules.suspected_days` school days
     missed without excuse (one school week);
   * **dropout (辍学)**: more than :attr:`Rules.dropout_days` (about one month of school days)
     and not back by then; a pupil the registry marks 辍学 is a dropout whatever the
     attendance shows;
   * **return (返校)**: the first later month the pupil was present.

   Scattered absences (a day here and there, summing past a week in a month) are not runs:
   they belong to the risk model (issue 5), not to this list.
3. **Attending students vs the poverty registry** (:func:`poverty_list`): children of
   poverty-registered households (建档立卡, including households since lifted out,
   已脱贫) who were out of school in the school year: on list 1 as not enrolled, or in a
   dropout run of list 2 in which they missed more than a school week of that year.

:func:`status_timeline` gives each child's status in each term (在读, 疑似辍学, 辍学, 返校,
休学, 转出, 送教上门, 未入学, 已毕业 ...), the history an official reads before a visit.

The thresholds are parameters (:class:`Rules`), because local documents differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

#: File names of the lists under ``data/processed/checks/``.
LISTS = {
    "not_enrolled": "1_not_enrolled.parquet",
    "dropouts": "2_dropouts.parquet",
    "poverty": "3_poverty_out_of_school.parquet",
    "timeline": "status_timeline.parquet",
}


@dataclass(frozen=True)
class Rules:
    """Thresholds of the monitoring rules, in school days of unexcused absence.

    ``suspected_days``: a run longer than this is a suspected dropout (one school week: 5).
    ``dropout_days``: a run longer than this is a dropout (one month of school: 20 days;
    months have 16-23 school days). ``out_present_days``: a month with unexcused absence
    and at most this many days present is a month *out* (1: a pupil who left on the
    second day, or came once to collect books, is out; chosen on the small prefecture,
    where 0 missed pupils back for a day and 2 let chronic absentees in); ``out_share``: or
    at least this share of the month's school days missed without excuse and none on
    leave. ``school_age``: the compulsory-school ages (completed
    years on 31 August) of comparison 1.
    """

    suspected_days: int = 5
    dropout_days: int = 20
    out_present_days: int = 1
    out_share: float = 0.75
    school_age: tuple[int, int] = (6, 14)


#: The thresholds of :class:`Rules` as the bureau's monitoring rules state them.
DEFAULT_RULES = Rules()


def _term_sql(month: str) -> str:
    """The term label ('2019-1' autumn, '2019-2' spring) of a month date expression."""
    return (
        f"CASE WHEN month({month}) >= 9 THEN year({month}) || '-1' "
        f"WHEN month({month}) = 1 THEN (year({month}) - 1) || '-1' "
        f"ELSE (year({month}) - 1) || '-2' END"
    )


def _mask_sql(col: str) -> str:
    return (
        f"CASE WHEN length({col}) = 18 THEN left({col}, 6) || '********' || right({col}, 4) "
        f"WHEN {col} IS NOT NULL THEN left({col}, 6) || '****' END"
    )


class _Tables:
    """The clean tables of ``interim`` joined to the person index, as DuckDB SQL."""

    def __init__(self, interim: Path, index: Path):
        self.interim, self.index = Path(interim), Path(index)

    def has(self, kind: str) -> bool:
        return (self.interim / f"{kind}.parquet").exists()

    def joined(self, kind: str, columns: str, alias: str = "x") -> str:
        return (
            f"SELECT i.person_id, {columns} "
            f"FROM read_parquet('{self.interim / kind}.parquet/*.parquet') {alias} "
            f"JOIN read_parquet('{self.index}') i ON i.kind = '{kind}' "
            f"AND i.source_file = {alias}.source_file AND i.source_sheet = {alias}.source_sheet "
            f"AND i.source_row = {alias}.source_row"
        )

    def ref(self, kind: str) -> str:
        return f"(SELECT * FROM read_parquet('{self.interim / kind}.parquet/*.parquet'))"


def load_base_tables(con, interim: Path, index: Path) -> None:
    """Create the tables every comparison reads, in ``con``:

    * ``xj`` and ``hk``: the registry's and the household check's rows with their person;
    * ``reg``: one row per person and registry term (the snapshot two weeks into the term):
      status, study mode, grade, school, county, entry year;
    * ``am``: one row per person and attendance month: days required, present, on leave
      (``leave``, of which ``sick`` and ``pers``onal), unexcused (``unx``), and the school;
    * ``disabled``: the persons holding a disability certificate;
    * ``schools``: the roster (school code, name, county, township);
    * ``ledger``: the persuasion ledger's cases (劝返复学台账) by person, if there is one;
    * ``poverty``: per person in the poverty registry, the year the household was
      registered and the year it was lifted out (null if not yet).
    """
    t = _Tables(interim, index)
    con.execute(
        f"""CREATE OR REPLACE TABLE schools AS
        SELECT school_code, any_value(school_name ORDER BY school_name) AS school_name,
               any_value(county_code ORDER BY county_code) AS county_code,
               any_value(county ORDER BY county) AS county,
               any_value(township ORDER BY township) AS school_township
        FROM {t.ref("schools")} GROUP BY school_code"""
    )
    registry = t.joined(
        "xueji",
        "regexp_extract(x.source_file, '(\\d{4}-[12])\\.', 1) AS term, x.status, "
        "x.study_mode, x.grade, x.school_code, year(x.entry_date) AS entry_year, "
        "x.migrant = '是' AS migrant, x.name, x.sex, x.birth_date, x.id_number",
    )
    con.execute(f"CREATE OR REPLACE TABLE xj AS {registry}")
    household = t.joined(
        "hukou",
        "try_cast(regexp_extract(x.source_file, '(\\d{4})年', 1) AS INTEGER) AS year, "
        "regexp_extract(x.source_file, '(^|/)(\\d{6})_', 2) AS county_code, x.note, "
        "x.name, x.sex, x.birth_date, x.id_number, x.township, x.village",
    )
    con.execute(f"CREATE OR REPLACE TABLE hk AS {household}")
    # A transferred pupil can be listed by the old school too that term (as 在读): the row
    # that says most wins (辍学 > 休学 > 转出 > 在读), then the school code, for determinism.
    con.execute(
        """CREATE OR REPLACE TABLE reg AS
        WITH x AS (
            SELECT *, (CASE status WHEN '辍学' THEN 4 WHEN '休学' THEN 3 WHEN '转出' THEN 2
                       ELSE 1 END, school_code) AS says
            FROM xj WHERE term <> '')
        SELECT person_id, term, arg_max(status, says) AS status,
               arg_max(study_mode, says) AS study_mode, arg_max(school_code, says) AS school_code,
               max(grade) AS grade, min(entry_year) AS entry_year, bool_or(migrant) AS migrant
        FROM x GROUP BY person_id, term"""
    )
    con.execute(
        """CREATE OR REPLACE TABLE reg AS
        SELECT r.*, s.county_code, s.school_name, s.school_township
        FROM reg r LEFT JOIN schools s USING (school_code)"""
    )
    if t.has("attendance"):
        attendance = t.joined(
            "attendance",
            "x.month, x.school_code, x.days_required, x.days_present, "
            "coalesce(x.sick_leave, 0) AS sick, coalesce(x.personal_leave, 0) AS pers, "
            "x.unexcused",
        )
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE am_rows AS
            SELECT person_id, month, school_code, days_required::INTEGER AS req,
                   days_present::INTEGER AS pres, (sick + pers)::INTEGER AS leave,
                   unexcused::INTEGER AS unx, sick::INTEGER AS sick, pers::INTEGER AS pers
            FROM ({attendance}) WHERE month IS NOT NULL"""
        )
        # A pupil has one row a month, unless two schools both sent one (a transfer in
        # mid-month): summing 12 million rows costs more than looking for such pairs.
        twice = con.execute(
            "SELECT count(*) FROM (SELECT 1 FROM am_rows GROUP BY person_id, month "
            "HAVING count(*) > 1)"
        ).fetchall()[0][0]
        con.execute(
            "CREATE OR REPLACE TABLE am AS SELECT * FROM am_rows"
            if not twice
            else """CREATE OR REPLACE TABLE am AS
            SELECT person_id, month, arg_max(school_code, req) AS school_code,
                   sum(req)::INTEGER AS req, sum(pres)::INTEGER AS pres,
                   sum(leave)::INTEGER AS leave, sum(unx)::INTEGER AS unx,
                   sum(sick)::INTEGER AS sick, sum(pers)::INTEGER AS pers
            FROM am_rows GROUP BY person_id, month"""
        )
        con.execute("DROP TABLE am_rows")
    else:
        con.execute(
            "CREATE OR REPLACE TABLE am (person_id VARCHAR, month DATE, school_code VARCHAR, "
            "req INTEGER, pres INTEGER, leave INTEGER, unx INTEGER, sick INTEGER, pers INTEGER)"
        )
    if t.has("persuasion"):
        ledger = t.joined(
            "persuasion",
            "x.detected, x.step1, x.step2, x.step3, x.step4, x.return_date, x.outcome",
        )
        con.execute(f"CREATE OR REPLACE TABLE ledger AS {ledger}")
    if t.has("poverty"):
        members = t.joined("poverty", "x.registered_year, x.lifted_year")
        con.execute(
            f"""CREATE OR REPLACE TABLE poverty AS
            SELECT person_id, min(registered_year) AS registered_year,
                   max(lifted_year) AS lifted_year
            FROM ({members}) WHERE registered_year IS NOT NULL GROUP BY person_id"""
        )
    else:
        con.execute(
            "CREATE OR REPLACE TABLE poverty (person_id VARCHAR, registered_year INTEGER, "
            "lifted_year INTEGER)"
        )
    if t.has("disability"):
        con.execute(
            f"CREATE OR REPLACE TABLE disabled AS SELECT DISTINCT person_id FROM "
            f"({t.joined('disability', 'x.cert_no')})"
        )
    else:
        con.execute("CREATE OR REPLACE TABLE disabled (person_id VARCHAR)")


def _who(con, persons: str) -> None:
    """The ``who`` table for the persons of ``persons`` (an SQL query of ``person_id``):
    the name, sex and birth date the records give most often, the masked ID, and the
    household check's township and village of the latest year."""
    masked = _mask_sql("mode(id_number ORDER BY id_number) FILTER (WHERE id_number IS NOT NULL)")
    con.execute(
        f"""CREATE OR REPLACE TABLE who AS
        WITH p AS ({persons}),
        r AS (SELECT person_id, name, sex, birth_date, id_number, township, village, year
              FROM hk SEMI JOIN p USING (person_id)
              UNION ALL
              SELECT person_id, name, sex, birth_date, id_number, NULL, NULL, NULL
              FROM xj SEMI JOIN p USING (person_id))
        SELECT person_id,
               mode(name ORDER BY name) FILTER (WHERE name IS NOT NULL) AS name,
               mode(sex ORDER BY sex) FILTER (WHERE sex IS NOT NULL) AS sex,
               mode(birth_date ORDER BY birth_date)
                 FILTER (WHERE birth_date IS NOT NULL) AS birth_date,
               {masked} AS id_masked,
               arg_max(township, year) FILTER (WHERE township IS NOT NULL) AS township,
               arg_max(village, year) FILTER (WHERE village IS NOT NULL) AS village
        FROM r GROUP BY person_id"""
    )


def _out_month_sql(rules: Rules) -> str:
    """SQL (over a row of ``am``) for a month *out*: every school day but at most
    ``out_present_days`` missed without excuse, or at least ``out_share`` of them with no
    day of leave (a pupil on leave is in touch with the school; a chronic absentee mixes
    leave with truancy). Chosen on the yuxi prefecture against the truth: the first
    condition alone missed 2.5 % of the dropouts, adding three quarters without the leave
    condition listed 2.3 % wrongly (see the note of issue 4)."""
    share = int(round(100 * rules.out_share))
    return (
        f"(unx > 0 AND (unx >= req - {rules.out_present_days} "
        f"OR (unx * 100 >= req * {share} AND leave = 0)))"
    )


def absence_episodes(con, rules: Rules = Rules()) -> pd.DataFrame:
    """Runs of unexcused absence from the ``am`` table (see the module docstring, point 2),
    one row per run: person, school and county of its first month, first and last month,
    school days missed without excuse (``days``), whole months out, the return month
    (null if the pupil never came back in the records), the grade, ``open_until`` (the
    1 August after the pupil's class finishes grade 9: a dropout not back by then has left
    compulsory education, 超出义务教育年限, and its school days stop counting) and
    ``kind`` ('dropout' or 'suspected'). Registry-marked dropouts (辍学) without such a run are added with
    ``days`` null and the evidence '学籍标注辍学'."""
    s, d = rules.suspected_days, rules.dropout_days
    out = _out_month_sql(rules)
    con.execute(
        f"""CREATE OR REPLACE TABLE runs AS
        WITH heavy AS (SELECT DISTINCT person_id FROM am WHERE unx >= {s}),
        nb AS (
            SELECT *, greatest(coalesce(lag(unx) OVER w, 0), coalesce(lead(unx) OVER w, 0))
                        AS unx_nb
            FROM am SEMI JOIN heavy USING (person_id)
            WINDOW w AS (PARTITION BY person_id ORDER BY month)),
        cand AS (SELECT DISTINCT person_id FROM nb WHERE {out}),
        f AS (
            SELECT *, {out} AS out_m
            FROM nb SEMI JOIN cand USING (person_id)),
        n AS (
            SELECT *,
                   coalesce(lag(out_m) OVER w, false) AS prev_out,
                   coalesce(lead(out_m) OVER w, false) AS next_out,
                   date_diff('month', month, lead(month) OVER w) AS to_next
            FROM f WINDOW w AS (PARTITION BY person_id ORDER BY month)),
        o AS (
            SELECT *, out_m OR (unx > 0 AND prev_out)
                      OR (unx > 0 AND next_out AND (to_next = 1 OR unx >= {s})) AS in_run
            FROM n),
        g AS (
            SELECT *, sum(CASE WHEN in_run AND NOT coalesce(lag_in, false) THEN 1 ELSE 0 END)
                        OVER (PARTITION BY person_id ORDER BY month) AS run_no
            FROM (SELECT *, lag(in_run) OVER (PARTITION BY person_id ORDER BY month) AS lag_in
                  FROM o))
        SELECT person_id, run_no, min(month) AS first_month, max(month) AS last_month,
               arg_min(school_code, month) AS school_code,
               arg_max(school_code, month) AS arg_school, sum(unx)::INTEGER AS days,
               count(*) FILTER (WHERE out_m)::INTEGER AS months_out,
               arg_max(pres, month) AS last_pres,
               string_agg(strftime(month, '%Y-%m') || ' 旷课' || unx || '/' || req || '天',
                          '；' ORDER BY month) AS evidence
        FROM g WHERE in_run GROUP BY person_id, run_no
        HAVING sum(unx) > {s}"""
    )
    # A pupil out for good has no rows once the school marks it 辍学 (or the records end):
    # the school days of its school between the run and the return (or the end of the
    # records) were missed too. The school's calendar is the most days any pupil of it was
    # required to attend that month.
    con.execute(
        f"""CREATE OR REPLACE TABLE episodes AS
        WITH cal AS (SELECT school_code, month, max(req) AS req FROM am GROUP BY ALL),
        r AS (
            SELECT r.*,
                   CASE WHEN r.last_pres > 0 THEN r.last_month
                        ELSE (SELECT min(a.month) FROM am a WHERE a.person_id = r.person_id
                              AND a.month > r.last_month AND a.pres > 0) END AS return_month
            FROM runs r),
        gr AS (
            SELECT r.person_id, r.run_no,
                   (SELECT arg_max(x.grade, x.term) FROM reg x WHERE x.person_id = r.person_id
                      AND x.term <= {_term_sql("r.first_month")}) AS grade
            FROM r),
        r2 AS (
            SELECT r.*, gr.grade,
                   CASE WHEN gr.grade IS NULL THEN DATE '9999-12-31'
                        ELSE make_date(year(r.first_month) - (month(r.first_month) < 9)::INTEGER
                                       + 10 - gr.grade, 8, 1) END AS open_until
            FROM r JOIN gr USING (person_id, run_no)),
        u AS (
            SELECT r.person_id, r.run_no, coalesce(sum(c.req), 0)::INTEGER AS unseen
            FROM r2 r LEFT JOIN cal c ON c.school_code = arg_school
                 AND c.month > r.first_month AND c.month < r.open_until
                 AND (r.return_month IS NULL OR c.month < r.return_month)
                 AND NOT EXISTS (SELECT 1 FROM am a WHERE a.person_id = r.person_id
                                 AND a.month = c.month)
            GROUP BY ALL)
        SELECT r.person_id, r.first_month, r.last_month, r.school_code, s.county_code,
               r.days + u.unseen AS days, r.months_out, r.return_month, r.grade, r.open_until,
               CASE WHEN r.days + u.unseen > {d} THEN 'dropout' ELSE 'suspected' END AS kind,
               r.evidence || CASE WHEN u.unseen > 0 THEN '；此后无考勤记录（' || u.unseen
                   || '个教学日）' ELSE '' END AS evidence
        FROM r2 r JOIN u USING (person_id, run_no) LEFT JOIN schools s USING (school_code)"""
    )
    # Registry-marked dropouts the attendance does not show (rows stop once a school marks
    # the pupil; a July dropout is marked at the autumn snapshot before any September row).
    con.execute(
        """INSERT INTO episodes
        WITH m AS (
            SELECT person_id, term, school_code, county_code, grade,
                   make_date(CAST(left(term, 4) AS INTEGER) + (right(term, 1) = '2')::INTEGER,
                             CASE WHEN right(term, 1) = '1' THEN 9 ELSE 3 END, 1) AS month
            FROM reg WHERE status = '辍学'),
        firsts AS (
            SELECT m.* FROM m WHERE NOT EXISTS (
                SELECT 1 FROM episodes e WHERE e.person_id = m.person_id
                  AND e.first_month <= m.month
                  AND (e.return_month IS NULL OR e.return_month >= m.month))),
        k AS (SELECT *, month - lag(month) OVER (PARTITION BY person_id ORDER BY month) AS gap
              FROM firsts)
        SELECT person_id, month, month, school_code, county_code, NULL, NULL,
               (SELECT min(a.month) FROM am a WHERE a.person_id = k.person_id
                  AND a.month > k.month AND a.pres > 0),
               grade, make_date(year(month) - (month(month) < 9)::INTEGER + 10 - grade, 8, 1),
               'dropout', '学籍标注辍学（' || term || '学期）'
        FROM k WHERE gap IS NULL OR gap > 200"""
    )
    # School days out per school year of each run (the months of the run and of the return
    # from the attendance, the months without rows from the school's calendar), so a run
    # counts in a school year only if the pupil missed school in it: not for a July
    # dropout's last days of term, nor for a return on the first day of September.
    con.execute(
        """CREATE OR REPLACE TABLE episode_years AS
        WITH cal AS (SELECT school_code, month, max(req) AS req FROM am GROUP BY ALL),
        e AS (SELECT person_id, first_month, school_code,
                     coalesce(return_month, open_until) AS until FROM episodes),
        seen AS (
            SELECT e.person_id, e.first_month, a.month, a.unx AS days
            FROM e JOIN am a ON a.person_id = e.person_id
                 AND a.month >= e.first_month AND a.month <= e.until),
        unseen AS (
            SELECT e.person_id, e.first_month, c.month, c.req AS days
            FROM e JOIN cal c ON c.school_code = e.school_code
                 AND c.month >= e.first_month AND c.month < e.until
            ANTI JOIN am a ON a.person_id = e.person_id AND a.month = c.month)
        SELECT person_id, first_month,
               year(month) - (month(month) < 9)::INTEGER AS school_year,
               sum(days)::INTEGER AS days
        FROM (SELECT * FROM seen UNION ALL SELECT * FROM unseen)
        GROUP BY ALL"""
    )
    return con.execute(
        f"""SELECT *, {_term_sql("first_month")} AS term,
               CASE WHEN return_month IS NOT NULL THEN {_term_sql("return_month")} END
                 AS return_term
        FROM episodes ORDER BY person_id, first_month"""
    ).df()


def _autumn(year: str) -> str:
    """The registry term of the census of school year ``year`` (an SQL expression)."""
    return f"({year}) || '-1'"


def not_enrolled_list(con, census: pd.DataFrame, rules: Rules = Rules()) -> pd.DataFrame:
    """Comparison 1 (see the module docstring): one row per school year and resident child
    of compulsory-school age not in school on the census date, with its category.

    ``census`` is :func:`analysis.link.census.census_frame`'s frame. Needs the tables of
    :func:`load_base_tables` and :func:`absence_episodes` in ``con``."""
    lo, hi = rules.school_age
    con.register("census_df", census)
    return con.execute(
        f"""WITH c AS (
            SELECT * FROM census_df WHERE resident AND NOT enrolled AND age BETWEEN {lo} AND {hi}),
        cur AS (SELECT c.year, c.person_id, r.status, r.school_code, r.school_name,
                       r.school_township, r.grade
                FROM c JOIN reg r ON r.person_id = c.person_id
                     AND r.term = {_autumn("c.year")}),
        prior AS (SELECT c.year, c.person_id,
                         arg_max(r.status, r.term) AS status, arg_max(r.grade, r.term) AS grade,
                         arg_max(r.term, r.term) AS term,
                         arg_max(r.school_code, r.term) AS school_code,
                         arg_max(r.school_name, r.term) AS school_name,
                         arg_max(r.school_township, r.term) AS school_township
                  FROM c JOIN reg r ON r.person_id = c.person_id
                       AND r.term < {_autumn("c.year")}
                  GROUP BY ALL),
        out AS (SELECT DISTINCT c.year, c.person_id FROM c JOIN episodes e
                  ON e.person_id = c.person_id AND e.kind = 'dropout'
                 AND e.first_month < make_date(c.year, 9, 15)
                 AND (e.return_month IS NULL OR e.return_month >= make_date(c.year, 9, 1)))
        SELECT c.year AS school_year, c.county_code, w.township, w.village,
               coalesce(cur.school_code, p.school_code) AS school_code,
               coalesce(cur.school_name, p.school_name) AS school_name,
               CASE
                 WHEN cur.status IN ('辍学', '在读') OR o.person_id IS NOT NULL THEN '辍学'
                 WHEN cur.status = '休学' THEN '休学'
                 WHEN cur.status = '转出' THEN '转出'
                 WHEN p.person_id IS NULL AND c.disabled THEN '残疾缓学'
                 WHEN p.person_id IS NULL THEN '失学'
                 WHEN p.status = '转出' THEN '转出'
                 WHEN p.status = '在读' AND p.grade = 9 AND right(p.term, 1) = '2' THEN '已毕业'
                 WHEN p.status = '辍学' THEN '辍学'
                 ELSE '已离校'
               END AS category,
               c.person_id, w.name, w.sex, w.birth_date, w.id_masked, c.age, c.disabled,
               CASE WHEN cur.status IS NOT NULL
                      THEN c.year || '年秋季学籍：' || cur.status || '（' || cur.school_name || '）'
                    WHEN p.person_id IS NOT NULL
                      THEN '最近学籍：' || p.term || '学期' || p.status || '（' || p.school_name
                           || '，' || p.grade || '年级）；' || c.year || '年秋季学籍无记录'
                    ELSE '全市学籍' || c.year || '年秋季及以前均无记录'
               END || '；' || c.year || '年户籍核查在册' ||
               CASE WHEN c.disabled THEN '；持残疾证' ELSE '' END ||
               CASE WHEN o.person_id IS NOT NULL THEN '；考勤显示开学时未返校' ELSE '' END
                 AS evidence,
               coalesce(w.township || '人民政府', '') ||
               CASE WHEN w.village IS NOT NULL THEN '（' || w.village || '）' ELSE '' END ||
               CASE WHEN coalesce(cur.school_name, p.school_name) IS NOT NULL
                    THEN '；' || coalesce(cur.school_name, p.school_name) ELSE '' END
                 AS responsible_unit
        FROM c LEFT JOIN cur USING (year, person_id)
        LEFT JOIN prior p USING (year, person_id)
        LEFT JOIN out o USING (year, person_id)
        LEFT JOIN who w USING (person_id)
        ORDER BY school_year, county_code, township, category, person_id"""
    ).df()


#: Categories of comparison 1 that are out of school (the others are enrolled elsewhere,
#: suspended, or finished).
OUT_OF_SCHOOL = ("失学", "残疾缓学", "辍学", "已离校")


def dropout_list(con) -> pd.DataFrame:
    """Comparison 2 (see the module docstring): one row per run of absence, with the school,
    its township and county, the grade, the persuasion ledger's case if one was opened
    (detection date, the last of the four steps taken, outcome) and the evidence.
    Needs the tables of :func:`load_base_tables` and :func:`absence_episodes`."""
    ledger = (
        "SELECT person_id, detected, step1, step2, step3, step4, return_date, outcome FROM ledger"
        if con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'ledger'"
        ).fetchall()[0][0]
        else "SELECT NULL::VARCHAR AS person_id, NULL::DATE AS detected, NULL::DATE AS step1, "
        "NULL::DATE AS step2, NULL::DATE AS step3, NULL::DATE AS step4, "
        "NULL::DATE AS return_date, NULL::VARCHAR AS outcome WHERE false"
    )
    return con.execute(
        f"""WITH e AS (SELECT *, {_term_sql("first_month")} AS term FROM episodes),
        l AS ({ledger}),
        m AS (SELECT e.person_id, e.first_month,
                     arg_min(l.detected, abs(datediff('day', e.first_month, l.detected)))
                       AS case_detected,
                     arg_min(CASE WHEN l.step4 IS NOT NULL THEN '4 申请法院强制执行'
                                  WHEN l.step3 IS NOT NULL THEN '3 行政处罚'
                                  WHEN l.step2 IS NOT NULL THEN '2 责令改正'
                                  WHEN l.step1 IS NOT NULL THEN '1 劝返教育' END,
                             abs(datediff('day', e.first_month, l.detected))) AS case_step,
                     arg_min(l.outcome, abs(datediff('day', e.first_month, l.detected)))
                       AS case_outcome
              FROM e JOIN l ON l.person_id = e.person_id
                   AND l.detected BETWEEN e.first_month - INTERVAL 31 DAY
                       AND coalesce(e.return_month, DATE '9999-12-31') + INTERVAL 31 DAY
              GROUP BY ALL)
        SELECT e.term, e.county_code, s.county, s.school_township AS township, e.school_code,
               s.school_name,
               s.school_name || '；' || coalesce(s.school_township || '人民政府', '')
                 AS responsible_unit,
               CASE e.kind WHEN 'dropout' THEN '辍学' ELSE '疑似辍学' END AS category,
               e.person_id, w.name, w.sex, w.birth_date, w.id_masked, e.grade,
               e.first_month, e.last_month, e.days AS days_absent, e.return_month,
               CASE WHEN e.return_month IS NOT NULL THEN '已返校'
                    WHEN e.open_until <= (SELECT max(month) FROM am)
                      THEN '未返校（超出义务教育年限）'
                    ELSE '未返校' END AS returned, e.open_until,
               e.evidence, m.case_detected, m.case_step, m.case_outcome
        FROM e LEFT JOIN schools s USING (school_code)
        LEFT JOIN who w USING (person_id)
        LEFT JOIN m ON m.person_id = e.person_id AND m.first_month = e.first_month
        ORDER BY e.term, e.county_code, s.school_township, e.school_code, e.person_id"""
    ).df()


def poverty_list(
    con, not_enrolled: pd.DataFrame, dropouts: pd.DataFrame, rules: Rules = DEFAULT_RULES
) -> pd.DataFrame:
    """Comparison 3 (see the module docstring): per school year, the children of
    poverty-registered households (registered by that year; lifted or not) who were out
    of school: not enrolled at the census (comparison 1, out-of-school categories) or in
    a dropout run of comparison 2 in which the child missed more than a school week of that
    year. Needs the ``poverty`` and ``episode_years`` tables."""
    suspected = rules.suspected_days
    con.register("l1", not_enrolled[not_enrolled["category"].isin(OUT_OF_SCHOOL)])
    con.register("l2", dropouts[dropouts["category"] == "辍学"])
    return con.execute(
        f"""WITH out AS (
            SELECT school_year, person_id, county_code, township, school_code, school_name,
                   responsible_unit, category AS reason, evidence
            FROM l1
            UNION ALL
            SELECT y.school_year, l2.person_id, l2.county_code, l2.township, l2.school_code,
                   l2.school_name, l2.responsible_unit, '辍学' AS reason,
                   strftime(l2.first_month, '%Y-%m') || '起' || l2.returned || '，本学年缺课'
                     || y.days || '个教学日；' || l2.evidence AS evidence
            FROM l2 JOIN episode_years y USING (person_id, first_month)
            WHERE y.days > {suspected}),
        one AS (SELECT school_year, person_id, arg_min(reason, reason = '辍学') AS reason,
                       arg_min(county_code, reason = '辍学') AS county_code,
                       arg_min(township, reason = '辍学') AS township,
                       arg_min(school_code, reason = '辍学') AS school_code,
                       arg_min(school_name, reason = '辍学') AS school_name,
                       arg_min(responsible_unit, reason = '辍学') AS responsible_unit,
                       string_agg(evidence, '；') AS evidence
                FROM out GROUP BY ALL)
        SELECT o.school_year, o.county_code, o.township, o.school_code, o.school_name,
               o.responsible_unit, o.reason, o.person_id, w.name, w.sex, w.birth_date,
               w.id_masked,
               CASE WHEN p.lifted_year IS NOT NULL AND p.lifted_year <= o.school_year
                    THEN '已脱贫户（' || p.lifted_year || '年脱贫）' ELSE '建档立卡贫困户' END
                 AS poverty_status,
               p.registered_year, p.lifted_year,
               o.evidence || '；建档立卡' || p.registered_year || '年登记' AS evidence
        FROM one o JOIN poverty p ON p.person_id = o.person_id
             AND p.registered_year <= o.school_year
        LEFT JOIN who w ON w.person_id = o.person_id
        ORDER BY o.school_year, o.county_code, o.township, o.person_id"""
    ).df()


def _term_bounds(term: str) -> tuple[str, str]:
    """SQL expressions of the first day of a term and of the one after it."""
    y = f"CAST(left({term}, 4) AS INTEGER)"
    return (
        f"CASE WHEN right({term}, 1) = '1' THEN make_date({y}, 9, 1) "
        f"ELSE make_date({y} + 1, 2, 1) END",
        f"CASE WHEN right({term}, 1) = '1' THEN make_date({y} + 1, 2, 1) "
        f"ELSE make_date({y} + 1, 9, 1) END",
    )


def status_timeline(con, not_enrolled: pd.DataFrame, frame: bool = True) -> pd.DataFrame | None:
    """Each child's status in each term it appears in (the registry, a run of absence, or
    comparison 1): 辍学 / 疑似辍学 while a run of absence lasts, 返校 in the term of the
    return, otherwise the registry's 在读 (送教上门 for home teaching), 休学, 转出 or 辍学,
    and for the autumn terms of children outside the registry the category of
    comparison 1. One row per person and term, with the school and county (also left in
    the table ``timeline`` of ``con``; returned as a frame only if ``frame``)."""
    start, end = _term_bounds("t.term")
    con.register("l1_all", not_enrolled)
    con.execute(
        f"""CREATE OR REPLACE TABLE timeline AS
        WITH t AS (SELECT DISTINCT term FROM reg),
        s AS (
            SELECT t.term, e.person_id, e.school_code, e.county_code,
                   CASE WHEN e.return_month >= {start} AND e.return_month < {end} THEN '返校'
                        WHEN e.kind = 'dropout' THEN '辍学' ELSE '疑似辍学' END AS status,
                   3 AS rank
            FROM episodes e JOIN t ON e.first_month < {end}
                 AND coalesce(e.return_month, e.open_until) >= {start}
            UNION ALL
            SELECT term, person_id, school_code, county_code,
                   CASE WHEN status = '在读' AND study_mode = '送教上门' THEN '送教上门'
                        ELSE status END,
                   CASE WHEN status = '辍学' THEN 3 ELSE 1 END
            FROM reg
            UNION ALL
            SELECT school_year || '-1', person_id, school_code, county_code, category, 2
            FROM l1_all WHERE category NOT IN ('辍学'))
        SELECT person_id, term, arg_max(status, rank) AS status,
               arg_max(school_code, rank) AS school_code,
               arg_max(county_code, rank) AS county_code
        FROM s GROUP BY person_id, term ORDER BY person_id, term"""
    )
    return con.execute("SELECT * FROM timeline").df() if frame else None


def monitoring_counts(dropouts: pd.DataFrame) -> pd.DataFrame:
    """Per term and county (and the prefecture, '5304'): suspected dropouts (every run of
    absence starts as one), dropouts (runs of more than a month) by the term the run
    began, and returns by the term of the return."""
    d = dropouts.assign(
        return_term=dropouts["return_month"].map(
            lambda m: (
                None
                if pd.isna(m)
                else f"{m.year}-1"
                if m.month >= 9
                else f"{m.year - 1}-1"
                if m.month == 1
                else f"{m.year - 1}-2"
            )
        )
    )
    began = d.groupby(["term", "county_code"]).agg(
        suspected=("person_id", "size"), dropouts=("category", lambda c: int((c == "辍学").sum()))
    )
    back = d.dropna(subset=["return_term"]).groupby(["return_term", "county_code"]).size()
    back.index = back.index.set_names(["term", "county_code"])
    out = began.join(back.rename("returns"), how="outer").fillna(0).astype(int).reset_index()
    pref = out.groupby("term")[["suspected", "dropouts", "returns"]].sum().reset_index()
    pref["county_code"] = "5304"
    return (
        pd.concat([out, pref], ignore_index=True)
        .sort_values(["term", "county_code"])
        .reset_index(drop=True)
    )


def consolidation_frame(con) -> tuple[pd.DataFrame, list[int]]:
    """The registry frame :func:`analysis.indicators.consolidation_rates` needs, from the
    registry snapshots: ``entry_year`` (the registry's 入学年月), ``graduated_year`` (in
    grade 9 as 在读 in the spring term of that year and not out of school at its end),
    ``member_<Y>`` (in the registry by the spring of ``Y`` and never transferred out by
    then: normal transfers leave the base, arrivals join it; dropouts stay in it) and
    ``county_code`` (of the last school). Also the graduation years the snapshots cover."""
    springs = [
        int(t[:4]) + 1
        for (t,) in con.execute(
            "SELECT DISTINCT term FROM reg WHERE right(term, 1) = '2' ORDER BY 1"
        ).fetchall()
    ]
    members = ", ".join(
        f"bool_or(term <= '{y - 1}-2') AND NOT bool_or(term <= '{y - 1}-2' AND status = '转出') "
        f"AS member_{y}"
        for y in springs
    )
    frame = con.execute(
        f"""WITH g AS (
            SELECT r.person_id, min(CAST(left(r.term, 4) AS INTEGER) + 1) AS graduated_year
            FROM reg r
            WHERE right(r.term, 1) = '2' AND r.grade = 9 AND r.status IN ('在读', '辍学')
              AND NOT EXISTS (
                SELECT 1 FROM episodes e WHERE e.person_id = r.person_id
                  AND e.kind = 'dropout'
                  AND e.first_month <= make_date(CAST(left(r.term, 4) AS INTEGER) + 1, 7, 1)
                  AND (e.return_month IS NULL OR e.return_month
                       > make_date(CAST(left(r.term, 4) AS INTEGER) + 1, 7, 1)))
            GROUP BY r.person_id)
        SELECT person_id, min(entry_year) AS entry_year,
               coalesce(any_value(g.graduated_year), 0) AS graduated_year,
               arg_max(county_code, term) AS county_code, {members}
        FROM reg LEFT JOIN g USING (person_id)
        WHERE entry_year IS NOT NULL GROUP BY person_id"""
    ).df()
    return frame, springs


@dataclass
class Checks:
    """The census, the comparisons' lists, the timeline and the counts (:func:`build_checks`)."""

    census: pd.DataFrame
    not_enrolled: pd.DataFrame
    dropouts: pd.DataFrame
    poverty: pd.DataFrame
    timeline: pd.DataFrame | None  # None when written to disk (status_timeline.parquet)
    monitoring: pd.DataFrame
    consolidation: pd.DataFrame


def build_checks(
    interim: Path, index: Path, out_dir: Path | None, rules: Rules = DEFAULT_RULES
) -> Checks:
    """The autumn census (:mod:`analysis.link.census`) and the three comparisons on the
    clean tables of ``interim`` linked by ``index``; the lists and the timeline are written
    to ``out_dir`` (``LISTS`` names the files; written to a temporary folder first, so a
    failure leaves the previous lists whole)."""
    from analysis.indicators import consolidation_rates
    from analysis.link.census import census_from_tables
    from analysis.link.linker import connect

    con = connect("4GB")
    try:
        load_base_tables(con, Path(interim), Path(index))
        census = census_from_tables(con)
        absence_episodes(con, rules)
        lo, hi = rules.school_age
        con.register("census_all", census)
        _who(
            con,
            "SELECT person_id FROM episodes UNION SELECT person_id FROM census_all "
            f"WHERE resident AND NOT enrolled AND age BETWEEN {lo} AND {hi}",
        )
        l1 = not_enrolled_list(con, census, rules)
        l2 = dropout_list(con)
        l3 = poverty_list(con, l1, l2, rules)
        timeline = status_timeline(con, l1, frame=out_dir is None)
        reg, years = consolidation_frame(con)
        checks = Checks(
            census, l1, l2, l3, timeline, monitoring_counts(l2), consolidation_rates(reg, years)
        )
        if out_dir is not None:
            _write_lists(con, checks, Path(out_dir))
    finally:
        con.close()
    return checks


def _write_lists(con, checks: Checks, out_dir: Path) -> None:
    """The lists to ``out_dir`` by way of a temporary folder; the timeline (millions of
    rows) straight from DuckDB."""
    import shutil

    tmp = out_dir.with_name(out_dir.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    for key, name in LISTS.items():
        if key == "timeline":
            con.execute(f"COPY timeline TO '{tmp / name}' (FORMAT parquet, COMPRESSION zstd)")
        else:
            getattr(checks, key).to_parquet(tmp / name, index=False, compression="zstd")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    tmp.replace(out_dir)
