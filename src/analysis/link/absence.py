"""Runs of unexcused absence read from the monthly attendance: comparison 2's raw material.

A month counts as *out* when the pupil missed every school day but at most one without
excuse (:attr:`~analysis.config.Rules.out_present_days`), or three quarters of them with no
day of leave (:attr:`~analysis.config.Rules.out_share`); a run is the out months with the
month before (the days missed at its end; across the winter or summer break only if a
school week was missed, else the pupil left during the break) and the month of return (the
days missed at its start). Leave (病假, 事假) is never absence, and a transfer is not either:
the pupil's rows continue at the new school. Per run:

* **suspected dropout (疑似辍学)**: more than :attr:`~analysis.config.Rules.suspected_days`
  school days missed without excuse (one school week);
* **dropout (辍学)**: more than :attr:`~analysis.config.Rules.dropout_days` (about one month
  of school days) and not back by then; a pupil the registry marks 辍学 is a dropout
  whatever the attendance shows;
* **return (返校)**: the first later month the pupil was present.

Scattered absences (a day here and there, summing past a week in a month) are not runs:
they belong to the risk model, not to this list.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analysis.config import DEFAULT_RULES, Rules
from analysis.link.tables import BaseTables


@dataclass(frozen=True)
class Episodes:
    """The runs of absence in ``con``: ``episodes`` (one row per run) and ``episode_years``
    (its school days out per school year), built by :func:`absence_episodes`."""

    base: BaseTables
    episodes: str = "episodes"
    episode_years: str = "episode_years"
    frame: pd.DataFrame | None = None


def out_month_sql(rules: Rules) -> str:
    """SQL (over a row of ``am``) for a month *out*: every school day but at most
    ``out_present_days`` missed without excuse, or at least ``out_share`` of them with no day
    of leave (a pupil on leave is in touch with the school; a chronic absentee mixes leave
    with truancy). Chosen on the yuxi prefecture against the truth: the first condition alone
    missed 2.5 % of the dropouts, adding three quarters without the leave condition listed
    2.3 % wrongly (see the note of issue 4).

    Examples
    --------
    >>> from analysis.config import DEFAULT_RULES
    >>> out_month_sql(DEFAULT_RULES)
    '(unx > 0 AND (unx >= req - 1 OR (unx * 100 >= req * 75 AND leave = 0)))'
    """
    share = int(round(100 * rules.out_share))
    return (
        f"(unx > 0 AND (unx >= req - {rules.out_present_days} "
        f"OR (unx * 100 >= req * {share} AND leave = 0)))"
    )


def absence_episodes(t: BaseTables, rules: Rules = DEFAULT_RULES) -> Episodes:
    """Runs of unexcused absence (see the module docstring).

    Parameters
    ----------
    t : the base tables (``am``, ``reg``, ``schools`` are read).
    rules : the monitoring rules' thresholds.

    Returns
    -------
    Episodes
        The tables ``episodes`` (one row per run: person, school and county of its first
        month, first and last month, school days missed without excuse ``days``, whole months
        out, the return month or null, the grade, ``open_until``
        (:func:`analysis.calendar.left_compulsory`), ``kind`` 'dropout' or 'suspected',
        ``evidence``) and ``episode_years`` (school days out per school year), and the runs as
        a frame (with ``term`` and ``return_term``). Registry-marked dropouts (辍学) without
        such a run are added with ``days`` null and the evidence '学籍标注辍学'.

    Examples
    --------
    >>> from analysis.engine import connect
    >>> from analysis.link import base_tables
    >>> con = connect()
    >>> runs = absence_episodes(base_tables(con, prefecture)).frame
    >>> sorted(runs["kind"].unique())
    ['dropout', 'suspected']
    >>> bool((runs.dropna(subset=["days"])["days"] > 5).all())
    True
    >>> con.close()
    """
    e = Episodes(t)
    # The first day of each term the registry has a pupil 转出 (moved away): a run stops
    # counting there. Read once, not per run.
    t.con.execute(
        f"""CREATE OR REPLACE TEMP TABLE moves AS
        SELECT DISTINCT person_id, term_first_month(term) AS month FROM {t.reg}
        WHERE status = '转出'"""
    )
    _runs(t, rules)
    _episodes(t, e, rules)
    _registry_dropouts(t, e)
    if _has_table(t.con, t.ledger):  # the persuasion ledger, when the tables include it
        _ledger_extends(t, e, rules)
        _ledger_dropouts(t, e, rules)
    _episode_years(t, e)
    t.con.execute("DROP TABLE moves")
    frame = t.con.execute(
        f"""SELECT *, term_of(first_month) AS term,
               CASE WHEN return_month IS NOT NULL THEN term_of(return_month) END AS return_term
        FROM {e.episodes} ORDER BY person_id, first_month"""
    ).df()
    return Episodes(t, e.episodes, e.episode_years, frame)


def _has_table(con, name: str) -> bool:
    return bool(
        con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name]).fetchone()[
            0
        ]
    )


def _runs(t: BaseTables, rules: Rules) -> None:
    """The table ``runs``: consecutive months in a run, per person, with their evidence."""
    s = rules.suspected_days
    out = out_month_sql(rules)
    t.con.execute(
        f"""CREATE OR REPLACE TABLE runs AS
        WITH heavy AS (SELECT DISTINCT person_id FROM {t.am} WHERE unx >= {s}),
        nb AS (
            SELECT * FROM {t.am} SEMI JOIN heavy USING (person_id)),
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


