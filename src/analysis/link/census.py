"""The autumn census of each school year, from the linked registries, and the indicators.

For school year ``Y`` (autumn term ``Y-1`` of the registry, household check of year ``Y``),
one row per child known to either registry, with what :func:`analysis.indicators.enrolment_rates`
needs (the definitions and formulas are there):

* ``age``: completed years on 31 August ``Y`` (:func:`analysis.calendar.census_age`), from
  the birth date the child's records give most often (a tie: the earliest);
* ``resident``: in the year's household check and not marked as living outside the
  prefecture with the parents (随父母外出, 随父母在外省就读), or a migrant pupil (流动人口
  子女, registry flag) without a local household registration who has not transferred out;
* ``enrolled``: in the registry's autumn snapshot as 在读 (home teaching, 送教上门, is a
  study mode of 在读 and counts; 休学, 辍学 and 转出 do not), with its ``grade``, and not
  out of school on the census date by the attendance record: a dropout the registry has
  not marked yet is absent without excuse on every school day of September, or was absent
  every school day of July (the last month before the summer) and missed at least a
  school week of September;
  :data:`CENSUS_ABSENCE` names these months;
* ``county_code``: the school's county (from the roster) for an enrolled child, else the
  county of the household registration, else (a migrant child out of school, with no
  local registration) the county of the school that holds its registry;
* ``disabled``: the child holds a disability certificate;
* ``outside``: the household check notes the child as living outside with the parents.

Children are persons of the index (:mod:`analysis.link.index`), so a child in both
registries, under two spellings of the name or a mistyped ID, is counted once.
"""

from __future__ import annotations

import pandas as pd

from analysis.config import DEFAULT_RULES, Rules
from analysis.link.tables import BaseTables

#: The census month and the last month of school before it, for the attendance test of
#: "out of school on 1 September" (see the module docstring).
CENSUS_ABSENCE = (9, 7)

#: Household-check notes saying the child lives outside the prefecture with its parents.
LIVING_OUTSIDE = ("随父母外出", "随父母在外省就读")


def census(t: BaseTables, rules: Rules = DEFAULT_RULES) -> pd.DataFrame:
    """One row per child and school year (see the module docstring), from the base tables.

    Parameters
    ----------
    t : the base tables (:func:`analysis.link.tables.base_tables`).
    rules : the monitoring rules; a school week (``suspected_days``) of September missed
        after an absent July means the child had not come back by the census.

    Returns
    -------
    pandas.DataFrame
        ``year``, ``person_id``, ``county_code``, ``age`` (on 31 August), ``resident``,
        ``enrolled``, ``grade``, ``disabled``, ``outside``: what
        :func:`analysis.indicators.enrolment_rates` needs.

    Examples
    --------
    >>> from analysis.engine import connect
    >>> from analysis.link import base_tables
    >>> from analysis.indicators import enrolment_rates
    >>> con = connect()
    >>> frame = census(base_tables(con, prefecture))
    >>> rates = enrolment_rates(frame)
    >>> pref = rates[(rates["county_code"] == "5304") & (rates["year"] == 2020)].iloc[0]
    >>> bool(99.9 < pref["primary_enrolment_rate"] <= 100)
    True
    >>> con.close()
    """
    outside = ", ".join(f"'{n}'" for n in LIVING_OUTSIDE)
    sep, before = CENSUS_ABSENCE
    frame = t.con.execute(
        f"""WITH hku AS (
            SELECT person_id, year, county_code, birth_date,
                   coalesce(note, '') IN ({outside}) AS outside
            FROM {t.hk}),
        xja AS (
            SELECT x.person_id, CAST(left(x.term, 4) AS INTEGER) AS year, x.status, x.grade,
                   x.migrant, x.birth_date, x.school_code, s.county_code AS school_county
            FROM {t.xj} x LEFT JOIN {t.schools} s USING (school_code)
            WHERE right(x.term, 1) = '1'),
        born AS (
            SELECT person_id, mode(birth_date ORDER BY birth_date) AS birth_date
            FROM (SELECT person_id, birth_date FROM hku UNION ALL
                  SELECT person_id, birth_date FROM xja)
            WHERE birth_date IS NOT NULL GROUP BY person_id),
        h AS (SELECT year, person_id, mode(county_code ORDER BY county_code) AS county_code,
                     bool_and(outside) AS outside
              FROM hku GROUP BY ALL),
        x AS (SELECT year, person_id,
                     bool_or(status = '在读') AS enrolled,
                     max(grade) FILTER (WHERE status = '在读') AS grade,
                     arg_max(school_county, (school_code, school_county))
                       FILTER (WHERE status = '在读') AS school_county,
                     -- a migrant dropout has no local hukou: the registry's school says where
                     arg_max(school_county, (school_code, school_county)) AS registry_county,
                     bool_or(migrant AND status <> '转出') AS migrant
              FROM xja GROUP BY ALL),
        gone AS (
            SELECT year(s.month) AS year, s.person_id
            FROM {t.am} s LEFT JOIN {t.am} p ON p.person_id = s.person_id
                 AND p.month = make_date(year(s.month), {before}, 1)
            WHERE month(s.month) = {sep} AND s.req > 0 AND s.unx > 0
              AND ((s.pres = 0 AND s.unx >= s.req)
                   OR (p.req > 0 AND p.pres = 0 AND p.unx >= p.req
                       AND s.unx >= {rules.suspected_days})))
        SELECT coalesce(h.year, x.year) AS year, coalesce(h.person_id, x.person_id) AS person_id,
               coalesce(CASE WHEN x.enrolled THEN x.school_county END, h.county_code,
                        x.school_county, x.registry_county) AS county_code,
               census_age(b.birth_date, coalesce(h.year, x.year)) AS age,
               CASE WHEN h.person_id IS NOT NULL THEN NOT h.outside
                    ELSE coalesce(x.migrant, false) END AS resident,
               coalesce(x.enrolled, false) AND g.person_id IS NULL AS enrolled,
               coalesce(x.grade, 0) AS grade,
               d.person_id IS NOT NULL AS disabled,
               coalesce(h.outside, false) AS outside
        FROM h FULL JOIN x USING (year, person_id)
        LEFT JOIN born b ON b.person_id = coalesce(h.person_id, x.person_id)
        LEFT JOIN {t.disabled} d ON d.person_id = coalesce(h.person_id, x.person_id)
        LEFT JOIN gone g ON g.person_id = coalesce(h.person_id, x.person_id)
             AND g.year = coalesce(h.year, x.year)
        ORDER BY year, person_id"""
    ).df()
    return frame[frame["age"].notna() & frame["year"].notna()].astype({"age": int, "year": int})
