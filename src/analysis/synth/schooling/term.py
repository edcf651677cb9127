"""One term of the simulation, phase by phase (each a function of the state and the term):

1. :func:`moves`: families moving out at the start of autumn, arrivals; the cases of
   children who left with their family close;
2. :func:`returns_before_term`: the summer-2019 push, returns between terms, classes that
   graduated while a child was out, the 2019/20 campaign's return dates;
3. :func:`schools_of_term`: transfers within the prefecture, grade-7 entry, boarding;
4. :func:`suspensions`: one-term suspensions (休学) for illness;
5. :func:`mentoring`: each county's red-list screening and mentoring from its start term;
6. :func:`hazard`: the term's true dropout probability, with and without treatment;
7. :func:`draw_dropouts`: who drops out, in which month and on which day;
8. the months (:mod:`.months`), then :func:`truth_rows` and :func:`end_of_term`.

Every draw from the random generator happens in the same order as the seed fixes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.calendar import Term
from analysis.synth.params import (
    AUTONOMOUS_MULTIPLIER,
    DROPOUT_RATE_BY_YEAR,
    JUNIOR_MULTIPLIER,
)
from analysis.synth.schooling.cases import campaign_date
from analysis.synth.schooling.state import NAT, State


@dataclass
class TermState:
    """What one term's phases hand to each other (arrays per child)."""

    k: int
    term: Term
    start: np.datetime64  # the first day of teaching
    snapshot: np.datetime64
    cg: np.ndarray  # the class's grade
    moved_now: np.ndarray = None
    present: np.ndarray = None
    scope: np.ndarray = None  # in the prefecture's schools' remit this term
    in_school: np.ndarray = None
    prev_school: np.ndarray = None
    transfer: np.ndarray = None
    changed: np.ndarray = None
    natural_move: np.ndarray = None
    stage_junior: np.ndarray = None
    boarding: np.ndarray = None
    susp: np.ndarray = None
    at_risk: np.ndarray = None
    cidx: np.ndarray = None  # county index of the school (or the village)
    pov_now: np.ndarray = None
    pov_lifted: np.ndarray = None
    age: np.ndarray = None
    overage: np.ndarray = None
    mentored: np.ndarray = None
    listed: np.ndarray = None  # on the red list (rank within capacity)
    score: np.ndarray = None  # the recorded screening score
    grade: np.ndarray = None
    h0: np.ndarray = None  # dropout probability without treatment
    h1: np.ndarray = None  # with the treatments received
    f_mentor: np.ndarray = None  # each treatment's factor on h0 (1 if not received)
    f_video: np.ndarray = None
    f_board: np.ndarray = None
    u: np.ndarray = None  # the uniform that decides a dropout (common random numbers)
    can_drop: np.ndarray = None  # has a school month in which to drop out
    video: np.ndarray = None
    board: np.ndarray = None
    drop: np.ndarray = None
    drop_m: np.ndarray = None  # month index of the dropout
    drop_day: np.ndarray = None
    req: np.ndarray = None  # days required, child x month

    @property
    def y(self) -> int:
        return self.term.year

    @property
    def autumn(self) -> bool:
        return self.term.autumn


def begin(s: State, k: int, term: Term) -> TermState:
    start = np.datetime64(term.first_day)
    return TermState(k, term, start, np.datetime64(term.snapshot), s.class_grade(term.year))


def _close_case(s: State, i: int, outcome: str, when: np.datetime64) -> None:
    case = s.cases[s.case_of[i]]
    case["outcome"] = outcome
    case["closed"] = when
    case["return_date"] = NAT
    s.ret_date[i] = NAT
    s.out[i] = False
    s.case_of[i] = -1


def moves(s: State, t: TermState) -> None:
    """Moves out at the start of autumn (in 2016, earlier moves only mark who is gone),
    arrivals, and who is present; a case of a child who moved away closes."""
    y = t.y
    t.moved_now = np.zeros(s.n, bool)
    if t.autumn:
        t.moved_now = (s.move_out == y) & ~s.gone & ~s.outside
        if y == 2016:
            t.moved_now[:] = False
            s.gone |= (s.move_out > 0) & (s.move_out <= 2016)
    t.present = ~s.outside & ~s.gone & ~s.never & ((s.arrive == 0) | (s.arrive <= y)) & ~t.moved_now
    s.gone |= t.moved_now
    for i in np.flatnonzero(t.moved_now & s.out):
        _close_case(s, i, "随家庭迁出", t.start)  # left with the family: no return here


