"""Interventions (persuasion ledgers, red-list screening, home teaching), county policies, inspections."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.calendar import school_years
from analysis.synth.extracts.extractor import (
    GRADE_CN,
    Col,
    Extractor,
    _obj,
)
from analysis.synth.extracts.recording import ledger_as_recorded, term_index


def _interventions(ex: Extractor) -> None:
    """Per county: the persuasion ledger (劝返复学台账), each term's red-list screening
    ledger (红名单排查) and the home-teaching register (送教上门登记)."""
    w = ex.world
    sch = w.geo.schools
    cases = w.school.cases.copy()
    cases["county_code"] = sch["county_code"].to_numpy()[cases["school"].to_numpy()]
    # The ledger as the counties kept it: some dropouts missing, detection dated late.
    recorded = ledger_as_recorded(w, cases)
    for code in w.geo.counties["code"]:
        cs = recorded[recorded["county_code"] == code].sort_values("detected")
        if len(cs):
            _persuasion_ledger(ex, code, cs)
        sc = w.school.screening
        sc = sc[sc["county_code"] == code] if len(sc) else sc
        for term, g in sc.groupby("term") if len(sc) else []:
            _screening_ledger(ex, code, term, g)
        _home_teaching(ex, code)


def _persuasion_ledger(ex: Extractor, code, cs: pd.DataFrame) -> None:
    """One county's persuasion cases with the dates of the four steps (四步法), in a
    workbook under a merged header group half the time."""
    sch, C = ex.world.geo.schools, ex.C
    cname = ex.world.geo.counties.set_index("code")["name"]
    idx = cs["child"].to_numpy()
    outc = cs["outcome"].to_numpy()
    placements = {"已返校": "随班就读"}

    def step(name: str, aliases: tuple[str, ...]) -> Col:
        return Col(name, cs[name].to_numpy(), "date", aliases, group="四步法")

    k = term_index(ex.world, cs["detected"].to_numpy())
    cols = [
        Col("student_no", ex.regno.at(idx, k), "text", ("学籍号",)),
        Col("name", _obj(C["school_name"][idx]), "name", ("学生姓名", "姓名")),
        Col(
            "id_number",
            _obj(np.where(ex.regno.has_id(idx, k), C["id_number"][idx], "")),
            "id",
            ("身份证号", "身份证件号"),
        ),
        Col(
            "school_name",
            _obj(sch["school_name"].to_numpy()[cs["school"].to_numpy()]),
            "text",
            ("学校名称", "原就读学校"),
        ),
        Col("grade", _obj([GRADE_CN[g] for g in cs["grade"]]), "text", ("辍学时年级", "年级")),
        Col("detected", cs["detected"].to_numpy(), "date", ("发现日期", "疑似辍学发现时间")),
        Col("whereabouts", _obj(cs["whereabouts"].to_numpy()), "text", ("去向", "目前去向")),
        Col("reason", _obj(cs["reason"].to_numpy()), "text", ("辍学原因", "主要原因")),
        step("step1", ("劝导日期", "第一步劝返日期")),
        step("step2", ("责令改正日期",)),
        step("step3", ("行政处罚日期",)),
        step("step4", ("申请强制执行或起诉日期", "司法程序日期")),
        Col("return_date", cs["return_date"].to_numpy(), "date", ("返校日期", "复学日期")),
        Col("placement", _obj([placements.get(o, "") for o in outc]), "text", ("安置方式",)),
        Col("outcome", _obj(outc), "text", ("劝返结果", "状态")),
    ]
    fmt = "xlsx" if ex.rng.random() < 0.6 else "csv"
    if fmt == "csv" or ex.rng.random() < 0.5:
        for col in cols:
            col.group = None
    ex.emit(
        "interventions",
        f"{code}_{cname[code]}_劝返复学台账",
        cols,
        _obj(C["person_id"][idx]),
        _obj(cs["detected"].astype(str).to_numpy()),
        fmt,
        titles=[f"{cname[code]}控辍保学劝返复学工作台账", "填报单位：县教育体育局"],
    )


def _screening_ledger(ex: Extractor, code, term: str, g: pd.DataFrame) -> None:
    """One county's red-list screening of a term: the ranked pupils, who was listed, who
    was mentored (listed or not) and by whom."""
    sch, C = ex.world.geo.schools, ex.C
    cname = ex.world.geo.counties.set_index("code")["name"]
    idx = g["child"].to_numpy()
    k_of_term = next((k for k, t in enumerate(ex.world.school.terms) if t.label == term), 10**6)
    cols = [
        Col("term", _obj(np.full(len(g), term)), "text", ("学期",)),
        Col("student_no", ex.regno.at(idx, np.full(len(idx), k_of_term)), "text", ("学籍号",)),
        Col("name", _obj(C["school_name"][idx]), "name", ("学生姓名", "姓名")),
        Col(
            "school_name",
            _obj(sch["school_name"].to_numpy()[g["school"].to_numpy()]),
            "text",
            ("学校名称",),
        ),
        Col(
            "risk_score",
            _obj(g["score"].map("{:.1f}".format).to_numpy()),
            "text",
            ("风险分值", "排查得分"),
        ),
        Col("rank", g["rank"].to_numpy(), "int", ("排名", "县内排名")),
        Col(
            "red_list",
            np.where(g["assigned"], "是", "否").astype(object),
            "text",
            ("是否纳入红名单", "纳入红名单"),
        ),
        Col("mentor", _obj(g["mentor"].to_numpy()), "text", ("包保责任人", "结对帮扶人")),
        Col(
            "mentored",
            np.where(g["mentored"], "是", "否").astype(object),
            "text",
            ("是否开展结对帮扶", "帮扶落实"),
        ),
    ]
    ex.emit(
        "interventions",
        f"{code}_{cname[code]}_红名单排查_{term}",
        cols,
        _obj(C["person_id"][idx]),
        np.full(len(g), term, dtype=object),
        "csv",
        allow_duplicates=False,
    )


def _home_teaching(ex: Extractor, code) -> None:
    """One county's register of pupils taught at home, from their first term so taught."""
    w, C = ex.world, ex.C
    sch = w.geo.schools
    cname = w.geo.counties.set_index("code")["name"]
    st = w.school.student_terms
    ht = st[(st["status"] == "home_teaching")]
    ht = ht.assign(county_code=sch["county_code"].to_numpy()[ht["school"].to_numpy()])
    ht = ht[ht["county_code"] == code].sort_values("k").groupby("child").first().reset_index()
    if not len(ht):
        return
    idx = ht["child"].to_numpy()
    start = np.array([w.school.terms[k].first_day for k in ht["k"]]).astype(
        "datetime64[D]"
    ) + np.timedelta64(7, "D")
    k = ht["k"].to_numpy()
    cols = [
        Col("student_no", ex.regno.at(idx, k), "text", ("学籍号",)),
        Col("name", _obj(C["school_name"][idx]), "name", ("学生姓名",)),
        Col(
            "id_number",
            _obj(np.where(ex.regno.has_id(idx, k), C["id_number"][idx], "")),
            "id",
            ("身份证号",),
        ),
        Col(
            "school_name",
            _obj(sch["school_name"].to_numpy()[ht["school"].to_numpy()]),
            "text",
            ("学籍所在学校",),
        ),
        Col("disability_type", _obj(C["disability_type"][idx]), "text", ("残疾类别",)),
        Col("start_date", start, "date", ("送教开始日期",)),
        Col("visits_per_month", np.full(len(ht), 4), "int", ("每月送教次数",)),
    ]
    ex.emit(
        "interventions",
        f"{code}_{cname[code]}_送教上门登记",
        cols,
        _obj(C["person_id"][idx]),
        np.full(len(ht), "", dtype=object),
        "xlsx",
        titles=[f"{cname[code]}送教上门学生登记表"],
    )


