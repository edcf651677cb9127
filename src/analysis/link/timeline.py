"""Each child's status term by term, the monitoring counts and the consolidation cohort.

* :func:`status_timeline`: each child's status in each term it appears in (the registry, a
  run of absence, or comparison 1): 辍学 / 疑似辍学 while a run of absence lasts, 返校 in the
  term of the return, otherwise the registry's 在读 (送教上门 for home teaching), 休学, 转出
  or 辍学, and for the autumn terms of children outside the registry the category of
  comparison 1: the history an official reads before a visit.
* :func:`monitoring_counts`: suspected dropouts, dropouts and returns per term and county.
* :func:`consolidation_frame`: the registry cohort the nine-year consolidation rate
  (:func:`analysis.indicators.consolidation_rates`) is computed from.
"""

from __future__ import annotations

import pandas as pd

from analysis.calendar import Term, term_of
from analysis.link.absence import Episodes
from analysis.link.tables import BaseTables


def status_timeline(
    t: BaseTables, e: Episodes, not_enrolled: pd.DataFrame, table: str = "timeline"
) -> str:
    """Build each child's status per term as the table ``table`` of ``t.con``.

    Of several statuses in one term, a run of absence (返校 in the term of its return) beats a
    registry mark of 辍学, which beats comparison 1's category, which beats the registry's
    ordinary status; of two runs, the later; then the status and school by their text: the
    same status every run.

    Parameters
    ----------
    t : the base tables.
    e : the runs of absence.
    not_enrolled : comparison 1's frame.
    table : the name to give the table.

    Returns
    -------
    str
        The table's name (one row per person and term: ``status``, ``school_code``,
        ``county_code``).

    Examples
    --------
    >>> import pandas as pd
    >>> from analysis.engine import connect
    >>> from analysis.link import absence_episodes, base_tables
    >>> con = connect()
    >>> t = base_tables(con, prefecture)
    >>> name = status_timeline(t, absence_episodes(t), pd.read_parquet(prefecture.check("not_enrolled")))
    >>> statuses = {s for (s,) in con.execute(f"SELECT DISTINCT status FROM {name}").fetchall()}
    >>> {"在读", "辍学", "返校", "送教上门"} <= statuses
    True
    >>> con.close()
    """
    t.con.register("l1_all", not_enrolled)
    try:
        t.con.execute(
            f"""CREATE OR REPLACE TABLE {table} AS
            WITH terms AS (SELECT DISTINCT term FROM {t.reg}),
            s AS (
                SELECT terms.term, x.person_id, x.school_code, x.county_code,
                       CASE WHEN x.return_month >= term_as_of(terms.term)
                                 AND x.return_month < term_end(terms.term) THEN '返校'
                            WHEN x.kind = 'dropout' THEN '辍学' ELSE '疑似辍学' END AS status,
                       3 AS rank, 1 AS runs, x.first_month AS since
                FROM {e.episodes} x JOIN terms ON x.first_month < term_end(terms.term)
                     AND coalesce(x.return_month, x.open_until) >= term_as_of(terms.term)
                UNION ALL
                SELECT term, person_id, school_code, county_code,
                       CASE WHEN status = '在读' AND study_mode = '送教上门' THEN '送教上门'
                            ELSE status END,
                       CASE WHEN status = '辍学' THEN 3 ELSE 1 END, 0, term_first_month(term)
                FROM {t.reg}
                UNION ALL
                SELECT school_year || '-1', person_id, school_code, county_code, category, 2, 0,
                       census_date(school_year)
                FROM l1_all WHERE category NOT IN ('辍学'))
            SELECT person_id, term, status, school_code, county_code
            FROM s
            QUALIFY row_number() OVER (
                PARTITION BY person_id, term
                ORDER BY rank DESC, runs DESC, since DESC, status DESC,
                         school_code DESC NULLS LAST) = 1
            ORDER BY person_id, term"""
        )
    finally:
        t.con.unregister("l1_all")
    return table


