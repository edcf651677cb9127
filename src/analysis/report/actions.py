"""This month's actions of a county: whom to pair with a mentor, whom to follow up, which
schools to inspect. What a county report shows first and what its ledger (台账) holds.

* **Red list** (:func:`red_list`): the model's list for the coming term, with the school
  that answers for each child then (see :mod:`analysis.model.responsible`).
* **Follow-up** (:func:`follow_up`): children of the three comparisons who are still out of
  school or not yet accounted for: list 1's 失学, 残疾缓学 and 辍学 of the latest school year,
  list 2's runs not returned (辍学, 疑似辍学) that are still of compulsory-school age, list 3's
  children of poor households. One row per child, naming every list the child is on.
* **Inspection plan** (:func:`inspection_plan`): the county's junior-middle schools in the
  next ``cycle`` months, at least ``per_month`` a month, so that every one is visited within
  the cycle; the riskiest first (expected dropouts of the coming term, from the model).

Every frame holds ID numbers masked; ``person_id`` (pseudonymous) is the key a filled
ledger comes back with.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis.layout import Layout
from analysis.report.period import add_months, first_day
from analysis.report.sources import county_rows, inspections, roster

#: The comparisons' categories that still need someone to act (list 1 and list 2).
OPEN_NOT_ENROLLED = ("失学", "残疾缓学", "辍学")
OPEN_DROPOUT = ("辍学", "疑似辍学")


def red_list(layout: Layout, county: str) -> pd.DataFrame:
    """The county's red list (:func:`analysis.model.stage`), in rank order."""
    red = pd.read_parquet(layout.red_list(county))
    return red.sort_values("rank_in_county", ignore_index=True)


def follow_up(layout: Layout, county: str, period: str) -> pd.DataFrame:
    """The children of ``county`` on the three comparison lists who still need follow-up
    as of ``period`` (see the module docstring), one row per child.

    Returns
    -------
    pandas.DataFrame
        ``person_id``, ``name``, ``id_masked``, ``sex``, ``birth_date``, ``township``,
        ``school_name``, ``responsible_unit``, ``lists`` (e.g. ``1、3``), ``category``,
        ``since`` (the month or school year the child was found), ``case_step`` (the
        persuasion ledger's last step), ``evidence``; sorted by township and name.
    """
    start = pd.Timestamp(first_day(period))
    year = start.year if start.month >= 9 else start.year - 1
    parts = []
    one = county_rows(layout.check("not_enrolled"), county)
    one = one[
        (one["school_year"] == one["school_year"].max()) & one["category"].isin(OPEN_NOT_ENROLLED)
    ]
    one = one[one["school_year"] <= year]
    parts.append(
        one.assign(lists="1", since=one["school_year"].astype(str) + "学年", case_step=None)
    )
    two = county_rows(layout.check("dropouts"), county)
    two = two[
        two["category"].isin(OPEN_DROPOUT)
        & (two["returned"] == "未返校")
        & (pd.to_datetime(two["open_until"]) >= start)
        & (pd.to_datetime(two["first_month"]) < start)
    ]
    parts.append(
        two.assign(lists="2", since=pd.to_datetime(two["first_month"]).dt.strftime("%Y-%m"))
    )
    three = county_rows(layout.check("poverty"), county)
    three = three[
        (three["school_year"] == three["school_year"].max()) & (three["school_year"] <= year)
    ]
    three = three[three["person_id"].isin(set(one["person_id"]) | set(two["person_id"]))]
    parts.append(
        three.rename(columns={"reason": "category"}).assign(
            lists="3", since=three["school_year"].astype(str) + "学年", case_step=None
        )
    )
    cols = [
        "person_id", "name", "id_masked", "sex", "birth_date", "township", "school_name",
        "responsible_unit", "lists", "category", "since", "case_step", "evidence",
    ]  # fmt: skip
    parts = [p.reindex(columns=cols) for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=cols)
    rows = pd.concat(parts, ignore_index=True)
    first = rows.groupby("person_id", sort=False).first()  # list 1's or 2's row leads
    first["lists"] = rows.groupby("person_id", sort=False)["lists"].agg(
        lambda s: "、".join(sorted(set(s)))
    )
    return first.reset_index()[cols].sort_values(["township", "name"], ignore_index=True)


