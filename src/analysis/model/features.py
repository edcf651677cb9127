"""Features of each pupil as of a term's start, from facts dated before it, and the label.

One row per pupil and term ``T`` (``'2018-1'`` is the autumn term of school year 2018/19,
``'2018-2'`` its spring term). The *as-of date* ``s`` is the term's
:attr:`~analysis.calendar.Term.as_of`: 1 September for an autumn term, 1 February for a
spring term (the winter holiday; January's attendance is known by then). A feature uses
only facts dated before ``s``:

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

Feature units are school days, rates (0-1), years or counts, as their names say; their
descriptions, the text an official reads, are in ``resources/labels.yaml`` (section
``features``). Each row also carries ``order_key``, a hash of its own values (not of the
salted ``person_id``): the order of the table, and of ties at a list's cut.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from analysis.calendar import Term, census_date
from analysis.config import DEFAULT_RULES, Rules
from analysis.engine import scan
from analysis.labels import labels
from analysis.layout import Layout
from analysis.link.absence import out_month_sql
from analysis.link.tables import BaseTables, joined

#: Each feature, in the model's order, with its description (``labels.yaml``).
FEATURES: dict[str, str] = labels("features")

GROUPS = ["sex", "ethnicity", "poverty", "disability_group", "migrant_group", "county_code"]
#: Columns of the feature table that are not about the pupil's own records (the key and
#: the label): everything else goes into ``order_key``.
_NOT_ORDERED = ("person_id", "dropout")


@dataclass(frozen=True)
class ModelTables:
    """The tables the features read, in ``base.con`` (:func:`model_tables`), besides the
    base tables: registry flags per term (``xattr``), disability certificates (``certs``),
    households (``house``), low-income persons (``povtype``), the runs of list 2 with their
    first month out (``drops``) and the county measures in force (``policy``)."""

    base: BaseTables
    rules: Rules
    xattr: str = "xattr"
    certs: str = "certs"
    house: str = "house"
    povtype: str = "povtype"
    drops: str = "drops"
    policy: str = "policy"


def model_tables(t: BaseTables, layout: Layout, rules: Rules = DEFAULT_RULES) -> ModelTables:
    """Build the :class:`ModelTables` of ``layout`` (clean tables, person index, list 2).

    Parameters
    ----------
    t : the base tables (:func:`analysis.link.tables.base_tables`), in whose connection the
        model's tables are made.
    layout : the data folder.
    rules : the monitoring rules (a month *out*, a school week).

    Returns
    -------
    ModelTables

    Examples
    --------
    >>> from analysis.engine import connect
    >>> from analysis.link import base_tables
    >>> con = connect()
    >>> m = model_tables(base_tables(con, prefecture), prefecture)
    >>> con.execute(f"SELECT count(*) > 0 FROM {m.drops}").fetchall()
    [(True,)]
    >>> con.close()
    """
    m = ModelTables(t, rules)
    con = t.con
    registry = joined(
        layout,
        "xueji",
        "x.term, x.left_behind, x.disability, x.ethnicity, x.study_mode",
    )
    con.execute(
        f"""CREATE OR REPLACE TABLE {m.xattr} AS
        SELECT person_id, term, bool_or(left_behind = '是') AS left_behind,
               bool_or(coalesce(disability, '无') NOT IN ('无', '')) AS disability,
               bool_or(coalesce(ethnicity, '汉族') <> '汉族') AS minority,
               bool_or(study_mode = '住校') AS boarding,
               bool_or(study_mode = '送教上门') AS home
        FROM ({registry}) GROUP BY ALL"""
    )
    if layout.table("disability").exists():
        con.execute(
            f"""CREATE OR REPLACE TABLE {m.certs} AS
            SELECT person_id, min(issued) AS issued
            FROM ({joined(layout, "disability", "x.issued")}) GROUP BY person_id"""
        )
    else:
        con.execute(f"CREATE OR REPLACE TABLE {m.certs} (person_id VARCHAR, issued DATE)")
    con.execute(
        f"""CREATE OR REPLACE TABLE {m.house} AS
        SELECT person_id, mode(household_no ORDER BY household_no) AS household_no
        FROM ({joined(layout, "hukou", "x.household_no")}) WHERE household_no IS NOT NULL
        GROUP BY person_id"""
    )
    if layout.table("poverty").exists():
        con.execute(
            f"""CREATE OR REPLACE TABLE {m.povtype} AS
            SELECT DISTINCT person_id FROM ({joined(layout, "poverty", "x.poverty_type")})
            WHERE poverty_type LIKE '%低保%'"""
        )
    else:
        con.execute(f"CREATE OR REPLACE TABLE {m.povtype} (person_id VARCHAR)")
    _policies(m, layout)
    _drops(m, layout)
    return m


def _policies(m: ModelTables, layout: Layout) -> None:
    """``policy``: the county measures (视频核查, 寄宿生补助提标) with their start."""
    con, t = m.base.con, m.base
    if layout.table("policies").exists():
        con.execute(
            f"""CREATE OR REPLACE TABLE {m.policy} AS
            SELECT DISTINCT s.county_code, p.policy, p.adopted
            FROM {scan(layout.table("policies"))} p
            JOIN (SELECT DISTINCT county, county_code FROM {t.schools}) s ON s.county = p.county
            WHERE p.adopted IS NOT NULL"""
        )
    else:
        con.execute(
            f"CREATE OR REPLACE TABLE {m.policy} (county_code VARCHAR, policy VARCHAR, adopted DATE)"
        )


def _drops(m: ModelTables, layout: Layout) -> None:
    """``drops``: the runs of list 2 (辍学 and 疑似辍学) with their first month out of
    school (or, for a run with no whole month out, its first month)."""
    out = out_month_sql(m.rules)
    m.base.con.execute(
        f"""CREATE OR REPLACE TABLE {m.drops} AS
        WITH r AS (
            SELECT row_number() OVER (ORDER BY person_id, first_month) AS run, person_id,
                   first_month, last_month
            FROM {scan(layout.check("dropouts"))}
            WHERE first_month IS NOT NULL)
        SELECT r.person_id, r.run,
               coalesce(min(month) FILTER (WHERE {out}), any_value(r.first_month)) AS out_month
        FROM r LEFT JOIN {m.base.am} a ON a.person_id = r.person_id
             AND a.month BETWEEN r.first_month AND r.last_month
        GROUP BY r.person_id, r.run"""
    )


def _lit(d: date) -> str:
    return f"DATE '{d.isoformat()}'"


@dataclass(frozen=True)
class _Dates:
    """The dates and labels a term's features are computed against (SQL literals)."""

    term: Term
    s: str  # the as-of date
    e: str  # the next term's as-of date
    prev: str  # the previous term's label
    prev_start: str  # its as-of date
    year_ago: str  # the label of the term a year before ``prev``
    a_year_ago: str  # the first of the month a year before ``s``
    school_year_start: str  # 1 September of the term's school year
    year: int  # the calendar year of ``s`` (poverty registry years)
    step: int  # grades to add to last term's (1 in autumn)

    @classmethod
    def of(cls, label: str) -> _Dates:
        term = Term.parse(label)
        prev = term.previous()
        return cls(
            term=term,
            s=_lit(term.as_of),
            e=_lit(term.end),
            prev=prev.label,
            prev_start=_lit(prev.as_of),
            year_ago=prev.previous().previous().label,
            a_year_ago=_lit(date(term.as_of.year - 1, term.as_of.month, 1)),
            school_year_start=_lit(census_date(term.year)),
            year=term.as_of.year,
            step=1 if term.autumn else 0,
        )


