"""The effects stage's inputs, from the pipeline's own tables (never the truth):

* **pupils**: the risk model's feature table, one row per pupil in school at a term's
  start, with the term's outcome (``dropout``: dropped out during the term, 0/1);
* **ledger**: the red-list screening ledgers (红名单排查) linked to persons, with each
  county-term's cutoff and the running variable (score minus cutoff);
* **cases**: the persuasion ledgers (劝返复学台账) linked to persons, with their county;
  returned follow-up ledgers (:mod:`analysis.followup`) add their dated steps and returns,
  and their 是否开展结对帮扶 overrides the red-list ledger's mentoring record;
* **adoption**: each county's adoption term of each county policy (政策措施实施情况);
* **inspections**: the inspection records (督查记录), per school and term.

A row's county comes from the school roster (by school code or name) or from the pupil's
own registry record, never from a file's name: a county's export may be named anything.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analysis.calendar import term_of
from analysis.engine import scan
from analysis.followup import read_followup
from analysis.layout import Layout
from analysis.resources import legacy_county_names

#: Feature columns the designs use as covariates (pupils' recorded circumstances).
COVARIATES = (
    "unx_rate_last_term",
    "unx_days_last_term",
    "returned_ever",
    "years_since_return",
    "age_for_grade",
    "poverty_now",
    "left_behind",
    "disability",
    "migrant",
    "boarding",
    "male",
    "grade",
    "spring",
)


@dataclass
class EffectInputs:
    pupils: pd.DataFrame
    ledger: pd.DataFrame
    cases: pd.DataFrame
    adoption: dict[str, dict[str, str | None]]
    inspections: pd.DataFrame
    counties: dict[str, str]  # code -> name
    notes: list[str]
    roster: pd.DataFrame  # school_code, school_name, county, county_code, stage


def load_inputs(con, layout: Layout, policy_names: dict[str, str]) -> EffectInputs:
    """Read and link every input (see the module docstring). ``policy_names`` maps the
    policy names a county writes (学生到校情况视频核查 ...) to the policies' keys."""
    notes: list[str] = []
    roster = con.execute(
        f"SELECT DISTINCT school_code, school_name, county, county_code, stage FROM {scan(layout.table('schools'))}"
    ).df()
    counties = dict(roster[["county_code", "county"]].drop_duplicates().itertuples(index=False))
    cols = ", ".join(["person_id", "term", "county_code", "school_code", "dropout", *COVARIATES])
    pupils = con.execute(
        f"SELECT {cols} FROM {scan(layout.features)} WHERE dropout IS NOT NULL"
    ).df()
    entries = read_followup(layout)
    ledger = _ledger(con, layout, roster, pupils, notes, entries)
    cases = apply_followup(_cases(con, layout, roster, notes), entries, notes)
    adoption = _adoption(con, layout, roster, policy_names, notes)
    insp = _inspections(con, layout, roster)
    return EffectInputs(pupils, ledger, cases, adoption, insp, counties, notes, roster)


def _linked(con, layout: Layout, kind: str) -> str:
    """The clean table ``kind`` with each row's person_id from the person index."""
    return f"""(SELECT t.*, p.person_id
        FROM {scan(layout.table(kind))} t
        LEFT JOIN (SELECT * FROM {scan(layout.person_index)} WHERE kind = '{kind}') p
          ON p.source_file = t.source_file AND coalesce(p.source_sheet, '') = coalesce(t.source_sheet, '')
         AND p.source_row = t.source_row)"""


def _ledger(con, layout: Layout, roster, pupils, notes, entries=None) -> pd.DataFrame:
    if not layout.table("redlist").exists():
        notes.append("no red-list ledgers (红名单排查): mentoring cannot be evaluated")
        return pd.DataFrame()
    led = con.execute(f"SELECT * FROM {_linked(con, layout, 'redlist')}").df()
    led = apply_mentoring(led, entries, notes)
    # The county: the pupil's own registry that term, else the roster's school of that name,
    # else the ledger's own (its file's county).
    led = led.rename(columns={"county_code": "ledger_county"})
    own = pupils[["person_id", "term", "county_code"]].drop_duplicates(["person_id", "term"])
    led = led.merge(own, on=["person_id", "term"], how="left")
    by_name = roster.drop_duplicates("school_name").set_index("school_name")["county_code"]
    led["county_code"] = led["county_code"].fillna(led["school_name"].map(by_name))
    if "ledger_county" in led:
        led["county_code"] = led["county_code"].fillna(led.pop("ledger_county"))
    lost = led["county_code"].isna().sum()
    if lost:
        notes.append(f"{lost} ledger rows with no county (unknown school, unlinked pupil) left out")
    led = led.dropna(subset=["county_code"])
    return prepare_ledger(led, notes)


