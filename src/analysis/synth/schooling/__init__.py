"""Schooling dynamics of the synthetic prefecture, term by term, 2016/17 to 2020/21.

:func:`simulate_schooling` runs the terms over a :class:`~.state.State`, each term as the
phases of :mod:`.term` and :mod:`.months`; persuasion cases are in :mod:`.cases`.

The causal structure (what drives what), in the order the simulation applies it:

* **Engagement** ``e`` is latent and drifts monthly: ``e[m+1] = mu + 0.85 (e[m] - mu) + N(0, .45)``
  around a child's mean ``mu`` (lower with learning difficulty, poverty, left-behind status and
  a latent household factor). It is never written to a raw file.
* **Attendance** each school month follows engagement: unexcused days are binomial with
  ``logit p = -5.2 - 1.1 e``; personal leave rises as engagement falls and in farm seasons, and
  for poor households; sick leave is mostly noise. In the month or two before a dropout,
  engagement sinks (the trace a good model can learn from *after* it happens, never before the
  as-of date). During the early-2020 closure no attendance is recorded at all.
* **Dropout hazard** per term for each student in school at the term's start:
  ``logit h = alpha[term, county, stage] + x`` with ``x`` built from engagement at the term's
  start, age for grade, learning difficulty, poverty (current, lifted), low-income support,
  left-behind, disability, migrant status, the household factor, siblings who dropped out,
  sex (boys in junior-middle; girls of 14+ in the autonomous counties: early marriage),
  grade, and having returned after an earlier dropout. ``alpha`` is solved so that the
  expected count matches the schedule in :mod:`analysis.synth.params` (falling each year,
  higher in the autonomous counties and in junior-middle school), times a county-by-term
  shock (so the counties' trends are parallel only in expectation). Treatments then
  multiply the probability by their county's true risk ratio. One uniform per pupil-term
  decides the dropout (common random numbers), so the truth holds each pupil's outcome
  under the other treatment too, not only the probabilities.
* **Persuasion to return** (劝返, the four steps 四步法): a dropout is detected after a school
  week of unexcused absence; persuasion starts; if the child is not back, an order to correct
  follows after about 30 days, an administrative penalty about 30 days later, an
  application to court about 45 days after that (escalation used more each year; the gaps
  vary and offices act on working days, :data:`analysis.calendar.PUBLIC_HOLIDAYS`). The
  daily return hazard is multiplied at each step by the county's true step effect. Returned children rejoin their class; their
  risk stays high for two terms (re-dropout, 反弹). A child whose class has graduated while
  out is lost. In 2019/20 the campaign returns every dropout by 10 July 2020, as the seed
  reports (407 returns, exact by construction); the truth flags those forced returns.
* **Red-list mentoring** (红名单结对包保): from its start term, each county ranks its students by
  its own screening score (a formula on last term's observed attendance, poverty, age for
  grade, earlier return, left-behind, plus teachers' judgement, which knows each pupil's
  unrecorded engagement) and lists the top ``capacity`` students. Compliance is imperfect
  both ways (listed pupils not mentored, next-ranked pupils mentored without listing): a
  fuzzy cutoff, for regression discontinuity. True effect: risk ratio per county.
* **County policies** adopted at different terms (some counties never): video verification of
  attendance (视频核查, all students) and a raised boarding allowance for poor students
  (寄宿生生活补助提标, poverty-registered boarders). True effect: risk ratio per county.
* **Inspections** (督查) are recorded but have no effect on dropout: a placebo.

Magnitudes are grounded in published work:

* Annual junior-high dropout of 7-8 % in a poor rural county, 13 % among poor households;
  a conditional cash transfer cut dropout by 60 % (Mo, Zhang, Yi, Luo, Rozelle & Brinton,
  2013, *Journal of Development Studies* 49(2):190-207). We use smaller mean effects for a
  non-cash boarding allowance (risk ratio 0.70).
* Mentoring of at-risk students (Check & Connect) shows small, uncertain effects in general
  education (Heppen et al., 2018, *Journal of Research on Educational Effectiveness*
  11(1):56-82; Guryan et al., 2021, *Journal of Policy Analysis and Management*
  40(3):841-882) and larger ones for students with disabilities (Sinclair et al., 1998,
  *Exceptional Children* 65(1):7-21): mean risk ratio 0.75 here.
* County spread of every effect: standard deviation about half the mean effect, as the issue
  asks; drawn per county from the seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.calendar import Term, in_closure, terms
from analysis.synth.geography import Geography
from analysis.synth.params import CAMPAIGN_DEADLINE, SCHOOL_YEARS, SynthParams
from analysis.synth.population import Population
from analysis.synth.schooling import months as M
from analysis.synth.schooling import term as T
from analysis.synth.schooling.months import days_required
from analysis.synth.schooling.state import EFFECT_MEANS, STEP_EFFECT_MEANS, State


@dataclass
class Schooling:
    """Everything that happened, in truth, plus the records the bureau's systems kept.
    ``terms`` are the simulated terms in order; a term's index in it is its ``k``."""

    terms: list[Term]
    schools: pd.DataFrame
    student_terms: pd.DataFrame  # truth: one row per child in the registry per term
    attendance: pd.DataFrame  # per child per school month (what schools recorded)
    cases: pd.DataFrame  # persuasion-to-return cases
    screening: pd.DataFrame  # red-list screening ledgers per county-term
    policies: pd.DataFrame  # county policy adoptions
    inspections: pd.DataFrame  # school inspection visits
    effects: pd.DataFrame  # true effects per county and intervention
    graduated_year: np.ndarray  # per child: summer of grade-9 completion (0 = not)
    extra: dict = field(default_factory=dict)