def _population(m: ModelTables, d: _Dates) -> None:
    """``pop``: last term's pupils who are expected back and not out at the as-of date."""
    t = m.base
    graduated = "r.grade >= 9" if d.term.autumn else "false"
    t.con.execute(
        f"""CREATE OR REPLACE TEMP TABLE pop AS
        WITH base AS (
            SELECT r.person_id, r.grade AS grade_prev, r.school_code, r.county_code
            FROM {t.reg} r
            WHERE r.term = '{d.prev}' AND r.status = '在读' AND NOT ({graduated})
              AND r.person_id NOT IN (SELECT person_id FROM {m.xattr}
                                      WHERE term = '{d.prev}' AND home)),
        open_case AS (
            SELECT DISTINCT person_id FROM {t.ledger}
            WHERE detected < {d.s} AND NOT coalesce(return_date < {d.s}, false)),
        last_month AS (
            SELECT person_id, arg_max({out_month_sql(m.rules)}, month) AS was_out
            FROM {t.am} SEMI JOIN base USING (person_id) WHERE month < {d.s} GROUP BY person_id)
        SELECT b.* FROM base b
        ANTI JOIN open_case USING (person_id)
        LEFT JOIN last_month l USING (person_id)
        WHERE NOT coalesce(l.was_out, false)"""
    )


