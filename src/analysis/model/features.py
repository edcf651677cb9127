"""Features of each pupil as of a term's start, from facts dated before it, and the label.

One row per pupil and term ``T`` (``'2018-1'`` is the autumn term of school year 2018/19,
``'2018-2'`` its spring term). The *as-of date* ``s`` is the term's first day: 1 September
for an autumn term, 1 February for a spring term (the winter holiday; January's attendance
is known by then). A feature uses only facts dated before ``s``:

* attendance months before ``s`` (a month's totals are known when it ends);
* registry snapshots of earlier terms (a term's snapshot is taken two weeks into the term,
  so the one of ``T`` itself is *not* used: it may already mark a pupil who left in the
  first fortnight);
* persuasion-ledger cases detected before ``s``, with their return only if it came before;
* disability certificates issued before ``s``;
* the poverty registry's years: a household registered (or lifted out) in year ``Y`` counts
  from 1 January of ``Y``, the registry being yearly (the identification round of a year
  ends in its spring).

**Population.** The pupils of the previous term's registry (在读, not taught at home) who
are expected back: not those who finished grade 9 in spring, and not those already out at
``s`` (an open ledger case, or a last recorded month out of school). First-graders and
pupils arriving from outside the prefecture have no history and are not scored.

**Label.** The pupil drops out within the term: a run of the link stage's list 2
(:mod:`analysis.link.checks`), 辍学 or 疑似辍学, whose first month *out* (or, for a run with
no whole month out, its first month) falls in the term. Both kinds count: whether a child
who left is back within a month depends on the persuasion that followed, not on the risk
the child carried at the term's start (in 2019/20 the campaign returned most leavers within
weeks). The early-2020
closure is not absence: its months have no rows, and every attendance feature is a sum or
rate over the months that were recorded.

Feature units are school days, rates (0-1), years or counts, as their names say; the
descriptions in :data:`FEATURES` are the text an official reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from analysis.link.checks import DEFAULT_RULES, LISTS, Rules, _out_month_sql, _Tables

#: Each feature: (column, what it is, in the words of a report). Order is the model's.
FEATURES: dict[str, str] = {
    "unx_days_last_term": "上学期无故缺勤天数",
    "unx_rate_last_term": "上学期无故缺勤率",
    "unx_rate_year": "近一年无故缺勤率",
    "unx_rate_last_month": "最近一个月无故缺勤率",
    "unx_recent_weighted": "近期无故缺勤率（越近的月份权重越大）",
    "unx_rate_all": "入学以来无故缺勤率",
    "personal_recent_weighted": "近期事假率（越近的月份权重越大）",
    "unx_trend": "上学期末两个月缺勤率较此前的变化",
    "max_unx_month_year": "近一年单月最多无故缺勤天数",
    "months_unx3_year": "近一年无故缺勤3天以上的月数",
    "longest_unx_streak": "近一年连续有无故缺勤的最长月数",
    "sick_days_last_term": "上学期病假天数",
    "personal_days_last_term": "上学期事假天数",
    "months_recorded_year": "近一年有考勤记录的月数",
    "ever_week_out": "曾无故缺勤一周以上（疑似辍学）",
    "ever_month_out": "曾整月无故缺勤",
    "prior_cases": "既往劝返案件数",
    "returned_ever": "曾辍学后劝返复学",
    "years_since_return": "劝返复学后的年数",
    "grade": "年级",
    "spring": "春季学期",
    "age": "年龄",
    "age_for_grade": "超龄（岁）",
    "repeated_grade": "曾留级",
    "schools_attended": "就读过的学校数",
    "transferred_last_year": "近一年转过学",
    "boarding": "住校",
    "migrant": "随迁子女",
    "left_behind": "留守儿童",
    "disability": "残疾",
    "minority": "少数民族",
    "male": "男生",
    "poverty_now": "建档立卡贫困户（未脱贫）",
    "poverty_lifted": "已脱贫户",
    "years_since_lifted": "脱贫年数",
    "low_income": "低保户",
    "siblings_dropped": "兄弟姐妹曾辍学",
    "siblings_unx_rate": "兄弟姐妹上学期无故缺勤率",
    "school_out_rate": "本校近一年整月缺勤学生比例",
    "school_unx_rate": "本校上学期无故缺勤率",
    "county_out_rate": "本县近一年整月缺勤学生比例",
    "autonomous_county": "民族自治县",
    "video_check": "本县已实行到校视频核查",
    "boarding_subsidy": "享受提标后的建档立卡寄宿生补助",
}

#: The weight of a month in the "recent" rates falls by this factor per school month back
#: (a pupil's engagement carries over from month to month with about this persistence).
DECAY = 0.85

GROUPS = ["sex", "ethnicity", "poverty", "disability_group", "migrant_group", "county_code"]


@dataclass(frozen=True)
class Term:
    """A term: its label, first day (the as-of date) and the next term's first day."""

    label: str
    start: date
    end: date  # the next term's first day

    @property
    def autumn(self) -> bool:
        return self.label.endswith("-1")

    @property
    def last_month(self) -> date:
        """The first day of the term's last school month (January or July)."""
        return date(self.end.year, 1 if self.autumn else 7, 1)


