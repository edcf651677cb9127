"""People of the synthetic prefecture: households, children, parents.

Each child has an *age cohort* ``A``: the calendar year of the 1 September on which the child
is six (born 1 Sep A-7 .. 31 Aug A-6), so age on 1 September of year ``Y`` is ``6 + Y - A``.
Entry year ``E`` = ``A`` + entry delay (0, 1 or 2 years late); ``r`` counts grades repeated
before 2016. The child's class grade in school year ``Y`` is ``Y - E - r + 1``.

Sizes are calibrated exactly: after everything that decides who is a student in 2020/21 is
drawn (residence, migration, entry delay), each cohort is thinned so that the prefecture has
the seed's 142,700 primary and 73,800 junior-middle students (times the scale fraction).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.idnumber import make_ids
from analysis.resources import load_counties, load_names
from analysis.synth.geography import Geography
from analysis.synth.params import SynthParams

ETHNIC_COLUMNS = ("han", "yi", "dai", "hani", "hui", "miao", "mongol")
ETHNIC_NAMES = {
    "han": "汉族",
    "yi": "彝族",
    "dai": "傣族",
    "hani": "哈尼族",
    "hui": "回族",
    "miao": "苗族",
    "mongol": "蒙古族",
}
#: Origins of migrant children (随迁子女): ID area codes and names outside the prefecture.
MIGRANT_ORIGINS = (
    (530302, "云南省曲靖市麒麟区"),
    (530621, "云南省昭通市鲁甸县"),
    (532501, "云南省红河州个旧市"),
    (532524, "云南省红河州建水县"),
    (532301, "云南省楚雄州楚雄市"),
    (511321, "四川省南充市南部县"),
    (513401, "四川省凉山州西昌市"),
    (522401, "贵州省毕节市七星关区"),
    (522101, "贵州省遵义市汇川区"),
    (430521, "湖南省邵阳县"),
)
#: Where families living outside the prefecture are (the hukou extract's current address).
OUTSIDE_PLACES = (
    "浙江省宁波市鄞州区",
    "浙江省义乌市",
    "广东省东莞市长安镇",
    "广东省深圳市宝安区",
    "上海市松江区",
    "福建省晋江市",
    "江苏省苏州市昆山市",
    "云南省昆明市官渡区",
    "云南省昆明市呈贡区",
    "四川省成都市双流区",
)
DISABILITY_TYPES = ("视力", "听力", "言语", "肢体", "智力", "精神", "多重")


@dataclass
class Population:
    """Households, children and parents; one row each. Indices are positional ids."""

    households: pd.DataFrame
    children: pd.DataFrame
    parents: pd.DataFrame


def _pick(rng: np.random.Generator, items, size, p=None) -> np.ndarray:
    idx = rng.choice(len(items), size=size, p=p)
    return np.asarray(items, dtype=object)[idx]


def build_population(params: SynthParams, rng: np.random.Generator, geo: Geography) -> Population:
    """Draw households and children, then thin each age cohort to the calibrated sizes."""
    # Oversized draw: 15 age cohorts A = 2006..2020, roughly 26,000 children each at full scale.
    cohorts = np.arange(2006, 2021)
    per_cohort = np.round(27_500 * params.fraction * (1 + 0.006 * (2013 - cohorts))).astype(int)
    n_child = int(per_cohort.sum())
    households = _households(params, rng, geo, int(n_child / 1.5))
    children = _children(params, rng, geo, households, np.repeat(cohorts, per_cohort))
    children = _calibrated(params, rng, children)
    children = _add_identity(params, rng, children, households)
    households = households[households["household_id"].isin(children["household_id"])].reset_index(
        drop=True
    )
    parents = _make_parents(rng, households, children)
    return Population(households=households, children=children, parents=parents)


def _households(
    params: SynthParams, rng: np.random.Generator, geo: Geography, n_hh: int
) -> pd.DataFrame:
    """Households: county by student share, village by weight within the county, ethnicity
    by the county's shares (ethnic townships lean to their peoples), poverty registration
    (建档立卡: more likely rural, ethnic and Yi/Hani), low income, a latent household factor,
    and both parents working away (rural households only)."""
    counties = geo.counties.set_index("code")
    v = geo.villages
    cshare = counties["student_share"].to_numpy()
    hh_county = rng.choice(counties.index.to_numpy(), size=n_hh, p=cshare / cshare.sum())
    hh_village = np.empty(n_hh, dtype=object)
    hh_township = np.empty(n_hh, dtype=object)
    for code in counties.index:
        m = hh_county == code
        vv = v[v["county_code"] == code]
        tw = geo.townships.set_index("township_id").loc[vv["township_id"], "weight"].to_numpy()
        w = vv["weight"].to_numpy() * tw
        pick = rng.choice(len(vv), size=int(m.sum()), p=w / w.sum())
        hh_village[m] = vv["village_code"].to_numpy()[pick]
        hh_township[m] = vv["township_id"].to_numpy()[pick]
    hh_rural = (
        geo.townships.set_index("township_id")["kind"].loc[hh_township].to_numpy() != "street"
    )
    eth = np.empty(n_hh, dtype=object)
    tnames = geo.townships.set_index("township_id")["township"]
    for code in counties.index:
        m = np.flatnonzero(hh_county == code)
        shares = counties.loc[code, list(ETHNIC_COLUMNS)].to_numpy(dtype=float)
        eth[m] = _pick(rng, ETHNIC_COLUMNS, len(m), shares / shares.sum())
        ethnic_t = np.array(["族" in tnames[t] for t in hh_township[m]])
        eth[m[ethnic_t & (rng.random(len(m)) < 0.35)]] = "yi"
    pov_base = counties.loc[hh_county, "poverty_share"].to_numpy()
    pov_p = pov_base * np.where(hh_rural, 1.25, 0.35) * np.where(eth == "han", 0.85, 1.25)
    poor = rng.random(n_hh) < pov_p
    reg_year = np.where(
        poor, rng.choice([2014, 2015, 2016, 2017], n_hh, p=[0.7, 0.15, 0.1, 0.05]), 0
    )
    lift = rng.choice([2016, 2017, 2018, 2019, 2020], n_hh, p=[0.18, 0.25, 0.27, 0.22, 0.08])
    low_income = rng.random(n_hh) < np.where(poor, 0.25, 0.015)
    hh_factor = rng.normal(0, 1, n_hh) + 0.4 * poor
    migrant_parents = hh_rural & (rng.random(n_hh) < params.left_behind_share * 1.4)
    return pd.DataFrame(
        {
            "household_id": np.arange(n_hh),
            "county_code": hh_county,
            "township_id": hh_township,
            "village_code": hh_village,
            "rural": hh_rural,
            "ethnicity": eth,
            "autonomous": counties.loc[hh_county, "autonomous"].to_numpy(),
            "poverty": poor,
            "poverty_registered_year": reg_year,
            "poverty_lifted_year": np.where(poor, np.maximum(lift, reg_year + 1), 0),
            "low_income": low_income,
            "hh_factor": hh_factor,
            "parents_away": migrant_parents,
        }
    )


def _children(
    params: SynthParams,
    rng: np.random.Generator,
    geo: Geography,
    households: pd.DataFrame,
    child_A: np.ndarray,
) -> pd.DataFrame:
    """Children of the cohorts ``child_A`` (the year each turns six), a household each
    (siblings share one), with sex, birth date, migration (随迁子女, mostly in urban
    streets; families living outside), learning difficulty, late entry (likelier for
    rural, poor, minority children and boys), repeats before 2016 and moves."""
    counties = geo.counties.set_index("code")
    rng.shuffle(child_A)
    n, n_hh = len(child_A), len(households)
    child_hh = rng.permutation(np.sort(rng.integers(0, n_hh, size=n)))
    ch = households.iloc[child_hh].reset_index(drop=True)
    sex = np.where(rng.random(n) < 0.525, "M", "F")
    offset_days = rng.integers(0, 365, n)
    birth = (
        pd.to_datetime(pd.Series(child_A - 7, dtype="int64").astype(str) + "-09-01").to_numpy()
        + offset_days.astype("timedelta64[D]")
    ).astype("datetime64[D]")
    mig_p = counties.loc[ch["county_code"], "migrant_in_share"].to_numpy() * np.where(
        ch["rural"], 0.5, 2.0
    )
    mig_p = mig_p * params.migrant_share / np.average(mig_p)
    migrant = rng.random(n) < mig_p
    living_outside = ~migrant & (rng.random(n) < params.living_outside)
    ld = rng.random(n) < params.learning_difficulty_share * np.where(ch["poverty"], 1.6, 1.0)
    late_prop = (
        0.6 * ch["rural"].to_numpy()
        + 0.5 * ch["poverty"].to_numpy()
        + 0.4 * (ch["ethnicity"] != "han").to_numpy()
        + 0.6 * ld
        + 0.2 * (sex == "M")
        + rng.normal(0, 1, n)
    )
    delay = _entry_delay(params, child_A, late_prop)
    entry = child_A + delay
    rep_prop = 1.5 * ld + 0.3 * ch["poverty"].to_numpy() + rng.normal(0, 1, n)
    # Repeats happened before 2016: only possible for children in grade 2+ by 2016.
    repeats = np.zeros(n, dtype=int)
    cand = np.flatnonzero(entry <= 2014)
    k_rep = int(round(params.repeated_before_2016 * len(cand)))
    repeats[cand[np.argsort(-rep_prop[cand], kind="stable")[:k_rep]]] = 1
    # Migration plan: a local child moves out in autumn of a year; a migrant arrives in one.
    move_out = np.where(
        rng.random(n) < params.move_out_per_year * 5, rng.choice([2017, 2018, 2019, 2020], n), 0
    )
    move_out[living_outside] = 0
    arrive = np.where(
        migrant, np.where(rng.random(n) < 0.35, rng.choice([2017, 2018, 2019, 2020], n), 2016), 0
    )
    move_out[migrant & (arrive > 2016)] = 0
    children = pd.DataFrame(
        {
            "household_id": child_hh,
            "county_code": ch["county_code"],
            "township_id": ch["township_id"],
            "village_code": ch["village_code"],
            "hukou_county_code": ch["county_code"],
            "ethnicity": ch["ethnicity"],
            "sex": sex,
            "birth_date": birth,
            "A": child_A,
            "entry_year": entry,
            "entry_delay": delay,
            "repeats": repeats,
            "migrant": migrant,
            "living_outside": living_outside,
            "move_out_year": move_out,
            "arrive_year": arrive,
            "learning_difficulty": ld,
            "left_behind": ch["parents_away"].to_numpy() & ~migrant & ~living_outside,
        }
    )
    children["never_enrolled"] = False
    children["rep_prop"] = rep_prop
    return children


def _entry_delay(params: SynthParams, child_A: np.ndarray, late_prop: np.ndarray) -> np.ndarray:
    """Years of late entry: each cohort's late share, the likeliest first (two years late
    for an eighth of them, in cohorts up to 2014)."""
    delay = np.zeros(len(child_A), dtype=int)
    for a in np.unique(child_A):
        idx = np.flatnonzero(child_A == a)
        k1 = int(round(late_entry_share(a, params) * len(idx)))
        k2 = int(round(0.12 * k1)) if a <= 2014 else 0  # two years late: older cohorts only
        order = idx[np.argsort(-late_prop[idx], kind="stable")]
        delay[order[:k2]] = 2
        delay[order[k2:k1]] = 1
    return delay


def _calibrated(
    params: SynthParams, rng: np.random.Generator, children: pd.DataFrame
) -> pd.DataFrame:
    """The cohorts thinned to the seed's sizes and rates, the never-enrolled pool and
    disabilities added (a deferred child of the pool has a severe certificate)."""
    children = _thin_to_targets(params, rng, children)
    children = _calibrate_junior_rate(params, children)
    children = _calibrate_consolidation(params, children)
    children = _add_never_enrolled_pool(params, rng, children)
    children = _add_disability(params, rng, children)
    pool = children["never_enrolled"].to_numpy()
    deferred = pool & (children["pool_kind"] == "disabled").to_numpy()
    children.loc[pool, ["disabled", "home_teaching"]] = False
    children.loc[deferred, "disabled"] = True
    children.loc[deferred, "disability_type"] = rng.choice(
        ["智力", "多重", "肢体", "精神"], int(deferred.sum())
    )
    children.loc[deferred, "disability_level"] = rng.choice([1, 2], int(deferred.sum()))
    children.loc[pool & ~deferred, ["disability_type"]] = ""
    children.loc[pool & ~deferred, ["disability_level"]] = 0
    return children.drop(columns=["rep_prop"])


def late_entry_share(a: int, params: SynthParams) -> float:
    """Share of age cohort ``a`` that entered grade 1 late.

    Late entry was common in older cohorts and disappears by the 2020 cohort as the campaign
    enforces entry at six (应入尽入); it is the main source of over-age children, which is why
    the junior-middle enrolment rate of 2020 is lower than the primary one.
    """
    if a <= 2014:
        return params.late_entry_1
    return params.late_entry_1 * max(0.0, (2020 - a) / 6) ** 2


def in_registry_2020(c: pd.DataFrame) -> np.ndarray:
    """Children who are students in the prefecture in autumn 2020 if nothing else happens."""
    grade = 2020 - c["entry_year"].to_numpy() - c["repeats"].to_numpy() + 1
    resident = (
        ~c["living_outside"].to_numpy()
        & ~((c["move_out_year"] > 0) & (c["move_out_year"] <= 2020)).to_numpy()
    )
    return resident & (grade >= 1) & (grade <= 9), grade


def _thin_to_targets(
    params: SynthParams, rng: np.random.Generator, c: pd.DataFrame
) -> pd.DataFrame:
    """Drop children so that autumn-2020 primary and junior counts equal the scaled targets.

    Cohorts A >= 2015 are almost all primary in 2020, A <= 2013 almost all junior or beyond;
    one factor for each group (A = 2014 shared linearly) is solved so the two counts match,
    then children are removed at random within each cohort to the exact sizes.
    """
    f = params.fraction
    target_p = int(round(params.targets["primary_students"] * f))
    target_j = int(round(params.targets["junior_students"] * f))
    stu, grade = in_registry_2020(c)
    A = c["A"].to_numpy()
    prim = stu & (grade <= 6)
    jun = stu & (grade >= 7)
    # keep-fraction per cohort: kp for A>=2015, kj for A<=2013, mean of both for 2014.
    wp = np.where(A >= 2015, 1.0, np.where(A == 2014, 0.5, 0.0))
    wj = 1 - wp
    # counts(kp, kj) are linear: P = kp*sum(prim*wp) + kj*sum(prim*wj); same for J.
    M = np.array([[np.sum(prim * wp), np.sum(prim * wj)], [np.sum(jun * wp), np.sum(jun * wj)]])
    kp, kj = np.linalg.solve(M, np.array([target_p, target_j], dtype=float))
    if not (0 < kp <= 1 and 0 < kj <= 1):
        raise RuntimeError(f"cohort calibration out of range: kp={kp:.3f} kj={kj:.3f}")
    keep_frac = kp * wp + kj * wj
    keep = np.zeros(len(c), dtype=bool)
    for a in np.unique(A):
        idx = np.flatnonzero(a == A)
        k = int(round(keep_frac[idx[0]] * len(idx)))
        keep[rng.choice(idx, size=k, replace=False)] = True
    c = c[keep].reset_index(drop=True)
    # Exact fix-up: add or remove single students of the right stage to hit the counts.
    for stage, target in (("p", target_p), ("j", target_j)):
        stu, grade = in_registry_2020(c)
        is_stage = stu & ((grade <= 6) if stage == "p" else (grade >= 7))
        diff = int(is_stage.sum()) - target
        if diff > 0:
            drop = rng.choice(np.flatnonzero(is_stage), size=diff, replace=False)
            c = c.drop(index=drop).reset_index(drop=True)
        elif diff < 0:
            add = rng.choice(np.flatnonzero(is_stage), size=-diff, replace=False)
            extra = c.iloc[add].copy()
            # New children: siblings-free copies in new single-child households of the same place.
            extra["household_id"] = c["household_id"].iloc[add].to_numpy()
            c = pd.concat([c, extra], ignore_index=True)
    return c.reset_index(drop=True)


def resident_2020(c: pd.DataFrame) -> np.ndarray:
    """Living in the prefecture in autumn 2020 (the census date of the 2020 indicators)."""
    mo = c["move_out_year"].to_numpy()
    ar = c["arrive_year"].to_numpy()
    return ~c["living_outside"].to_numpy() & ~((mo > 0) & (mo <= 2020)) & ((ar == 0) | (ar <= 2020))


def _calibrate_junior_rate(params: SynthParams, c: pd.DataFrame) -> pd.DataFrame:
    """Set how many 12-year-olds of 2020 entered late so the junior-middle rate hits its target.

    Over-age children still in primary school are what keeps the junior-middle rate at about
    96 %. The target is aimed a hair high (+0.04 points) because never-enrolled children,
    added after the simulation, can only lower it.
    """
    A = c["A"].to_numpy()
    band = resident_2020(c) & (A >= 2012) & (A <= 2014) & ~c["never_enrolled"].to_numpy()
    grade = 2020 - c["entry_year"].to_numpy() - c["repeats"].to_numpy() + 1
    n_band = int(band.sum())
    want_in = int(round((params.targets["junior_enrolment_rate"] / 100 + 0.0004) * n_band))
    diff = int((band & (grade >= 7)).sum()) - want_in
    late = c["entry_delay"].to_numpy().copy()
    prop = c["rep_prop"].to_numpy()
    if diff > 0:  # too many in junior: make on-time 12-year-olds late entrants
        cand = np.flatnonzero(band & (A == 2014) & (late == 0) & (c["repeats"].to_numpy() == 0))
        pick = cand[np.argsort(-prop[cand], kind="stable")[:diff]]
        late[pick] = 1
    elif diff < 0:
        cand = np.flatnonzero(band & (A == 2014) & (late == 1) & (c["repeats"].to_numpy() == 0))
        pick = cand[np.argsort(prop[cand], kind="stable")[:-diff]]
        late[pick] = 0
    c["entry_delay"] = late
    c["entry_year"] = A + late
    return c


def cohort_member(c: pd.DataFrame, grad_year: int) -> np.ndarray:
    """In the prefecture's registry through the spring term of ``grad_year`` (net of moves)."""
    mo = c["move_out_year"].to_numpy()
    ar = c["arrive_year"].to_numpy()
    return (
        ~c["living_outside"].to_numpy()
        & ~c["never_enrolled"].to_numpy()
        & ((mo == 0) | (mo >= grad_year))
        & ((ar == 0) | (ar <= grad_year - 1))
    )


