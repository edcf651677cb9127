"""The monitoring rules of comparison 2 on hand-made attendance: what a principal would read
off the monthly sheets."""

from __future__ import annotations

import dataclasses
from datetime import date

import pandas as pd

from analysis.config import DEFAULT_RULES
from analysis.engine import connect
from analysis.link.absence import absence_episodes as _episodes
from analysis.link.tables import BaseTables
from analysis.link.timeline import monitoring_counts

SCHOOL = "2153023001"
#: School days per month of the calendar used below (a school year from September).
DAYS = {9: 20, 10: 16, 11: 22, 12: 22, 1: 10, 3: 22, 4: 20, 5: 19, 6: 20, 7: 8}


def _months(start: date, n: int) -> list[date]:
    out, y, m = [], start.year, start.month
    while len(out) < n:
        if m in DAYS:
            out.append(date(y, m, 1))
        m += 1
        if m == 13:
            y, m = y + 1, 1
    return out


def _con(pupils: dict[str, list[tuple[int, int]]], registry=None, grade: int = 7):
    """The base tables :func:`absence_episodes` reads. ``pupils``: per person,
    one (unexcused, leave) pair per school month from September 2018; a pair of None is a
    month without a row (the school has marked the pupil 辍学)."""
    rows = []
    for pid, months in pupils.items():
        for month, pair in zip(_months(date(2018, 9, 1), len(months)), months, strict=True):
            if pair is None:
                continue
            unx, leave = pair
            req = DAYS[month.month]
            rows.append((pid, month, SCHOOL, req, req - unx - leave, leave, unx))
    # A classmate present every day keeps the school's calendar whole.
    for month in _months(date(2018, 9, 1), 30):
        rows.append(("classmate", month, SCHOOL, DAYS[month.month], DAYS[month.month], 0, 0))
    con = connect()
    am = pd.DataFrame(
        rows, columns=["person_id", "month", "school_code", "req", "pres", "leave", "unx"]
    )
    am["month"] = pd.to_datetime(am["month"])
    con.execute(
        "CREATE TABLE am AS SELECT person_id, month::DATE AS month, school_code, "
        "req::INTEGER AS req, pres::INTEGER AS pres, leave::INTEGER AS leave, "
        "unx::INTEGER AS unx FROM am"
    )
    reg = pd.DataFrame(
        registry
        or [
            (pid, t, "在读", grade, SCHOOL)
            for pid in pupils
            for t in ("2018-1", "2018-2", "2019-1")
        ],
        columns=["person_id", "term", "status", "grade", "school_code"],
    )
    con.register("reg_df", reg)
    con.execute("CREATE TABLE reg AS SELECT *, '530402' AS county_code FROM reg_df")
    con.execute(
        f"CREATE TABLE schools AS SELECT '{SCHOOL}' AS school_code, '530402' AS county_code"
    )
    return BaseTables(con)


def absence_episodes(t: BaseTables, rules=DEFAULT_RULES) -> pd.DataFrame:
    """The runs of absence of the hand-made tables, as a frame."""
    return _episodes(t, rules).frame


OK = (0, 0)


def test_two_months_out_is_a_dropout_with_its_return_month():
    # Leaves in mid-October (8 of 16 days missed), out all of November and December,
    # back on the 5th school day of January.
    con = _con({"a": [OK, (8, 0), (22, 0), (22, 0), (4, 0), OK, OK]})
    ep = absence_episodes(con)
    assert len(ep) == 1
    e = ep.iloc[0]
    assert e["kind"] == "dropout"
    assert e["days"] == 8 + 22 + 22 + 4
    assert e["first_month"] == pd.Timestamp("2018-10-01")
    assert e["return_month"] == pd.Timestamp("2019-01-01")
    assert e["term"] == "2018-1" and e["return_term"] == "2018-1"


def test_scattered_absence_and_leave_are_not_runs():
    # Six unexcused days in each of two months, but present on the others: a chronic
    # absentee for the risk model, not a suspected dropout. A month on sick leave is leave.
    con = _con({"b": [OK, (6, 0), (6, 0), OK], "c": [OK, (0, 16), OK, OK]})
    assert absence_episodes(con).empty