def simulate_schooling(
    params: SynthParams, rng: np.random.Generator, geo: Geography, pop: Population
) -> Schooling:
    """Run the ten terms. Returns the truth and the raw material of every registry."""
    deadline = np.datetime64(CAMPAIGN_DEADLINE) - np.timedelta64(4, "D")
    s = State.start(params, rng, geo, pop, deadline)
    simulated = terms(SCHOOL_YEARS)
    for k, term in enumerate(simulated):
        t = T.begin(s, k, term)
        T.moves(s, t)
        T.returns_before_term(s, t)
        T.schools_of_term(s, t)
        T.suspensions(s, t)
        T.circumstances(s, t)
        T.mentoring(s, t)
        T.hazard(s, t)
        M.draw_dropouts(s, t)
        M.run_months(s, t)
        M.truth_rows(s, t)
        M.end_of_term(s, t)
    return Schooling(
        terms=simulated,
        schools=geo.schools.copy(),
        student_terms=pd.concat(s.st_rows, ignore_index=True),
        attendance=pd.DataFrame(
            {key: np.concatenate([p[key] for p in s.att_parts]) for key in s.att_parts[0]}
        ),
        cases=pd.DataFrame(s.cases),
        screening=pd.concat(s.screen_rows, ignore_index=True) if s.screen_rows else pd.DataFrame(),
        policies=_policies(s, simulated),
        inspections=_inspections(rng, s.fx, simulated, geo.schools),
        effects=_effects(s),
        graduated_year=s.graduated,
        extra={"village_final": s.v_of},
    )


def _policies(s: State, simulated: list[Term]) -> pd.DataFrame:
    """Each county's adoption term of each measure (``never`` if it did not adopt)."""
    label = {k: t.label for k, t in enumerate(simulated)}
    rows = []
    for ci, code in enumerate(s.county_codes):
        for name, start in (
            ("video_check", s.video_start[ci]),
            ("boarding_subsidy", s.board_start[ci]),
            ("mentoring", s.mentor_start[ci]),
        ):
            rows.append(
                {
                    "county_code": code,
                    "policy": name,
                    "start_k": int(start),
                    "start_term": label.get(int(start), "never"),
                }
            )
    return pd.DataFrame(rows)


def _effects(s: State) -> pd.DataFrame:
    """The true effects per county: risk ratios, persuasion strength and step effects, and
    the inspections' null effect."""
    rows = []
    for ci, code in enumerate(s.county_codes):
        for intervention, parameter, value in (
            ("mentoring", "risk_ratio", s.rr_mentor[ci]),
            ("video_check", "risk_ratio", s.rr_video[ci]),
            ("boarding_subsidy", "risk_ratio", s.rr_board[ci]),
            ("persuasion", "base_return_strength", s.county_return[ci]),
            *(
                (f"persuasion_step{st}", "return_hazard_ratio", s.step_eff[st][ci])
                for st in (2, 3, 4)
            ),
            ("inspection", "risk_ratio", 1.0),
        ):
            rows.append(
                {
                    "county_code": code,
                    "intervention": intervention,
                    "parameter": parameter,
                    "value": value,
                }
            )
    return pd.DataFrame(rows)


def _inspections(
    rng: np.random.Generator, fx: np.random.Generator, simulated: list[Term], schools: pd.DataFrame
) -> pd.DataFrame:
    """County inspections of junior-middle schools (>= 5 a month, all every two months) and
    the city's inspection campaign, which reaches each county at its own term (a quarter
    of the counties never) and then visits a third of its junior-middle schools in
    September, April and May. Recorded only: inspections have no effect on dropout in
    this world, so the campaign is a placebo for the county policies' design."""
    jun = schools[schools["stage"] == "初中"]
    n_c = jun["county_code"].nunique()
    campaign = np.where(fx.random(n_c) < 0.25, 99, fx.integers(2, 9, n_c))
    start = dict(zip(sorted(jun["county_code"].unique()), campaign, strict=True))
    rows = []
    for k, term in enumerate(simulated):
        for cy, m in term.months:
            if in_closure(cy, m):
                continue
            for _code, grp in jun.groupby("county_code"):
                idx = grp.index.to_numpy()
                half = idx[(np.arange(len(idx)) % 2) == (m % 2)]
                pick = half if len(half) >= 5 else idx[: max(len(idx), 0)]
                if len(pick) < min(5, len(idx)):
                    pick = idx[: min(5, len(idx))]
                for s in pick:
                    day = int(rng.integers(3, 26))
                    rows.append(
                        {"school": int(s), "date": np.datetime64(f"{cy}-{m:02d}-{day:02d}"),
                         "level": "县级", "problems": int(rng.poisson(1.2))}
                    )  # fmt: skip
            if m in (9, 4, 5):
                for code, grp in jun.groupby("county_code"):
                    if k < start[code]:
                        continue
                    for s in grp.index.to_numpy()[: max(1, len(grp) // 3)]:
                        day = int(fx.integers(10, 20))
                        rows.append(
                            {"school": int(s), "date": np.datetime64(f"{cy}-{m:02d}-{day:02d}"),
                             "level": "市级", "problems": int(fx.poisson(1.5))}
                        )  # fmt: skip
    df = pd.DataFrame(rows)
    df["rectification_notice"] = df["problems"] >= 2
    return df


__all__ = [
    "EFFECT_MEANS",
    "STEP_EFFECT_MEANS",
    "Schooling",
    "days_required",
    "simulate_schooling",
]