def monitoring_counts(dropouts: pd.DataFrame) -> pd.DataFrame:
    """Per term and county (and the prefecture, '5304'): suspected dropouts (every run of
    absence starts as one), dropouts (runs of more than a month) by the term the run began,
    and returns by the term of the return.

    Parameters
    ----------
    dropouts : comparison 2's frame (``term``, ``county_code``, ``person_id``, ``category``,
        ``return_month``).

    Returns
    -------
    pandas.DataFrame
        ``term``, ``county_code``, ``suspected``, ``dropouts``, ``returns``.

    Examples
    --------
    >>> l2 = pd.DataFrame({"term": ["2019-1", "2019-1"], "county_code": ["530402", "530402"],
    ...                    "person_id": ["a", "b"], "category": ["辍学", "疑似辍学"],
    ...                    "return_month": [pd.Timestamp("2020-03-01"), pd.NaT]})
    >>> monitoring_counts(l2)[["term", "county_code", "suspected", "dropouts", "returns"]]
         term county_code  suspected  dropouts  returns
    0  2019-1        5304          2         1        0
    1  2019-1      530402          2         1        0
    2  2019-2        5304          0         0        1
    3  2019-2      530402          0         0        1
    """
    d = dropouts.assign(
        return_term=dropouts["return_month"].map(lambda m: None if pd.isna(m) else term_of(m))
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


def consolidation_frame(t: BaseTables, e: Episodes) -> tuple[pd.DataFrame, list[int]]:
    """The registry cohort the nine-year consolidation rate is computed from.

    Parameters
    ----------
    t : the base tables (``reg`` is read).
    e : the runs of absence (a pupil out at the end of grade 9 has not completed it).

    Returns
    -------
    tuple of (pandas.DataFrame, list of int)
        Per person ``entry_year`` (the registry's 入学年月), ``graduated_year`` (in grade 9 as
        在读 in the spring term of that year and not out of school at its end), ``member_<Y>``
        (in the registry by the spring of ``Y`` and never transferred out by then: normal
        transfers leave the base, arrivals join it; dropouts stay in it) and ``county_code``
        (of the last school); and the graduation years the snapshots cover. The frame is what
        :func:`analysis.indicators.consolidation_rates` takes.

    Examples
    --------
    >>> from analysis.engine import connect
    >>> from analysis.indicators import consolidation_rates
    >>> from analysis.link import absence_episodes, base_tables
    >>> con = connect()
    >>> t = base_tables(con, prefecture)
    >>> frame, years = consolidation_frame(t, absence_episodes(t))
    >>> years
    [2017, 2018, 2019, 2020, 2021]
    >>> rate = consolidation_rates(frame, years).query("year == 2020 and county_code == '5304'")
    >>> bool(99 < rate["consolidation_rate"].iloc[0] < 101)
    True
    >>> con.close()
    """
    springs = [
        Term.parse(term).year + 1
        for (term,) in t.con.execute(
            f"SELECT DISTINCT term FROM {t.reg} WHERE right(term, 1) = '2' ORDER BY 1"
        ).fetchall()
    ]
    members = ", ".join(
        f"bool_or(term <= '{y - 1}-2') AND NOT bool_or(term <= '{y - 1}-2' AND status = '转出') "
        f"AS member_{y}"
        for y in springs
    )
    frame = t.con.execute(
        f"""WITH g AS (
            SELECT r.person_id, min(term_year(r.term) + 1) AS graduated_year
            FROM {t.reg} r
            WHERE right(r.term, 1) = '2' AND r.grade = 9 AND r.status IN ('在读', '辍学')
              AND NOT EXISTS (
                SELECT 1 FROM {e.episodes} x WHERE x.person_id = r.person_id
                  AND x.kind = 'dropout'
                  AND x.first_month <= make_date(term_year(r.term) + 1, 7, 1)
                  AND (x.return_month IS NULL OR x.return_month
                       > make_date(term_year(r.term) + 1, 7, 1)))
            GROUP BY r.person_id)
        SELECT person_id, min(entry_year) AS entry_year,
               coalesce(max(g.graduated_year), 0) AS graduated_year,
               arg_max(county_code, term) AS county_code, {members}
        FROM {t.reg} LEFT JOIN g USING (person_id)
        WHERE entry_year IS NOT NULL GROUP BY person_id"""
    ).df()
    return frame, springs
