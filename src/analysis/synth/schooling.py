"""Schooling dynamics of the synthetic prefecture, term by term, 2016/17 to 2020/21.

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
  higher in the autonomous counties and in junior-middle school). Treatments then multiply
  the probability by their county's true risk ratio. The true probability of every
  student-term is kept in the truth.
* **Persuasion to return** (劝返, the four steps 四步法): a dropout is detected after a school
  week of unexcused absence; persuasion starts; if the child is not back, an order to correct
  follows after 30 days, an administrative penalty after 30 more, an application to court
  after 45 more (escalation used more each year). The daily return hazard is multiplied at
  each step by the county's true step effect. Returned children rejoin their class; their
  risk stays high for two terms (re-dropout, 反弹). A child whose class has graduated while
  out is lost. In 2019/20 the campaign returns every dropout by 10 July 2020, as the seed
  reports (407 returns, exact by construction).
* **Red-list mentoring** (红名单结对包保): from its start term, each county ranks its students by
  its own screening score (a formula on last term's observed attendance, poverty, age for
  grade, earlier return, left-behind, plus teachers' judgement) and assigns mentors to the top
  ``capacity`` students: a sharp cutoff, so its effect can be estimated by regression
  discontinuity. True effect: risk ratio per county.
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

from analysis.synth.geography import Geography
from analysis.synth.params import (
    AUTONOMOUS_MULTIPLIER,
    CAMPAIGN_DEADLINE,
    DAYS_REQUIRED,
    DROPOUT_RATE_BY_YEAR,
    JUNIOR_MULTIPLIER,
    RETURN_WITHIN_YEAR,
    SCHOOL_YEARS,
    TERM_MONTHS,
    SynthParams,
)
from analysis.synth.population import Population

D = "datetime64[D]"
NAT = np.datetime64("NaT", "D")

#: Mean true effects (risk ratio on the term's dropout probability) and their county spread.
EFFECT_MEANS = {
    "mentoring": 0.75,  # red-list mentoring, per mentored student-term
    "video_check": 0.85,  # county policy: video verification of attendance
    "boarding_subsidy": 0.70,  # county policy: raised allowance, poor boarders only
}
#: Multipliers of the daily return hazard once each step of the procedure is reached.
STEP_EFFECT_MEANS = {2: 1.6, 3: 2.2, 4: 3.2}


@dataclass
class Term:
    """One school term: year (autumn year), term 1 (autumn) or 2 (spring), key dates."""

    k: int
    year: int
    term: int
    start: np.datetime64
    end: np.datetime64
    snapshot: np.datetime64
    months: list[tuple[int, int]]

    @property
    def label(self) -> str:
        return f"{self.year}-{self.term}"


def make_terms() -> list[Term]:
    """The ten terms of the five school years, with the registry snapshot two weeks in."""
    terms = []
    for y in SCHOOL_YEARS:
        for t in (1, 2):
            if t == 1:
                start, end = np.datetime64(f"{y}-09-01"), np.datetime64(f"{y + 1}-01-15")
            else:
                start, end = np.datetime64(f"{y + 1}-03-01"), np.datetime64(f"{y + 1}-07-15")
            months = [(y if m >= 9 else y + 1, m) for m in TERM_MONTHS[t]]
            terms.append(
                Term(len(terms), y, t, start, end, start + np.timedelta64(14, "D"), months)
            )
    return terms


def days_required(cal_year: int, month: int, grade: np.ndarray) -> np.ndarray:
    """School days required in a month for each grade (0 = no school, no attendance row)."""
    base = np.full(len(grade), DAYS_REQUIRED[month], dtype=np.int16)
    if cal_year == 2020 and month in (2, 3):
        base[:] = 0
    elif cal_year == 2020 and month == 4:
        base[:] = np.where(grade == 9, 9, 0)  # grade 9 back on 20 April
    elif cal_year == 2020 and month == 5:
        base[:] = np.where(grade == 9, 19, 14)  # others back on 11 May
    return base


@dataclass
class Schooling:
    """Everything that happened, in truth, plus the records the bureau's systems kept."""

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


