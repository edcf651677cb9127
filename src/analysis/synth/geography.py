"""Geography of the synthetic prefecture: counties, townships, villages and schools.

Counties and townships are Yuxi's real ones (codes and names from the resource files);
villages and schools are generated. At ``yuxi`` scale there are 508 primary and 84
junior-middle schools, as the seed reports; at other scales the counts shrink with the
student numbers but every county keeps at least two primary schools and one junior-middle
school.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.resources import load_counties, load_names, load_townships
from analysis.synth.params import SynthParams


@dataclass
class Geography:
    """Tables describing places; one row per county, township, village, school."""

    counties: pd.DataFrame
    townships: pd.DataFrame
    villages: pd.DataFrame
    schools: pd.DataFrame


def _allocate(total: int, weights: np.ndarray, minimum: np.ndarray) -> np.ndarray:
    """Integer allocation of ``total`` proportional to ``weights`` with per-slot minimums."""
    alloc = minimum.astype(int).copy()
    rest = total - alloc.sum()
    if rest <= 0:
        return alloc
    share = weights / weights.sum() * (total) - alloc
    share = np.clip(share, 0, None)
    if share.sum() == 0:
        share = weights.astype(float)
    extra = np.floor(share / share.sum() * rest).astype(int)
    remainder = rest - extra.sum()
    order = np.argsort(-(share / share.sum() * rest - extra), kind="stable")
    extra[order[:remainder]] += 1
    return alloc + extra


def build_geography(params: SynthParams, rng: np.random.Generator) -> Geography:
    """Build counties, townships, villages and schools for the given scale."""
    counties = load_counties()
    townships = load_townships()
    names = load_names()

    # Townships: a population weight (streets of county seats are the most populous).
    kind_weight = townships["kind"].map({"street": 2.2, "town": 1.3, "township": 0.8}).to_numpy()
    townships["weight"] = kind_weight * rng.uniform(0.7, 1.3, len(townships))
    townships["township_id"] = townships["county_code"].astype(str) + townships["township_code"]

    # Villages (村委会 / 社区): 6 to 14 per township, names unique within the township.
    first, second = names["villages_first"], names["villages_second"]
    vrows = []
    for trow in townships.itertuples(index=False):
        n = int(rng.integers(6, 15))
        used: set[str] = set()
        while len(used) < n:
            nm = str(rng.choice(first)) + str(rng.choice(second))
            used.add(nm)
        suffix = "社区" if trow.kind == "street" else "村委会"
        for j, nm in enumerate(sorted(used)):
            vrows.append(
                {
                    "county_code": trow.county_code,
                    "township_id": trow.township_id,
                    "village_code": f"{trow.township_id}{j + 1:03d}",
                    "village": nm + suffix,
                    "weight": float(rng.uniform(0.5, 1.5)),
                }
            )
    villages = pd.DataFrame(vrows)

    schools = _build_schools(params, rng, counties, townships, villages)
    return Geography(counties=counties, townships=townships, villages=villages, schools=schools)


def _build_schools(
    params: SynthParams,
    rng: np.random.Generator,
    counties: pd.DataFrame,
    townships: pd.DataFrame,
    villages: pd.DataFrame,
) -> pd.DataFrame:
    f = params.fraction
    n_primary = max(int(round(params.targets["primary_schools"] * f)), 2 * len(counties))
    n_junior = max(int(round(params.targets["junior_schools"] * f)), len(counties))
    w = counties["student_share"].to_numpy()
    p_alloc = _allocate(n_primary, w, np.full(len(counties), 2))
    j_alloc = _allocate(n_junior, w, np.full(len(counties), 1))

    rows = []
    for ci, crow in enumerate(counties.itertuples(index=False)):
        ts = townships[townships["county_code"] == crow.code].reset_index(drop=True)
        # Township order for school placement: the county seat streets first, then by weight.
        order = np.argsort(
            -(ts["weight"].to_numpy() + (ts["kind"] == "street") * 10), kind="stable"
        )
        for stage, count in (("小学", p_alloc[ci]), ("初中", j_alloc[ci])):
            per_t = _allocate(int(count), ts["weight"].to_numpy(), np.zeros(len(ts)))
            if count >= len(ts):
                per_t = _allocate(int(count), ts["weight"].to_numpy(), np.ones(len(ts)))
            else:  # fewer schools than townships: place them in the top townships
                per_t = np.zeros(len(ts), dtype=int)
                per_t[order[: int(count)]] = 1
            serial = 0
            for ti in range(len(ts)):
                trow = ts.iloc[ti]
                for k in range(per_t[ti]):
                    serial += 1
                    tname = trow["township"]
                    if stage == "小学":
                        base = "中心小学" if k == 0 else f"{_school_stem(rng, villages, trow)}小学"
                    else:
                        base = "中学" if k == 0 else f"第{_cn_num(k + 1)}中学"
                    location = {"street": "城区", "town": "镇区", "township": "乡村"}[trow["kind"]]
                    boarding = (stage == "初中" and location != "城区" and rng.random() < 0.85) or (
                        stage == "小学" and k == 0 and location == "乡村" and rng.random() < 0.6
                    )
                    rows.append(
                        {
                            "county_code": crow.code,
                            "county": crow.name,
                            "township_id": trow["township_id"],
                            "township": tname,
                            "stage": stage,
                            "school_name": f"{crow.short_name}{'县' if crow.code not in (530402, 530403, 530481) else ''}{tname}{base}",
                            "boarding": bool(boarding),
                            "location": location,
                            "serial": serial,
                        }
                    )
    schools = pd.DataFrame(rows)
    # School identification codes (学校标识码): 10 digits, '21' + '53' + county suffix + serial.
    suffix = schools["county_code"].astype(str).str[-2:]
    stage_digit = np.where(schools["stage"] == "小学", "1", "3")
    schools["school_code"] = (
        "2153"
        + suffix
        + pd.Series(stage_digit, index=schools.index)
        + schools["serial"].map("{:03d}".format)
    )
    schools = schools.drop(columns="serial")
    schools["school_name"] = _distinct_names(schools["school_name"])
    return schools.reset_index(drop=True)


#: How a second school of one village is told apart, as people name them (no numbers).
_SECOND_SCHOOL = ("希望小学", "完小", "民族小学", "明德小学", "中心完小", "春蕾小学", "博爱小学")


def _distinct_names(names: pd.Series) -> pd.Series:
    """Every school's name distinct, the way counties tell two schools of one village
    apart (凤寨小学, 凤寨希望小学, 凤寨完小), never by a number: the first keeps its name.
    (Deterministic: the world's random draws are not touched.)"""
    out = names.copy()
    taken = set(names)
    for i in names.index[names.duplicated(keep="first")]:
        stem = names[i].removesuffix("小学")
        for variant in _SECOND_SCHOOL:
            if stem + variant not in taken:
                out[i] = stem + variant
                taken.add(out[i])
                break
    return out


def _school_stem(rng: np.random.Generator, villages: pd.DataFrame, trow: pd.Series) -> str:
    vs = villages.loc[villages["township_id"] == trow["township_id"], "village"].to_numpy()
    return str(rng.choice(vs)).replace("村委会", "").replace("社区", "")


def _cn_num(k: int) -> str:
    return "零一二三四五六七八九十"[k] if k <= 10 else str(k)
