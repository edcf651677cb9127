"""The second export dialect, ``school``: another county system's conventions.

Where the first dialect (``county``) delivers one file per county and term, the school
dialect is what a bureau receives when every school uploads its own forms, as exported by
the national student-registry system and filled in by hand:

* the roster (学校名录) has no county code nor county name: a school's county is only in
  its township and its name;
* one registry file per school per term (``<school>_2019年秋季学期学生名册``), whose rows
  do not say their school or term: the file name does, and a workbook's title;
* one attendance file per school per month (``<school>_2019年10月考勤统计``), whose rows
  say neither school nor month;
* the household check per county and year, named by the county's name
  (``通海县适龄人口核查_2019``), never its code;
* the registry system's header words (全国学籍号, 身份证件号, 成员1姓名, 是否进城务工人员
  随迁子女 ...) with columns the pipeline does not use (身份证件类型, 联系电话, 成员1关系);
* each county's own column order;
* forms that end in a total row and the signatures (合计, 填表人, 审核人, 制表日期).

The rows are the same world's as in the county dialect (the same children, terms and
months), so the truth and every target apply to both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.synth.extracts.extractor import (
    GRADE_CN,
    Col,
    Extractor,
    _county_order,
    _eth,
    _lookup,
    _month_start,
    _obj,
    _sex,
)
from analysis.synth.extracts.recording import attendance_as_recorded, month_terms
from analysis.synth.extracts.registries import (
    _Families,
    _guardians,
    _registry_rows,
    household_checks,
)

#: The share of forms that end in totals and signatures.
FOOTER_SHARE = 0.5


def _schools(ex: Extractor) -> None:
    """The roster as the school system lists it: no county code, no county name."""
    s = ex.world.geo.schools
    stage = np.where(s["stage"] == "初中", "初级中学", "小学").astype(object)
    cols = [
        Col("school_code", _obj(s["school_code"]), "text", ("学校标识码",)),
        Col("school_name", _obj(s["school_name"]), "text", ("学校全称", "学校名称")),
        Col("township", _obj(s["township"]), "text", ("所在乡镇(街道)", "所在乡镇")),
        Col("stage", stage, "text", ("办学类型",)),
        Col("boarding", np.where(s["boarding"], "是", "否").astype(object), "text", ("寄宿制",)),
        Col("location", _obj(s["location"]), "text", ("城乡分类",)),
    ]
    ex.emit(
        "schools",
        "学校名录",
        cols,
        np.full(len(s), "", dtype=object),
        _obj(s["school_code"]),
        "csv",
        allow_duplicates=False,
        extra_cols=False,
    )


def _term_name(t) -> str:
    return f"{t.year}年秋季学期" if t.autumn else f"{t.year + 1}年春季学期"


def _xueji(ex: Extractor) -> None:
    """One registry file per school and term; the school and term only in the file name
    and (in a workbook) the title."""
    w, rng, C = ex.world, ex.rng, ex.C
    fam = _Families.of(w)
    sch = w.geo.schools
    allrows = _registry_rows(ex)
    groups = allrows.groupby(["school", "k"], sort=True).indices
    for (school, k), pos in groups.items():
        t = w.school.terms[k]
        rows = allrows.iloc[pos]
        name = str(sch["school_name"].iat[school])
        code = int(sch["county_code"].iat[school])
        cols = _county_order(ex, code, _xueji_columns(ex, fam, rows), keep_first=1)
        fmt = "xlsx" if rng.random() < 0.4 else "csv"
        half = "一" if t.autumn else "二"
        ex.emit(
            "xueji",
            f"{name}_{_term_name(t)}学生名册",
            cols,
            _obj(C["person_id"][rows["child"].to_numpy()]),
            np.full(len(rows), t.label, dtype=object),
            fmt,
            titles=[f"{name}{t.year}-{t.year + 1}学年第{half}学期在校学生名册", "单位：人"],
            row_kind=_obj(rows["row_kind"].to_numpy()),
            footer=FOOTER_SHARE,
        )


def _xueji_columns(ex: Extractor, fam: _Families, rows: pd.DataFrame) -> list[Col]:
    """The registry system's export: its header words, and the columns it always has that
    the pipeline does not use."""
    C = ex.C
    idx = rows["child"].to_numpy()
    n = len(idx)
    g_name, g_id, g_by = _guardians(ex, fam, idx)
    mig = C["migrant"][idx]
    hk = np.where(mig, C["origin"][idx], fam.addr[idx]).astype(object)
    k = rows["k"].to_numpy()
    ids = np.where(ex.regno.has_id(idx, k), C["id_number"][idx], "").astype(object)
    mode = np.where(
        C["home_teaching"][idx], "送教上门", np.where(rows["boarding"].to_numpy(), "住校", "走读")
    ).astype(object)
    dis = np.where(C["disabled"][idx], C["disability_type"][idx] + "残疾", "").astype(object)
    student_no = ex.regno.at(idx, k)

    def yes_no(v):
        return np.where(v, "是", "否").astype(object)

    phone = _lookup((idx * 7919) % 10**8, lambda k: f"13{int(k):09d}")
    return [
        Col("name", _obj(C["school_name"][idx]), "name", ("姓名",)),
        Col("sex", _sex(C["sex"][idx], False), "text", ("性别",)),
        Col("birth_date", C["birth_date"][idx], "date", ("出生日期",)),
        Col("ethnicity", _eth(C["ethnicity"][idx], False), "text", ("民族",)),
        Col("_id_type", np.full(n, "居民身份证", dtype=object), "text", ("身份证件类型",)),
        Col("id_number", ids, "id", ("身份证件号",), regno=student_no),
        Col("student_no", student_no, "text", ("全国学籍号", "学籍号")),
        Col("grade", _lookup(rows["grade"].to_numpy(), lambda g: GRADE_CN[int(g)]), "text", ("年级",)),
        Col("class", _lookup((idx * 2654435761) % 4 + 1, lambda k: f"{k}班"), "text", ("班级",)),
        Col("entry_date", _month_start(C["entry_year"][idx], 9), "month", ("入学年月",)),
        Col("study_mode", mode, "text", ("就读方式",)),
        Col("status", _obj(rows["registry_status"].to_numpy()), "text", ("学生状态", "学籍状态")),
        Col("left_behind", yes_no(C["left_behind"][idx]), "text", ("是否留守儿童",)),
        Col("migrant", yes_no(mig), "text", ("是否进城务工人员随迁子女",)),
        Col("disability", dis, "text", ("残疾人类型",)),
        Col("hukou_address", hk, "address", ("户口所在地", "户籍地址")),
        Col("_phone", phone, "text", ("联系电话",)),
        Col("guardian_name", g_name, "name", ("成员1姓名",)),
        Col("_relation", np.full(n, "监护人", dtype=object), "text", ("成员1关系",)),
        Col("guardian_id", g_id, "parent_id", ("成员1身份证件号",), birth_year=g_by),
    ]  # fmt: skip


def _attendance(ex: Extractor) -> None:
    """One attendance file per school and month: no school, no month in the rows."""
    w, C = ex.world, ex.C
    a = attendance_as_recorded(w)
    sch = w.geo.schools
    ym = a["year"].to_numpy().astype(np.int64) * 100 + a["month"].to_numpy()
    order = np.lexsort((a["child"].to_numpy(), ym, a["school"].to_numpy()))
    a = a.iloc[order]
    ym = ym[order]
    school = a["school"].to_numpy()
    k_all = month_terms(w, ym // 100, ym % 100)  # each row's term, computed once
    starts = np.flatnonzero(np.r_[True, (school[1:] != school[:-1]) | (ym[1:] != ym[:-1])])
    ends = np.r_[starts[1:], len(a)]
    for lo, hi in zip(starts, ends, strict=True):
        sub = a.iloc[lo:hi]
        s = int(school[lo])
        year, month = divmod(int(ym[lo]), 100)
        name = str(sch["school_name"].iat[s])
        code = int(sch["county_code"].iat[s])
        idx = sub["child"].to_numpy()
        k = int(k_all[lo])
        cols = [
            Col("student_no", ex.regno.at(idx, np.full(len(idx), k)), "text", ("全国学籍号", "学籍号")),
            Col("name", _obj(C["school_name"][idx]), "name", ("学生姓名",)),
            Col("_class", _lookup((idx * 2654435761) % 4 + 1, lambda k: f"{k}班"), "text", ("班级",)),
            Col("days_required", sub["required"].to_numpy(), "int", ("应到校天数", "应出勤(天)")),
            Col("days_present", sub["present"].to_numpy(), "int", ("到校天数", "实出勤(天)")),
            Col("sick_leave", sub["sick"].to_numpy(), "int", ("病假(天)",)),
            Col("personal_leave", sub["personal"].to_numpy(), "int", ("事假(天)",)),
            Col("unexcused", sub["unexcused"].to_numpy(), "int", ("旷课(天)", "无故缺课天数")),
        ]  # fmt: skip
        ex.emit(
            "attendance",
            f"{name}_{year}年{month}月考勤统计",
            _county_order(ex, code, cols, keep_first=2),
            _obj(C["person_id"][idx]),
            np.full(len(idx), f"{year}-{month:02d}-01", dtype=object),
            "csv",
            extra_cols=False,
            footer=FOOTER_SHARE,
        )


def _hukou(ex: Extractor) -> None:
    """The household check per county and year, named by the county's name only."""
    w, C = ex.world, ex.C
    cname = w.geo.counties.set_index("code")["name"]
    for code, y, idx, cols in household_checks(ex):
        for col in cols:
            if col.group:  # flat headers: 父亲姓名, 母亲身份证号
                col.aliases, col.group = (col.aliases[0],), None
        ex.emit(
            "hukou",
            f"{cname[code]}适龄人口核查_{y}",
            _county_order(ex, code, cols, keep_first=2),
            _obj(C["person_id"][idx]),
            np.full(len(idx), str(y), dtype=object),
            "xlsx" if ex.rng.random() < 0.5 else "csv",
            titles=[f"{cname[code]}适龄儿童少年入学情况核查表（{y}年）"],
            footer=FOOTER_SHARE,
        )


#: This dialect's builders, over the county dialect's (the others are shared).
BUILDERS = {
    "schools": _schools,
    "xueji": _xueji,
    "attendance": _attendance,
    "hukou": _hukou,
}