def _episodes(t: BaseTables, e: Episodes, rules: Rules) -> None:
    """The table of runs with their grade, return and school days out. A pupil out for good
    has no rows once the school marks it 辍学 (or the records end): the school days of its
    school between the run and the return (or the end of the records) were missed too. The
    school's calendar is the most days any pupil of it was required to attend that month."""
    t.con.execute(
        f"""CREATE OR REPLACE TABLE {e.episodes} AS
        WITH cal AS (SELECT school_code, month, max(req) AS req FROM {t.am} GROUP BY ALL),
        r AS (
            SELECT r.*,
                   CASE WHEN r.last_pres > 0 THEN r.last_month
                        ELSE (SELECT min(a.month) FROM {t.am} a WHERE a.person_id = r.person_id
                              AND a.month > r.last_month AND a.pres > 0) END AS return_month
            FROM runs r),
        gr AS (
            SELECT r.person_id, r.run_no,
                   (SELECT arg_max(x.grade, x.term) FROM {t.reg} x
                    WHERE x.person_id = r.person_id
                      AND x.term <= term_of(r.first_month)) AS grade
            FROM r),
        r2 AS (
            SELECT r.*, gr.grade,
                   CASE WHEN gr.grade IS NULL THEN DATE '9999-12-31'
                        ELSE left_compulsory(r.first_month, gr.grade) END AS open_until
            FROM r JOIN gr USING (person_id, run_no)),
        mv AS (
            SELECT r.person_id, r.run_no,
                   (SELECT min(mv.month) FROM moves mv
                    WHERE mv.person_id = r.person_id AND mv.month > r.first_month) AS moved
            FROM r2 r),
        u AS (
            SELECT r.person_id, r.run_no, coalesce(sum(c.req), 0)::INTEGER AS unseen
            FROM r2 r JOIN mv USING (person_id, run_no)
            LEFT JOIN cal c ON c.school_code = arg_school
                 AND c.month > r.first_month
                 AND c.month < least(r.open_until, coalesce(mv.moved, r.open_until))
                 AND (r.return_month IS NULL OR c.month < r.return_month)
                 AND NOT EXISTS (SELECT 1 FROM {t.am} a WHERE a.person_id = r.person_id
                                 AND a.month = c.month)
            GROUP BY ALL)
        SELECT r.person_id, r.first_month, r.last_month, r.school_code, s.county_code,
               r.days + u.unseen AS days, r.months_out, r.return_month, r.grade, r.open_until,
               CASE WHEN r.days + u.unseen > {rules.dropout_days} THEN 'dropout'
                    ELSE 'suspected' END AS kind,
               r.evidence || CASE WHEN u.unseen > 0 THEN '；此后无考勤记录（' || u.unseen
                   || '个教学日）' ELSE '' END AS evidence
        FROM r2 r JOIN u USING (person_id, run_no) LEFT JOIN {t.schools} s USING (school_code)"""
    )
    t.con.execute("DROP TABLE runs")