def _attendance_ctes(m: ModelTables, d: _Dates, decay: float) -> str:
    """Attendance over the last year and the whole record, before the as-of date."""
    t = m.base
    last2 = "a.month >= l.m - INTERVAL 1 MONTH"
    return f"""
    a AS (
        SELECT person_id, month, req, unx, sick, pers,
               month >= {d.prev_start} AS last_term
        FROM {t.am} SEMI JOIN pop USING (person_id)
        WHERE month < {d.s} AND month >= {d.a_year_ago}),
    lastm AS (SELECT person_id, max(month) AS m FROM a GROUP BY person_id),
    att AS (
        SELECT a.person_id,
               sum(unx) FILTER (WHERE last_term) AS unx_days_last_term,
               sum(unx) FILTER (WHERE last_term)
                 / nullif(sum(req) FILTER (WHERE last_term), 0) AS unx_rate_last_term,
               sum(unx) / nullif(sum(req), 0) AS unx_rate_year,
               sum(unx) FILTER (WHERE a.month = l.m)
                 / nullif(sum(req) FILTER (WHERE a.month = l.m), 0) AS unx_rate_last_month,
               sum(unx) FILTER (WHERE last_term AND {last2})
                 / nullif(sum(req) FILTER (WHERE last_term AND {last2}), 0)
               - coalesce(sum(unx) FILTER (WHERE last_term AND NOT {last2})
                 / nullif(sum(req) FILTER (WHERE last_term AND NOT {last2}), 0),
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
        SELECT person_id, bool_or(unx > {m.rules.suspected_days}) AS ever_week_out,
               bool_or(unx > 0 AND unx >= req - 1) AS ever_month_out,
               sum(unx) / nullif(sum(req), 0) AS unx_rate_all,
               sum(wt * unx) / nullif(sum(wt * req), 0) AS unx_recent_weighted,
               sum(wt * pers) / nullif(sum(wt * req), 0) AS personal_recent_weighted
        FROM (SELECT *, pow({decay}, row_number() OVER (PARTITION BY person_id
                                                        ORDER BY month DESC) - 1) AS wt
              FROM {t.am} SEMI JOIN pop USING (person_id) WHERE month < {d.s})
        GROUP BY person_id)"""


