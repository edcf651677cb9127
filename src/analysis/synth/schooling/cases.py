"""Persuasion-to-return cases (劝返, the four legal steps 四步法): a dropout is detected a
week after it happens; persuasion starts; if the child is not back, an order to correct
follows after about 30 days, an administrative penalty about 30 days later, an application
to court about 45 days after that (escalation used more each year; gaps vary, and offices
act on working days). The daily return hazard is multiplied at
each step by the county's true step effect. A child whose class graduates while out is
lost; in 2019/20 the campaign returns every dropout by its deadline."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from analysis.calendar import CLOSURE, next_working_day
from analysis.synth.params import RETURN_WITHIN_YEAR
from analysis.synth.schooling.state import NAT, State

if TYPE_CHECKING:
    from analysis.synth.schooling.term import TermState

WHEREABOUTS = (
    "在家",
    "外出务工(浙江省)",
    "外出务工(广东省)",
    "外出务工(上海市)",
    "外出务工(省内)",
    "随父母外出",
    "早婚",
)
#: Each year's chance that a case escalates past the first step.
ESCALATION = {2016: 0.15, 2017: 0.3, 2018: 0.7, 2019: 1.0, 2020: 1.0}
#: The first and last day of the winter holiday and closure of early 2020: no return falls
#: between them (the others came back on CLOSURE["others_back"]).
_NO_SCHOOL = (np.datetime64("2020-01-16"), np.datetime64(CLOSURE["others_back"]))
_CAMPAIGN_START = np.datetime64("2019-09-10")


def campaign_date(rng: np.random.Generator, lo: np.datetime64, hi: np.datetime64) -> np.datetime64:
    """A school day between lo and hi, avoiding the early-2020 closure."""
    lo = max(lo, _CAMPAIGN_START)
    span = int((hi - lo).astype(int))
    for _ in range(50):
        d = lo + np.timedelta64(int(rng.integers(0, max(span, 1))), "D")
        if not (_NO_SCHOOL[0] <= d < _NO_SCHOOL[1]):
            return d
    return np.datetime64("2020-05-20")


def _whereabouts(s: State, t: TermState, i: int) -> tuple[str, str]:
    """Where the child is and why it left, following who the child is."""
    rng, age, ci = s.rng, t.age[i], t.cidx[i]
    p = np.array([0.40, 0.06, 0.06, 0.03, 0.08, 0.12 + 0.1 * s.MIG[i], 0.0])
    if age >= 14:
        p[1:5] *= 3.0
    if (not s.male[i]) and s.autonomous_c[ci] and age >= 14:
        p[6] = 0.25
    p /= p.sum()
    where = WHEREABOUTS[rng.choice(len(WHEREABOUTS), p=p)]
    if where == "早婚":
        reason = "早婚"
    elif where.startswith("外出务工"):
        reason = "外出务工"
    elif s.LD[i] and rng.random() < 0.6:
        reason = "学习困难/厌学"
    elif t.pov_now[i] and rng.random() < 0.5:
        reason = "家庭经济困难"
    elif s.DIS[i] and rng.random() < 0.6:
        reason = "残疾/疾病"
    else:
        reason = rng.choice(["厌学", "家长不重视", "其他"])
    return where, reason


#: Typical days between the steps (the procedure's deadlines), and how much they vary.
STEP_GAP_DAYS = {2: 30, 3: 30, 4: 45}
_GAP_SPREAD = 0.3  # log-scale standard deviation of a gap
#: Share of steps an office records on a weekend or holiday (most wait for a working day).
OFF_DAY_RECORDING = 0.03


def _office_day(fx: np.random.Generator, d: np.datetime64) -> np.datetime64:
    """The day an office acts on ``d``: the next working day, except rarely."""
    if fx.random() < OFF_DAY_RECORDING:
        return d
    return np.datetime64(next_working_day(d), "D")


def _steps(s: State, detected: np.datetime64, y: int) -> dict:
    """The day each step starts (1: persuasion, days after detection; 2-4 if escalated).
    Gaps vary around the procedure's deadlines (:data:`STEP_GAP_DAYS`), and a step falls
    on an office's working day except rarely."""
    rng, fx = s.rng, s.fx
    s1 = _office_day(fx, detected + np.timedelta64(int(rng.integers(1, 6)), "D"))
    starts = {1: s1}

    def after(prev: np.datetime64, step: int) -> np.datetime64:
        gap = STEP_GAP_DAYS[step] * np.exp(fx.normal(0, _GAP_SPREAD))
        return _office_day(fx, prev + np.timedelta64(max(int(round(gap)), 7), "D"))

    if rng.random() < ESCALATION[y]:
        starts[2] = after(s1, 2)
        starts[3] = after(starts[2], 3)
        if y >= 2018 or rng.random() < 0.3:
            starts[4] = after(starts[3], 4)
    return starts