def _calibrate_consolidation(params: SynthParams, c: pd.DataFrame) -> pd.DataFrame:
    """Choose who repeated a grade before 2016 in the 2011 and 2010 entry cohorts so that the
    2020 nine-year consolidation rate equals the seed's (graduates of 2020 over entrants of 2011,
    net of normal transfers). Every dropout of these cohorts is returned by the 2019/20
    campaign, so this choice fixes the rate exactly."""
    member = cohort_member(c, 2020)
    E = c["entry_year"].to_numpy()
    rep = c["repeats"].to_numpy().copy()
    prop = c["rep_prop"].to_numpy()
    r10 = int((member & (E == 2010) & (rep == 1)).sum()) + int(
        (member & (E == 2009) & (rep == 2)).sum()
    )
    base = int((member & (E == 2011)).sum())
    r11 = r10 + int(round((1 - params.targets["consolidation_rate"] / 100) * base))
    cand = np.flatnonzero(member & (E == 2011))
    rep[cand] = 0
    rep[cand[np.argsort(-prop[cand], kind="stable")[:r11]]] = 1
    c["repeats"] = rep
    return c


def _add_never_enrolled_pool(
    params: SynthParams, rng: np.random.Generator, c: pd.DataFrame
) -> pd.DataFrame:
    """Candidates for children never enrolled (失学) or deferred for disability (缓学).

    They live in the prefecture and appear only in the household registration. How many of
    them exist is decided after the simulation (see :func:`analysis.synth.world.build_world`),
    so that the 2020 enrolment rates equal the seed's; the rest are removed.
    """
    f = params.fraction
    rows = []
    res = resident_2020(c) & ~c["migrant"].to_numpy()
    for lo, hi, size in ((2015, 2020, int(80 * f) + 8), (2012, 2014, int(90 * f) + 8)):
        cand = np.flatnonzero(res & (c["A"].to_numpy() >= lo) & (c["A"].to_numpy() <= hi))
        pick = rng.choice(cand, size=2 * size, replace=False)
        extra = c.iloc[pick].copy()
        extra["never_enrolled"] = True
        extra["entry_year"] = 9999
        extra["entry_delay"] = 0
        extra["repeats"] = 0
        extra["move_out_year"] = 0
        extra["learning_difficulty"] = rng.random(len(extra)) < 0.5
        extra["pool_kind"] = np.where(np.arange(len(extra)) < size, "disabled", "plain")
        rows.append(extra)
    c["pool_kind"] = ""
    out = pd.concat([c, *rows], ignore_index=True)
    n_new = sum(len(r) for r in rows)
    offs = rng.integers(0, 365, n_new).astype("timedelta64[D]")
    base = (out["A"].to_numpy()[-n_new:] - 7).astype(str).astype(object) + "-09-01"
    out.loc[out.index[-n_new:], "birth_date"] = base.astype("datetime64[D]") + offs
    return out