def _policies(ex: Extractor) -> None:
    w = ex.world
    pol = w.school.policies
    pol = pol[pol["policy"] != "mentoring"].copy()
    terms = dict(enumerate(w.school.terms))
    pol = pol[pol["start_k"] < 99]
    names = {
        "video_check": "学生到校情况视频核查",
        "boarding_subsidy": "建档立卡寄宿生生活补助提标",
    }
    cname = w.geo.counties.set_index("code")["name"]
    dates = np.array([terms[k].first_day for k in pol["start_k"]]).astype("datetime64[D]")
    doc = [
        f"{cname[c][:2]}教发〔{str(d)[:4]}〕{(i * 7) % 40 + 1}号"
        for i, (c, d) in enumerate(zip(pol["county_code"], dates, strict=True))
    ]
    cols = [
        Col(
            "county", _obj(cname.loc[pol["county_code"]].to_numpy()), "text", ("县(市、区)", "县区")
        ),
        Col("policy", _obj([names[x] for x in pol["policy"]]), "text", ("政策措施", "措施名称")),
        Col("adopted", dates, "date", ("实施日期", "执行时间")),
        Col("document", _obj(doc), "text", ("文号",)),
    ]
    ex.emit(
        "policies",
        "各县控辍保学政策措施实施情况",
        cols,
        np.full(len(pol), "", dtype=object),
        _obj(pol["county_code"].astype(str).to_numpy()),
        "xlsx",
        titles=["各县（市、区）控辍保学政策措施实施情况统计表"],
        allow_duplicates=False,
    )


def _inspections(ex: Extractor) -> None:
    w = ex.world
    ins = w.school.inspections
    sch = w.geo.schools
    d = ins["date"].to_numpy().astype("datetime64[D]")
    sy = school_years(
        d.astype("datetime64[Y]").astype(int) + 1970, d.astype("datetime64[M]").astype(int) % 12 + 1
    )
    for y in (2016, 2017, 2018, 2019, 2020):
        g = ins[sy == y].sort_values("date")
        if len(g) == 0:
            continue
        cols = [
            Col("date", g["date"].to_numpy(), "date", ("督查日期",)),
            Col(
                "school_code",
                _obj(sch["school_code"].to_numpy()[g["school"].to_numpy()]),
                "text",
                ("学校标识码",),
            ),
            Col(
                "school_name",
                _obj(sch["school_name"].to_numpy()[g["school"].to_numpy()]),
                "text",
                ("学校名称", "被督查学校"),
            ),
            Col("level", _obj(g["level"].to_numpy()), "text", ("督查层级",)),
            Col("problems", g["problems"].to_numpy(), "int", ("发现问题数",)),
            Col(
                "notice",
                np.where(g["rectification_notice"], "是", "否").astype(object),
                "text",
                ("是否下达整改通知书",),
            ),
        ]
        ex.emit(
            "inspections",
            f"{y}学年控辍保学督查记录",
            cols,
            np.full(len(g), "", dtype=object),
            _obj(g["school"].astype(str).to_numpy()),
            "csv",
            allow_duplicates=False,
        )
