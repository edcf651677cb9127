"""The registries: the school roster, the household check (户籍核查) and the student registry (学籍)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.resources import load_names
from analysis.synth.extracts.extractor import (
    GRADE_CN,
    GRADE_SHORT,
    Col,
    Extractor,
    _county_order,
    _eth,
    _lookup,
    _month_start,
    _obj,
    _sex,
)
from analysis.synth.extracts.recording import Households, households_as_registered
from analysis.synth.population import OUTSIDE_PLACES
from analysis.synth.world import World


def _addresses(world: World) -> tuple[np.ndarray, np.ndarray]:
    """Household registration address of each child and current address per the registry."""
    c = world.pop.children
    geo = world.geo
    cname = geo.counties.set_index("code")["name"]
    tname = geo.townships.set_index("township_id")["township"]
    vname = geo.villages.set_index("village_code")["village"]
    hid = c["household_id"].to_numpy()
    grp = (hid * 7919) % 12 + 1
    num = (hid * 104729) % 90 + 1
    addr = (
        "云南省玉溪市"
        + cname.loc[c["hukou_county_code"]].to_numpy().astype(object)
        + tname.loc[c["township_id"]].to_numpy().astype(object)
        + vname.loc[c["village_code"]].to_numpy().astype(object).astype(str)
        + pd.Series(grp).astype(str).to_numpy().astype(object)
        + "组"
        + pd.Series(num).astype(str).to_numpy().astype(object)
        + "号"
    )
    return _obj(addr), hid


def _schools(ex: Extractor) -> None:
    s = ex.world.geo.schools
    n = len(s)
    cols = [
        Col("school_code", _obj(s["school_code"]), "text", ("学校标识码", "学校代码")),
        Col("school_name", _obj(s["school_name"]), "text", ("学校名称",)),
        Col("county", _obj(s["county"]), "text", ("所在县(市、区)", "县区")),
        Col(
            "county_code",
            _obj(s["county_code"].astype(str)),
            "county_code",
            ("县区代码", "行政区划代码"),
        ),
        Col("township", _obj(s["township"]), "text", ("乡镇(街道)", "所在乡镇")),
        Col("stage", _obj(s["stage"]), "text", ("学段", "办学层次")),
        Col(
            "boarding",
            np.where(s["boarding"], "是", "否").astype(object),
            "text",
            ("是否寄宿制学校", "寄宿制"),
        ),
        Col("location", _obj(s["location"]), "text", ("城乡类型", "城乡分类")),
    ]
    ex.emit(
        "schools",
        "玉溪市义务教育学校名册",
        cols,
        np.full(n, "", dtype=object),
        _obj(s["school_code"]),
        "xlsx",
        titles=["玉溪市义务教育阶段学校名册", "填报单位：玉溪市教育体育局"],
        allow_duplicates=False,
        extra_cols=False,
    )


def household_checks(ex: Extractor):
    """Each household check's county, year, children (indices) and columns: the local
    children of school age registered in the county that year (both dialects' files)."""
    w, C = ex.world, ex.C
    fam = _Families.of(w)
    place = _obj(OUTSIDE_PLACES)[(fam.hid * 31) % len(OUTSIDE_PLACES)]
    for code in w.geo.counties["code"]:
        for y in (2016, 2017, 2018, 2019, 2020):
            m = (
                ~C["migrant"]
                & (C["hukou_county_code"] == code)
                & (y - 10 <= C["A"])
                & (y >= C["A"])
            )
            idx = np.flatnonzero(m)
            if len(idx):
                yield code, y, idx, _hukou_columns(ex, fam, code, y, idx, place)


def _hukou(ex: Extractor) -> None:
    """The household check (户籍核查): per county and year, the local children of school age
    registered in the county, with their household, parents, and whether they live outside
    with their parents."""
    w, C = ex.world, ex.C
    cname = w.geo.counties.set_index("code")["name"]
    for code, y, idx, cols in household_checks(ex):
        # Merged two-row headers (XLSX only) put the short sub-header ('姓名') under the
        # group ('父亲'); flat headers spell it out ('父亲姓名').
        fmt = "xlsx" if ex.rng.random() < 0.3 else "csv"
        merged_style = fmt == "xlsx" and ex.rng.random() < w.params.mess.xlsx_merged_header_per_file
        for col in cols:
            if col.group and not merged_style:
                col.aliases = (col.aliases[0],)
                col.group = None
            elif col.group:
                col.aliases = (col.aliases[1],)
        title = [
            f"{cname[code]}{y}年适龄儿童少年户籍信息核查表",
            f"数据来源：{cname[code]}公安局  核查时间：{y}年9月",
        ]
        ex.emit(
            "hukou",
            f"{code}_{cname[code]}_{y}年户籍核查",
            cols,
            _obj(C["person_id"][idx]),
            np.full(len(idx), str(y), dtype=object),
            fmt,
            titles=title,
        )


def _hukou_columns(ex, fam: _Families, code, y, idx, place) -> list[Col]:
    """One household-check file's columns: the child, its household and both parents (the
    grandparent heads a left-behind child's household); a child away with its parents is
    noted so and has their address."""
    w, C, rng, addr, hid = ex.world, ex.C, ex.rng, fam.addr, fam.hid
    fa, mo_ = fam.fathers.loc[hid[idx]], fam.mothers.loc[hid[idx]]
    tname = w.geo.townships.set_index("township_id")["township"]
    vname = w.geo.villages.set_index("village_code")["village"]
    mo = C["move_out_year"]
    away = C["living_outside"][idx] | ((mo[idx] > 0) & (mo[idx] <= y))
    current = np.where(away, place[idx] + "务工租住", addr[idx]).astype(object)
    note = np.where(
        away, np.where(rng.random(len(idx)) < 0.5, "随父母外出", "随父母在外省就读"), ""
    ).astype(object)
    sexv = C["sex"][idx]
    # The register's head: a grandparent in three-generation households, whether or not the
    # parents are away (so 孙子/孙女 does not tell who is left behind), else the father.
    grand = fam.households.grand_head[hid[idx]]
    rel = np.where(
        grand, np.where(sexv == "M", "孙子", "孙女"), np.where(sexv == "M", "子", "女")
    ).astype(object)
    grand_name = np.array([fam.households.head_name.get(int(h), "") for h in hid[idx]], object)
    head = np.where(grand, grand_name, fa["name"].to_numpy()).astype(object)
    numeric_sex = rng.random() < 0.1
    short_eth = rng.random() < 0.3
    households = _obj([f"{code}{x:08d}" for x in hid[idx]])
    return [
        Col("household_no", households, "text", ("户号", "户编号", "户口编号")),
        Col("name", _obj(C["name"][idx]), "name", ("姓名", "儿童姓名", "适龄儿童姓名")),
        Col("sex", _sex(sexv, numeric_sex), "text", ("性别",)),
        Col("ethnicity", _eth(C["ethnicity"][idx], short_eth), "text", ("民族",)),
        Col("birth_date", C["birth_date"][idx], "date", ("出生日期", "出生年月", "出生年月日")),
        Col(
            "id_number",
            _obj(C["id_number"][idx]),
            "id",
            ("公民身份号码", "身份证号", "身份证件号", "身份证号码"),
        ),
        Col("relation", rel, "text", ("与户主关系",)),
        Col("head_name", head, "name", ("户主姓名",)),
        *_parent_columns("father", "父亲", fa),
        *_parent_columns("mother", "母亲", mo_),
        Col(
            "township",
            _obj(tname.loc[C["township_id"][idx]].to_numpy()),
            "text",
            ("乡镇(街道)", "乡镇", "所属乡镇"),
        ),
        Col(
            "village",
            _obj(vname.loc[C["village_code"][idx]].to_numpy()),
            "text",
            ("村(社区)", "村委会", "行政村"),
        ),
        Col("hukou_address", addr[idx], "address", ("户籍地址", "户籍地详址", "户口所在地")),
        Col("current_address", current, "address", ("现住址", "现居住地址", "实际居住地")),
        Col("note", note, "text", ("备注",)),
    ]


def _parent_columns(role: str, group: str, parents: pd.DataFrame) -> list[Col]:
    """A parent's name and ID, under a merged header group (父亲, 母亲) in a workbook."""
    born = pd.to_datetime(parents["birth_date"]).dt.year.to_numpy()
    return [
        Col(
            f"{role}_name",
            _obj(parents["name"].to_numpy()),
            "name",
            (f"{group}姓名", "姓名"),
            group=group,
        ),
        Col(
            f"{role}_id",
            _obj(parents["id_number"].to_numpy()),
            "parent_id",
            (f"{group}身份证号", "身份证号"),
            group=group,
            birth_year=born,
        ),
    ]


def _registry_status(w: World) -> pd.DataFrame:
    """Per student-term: the registry status as the school recorded it."""
    st = w.school.student_terms.copy()
    terms = dict(enumerate(w.school.terms))
    st["registry_status"] = st["status"].map(
        {
            "in_school": "在读",
            "home_teaching": "在读",
            "suspended": "休学",
            "out_dropout": "在读",
            "moved_out": "转出",
        }
    )
    cases = w.school.cases
    if len(cases):
        out = st[st["status"] == "out_dropout"]
        snap = np.array([terms[k].snapshot for k in out["k"]]).astype("datetime64[D]")
        cs = cases.sort_values(["child", "dropped_on"])
        marked = np.zeros(len(out), bool)
        by_child = {ch: g for ch, g in cs.groupby("child")}
        for j, (ch, s) in enumerate(zip(out["child"].to_numpy(), snap, strict=True)):
            g = by_child.get(ch)
            if g is None:
                continue
            g = g[g["detected"].to_numpy().astype("datetime64[D]") < s]
            if len(g):
                marked[j] = bool(g["marked"].iloc[-1])
        st.loc[out.index[marked], "registry_status"] = "辍学"
    return st


def _xueji(ex: Extractor) -> None:
    """The student registry (学籍): per county and term, every pupil as the schools listed
    them at the snapshot, a transferred pupil often still listed by the old school too."""
    w, rng, C = ex.world, ex.rng, ex.C
    fam = _Families.of(w)
    allrows = _registry_rows(ex)
    groups = allrows.groupby(["county_code", "k"], sort=False).indices
    cname = w.geo.counties.set_index("code")["name"]
    for code in w.geo.counties["code"]:
        grade_style = str(rng.choice(["cn", "short", "num"], p=[0.6, 0.25, 0.15]))
        for k, t in enumerate(w.school.terms):
            pos = groups.get((code, k))
            if pos is None:
                continue
            rows = allrows.iloc[pos]
            cols = _county_order(ex, code, _xueji_columns(ex, fam, rows, grade_style), 2)
            fmt = "xlsx" if rng.random() < 0.15 else "csv"
            sheet_of = None
            if fmt == "xlsx":
                grade = rows["grade"].to_numpy()
                sheet_of = np.where(grade <= 6, "小学", "初中").astype(object)
            title = [
                f"{cname[code]}{t.year}-{t.year + 1}学年第{'一' if t.autumn else '二'}学期学籍数据",
                f"导出时间：{t.snapshot}",
            ]
            ex.emit(
                "xueji",
                f"{code}_{cname[code]}_学籍_{t.label}",
                cols,
                _obj(C["person_id"][rows["child"].to_numpy()]),
                np.full(len(rows), t.label, dtype=object),
                fmt,
                titles=title,
                sheet_of=sheet_of,
                row_kind=_obj(rows["row_kind"].to_numpy()),
            )


def _registry_rows(ex: Extractor) -> pd.DataFrame:
    """Every registry row of every term, sorted by county, term, school, grade and child:
    the true ones, and the stale listings of pupils who transferred within the prefecture
    (the old school still lists the child that term)."""
    w, sch = ex.world, ex.world.geo.schools
    st = _registry_status(w)
    tr = st[st["transfer"] & (st["prev_school"] >= 0)]
    stale = tr[ex.rng.random(len(tr)) < w.params.mess.transfer_double_listing].copy()
    stale["school"] = stale["prev_school"]
    stale["registry_status"] = "在读"
    stale["row_kind"] = "transfer_stale"
    st["row_kind"] = "record"
    allrows = pd.concat([st, stale], ignore_index=True)
    allrows["county_code"] = sch["county_code"].to_numpy()[allrows["school"].to_numpy()]
    return allrows.sort_values(["county_code", "k", "school", "grade", "child"], kind="stable")


def _grade_text(grade: np.ndarray, style: str) -> np.ndarray:
    if style == "cn":
        return _lookup(grade, lambda g: GRADE_CN[int(g)])
    if style == "short":
        return _lookup(grade, lambda g: GRADE_SHORT.get(int(g), GRADE_CN[int(g)]))
    return _lookup(grade, lambda g: str(int(g)))


@dataclass(frozen=True)
class _Families:
    """What every file of a builder reads of the households: each child's registration
    address, and the fathers and mothers by household."""

    addr: np.ndarray
    hid: np.ndarray
    fathers: pd.DataFrame
    mothers: pd.DataFrame
    households: Households

    @classmethod
    def of(cls, w: World) -> _Families:
        addr, hid = _addresses(w)
        p = w.pop.parents
        return cls(
            addr,
            hid,
            p[p["role"] == "father"].set_index("household_id"),
            p[p["role"] == "mother"].set_index("household_id"),
            households_as_registered(w, load_names()),
        )


def _guardians(
    ex: Extractor, fam: _Families, idx: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The registry's guardian of each pupil (the mother in a third of households): name,
    ID and birth year."""
    C = ex.C
    hh_i = C["household_id"][idx]
    fathers, mothers = fam.fathers.loc[hh_i], fam.mothers.loc[hh_i]
    gm = (C["household_id"] % 3 == 0)[idx]

    def pick(col):
        return np.where(gm, mothers[col].to_numpy(), fathers[col].to_numpy())

    born = np.where(
        gm,
        pd.to_datetime(mothers["birth_date"]).dt.year.to_numpy(),
        pd.to_datetime(fathers["birth_date"]).dt.year.to_numpy(),
    )
    return pick("name").astype(object), pick("id_number").astype(object), born


def _xueji_columns(
    ex: Extractor, fam: _Families, rows: pd.DataFrame, grade_style: str
) -> list[Col]:
    """One registry file's columns."""
    C, sch, addr = ex.C, ex.world.geo.schools, fam.addr
    idx = rows["child"].to_numpy()
    school = rows["school"].to_numpy()
    mode = np.where(
        C["home_teaching"][idx], "送教上门", np.where(rows["boarding"].to_numpy(), "住校", "走读")
    ).astype(object)
    g_name, g_id, g_by = _guardians(ex, fam, idx)
    mig = C["migrant"][idx]
    hk = np.where(mig, C["origin"][idx], addr[idx]).astype(object)
    k = rows["k"].to_numpy()
    ids = np.where(ex.regno.has_id(idx, k), C["id_number"][idx], "").astype(object)
    dis = np.where(C["disabled"][idx], C["disability_type"][idx], "无").astype(object)
    cls = _lookup((idx * 2654435761) % 4 + 1, lambda k: f"{k}班")
    student_no = ex.regno.at(idx, k)
    grade = _obj(_grade_text(rows["grade"].to_numpy(), grade_style))

    def yes_no(v):
        return np.where(v, "是", "否").astype(object)

    return [
        Col("student_no", student_no, "text", ("学籍号", "全国学籍号", "个人标识码")),
        Col("name", _obj(C["school_name"][idx]), "name", ("姓名", "学生姓名")),
        Col("sex", _sex(C["sex"][idx], False), "text", ("性别",)),
        Col("birth_date", C["birth_date"][idx], "date", ("出生日期", "出生年月")),
        Col("ethnicity", _eth(C["ethnicity"][idx], False), "text", ("民族",)),
        Col("id_number", ids, "id", ("身份证件号", "身份证号", "公民身份号码"), regno=student_no),
        Col(
            "school_code",
            _obj(sch["school_code"].to_numpy()[school]),
            "school_code",
            ("学校标识码", "学校代码"),
        ),
        Col(
            "school_name",
            _obj(sch["school_name"].to_numpy()[school]),
            "text",
            ("学校名称", "就读学校"),
        ),
        Col("grade", grade, "text", ("年级", "现年级")),
        Col("class", cls, "text", ("班级", "班号")),
        Col("entry_date", _month_start(C["entry_year"][idx], 9), "month", ("入学年月", "入学时间")),
        Col("status", _obj(rows["registry_status"].to_numpy()), "text", ("学籍状态", "在校状态")),
        Col("study_mode", mode, "text", ("就读方式",)),
        Col("migrant", yes_no(mig), "text", ("是否随迁子女", "随迁子女")),
        Col("left_behind", yes_no(C["left_behind"][idx]), "text", ("是否留守儿童", "留守儿童")),
        Col("disability", dis, "text", ("残疾类型", "残疾人类型")),
        Col("hukou_address", hk, "address", ("户口所在地", "户籍所在地")),
        Col("guardian_name", g_name, "name", ("监护人姓名", "监护人")),
        Col("guardian_id", g_id, "parent_id", ("监护人身份证号", "监护人证件号"), birth_year=g_by),
    ]
