"""The three comparison lists and the consolidation rate against the truth.

Our persons are mapped to true ones by the truth of their rows (the most frequent:
:meth:`analysis.validate.truth.Truth.persons`).

* **List 1** (失学 and 残疾缓学, per school year) against the resident children of the
  compulsory-school ages (completed years on 31 August) whose true autumn status is never
  enrolled or not yet in school; residents exclude children living outside with their
  parents, those who moved away by that year and those not yet arrived, as the indicators
  do.
* **List 2**: a run of ours is right when the child has a true persuasion case whose time
  out of school overlaps it; a true case is found when a run overlaps it. For dropouts (辍学)
  the true cases are those out for more than the rule's ``dropout_days`` school days,
  counted on the prefecture's school calendar (the most days any pupil was required to
  attend each month, prorated over part months): a child out from 8 July to 1 September
  missed 7 school days, not a month. Cases before the records begin or after they end are
  left out.
* **List 3**, per school year: the children of the true list 1 and of the true dropout
  cases who missed more than a school week of that year (on the same calendar), whose
  household was registered as poor by then in the prefecture's registry (a migrant child's
  household is registered where it came from, not here).
* **Consolidation rate** per graduation year against the true one.
"""

from __future__ import annotations

import pandas as pd

from analysis.config import DEFAULT_RULES, Rules
from analysis.engine import scan
from analysis.layout import Layout
from analysis.link.lists import OUT_OF_SCHOOL
from analysis.runs import read_manifest
from analysis.validate.truth import Truth


def _scores(ours: int, truth: int, hits_ours: int, hits_truth: int) -> dict:
    """Precision (share of our rows that are right) and recall (share of the true ones we
    found); the two hit counts differ when one row of ours matches several true ones."""
    return {
        "listed": ours,
        "true": truth,
        "precision": round(hits_ours / ours, 4) if ours else 1.0,
        "recall": round(hits_truth / truth, 4) if truth else 1.0,
    }


def _overlap(con, ours: str, true: str, on: str) -> dict:
    n_o = con.execute(f"SELECT count(*) FROM {ours}").fetchall()[0][0]
    n_t = con.execute(f"SELECT count(*) FROM {true}").fetchall()[0][0]
    h_o = con.execute(
        f"SELECT count(*) FROM {ours} o WHERE EXISTS (SELECT 1 FROM {true} t WHERE {on})"
    ).fetchall()[0][0]
    h_t = con.execute(
        f"SELECT count(*) FROM {true} t WHERE EXISTS (SELECT 1 FROM {ours} o WHERE {on})"
    ).fetchall()[0][0]
    return _scores(n_o, n_t, h_o, h_t)


def validate_checks(layout: Layout, truth: Truth, rules: Rules = DEFAULT_RULES) -> dict:
    """Score the lists against the truth (see the module docstring).

    Parameters
    ----------
    layout : the data folder whose ``checks/`` and indicators are scored.
    truth : the truth.
    rules : the monitoring rules the lists were built with.

    Returns
    -------
    dict
        Precision and recall of each list (``not_enrolled``, ``suspected_and_dropouts``,
        ``dropouts``, ``poverty``), list 1 by year, and the consolidation rate.

    Examples
    --------
    >>> with Truth(prefecture_truth) as t:
    ...     v = validate_checks(prefecture, t)
    >>> v["dropouts"]["recall"] > 0.9, "consolidation" in v
    (True, True)
    """
    con = truth.con
    tp = truth.persons(layout)
    out = _list1(layout, truth, tp, rules)
    _true_cases(layout, truth)
    con.execute(
        f"""CREATE OR REPLACE TABLE o2 AS
        SELECT coalesce(tp.tpid, l.person_id) AS tpid, l.category, l.first_month,
               coalesce(l.return_month, DATE '9999-12-31') AS back
        FROM {scan(layout.check("dropouts"))} l LEFT JOIN {tp} tp USING (person_id)"""
    )
    on2 = (
        "o.tpid = t.tpid AND o.first_month < t.back AND o.back >= date_trunc('month', t.dropped_on)"
    )
    out["suspected_and_dropouts"] = _overlap(con, "o2", "cases", on2)
    out["dropouts"] = _overlap(
        con,
        "(SELECT * FROM o2 WHERE category = '辍学')",
        f"(SELECT * FROM cases WHERE school_days > {rules.dropout_days})",
        on2,
    )
    out["poverty"] = _list3(layout, truth, tp, rules)
    cons = _consolidation(layout, truth)
    if cons:
        out["consolidation"] = cons
    return out