def inspection_plan(
    layout: Layout, county: str, period: str, *, per_month: int = 5, cycle: int = 2
) -> pd.DataFrame:
    """The junior-middle schools of ``county`` to inspect in the ``cycle`` months after
    ``period``.

    Each month takes ``max(per_month, ceil(N / cycle))`` schools (all ``N`` if fewer), so
    every school is visited within the cycle; the schools with the most expected dropouts in
    the coming term go first, and among equals the one visited longest ago.

    Returns
    -------
    pandas.DataFrame
        ``month`` (YYYY-MM), ``school_code``, ``school_name``, ``township``, ``pupils``,
        ``expected_dropouts`` (pupils a term), ``red_listed``, ``last_visit`` (the latest
        inspection before ``period``, or missing).
    """
    schools = roster(layout, county)
    junior = schools[schools["stage"] == "初中"]
    risk = pd.read_parquet(layout.school_risk, filters=[("county_code", "==", str(county))])
    visits = inspections(layout)
    visits = visits[visits["date"] < pd.Timestamp(first_day(period))]
    last = visits.groupby("school_code")["date"].max().rename("last_visit")
    plan = (
        junior.merge(risk.drop(columns="county_code"), on="school_code", how="left")
        .merge(last, left_on="school_code", right_index=True, how="left")
        .fillna({"pupils": 0, "expected_dropouts": 0.0, "red_listed": 0})
    )
    never = pd.Timestamp("1900-01-01")
    plan = plan.assign(_last=plan["last_visit"].fillna(never)).sort_values(
        ["expected_dropouts", "_last", "school_code"], ascending=[False, True, True]
    )
    n = len(plan)
    size = min(n, max(per_month, math.ceil(n / cycle))) if n else 0
    month = [add_months(period, 1 + i // size) for i in range(n)] if size else []
    plan = plan.assign(month=month)
    cols = [
        "month", "school_code", "school_name", "township", "pupils", "expected_dropouts",
        "red_listed", "last_visit",
    ]  # fmt: skip
    out = plan[cols].reset_index(drop=True)
    return out.astype({"pupils": "int64", "red_listed": "int64"})


def inspections_done(layout: Layout, period: str, *, per_month: int = 5, cycle: int = 2):
    """Per county, the junior-middle schools inspected in the ``cycle`` months before
    ``period`` against the plan's rule.

    Returns
    -------
    pandas.DataFrame
        ``county_code``, ``junior_schools`` (N), ``required`` (the plan's visits in the
        cycle: ``max(min(per_month, N) * cycle, N)``), ``visits``, ``schools_visited``,
        ``share_visited`` (0–1), ``months`` (the window, e.g. ``2021-06～2021-07``).
    """
    schools = roster(layout)
    junior = schools[schools["stage"] == "初中"][["school_code", "county_code"]]
    start = pd.Timestamp(first_day(add_months(period, -cycle)))
    end = pd.Timestamp(first_day(period))
    v = inspections(layout)
    v = v[(v["date"] >= start) & (v["date"] < end)].merge(junior, on="school_code")
    per = junior.groupby("county_code").size().rename("junior_schools")
    done = v.groupby("county_code").agg(
        visits=("school_code", "size"), schools_visited=("school_code", "nunique")
    )
    out = pd.concat([per, done], axis=1).fillna(0).astype("int64").reset_index()
    out["required"] = np.maximum(
        np.minimum(out["junior_schools"], per_month) * cycle, out["junior_schools"]
    )
    out["share_visited"] = out["schools_visited"] / out["junior_schools"].where(
        out["junior_schools"] > 0
    )
    out["months"] = f"{add_months(period, -cycle)}～{add_months(period, -1)}"
    return out