def term_of(label: str) -> Term:
    """The :class:`Term` of a label like ``'2018-1'`` (autumn) or ``'2018-2'`` (spring)."""
    y, t = int(label[:4]), label[-1]
    if t == "1":
        return Term(label, date(y, 9, 1), date(y + 1, 2, 1))
    if t == "2":
        return Term(label, date(y + 1, 2, 1), date(y + 1, 9, 1))
    raise ValueError(f"not a term label: {label!r} (expected like '2018-1' or '2018-2')")


def previous_term(label: str) -> str:
    y, t = int(label[:4]), label[-1]
    return f"{y}-1" if t == "2" else f"{y - 1}-2"


def load_model_tables(
    con, interim: Path, index: Path, checks: Path, rules: Rules = DEFAULT_RULES
) -> None:
    """Create, in ``con``, the tables the features read (besides those of
    :func:`analysis.link.checks.load_base_tables`, which must be loaded first):

    * ``xattr``: per person and registry term, the registry's flags (left-behind,
      disability, minority, boarding, home teaching);
    * ``certs``: disability certificates with their issue date;
    * ``house``: each person's household (the household check's number);
    * ``povtype``: the persons of low-income (低保) poverty households;
    * ``drops``: the runs of list 2 (辍学 and 疑似辍学) with their first month out of school;
    * ``ledger`` (empty if there is none);
    * ``policy``: the county measures in force (视频核查, 寄宿生补助提标) with their start.
    """
    t = _Tables(Path(interim), Path(index))
    registry = t.joined(
        "xueji",
        "regexp_extract(x.source_file, '(\\d{4}-[12])\\.', 1) AS term, x.left_behind, "
        "x.disability, x.ethnicity, x.study_mode",
    )
    con.execute(
        f"""CREATE OR REPLACE TABLE xattr AS
        SELECT person_id, term, bool_or(left_behind = '是') AS left_behind,
               bool_or(coalesce(disability, '无') NOT IN ('无', '')) AS disability,
               bool_or(coalesce(ethnicity, '汉族') <> '汉族') AS minority,
               bool_or(study_mode = '住校') AS boarding,
               bool_or(study_mode = '送教上门') AS home
        FROM ({registry}) GROUP BY ALL"""
    )
    if t.has("disability"):
        con.execute(
            f"""CREATE OR REPLACE TABLE certs AS
            SELECT person_id, min(issued) AS issued
            FROM ({t.joined("disability", "x.issued")}) GROUP BY person_id"""
        )
    else:
        con.execute("CREATE OR REPLACE TABLE certs (person_id VARCHAR, issued DATE)")
    con.execute(
        f"""CREATE OR REPLACE TABLE house AS
        SELECT person_id, mode(household_no ORDER BY household_no) AS household_no
        FROM ({t.joined("hukou", "x.household_no")}) WHERE household_no IS NOT NULL
        GROUP BY person_id"""
    )
    if t.has("poverty"):
        con.execute(
            f"""CREATE OR REPLACE TABLE povtype AS
            SELECT DISTINCT person_id
            FROM ({t.joined("poverty", "x.poverty_type")}) WHERE poverty_type LIKE '%低保%'"""
        )
    else:
        con.execute("CREATE OR REPLACE TABLE povtype (person_id VARCHAR)")
    if not con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'ledger'"
    ).fetchall()[0][0]:
        con.execute(
            "CREATE TABLE ledger (person_id VARCHAR, detected DATE, return_date DATE, "
            "outcome VARCHAR)"
        )
    if t.has("policies"):
        con.execute(
            f"""CREATE OR REPLACE TABLE policy AS
            SELECT DISTINCT s.county_code, p.policy, p.adopted
            FROM {t.ref("policies")} p
            JOIN (SELECT DISTINCT county, county_code FROM schools) s ON s.county = p.county
            WHERE p.adopted IS NOT NULL"""
        )
    else:
        con.execute(
            "CREATE OR REPLACE TABLE policy (county_code VARCHAR, policy VARCHAR, adopted DATE)"
        )
    out = _out_month_sql(rules)
    con.execute(
        f"""CREATE OR REPLACE TABLE drops AS
        WITH r AS (
            SELECT row_number() OVER () AS run, person_id, first_month, last_month
            FROM read_parquet('{Path(checks) / LISTS["dropouts"]}')
            WHERE first_month IS NOT NULL)
        SELECT r.person_id, r.run,
               coalesce(min(month) FILTER (WHERE {out}), any_value(r.first_month)) AS out_month
        FROM r LEFT JOIN am a ON a.person_id = r.person_id
             AND a.month BETWEEN r.first_month AND r.last_month
        GROUP BY r.person_id, r.run"""
    )