def _add_disability(params: SynthParams, rng: np.random.Generator, c: pd.DataFrame) -> pd.DataFrame:
    n = len(c)
    dis = rng.random(n) < params.disability_share * np.where(c["learning_difficulty"], 2.0, 0.9)
    dtype = np.where(
        dis, _pick(rng, DISABILITY_TYPES, n, [0.1, 0.12, 0.08, 0.25, 0.3, 0.05, 0.1]), ""
    )
    level = np.where(dis, rng.choice([1, 2, 3, 4], n, p=[0.15, 0.25, 0.3, 0.3]), 0)
    severe = dis & (level <= 2) & np.isin(dtype, ["智力", "肢体", "多重", "精神"])
    home = severe & (rng.random(n) < params.home_teaching_share / 0.27)
    c["disability_type"] = dtype
    c["disability_level"] = level
    c["disabled"] = dis
    c["home_teaching"] = home
    # Certificate issued after age 2 and before 2020.
    b = c["birth_date"].to_numpy().astype("datetime64[D]")
    lo = b + np.timedelta64(730, "D")
    hi = np.maximum(lo + np.timedelta64(30, "D"), np.datetime64("2020-06-30"))
    span = (hi - lo).astype(int)
    cert = lo + (rng.random(n) * span).astype("timedelta64[D]")
    c["disability_cert_date"] = np.where(dis, cert, np.datetime64("NaT"))
    return c


