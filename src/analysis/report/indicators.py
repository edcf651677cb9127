"""The indicators as a report shows them: this school year against earlier ones and against
the prefecture, every rate with its numerator and denominator, and a rate above 100 %
explained rather than shown bare.

Reads ``indicators.json`` (:mod:`analysis.indicators` defines every figure). The
prefecture's rows carry the code ``5304``.

Examples
--------
>>> rate_text(99.5, 199, 200)
'99.50%（199/200）'
>>> rate_text(None, 0, 0)
'—'
"""

from __future__ import annotations

import pandas as pd

#: The prefecture's code in ``indicators.json``.
PREFECTURE = "5304"

#: Each enrolment rate: its numerator and denominator columns and its name.
ENROLMENT = {
    "primary_enrolment_rate": ("p_in", "p_band", "小学学龄儿童入学率"),
    "junior_enrolment_rate": ("j_in", "j_band", "初中学龄人口入学率"),
    "disabled_enrolment_rate": ("d_in", "d_band", "残疾儿童少年入学率"),
}

#: Why a rate can pass 100 %, per indicator (a reader must not take it for an error).
OVER_100 = {
    "primary_enrolment_rate": (
        "入学率超过100%：分子按学校所在县统计（在本县上学的外县、外地儿童计入），分母是居住在本县的"
        "学龄儿童，流入就读的学生多于本县未入学的儿童时会超过100%，不是计算错误。"
    ),
    "junior_enrolment_rate": (
        "入学率超过100%：分子按学校所在县统计（在本县上学的外县、外地学生计入），分母是居住在本县的"
        "学龄人口，流入就读的学生多于本县未入学的学生时会超过100%，不是计算错误。"
    ),
    "disabled_enrolment_rate": (
        "入学率超过100%：在本县就读（含送教上门）的外县持证残疾儿童计入分子，分母是居住在本县的"
        "持证残疾儿童。"
    ),
    "consolidation_rate": (
        "巩固率超过100%：本届毕业生多于九年前入学的基数，是因为迁入本县就读的学生（净流入）多于"
        "基数所扣除的正常流动，不是辍学少、更不是计算错误。"
    ),
}


def rate_text(rate: float | None, num: float, den: float) -> str:
    """A rate as a report writes it: ``99.50%（199/200）``, or ``—`` without a
    denominator."""
    if rate is None or pd.isna(rate) or not den:
        return "—"
    return f"{rate:.2f}%（{int(num):,}/{int(den):,}）"


def enrolment_table(ind: dict, county: str, years: int = 3) -> tuple[pd.DataFrame, list[str]]:
    """The enrolment rates of the last ``years`` school years, the county's beside the
    prefecture's, and the notes that explain any rate above 100 %.

    Returns
    -------
    (pandas.DataFrame, list of str)
        One row per school year and indicator: ``学年``, ``指标``, ``本县``, ``全市``,
        ``较上年`` (points), and the notes.
    """
    e = pd.DataFrame(ind["enrolment"]).astype({"county_code": str})
    e = e[e["year"].isin(sorted(e["year"].unique())[-(years + 1) :])]
    rows, notes = [], []
    for key, (num, den, name) in ENROLMENT.items():
        mine = e[e["county_code"] == county].set_index("year").sort_index()
        pref = e[e["county_code"] == PREFECTURE].set_index("year")
        for i, (year, r) in enumerate(mine.iterrows()):
            if i == 0 and len(mine) > years:
                continue  # the year before the first shown: only for the change
            prev = mine[key].iloc[i - 1] if i > 0 else None
            p = pref.loc[year] if year in pref.index else None
            rows.append(
                {
                    "学年": f"{year}/{str(year + 1)[-2:]}",
                    "指标": name,
                    "本县": rate_text(r[key], r[num], r[den]),
                    "全市": "—" if p is None else rate_text(p[key], p[num], p[den]),
                    "较上年": "—" if prev is None or pd.isna(prev) or pd.isna(r[key])
                    else f"{r[key] - prev:+.2f}",
                }
            )  # fmt: skip
            if pd.notna(r[key]) and r[key] > 100 and OVER_100[key] not in notes:
                notes.append(OVER_100[key])
    return pd.DataFrame(rows), notes


