"""The period of a report (``YYYY-MM``): the month it is written in, with the records up
to the month before.

A report of period ``P`` reads every record dated before ``P`` and plans the actions of the
coming months: the red list of the term that starts next (or is under way), the inspections
of ``P + 1`` and ``P + 2``. By default ``P`` is the month after the latest attendance
month in the clean tables: the report the records in hand allow. A period before that would
show facts dated after it (the stages do not recompute the past), and is refused.

Examples
--------
>>> check_period("2021-08")
'2021-08'
>>> check_period("2021-8")
Traceback (most recent call last):
...
ValueError: period '2021-8' is not YYYY-MM (e.g. 2021-08)
>>> add_months("2021-11", 2), coming_term("2021-08"), coming_term("2021-10")
('2022-01', '2021-1', '2021-1')
>>> month_label("2021-09"), month_label("2021-09", "en")
('2021年9月', 'September 2021')
"""

from __future__ import annotations

import re
from datetime import date

from analysis.calendar import term_of

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def check_period(text: str) -> str:
    """``text`` if it is a month ``YYYY-MM``; otherwise a ValueError that says so."""
    if not isinstance(text, str) or not _PERIOD.match(text):
        raise ValueError(f"period {text!r} is not YYYY-MM (e.g. 2021-08)")
    return text


def first_day(period: str) -> date:
    """The first day of the period's month."""
    y, m = check_period(period).split("-")
    return date(int(y), int(m), 1)


def add_months(period: str, n: int) -> str:
    """The month ``n`` months after ``period`` (``n`` may be negative)."""
    d = first_day(period)
    k = d.year * 12 + d.month - 1 + n
    return f"{k // 12:04d}-{k % 12 + 1:02d}"


def coming_term(period: str) -> str:
    """The term whose actions a report of ``period`` plans: the term of the next month."""
    return term_of(first_day(add_months(period, 1)))


def month_label(period: str, lang: str = "zh") -> str:
    """The month as a reader writes it."""
    d = first_day(period)
    return f"{d.year}年{d.month}月" if lang == "zh" else d.strftime("%B %Y")


def default_period(last_record_month: date | None) -> str:
    """The month after the latest records (``last_record_month``, any day of that month)."""
    if last_record_month is None:
        raise ValueError("no attendance records: give --period YYYY-MM")
    return add_months(f"{last_record_month.year:04d}-{last_record_month.month:02d}", 1)
