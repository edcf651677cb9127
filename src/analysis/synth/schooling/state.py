"""What the simulation knows and carries from term to term.

:class:`State` holds the children's fixed attributes, the places (villages, catchments,
schools), each county's true effects and adoption terms, and what changes as the terms
pass (engagement, who is out of school and since when, open cases, schools). Its
:meth:`State.start` draws the world's starting point in the order the seed fixes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.resources import load_names
from analysis.synth.geography import Geography
from analysis.synth.params import SCHOOL_YEARS, SynthParams
from analysis.synth.population import Population

NAT = np.datetime64("NaT", "D")
#: Terms simulated (two a school year).
N_TERMS = 2 * len(SCHOOL_YEARS)

#: Mean true effects (risk ratio on the term's dropout probability) and their county spread.
EFFECT_MEANS = {
    "mentoring": 0.75,  # red-list mentoring, per mentored student-term
    "video_check": 0.85,  # county policy: video verification of attendance
    "boarding_subsidy": 0.70,  # county policy: raised allowance, poor boarders only
}
#: Multipliers of the daily return hazard once each step of the procedure is reached.
STEP_EFFECT_MEANS = {2: 1.6, 3: 2.2, 4: 3.2}


@dataclass
class State:
    """The simulation's state (see the module docstring); arrays are per child unless
    named for counties (``*_c``, ``county_*``), villages (``v_*``) or schools (``s_*``)."""

    params: SynthParams
    rng: np.random.Generator
    #: A second stream for what the effects need (county-by-term shocks, teachers'
    #: judgement's noise, compliance, step dates, mentors), so that turning those knobs
    #: leaves the rest of the world's draws where the seed put them.
    fx: np.random.Generator
    n: int
    # fixed attributes of the children
    E: np.ndarray  # entry year
    R: np.ndarray  # grades repeated before 2016
    A: np.ndarray  # year the child turned six
    hh_id: np.ndarray
    members: dict  # household id -> its children
    poor_reg: np.ndarray
    poor_lift: np.ndarray
    low_income: np.ndarray
    hh_factor: np.ndarray
    LD: np.ndarray  # learning difficulty
    LB: np.ndarray  # left behind
    DIS: np.ndarray
    HOME: np.ndarray  # taught at home
    MIG: np.ndarray
    male: np.ndarray
    never: np.ndarray
    outside: np.ndarray
    move_out: np.ndarray
    arrive: np.ndarray
    student_no: np.ndarray
    # places
    county_codes: np.ndarray
    autonomous_c: np.ndarray
    vil: pd.DataFrame
    v_of: np.ndarray  # each child's village (changes with a transfer)
    v_county: np.ndarray
    primary_of_v: np.ndarray
    junior_of_v: np.ndarray
    s_county: np.ndarray
    s_boarding: np.ndarray
    s_rural: np.ndarray
    s_junior: np.ndarray
    boards_if_can: np.ndarray
    # latent engagement: the child's mean and its current value
    mu: np.ndarray
    e: np.ndarray
    # true effects per county, and when each county adopts what
    rr_mentor: np.ndarray
    rr_video: np.ndarray
    rr_board: np.ndarray
    step_eff: dict
    mentor_start: np.ndarray
    video_start: np.ndarray
    board_start: np.ndarray
    capacity_share: np.ndarray
    county_return: np.ndarray
    shock: np.ndarray  # county x term multiplier of the dropout rate (mean 1)
    deadline: np.datetime64  # the 2019/20 campaign's last day of returns
    # what changes from term to term
    out: np.ndarray = field(init=False)  # out of school after a dropout
    case_of: np.ndarray = field(init=False)  # open case index
    ret_date: np.ndarray = field(init=False)  # planned return date of an open case
    returned_k: np.ndarray = field(init=False)  # term index of the last return
    returned_ever: np.ndarray = field(init=False)
    school: np.ndarray = field(init=False)  # current school (or the one holding the registry)
    gone: np.ndarray = field(init=False)  # moved out of the prefecture
    graduated: np.ndarray = field(init=False)
    sib_dropped: np.ndarray = field(init=False)
    last_unexc: np.ndarray = field(init=False)  # unexcused days last term (observed)
    term_unexc: np.ndarray = field(init=False)
    #: New dropouts of each term of 2019/20, set in its autumn (the returns target, exact).
    k_new: dict = field(default_factory=dict)
    # what the terms leave behind
    cases: list[dict] = field(default_factory=list)
    st_rows: list[pd.DataFrame] = field(default_factory=list)
    att_parts: list[dict] = field(default_factory=list)
    screen_rows: list[pd.DataFrame] = field(default_factory=list)
    teachers: dict = field(default_factory=dict)  # school -> its mentors' names

    def __post_init__(self) -> None:
        n = self.n
        self.out = np.zeros(n, bool)
        self.case_of = np.full(n, -1)
        self.ret_date = np.full(n, NAT)
        self.returned_k = np.full(n, -100)
        self.returned_ever = np.zeros(n, bool)
        self.school = np.full(n, -1)
        self.gone = np.zeros(n, bool)
        self.graduated = np.zeros(n, dtype=np.int16)
        self.sib_dropped = np.zeros(n, bool)
        self.last_unexc = np.zeros(n, np.int16)
        self.term_unexc = np.zeros(n, np.int16)

    @classmethod
    def start(
        cls,
        params: SynthParams,
        rng: np.random.Generator,
        geo: Geography,
        pop: Population,
        deadline: np.datetime64,
    ) -> State:
        """The state before the first term: fixed attributes, places, engagement, effects."""
        c = pop.children
        hh = pop.households.set_index("household_id")
        n = len(c)
        counties = geo.counties.set_index("code")
        county_codes = counties.index.to_numpy()
        county_idx_of = {code: i for i, code in enumerate(county_codes)}
        hh_id = c["household_id"].to_numpy()
        hrow = hh.loc[hh_id]
        vil = geo.villages.reset_index(drop=True)
        vil_index = {v: i for i, v in enumerate(vil["village_code"])}
        schools = geo.schools
        primary_of_v, junior_of_v = _catchments(vil, schools)
        boards_if_can = rng.random(n) < 0.7
        # Engagement: mean lower with learning difficulty, poverty, left behind, household.
        LD, LB = c["learning_difficulty"].to_numpy(), c["left_behind"].to_numpy()
        poor_reg, hh_factor = (
            hrow["poverty_registered_year"].to_numpy(),
            hrow["hh_factor"].to_numpy(),
        )
        mu = -0.7 * LD - 0.25 * (poor_reg > 0) - 0.3 * LB - 0.3 * hh_factor + rng.normal(0, 0.5, n)
        e = mu + rng.normal(0, 0.85, n)
        effects = _county_effects(rng, len(county_codes), params)
        fx = np.random.default_rng([params.seed, 14])
        sd = params.county_term_shock_sd
        shock = np.exp(fx.normal(-(sd**2) / 2, sd, (len(county_codes), N_TERMS)))
        return cls(
            params=params,
            rng=rng,
            fx=fx,
            shock=shock,
            n=n,
            E=c["entry_year"].to_numpy(),
            R=c["repeats"].to_numpy(),
            A=c["A"].to_numpy(),
            hh_id=hh_id,
            members={
                h: np.asarray(ix) for h, ix in pd.Series(np.arange(n)).groupby(hh_id).groups.items()
            },
            poor_reg=poor_reg,
            poor_lift=hrow["poverty_lifted_year"].to_numpy(),
            low_income=hrow["low_income"].to_numpy(),
            hh_factor=hh_factor,
            LD=LD,
            LB=LB,
            DIS=c["disabled"].to_numpy(),
            HOME=c["home_teaching"].to_numpy(),
            MIG=c["migrant"].to_numpy(),
            male=c["sex"].to_numpy() == "M",
            never=c["never_enrolled"].to_numpy(),
            outside=c["living_outside"].to_numpy(),
            move_out=c["move_out_year"].to_numpy(),
            arrive=c["arrive_year"].to_numpy(),
            student_no=c["student_no"].to_numpy(),
            county_codes=county_codes,
            autonomous_c=counties["autonomous"].to_numpy(),
            vil=vil,
            v_of=np.array([vil_index[v] for v in c["village_code"]], dtype=np.int32),
            v_county=np.array([county_idx_of[x] for x in vil["county_code"]], dtype=np.int32),
            primary_of_v=primary_of_v,
            junior_of_v=junior_of_v,
            s_county=np.array([county_idx_of[x] for x in schools["county_code"]], dtype=np.int32),
            s_boarding=schools["boarding"].to_numpy(),
            s_rural=(schools["location"] != "城区").to_numpy(),
            s_junior=(schools["stage"] == "初中").to_numpy(),
            boards_if_can=boards_if_can,
            mu=mu,
            e=e,
            deadline=deadline,
            **effects,
        )

    def mentor_of(self, children: np.ndarray) -> np.ndarray:
        """Each child's mentor: one of the 4 to 12 teachers of its school who mentor (a
        child keeps the same one while at that school). Names drawn once per school."""
        names = load_names()
        out = np.empty(len(children), dtype=object)
        for j, i in enumerate(children):
            sc = int(self.school[i])
            pool = self.teachers.get(sc)
            if pool is None:
                k = int(self.fx.integers(4, 13))
                sur = self.fx.choice(names["surnames"]["han"], k)
                g1 = self.fx.choice(
                    names["given_chars"]["female"] + names["given_chars"]["male"], k
                )
                g2 = self.fx.choice(names["given_chars"]["female"], k)
                two = self.fx.random(k) < 0.6
                pool = [
                    a + b + (c if t else "") for a, b, c, t in zip(sur, g1, g2, two, strict=True)
                ]
                self.teachers[sc] = pool
            out[j] = pool[int(i) % len(pool)]
        return out

    def class_grade(self, y: int) -> np.ndarray:
        """The grade each child's class is in during school year ``y``."""
        return y - self.E - self.R + 1

    def rejoin(self, i: int, k: int) -> None:
        """Child ``i`` is back in school in term ``k``: its case is closed, its engagement
        restarts a little below its mean."""
        self.out[i] = False
        self.case_of[i] = -1
        self.returned_k[i] = k
        self.returned_ever[i] = True
        self.e[i] = self.mu[i] - 0.3


