"""How the registries record the world: imperfectly, the way real ones do.

The world (:mod:`analysis.synth.world`) is what happened; the truth records it. The files
record it as schools and offices do, and some of their mistakes are not typing slips of one
file (those are :mod:`analysis.synth.mess`) but lasting properties of the record:

* **the registry number (学籍号) is the ID number as first registered**: a child whose first
  registration carried a mistyped ID keeps ``G`` + that mistyped ID for life;
* **a child registered without an ID** has a temporary ``L`` number, replaced by ``G`` + the
  ID when the ID is issued (in some term, or never within the years simulated): the same
  child under two registry numbers;
* **the persuasion ledger** (劝返复学台账) misses some dropouts, and records their detection
  after a variable delay (days to weeks), not the week the world took;
* **attendance** records some absent days as present: a teacher who keeps marking a pupil
  who has stopped coming, and days of casual truancy filled in as present;
* **households** are headed by a grandparent in many three-generation families whether or
  not the parents are away (a child is 孙子/孙女 of the head in either case), and the
  grandparents have names of their own.

Each draw comes from its own random stream (the world's seed and the kind of record), so the
world and the other extracts are the same with or without these imperfections, and the two
export dialects record the same world the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.calendar import term_of
from analysis.idnumber import check_char
from analysis.synth.world import World

#: The random streams' tags (the second element of the seed sequence).
_STREAM = 17


def _rng(world: World, what: int) -> np.random.Generator:
    return np.random.default_rng([world.params.seed, _STREAM, what])


@dataclass(frozen=True)
class RegistryNumbers:
    """Each child's registry number over the terms: ``first`` as first registered (``G`` +
    the ID as then typed, or an ``L`` number), and ``issued`` the index of the first term
    whose registry shows ``G`` + the true ID and the ID itself (0: from the start; a large
    number: never within the years simulated)."""

    first: np.ndarray
    issued: np.ndarray
    true_g: np.ndarray

    def at(self, child: np.ndarray, k: np.ndarray) -> np.ndarray:
        """The registry number of ``child`` in term ``k`` (arrays of equal length)."""
        child = np.asarray(child)
        now = np.asarray(k) >= self.issued[child]
        return np.where(now, self.true_g[child], self.first[child]).astype(object)

    def has_id(self, child: np.ndarray, k: np.ndarray) -> np.ndarray:
        """Whether the registry shows the child's ID number in term ``k``."""
        return np.asarray(k) >= self.issued[np.asarray(child)]


def registry_numbers(world: World) -> RegistryNumbers:
    """The registry numbers as the registry assigned them (see the module docstring)."""
    rates = world.params.mess
    c = world.pop.children
    rng = _rng(world, 1)
    n = len(c)
    ids = c["id_number"].to_numpy(dtype=object)
    true_g = np.char.add("G", ids.astype(str)).astype(object)
    first = c["student_no"].to_numpy(dtype=object).copy()
    has_id = c["registry_has_id"].to_numpy()
    # First registered with a mistyped ID: one of the first 17 digits changed.
    typo = has_id & (rng.random(n) < rates.regno_first_typo)
    pos = rng.integers(6, 17, n)  # the birth date and order digits, as clerks mistype them
    delta = rng.integers(1, 10, n)
    for i in np.flatnonzero(typo):
        s = ids[i]
        d = (int(s[pos[i]]) + delta[i]) % 10
        body = s[: pos[i]] + str(d) + s[pos[i] + 1 : 17]
        # Half the time the clerk's system recomputed the check character, half not.
        tail = check_char(body) if rng.random() < 0.5 else s[17]
        first[i] = "G" + body + tail
    n_terms = len(world.school.terms)
    issued = np.zeros(n, np.int64)
    # An L number is replaced when the ID is issued: in a term drawn uniformly, or never.
    lnum = ~has_id
    gets = rng.random(n) < rates.l_number_replaced
    issued[lnum] = np.where(gets[lnum], rng.integers(1, n_terms, n)[lnum], 10**6)
    true_g[typo] = first[typo]  # the typo is for life: the true G number never appears
    return RegistryNumbers(first, issued, true_g)


def term_index(world: World, dates) -> np.ndarray:
    """The index (into ``world.school.terms``) of the term each date falls in (a holiday:
    the term before it); -1 outside the simulated terms."""
    labels = {t.label: k for k, t in enumerate(world.school.terms)}
    d = pd.to_datetime(pd.Series(np.asarray(dates)))
    uniq = d.dt.date.unique()
    k_of = {u: labels.get(term_of(u), -1) for u in uniq if pd.notna(u)}
    return d.dt.date.map(k_of).fillna(-1).astype(np.int64).to_numpy()