def _history_ctes(m: ModelTables, d: _Dates) -> str:
    """The ledger and the registry's earlier terms: cases, schools, repeats, who."""
    t = m.base
    return f"""
    cases AS (
        SELECT person_id, count(*) AS prior_cases,
               bool_or(coalesce(return_date < {d.s}, false)) AS returned_ever,
               datediff('day', max(return_date) FILTER (WHERE return_date < {d.s}), {d.s})
                 / 365.25 AS years_since_return
        FROM {t.ledger} SEMI JOIN pop USING (person_id) WHERE detected < {d.s}
        GROUP BY person_id),
    regh AS (
        SELECT r.person_id, count(DISTINCT r.school_code) AS schools_attended,
               count(DISTINCT r.school_code) FILTER (WHERE r.term > '{d.year_ago}') > 1
                 AS transferred_last_year,
               bool_or(r.term = '{d.year_ago}' AND r.grade >= p.grade_prev) AS repeated_grade,
               bool_or(r.migrant) FILTER (WHERE r.term = '{d.prev}') AS migrant
        FROM {t.reg} r JOIN pop p USING (person_id) WHERE r.term <= '{d.prev}'
        GROUP BY r.person_id),
    who AS (
        SELECT person_id, mode(sex ORDER BY sex) AS sex,
               mode(birth_date ORDER BY birth_date) AS birth_date
        FROM {t.xj} SEMI JOIN pop USING (person_id) WHERE term <= '{d.prev}'
        GROUP BY person_id),
    attr AS (
        SELECT person_id, bool_or(left_behind) AS left_behind, bool_or(disability) AS disability,
               bool_or(minority) AS minority, bool_or(boarding) AS boarding
        FROM {m.xattr} SEMI JOIN pop USING (person_id) WHERE term = '{d.prev}'
        GROUP BY person_id),
    pov AS (
        SELECT person_id, registered_year, lifted_year FROM {t.poverty}
        WHERE registered_year <= {d.year})"""


def _context_ctes(m: ModelTables, d: _Dates) -> str:
    """Siblings, the school's and county's recent absence, and the label's runs."""
    t = m.base
    return f"""
    sib AS (
        SELECT DISTINCT h.person_id FROM {m.house} h JOIN {m.house} o
            ON o.household_no = h.household_no AND o.person_id <> h.person_id
        WHERE h.person_id IN (SELECT person_id FROM pop)
          AND (o.person_id IN (SELECT person_id FROM {t.ledger} WHERE detected < {d.s})
               OR o.person_id IN (SELECT person_id FROM {t.am}
                                  WHERE month < {d.s} AND unx > 0 AND unx >= req - 1))),
    sib_unx AS (
        SELECT h.person_id, sum(a.unx) / nullif(sum(a.req), 0) AS siblings_unx_rate
        FROM {m.house} h JOIN {m.house} o ON o.household_no = h.household_no
             AND o.person_id <> h.person_id
        JOIN {t.am} a ON a.person_id = o.person_id AND a.month < {d.s}
             AND a.month >= {d.prev_start}
        WHERE h.person_id IN (SELECT person_id FROM pop) GROUP BY h.person_id),
    out_year AS (
        SELECT DISTINCT person_id FROM {t.am}
        WHERE month < {d.s} AND month >= {d.a_year_ago} AND unx > 0 AND unx >= req - 1),
    school_ctx AS (
        SELECT p.school_code, avg((o.person_id IS NOT NULL)::INTEGER) AS school_out_rate
        FROM (SELECT person_id, school_code FROM {t.reg} WHERE term = '{d.prev}') p
        LEFT JOIN out_year o USING (person_id) GROUP BY p.school_code),
    school_unx AS (
        SELECT school_code, sum(unx) / nullif(sum(req), 0) AS school_unx_rate
        FROM {t.am} WHERE month < {d.s} AND month >= {d.prev_start} GROUP BY school_code),
    county_ctx AS (
        SELECT p.county_code, avg((o.person_id IS NOT NULL)::INTEGER) AS county_out_rate
        FROM (SELECT person_id, county_code FROM {t.reg} WHERE term = '{d.prev}') p
        LEFT JOIN out_year o USING (person_id) GROUP BY p.county_code),
    lab AS (
        SELECT DISTINCT person_id FROM {m.drops} WHERE out_month >= {d.s} AND out_month < {d.e})"""


