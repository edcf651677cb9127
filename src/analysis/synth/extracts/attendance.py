"""Attendance (monthly, per pupil) and leave slips."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.calendar import school_years
from analysis.synth.extracts.extractor import (
    Col,
    Extractor,
    _county_order,
    _lookup,
    _month_start,
    _obj,
)
from analysis.synth.extracts.recording import attendance_as_recorded, month_terms, term_index


def _attendance(ex: Extractor) -> None:
    w = ex.world
    C = ex.C
    a = attendance_as_recorded(w)
    sch = w.geo.schools
    cname = w.geo.counties.set_index("code")["name"]
    a_county = sch["county_code"].to_numpy()[a["school"].to_numpy()]
    sy = school_years(a["year"].to_numpy(), a["month"].to_numpy())
    for code in w.geo.counties["code"]:
        for y in (2016, 2017, 2018, 2019, 2020):
            m = np.flatnonzero((a_county == code) & (sy == y))
            if len(m) == 0:
                continue
            sub = a.iloc[m]
            order = np.lexsort(
                (
                    sub["month"].to_numpy() + 12 * sub["year"].to_numpy(),
                    sub["child"].to_numpy(),
                    sub["school"].to_numpy(),
                )
            )
            sub = sub.iloc[order]
            idx = sub["child"].to_numpy()
            months = _month_start(sub["year"].to_numpy(), sub["month"].to_numpy())
            cols = [
                Col(
                    "school_code",
                    _obj(sch["school_code"].to_numpy()[sub["school"].to_numpy()]),
                    "text",
                    ("学校标识码", "学校代码"),
                ),
                Col(
                    "student_no",
                    ex.regno.at(
                        idx, month_terms(w, sub["year"].to_numpy(), sub["month"].to_numpy())
                    ),
                    "text",
                    ("学籍号", "全国学籍号"),
                ),
                Col("name", _obj(C["school_name"][idx]), "name", ("姓名", "学生姓名")),
                Col("month", months, "month", ("月份", "考勤月份", "统计月份")),
                Col("days_required", sub["required"].to_numpy(), "int", ("应出勤天数", "应到天数")),
                Col(
                    "days_present",
                    sub["present"].to_numpy(),
                    "int",
                    ("实际出勤天数", "实到天数", "出勤天数"),
                ),
                Col("sick_leave", sub["sick"].to_numpy(), "int", ("病假天数", "病假")),
                Col("personal_leave", sub["personal"].to_numpy(), "int", ("事假天数", "事假")),
                Col(
                    "unexcused",
                    sub["unexcused"].to_numpy(),
                    "int",
                    ("旷课天数", "无故缺勤天数", "旷课"),
                ),
            ]
            key = _lookup(months, str)
            ex.emit(
                "attendance",
                f"{code}_{cname[code]}_{y}学年月考勤",
                _county_order(ex, code, cols, 2),
                _obj(C["person_id"][idx]),
                key,
                "csv",
                extra_cols=False,
            )


def _leave(ex: Extractor) -> None:
    """Leave slips (请假条) from 2019/20, when the unified form came in; they sum to the
    attendance leave days of each student-month."""
    w = ex.world
    rng = ex.rng
    C = ex.C
    a = w.school.attendance
    sch = w.geo.schools
    cname = w.geo.counties.set_index("code")["name"]
    sy = school_years(a["year"].to_numpy(), a["month"].to_numpy())
    a = a[(sy >= 2019) & ((a["sick"] > 0) | (a["personal"] > 0))]
    reasons = {
        "病假": ["感冒发烧", "肠胃炎", "腹痛", "牙痛", "住院治疗", "复诊"],
        "事假": ["家中有事", "参加婚礼", "奔丧", "农忙帮工", "随家长外出", "办理证件"],
    }
    rows = []
    for kind, colname in (("病假", "sick"), ("事假", "personal")):
        sub = a[a[colname] > 0]
        days = sub[colname].to_numpy()
        nslip = np.minimum(days, rng.integers(1, 3, len(sub)))
        rep = np.repeat(np.arange(len(sub)), nslip)
        first = np.concatenate([[0], np.cumsum(nslip)[:-1]])
        j = np.arange(len(rep)) - first[rep]
        base = days[rep] // nslip[rep]
        d = base + (j < (days[rep] - base * nslip[rep]))
        start_day = (j * 9 + rng.integers(1, 9, len(rep))).clip(1, 26)
        start = _month_start(sub["year"].to_numpy()[rep], sub["month"].to_numpy()[rep]) + (
            start_day - 1
        ).astype("timedelta64[D]")
        rows.append(
            pd.DataFrame(
                {
                    "child": sub["child"].to_numpy()[rep],
                    "school": sub["school"].to_numpy()[rep],
                    "kind": kind,
                    "start": start,
                    "end": start
                    + (d - 1).astype("timedelta64[D]")
                    + (d > 1) * np.timedelta64(0, "D"),
                    "days": d,
                    "reason": _obj(reasons[kind])[rng.integers(0, 6, len(rep))],
                }
            )
        )
    slips = pd.concat(rows, ignore_index=True)
    slips["county_code"] = sch["county_code"].to_numpy()[slips["school"].to_numpy()]
    start = pd.to_datetime(slips["start"])
    slips["sy"] = school_years(start.dt.year, start.dt.month)
    for code in w.geo.counties["code"]:
        for y in (2019, 2020):
            s = slips[(slips["county_code"] == code) & (slips["sy"] == y)].sort_values(
                ["school", "start", "child"]
            )
            if len(s) == 0:
                continue
            idx = s["child"].to_numpy()
            cols = [
                Col(
                    "student_no",
                    ex.regno.at(idx, term_index(w, s["start"].to_numpy())),
                    "text",
                    ("学籍号",),
                ),
                Col("name", _obj(C["school_name"][idx]), "name", ("学生姓名", "姓名")),
                Col(
                    "school_code",
                    _obj(sch["school_code"].to_numpy()[s["school"].to_numpy()]),
                    "text",
                    ("学校标识码",),
                ),
                Col("leave_type", _obj(s["kind"].to_numpy()), "text", ("请假类型", "假别")),
                Col("start_date", s["start"].to_numpy(), "date", ("开始日期", "请假开始时间")),
                Col("end_date", s["end"].to_numpy(), "date", ("结束日期", "请假结束时间")),
                Col("days", s["days"].to_numpy(), "int", ("请假天数", "天数")),
                Col("reason", _obj(s["reason"].to_numpy()), "text", ("请假事由", "事由")),
            ]
            ex.emit(
                "leave",
                f"{code}_{cname[code]}_{y}学年请假条",
                cols,
                _obj(C["person_id"][idx]),
                _lookup(s["start"].to_numpy().astype("datetime64[D]"), str),
                "csv",
            )