def _given_name(rng: np.random.Generator, sex: np.ndarray, names: dict) -> np.ndarray:
    male, female = names["given_chars"]["male"], names["given_chars"]["female"]
    n = len(sex)
    g1 = np.where(sex == "M", _pick(rng, male, n), _pick(rng, female, n))
    g2 = np.where(sex == "M", _pick(rng, male, n), _pick(rng, female, n))
    two = rng.random(n) < 0.7
    return np.where(two, g1 + g2, g1).astype(object)


def _add_identity(
    params: SynthParams, rng: np.random.Generator, c: pd.DataFrame, households: pd.DataFrame
) -> pd.DataFrame:
    """Person ids, names (with school names for some Yi children) and ID numbers."""
    names = load_names()
    n = len(c)
    c.insert(0, "person_id", [f"C{i:07d}" for i in range(n)])
    hh = households.set_index("household_id")
    # Surname from the household (father's surname), by the household's ethnicity.
    hh_sur = {}
    for eth in ETHNIC_COLUMNS:
        ids = hh.index[hh["ethnicity"] == eth].to_numpy()
        hh_sur.update(dict(zip(ids, _pick(rng, names["surnames"][eth], len(ids)), strict=True)))
    surname = np.array([hh_sur[h] for h in c["household_id"].to_numpy()], dtype=object)
    c["surname"] = surname
    given = _given_name(rng, c["sex"].to_numpy(), names)
    name = (surname + given).astype(object)
    school_name = name.copy()
    eth = c["ethnicity"].to_numpy()
    u = rng.random(n)
    tr = names["translit"]
    yi_t = (eth == "yi") & (u < 0.12)
    dai_t = (eth == "dai") & (u < 0.20)
    hani_t = (eth == "hani") & (u < 0.10)
    for mask, firsts, seconds in (
        (yi_t, tr["yi_first"], tr["yi_second"]),
        (hani_t, tr["hani_first"], tr["hani_second"]),
    ):
        k = int(mask.sum())
        name[mask] = _pick(rng, firsts, k) + "·" + _pick(rng, seconds, k)
    k = int(dai_t.sum())
    dsex = c["sex"].to_numpy()[dai_t]
    dfirst = np.where(
        dsex == "M", _pick(rng, tr["dai_male_first"], k), _pick(rng, tr["dai_female_first"], k)
    )
    name[dai_t] = dfirst + "·" + _pick(rng, tr["dai_second"], k)
    # Yi children with a transliterated name often go to school under a Han name.
    han_at_school = yi_t & (rng.random(n) < 0.45)
    school_name[~han_at_school] = name[~han_at_school]
    c["name"] = name
    c["school_name"] = school_name
    c["han_name_at_school"] = han_at_school

    # ID area code: county of birth registration, with the legacy codes of Jiangchuan (until
    # 2015) and Chengjiang (until 2019) (counties.csv); migrants carry their origin's code.
    area = c["county_code"].to_numpy().astype(np.int64).copy()
    by = c["birth_date"].dt.year.to_numpy()
    for code, legacy, until in _legacy_codes():
        area[(area == code) & (by < until)] = legacy
    mig = c["migrant"].to_numpy()
    origin = rng.integers(0, len(MIGRANT_ORIGINS), n)
    area[mig] = np.array([MIGRANT_ORIGINS[i][0] for i in origin[mig]])
    c["origin"] = np.where(mig, np.array([MIGRANT_ORIGINS[i][1] for i in origin]), "")
    c["id_area"] = area
    sexbit = (c["sex"].to_numpy() == "M").astype(int)
    ids = _unique_ids(rng, area, c["birth_date"].to_numpy(), sexbit)
    c["id_number"] = ids
    # Some students are registered without an ID number (temporary L-prefixed number).
    no_id = rng.random(n) < np.where(mig, 0.08, 0.008)
    c["registry_has_id"] = ~no_id
    lnum = np.array(
        [
            f"L{a}{str(b).replace('-', '')}{rng.integers(0, 1000):03d}0"
            for a, b in zip(area, c["birth_date"].to_numpy().astype("datetime64[D]"), strict=True)
        ]
    )
    c["student_no"] = np.where(no_id, lnum, np.char.add("G", ids.astype(str)))
    return c