def test_a_month_mostly_missed_is_out_unless_the_pupil_took_leave():
    # 16 of 20 September days and all of October missed: out from September. With a
    # day of leave in September, September reads as a chronic absentee's month, and
    # 6 of 16 days in October is not out either: no run.
    assert absence_episodes(_con({"h": [(16, 0), (16, 0), OK]}))["first_month"].tolist() == [
        pd.Timestamp("2018-09-01")
    ]
    ep = absence_episodes(_con({"h": [(16, 1), (6, 0), (5, 0), OK]}))
    assert ep.empty  # no month out: 16 + 1 leave of 20, then 6 and 5


def test_a_short_absence_is_suspected_and_the_thresholds_are_parameters():
    # Three days missed at the end of December, all of January (10 days), back in March.
    pupil = {"d": [OK, OK, OK, (3, 0), (10, 0), OK]}
    ep = absence_episodes(_con(pupil))
    assert ep["kind"].tolist() == ["suspected"] and ep["days"].tolist() == [13]
    assert ep["return_month"].tolist() == [pd.Timestamp("2019-03-01")]
    assert absence_episodes(_con(pupil), dataclasses.replace(DEFAULT_RULES, dropout_days=12))[
        "kind"
    ].tolist() == ["dropout"]
    assert absence_episodes(
        _con(pupil), dataclasses.replace(DEFAULT_RULES, suspected_days=13)
    ).empty


def test_months_without_rows_after_the_school_marks_the_pupil_count_as_missed():
    # Out from December; the school marks the pupil 辍学 at the spring snapshot, so spring
    # has no rows; back in September: the spring's school days were missed too.
    pupil = {"e": [OK, OK, (2, 0), (22, 0), (10, 0), None, None, None, None, None, OK]}
    registry = [
        ("e", "2018-1", "在读", 7, SCHOOL),
        ("e", "2018-2", "辍学", 7, SCHOOL),
        ("e", "2019-1", "在读", 8, SCHOOL),
    ]
    ep = absence_episodes(_con(pupil, registry))
    assert len(ep) == 1 and ep["kind"].iloc[0] == "dropout"
    assert ep["days"].iloc[0] == 2 + 22 + 10 + (22 + 20 + 19 + 20 + 8)
    assert ep["return_month"].iloc[0] == pd.Timestamp("2019-09-01")


def test_a_registry_mark_alone_is_a_dropout():
    registry = [("f", "2018-1", "在读", 5, SCHOOL), ("f", "2018-2", "辍学", 5, SCHOOL)]
    ep = absence_episodes(_con({"f": [OK, OK, OK, OK, OK]}, registry))
    assert ep["kind"].tolist() == ["dropout"]
    assert ep["evidence"].iloc[0].startswith("学籍标注辍学")


def test_a_dropout_stops_counting_when_the_class_leaves_compulsory_school():
    # A grade-9 pupil leaves in May and never comes back: out of compulsory education on
    # 1 August 2019; the school days after that are not counted.
    pupil = {"g": [OK] * 7 + [(10, 0), (20, 0), (8, 0)]}
    ep = absence_episodes(_con(pupil, grade=9))
    assert ep["open_until"].iloc[0] == pd.Timestamp("2019-08-01")
    assert ep["days"].iloc[0] == 38 and pd.isna(ep["return_month"].iloc[0])


def test_monitoring_counts_runs_by_the_term_they_began_and_returns_by_their_term():
    con = _con(
        {"a": [OK, (8, 0), (22, 0), (22, 0), (4, 0), OK], "d": [OK, OK, OK, (3, 0), (10, 0), OK]}
    )
    ep = absence_episodes(con)
    lists = ep.assign(category=ep["kind"].map({"dropout": "辍学", "suspected": "疑似辍学"}))
    counts = monitoring_counts(lists).set_index(["term", "county_code"])
    assert counts.loc[("2018-1", "5304"), ["suspected", "dropouts", "returns"]].tolist() == [
        2,
        1,
        1,
    ]
    assert counts.loc[("2018-2", "5304"), "returns"] == 1