def _registry_dropouts(t: BaseTables, e: Episodes) -> None:
    """Registry-marked dropouts the attendance does not show (rows stop once a school marks
    the pupil; a July dropout is marked at the autumn snapshot before any September row)."""
    t.con.execute(
        f"""INSERT INTO {e.episodes}
        WITH m AS (
            SELECT person_id, term, school_code, county_code, grade,
                   term_first_month(term) AS month
            FROM {t.reg} WHERE status = '辍学'),
        firsts AS (
            SELECT m.* FROM m WHERE NOT EXISTS (
                SELECT 1 FROM {e.episodes} x WHERE x.person_id = m.person_id
                  AND x.first_month <= m.month
                  AND (x.return_month IS NULL OR x.return_month >= m.month))),
        k AS (SELECT *, month - lag(month) OVER (PARTITION BY person_id ORDER BY month) AS gap
              FROM firsts)
        SELECT person_id, month, month, school_code, county_code, NULL, NULL,
               (SELECT min(a.month) FROM {t.am} a WHERE a.person_id = k.person_id
                  AND a.month > k.month AND a.pres > 0),
               grade, left_compulsory(month, grade),
               'dropout', '学籍标注辍学（' || term || '学期）'
        FROM k WHERE gap IS NULL OR gap > 200"""
    )


def _ledger_extends(t: BaseTables, e: Episodes, rules: Rules) -> None:
    """A run the persuasion ledger knows (a case detected within a month of it) lasts as
    long as the ledger says: from the ledger's detection if that is earlier, to its return
    date if that is later than the run's last month, or for good if the ledger has the child
    not back (a teacher may have marked the absent pupil present). The days added are the
    school's calendar days in between; the run becomes a dropout if they take it past the
    threshold."""
    t.con.execute(
        f"""CREATE OR REPLACE TEMP TABLE ext AS
        WITH cal AS (SELECT school_code, month, max(req) AS req FROM {t.am} GROUP BY ALL),
        last AS (SELECT (max(month) + INTERVAL 1 MONTH)::DATE AS m FROM {t.am}),
        x AS (
            SELECT e.person_id, e.first_month, e.school_code, e.last_month, e.open_until,
                   e.return_month,
                   min(l.detected) AS detected,
                   -- not back by the ledger: a case without a return date still open
                   -- (not closed by the family moving away, nor by age)
                   max(l.return_date) AS ledger_return,
                   bool_or(l.return_date IS NULL AND coalesce(l.outcome, '未返校') = '未返校')
                     AS not_back
            FROM {e.episodes} e JOIN {t.ledger} l ON l.person_id = e.person_id
                 AND l.detected BETWEEN e.first_month - INTERVAL 31 DAY
                     AND coalesce(e.return_month, e.last_month + INTERVAL 31 DAY)
            WHERE e.days IS NOT NULL
            GROUP BY ALL),
        spans AS (
            SELECT person_id, first_month, school_code, detected AS lo, first_month AS hi,
                   'start' AS side
            FROM x WHERE detected < first_month
            UNION ALL
            SELECT person_id, first_month, school_code,
                   (last_month + INTERVAL 1 MONTH)::DATE AS lo,
                   CASE WHEN not_back THEN least(open_until, (SELECT m FROM last))
                        ELSE ledger_return END AS hi,
                   CASE WHEN not_back THEN 'open' ELSE 'end' END AS side
            -- a run without a return already counts every school day to its end
            FROM x WHERE (not_back AND return_month IS NOT NULL)
                      OR (NOT not_back AND ledger_return > last_month + INTERVAL 1 MONTH)),
        d AS (
            SELECT s.person_id, s.first_month, s.side, min(s.lo) AS lo, max(s.hi) AS hi,
                   coalesce(sum(c.req * datediff('day', greatest(s.lo, c.month),
                                                 least(s.hi, (c.month + INTERVAL 1 MONTH)::DATE))
                                / datediff('day', c.month, (c.month + INTERVAL 1 MONTH)::DATE)),
                            0) AS days
            FROM spans s LEFT JOIN cal c ON c.school_code = s.school_code AND c.month < s.hi
                 AND c.month + INTERVAL 1 MONTH > s.lo
            WHERE s.hi > s.lo
            GROUP BY ALL)
        SELECT person_id, first_month,
               round(sum(days))::INTEGER AS added,
               min(CASE WHEN side = 'start' THEN date_trunc('month', lo)::DATE END) AS new_first,
               max(CASE WHEN side = 'end' THEN date_trunc('month', hi)::DATE END) AS new_return,
               bool_or(side = 'open') AS open_case,
               string_agg(CASE side WHEN 'start' THEN '劝返台账' || strftime(lo, '%Y-%m-%d') || '发现'
                                    WHEN 'end' THEN '劝返台账' || strftime(hi, '%Y-%m-%d') || '返校'
                                    ELSE '劝返台账记为未返校' END, '，' ORDER BY lo, side)
                 AS note
        FROM d GROUP BY ALL HAVING sum(days) > 0"""
    )
    t.con.execute(
        f"""UPDATE {e.episodes} e SET
               days = e.days + x.added,
               return_month = CASE WHEN x.open_case THEN NULL
                                   ELSE coalesce(x.new_return, e.return_month) END,
               last_month = CASE WHEN x.new_return IS NOT NULL AND NOT x.open_case
                                 THEN greatest(e.last_month,
                                               (x.new_return - INTERVAL 1 MONTH)::DATE)
                                 ELSE e.last_month END,
               kind = CASE WHEN e.days + x.added > {rules.dropout_days} THEN 'dropout'
                           ELSE e.kind END,
               evidence = e.evidence || '；' || x.note || '（按台账补记' || x.added
                          || '个教学日）',
               first_month = coalesce(x.new_first, e.first_month)
        FROM ext x
        WHERE x.person_id = e.person_id AND x.first_month = e.first_month"""
    )
    t.con.execute("DROP TABLE ext")


