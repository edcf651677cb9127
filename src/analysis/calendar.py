"""The school calendar, defined once: school years, terms, their dates, the census, the
school months and the early-2020 closure.

Everything that asks "which term is this month in?", "how old was the child at the
census?" or "what did the records know on the first day of term?" reads this module, in
Python or in SQL. The SQL forms are generated from the same constants (and installed as
DuckDB macros by :func:`analysis.engine.connect`), and a property test holds the two
forms to each other.

**School year.** Named by the calendar year it starts in: ``2019`` is 2019/20, from
1 September 2019 to 31 August 2020 (:data:`YEAR_START_MONTH`).

**Terms.** Labelled ``'2019-1'`` (autumn, September to January) and ``'2019-2'`` (spring,
March to July, in calendar year 2020). A month belongs to the term whose school months
hold it, and a holiday month to the term before it: February and August go with the
spring term of the school year (:func:`term_of`).

**Dates of a term** (:class:`Term`):

* ``first_day``, ``last_day``: the first and last day of teaching (1 September to
  15 January; 1 March to 15 July);
* ``snapshot``: the registry's snapshot, two weeks into the term;
* ``as_of``: the day a term's facts are judged from (1 September; 1 February, the winter
  holiday, when January's attendance is known); the next term's ``as_of`` is this term's
  ``end``.

**Census.** The enrolment census of school year ``Y`` is taken on 1 September ``Y``; a
child's age is its completed years on 31 August ``Y`` (the entry cut-off: 8月31日前年满6周岁),
so a child born on 1 September counts a year younger (:func:`census_age`).

**School months and days.** :data:`TERM_MONTHS` and :data:`DAYS_REQUIRED` (school days of
each month in a normal year, holidays taken out). **The early-2020 closure**: no school
in February and March 2020; grade 9 back on 20 April, every other grade on 11 May
(:data:`CLOSURE`). The closure records no attendance, which is not absence.

Examples
--------
>>> from datetime import date
>>> term_of(date(2020, 1, 1)), term_of(date(2020, 3, 1)), term_of(date(2020, 9, 1))
('2019-1', '2019-2', '2020-1')
>>> t = Term.parse("2019-2")
>>> t.as_of, t.end, t.previous().label
(datetime.date(2020, 2, 1), datetime.date(2020, 9, 1), '2019-1')
>>> census_age(date(2008, 9, 1), 2014), census_age(date(2008, 8, 31), 2014)
(5, 6)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

#: The month a school year (and its autumn term) starts in.
YEAR_START_MONTH = 9
#: The school months of each term (1 autumn, 2 spring); attendance is recorded in these.
TERM_MONTHS: dict[int, tuple[int, ...]] = {1: (9, 10, 11, 12, 1), 2: (3, 4, 5, 6, 7)}
#: Month and day of each term's first and last day of teaching.
FIRST_DAY: dict[int, tuple[int, int]] = {1: (9, 1), 2: (3, 1)}
LAST_DAY: dict[int, tuple[int, int]] = {1: (1, 15), 2: (7, 15)}
#: Month and day from which a term's facts are judged (its as-of date).
AS_OF: dict[int, tuple[int, int]] = {1: (9, 1), 2: (2, 1)}
#: Days from the first day of a term to the registry's snapshot.
SNAPSHOT_DAYS = 14
#: Month and day of the autumn census (the first day of the school year).
CENSUS = (9, 1)
#: School days required in each month of a normal year (holidays taken out).
DAYS_REQUIRED: dict[int, int] = {
    9: 20,
    10: 16,
    11: 22,
    12: 22,
    1: 10,
    3: 22,
    4: 20,
    5: 19,
    6: 20,
    7: 8,
}
#: The early-2020 closure: months without school, and the days grade 9 and the other
#: grades came back.
CLOSURE = {
    "months": ("2020-02", "2020-03", "2020-04"),
    "grade9_back": date(2020, 4, 20),
    "others_back": date(2020, 5, 11),
}
#: The grade a pupil leaves compulsory education after.
LAST_GRADE = 9


def school_year(d: date) -> int:
    """The school year (its autumn's calendar year) of a date.

    >>> school_year(date(2020, 8, 31)), school_year(date(2020, 9, 1))
    (2019, 2020)
    """
    return d.year if d.month >= YEAR_START_MONTH else d.year - 1


def school_years(year, month):
    """:func:`school_year` of arrays of calendar years and months (numpy or pandas).

    >>> school_years(np.array([2020, 2020]), np.array([8, 9])).tolist()
    [2019, 2020]
    """
    year, month = np.asarray(year), np.asarray(month)
    return np.where(month >= YEAR_START_MONTH, year, year - 1)


def term_of(d: date) -> str:
    """The label of the term a date falls in (a holiday month: the term before it).

    >>> term_of(date(2021, 2, 10)), term_of(date(2021, 8, 1))
    ('2020-2', '2020-2')
    """
    y = school_year(d)
    autumn = d.month >= YEAR_START_MONTH or d.month < FIRST_DAY[2][0] - 1
    return f"{y}-{1 if autumn else 2}"


def census_age(birth: date, year: int) -> int:
    """Completed years on 31 August of ``year``: the age of the census of school year
    ``year`` (a child born in September or later is counted a year younger).

    >>> census_age(date(2014, 8, 31), 2020), census_age(date(2014, 9, 1), 2020)
    (6, 5)
    """
    return year - birth.year - (1 if birth.month >= CENSUS[0] else 0)


def census_date(year: int) -> date:
    """The census day of school year ``year`` (1 September).

    >>> census_date(2020)
    datetime.date(2020, 9, 1)
    """
    return date(year, *CENSUS)


def left_compulsory(first_month: date, grade: int) -> date:
    """1 August after the class of a pupil in ``grade`` in the school year of
    ``first_month`` finishes grade 9: a dropout not back by then has left compulsory
    education (超出义务教育年限).

    >>> left_compulsory(date(2019, 10, 1), 8)
    datetime.date(2021, 8, 1)
    """
    return date(school_year(first_month) + LAST_GRADE + 1 - grade, 8, 1)


@dataclass(frozen=True, order=True)
class Term:
    """A term: school year (autumn's calendar year) and half (1 autumn, 2 spring).

    >>> Term(2018, 1).label, Term(2018, 1).first_day, Term(2018, 1).last_month
    ('2018-1', datetime.date(2018, 9, 1), datetime.date(2019, 1, 1))
    """

    year: int
    half: int

    def __post_init__(self) -> None:
        if self.half not in (1, 2):
            raise ValueError(f"a term's half is 1 (autumn) or 2 (spring), not {self.half!r}")

    @classmethod
    def parse(cls, label: str) -> Term:
        """The term of a label like ``'2018-1'`` (autumn) or ``'2018-2'`` (spring)."""
        y, _, h = str(label).partition("-")
        if not (y.isdigit() and len(y) == 4 and h in ("1", "2")):
            raise ValueError(f"not a term label: {label!r} (expected like '2018-1' or '2018-2')")
        return cls(int(y), int(h))

    @property
    def label(self) -> str:
        return f"{self.year}-{self.half}"

    @property
    def autumn(self) -> bool:
        return self.half == 1

    def _date(self, month_day: tuple[int, int]) -> date:
        m, d = month_day
        return date(self.year if m >= YEAR_START_MONTH else self.year + 1, m, d)

    @property
    def first_day(self) -> date:
        """The first day of teaching."""
        return self._date(FIRST_DAY[self.half])

    @property
    def last_day(self) -> date:
        """The last day of teaching."""
        return self._date(LAST_DAY[self.half])

    @property
    def snapshot(self) -> date:
        """The day of the registry's snapshot of the term."""
        return self.first_day + timedelta(days=SNAPSHOT_DAYS)

    @property
    def as_of(self) -> date:
        """The day the term's facts are judged from (features use only what came before)."""
        return self._date(AS_OF[self.half])

    @property
    def end(self) -> date:
        """The next term's as-of date: the term's facts are complete by then."""
        return self.next().as_of

    @property
    def months(self) -> tuple[tuple[int, int], ...]:
        """The school months, as (calendar year, month)."""
        return tuple(
            (self.year if m >= YEAR_START_MONTH else self.year + 1, m)
            for m in TERM_MONTHS[self.half]
        )

    @property
    def last_month(self) -> date:
        """The first day of the term's last school month (January or July)."""
        y, m = self.months[-1]
        return date(y, m, 1)

    def previous(self) -> Term:
        return Term(self.year, 1) if self.half == 2 else Term(self.year - 1, 2)

    def next(self) -> Term:
        return Term(self.year, 2) if self.half == 1 else Term(self.year + 1, 1)


def terms(years: Iterable[int]) -> list[Term]:
    """Both terms of each school year, in order.

    >>> [t.label for t in terms([2019, 2020])]
    ['2019-1', '2019-2', '2020-1', '2020-2']
    """
    return [Term(y, h) for y in years for h in (1, 2)]


def previous_term(label: str) -> str:
    """The label of the term before ``label``.

    >>> previous_term("2019-1"), previous_term("2019-2")
    ('2018-2', '2019-1')
    """
    return Term.parse(label).previous().label


def in_closure(cal_year: int, month: int) -> bool:
    """A month of the early-2020 closure (no attendance recorded for most grades)."""
    return f"{cal_year}-{month:02d}" in CLOSURE["months"]


#: The statutory public holidays (法定节假日) of the years simulated, as first and last day
#: of each break (New Year, Spring Festival, Qingming, Labour Day, Dragon Boat,
#: Mid-Autumn, National Day). Weekend make-up working days (调休) are not modelled: their
#: Saturdays count as days off. Extend the table to use later years.
PUBLIC_HOLIDAYS: tuple[tuple[str, str], ...] = (
    ("2016-01-01", "2016-01-03"), ("2016-02-07", "2016-02-13"), ("2016-04-02", "2016-04-04"),
    ("2016-04-30", "2016-05-02"), ("2016-06-09", "2016-06-11"), ("2016-09-15", "2016-09-17"),
    ("2016-10-01", "2016-10-07"),
    ("2017-01-01", "2017-01-02"), ("2017-01-27", "2017-02-02"), ("2017-04-02", "2017-04-04"),
    ("2017-04-29", "2017-05-01"), ("2017-05-28", "2017-05-30"), ("2017-10-01", "2017-10-08"),
    ("2017-12-30", "2018-01-01"), ("2018-02-15", "2018-02-21"), ("2018-04-05", "2018-04-07"),
    ("2018-04-29", "2018-05-01"), ("2018-06-16", "2018-06-18"), ("2018-09-22", "2018-09-24"),
    ("2018-10-01", "2018-10-07"),
    ("2018-12-30", "2019-01-01"), ("2019-02-04", "2019-02-10"), ("2019-04-05", "2019-04-07"),
    ("2019-05-01", "2019-05-04"), ("2019-06-07", "2019-06-09"), ("2019-09-13", "2019-09-15"),
    ("2019-10-01", "2019-10-07"),
    ("2020-01-01", "2020-01-01"), ("2020-01-24", "2020-02-02"), ("2020-04-04", "2020-04-06"),
    ("2020-05-01", "2020-05-05"), ("2020-06-25", "2020-06-27"), ("2020-10-01", "2020-10-08"),
    ("2021-01-01", "2021-01-03"), ("2021-02-11", "2021-02-17"), ("2021-04-03", "2021-04-05"),
    ("2021-05-01", "2021-05-05"), ("2021-06-12", "2021-06-14"), ("2021-09-19", "2021-09-21"),
    ("2021-10-01", "2021-10-07"),
)  # fmt: skip


def _holiday_days() -> np.ndarray:
    days = [
        np.arange(np.datetime64(a), np.datetime64(b) + np.timedelta64(1, "D"))
        for a, b in PUBLIC_HOLIDAYS
    ]
    return np.concatenate(days).astype("datetime64[D]")


_HOLIDAYS = _holiday_days()


def is_working_day(d) -> np.ndarray:
    """Whether each day is a working day of a government office: not a Saturday or
    Sunday, not a public holiday (:data:`PUBLIC_HOLIDAYS`).

    >>> is_working_day(np.array(["2019-10-01", "2019-10-08", "2019-10-12"], "datetime64[D]"))
    array([False,  True, False])
    """
    d = np.asarray(d, dtype="datetime64[D]")
    return np.is_busday(d, holidays=_HOLIDAYS)


def next_working_day(d) -> np.ndarray:
    """The day itself if it is a working day, else the next working day.

    >>> str(next_working_day(np.datetime64("2019-09-29")))
    '2019-09-30'
    >>> str(next_working_day(np.datetime64("2019-10-01")))
    '2019-10-08'
    """
    d = np.asarray(d, dtype="datetime64[D]")
    return np.busday_offset(d, 0, roll="forward", holidays=_HOLIDAYS)


# ---- SQL: the same definitions for DuckDB ---------------------------------------------------
#
# Each function returns an SQL expression over the expressions it is given; ``MACROS`` are
# the same, installed as DuckDB macros by :func:`analysis.engine.connect` so that queries
# read ``school_year(month)`` rather than the arithmetic.


def school_year_sql(d: str) -> str:
    """SQL: :func:`school_year` of a date expression."""
    return f"(year({d}) - (month({d}) < {YEAR_START_MONTH})::INTEGER)"


def term_sql(d: str) -> str:
    """SQL: :func:`term_of` of a date expression (a label such as ``'2019-1'``)."""
    spring = FIRST_DAY[2][0] - 1
    return (
        f"({school_year_sql(d)} || CASE WHEN month({d}) >= {YEAR_START_MONTH} "
        f"OR month({d}) < {spring} THEN '-1' ELSE '-2' END)"
    )


def census_age_sql(birth: str, year: str) -> str:
    """SQL: :func:`census_age` of a birth-date expression and a school-year expression."""
    return f"(({year}) - year({birth}) - (month({birth}) >= {CENSUS[0]})::INTEGER)"


def term_year_sql(label: str) -> str:
    """SQL: the school year of a term label expression."""
    return f"CAST(left({label}, 4) AS INTEGER)"


def _term_date_sql(label: str, month_day: dict[int, tuple[int, int]]) -> str:
    y = term_year_sql(label)
    parts = []
    for half in (1, 2):
        m, d = month_day[half]
        year = y if m >= YEAR_START_MONTH else f"{y} + 1"
        parts.append(f"WHEN right({label}, 1) = '{half}' THEN make_date({year}, {m}, {d})")
    return f"(CASE {' '.join(parts)} END)"


def term_as_of_sql(label: str) -> str:
    """SQL: :attr:`Term.as_of` of a term label expression."""
    return _term_date_sql(label, AS_OF)


def term_end_sql(label: str) -> str:
    """SQL: :attr:`Term.end` (the next term's as-of date) of a term label expression."""
    nxt = {1: AS_OF[2], 2: AS_OF[1]}
    y = term_year_sql(label)
    parts = []
    for half in (1, 2):
        m, d = nxt[half]
        year = y if half == 1 and m >= YEAR_START_MONTH else f"{y} + 1"
        parts.append(f"WHEN right({label}, 1) = '{half}' THEN make_date({year}, {m}, {d})")
    return f"(CASE {' '.join(parts)} END)"


def term_first_day_sql(label: str) -> str:
    """SQL: :attr:`Term.first_day` of a term label expression."""
    return _term_date_sql(label, FIRST_DAY)


def term_snapshot_sql(label: str) -> str:
    """SQL: :attr:`Term.snapshot` of a term label expression."""
    return f"({term_first_day_sql(label)} + {SNAPSHOT_DAYS})"


def census_date_sql(year: str) -> str:
    """SQL: :func:`census_date` of a school-year expression."""
    return f"make_date({year}, {CENSUS[0]}, {CENSUS[1]})"


def term_first_month_sql(label: str) -> str:
    """SQL: the first day of a term's first school month (1 September or 1 March)."""
    return _term_date_sql(label, {h: (TERM_MONTHS[h][0], 1) for h in (1, 2)})


def left_compulsory_sql(first_month: str, grade: str) -> str:
    """SQL: :func:`left_compulsory` of a month expression and a grade expression."""
    return f"make_date({school_year_sql(first_month)} + {LAST_GRADE + 1} - ({grade}), 8, 1)"


#: DuckDB macros (name, parameters, body) of the definitions above.
MACROS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("school_year", ("d",), school_year_sql("d")),
    ("term_of", ("d",), term_sql("d")),
    ("census_age", ("birth", "y"), census_age_sql("birth", "y")),
    ("term_year", ("t",), term_year_sql("t")),
    ("term_as_of", ("t",), term_as_of_sql("t")),
    ("term_end", ("t",), term_end_sql("t")),
    ("term_first_month", ("t",), term_first_month_sql("t")),
    ("term_first_day", ("t",), term_first_day_sql("t")),
    ("term_snapshot", ("t",), term_snapshot_sql("t")),
    ("census_date", ("y",), census_date_sql("y")),
    ("left_compulsory", ("m", "g"), left_compulsory_sql("m", "g")),
)