def _record_columns(d: _Dates) -> str:
    """The attendance, history and registry features of the final SELECT."""
    return f"""
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
           p.grade_prev + {d.step} AS grade,
           {0 if d.term.autumn else 1} AS spring,
           datediff('day', who.birth_date, {d.s}) / 365.25 AS age,
           datediff('day', who.birth_date, {d.school_year_start}) / 365.25
             - (p.grade_prev + {d.step} + 5) AS age_for_grade,
           coalesce(regh.repeated_grade, false)::INTEGER AS repeated_grade,
           coalesce(regh.schools_attended, 1) AS schools_attended,
           coalesce(regh.transferred_last_year, false)::INTEGER AS transferred_last_year,
           coalesce(attr.boarding, false)::INTEGER AS boarding,
           coalesce(regh.migrant, false)::INTEGER AS migrant,
           coalesce(attr.left_behind, false)::INTEGER AS left_behind"""


def _household_columns(m: ModelTables, d: _Dates) -> str:
    """Disability, poverty, household, context and policy features, the label, and the
    audit groups of the final SELECT."""
    t = m.base
    poor_now = f"pov.registered_year IS NOT NULL AND coalesce(pov.lifted_year > {d.year}, true)"
    return f"""
           (coalesce(attr.disability, false)
            OR coalesce((SELECT min(c.issued) FROM {m.certs} c WHERE c.person_id = p.person_id)
                        < {d.s}, false))::INTEGER AS disability,
           coalesce(attr.minority, false)::INTEGER AS minority,
           (who.sex = '男')::INTEGER AS male,
           ({poor_now})::INTEGER AS poverty_now,
           coalesce(pov.lifted_year <= {d.year}, false)::INTEGER AS poverty_lifted,
           CASE WHEN pov.lifted_year <= {d.year} THEN {d.year} - pov.lifted_year END
             AS years_since_lifted,
           (pov.registered_year IS NOT NULL
            AND p.person_id IN (SELECT person_id FROM {m.povtype}))::INTEGER AS low_income,
           (p.person_id IN (SELECT person_id FROM sib))::INTEGER AS siblings_dropped,
           sib_unx.siblings_unx_rate,
           coalesce(sc.school_out_rate, 0) AS school_out_rate,
           su.school_unx_rate,
           coalesce(cc.county_out_rate, 0) AS county_out_rate,
           coalesce((SELECT any_value(k.county LIKE '%自治%') FROM {t.schools} k
                     WHERE k.school_code = p.school_code), false)::INTEGER AS autonomous_county,
           (p.county_code IN (SELECT county_code FROM {m.policy}
                              WHERE policy LIKE '%视频%' AND adopted <= {d.s}))::INTEGER
             AS video_check,
           (p.county_code IN (SELECT county_code FROM {m.policy}
                              WHERE policy LIKE '%寄宿%' AND adopted <= {d.s})
            AND coalesce(attr.boarding, false) AND {poor_now})::INTEGER AS boarding_subsidy,
           CASE WHEN {_lit(d.term.last_month)} <= (SELECT max(month) FROM {t.am})
                THEN (p.person_id IN (SELECT person_id FROM lab))::INTEGER END AS dropout,
           CASE who.sex WHEN '男' THEN '男' WHEN '女' THEN '女' ELSE '不详' END AS sex,
           CASE WHEN coalesce(attr.minority, false) THEN '少数民族' ELSE '汉族' END AS ethnicity,
           CASE WHEN pov.registered_year IS NULL THEN '非建档立卡'
                WHEN coalesce(pov.lifted_year > {d.year}, true) THEN '建档立卡未脱贫'
                ELSE '已脱贫' END AS poverty,
           CASE WHEN coalesce(attr.disability, false) THEN '残疾' ELSE '非残疾' END
             AS disability_group,
           CASE WHEN coalesce(regh.migrant, false) THEN '随迁' ELSE '本地' END AS migrant_group"""