def returns_before_term(s: State, t: TermState) -> None:
    """The summer-2019 push, returns between terms, children lost when their class
    graduated while they were out, who is in the schools' remit, and the campaign of
    2019/20 (every open case returns before its deadline)."""
    y, cg = t.y, t.cg
    if y == 2019 and t.autumn:
        _summer_2019_push(s, t)
    back = s.out & (s.ret_date < t.start)
    for i in np.flatnonzero(back):
        s.rejoin(i, t.k)
    for i in np.flatnonzero(s.out & (cg >= 10)):
        _close_case(s, i, "未返校(超出义务教育年限)", t.start)
    t.scope = t.present & (y >= s.E) & (cg <= 9) & (s.graduated == 0)
    if y == 2019 and t.autumn:
        _campaign_2019(s, t)
    t.in_school = t.scope & ~s.out


def _summer_2019_push(s: State, t: TermState) -> None:
    """The stock of open cases may leave room for at most 65 % of the 2019/20 returns
    target, so that new dropouts of 2019/20 are at least 35 % of it."""
    p, out, ret = s.params, s.out, s.ret_date
    target_total = int(round(p.targets["returns_2019"] * p.fraction))
    open_now = np.flatnonzero(out & (ret >= t.start) | out & np.isnat(ret))
    open_now = open_now[(t.cg[open_now] <= 9) & t.present[open_now]]
    surplus = len(open_now) - int(0.65 * target_total)
    if surplus <= 0:
        return
    for i in s.rng.choice(open_now, size=surplus, replace=False):
        d = np.datetime64("2019-07-20") + np.timedelta64(int(s.rng.integers(0, 40)), "D")
        ret[i] = d
        cs = s.cases[s.case_of[i]]
        cs["return_date"] = cs["closed"] = d
        cs["outcome"] = "已返校"
        cs["return_forced"] = True
        for st_ in (2, 3, 4):
            if not np.isnat(cs[f"step{st_}"]) and cs[f"step{st_}"] >= d:
                cs[f"step{st_}"] = NAT


def _campaign_2019(s: State, t: TermState) -> None:
    """The campaign of 2019/20: every open case returns before the deadline."""
    for i in np.flatnonzero(s.out):
        cs = s.cases[s.case_of[i]]
        if np.isnat(s.ret_date[i]) or s.ret_date[i] > s.deadline:
            lo = max(cs["detected"] + np.timedelta64(10, "D"), t.start + np.timedelta64(9, "D"))
            s.ret_date[i] = campaign_date(s.rng, lo, s.deadline)
            cs["return_date"] = cs["closed"] = s.ret_date[i]
            cs["outcome"] = "已返校"
            cs["campaign"] = True
            cs["return_forced"] = True
            for st in (2, 3, 4):
                if not np.isnat(cs[f"step{st}"]) and cs[f"step{st}"] >= s.ret_date[i]:
                    cs[f"step{st}"] = NAT


def schools_of_term(s: State, t: TermState) -> None:
    """Transfers within the prefecture (autumn, from 2017), then each child's school: the
    catchment school of its village and stage; a dropout's registry stays where it was."""
    n, rng = s.n, s.rng
    t.prev_school = s.school.copy()
    t.transfer = np.zeros(n, bool)
    if t.autumn and t.y > 2016:
        t.transfer = (
            t.in_school & (rng.random(n) < s.params.transfer_per_year) & (t.prev_school >= 0)
        )
        same_county = rng.random(n) < 0.7
        for i in np.flatnonzero(t.transfer):
            cands = (
                np.flatnonzero(s.v_county == s.v_county[s.v_of[i]])
                if same_county[i]
                else np.arange(len(s.vil))
            )
            s.v_of[i] = cands[rng.integers(len(cands))]
    t.stage_junior = t.cg >= 7
    want = np.where(t.stage_junior, s.junior_of_v[s.v_of], s.primary_of_v[s.v_of])
    new_school = np.where(t.in_school, want, s.school)
    new_school = np.where(t.scope & (s.school < 0), want, new_school)
    t.changed = t.in_school & (t.prev_school >= 0) & (new_school != t.prev_school)
    t.natural_move = t.changed & ~t.transfer  # grade-7 entry or a new catchment
    s.school = np.where(t.scope | t.moved_now, new_school, s.school)
    at = np.maximum(s.school, 0)
    t.boarding = s.s_boarding[at] & s.boards_if_can & s.s_rural[at]