def _logit(p):
    return np.log(p / (1 - p))


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _solve_intercepts(x: np.ndarray, group: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-group intercept a with mean(sigmoid(a + x)) == target[group] (Newton, vectorised)."""
    ng = len(target)
    a = _logit(np.clip(target, 1e-6, 0.5)) - np.bincount(group, x, ng) / np.maximum(
        np.bincount(group, None, ng), 1
    )
    cnt = np.maximum(np.bincount(group, None, ng), 1)
    for _ in range(30):
        p = _sigmoid(a[group] + x)
        f = np.bincount(group, p, ng) / cnt - target
        df = np.bincount(group, p * (1 - p), ng) / cnt
        step = f / np.maximum(df, 1e-12)
        a -= step
        if np.max(np.abs(step)) < 1e-9:
            break
    return a


def simulate_schooling(
    params: SynthParams, rng: np.random.Generator, geo: Geography, pop: Population
) -> Schooling:
    """Run the ten terms. Returns the truth and the raw material of every registry."""
    c = pop.children
    hh = pop.households.set_index("household_id")
    n = len(c)
    terms = make_terms()
    schools = geo.schools.copy()
    counties = geo.counties.set_index("code")
    county_codes = counties.index.to_numpy()
    county_idx_of = {code: i for i, code in enumerate(county_codes)}
    n_c = len(county_codes)

    # ---- static child attributes -------------------------------------------------------
    E = c["entry_year"].to_numpy()
    R = c["repeats"].to_numpy()
    A = c["A"].to_numpy()
    hh_id = c["household_id"].to_numpy()
    hrow = hh.loc[hh_id]
    poor_reg = hrow["poverty_registered_year"].to_numpy()
    poor_lift = hrow["poverty_lifted_year"].to_numpy()
    low_income = hrow["low_income"].to_numpy()
    hh_factor = hrow["hh_factor"].to_numpy()
    LD = c["learning_difficulty"].to_numpy()
    LB = c["left_behind"].to_numpy()
    DIS = c["disabled"].to_numpy()
    HOME = c["home_teaching"].to_numpy()
    MIG = c["migrant"].to_numpy()
    male = c["sex"].to_numpy() == "M"
    never = c["never_enrolled"].to_numpy()
    outside = c["living_outside"].to_numpy()
    move_out = c["move_out_year"].to_numpy()
    arrive = c["arrive_year"].to_numpy()
    autonomous_c = counties["autonomous"].to_numpy()

    # Villages and school catchments.
    vil = geo.villages.reset_index(drop=True)
    vil_index = {v: i for i, v in enumerate(vil["village_code"])}
    v_of = np.array([vil_index[v] for v in c["village_code"]], dtype=np.int32)
    v_county = np.array([county_idx_of[x] for x in vil["county_code"]], dtype=np.int32)
    primary_of_v, junior_of_v = _catchments(rng, vil, schools)
    s_county = np.array([county_idx_of[x] for x in schools["county_code"]], dtype=np.int32)
    s_boarding = schools["boarding"].to_numpy()
    s_rural = (schools["location"] != "城区").to_numpy()
    boards_if_can = rng.random(n) < 0.7

    # Engagement.
    mu = -0.7 * LD - 0.25 * (poor_reg > 0) - 0.3 * LB - 0.3 * hh_factor + rng.normal(0, 0.5, n)
    e = mu + rng.normal(0, 0.85, n)

    # ---- true effects per county --------------------------------------------------------

    def county_rr(name: str) -> np.ndarray:
        mean = EFFECT_MEANS[name]
        rr = 1 - np.clip(rng.normal(1 - mean, (1 - mean) / 2, n_c), 0.0, 0.9)
        return rr

    rr_mentor = county_rr("mentoring")
    rr_video = county_rr("video_check")
    rr_board = county_rr("boarding_subsidy")
    step_eff = {
        s: 1 + np.clip(rng.normal(m - 1, (m - 1) / 2, n_c), 0.05, None)
        for s, m in STEP_EFFECT_MEANS.items()
    }
    # Adoption terms (index k; 99 = never). Mentoring starts for every county at some point.
    mentor_start = rng.choice([3, 4, 5, 6], n_c)
    video_start = np.where(rng.random(n_c) < 0.25, 99, rng.integers(2, 9, n_c))
    board_start = np.where(rng.random(n_c) < 0.3, 99, rng.integers(1, 9, n_c))
    capacity_share = params.mentoring_capacity_share * rng.uniform(0.6, 1.4, n_c)
    county_return = rng.lognormal(0, 0.25, n_c)  # county's persuasion strength

    # ---- state ---------------------------------------------------------------------------
    out = np.zeros(n, bool)  # currently out of school after a dropout
    case_of = np.full(n, -1)  # open case index
    ret_date = np.full(n, NAT)  # planned return date of an open case
    returned_k = np.full(n, -100)  # term index of the last return
    returned_ever = np.zeros(n, bool)
    school = np.full(n, -1)  # current school (or the school holding the registry)
    gone = np.zeros(n, bool)  # moved out of the prefecture
    graduated = np.zeros(n, dtype=np.int16)
    sib_dropped = np.zeros(n, bool)
    last_unexc = np.zeros(n, np.int16)  # unexcused days in the previous term (observed)
    term_unexc = np.zeros(n, np.int16)

    cases: list[dict] = []
    st_rows: list[pd.DataFrame] = []
    att_parts: list[dict] = []
    screen_rows: list[pd.DataFrame] = []
    deadline = np.datetime64(CAMPAIGN_DEADLINE) - np.timedelta64(4, "D")

    def class_grade(y: int) -> np.ndarray:
        return y - E - R + 1

    def class_grad_date(y_now: int, cg_i: int) -> np.datetime64:
        # 15 July of the school year in which the class is in grade 9.
        return np.datetime64(f"{y_now + (9 - cg_i) + 1}-07-15")

    members: dict[int, np.ndarray] = {
        h: np.asarray(ix) for h, ix in pd.Series(np.arange(n)).groupby(hh_id).groups.items()
    }
    s_junior = (schools["stage"] == "初中").to_numpy()

    for term in terms:
        k, y = term.k, term.year
        cg = class_grade(y)
        # ---- moves out / arrivals at the start of autumn -------------------------------
        moved_now = np.zeros(n, bool)
        if term.term == 1:
            moved_now = (move_out == y) & ~gone & ~outside
            if y == 2016:
                moved_now[:] = False
                gone |= (move_out > 0) & (move_out <= 2016)
        present = ~outside & ~gone & ~never & ((arrive == 0) | (arrive <= y)) & ~moved_now
        gone |= moved_now
        # Cases of children who left close (moved away with their family).
        for i in np.flatnonzero(moved_now & out):
            cases[case_of[i]]["outcome"] = "随家庭迁出"
            cases[case_of[i]]["closed"] = term.start
            cases[case_of[i]]["return_date"] = NAT  # left with the family: no return here
            ret_date[i] = NAT
            out[i] = False
            case_of[i] = -1
        if y == 2019 and term.term == 1:
            # Summer 2019 push: the stock of open cases may leave room for at most 65 % of the
            # 2019/20 returns target, so that new dropouts of 2019/20 are at least 35 % of it.
            target_total = int(round(params.targets["returns_2019"] * params.fraction))
            open_now = np.flatnonzero(out & (ret_date >= term.start) | out & np.isnat(ret_date))
            open_now = open_now[(cg[open_now] <= 9) & present[open_now]]
            surplus = len(open_now) - int(0.65 * target_total)
            if surplus > 0:
                for i in rng.choice(open_now, size=surplus, replace=False):
                    d = np.datetime64("2019-07-20") + np.timedelta64(int(rng.integers(0, 40)), "D")
                    ret_date[i] = d
                    cs = cases[case_of[i]]
                    cs["return_date"] = cs["closed"] = d
                    cs["outcome"] = "已返校"
                    for st_ in (2, 3, 4):
                        if not np.isnat(cs[f"step{st_}"]) and cs[f"step{st_}"] >= d:
                            cs[f"step{st_}"] = NAT
        # Returns between terms.
        back = out & (ret_date < term.start)
        _rejoin(back, out, case_of, returned_k, returned_ever, k, e, mu)
        # Class graduated while out: lost.
        lost = out & (cg >= 10)
        for i in np.flatnonzero(lost):
            cases[case_of[i]]["outcome"] = "未返校(超出义务教育年限)"
            cases[case_of[i]]["closed"] = term.start
            cases[case_of[i]]["return_date"] = NAT
            ret_date[i] = NAT
            out[i] = False
            case_of[i] = -1
        scope = present & (y >= E) & (cg <= 9) & (graduated == 0)
        if y == 2019 and term.term == 1:
            # The campaign of 2019/20: every open case returns before the deadline.
            for i in np.flatnonzero(out):
                cs = cases[case_of[i]]
                if np.isnat(ret_date[i]) or ret_date[i] > deadline:
                    lo = max(
                        cs["detected"] + np.timedelta64(10, "D"),
                        term.start + np.timedelta64(9, "D"),
                    )
                    ret_date[i] = _campaign_date(rng, lo, deadline)
                    cs["return_date"] = ret_date[i]
                    cs["closed"] = ret_date[i]
                    cs["outcome"] = "已返校"
                    cs["campaign"] = True
                    for st in (2, 3, 4):
                        if not np.isnat(cs[f"step{st}"]) and cs[f"step{st}"] >= ret_date[i]:
                            cs[f"step{st}"] = NAT
        in_school = scope & ~out

        # ---- school changes (transfers within the prefecture) ---------------------------
        prev_school = school.copy()
        transfer = np.zeros(n, bool)
        if term.term == 1 and y > 2016:
            transfer = in_school & (rng.random(n) < params.transfer_per_year) & (prev_school >= 0)
            same_county = rng.random(n) < 0.7
            for i in np.flatnonzero(transfer):
                cands = (
                    np.flatnonzero(v_county == v_county[v_of[i]])
                    if same_county[i]
                    else np.arange(len(vil))
                )
                v_of[i] = cands[rng.integers(len(cands))]
        stage_junior = cg >= 7
        want = np.where(stage_junior, junior_of_v[v_of], primary_of_v[v_of])
        # In school: the catchment school. Out (dropout): the registry stays where it was.
        new_school = np.where(in_school, want, school)
        new_school = np.where(scope & (school < 0), want, new_school)
        changed = in_school & (prev_school >= 0) & (new_school != prev_school)
        natural_move = changed & ~transfer  # grade-7 entry or a new catchment
        school = np.where(scope | moved_now, new_school, school)
        boarding = (
            s_boarding[np.maximum(school, 0)] & boards_if_can & s_rural[np.maximum(school, 0)]
        )

        # ---- suspensions (休学): one term, for illness ------------------------------------
        at_risk = in_school & ~HOME
        susp = np.zeros(n, bool)
        cand = np.flatnonzero(at_risk & ~((term.term == 2) & (cg == 9)))
        k_s = int(round(params.suspension_per_term * len(cand) * (1 + 3 * DIS.mean())))
        if k_s:
            w = 1 + 2 * DIS[cand]
            pick = rng.choice(cand, size=k_s, replace=False, p=w / w.sum())
            susp[pick] = True
        at_risk &= ~susp

        # ---- county of the school, poverty status now -----------------------------------
        cidx = np.where(school >= 0, s_county[np.maximum(school, 0)], v_county[v_of])
        pov_now = (poor_reg > 0) & (poor_reg <= y) & ((poor_lift == 0) | (poor_lift > y))
        pov_lifted = (poor_lift > 0) & (poor_lift <= y)
        age = 6 + y - A
        overage = np.clip(age - (cg + 5), 0, 3)

        # ---- red-list screening and mentoring -------------------------------------------
        mentored = np.zeros(n, bool)
        score = (
            0.35 * last_unexc
            + 2.0 * pov_now
            + 1.2 * overage
            + 3.0 * returned_ever
            + 1.0 * LB
            + 0.8 * DIS
            + rng.normal(0, 1.0, n)
        )
        score = np.round(score, 1)
        for ci in range(n_c):
            if k < mentor_start[ci]:
                continue
            idx = np.flatnonzero(at_risk & (cidx == ci))
            cap = int(round(capacity_share[ci] * len(idx)))
            # Deterministic order: score descending, then student number ascending (ties).
            stno = c["student_no"].to_numpy()[idx]
            order = np.lexsort((stno, -score[idx]))
            ranked = idx[order]
            mentored[ranked[:cap]] = True
            keep = ranked[: max(3 * cap, 30)]
            screen_rows.append(
                pd.DataFrame(
                    {
                        "term": term.label,
                        "county_code": county_codes[ci],
                        "child": keep,
                        "school": school[keep],
                        "score": score[keep],
                        "rank": np.arange(1, len(keep) + 1),
                        "assigned": np.arange(len(keep)) < cap,
                        "capacity": cap,
                    }
                )
            )

        # ---- hazard ---------------------------------------------------------------------
        # A dropout's registry stays at the school left, at most that school's top grade.
        grade = np.where(
            in_school, cg, np.minimum(cg, np.where(s_junior[np.maximum(school, 0)], 9, 6))
        )
        recent_return = (k - returned_k) <= 2
        x = (
            -0.8 * e
            + 0.45 * overage
            + 0.6 * LD
            + 0.6 * pov_now
            + 0.3 * pov_lifted
            + 0.3 * low_income
            + 0.35 * LB
            + 0.3 * DIS
            + 0.35 * MIG
            + 0.35 * hh_factor
            + 0.25 * (male & stage_junior)
            + 0.6 * (~male & autonomous_c[cidx] & (age >= 14))
            + 1.1 * recent_return
            + 0.3 * returned_ever
            + 0.4 * sib_dropped
            + 0.25 * (cg == 8)
            + 0.3 * ((cg == 7) & (term.term == 1))
            - 0.3 * ((cg == 9) & (term.term == 2))
        )
        split = 0.45 if term.term == 1 else 0.55
        base = DROPOUT_RATE_BY_YEAR[y] * split
        cmult = np.where(autonomous_c, AUTONOMOUS_MULTIPLIER, 1.0)
        junior_share = np.mean(stage_junior[at_risk]) if at_risk.any() else 0.34
        norm = (1 - junior_share) + junior_share * JUNIOR_MULTIPLIER
        aut_share = np.mean(autonomous_c[cidx[at_risk]]) if at_risk.any() else 0.3
        norm_c = (1 - aut_share) + aut_share * AUTONOMOUS_MULTIPLIER
        group = cidx * 2 + stage_junior.astype(int)
        targets = np.array(
            [
                base * cmult[g // 2] * (JUNIOR_MULTIPLIER if g % 2 else 1.0) / norm / norm_c
                for g in range(2 * n_c)
            ]
        )
        idx_r = np.flatnonzero(at_risk)
        alpha = _solve_intercepts(x[idx_r], group[idx_r], targets)
        h0 = np.zeros(n)
        h0[idx_r] = _sigmoid(alpha[group[idx_r]] + x[idx_r])
        video = k >= video_start[cidx]
        board = (k >= board_start[cidx]) & pov_now & boarding
        rr = np.ones(n)
        rr = np.where(mentored, rr * rr_mentor[cidx], rr)
        rr = np.where(video, rr * rr_video[cidx], rr)
        rr = np.where(board, rr * rr_board[cidx], rr)
        h1 = h0 * rr

        # ---- draw dropouts ----------------------------------------------------------------
        if y == 2019:
            if term.term == 1:
                stock = int(out.sum())
                target_total = int(round(params.targets["returns_2019"] * params.fraction))
                k_new_total = target_total - stock
                if k_new_total < 1:
                    raise RuntimeError(
                        f"dropout stock {stock} exceeds the 2019/20 returns target {target_total}"
                    )
                k_new = {1: k_new_total // 2, 2: k_new_total - k_new_total // 2}
            kk = k_new[term.term]
            w = h1[idx_r]
            keys = np.log(rng.random(len(idx_r))) / w
            chosen = idx_r[np.argsort(-keys, kind="stable")[:kk]]
            drop = np.zeros(n, bool)
            drop[chosen] = True
            # Conditional sampling of exactly kk: the true probability is rescaled to match.
            scale = kk / h1[idx_r].sum()
            h1 = h1 * scale
            h0 = h0 * scale
        else:
            drop = at_risk & (rng.random(n) < h1)

        # Month and day of each dropout (only months with school for that child).
        mlist = term.months
        req = np.stack([days_required(cy, m, grade) for cy, m in mlist], axis=1)  # n x months
        drop_m = np.full(n, -1)
        drop_day = np.zeros(n, np.int16)
        for i in np.flatnonzero(drop):
            w = req[i].astype(float)
            if term.term == 1:
                w[-1] *= 0.3  # January: exams, little dropping out
            if y == 2019 and term.term == 2:
                w[-1] = 0.0  # the campaign closes the year with no new dropout in July
            if w.sum() == 0:
                drop[i] = False
                continue
            mi = rng.choice(len(mlist), p=w / w.sum())
            drop_m[i] = mi
            drop_day[i] = rng.integers(0, req[i, mi])

        # ---- months -----------------------------------------------------------------------
        term_unexc[:] = 0
        ret_m = np.full(n, -1)  # month index of a return within this term
        ret_day = np.zeros(n, np.int16)
        for mi, (cy, m) in enumerate(mlist):
            month_start = np.datetime64(f"{cy}-{m:02d}-01")
            e = mu + 0.85 * (e - mu) + rng.normal(0, 0.45, n)
            # Returns inside this month (cases opened in earlier terms or earlier this term).
            month_end = np.datetime64(f"{cy + (m == 12)}-{m % 12 + 1:02d}-01")
            rin = out & (ret_date < month_end)
            if rin.any():
                ret_m[rin] = mi
                into = np.clip((ret_date[rin] - month_start).astype(int), 0, 31)
                ret_day[rin] = np.minimum(
                    into * req[rin, mi] // 31, np.maximum(req[rin, mi] - 1, 0)
                )
            shock = np.where((drop_m >= 0) & ((drop_m == mi) | (drop_m == mi + 1)), -1.4, 0.0)
            e_eff = e + shock
            r_m = req[:, mi]
            # Who has a row: in scope, school holds the registry, attendance kept (not home,
            # not suspended, not a dropout already marked in the registry).
            marked = np.zeros(n, bool)
            openc = case_of >= 0
            if openc.any():
                mk = np.array(
                    [
                        cases[j]["marked"] and cases[j]["detected"] < term.snapshot
                        for j in case_of[openc]
                    ]
                )
                marked[openc] = mk & ~(drop & (drop_m >= 0))[openc]
            has_row = scope & ~HOME & ~susp & (r_m > 0) & ~marked & (school >= 0)
            idx = np.flatnonzero(has_row)
            if len(idx) == 0:
                continue
            rq = r_m[idx].astype(np.int16)
            p_un = _sigmoid(-5.2 - 1.1 * e_eff[idx])
            unexc = rng.binomial(rq, p_un).astype(np.int16)
            farm = 1.5 if m in (5, 6, 9, 10) else 1.0
            winter = 1.3 if m in (12, 1, 3) else 1.0
            pers = rng.poisson(
                params.personal_leave_mean
                * np.exp(-0.45 * e_eff[idx])
                * farm
                * np.where(pov_now[idx], 1.5, 1.0)
            )
            sick = rng.poisson(params.sick_leave_mean * winter * np.where(DIS[idx], 2.0, 1.0))
            # Out of school for part or all of the month.
            was_out = out[idx]
            d_here = drop[idx] & (drop_m[idx] == mi)
            r_here = ret_m[idx] == mi
            away = np.zeros(len(idx), np.int16)
            away = np.where(was_out & ~r_here, rq, away)  # whole month out
            away = np.where(was_out & r_here, ret_day[idx], away)  # back mid-month
            away = np.where(d_here, rq - drop_day[idx], away)  # left mid-month
            pers = np.minimum(pers, rq - away).astype(np.int16)
            sick = np.minimum(sick, rq - away - pers).astype(np.int16)
            unexc = np.minimum(unexc, rq - away - pers - sick) + away
            present = rq - unexc - pers - sick
            term_unexc[idx] += unexc
            att_parts.append(
                {
                    "child": idx.astype(np.int32),
                    "school": school[idx].astype(np.int32),
                    "grade": grade[idx].astype(np.int8),
                    "year": np.full(len(idx), cy, np.int16),
                    "month": np.full(len(idx), m, np.int8),
                    "required": rq,
                    "present": present.astype(np.int16),
                    "sick": sick,
                    "personal": pers,
                    "unexcused": unexc.astype(np.int16),
                }
            )
            # Dropouts of this month: open cases, decide the return.
            for i in np.flatnonzero(drop & (drop_m == mi)):
                day_cal = month_start + np.timedelta64(int(drop_day[i] * 30 // max(r_m[i], 1)), "D")
                case = _open_case(
                    rng,
                    i,
                    day_cal,
                    y,
                    cidx[i],
                    county_return[cidx[i]],
                    step_eff,
                    age[i],
                    male[i],
                    autonomous_c[cidx[i]],
                    pov_now[i],
                    LD[i],
                    MIG[i],
                    DIS[i],
                    school[i],
                    grade[i],
                    class_grad_date(y, int(cg[i])),
                    deadline,
                )
                case_of[i] = len(cases)
                cases.append(case)
                out[i] = True
                ret_date[i] = case["return_date"]
                own = sib_dropped[i]
                sib_dropped[members[hh_id[i]]] = True
                sib_dropped[i] = own  # a child's own dropout is not a sibling's
            # Returns of this month.
            for i in np.flatnonzero(out & (ret_m == mi) & ~(drop & (drop_m == mi))):
                _rejoin_one(i, out, case_of, returned_k, returned_ever, k, e, mu)

        # ---- truth rows of this term ----------------------------------------------------------
        rows_mask = scope | (moved_now & (school >= 0))
        idx = np.flatnonzero(rows_mask)
        status = np.where(
            moved_now[idx],
            "moved_out",
            np.where(
                ~in_school[idx],
                "out_dropout",
                np.where(susp[idx], "suspended", np.where(HOME[idx], "home_teaching", "in_school")),
            ),
        )
        st_rows.append(
            pd.DataFrame(
                {
                    "child": idx,
                    "k": k,
                    "status": status,
                    "school": school[idx],
                    "prev_school": np.where(changed[idx], prev_school[idx], -1),
                    "transfer": transfer[idx] & changed[idx],
                    "natural_move": natural_move[idx],
                    "grade": grade[idx],
                    "class_grade": cg[idx],
                    "boarding": boarding[idx],
                    "at_risk": at_risk[idx],
                    "p_true": h1[idx],
                    "p_untreated": h0[idx],
                    "dropped": drop[idx],
                    "mentored": mentored[idx],
                    "video_check": video[idx] & at_risk[idx],
                    "boarding_subsidy": board[idx] & at_risk[idx],
                    "poverty_now": pov_now[idx],
                    "case_open": (case_of[idx] >= 0) & ~drop[idx],
                }
            )
        )
        last_unexc = term_unexc.copy()

        # ---- graduation at the end of spring ------------------------------------------------
        if term.term == 2:
            grads = scope & ~out & (cg == 9) & ~susp
            graduated[grads] = y + 1
        # Campaign 2019/20: force the returns (stock and new) before the deadline.
        if y == 2019 and term.term == 2:
            still = np.flatnonzero(out)
            if len(still):
                raise RuntimeError(f"{len(still)} dropouts not returned by the 2019/20 deadline")

    # ---- assemble ------------------------------------------------------------------------------
    student_terms = pd.concat(st_rows, ignore_index=True)
    attendance = pd.DataFrame(
        {key: np.concatenate([p[key] for p in att_parts]) for key in att_parts[0]}
    )
    cases_df = pd.DataFrame(cases)
    screening = pd.concat(screen_rows, ignore_index=True) if screen_rows else pd.DataFrame()
    label = {t.k: t.label for t in terms}
    pol_rows = []
    for ci, code in enumerate(county_codes):
        for name, start in (
            ("video_check", video_start[ci]),
            ("boarding_subsidy", board_start[ci]),
            ("mentoring", mentor_start[ci]),
        ):
            pol_rows.append(
                {
                    "county_code": code,
                    "policy": name,
                    "start_k": int(start),
                    "start_term": label.get(int(start), "never"),
                }
            )
    policies = pd.DataFrame(pol_rows)
    eff = []
    for ci, code in enumerate(county_codes):
        eff += (
            [
                {
                    "county_code": code,
                    "intervention": "mentoring",
                    "parameter": "risk_ratio",
                    "value": rr_mentor[ci],
                },
                {
                    "county_code": code,
                    "intervention": "video_check",
                    "parameter": "risk_ratio",
                    "value": rr_video[ci],
                },
                {
                    "county_code": code,
                    "intervention": "boarding_subsidy",
                    "parameter": "risk_ratio",
                    "value": rr_board[ci],
                },
                {
                    "county_code": code,
                    "intervention": "persuasion",
                    "parameter": "base_return_strength",
                    "value": county_return[ci],
                },
            ]
            + [
                {
                    "county_code": code,
                    "intervention": f"persuasion_step{s}",
                    "parameter": "return_hazard_ratio",
                    "value": step_eff[s][ci],
                }
                for s in (2, 3, 4)
            ]
            + [
                {
                    "county_code": code,
                    "intervention": "inspection",
                    "parameter": "risk_ratio",
                    "value": 1.0,
                }
            ]
        )
    effects = pd.DataFrame(eff)
    inspections = _inspections(rng, terms, schools)
    return Schooling(
        terms=terms,
        schools=schools,
        student_terms=student_terms,
        attendance=attendance,
        cases=cases_df,
        screening=screening,
        policies=policies,
        inspections=inspections,
        effects=effects,
        graduated_year=graduated,
        extra={"village_final": v_of},
    )


def _rejoin(mask, out, case_of, returned_k, returned_ever, k, e, mu) -> None:
    for i in np.flatnonzero(mask):
        _rejoin_one(i, out, case_of, returned_k, returned_ever, k, e, mu)


def _rejoin_one(i, out, case_of, returned_k, returned_ever, k, e, mu) -> None:
    out[i] = False
    case_of[i] = -1
    returned_k[i] = k
    returned_ever[i] = True
    e[i] = mu[i] - 0.3


def _catchments(
    rng: np.random.Generator, vil: pd.DataFrame, schools: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
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


WHEREABOUTS = (
    "在家",
    "外出务工(浙江省)",
    "外出务工(广东省)",
    "外出务工(上海市)",
    "外出务工(省内)",
    "随父母外出",
    "早婚",
)


def _open_case(
    rng,
    child,
    dropped_on,
    y,
    ci,
    strength,
    step_eff,
    age,
    male,
    autonomous,
    poor,
    ld,
    mig,
    dis,
    school,
    grade,
    class_grad,
    deadline,
) -> dict:
    """A persuasion-to-return case: detection, steps reached, return date (or none)."""
    detected = dropped_on + np.timedelta64(7, "D")
    # Whereabouts and reason follow who the child is.
    p = np.array([0.40, 0.06, 0.06, 0.03, 0.08, 0.12 + 0.1 * mig, 0.0])
    if age >= 14:
        p[1:5] *= 3.0
    if (not male) and autonomous and age >= 14:
        p[6] = 0.25
    p /= p.sum()
    where = WHEREABOUTS[rng.choice(len(WHEREABOUTS), p=p)]
    if where == "早婚":
        reason = "早婚"
    elif where.startswith("外出务工"):
        reason = "外出务工"
    elif ld and rng.random() < 0.6:
        reason = "学习困难/厌学"
    elif poor and rng.random() < 0.5:
        reason = "家庭经济困难"
    elif dis and rng.random() < 0.6:
        reason = "残疾/疾病"
    else:
        reason = rng.choice(["厌学", "家长不重视", "其他"])
    far = where.startswith("外出")
    # Step schedule (days after detection) and whether this county-year escalates.
    s1 = detected + np.timedelta64(int(rng.integers(1, 6)), "D")
    escalate_p = {2016: 0.15, 2017: 0.3, 2018: 0.7, 2019: 1.0, 2020: 1.0}[y]
    starts = {1: s1}
    if rng.random() < escalate_p:
        starts[2] = s1 + np.timedelta64(30, "D")
        starts[3] = starts[2] + np.timedelta64(30, "D")
        if y >= 2018 or rng.random() < 0.3:
            starts[4] = starts[3] + np.timedelta64(45, "D")
    # Piecewise-constant daily return hazard; base set so P(return in a year) ~ schedule.
    target = RETURN_WITHIN_YEAR[y]
    lam0 = -np.log(1 - min(target, 0.995)) / 365 / 1.8 * strength * (0.6 if far else 1.0)
    mult = {
        1: 1.0,
        2: step_eff[2][ci],
        3: step_eff[2][ci] * step_eff[3][ci],
        4: step_eff[2][ci] * step_eff[3][ci] * step_eff[4][ci],
    }
    draw = rng.exponential()
    t = s1
    ret = NAT
    steps_sorted = sorted(starts)
    for j, s in enumerate(steps_sorted):
        seg_end = (
            starts[steps_sorted[j + 1]]
            if j + 1 < len(steps_sorted)
            else s1 + np.timedelta64(3650, "D")
        )
        seg_days = int((seg_end - t).astype(int))
        rate = lam0 * mult[s]
        if draw <= rate * seg_days:
            ret = t + np.timedelta64(int(np.ceil(draw / rate)), "D")
            break
        draw -= rate * seg_days
        t = seg_end
    # A return inside the month of the dropout is counted from the next month.
    nxt = (dropped_on.astype("datetime64[M]") + np.timedelta64(1, "M")).astype("datetime64[D]")
    if not np.isnat(ret) and ret < nxt:
        ret = nxt
    # Returns fall on school days: not during the 2020 closure.
    if not np.isnat(ret) and np.datetime64("2020-02-01") <= ret < np.datetime64("2020-05-11"):
        ret = np.datetime64("2020-05-11") + np.timedelta64(int(rng.integers(0, 20)), "D")
    # The class graduates: no return after that.
    if not np.isnat(ret) and ret >= class_grad:
        ret = NAT
    # 2019/20 campaign: every case open in that year returns before the deadline.
    if y == 2019 and (np.isnat(ret) or ret > deadline):
        lo = max(detected + np.timedelta64(10, "D"), np.datetime64("2019-09-10"))
        ret = _campaign_date(rng, max(lo, nxt), deadline)
    steps_reached = [s for s in steps_sorted if np.isnat(ret) or starts[s] < ret]
    out = {
        "child": child,
        "school": school,
        "grade": grade,
        "dropped_on": dropped_on,
        "detected": detected,
        "whereabouts": where,
        "reason": reason,
        "step1": starts[1],
        "step2": starts.get(2, NAT) if 2 in steps_reached else NAT,
        "step3": starts.get(3, NAT) if 3 in steps_reached else NAT,
        "step4": starts.get(4, NAT) if 4 in steps_reached else NAT,
        "return_date": ret,
        "year": y,
        "marked": bool(rng.random() < 0.5),
        "outcome": "已返校" if not np.isnat(ret) else "未返校",
        "closed": ret,
        "campaign": bool(y == 2019),
    }
    return out


def _campaign_date(rng, lo: np.datetime64, hi: np.datetime64) -> np.datetime64:
    """A school day between lo and hi, avoiding the early-2020 closure."""
    lo = max(lo, np.datetime64("2019-09-10"))
    span = int((hi - lo).astype(int))
    for _ in range(50):
        d = lo + np.timedelta64(int(rng.integers(0, max(span, 1))), "D")
        if not (np.datetime64("2020-01-16") <= d < np.datetime64("2020-05-11")):
            return d
    return np.datetime64("2020-05-20")


def _inspections(
    rng: np.random.Generator, terms: list[Term], schools: pd.DataFrame
) -> pd.DataFrame:
    """County inspections of junior-middle schools (>= 5 a month, all every two months) and the
    city's campaigns. Recorded only: inspections have no effect on dropout in this world."""
    jun = schools[schools["stage"] == "初中"]
    rows = []
    for term in terms:
        for cy, m in term.months:
            if (cy, m) in ((2020, 2), (2020, 3), (2020, 4)):
                continue
            for _code, grp in jun.groupby("county_code"):
                idx = grp.index.to_numpy()
                half = idx[(np.arange(len(idx)) % 2) == (m % 2)]
                pick = half if len(half) >= 5 else idx[: max(len(idx), 0)]
                if len(pick) < min(5, len(idx)):
                    pick = idx[: min(5, len(idx))]
                for s in pick:
                    rows.append(
                        {
                            "school": int(s),
                            "date": np.datetime64(f"{cy}-{m:02d}-{int(rng.integers(3, 26)):02d}"),
                            "level": "县级",
                            "problems": int(rng.poisson(1.2)),
                        }
                    )
            if m in (9, 4, 5) and cy >= 2017:
                for _code, grp in jun.groupby("county_code"):
                    for s in grp.index.to_numpy()[: max(1, len(grp) // 3)]:
                        rows.append(
                            {
                                "school": int(s),
                                "date": np.datetime64(
                                    f"{cy}-{m:02d}-{int(rng.integers(10, 20)):02d}"
                                ),
                                "level": "市级",
                                "problems": int(rng.poisson(1.5)),
                            }
                        )
    df = pd.DataFrame(rows)
    df["rectification_notice"] = df["problems"] >= 2
    return df