def features_as_of(m: ModelTables, label: str, decay: float = 0.85) -> pd.DataFrame:
    """The feature table of term ``label`` (one row per pupil of its population, see the
    module docstring).

    Parameters
    ----------
    m : the model's tables.
    label : the term, e.g. ``'2019-1'``; its as-of date is :attr:`analysis.calendar.Term.as_of`.
    decay : the weight of a month in the recent rates, per school month back.

    Returns
    -------
    pandas.DataFrame
        ``person_id``, ``term``, ``as_of``, county, school, last term's grade, every feature of
        :data:`FEATURES` (float32), the label ``dropout`` (1 if the pupil dropped out within the
        term, 0 if not, null if the term is not over in the records), the audit groups and
        ``order_key``, sorted by ``order_key``.

    Examples
    --------
    >>> from analysis.engine import connect
    >>> from analysis.link import base_tables
    >>> con = connect()
    >>> m = model_tables(base_tables(con, prefecture), prefecture)
    >>> f = features_as_of(m, "2019-1")
    >>> str(f["as_of"].iloc[0].date()), set(f["dropout"].dropna().unique()) <= {0, 1}
    ('2019-09-01', True)
    >>> bool(f["order_key"].is_monotonic_increasing)
    True
    >>> con.close()
    """
    d = _Dates.of(label)
    _population(m, d)
    q = f"""
    WITH {_attendance_ctes(m, d, decay)},
    {_history_ctes(m, d)},
    {_context_ctes(m, d)}
    SELECT p.person_id, '{label}' AS term, {d.s} AS as_of, p.county_code, p.school_code,
           p.grade_prev, {_record_columns(d)}, {_household_columns(m, d)}
    FROM pop p
    LEFT JOIN att USING (person_id) LEFT JOIN streak USING (person_id)
    LEFT JOIN hist USING (person_id) LEFT JOIN cases USING (person_id)
    LEFT JOIN regh USING (person_id) LEFT JOIN who USING (person_id)
    LEFT JOIN attr USING (person_id) LEFT JOIN pov USING (person_id)
    LEFT JOIN sib_unx USING (person_id)
    LEFT JOIN school_ctx sc ON sc.school_code = p.school_code
    LEFT JOIN school_unx su ON su.school_code = p.school_code
    LEFT JOIN county_ctx cc ON cc.county_code = p.county_code"""
    df = m.base.con.execute(q).df()
    for c in FEATURES:
        df[c] = df[c].astype("float32")
    return _ordered(df)


def _ordered(df: pd.DataFrame) -> pd.DataFrame:
    """The table with ``order_key`` (a hash of each row's own values: everything but the
    salted ``person_id`` and the label), sorted by it: the same order, and the same ties at
    a list's cut, in every data folder."""
    cols = [c for c in df.columns if c not in _NOT_ORDERED]
    key = pd.util.hash_pandas_object(df[cols], index=False).to_numpy(np.uint64)
    df = df.assign(order_key=key)
    return df.sort_values(["order_key", "person_id"], ignore_index=True)


def model_terms(t: BaseTables) -> list[str]:
    """The terms that can be scored: every registry term with an earlier one, and the term
    after the last.

    >>> from analysis.engine import connect
    >>> from analysis.link import base_tables
    >>> con = connect()
    >>> model_terms(base_tables(con, prefecture))[:2], model_terms(base_tables(con, prefecture))[-1]
    (['2016-2', '2017-1'], '2021-1')
    >>> con.close()
    """
    terms = [
        r[0] for r in t.con.execute(f"SELECT DISTINCT term FROM {t.reg} ORDER BY term").fetchall()
    ]
    return [*terms[1:], Term.parse(terms[-1]).next().label]


def feature_table(
    m: ModelTables, terms: list[str] | None = None, decay: float = 0.85
) -> pd.DataFrame:
    """The feature tables of ``terms`` (default: :func:`model_terms`) stacked, in term order.

    >>> from analysis.engine import connect
    >>> from analysis.link import base_tables
    >>> con = connect()
    >>> m = model_tables(base_tables(con, prefecture), prefecture)
    >>> ft = feature_table(m, ["2018-2", "2019-1"])
    >>> sorted(ft["term"].unique())
    ['2018-2', '2019-1']
    >>> con.close()
    """
    frames = [features_as_of(m, t, decay) for t in (terms or model_terms(m.base))]
    return pd.concat(frames, ignore_index=True)