def suspensions(s: State, t: TermState) -> None:
    """One-term suspensions (休学) for illness, three times as likely with a disability;
    who is at risk of dropping out this term."""
    t.at_risk = t.in_school & ~s.HOME
    t.susp = np.zeros(s.n, bool)
    cand = np.flatnonzero(t.at_risk & ~((t.term.half == 2) & (t.cg == 9)))
    k_s = int(round(s.params.suspension_per_term * len(cand) * (1 + 3 * s.DIS.mean())))
    if k_s:
        w = 1 + 2 * s.DIS[cand]
        pick = s.rng.choice(cand, size=k_s, replace=False, p=w / w.sum())
        t.susp[pick] = True
    t.at_risk &= ~t.susp


def circumstances(s: State, t: TermState) -> None:
    """The county of the school (or village), poverty now and lifted, age and over-age."""
    y = t.y
    t.cidx = np.where(s.school >= 0, s.s_county[np.maximum(s.school, 0)], s.v_county[s.v_of])
    t.pov_now = (s.poor_reg > 0) & (s.poor_reg <= y) & ((s.poor_lift == 0) | (s.poor_lift > y))
    t.pov_lifted = (s.poor_lift > 0) & (s.poor_lift <= y)
    t.age = 6 + y - s.A
    t.overage = np.clip(t.age - (t.cg + 5), 0, 3)


def mentoring(s: State, t: TermState) -> None:
    """Red-list screening: from its start term each county ranks its pupils at risk by its
    own score (last term's observed absence, poverty, over-age, an earlier return,
    left-behind, disability, and teachers' judgement) and lists the top ``capacity``.

    Teachers' judgement knows something the records do not: a pupil's current engagement
    and learning difficulty (weight ``params.judgement_signal``; the rest is noise). Only
    the sum is written down, so an estimator that ignores the recorded score is confounded.
    Compliance is imperfect both ways (a fuzzy cutoff): some listed pupils are not mentored,
    and principals add some of the next-ranked pupils without listing them. The ledger
    keeps three times the capacity (30 at least), with who was listed and who mentored."""
    p = s.params
    t.mentored = np.zeros(s.n, bool)
    t.listed = np.zeros(s.n, bool)
    knows = -s.e + 0.8 * s.LD
    knows = (knows - knows.mean()) / knows.std()
    w = p.judgement_signal
    judgement = w * knows + np.sqrt(1 - w**2) * s.rng.normal(0, 1.0, s.n)
    score = (
        0.35 * s.last_unexc
        + 2.0 * t.pov_now
        + 1.2 * t.overage
        + 3.0 * s.returned_ever
        + 1.0 * s.LB
        + 0.8 * s.DIS
        + judgement
    )
    score = np.round(score, 1)
    t.score = score
    for ci in range(len(s.county_codes)):
        if t.k < s.mentor_start[ci]:
            continue
        idx = np.flatnonzero(t.at_risk & (t.cidx == ci))
        cap = int(round(s.capacity_share[ci] * len(idx)))
        # Deterministic order: score descending, then student number ascending (ties).
        ranked = idx[np.lexsort((s.student_no[idx], -score[idx]))]
        keep = ranked[: max(3 * cap, 30)]
        listed = np.arange(len(keep)) < cap
        u = s.fx.random(len(keep))
        mentored = np.where(
            listed,
            u >= p.listed_not_mentored,
            (np.arange(len(keep)) < 3 * cap) & (u < p.mentored_off_list),
        )
        t.listed[keep[listed]] = True
        t.mentored[keep[mentored]] = True
        s.screen_rows.append(
            pd.DataFrame(
                {
                    "term": t.term.label,
                    "county_code": s.county_codes[ci],
                    "child": keep,
                    "school": s.school[keep],
                    "score": score[keep],
                    "rank": np.arange(1, len(keep) + 1),
                    "assigned": listed,
                    "mentored": mentored,
                    "mentor": np.where(mentored, s.mentor_of(keep), ""),
                    "capacity": cap,
                }
            )
        )