#: A returned ledger's 跟进情况 that records a persuasion step, and the case column it dates.
STEP_ENTRIES = {
    "劝返第1步（劝返教育）": "step1",
    "劝返第2步（责令改正）": "step2",
    "劝返第3步（行政处罚）": "step3",
    "劝返第4步（申请法院强制执行）": "step4",
}


def apply_mentoring(led: pd.DataFrame, entries: pd.DataFrame | None, notes: list[str]):
    """The red-list ledger with 是否开展结对帮扶 from returned follow-up ledgers
    (:mod:`analysis.followup`) over its own, for the same pupil and term: the school's
    record of who was actually mentored.

    >>> led = pd.DataFrame({"person_id": ["a", "b"], "term": ["2020-2"] * 2, "mentored": ["是"] * 2})
    >>> e = pd.DataFrame({"person_id": ["b"], "term": ["2020-2"], "mentored": ["否"],
    ...                   "follow_date": [None], "source_row": [1]})
    >>> apply_mentoring(led, e, [])["mentored"].tolist()
    ['是', '否']
    """
    if entries is None or entries.empty or "person_id" not in led:
        return led
    e = entries.dropna(subset=["mentored", "term"])
    if e.empty:
        return led
    e = e.sort_values(["source_row"]).drop_duplicates(["person_id", "term"], keep="last")
    led = led.merge(
        e[["person_id", "term", "mentored"]].rename(columns={"mentored": "_m"}),
        on=["person_id", "term"], how="left",
    )  # fmt: skip
    changed = int((led["_m"].notna() & (led["_m"] != led.get("mentored"))).sum())
    led["mentored"] = led["_m"].fillna(led["mentored"]) if "mentored" in led else led["_m"]
    notes.append(f"returned ledgers: mentoring of {int(led['_m'].notna().sum())} pupils "
                 f"recorded ({changed} changed)")  # fmt: skip
    return led.drop(columns="_m")


