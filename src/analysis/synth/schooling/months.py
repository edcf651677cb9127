"""Who drops out in a term, and the term's months: engagement, attendance, dropouts and
returns, month by month; then the term's truth rows and what its end brings.

Attendance follows engagement: unexcused days are binomial with ``logit p = -5.2 - 1.1 e``;
personal leave rises as engagement falls, in farm seasons and for poor households; sick
leave is mostly noise. In the month or two before a dropout engagement sinks. During the
early-2020 closure no attendance is recorded at all (:func:`days_required`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.calendar import CLOSURE, DAYS_REQUIRED
from analysis.synth.schooling.cases import open_case
from analysis.synth.schooling.risk import sigmoid
from analysis.synth.schooling.state import State
from analysis.synth.schooling.term import TermState


def days_required(cal_year: int, month: int, grade: np.ndarray) -> np.ndarray:
    """School days required in a month for each grade (0 = no school, no attendance row):
    :data:`analysis.calendar.DAYS_REQUIRED`, but in the early-2020 closure none in February
    and March, grade 9 only from 20 April, every grade from 11 May."""
    base = np.full(len(grade), DAYS_REQUIRED[month], dtype=np.int16)
    if f"{cal_year}-{month:02d}" in CLOSURE["months"] and month < CLOSURE["grade9_back"].month:
        base[:] = 0
    elif (cal_year, month) == (CLOSURE["grade9_back"].year, CLOSURE["grade9_back"].month):
        base[:] = np.where(grade == 9, 9, 0)  # grade 9 back on 20 April
    elif (cal_year, month) == (CLOSURE["others_back"].year, CLOSURE["others_back"].month):
        base[:] = np.where(grade == 9, 19, 14)  # others back on 11 May
    return base


def draw_dropouts(s: State, t: TermState) -> None:
    """Who drops out this term, and the month and day of each: only months with school
    for that child, January seldom, no new dropout in July 2020.

    Common random numbers: each pupil has one uniform ``u`` this term and drops out when
    ``u < p``, so the outcome under any other treatment is ``u < p'`` with the same ``u``
    (the truth's potential outcomes). In 2019/20 the count is exactly what the returns
    target leaves: the pupils with the smallest ``u / p`` drop out, which is ``u < tau p``
    for one ``tau``; the probabilities are rescaled by ``tau``."""
    n, rng = s.n, s.rng
    idx_r = np.flatnonzero(t.at_risk)
    t.u = rng.random(n)
    if t.y == 2019:
        if t.autumn:
            stock = int(s.out.sum())
            target_total = int(round(s.params.targets["returns_2019"] * s.params.fraction))
            k_new_total = target_total - stock
            if k_new_total < 1:
                raise RuntimeError(
                    f"dropout stock {stock} exceeds the 2019/20 returns target {target_total}"
                )
            s.k_new = {1: k_new_total // 2, 2: k_new_total - k_new_total // 2}
        kk = s.k_new[t.term.half]
        ratio = np.sort(t.u[idx_r] / t.h1[idx_r])
        tau = (ratio[kk - 1] + ratio[kk]) / 2 if kk < len(ratio) else ratio[-1] * 1.001
        t.h1 = np.minimum(t.h1 * tau, 1.0)
        t.h0 = np.minimum(t.h0 * tau, 1.0)
    months = t.term.months
    t.req = np.stack([days_required(cy, m, t.grade) for cy, m in months], axis=1)  # n x months
    w = t.req.astype(float)
    if t.autumn:
        w[:, -1] *= 0.3  # January: exams, little dropping out
    if t.y == 2019 and not t.autumn:
        w[:, -1] = 0.0  # the campaign closes the year with no new dropout in July
    t.can_drop = w.sum(axis=1) > 0
    t.drop = t.at_risk & t.can_drop & (t.u < t.h1)
    t.drop_m = np.full(n, -1)
    t.drop_day = np.zeros(n, np.int16)
    for i in np.flatnonzero(t.drop):
        mi = rng.choice(len(months), p=w[i] / w[i].sum())
        t.drop_m[i] = mi
        t.drop_day[i] = rng.integers(0, t.req[i, mi])


def run_months(s: State, t: TermState) -> None:
    """The term's school months in order (see the module docstring)."""
    s.term_unexc[:] = 0
    ret_m = np.full(s.n, -1)  # month index of a return within this term
    ret_day = np.zeros(s.n, np.int16)
    for mi, (cy, m) in enumerate(t.term.months):
        _month(s, t, mi, cy, m, ret_m, ret_day)


def _month(
    s: State, t: TermState, mi: int, cy: int, m: int, ret_m: np.ndarray, ret_day: np.ndarray
) -> None:
    """One month: engagement drifts, returns of the month are dated, attendance is
    recorded for those with a row, dropouts open cases, returns rejoin."""
    month_start = np.datetime64(f"{cy}-{m:02d}-01")
    s.e = s.mu + 0.85 * (s.e - s.mu) + s.rng.normal(0, 0.45, s.n)
    # Returns inside this month (cases opened in earlier terms or earlier this term).
    month_end = np.datetime64(f"{cy + (m == 12)}-{m % 12 + 1:02d}-01")
    rin = s.out & (s.ret_date < month_end)
    req = t.req
    if rin.any():
        ret_m[rin] = mi
        into = np.clip((s.ret_date[rin] - month_start).astype(int), 0, 31)
        ret_day[rin] = np.minimum(into * req[rin, mi] // 31, np.maximum(req[rin, mi] - 1, 0))
    idx = _rows_of_month(s, t, mi)
    if len(idx) == 0:
        return
    _attendance(s, t, idx, mi, cy, m, ret_m, ret_day)
    here = t.drop & (t.drop_m == mi)
    for i in np.flatnonzero(here):
        day = month_start + np.timedelta64(int(t.drop_day[i] * 30 // max(req[i, mi], 1)), "D")
        grad = np.datetime64(f"{t.y + (9 - int(t.cg[i])) + 1}-07-15")  # the class leaves
        case = open_case(s, t, i, day, grad)
        s.case_of[i] = len(s.cases)
        s.cases.append(case)
        s.out[i] = True
        s.ret_date[i] = case["return_date"]
        own = s.sib_dropped[i]
        s.sib_dropped[s.members[s.hh_id[i]]] = True
        s.sib_dropped[i] = own  # a child's own dropout is not a sibling's
    for i in np.flatnonzero(s.out & (ret_m == mi) & ~here):
        s.rejoin(i, t.k)


def _rows_of_month(s: State, t: TermState, mi: int) -> np.ndarray:
    """Who has an attendance row: in scope, with a school holding the registry, attendance
    kept (not home, not suspended, not a dropout already marked in the registry)."""
    r_m = t.req[:, mi]
    marked = np.zeros(s.n, bool)
    openc = s.case_of >= 0
    if openc.any():
        mk = np.array(
            [s.cases[j]["marked"] and s.cases[j]["detected"] < t.snapshot for j in s.case_of[openc]]
        )
        marked[openc] = mk & ~(t.drop & (t.drop_m >= 0))[openc]
    has_row = t.scope & ~s.HOME & ~t.susp & (r_m > 0) & ~marked & (s.school >= 0)
    return np.flatnonzero(has_row)


def _attendance(s, t, idx, mi, cy, m, ret_m, ret_day) -> None:
    """The month's attendance rows of the children ``idx``."""
    rng = s.rng
    shock = np.where((t.drop_m >= 0) & ((t.drop_m == mi) | (t.drop_m == mi + 1)), -1.4, 0.0)
    e_eff = s.e + shock
    rq = t.req[idx, mi].astype(np.int16)
    unexc = rng.binomial(rq, sigmoid(-5.2 - 1.1 * e_eff[idx])).astype(np.int16)
    farm = 1.5 if m in (5, 6, 9, 10) else 1.0
    winter = 1.3 if m in (12, 1, 3) else 1.0
    pers = rng.poisson(
        s.params.personal_leave_mean
        * np.exp(-0.45 * e_eff[idx])
        * farm
        * np.where(t.pov_now[idx], 1.5, 1.0)
    )
    sick = rng.poisson(s.params.sick_leave_mean * winter * np.where(s.DIS[idx], 2.0, 1.0))
    # Out of school for part or all of the month.
    was_out = s.out[idx]
    d_here = t.drop[idx] & (t.drop_m[idx] == mi)
    r_here = ret_m[idx] == mi
    away = np.zeros(len(idx), np.int16)
    away = np.where(was_out & ~r_here, rq, away)  # whole month out
    away = np.where(was_out & r_here, ret_day[idx], away)  # back mid-month
    away = np.where(d_here, rq - t.drop_day[idx], away)  # left mid-month
    pers = np.minimum(pers, rq - away).astype(np.int16)
    sick = np.minimum(sick, rq - away - pers).astype(np.int16)
    unexc = np.minimum(unexc, rq - away - pers - sick) + away
    present = rq - unexc - pers - sick
    s.term_unexc[idx] += unexc
    s.att_parts.append(
        {
            "child": idx.astype(np.int32),
            "school": s.school[idx].astype(np.int32),
            "grade": t.grade[idx].astype(np.int8),
            "year": np.full(len(idx), cy, np.int16),
            "month": np.full(len(idx), m, np.int8),
            "required": rq,
            "present": present.astype(np.int16),
            "sick": sick,
            "personal": pers,
            "unexcused": unexc.astype(np.int16),
        }
    )


def truth_rows(s: State, t: TermState) -> None:
    """The term's row of every child in scope (or moving out with a school): status,
    school, grade, the true probabilities, the outcome and the treatments received."""
    idx = np.flatnonzero(t.scope | (t.moved_now & (s.school >= 0)))
    status = np.where(
        t.moved_now[idx],
        "moved_out",
        np.where(
            ~t.in_school[idx],
            "out_dropout",
            np.where(t.susp[idx], "suspended", np.where(s.HOME[idx], "home_teaching", "in_school")),
        ),
    )
    s.st_rows.append(
        pd.DataFrame(
            {
                "child": idx,
                "k": t.k,
                "county_code": s.county_codes[t.cidx[idx]],
                "status": status,
                "school": s.school[idx],
                "prev_school": np.where(t.changed[idx], t.prev_school[idx], -1),
                "transfer": t.transfer[idx] & t.changed[idx],
                "natural_move": t.natural_move[idx],
                "grade": t.grade[idx],
                "class_grade": t.cg[idx],
                "boarding": t.boarding[idx],
                "at_risk": t.at_risk[idx],
                "p_true": t.h1[idx],
                "p_untreated": t.h0[idx],
                "dropped": t.drop[idx],
                **_potential_outcomes(s, t, idx),
                "mentored": t.mentored[idx],
                "listed": t.listed[idx],
                "score": t.score[idx] if t.score is not None else np.nan,
                "video_check": t.video[idx] & t.at_risk[idx],
                "boarding_subsidy": t.board[idx] & t.at_risk[idx],
                "poverty_now": t.pov_now[idx],
                "case_open": (s.case_of[idx] >= 0) & ~t.drop[idx],
            }
        )
    )


def _potential_outcomes(s: State, t: TermState, idx: np.ndarray) -> dict:
    """The probability and the outcome (same uniform) of each pupil had one treatment been
    different, the others as received: mentored or not (for everyone at risk, in any
    county and term, using the county's true effect), and without the county's policies.
    In 2019/20 the dropout count was forced by calibration (``count_forced``)."""
    h0, u, ok = t.h0[idx], t.u[idx], t.at_risk[idx] & t.can_drop[idx]
    fm, fv, fb = t.f_mentor[idx], t.f_video[idx], t.f_board[idx]
    rr_m = s.rr_mentor[t.cidx[idx]]
    p = {
        "p_if_mentored": h0 * fv * fb * rr_m,
        "p_if_not_mentored": h0 * fv * fb,
        "p_without_video": h0 * fm * fb,
        "p_without_subsidy": h0 * fm * fv,
    }
    out = {}
    for name, prob in p.items():
        prob = np.where(ok, np.minimum(prob, 1.0), 0.0)
        out[name] = prob
        out[name.replace("p_", "dropped_", 1)] = ok & (u < prob)
    out["count_forced"] = np.full(len(idx), t.y == 2019)
    return out


def end_of_term(s: State, t: TermState) -> None:
    """Last term's absence is known; spring ends with graduation; by the end of 2019/20
    every dropout has returned (the seed's 407 returns, exact by construction)."""
    s.last_unexc = s.term_unexc.copy()
    if not t.autumn:
        grads = t.scope & ~s.out & (t.cg == 9) & ~t.susp
        s.graduated[grads] = t.y + 1
    if t.y == 2019 and not t.autumn:
        still = np.flatnonzero(s.out)
        if len(still):
            raise RuntimeError(f"{len(still)} dropouts not returned by the 2019/20 deadline")