def _risk_index(s: State, t: TermState) -> np.ndarray:
    """The linear predictor of dropping out (before the term's intercept)."""
    recent_return = (t.k - s.returned_k) <= 2
    cg, male = t.cg, s.male
    return (
        -0.8 * s.e
        + 0.45 * t.overage
        + 0.6 * s.LD
        + 0.6 * t.pov_now
        + 0.3 * t.pov_lifted
        + 0.3 * s.low_income
        + 0.35 * s.LB
        + 0.3 * s.DIS
        + 0.35 * s.MIG
        + 0.35 * s.hh_factor
        + 0.25 * (male & t.stage_junior)
        + 0.6 * (~male & s.autonomous_c[t.cidx] & (t.age >= 14))
        + 1.1 * recent_return
        + 0.3 * s.returned_ever
        + 0.4 * s.sib_dropped
        + 0.25 * (cg == 8)
        + 0.3 * ((cg == 7) & (t.term.half == 1))
        - 0.3 * ((cg == 9) & (t.term.half == 2))
    )


def hazard(s: State, t: TermState) -> None:
    """The term's true dropout probability of every pupil at risk: intercepts per county
    and stage solved so the expected count meets the year's schedule (higher in the
    autonomous counties and in junior-middle school), then each treatment's risk ratio."""
    from analysis.synth.schooling.risk import sigmoid, solve_intercepts

    # A dropout's registry stays at the school left, at most that school's top grade.
    at = np.maximum(s.school, 0)
    t.grade = np.where(t.in_school, t.cg, np.minimum(t.cg, np.where(s.s_junior[at], 9, 6)))
    x = _risk_index(s, t)
    base = DROPOUT_RATE_BY_YEAR[t.y] * (0.45 if t.autumn else 0.55)
    cmult = np.where(s.autonomous_c, AUTONOMOUS_MULTIPLIER, 1.0)
    at_risk, cidx, junior = t.at_risk, t.cidx, t.stage_junior
    junior_share = np.mean(junior[at_risk]) if at_risk.any() else 0.34
    norm = (1 - junior_share) + junior_share * JUNIOR_MULTIPLIER
    aut_share = np.mean(s.autonomous_c[cidx[at_risk]]) if at_risk.any() else 0.3
    norm_c = (1 - aut_share) + aut_share * AUTONOMOUS_MULTIPLIER
    group = cidx * 2 + junior.astype(int)
    targets = np.array(
        [
            base * cmult[g // 2] * (JUNIOR_MULTIPLIER if g % 2 else 1.0) / norm / norm_c
            for g in range(2 * len(s.county_codes))
        ]
    )
    targets = targets * np.repeat(s.shock[:, t.k], 2)  # county-by-term shocks
    idx_r = np.flatnonzero(at_risk)
    alpha = solve_intercepts(x[idx_r], group[idx_r], targets)
    t.h0 = np.zeros(s.n)
    t.h0[idx_r] = sigmoid(alpha[group[idx_r]] + x[idx_r])
    t.video = t.k >= s.video_start[cidx]
    t.board = (t.k >= s.board_start[cidx]) & t.pov_now & t.boarding
    t.f_mentor = np.where(t.mentored, s.rr_mentor[cidx], 1.0)
    t.f_video = np.where(t.video, s.rr_video[cidx], 1.0)
    t.f_board = np.where(t.board, s.rr_board[cidx], 1.0)
    t.h1 = t.h0 * t.f_mentor * t.f_video * t.f_board
