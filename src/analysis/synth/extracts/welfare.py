"""The poverty registry (建档立卡) and disability certificates."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.synth.extracts.extractor import (
    DISABILITY_DIGIT,
    LEVEL_CN,
    Col,
    Extractor,
    _obj,
    _sex,
)
from analysis.synth.extracts.registries import _addresses


def _poverty(ex: Extractor) -> None:
    """The poverty registry (建档立卡), per county: each registered household's members (the
    parents and their local children), with the years registered and lifted out."""
    w, rng = ex.world, ex.rng
    hh = w.pop.households
    hh = hh[hh["poverty"]]
    cname = w.geo.counties.set_index("code")["name"]
    for code in w.geo.counties["code"]:
        h = hh[hh["county_code"] == code]
        if len(h) == 0:
            continue
        mem, par = _poverty_members(w, h["household_id"].to_numpy())
        cols = _poverty_columns(ex, code, hh, mem, par)
        fmt = "xlsx" if rng.random() < 0.6 else "csv"
        ex.emit(
            "poverty",
            f"{code}_{cname[code]}_建档立卡贫困人口",
            cols,
            _obj(mem["person_id"].to_numpy()),
            np.full(len(mem), "", dtype=object),
            fmt,
            titles=[f"{cname[code]}建档立卡贫困户家庭成员信息表", "来源：全国扶贫开发信息系统"],
        )


def _poverty_members(w, hids: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The members of the households ``hids``, head (the father) and spouse first, and the
    parents of those households."""
    c, p = w.pop.children, w.pop.parents
    par = p[p["household_id"].isin(hids)]
    kids = c[c["household_id"].isin(hids) & ~c["migrant"]]

    def members(df, rel):
        return pd.DataFrame(
            {
                "household_id": df["household_id"],
                "person_id": df["person_id"],
                "name": df["name"],
                "id": df["id_number"],
                "sex": df["sex"],
                "rel": rel,
                "birth": df["birth_date"],
            }
        )

    mem = pd.concat(
        [
            members(par, np.where(par["role"] == "father", "户主", "配偶")),
            members(kids, np.where(kids["sex"] == "M", "之子", "之女")),
        ],
        ignore_index=True,
    ).sort_values(
        ["household_id", "rel"],
        key=lambda s: s.map({"户主": 0, "配偶": 1}).fillna(2) if s.name == "rel" else s,
    )
    return mem, par


def _poverty_columns(ex: Extractor, code, hh: pd.DataFrame, mem, par) -> list[Col]:
    """One county's registry columns."""
    w = ex.world
    tname = w.geo.townships.set_index("township_id")["township"]
    vname = w.geo.villages.set_index("village_code")["village"]
    causes = ["缺资金", "缺技术", "因病", "因学", "因残", "缺劳力", "交通条件落后"]
    hrow = hh.set_index("household_id").loc[mem["household_id"]]
    heads = par[par["role"] == "father"].set_index("household_id").loc[mem["household_id"]]
    hcause = _obj(causes)[(mem["household_id"].to_numpy() * 13) % len(causes)]
    ptype = np.where(hrow["low_income"].to_numpy(), "低保贫困户", "一般贫困户").astype(object)
    lifted = hrow["poverty_lifted_year"].to_numpy()
    households = _obj([f"P{code}{x:07d}" for x in mem["household_id"]])
    return [
        Col("household_no", households, "text", ("户编号", "贫困户编号")),
        Col("head_name", _obj(heads["name"].to_numpy()), "name", ("户主姓名",)),
        Col(
            "head_id",
            _obj(heads["id_number"].to_numpy()),
            "parent_id",
            ("户主身份证号", "户主证件号码"),
            birth_year=pd.to_datetime(heads["birth_date"]).dt.year.to_numpy(),
        ),
        Col("member_name", _obj(mem["name"].to_numpy()), "name", ("成员姓名", "姓名")),
        Col(
            "member_id",
            _obj(mem["id"].to_numpy()),
            "parent_id",
            ("证件号码", "身份证号", "成员身份证号"),
            birth_year=pd.to_datetime(mem["birth"]).dt.year.to_numpy(),
        ),
        Col("relation", _obj(mem["rel"].to_numpy()), "text", ("与户主关系",)),
        Col("sex", _sex(mem["sex"].to_numpy(), False), "text", ("性别",)),
        Col(
            "registered_year",
            _obj(hrow["poverty_registered_year"].astype(str).to_numpy()),
            "text",
            ("识别年度", "纳入年度", "贫困户识别年度"),
        ),
        Col(
            "lifted_year",
            _obj(np.where(lifted > 0, lifted.astype(str), "")),
            "text",
            ("脱贫年度", "脱贫(享受政策)年度"),
        ),
        Col("poverty_type", ptype, "text", ("贫困户属性",)),
        Col("cause", hcause, "text", ("主要致贫原因", "致贫原因")),
        Col(
            "township",
            _obj(tname.loc[hrow["township_id"].to_numpy()].to_numpy()),
            "text",
            ("乡(镇)", "乡镇"),
        ),
        Col(
            "village",
            _obj(vname.loc[hrow["village_code"].to_numpy()].to_numpy()),
            "text",
            ("行政村", "村"),
        ),
    ]


def _disability(ex: Extractor) -> None:
    w = ex.world
    c = w.pop.children
    p = w.pop.parents
    cname = w.geo.counties.set_index("code")["name"]
    addr, _ = _addresses(w)
    fathers = p[p["role"] == "father"].set_index("household_id")
    d = c[c["disabled"]]
    for code in w.geo.counties["code"]:
        sub = d[d["hukou_county_code"] == code].sort_values("disability_cert_date")
        if len(sub) == 0:
            continue
        idx = sub.index.to_numpy()
        cert = _obj(
            [
                f"{i}{DISABILITY_DIGIT[t]}{lv}"
                for i, t, lv in zip(
                    sub["id_number"], sub["disability_type"], sub["disability_level"], strict=True
                )
            ]
        )
        cols = [
            Col("cert_no", cert, "text", ("残疾人证号", "残疾证号")),
            Col("name", _obj(sub["name"].to_numpy()), "name", ("姓名",)),
            Col("sex", _sex(sub["sex"].to_numpy(), False), "text", ("性别",)),
            Col("birth_date", sub["birth_date"].to_numpy(), "date", ("出生日期",)),
            Col(
                "disability_type",
                _obj(sub["disability_type"].to_numpy() + "残疾"),
                "text",
                ("残疾类别", "残疾类型"),
            ),
            Col(
                "disability_level",
                _obj([LEVEL_CN[x] for x in sub["disability_level"]]),
                "text",
                ("残疾等级",),
            ),
            Col("issued", sub["disability_cert_date"].to_numpy(), "date", ("发证日期", "办证日期")),
            Col(
                "guardian_name",
                _obj(fathers.loc[sub["household_id"], "name"].to_numpy()),
                "name",
                ("监护人姓名", "监护人"),
            ),
            Col("address", addr[idx], "address", ("住址", "户籍地址")),
        ]
        ex.emit(
            "disability",
            f"{code}_{cname[code]}_残疾人证持证儿童",
            cols,
            _obj(sub["person_id"].to_numpy()),
            np.full(len(sub), "", dtype=object),
            "xlsx" if ex.rng.random() < 0.5 else "csv",
            titles=[f"{cname[code]}持证残疾儿童少年名册", "来源：县残疾人联合会"],
        )