def _county_effects(rng: np.random.Generator, n_c: int, params: SynthParams) -> dict:
    """Each county's true risk ratios, persuasion step effects, adoption terms (index k;
    99 = never; mentoring starts everywhere at some point), list capacity and persuasion
    strength, drawn in the order the seed fixes. ``params.effect_size`` scales each
    effect (1 - risk ratio; hazard ratio - 1) after the draw."""
    size = params.effect_size

    def county_rr(name: str) -> np.ndarray:
        mean = EFFECT_MEANS[name]
        drawn = np.clip(rng.normal(1 - mean, (1 - mean) / 2, n_c), 0.0, 0.9)
        return 1 - np.clip(size * drawn, 0.0, 0.95)

    out = {
        "rr_mentor": county_rr("mentoring"),
        "rr_video": county_rr("video_check"),
        "rr_board": county_rr("boarding_subsidy"),
        "step_eff": {
            s: 1 + size * np.clip(rng.normal(m - 1, (m - 1) / 2, n_c), 0.05, None)
            for s, m in STEP_EFFECT_MEANS.items()
        },
    }
    out["mentor_start"] = rng.choice([3, 4, 5, 6], n_c)
    out["video_start"] = np.where(rng.random(n_c) < 0.25, 99, rng.integers(2, 9, n_c))
    out["board_start"] = np.where(rng.random(n_c) < 0.3, 99, rng.integers(1, 9, n_c))
    out["capacity_share"] = params.mentoring_capacity_share * rng.uniform(0.6, 1.4, n_c)
    out["county_return"] = rng.lognormal(0, 0.25, n_c)  # county's persuasion strength
    return out


def _catchments(vil: pd.DataFrame, schools: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each village's primary and junior-middle school: its township's, else its county's."""
    prim = np.empty(len(vil), dtype=np.int32)
    jun = np.empty(len(vil), dtype=np.int32)
    for stage, out_arr in (("小学", prim), ("初中", jun)):
        st = schools[schools["stage"] == stage]
        by_t = st.groupby("township_id").groups
        by_c = st.groupby("county_code").groups
        for vi, row in enumerate(vil.itertuples(index=False)):
            pool = by_t.get(row.township_id)
            if pool is None or len(pool) == 0:
                pool = by_c[row.county_code]
            pool = np.asarray(pool)
            out_arr[vi] = pool[(vi * 7 + len(pool)) % len(pool)] if len(pool) > 1 else pool[0]
    return prim, jun
