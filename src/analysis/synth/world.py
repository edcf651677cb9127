"""Build one synthetic prefecture: geography, people, five school years, true indicators."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.indicators import consolidation_rates, enrolment_rates
from analysis.synth.geography import Geography, build_geography
from analysis.synth.params import SCHOOL_YEARS, SynthParams
from analysis.synth.population import Population, build_population, cohort_member
from analysis.synth.schooling import Schooling, simulate_schooling

ENROLLED_STATUSES = ("in_school", "home_teaching")


@dataclass
class World:
    """A whole synthetic prefecture, with everything that is true about it."""

    params: SynthParams
    geo: Geography
    pop: Population
    school: Schooling
    child_years: pd.DataFrame
    indicators: pd.DataFrame
    consolidation: pd.DataFrame


def build_world(params: SynthParams) -> World:
    """Simulate the prefecture for ``params`` (deterministic for a given seed)."""
    rng = np.random.default_rng(params.seed)
    geo = build_geography(params, rng)
    pop = build_population(params, rng, geo)
    school = simulate_schooling(params, rng, geo, pop)
    pop = _settle_never_enrolled(params, rng, pop, school, geo)
    child_years = child_year_frame(pop.children, school, geo)
    indicators = enrolment_rates(child_years)
    consolidation = consolidation_rates(
        registry_frame(pop.children, school, geo), [2017, 2018, 2019, 2020]
    )
    return World(params, geo, pop, school, child_years, indicators, consolidation)


def child_year_frame(children: pd.DataFrame, school: Schooling, geo: Geography) -> pd.DataFrame:
    """One row per child and school year (autumn census): age, residence, enrolment, grade."""
    st = school.student_terms
    autumn = {k: t.year for k, t in enumerate(school.terms) if t.autumn}
    st = st[st["k"].isin(autumn)]
    s_county = geo.schools["county_code"].to_numpy()
    frames = []
    A = children["A"].to_numpy()
    mo = children["move_out_year"].to_numpy()
    ar = children["arrive_year"].to_numpy()
    outside = children["living_outside"].to_numpy()
    for k, y in autumn.items():
        sy = st[st["k"] == k]
        enrolled = np.zeros(len(children), bool)
        grade = np.zeros(len(children), np.int16)
        sch = np.full(len(children), -1)
        enr = sy["status"].isin(ENROLLED_STATUSES).to_numpy()
        ch = sy["child"].to_numpy()
        enrolled[ch[enr]] = True
        grade[ch] = sy["grade"].to_numpy()
        sch[ch] = sy["school"].to_numpy()
        resident = ~outside & ~((mo > 0) & (mo <= y)) & ((ar == 0) | (ar <= y))
        county = np.where(
            enrolled & (sch >= 0), s_county[np.maximum(sch, 0)], children["county_code"].to_numpy()
        )
        frames.append(
            pd.DataFrame(
                {
                    "year": y,
                    "child": np.arange(len(children)),
                    "county_code": county.astype(str),
                    "age": 6 + y - A,
                    "resident": resident,
                    "enrolled": enrolled,
                    "grade": grade,
                    "disabled": children["disabled"].to_numpy(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def registry_frame(children: pd.DataFrame, school: Schooling, geo: Geography) -> pd.DataFrame:
    """Registry members with entry year, graduation year, last school county, cohort membership."""
    st = school.student_terms
    last = st.sort_values(["child", "k"]).groupby("child").tail(1)
    county = pd.Series(
        geo.schools["county_code"].to_numpy()[last["school"].to_numpy()],
        index=last["child"].to_numpy(),
    )
    ever = np.zeros(len(children), bool)
    ever[last["child"].to_numpy()] = True
    reg = pd.DataFrame(
        {
            "child": np.arange(len(children)),
            "entry_year": children["entry_year"].to_numpy(),
            "graduated_year": school.graduated_year,
            "county_code": county.reindex(np.arange(len(children)))
            .fillna(0)
            .astype(int)
            .astype(str)
            .to_numpy(),
        }
    )
    for y in (2017, 2018, 2019, 2020):
        reg[f"member_{y}"] = cohort_member(children, y) & ever
    return reg[ever].reset_index(drop=True)


def _settle_never_enrolled(
    params: SynthParams,
    rng: np.random.Generator,
    pop: Population,
    school: Schooling,
    geo: Geography,
) -> Population:
    """Keep just enough never-enrolled candidates that the 2020 rates equal the seed's.

    Everything else that decides the 2020 rates is fixed by then (late entry, suspensions,
    dropouts all returned by the campaign); never-enrolled children only add to
    denominators, so each rate is met by adding the right number of them.
    """
    c = pop.children
    frame = child_year_frame(c, school, geo)
    f20 = frame[frame["year"] == 2020].copy()
    pool = c["never_enrolled"].to_numpy()
    f20.loc[pool, "resident"] = False  # candidates not counted until chosen
    t = params.targets
    res = f20[f20["resident"]]

    def need(mask_band, mask_in, rate):
        n_band, n_in = int(mask_band.sum()), int(mask_in.sum())
        return max(0, int(round(n_in / (rate / 100) - n_band)))

    pb = res["age"].between(6, 11)
    jb = res["age"].between(12, 14)
    db = res["age"].between(6, 14) & res["disabled"]
    x_p = need(pb, pb & res["enrolled"], t["primary_enrolment_rate"])
    x_j = need(jb, jb & res["enrolled"] & (res["grade"] >= 7), t["junior_enrolment_rate"])
    x_d = need(db, db & res["enrolled"], t["disabled_enrolment_rate"])
    age20 = 6 + 2020 - c["A"].to_numpy()
    kind = c["pool_kind"].to_numpy()
    chosen = []
    # Disabled deferrals first (younger first), then plain never-enrolled per band.
    dis_p = np.flatnonzero(pool & (kind == "disabled") & (age20 <= 11))
    dis_j = np.flatnonzero(pool & (kind == "disabled") & (age20 >= 12))
    d_p = min(x_d, x_p, len(dis_p))
    d_j = min(x_d - d_p, x_j, len(dis_j))
    chosen += list(dis_p[:d_p]) + list(dis_j[:d_j])
    plain_p = np.flatnonzero(pool & (kind == "plain") & (age20 <= 11))
    plain_j = np.flatnonzero(pool & (kind == "plain") & (age20 >= 12))
    if x_p - d_p > len(plain_p) or x_j - d_j > len(plain_j):
        raise RuntimeError("never-enrolled pool too small for the calibration")
    chosen += list(plain_p[: x_p - d_p]) + list(plain_j[: x_j - d_j])
    keep = ~pool
    keep[np.asarray(chosen, dtype=int)] = True
    if not keep.all():
        # Removing rows shifts positional child indices: rebuild the schooling indices.
        old_to_new = np.cumsum(keep) - 1
        for name in ("student_terms", "attendance", "cases", "screening"):
            df = getattr(school, name)
            if len(df) and "child" in df:
                df["child"] = old_to_new[df["child"].to_numpy()]
        school.graduated_year = school.graduated_year[keep]
        school.extra["village_final"] = school.extra["village_final"][keep]
        c = c[keep].reset_index(drop=True)
    c = c.drop(columns=["pool_kind"])
    c["person_id"] = [f"C{i:07d}" for i in range(len(c))]
    households = pop.households[pop.households["household_id"].isin(c["household_id"])].reset_index(
        drop=True
    )
    return Population(households=households, children=c, parents=pop.parents)


def summary_figures(world: World) -> dict[str, float]:
    """The seed's figures as this world has them (school year 2020/21 unless said)."""
    st = world.school.student_terms
    k2020 = next(k for k, t in enumerate(world.school.terms) if t.year == 2020 and t.autumn)
    enrolled = st[(st["k"] == k2020) & st["status"].isin(ENROLLED_STATUSES)]
    cases = world.school.cases
    ret = cases["return_date"]
    in_1920 = (ret >= np.datetime64("2019-09-01")) & (ret <= np.datetime64("2020-08-31"))
    pref = world.indicators[
        (world.indicators["year"] == 2020) & (world.indicators["county_code"] == "5304")
    ].iloc[0]
    cons = world.consolidation[
        (world.consolidation["year"] == 2020) & (world.consolidation["county_code"] == "5304")
    ].iloc[0]
    sch = world.geo.schools
    return {
        "primary_schools": int((sch["stage"] == "小学").sum()),
        "junior_schools": int((sch["stage"] == "初中").sum()),
        "primary_students": int((enrolled["grade"] <= 6).sum()),
        "junior_students": int((enrolled["grade"] >= 7).sum()),
        "returns_2019": int(in_1920.sum()),
        "primary_enrolment_rate": float(pref["primary_enrolment_rate"]),
        "junior_enrolment_rate": float(pref["junior_enrolment_rate"]),
        "disabled_enrolment_rate": float(pref["disabled_enrolment_rate"]),
        "consolidation_rate": float(cons["consolidation_rate"]),
    }


__all__ = ["SCHOOL_YEARS", "World", "build_world", "summary_figures"]