def _return_date(s: State, i: int, ci: int, y: int, starts: dict, far: bool) -> np.datetime64:
    """The day the child returns under a piecewise-constant daily hazard (base set so the
    chance of returning within a year follows the schedule), or NaT."""
    target = RETURN_WITHIN_YEAR[y]
    lam0 = -np.log(1 - min(target, 0.995)) / 365 / 1.8 * s.county_return[ci] * (0.6 if far else 1.0)
    eff = s.step_eff
    mult = {
        1: 1.0,
        2: eff[2][ci],
        3: eff[2][ci] * eff[3][ci],
        4: eff[2][ci] * eff[3][ci] * eff[4][ci],
    }
    draw = s.rng.exponential()
    s1 = starts[1]
    t = s1
    steps_sorted = sorted(starts)
    for j, st in enumerate(steps_sorted):
        seg_end = (
            starts[steps_sorted[j + 1]]
            if j + 1 < len(steps_sorted)
            else s1 + np.timedelta64(3650, "D")
        )
        seg_days = int((seg_end - t).astype(int))
        rate = lam0 * mult[st]
        if draw <= rate * seg_days:
            return t + np.timedelta64(int(np.ceil(draw / rate)), "D")
        draw -= rate * seg_days
        t = seg_end
    return NAT


def open_case(s: State, t: TermState, i: int, dropped_on: np.datetime64, class_grad) -> dict:
    """A persuasion-to-return case of child ``i``, who dropped out on ``dropped_on``: its
    detection, whereabouts, reason, the steps reached and the return date (or none)."""
    rng, y, ci = s.rng, t.y, t.cidx[i]
    detected = dropped_on + np.timedelta64(7, "D")
    where, reason = _whereabouts(s, t, i)
    starts = _steps(s, detected, y)
    ret = _return_date(s, i, ci, y, starts, where.startswith("外出"))
    # A return inside the month of the dropout is counted from the next month.
    nxt = (dropped_on.astype("datetime64[M]") + np.timedelta64(1, "M")).astype("datetime64[D]")
    if not np.isnat(ret) and ret < nxt:
        ret = nxt
    # Returns fall on school days: not during the 2020 closure.
    back = np.datetime64(CLOSURE["others_back"])
    if not np.isnat(ret) and np.datetime64("2020-02-01") <= ret < back:
        ret = back + np.timedelta64(int(rng.integers(0, 20)), "D")
    # The class graduates: no return after that.
    if not np.isnat(ret) and ret >= class_grad:
        ret = NAT
    # 2019/20 campaign: every case open in that year returns before the deadline.
    natural = ret
    forced = bool(y == 2019 and (np.isnat(ret) or ret > s.deadline))
    if forced:
        lo = max(detected + np.timedelta64(10, "D"), _CAMPAIGN_START)
        ret = campaign_date(rng, max(lo, nxt), s.deadline)
    reached = [st for st in sorted(starts) if np.isnat(ret) or starts[st] < ret]
    return {
        "child": i,
        "school": s.school[i],
        "grade": t.grade[i],
        "dropped_on": dropped_on,
        "detected": detected,
        "whereabouts": where,
        "reason": reason,
        "step1": starts[1],
        "step2": starts.get(2, NAT) if 2 in reached else NAT,
        "step3": starts.get(3, NAT) if 3 in reached else NAT,
        "step4": starts.get(4, NAT) if 4 in reached else NAT,
        "return_date": ret,
        "year": y,
        "marked": bool(rng.random() < 0.5),
        "outcome": "已返校" if not np.isnat(ret) else "未返校",
        "closed": ret,
        "campaign": bool(y == 2019),
        "county_code": s.county_codes[ci],
        # The return the calibration forced (the 2019/20 campaign, the summer-2019 push),
        # and the return date the hazard had drawn (NaT: none before the class left).
        "return_forced": forced,
        "natural_return_date": natural,
    }