def consolidation_table(ind: dict, county: str, years: int = 3) -> tuple[pd.DataFrame, list[str]]:
    """The nine-year consolidation rate of the last ``years`` graduating classes, county
    and prefecture, with numerators and denominators and the note for a rate above 100 %."""
    c = pd.DataFrame(ind["consolidation"]).astype({"county_code": str})
    if c.empty:
        return pd.DataFrame(columns=["毕业年份", "本县", "全市"]), []
    last = sorted(c["year"].unique())[-years:]
    rows, notes = [], []
    for year in last:
        mine = c[(c["county_code"] == county) & (c["year"] == year)]
        pref = c[(c["county_code"] == PREFECTURE) & (c["year"] == year)]
        if pref.empty:  # the prefecture: the counties' sums
            allc = c[(c["year"] == year) & (c["county_code"] != PREFECTURE)]
            g, b = allc["graduates"].sum(), allc["base"].sum()
            pref_text = rate_text(100 * g / b if b else None, g, b)
        else:
            p = pref.iloc[0]
            pref_text = rate_text(p["consolidation_rate"], p["graduates"], p["base"])
        m = mine.iloc[0] if len(mine) else None
        rows.append(
            {
                "毕业年份": f"{year}年夏",
                "本县": "—" if m is None
                else rate_text(m["consolidation_rate"], m["graduates"], m["base"]),
                "全市": pref_text,
            }
        )  # fmt: skip
        over = m is not None and m["consolidation_rate"] > 100
        if over and OVER_100["consolidation_rate"] not in notes:
            notes.append(OVER_100["consolidation_rate"])
    return pd.DataFrame(rows), notes


def monitoring_table(ind: dict, county: str, terms: int = 6) -> pd.DataFrame:
    """Suspected dropouts, dropouts and returns of the last ``terms`` terms: the county and
    the prefecture (children, as counted by the three comparisons)."""
    m = pd.DataFrame(ind["monitoring"]).astype({"county_code": str})
    last = sorted(m["term"].unique())[-terms:]
    m = m[m["term"].isin(last)]
    mine = m[m["county_code"] == county].set_index("term")
    pref = m[m["county_code"] == PREFECTURE].set_index("term")
    out = pd.DataFrame({"学期": last})
    for col, name in (("suspected", "疑似辍学"), ("dropouts", "辍学"), ("returns", "返校")):
        out[f"{name}（本县）"] = [int(mine[col].get(t, 0)) for t in last]
        out[f"{name}（全市）"] = [int(pref[col].get(t, 0)) for t in last]
    return out


def prefecture_table(ind: dict, names: dict[str, str]) -> tuple[pd.DataFrame, list[str]]:
    """The latest school year's enrolment rates and the latest consolidation rate of every
    county and the prefecture, with numerators and denominators (the monthly report's
    first table) and the notes on rates above 100 %."""
    e = pd.DataFrame(ind["enrolment"]).astype({"county_code": str})
    year = e["year"].max()
    e = e[e["year"] == year]
    c = pd.DataFrame(ind["consolidation"]).astype({"county_code": str})
    cyear = c["year"].max() if len(c) else None
    rows, notes = [], []
    for code in [*sorted(k for k in e["county_code"] if k != PREFECTURE), PREFECTURE]:
        r = e[e["county_code"] == code].iloc[0]
        row = {"县（市、区）": "全市" if code == PREFECTURE else names.get(code, code)}
        for key, (num, den, name) in ENROLMENT.items():
            row[name] = rate_text(r[key], r[num], r[den])
            if pd.notna(r[key]) and r[key] > 100 and OVER_100[key] not in notes:
                notes.append(OVER_100[key])
        cc = c[(c["county_code"] == code) & (c["year"] == cyear)] if cyear else c.iloc[:0]
        if code == PREFECTURE and cc.empty and cyear:
            allc = c[(c["year"] == cyear) & (c["county_code"] != PREFECTURE)]
            g, b = allc["graduates"].sum(), allc["base"].sum()
            row["九年义务教育巩固率"] = rate_text(100 * g / b if b else None, g, b)
        elif len(cc):
            x = cc.iloc[0]
            row["九年义务教育巩固率"] = rate_text(
                x["consolidation_rate"], x["graduates"], x["base"]
            )
            if x["consolidation_rate"] > 100 and OVER_100["consolidation_rate"] not in notes:
                notes.append(OVER_100["consolidation_rate"])
        else:
            row["九年义务教育巩固率"] = "—"
        rows.append(row)
    return pd.DataFrame(rows), notes
