"""GB 11643 identity numbers: check characters, legacy numbers, what a typo does."""

from datetime import date

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from analysis.idnumber import (
    birth_date,
    check_char,
    downgrade18,
    is_valid,
    make_ids,
    sex,
    upgrade15,
)

areas = st.sampled_from([530402, 530403, 530421, 530422, 530481, 530426, 511321])
births = st.dates(min_value=date(1950, 1, 1), max_value=date(2019, 12, 31))
orders = st.integers(min_value=0, max_value=999)


def _make(area: int, b: date, order: int) -> str:
    return make_ids(np.array([area]), np.array([b], dtype="datetime64[D]"), np.array([order]))[0]


def test_published_example_is_valid():
    # The standard's worked example.
    assert check_char("11010519491231002") == "X"
    assert is_valid("11010519491231002X")
    assert not is_valid("11010519491231002x")  # callers upper-case first


@given(areas, births, orders)
def test_built_numbers_are_valid_and_decode(area, b, order):
    id18 = _make(area, b, order)
    assert len(id18) == 18 and is_valid(id18)
    assert birth_date(id18) == b
    assert sex(id18) == ("M" if order % 2 else "F")


@given(areas, births, orders, st.integers(0, 16), st.integers(1, 9))
def test_any_single_digit_change_breaks_the_check(area, b, order, pos, delta):
    id18 = _make(area, b, order)
    changed = id18[:pos] + str((int(id18[pos]) + delta) % 10) + id18[pos + 1 :]
    assert not (
        changed[:17] + check_char(changed[:17]) == changed and changed != id18
    ) or not is_valid(changed)
    assert check_char(changed[:17]) != id18[17]


@given(areas, births, orders, st.integers(0, 15))
def test_adjacent_transposition_breaks_the_check(area, b, order, pos):
    id18 = _make(area, b, order)
    if id18[pos] == id18[pos + 1]:
        return
    swapped = id18[:pos] + id18[pos + 1] + id18[pos] + id18[pos + 2 :]
    assert not is_valid(swapped)


@given(areas, st.dates(min_value=date(1930, 1, 1), max_value=date(1999, 12, 31)), orders)
def test_legacy_15_digit_round_trip(area, b, order):
    id18 = _make(area, b, order)
    id15 = downgrade18(id18)
    assert len(id15) == 15
    assert upgrade15(id15) == id18
    assert birth_date(id15) == b and sex(id15) == sex(id18)


def test_impossible_birth_date_is_invalid():
    first17 = "53040220080231123"  # 31 February
    assert not is_valid(first17 + check_char(first17))