def _unique_ids(
    rng: np.random.Generator, area: np.ndarray, birth: np.ndarray, male: np.ndarray
) -> np.ndarray:
    """ID numbers unique across the population (order codes redrawn on collision)."""
    n = len(area)
    order = rng.integers(0, 500, n) * 2 + male
    ids = make_ids(area, birth, order)
    for _ in range(20):
        dup = pd.Series(ids).duplicated().to_numpy()
        if not dup.any():
            return ids
        order[dup] = rng.integers(0, 500, int(dup.sum())) * 2 + male[dup]
        ids[dup] = make_ids(area[dup], birth[dup], order[dup])
    raise RuntimeError("could not draw unique ID numbers")


def _make_parents(
    rng: np.random.Generator, households: pd.DataFrame, children: pd.DataFrame
) -> pd.DataFrame:
    """A father and a mother per household, born 22-38 years before their eldest child."""
    names = load_names()
    eldest = children.groupby("household_id")["birth_date"].min()
    hh = households.set_index("household_id").loc[eldest.index]
    surnames = children.groupby("household_id")["surname"].first().loc[eldest.index].to_numpy()
    rows = []
    for role, sexv, gap in (("father", "M", (24, 38)), ("mother", "F", (21, 34))):
        k = len(hh)
        age = rng.integers(gap[0], gap[1], k)
        b = (
            eldest.to_numpy().astype("datetime64[D]")
            - (age * 365.25).astype("timedelta64[D]")
            - rng.integers(0, 365, k).astype("timedelta64[D]")
        )
        if role == "father":
            nm = surnames + _given_name(rng, np.full(k, "M"), names)
        else:
            eth = hh["ethnicity"].to_numpy()
            sur = np.array([rng.choice(names["surnames"][e]) for e in eth], dtype=object)
            nm = sur + _given_name(rng, np.full(k, "F"), names)
        county = hh["county_code"].to_numpy().astype(np.int64)
        area = county.copy()
        for code, legacy, _until in _legacy_codes():
            area[area == code] = legacy
        rows.append(
            pd.DataFrame(
                {
                    "household_id": eldest.index.to_numpy(),
                    "role": role,
                    "sex": sexv,
                    "name": nm,
                    "birth_date": b,
                    "id_area": area,
                }
            )
        )
    parents = pd.concat(rows, ignore_index=True)
    male = (parents["sex"] == "M").to_numpy().astype(int)
    parents["id_number"] = _unique_ids(
        rng, parents["id_area"].to_numpy(), parents["birth_date"].to_numpy(), male
    )
    parents.insert(0, "person_id", [f"A{i:07d}" for i in range(len(parents))])
    return parents


def _legacy_codes() -> list[tuple[int, int, int]]:
    """(current code, legacy code, year the legacy code ended) of the counties that changed
    (counties.csv): an ID issued before then keeps the legacy code."""
    c = load_counties().dropna(subset=["legacy_code"])
    return [
        (int(r.code), int(r.legacy_code), int(r.legacy_until)) for r in c.itertuples(index=False)
    ]