def _lit(d: date) -> str:
    return f"DATE '{d.isoformat()}'"


def features_as_of(con, label: str) -> pd.DataFrame:
    """The feature table of term ``label`` (one row per pupil of its population, see the
    module docstring), with the label ``dropout`` (1 if the pupil dropped out within the
    term, 0 if not, null if the term is not over in the records) and the audit groups.
    Reads the tables of :func:`load_model_tables` only."""
    term = term_of(label)
    prev = previous_term(label)
    s, e = _lit(term.start), _lit(term.end)
    year = term.start.year
    # The school year of the term (autumn's start year) and the grade the pupil is in now.
    step = 1 if term.autumn else 0
    a_year_ago = _lit(date(term.start.year - 1, term.start.month, 1))
    prev_start = _lit(term_of(prev).start)
    year_ago = previous_term(previous_term(prev))  # the same term a year before ``prev``
    school_year_start = _lit(date(int(label[:4]), 9, 1))
    # The population: last term's pupils who are expected back and not out at ``s``.
    graduated = "r.grade >= 9" if term.autumn else "false"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE pop AS
        WITH base AS (
            SELECT r.person_id, r.grade AS grade_prev, r.school_code, r.county_code
            FROM reg r
            WHERE r.term = '{prev}' AND r.status = '在读' AND NOT ({graduated})
              AND r.person_id NOT IN (SELECT person_id FROM xattr
                                      WHERE term = '{prev}' AND home)),
        open_case AS (
            SELECT DISTINCT person_id FROM ledger
            WHERE detected < {s} AND NOT coalesce(return_date < {s}, false)),
        last_month AS (
            SELECT person_id, arg_max({_out_month_sql(DEFAULT_RULES)}, month) AS was_out
            FROM am SEMI JOIN base USING (person_id) WHERE month < {s} GROUP BY person_id)
        SELECT b.* FROM base b
        ANTI JOIN open_case USING (person_id)
        LEFT JOIN last_month l USING (person_id)
        WHERE NOT coalesce(l.was_out, false)"""
    )
    q = f"""
    WITH a AS (
        SELECT person_id, month, req, unx, sick, pers,
               month >= {prev_start} AS last_term
        FROM am SEMI JOIN pop USING (person_id)
        WHERE month < {s} AND month >= {a_year_ago}),
    lastm AS (SELECT person_id, max(month) AS m FROM a GROUP BY person_id),
    att AS (
        SELECT a.person_id,
               sum(unx) FILTER (WHERE last_term) AS unx_days_last_term,
               sum(unx) FILTER (WHERE last_term)
                 / nullif(sum(req) FILTER (WHERE last_term), 0) AS unx_rate_last_term,
               sum(unx) / nullif(sum(req), 0) AS unx_rate_year,
               sum(unx) FILTER (WHERE a.month = l.m)
                 / nullif(sum(req) FILTER (WHERE a.month = l.m), 0) AS unx_rate_last_month,
               sum(unx) FILTER (WHERE last_term AND a.month >= l.m - INTERVAL 1 MONTH)
                 / nullif(sum(req) FILTER (WHERE last_term AND a.month >= l.m - INTERVAL 1 MONTH), 0)
               - coalesce(sum(unx) FILTER (WHERE last_term AND a.month < l.m - INTERVAL 1 MONTH)
                 / nullif(sum(req) FILTER (WHERE last_term AND a.month < l.m - INTERVAL 1 MONTH), 0),
                 0) AS unx_trend,
               max(unx) AS max_unx_month_year,
               count(*) FILTER (WHERE unx >= 3) AS months_unx3_year,
               sum(sick) FILTER (WHERE last_term) AS sick_days_last_term,
               sum(pers) FILTER (WHERE last_term) AS personal_days_last_term,
               count(*) AS months_recorded_year
        FROM a JOIN lastm l USING (person_id) GROUP BY a.person_id),
    streak AS (
        SELECT person_id, max(n) AS longest_unx_streak FROM (
            SELECT person_id, grp, count(*) AS n FROM (
                SELECT person_id, unx > 0 AS pos,
                       row_number() OVER (PARTITION BY person_id ORDER BY month)
                       - row_number() OVER (PARTITION BY person_id, unx > 0 ORDER BY month)
                         AS grp
                FROM a) WHERE pos GROUP BY person_id, grp)
        GROUP BY person_id),
    hist AS (
        SELECT person_id, bool_or(unx > {DEFAULT_RULES.suspected_days}) AS ever_week_out,
               bool_or(unx > 0 AND unx >= req - 1) AS ever_month_out,
               sum(unx) / nullif(sum(req), 0) AS unx_rate_all,
               sum(wt * unx) / nullif(sum(wt * req), 0) AS unx_recent_weighted,
               sum(wt * pers) / nullif(sum(wt * req), 0) AS personal_recent_weighted
        FROM (SELECT *, pow({DECAY}, row_number() OVER (PARTITION BY person_id
                                                        ORDER BY month DESC) - 1) AS wt
              FROM am SEMI JOIN pop USING (person_id) WHERE month < {s})
        GROUP BY person_id),
    cases AS (
        SELECT person_id, count(*) AS prior_cases,
               bool_or(coalesce(return_date < {s}, false)) AS returned_ever,
               datediff('day', max(return_date) FILTER (WHERE return_date < {s}), {s})
                 / 365.25 AS years_since_return
        FROM ledger SEMI JOIN pop USING (person_id) WHERE detected < {s} GROUP BY person_id),
    regh AS (
        SELECT r.person_id, count(DISTINCT r.school_code) AS schools_attended,
               count(DISTINCT r.school_code) FILTER (WHERE r.term > '{year_ago}') > 1
                 AS transferred_last_year,
               bool_or(r.term = '{year_ago}' AND r.grade >= p.grade_prev) AS repeated_grade,
               bool_or(r.migrant) FILTER (WHERE r.term = '{prev}') AS migrant
        FROM reg r JOIN pop p USING (person_id) WHERE r.term <= '{prev}'
        GROUP BY r.person_id),
    who AS (
        SELECT person_id, mode(sex ORDER BY sex) AS sex,
               mode(birth_date ORDER BY birth_date) AS birth_date
        FROM xj SEMI JOIN pop USING (person_id) WHERE term <= '{prev}' GROUP BY person_id),
    attr AS (
        SELECT person_id, bool_or(left_behind) AS left_behind, bool_or(disability) AS disability,
               bool_or(minority) AS minority, bool_or(boarding) AS boarding
        FROM xattr SEMI JOIN pop USING (person_id) WHERE term = '{prev}' GROUP BY person_id),
    pov AS (
        SELECT person_id, registered_year, lifted_year FROM poverty
        WHERE registered_year <= {year}),
    sib AS (
        SELECT DISTINCT h.person_id FROM house h JOIN house o
            ON o.household_no = h.household_no AND o.person_id <> h.person_id
        WHERE h.person_id IN (SELECT person_id FROM pop)
          AND (o.person_id IN (SELECT person_id FROM ledger WHERE detected < {s})
               OR o.person_id IN (SELECT person_id FROM am
                                  WHERE month < {s} AND unx > 0 AND unx >= req - 1))),
    sib_unx AS (
        SELECT h.person_id, sum(a.unx) / nullif(sum(a.req), 0) AS siblings_unx_rate
        FROM house h JOIN house o ON o.household_no = h.household_no
             AND o.person_id <> h.person_id
        JOIN am a ON a.person_id = o.person_id AND a.month < {s} AND a.month >= {prev_start}
        WHERE h.person_id IN (SELECT person_id FROM pop) GROUP BY h.person_id),
    out_year AS (
        SELECT DISTINCT person_id FROM am
        WHERE month < {s} AND month >= {a_year_ago} AND unx > 0 AND unx >= req - 1),
    school_ctx AS (
        SELECT p.school_code, avg((o.person_id IS NOT NULL)::INTEGER) AS school_out_rate
        FROM (SELECT person_id, school_code FROM reg WHERE term = '{prev}') p
        LEFT JOIN out_year o USING (person_id) GROUP BY p.school_code),
    school_unx AS (
        SELECT school_code, sum(unx) / nullif(sum(req), 0) AS school_unx_rate
        FROM am WHERE month < {s} AND month >= {prev_start} GROUP BY school_code),
    county_ctx AS (
        SELECT p.county_code, avg((o.person_id IS NOT NULL)::INTEGER) AS county_out_rate
        FROM (SELECT person_id, county_code FROM reg WHERE term = '{prev}') p
        LEFT JOIN out_year o USING (person_id) GROUP BY p.county_code),
    lab AS (
        SELECT DISTINCT person_id FROM drops WHERE out_month >= {s} AND out_month < {e})
    SELECT p.person_id, '{label}' AS term, {s} AS as_of, p.county_code, p.school_code,
           p.grade_prev,
           coalesce(att.unx_days_last_term, 0) AS unx_days_last_term,
           att.unx_rate_last_term, att.unx_rate_year, att.unx_rate_last_month,
           hist.unx_recent_weighted, hist.unx_rate_all, hist.personal_recent_weighted,
           att.unx_trend,
           coalesce(att.max_unx_month_year, 0) AS max_unx_month_year,
           coalesce(att.months_unx3_year, 0) AS months_unx3_year,
           coalesce(streak.longest_unx_streak, 0) AS longest_unx_streak,
           coalesce(att.sick_days_last_term, 0) AS sick_days_last_term,
           coalesce(att.personal_days_last_term, 0) AS personal_days_last_term,
           coalesce(att.months_recorded_year, 0) AS months_recorded_year,
           coalesce(hist.ever_week_out, false)::INTEGER AS ever_week_out,
           coalesce(hist.ever_month_out, false)::INTEGER AS ever_month_out,
           coalesce(cases.prior_cases, 0) AS prior_cases,
           coalesce(cases.returned_ever, false)::INTEGER AS returned_ever,
           cases.years_since_return,
           p.grade_prev + {step} AS grade,
           {0 if term.autumn else 1} AS spring,
           datediff('day', who.birth_date, {s}) / 365.25 AS age,
           datediff('day', who.birth_date, {school_year_start}) / 365.25
             - (p.grade_prev + {step} + 5) AS age_for_grade,
           coalesce(regh.repeated_grade, false)::INTEGER AS repeated_grade,
           coalesce(regh.schools_attended, 1) AS schools_attended,
           coalesce(regh.transferred_last_year, false)::INTEGER AS transferred_last_year,
           coalesce(attr.boarding, false)::INTEGER AS boarding,
           coalesce(regh.migrant, false)::INTEGER AS migrant,
           coalesce(attr.left_behind, false)::INTEGER AS left_behind,
           (coalesce(attr.disability, false)
            OR coalesce((SELECT min(c.issued) FROM certs c WHERE c.person_id = p.person_id)
                        < {s}, false))::INTEGER AS disability,
           coalesce(attr.minority, false)::INTEGER AS minority,
           (who.sex = '男')::INTEGER AS male,
           (pov.registered_year IS NOT NULL
            AND coalesce(pov.lifted_year > {year}, true))::INTEGER AS poverty_now,
           coalesce(pov.lifted_year <= {year}, false)::INTEGER AS poverty_lifted,
           CASE WHEN pov.lifted_year <= {year} THEN {year} - pov.lifted_year END
             AS years_since_lifted,
           (pov.registered_year IS NOT NULL
            AND p.person_id IN (SELECT person_id FROM povtype))::INTEGER AS low_income,
           (p.person_id IN (SELECT person_id FROM sib))::INTEGER AS siblings_dropped,
           sib_unx.siblings_unx_rate,
           coalesce(sc.school_out_rate, 0) AS school_out_rate,
           su.school_unx_rate,
           coalesce(cc.county_out_rate, 0) AS county_out_rate,
           coalesce((SELECT any_value(k.county LIKE '%自治%') FROM schools k
                     WHERE k.school_code = p.school_code), false)::INTEGER AS autonomous_county,
           (p.county_code IN (SELECT county_code FROM policy
                              WHERE policy LIKE '%视频%' AND adopted <= {s}))::INTEGER
             AS video_check,
           (p.county_code IN (SELECT county_code FROM policy
                              WHERE policy LIKE '%寄宿%' AND adopted <= {s})
            AND coalesce(attr.boarding, false) AND pov.registered_year IS NOT NULL
            AND coalesce(pov.lifted_year > {year}, true))::INTEGER AS boarding_subsidy,
           CASE WHEN {_lit(term.last_month)} <= (SELECT max(month) FROM am)
                THEN (p.person_id IN (SELECT person_id FROM lab))::INTEGER END AS dropout,
           CASE who.sex WHEN '男' THEN '男' WHEN '女' THEN '女' ELSE '不详' END AS sex,
           CASE WHEN coalesce(attr.minority, false) THEN '少数民族' ELSE '汉族' END AS ethnicity,
           CASE WHEN pov.registered_year IS NULL THEN '非建档立卡'
                WHEN coalesce(pov.lifted_year > {year}, true) THEN '建档立卡未脱贫'
                ELSE '已脱贫' END AS poverty,
           CASE WHEN coalesce(attr.disability, false) THEN '残疾' ELSE '非残疾' END
             AS disability_group,
           CASE WHEN coalesce(regh.migrant, false) THEN '随迁' ELSE '本地' END AS migrant_group
    FROM pop p
    LEFT JOIN att USING (person_id) LEFT JOIN streak USING (person_id)
    LEFT JOIN hist USING (person_id) LEFT JOIN cases USING (person_id)
    LEFT JOIN regh USING (person_id) LEFT JOIN who USING (person_id)
    LEFT JOIN attr USING (person_id) LEFT JOIN pov USING (person_id)
    LEFT JOIN sib_unx USING (person_id)
    LEFT JOIN school_ctx sc ON sc.school_code = p.school_code
    LEFT JOIN school_unx su ON su.school_code = p.school_code
    LEFT JOIN county_ctx cc ON cc.county_code = p.county_code
    ORDER BY p.person_id"""
    df = con.execute(q).df()
    for c in FEATURES:
        df[c] = df[c].astype("float32")
    return df


def model_terms(con) -> list[str]:
    """The terms that can be scored: every registry term with an earlier one."""
    terms = [r[0] for r in con.execute("SELECT DISTINCT term FROM reg ORDER BY term").fetchall()]
    out = [term_of(t).label for t in terms[1:]]
    nxt = terms[-1]
    y, t = int(nxt[:4]), nxt[-1]
    out.append(f"{y}-2" if t == "1" else f"{y + 1}-1")
    return out


def feature_table(con, terms: list[str] | None = None) -> pd.DataFrame:
    """The feature tables of ``terms`` (default: :func:`model_terms`) stacked."""
    frames = [features_as_of(con, t) for t in (terms or model_terms(con))]
    return pd.concat(frames, ignore_index=True)