def apply_followup(cases: pd.DataFrame, entries: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """Persuasion cases with the steps and returns of returned follow-up ledgers: an entry
    dated on or after a case's detection fills that case's step date (a step the ledger has
    not dated yet) or its return (已返校, when the case has none); the child's latest case
    detected by then takes it.

    >>> cases = pd.DataFrame({"person_id": ["a"], "detected": pd.to_datetime(["2021-03-01"]),
    ...     "step1": [None], "step2": [None], "step3": [None], "step4": [None],
    ...     "return_date": [None], "outcome": ["未返校"]})
    >>> e = pd.DataFrame({"person_id": ["a", "a"], "follow_up": ["劝返第2步（责令改正）", "已返校"],
    ...     "follow_date": pd.to_datetime(["2021-04-01", "2021-05-06"]), "source_row": [1, 2]})
    >>> out = apply_followup(cases, e, [])
    >>> out.loc[0, ["step2", "return_date", "outcome"]].astype(str).tolist()
    ['2021-04-01', '2021-05-06', '已返校']
    """
    if cases.empty or entries is None or entries.empty:
        return cases
    e = entries.dropna(subset=["follow_up", "follow_date"])
    e = e[e["follow_up"].isin([*STEP_ENTRIES, "已返校"])]
    if e.empty:
        return cases
    cases = cases.copy()
    for col in (*STEP_ENTRIES.values(), "return_date"):  # dates as objects: set cell by cell
        cases[col] = cases[col].astype(object)
    detected = pd.to_datetime(cases["detected"])
    used = 0
    for r in e.sort_values(["follow_date", "source_row"]).itertuples(index=False):
        when = pd.Timestamp(r.follow_date)
        mine = cases.index[(cases["person_id"] == r.person_id) & (detected <= when)]
        if not len(mine):
            continue
        i = detected[mine].idxmax()
        col = STEP_ENTRIES.get(r.follow_up, "return_date")
        if pd.isna(cases.at[i, col]):
            cases.at[i, col] = when.date()
            if col == "return_date":
                cases.at[i, "outcome"] = "已返校"
            used += 1
    if used:
        notes.append(f"returned ledgers: {used} persuasion steps or returns added to the cases")
    return cases


def prepare_ledger(led: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """A linked ledger (``person_id, county_code, term, risk_score, rank, red_list`` and
    ``mentored`` as 是/否) with who was listed and treated, each county-term's capacity
    and cutoff, the running variable, and whether the pupil is in the AIPW design (ranked
    within three times the capacity)."""
    led = led.copy()
    led["listed"] = (led["red_list"] == "是").astype(int)
    if "mentored" in led and led["mentored"].notna().any():
        led["treated"] = (led["mentored"] == "是").astype(int)
    else:
        led["treated"] = led["listed"]
        notes.append(
            "the ledgers do not say who was mentored: the list itself is the treatment (sharp design, intention to treat)"
        )
    led = led.sort_values(["county_code", "term", "rank"])
    cap = led.groupby(["county_code", "term"])["listed"].transform("sum")
    led["capacity"] = cap
    cut = led.groupby(["county_code", "term"])[["risk_score", "listed"]].apply(_cutoff)
    led = led.join(cut.rename("cutoff"), on=["county_code", "term"])
    led["running"] = split_ties(led["risk_score"] - led["cutoff"], led["listed"] == 1)
    led["in_design"] = led["rank"] <= 3 * led["capacity"]
    return led.reset_index(drop=True)


#: Where a score straddles the cutoff (some pupils with it listed, some not, by the ledger's
#: tie-break), the listed ones sit this far above the cutoff and the others as far below:
#: within a tie the order is as good as random, and less than the scores' 0.1 step.
TIE_OFFSET = 0.025


def split_ties(running: pd.Series, listed: pd.Series) -> pd.Series:
    """The running variable with pupils tied at the cutoff moved just above (listed) or
    just below (not listed) it.

    >>> split_ties(pd.Series([0.0, 0.0, 0.35]), pd.Series([True, False, True])).tolist()
    [0.025, -0.025, 0.35]
    """
    tie = running.abs() < 1e-9
    return running.mask(tie & listed, TIE_OFFSET).mask(tie & ~listed, -TIE_OFFSET)


def _cutoff(g: pd.DataFrame) -> float:
    """Midway between the lowest listed score and the highest unlisted one."""
    listed = g.loc[g["listed"] == 1, "risk_score"]
    rest = g.loc[g["listed"] == 0, "risk_score"]
    if not len(listed) or not len(rest):
        return float("nan")
    return (
        float((listed.min() + rest.max()) / 2)
        if listed.min() >= rest.max()
        else float(listed.min())
    )


def _cases(con, layout: Layout, roster, notes) -> pd.DataFrame:
    if not layout.table("persuasion").exists():
        notes.append("no persuasion ledgers (劝返复学台账)")
        return pd.DataFrame()
    c = con.execute(f"SELECT * FROM {_linked(con, layout, 'persuasion')}").df()
    by_name = roster.drop_duplicates("school_name").set_index("school_name")["county_code"]
    c["county_code"] = c["school_name"].map(by_name)
    lost = c["county_code"].isna().sum()
    if lost:
        notes.append(f"{lost} persuasion cases of a school not in the roster have no county")
    return c


def _adoption(con, layout: Layout, roster, policy_names, notes) -> dict:
    """policy -> county code -> adoption term (None: never), every county of the roster."""
    codes = sorted(roster["county_code"].dropna().unique())
    out = {p: dict.fromkeys(codes) for p in set(policy_names.values())}
    if not layout.table("policies").exists():
        notes.append("no policy records (政策措施实施情况): county policies cannot be evaluated")
        return out
    pol = con.execute(f"SELECT county, policy, adopted FROM {scan(layout.table('policies'))}").df()
    name_to_code = dict(roster[["county", "county_code"]].drop_duplicates().itertuples(index=False))
    for old, new in legacy_county_names().items():
        if new in name_to_code:
            name_to_code.setdefault(old, name_to_code[new])
    for r in pol.itertuples():
        key, code = policy_names.get(str(r.policy).strip()), name_to_code.get(str(r.county).strip())
        if key is None or code is None or pd.isna(r.adopted):
            notes.append(
                f"policy record not understood and left out: {r.county} / {r.policy} / {r.adopted}"
            )
            continue
        term = term_of(pd.Timestamp(r.adopted).date())
        prev = out[key].get(code)
        out[key][code] = term if prev is None else min(prev, term)
    return out


def _inspections(con, layout: Layout, roster) -> pd.DataFrame:
    if not layout.table("inspections").exists():
        return pd.DataFrame(columns=["school_code", "term", "level"])
    d = con.execute(
        f"SELECT school_code, date, level FROM {scan(layout.table('inspections'))}"
    ).df()
    d["term"] = [term_of(x.date()) for x in pd.to_datetime(d["date"])]
    return d