def _ledger_dropouts(t: BaseTables, e: Episodes, rules: Rules) -> None:
    """Cases of the persuasion ledger (劝返复学台账) that no run shows: the county opened a
    case, so the child was out, whatever the attendance says (a teacher may have kept
    marking an absent pupil present). The run goes from the month of the ledger's detection
    date to its return date (or the end of compulsory schooling, or of the records); its
    school days are the school's calendar days in between, and it is a dropout or a
    suspected one by the same thresholds as any run."""
    t.con.execute(
        f"""INSERT INTO {e.episodes}
        WITH last AS (SELECT max(month) AS m FROM {t.am}),
        cal AS (SELECT school_code, month, max(req) AS req FROM {t.am} GROUP BY ALL),
        l AS (
            SELECT DISTINCT person_id, detected, return_date, outcome FROM {t.ledger}
            WHERE detected IS NOT NULL AND (return_date IS NULL OR return_date > detected)),
        unc AS (
            SELECT l.* FROM l WHERE NOT EXISTS (
                SELECT 1 FROM {e.episodes} x WHERE x.person_id = l.person_id
                  AND x.first_month <= l.detected + INTERVAL 31 DAY
                  AND coalesce(x.return_month, DATE '9999-12-31') + INTERVAL 31 DAY
                      >= l.detected)),
        r AS (
            SELECT u.*, x.school_code, x.county_code, x.grade
            FROM unc u, LATERAL (
                SELECT arg_max(g.school_code, g.term) AS school_code,
                       arg_max(g.county_code, g.term) AS county_code,
                       arg_max(g.grade, g.term) AS grade
                FROM {t.reg} g WHERE g.person_id = u.person_id
                  AND g.term <= term_of(u.detected)) x
            WHERE x.school_code IS NOT NULL),
        b AS (
            SELECT r.*, left_compulsory(date_trunc('month', r.detected)::DATE, r.grade)
                          AS open_until,
                   least(coalesce(r.return_date, DATE '9999-12-31'),
                         left_compulsory(date_trunc('month', r.detected)::DATE, r.grade),
                         ((SELECT m FROM last) + INTERVAL 1 MONTH)::DATE,
                         -- a family that moved away: until the registry has it 转出
                         coalesce((SELECT min(mv.month) FROM moves mv
                    WHERE mv.person_id = r.person_id AND mv.month > r.detected),
                                  DATE '9999-12-31')) AS until
            FROM r),
        d AS (
            SELECT b.person_id, b.detected,
                   coalesce(sum(c.req * datediff('day', greatest(b.detected, c.month),
                                                 least(b.until, (c.month + INTERVAL 1 MONTH)::DATE))
                                / datediff('day', c.month, (c.month + INTERVAL 1 MONTH)::DATE)),
                            0) AS days
            FROM b LEFT JOIN cal c ON c.school_code = b.school_code AND c.month < b.until
                 AND c.month + INTERVAL 1 MONTH > b.detected
            GROUP BY ALL),
        -- the days the attendance does show missed in the months of the case
        s AS (
            SELECT b.person_id, b.detected, sum(a.unx) AS unx
            FROM b JOIN {t.am} a ON a.person_id = b.person_id
                 AND a.month >= date_trunc('month', b.detected) AND a.month < b.until
            GROUP BY ALL)
        SELECT b.person_id, date_trunc('month', b.detected)::DATE,
               (date_trunc('month', b.until - INTERVAL 1 DAY))::DATE, b.school_code,
               b.county_code, round(greatest(d.days, coalesce(s.unx, 0)))::INTEGER, NULL,
               CASE WHEN b.return_date IS NOT NULL
                    THEN date_trunc('month', b.return_date)::DATE END,
               b.grade, b.open_until,
               CASE WHEN greatest(d.days, coalesce(s.unx, 0)) > {rules.dropout_days}
                    THEN 'dropout' ELSE 'suspected' END,
               '劝返台账：' || strftime(b.detected, '%Y-%m-%d') || '发现' ||
               CASE WHEN b.return_date IS NOT NULL
                    THEN '，' || strftime(b.return_date, '%Y-%m-%d') || '返校'
                    ELSE '，' || coalesce(b.outcome, '未返校') END
               || CASE WHEN coalesce(s.unx, 0) > 0 THEN '（考勤旷课' || s.unx || '天）'
                       ELSE '（考勤未显示缺课）' END
        FROM b JOIN d USING (person_id, detected)
        LEFT JOIN s USING (person_id, detected)
        WHERE greatest(d.days, coalesce(s.unx, 0)) > {rules.suspected_days}"""
    )