def month_terms(world: World, year: np.ndarray, month: np.ndarray) -> np.ndarray:
    """:func:`term_index` of the first day of each (calendar year, month)."""
    ym = np.asarray(year).astype(np.int64) * 100 + np.asarray(month)
    uniq, inv = np.unique(ym, return_inverse=True)
    days = pd.to_datetime([f"{u // 100}-{u % 100:02d}-01" for u in uniq])
    return term_index(world, days)[inv]


def attendance_as_recorded(world: World) -> pd.DataFrame:
    """The monthly attendance as the schools recorded it: some absent days written as
    present (a pupil who stopped coming still marked present for the month; a day of truancy
    filled in), the leave days as they were. The world's own table is left as it is."""
    rates = world.params.mess
    a = world.school.attendance
    rng = _rng(world, 2)
    unexc = a["unexcused"].to_numpy().astype(np.int64)
    present = a["present"].to_numpy().astype(np.int64)
    req = a["required"].to_numpy().astype(np.int64)
    n = len(a)
    # A month mostly away (a pupil who has left): all of it marked present, now and then.
    away = unexc >= np.maximum(req // 2, 1)
    hide_all = away & (rng.random(n) < rates.absent_month_recorded_present)
    # Ordinary truancy: each day marked present with a small chance.
    casual = ~away & (unexc > 0)
    hidden = np.where(
        casual, rng.binomial(np.maximum(unexc, 0), rates.absent_day_recorded_present), 0
    )
    hidden = np.where(hide_all, unexc, hidden)
    if not hidden.any():
        return a
    out = a.copy()
    out["unexcused"] = (unexc - hidden).astype(a["unexcused"].dtype)
    out["present"] = (present + hidden).astype(a["present"].dtype)
    return out


def ledger_as_recorded(world: World, cases: pd.DataFrame) -> pd.DataFrame:
    """The persuasion ledger's cases as the county recorded them: some dropouts never
    entered, each detection dated after a variable delay from the day the child left (a
    lognormal number of days, median ``ledger_delay_median_days``), never after the first
    step or the return."""
    rates = world.params.mess
    if cases.empty:
        return cases
    rng = _rng(world, 3)
    n = len(cases)
    keep = rng.random(n) >= rates.ledger_missing
    delay = np.maximum(
        1, np.round(rates.ledger_delay_median_days * np.exp(rng.normal(0, 0.7, n)))
    ).astype("timedelta64[D]")
    dropped = cases["dropped_on"].to_numpy().astype("datetime64[D]")
    recorded = dropped + delay
    cap = cases["step1"].to_numpy().astype("datetime64[D]")
    ret = cases["return_date"].to_numpy().astype("datetime64[D]")
    cap = np.where(np.isnat(ret) | (ret > cap), cap, ret)
    recorded = np.where(~np.isnat(cap) & (recorded > cap), cap, recorded)
    out = cases.assign(detected=recorded)
    return out[keep]


@dataclass(frozen=True)
class Households:
    """Who heads each household in the household check, and the grandparents' names."""

    grand_head: np.ndarray  # per household id: a grandparent heads it
    head_name: dict  # household id -> the grandparent's name


def households_as_registered(world: World, names: dict) -> Households:
    """Three-generation households (a grandparent heads the register) in 35 % of rural and
    10 % of urban households, whether or not the parents are away; grandparents are named as
    people are (the family's surname and given characters), not '老大'."""
    c = world.pop.children
    rng = _rng(world, 4)
    n_h = int(c["household_id"].max()) + 1
    first = c.drop_duplicates("household_id")
    kind = world.geo.townships.set_index("township_id")["kind"]
    urban = np.zeros(n_h, bool)
    urban[first["household_id"].to_numpy()] = (
        kind.reindex(first["township_id"]).to_numpy() == "street"
    )
    grand = rng.random(n_h) < np.where(urban, 0.10, 0.35)
    # A left-behind child's household is headed by a grandparent more often, but not always.
    lb_h = np.zeros(n_h, bool)
    lb_h[c.loc[c["left_behind"], "household_id"].to_numpy()] = True
    grand |= lb_h & (rng.random(n_h) < 0.6)
    male = names["given_chars"]["male"]
    surname = dict(zip(first["household_id"], first["surname"], strict=True))
    heads = {}
    for h in np.flatnonzero(grand):
        if h in surname:
            k = int(rng.integers(1, 3))
            heads[int(h)] = surname[h] + "".join(rng.choice(male, k))
    return Households(grand, heads)