def _list1(layout: Layout, truth: Truth, tp: str, rules: Rules) -> dict:
    """List 1 against the truth, over all years and per year; leaves ``t1`` for list 3."""
    con = truth.con
    lo, hi = rules.school_age
    con.execute(
        f"""CREATE OR REPLACE TABLE t1 AS
        SELECT term_year(s.term) AS y, s.person_id AS tpid
        FROM {truth.table("status")} s JOIN {truth.table("kids")} p USING (person_id)
        WHERE right(s.term, 1) = '1' AND s.status IN ('never_enrolled', 'not_yet_in_school')
          AND NOT p.migrant AND NOT p.living_outside
          AND NOT (p.move_out_year > 0 AND p.move_out_year <= term_year(s.term))
          AND NOT (p.arrive_year > term_year(s.term))
          AND census_age(p.birth_date, term_year(s.term)) BETWEEN {lo} AND {hi}"""
    )
    cats = ", ".join(f"'{c}'" for c in OUT_OF_SCHOOL if c in ("失学", "残疾缓学"))
    con.execute(
        f"""CREATE OR REPLACE TABLE o1 AS
        SELECT DISTINCT l.school_year AS y, coalesce(tp.tpid, l.person_id) AS tpid
        FROM {scan(layout.check("not_enrolled"))} l LEFT JOIN {tp} tp USING (person_id)
        WHERE l.category IN ({cats})"""
    )
    on = "o.y = t.y AND o.tpid = t.tpid"
    out: dict = {"not_enrolled": _overlap(con, "o1", "t1", on)}
    out["not_enrolled_by_year"] = {
        str(y): _overlap(
            con, f"(SELECT * FROM o1 WHERE y = {y})", f"(SELECT * FROM t1 WHERE y = {y})", on
        )
        for (y,) in con.execute("SELECT DISTINCT y FROM t1 ORDER BY y").fetchall()
    }
    return out


def _true_cases(layout: Layout, truth: Truth) -> None:
    """``case_years`` (each true case's school days out per school year, on the school
    calendar of the clean attendance) and ``cases`` (its total)."""
    con = truth.con
    con.execute(
        f"""CREATE OR REPLACE TABLE cal AS
        SELECT month, max(days_required) AS req FROM {scan(layout.table("attendance"))}
        GROUP BY month"""
    )
    con.execute(
        f"""CREATE OR REPLACE TABLE case_years AS
        WITH c AS (
            SELECT row_number() OVER (ORDER BY person_id, dropped_on) AS cid,
                   person_id AS tpid, dropped_on,
                   coalesce(return_date, closed, DATE '9999-12-31') AS back
            FROM {truth.table("cases")})
        SELECT c.cid, c.tpid, c.dropped_on, c.back, school_year(k.month) AS school_year,
               sum(k.req * datediff('day', greatest(c.dropped_on, k.month),
                                    least(c.back, (k.month + INTERVAL 1 MONTH)::DATE))
                   / datediff('day', k.month, (k.month + INTERVAL 1 MONTH)::DATE))
                 AS school_days
        FROM c JOIN cal k ON k.month < c.back AND k.month + INTERVAL 1 MONTH > c.dropped_on
        WHERE c.dropped_on >= (SELECT min(month) FROM cal)
          AND c.dropped_on < (SELECT max(month) FROM cal)
        GROUP BY ALL"""
    )
    con.execute(
        """CREATE OR REPLACE TABLE cases AS
        SELECT cid, tpid, dropped_on, back, sum(school_days) AS school_days
        FROM case_years GROUP BY ALL"""
    )


def _list3(layout: Layout, truth: Truth, tp: str, rules: Rules) -> dict:
    """List 3 against the true list 1 and dropout cases of poor households."""
    con = truth.con
    con.execute(
        f"""CREATE OR REPLACE TABLE t3 AS
        WITH poor AS (
            SELECT k.person_id AS tpid, h.poverty_registered_year AS reg
            FROM {truth.table("kids")} k JOIN {truth.table("households")} h
                 USING (household_id)
            WHERE h.poverty_registered_year > 0 AND NOT k.migrant),
        outs AS (
            SELECT y, tpid FROM t1
            UNION
            SELECT cy.school_year, cy.tpid FROM case_years cy JOIN cases c USING (cid)
            WHERE c.school_days > {rules.dropout_days} AND cy.school_days > {rules.suspected_days})
        SELECT DISTINCT outs.y, outs.tpid FROM outs JOIN poor USING (tpid) WHERE poor.reg <= outs.y"""
    )
    con.execute(
        f"""CREATE OR REPLACE TABLE o3 AS
        SELECT DISTINCT l.school_year AS y, coalesce(tp.tpid, l.person_id) AS tpid
        FROM {scan(layout.check("poverty"))} l LEFT JOIN {tp} tp USING (person_id)"""
    )
    return _overlap(con, "o3", "t3", "o.y = t.y AND o.tpid = t.tpid")


def _consolidation(layout: Layout, truth: Truth) -> dict | None:
    """Our consolidation rate per graduation year against the true one."""
    doc = read_manifest(layout.indicators)
    if not doc or "consolidation" not in doc:
        return None
    ours = pd.DataFrame(doc["consolidation"])
    true = pd.read_parquet(truth.path("consolidation"))
    m = ours.merge(true, on=["year", "county_code"], suffixes=("", "_true"))
    pref = m[m["county_code"] == "5304"]
    return {
        "prefecture": {
            str(r.year): {
                "ours": r.consolidation_rate,
                "true": r.consolidation_rate_true,
                "diff_points": round(r.consolidation_rate - r.consolidation_rate_true, 4),
            }
            for r in pref.itertuples()
        },
        "max_abs_diff_points_any_county_year": round(
            float((m["consolidation_rate"] - m["consolidation_rate_true"]).abs().max()), 4
        ),
    }
