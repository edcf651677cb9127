"""The effects stage's inputs, from the pipeline's own tables (never the truth):

* **pupils**: the risk model's feature table, one row per pupil in school at a term's
  start, with the term's outcome (``dropout``: dropped out during the term, 0/1);
* **ledger**: the red-list screening ledgers (红名单排查) linked to persons, with each
  county-term's cutoff and the running variable (score minus cutoff);
* **cases**: the persuasion ledgers (劝返复学台账) linked to persons, with their county;
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
    ledger = _ledger(con, layout, roster, pupils, notes)
    cases = _cases(con, layout, roster, notes)
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


def _ledger(con, layout: Layout, roster, pupils, notes) -> pd.DataFrame:
    if not layout.table("redlist").exists():
        notes.append("no red-list ledgers (红名单排查): mentoring cannot be evaluated")
        return pd.DataFrame()
    led = con.execute(f"SELECT * FROM {_linked(con, layout, 'redlist')}").df()
    # The county: the pupil's own registry that term, else the roster's school of that name.
    own = pupils[["person_id", "term", "county_code"]].drop_duplicates(["person_id", "term"])
    led = led.merge(own, on=["person_id", "term"], how="left")
    by_name = roster.drop_duplicates("school_name").set_index("school_name")["county_code"]
    led["county_code"] = led["county_code"].fillna(led["school_name"].map(by_name))
    lost = led["county_code"].isna().sum()
    if lost:
        notes.append(f"{lost} ledger rows with no county (unknown school, unlinked pupil) left out")
    led = led.dropna(subset=["county_code"])
    return prepare_ledger(led, notes)


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