def _episode_years(t: BaseTables, e: Episodes) -> None:
    """School days out per school year of each run (the months of the run and of the return
    from the attendance, the months without rows from the school's calendar), so a run
    counts in a school year only if the pupil missed school in it: not for a July dropout's
    last days of term, nor for a return on the first day of September."""
    t.con.execute(
        f"""CREATE OR REPLACE TABLE {e.episode_years} AS
        WITH cal AS (SELECT school_code, month, max(req) AS req FROM {t.am} GROUP BY ALL),
        x AS (SELECT e.person_id, e.first_month, e.school_code,
                     coalesce(e.return_month,
                              least(e.open_until, coalesce(
                                  (SELECT min(mv.month) FROM moves mv
                    WHERE mv.person_id = e.person_id AND mv.month > e.first_month),
                                  e.open_until))) AS until
              FROM {e.episodes} e),
        seen AS (
            SELECT x.person_id, x.first_month, a.month, a.unx AS days
            FROM x JOIN {t.am} a ON a.person_id = x.person_id
                 AND a.month >= x.first_month AND a.month <= x.until),
        unseen AS (
            SELECT x.person_id, x.first_month, c.month, c.req AS days
            FROM x JOIN cal c ON c.school_code = x.school_code
                 AND c.month >= x.first_month AND c.month < x.until
            ANTI JOIN {t.am} a ON a.person_id = x.person_id AND a.month = c.month)
        SELECT person_id, first_month, school_year(month) AS school_year,
               sum(days)::INTEGER AS days
        FROM (SELECT * FROM seen UNION ALL SELECT * FROM unseen)
        GROUP BY ALL"""
    )
