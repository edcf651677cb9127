"""Normalisers of the cleaning stage: IDs, dates, names (units, properties, and against the
mess recorded in the small prefecture's truth)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.clean.dates import parse_dates
from analysis.clean.ids import normalize_ids
from analysis.clean.names import normalize_names
from analysis.idnumber import downgrade18, make_ids
from analysis.synth.mess import FULLWIDTH, excel_float_text

areas = st.sampled_from([530402, 530421, 530422, 530426, 511321])
births = st.dates(min_value=date(1950, 1, 1), max_value=date(2019, 12, 31))


def _id(area, b, order):
    return make_ids(np.array([area]), np.array([b], dtype="datetime64[D]"), np.array([order]))[0]


def _norm(values):
    return normalize_ids(pa.array(values, type=pa.string())).to_pandas()


@given(
    areas, births, st.integers(0, 999), st.sampled_from(["fullwidth", "space", "u3000", "lower"])
)
def test_cosmetic_id_mess_is_repaired_exactly(area, b, order, how):
    v = _id(area, b, order)
    raw = {
        "fullwidth": v.translate(FULLWIDTH),
        "space": " " + v[:6] + " " + v[6:] + " ",
        "u3000": v + "\u3000",
        "lower": v.lower(),
    }[how]
    out = _norm([raw]).iloc[0]
    assert out["id_status"] == "valid" and out["id_number"] == v


@given(
    areas, st.dates(min_value=date(1930, 1, 1), max_value=date(1999, 12, 31)), st.integers(0, 999)
)
def test_legacy_15_digit_ids_are_upgraded(area, b, order):
    v = _id(area, b, order)
    out = _norm([downgrade18(v)]).iloc[0]
    assert out["id_status"] == "upgraded15" and out["id_number"] == v


@given(areas, births, st.integers(0, 999))
def test_excel_floats_keep_only_the_digits_that_are_known(area, b, order):
    v = _id(area, b, order)
    if v.endswith("X"):
        return
    shown = _norm([excel_float_text(v)]).iloc[0]
    assert shown["id_status"] == "excel_truncated" and v.startswith(shown["id_partial"])
    stored = _norm([repr(float(v))]).iloc[0]
    assert stored["id_status"] == "excel_truncated" and len(stored["id_partial"]) == 15
    assert stored["id_number"] is None or pd.isna(stored["id_number"])  # never invented


def test_registry_numbers_missing_and_junk():
    out = _norm(
        ["G530402200803011234", "L5321012003012728900", "", None, "不详", "53040220080301123"]
    )
    assert list(out["id_status"]) == [
        "registry_number",
        "registry_number",
        "missing",
        "missing",
        "malformed",
        "malformed",
    ]


@given(
    st.dates(min_value=date(1950, 1, 1), max_value=date(2030, 12, 31)),
    st.sampled_from(["iso", "slash", "compact", "chinese", "serial", "dot"]),
)
def test_every_date_format_parses_back(d, fmt):
    text = {
        "iso": d.isoformat(),
        "slash": f"{d.year}/{d.month}/{d.day}",
        "compact": d.strftime("%Y%m%d"),
        "chinese": f"{d.year}年{d.month}月{d.day}日",
        "serial": str((d - date(1899, 12, 30)).days),
        "dot": f"{d.year}.{d.month}.{d.day}",
    }[fmt]
    parsed, _ = parse_dates(pa.array([text]))
    assert parsed[0].as_py() == d


def test_impossible_and_unknown_dates_are_null_not_guessed():
    parsed, fmt = parse_dates(pa.array(["2008-02-30", "2008-13-01", "明年", "", "12345678"]))
    assert parsed.null_count == 5 and set(fmt.to_pylist()) == {""}


def test_months():
    parsed, _ = parse_dates(pa.array(["2016-09", "2016/9", "201609", "2016年9月"]), month_only=True)
    assert set(parsed.to_pylist()) == {date(2016, 9, 1)}


def test_names_dots_spaces_traditional():
    out, trad = normalize_names(
        pa.array(["張偉", "阿呷•日哈", " 李 丽 ", "岩温．香", "玉香・罕", "王\u3000芳"])
    )
    assert out.to_pylist() == ["张伟", "阿呷·日哈", "李丽", "岩温·香", "玉香·罕", "王芳"]
    assert trad.to_pylist() == [True, False, False, False, False, False]


# ---- against the mess the synthetic prefecture recorded -----------------------------------
def _corruptions(small_data, kinds):
    data_dir, _ = small_data
    c = pd.read_parquet(data_dir / "truth" / "corruptions.parquet")
    return c[c["kind"].isin(kinds)]


def test_recorded_id_mess_is_repaired_or_flagged(small_data):
    c = _corruptions(
        small_data,
        [
            "id_fullwidth",
            "id_spaces",
            "id_lower_x",
            "id_legacy15",
            "id_typo",
            "id_transposition",
            "id_excel_float",
            "id_valid_typo",
            "id_missing_regno",
        ],
    )
    out = normalize_ids(pa.array(c["raw"].tolist(), type=pa.string())).to_pandas()
    out.index = c.index
    ok = pd.Series(False, index=c.index)
    k = c["kind"]
    repaired = k.isin(["id_fullwidth", "id_spaces", "id_lower_x", "id_legacy15"])
    ok[repaired] = out["id_number"][repaired] == c["clean"][repaired]
    flagged = k.isin(["id_typo", "id_transposition"])
    ok[flagged] = out["id_status"][flagged].isin(["bad_check", "bad_date"])
    fl = k == "id_excel_float"
    prefix_ok = np.array(
        [
            isinstance(p, str) and cl.startswith(p)
            for cl, p in zip(c["clean"][fl], out["id_partial"][fl], strict=True)
        ],
        dtype=bool,
    )
    ok[fl] = (out["id_status"][fl] == "excel_truncated").to_numpy() & prefix_ok
    miss = k == "id_missing_regno"
    ok[miss] = out["id_status"][miss].isin(["missing", "registry_number"])
    # A wrong digit with a valid check is what no rule can see: it reads as a valid ID.
    vt = k == "id_valid_typo"
    ok[vt] = out["id_status"][vt] == "valid"
    assert ok.mean() == 1.0, c[~ok].groupby("kind").size().to_dict()


def test_recorded_date_mess_parses_to_the_clean_date(small_data):
    c = _corruptions(small_data, ["date_mixed_format", "date_excel_serial"])
    day = ~c["column"].isin(["month", "entry_date"])
    parsed, _ = parse_dates(pa.array(c[day]["raw"].tolist()))
    assert (pd.Series(parsed.to_pylist(), index=c[day].index).astype(str) == c[day]["clean"]).all()
    parsed, _ = parse_dates(pa.array(c[~day]["raw"].tolist()), month_only=True)
    assert (
        pd.Series(parsed.to_pylist(), index=c[~day].index).astype(str).str[:7] == c[~day]["clean"]
    ).all()


def test_recorded_name_mess_is_undone_except_homophones(small_data):
    c = _corruptions(
        small_data, ["name_spaces", "name_traditional", "name_dot_variant", "name_homophone"]
    )
    # A value can carry a homophone and a dot variant at once; homophones are the linker's job.
    homophone = c[c["kind"] == "name_homophone"].set_index(["file", "sheet", "row", "column"]).index
    key = c.set_index(["file", "sheet", "row", "column"]).index
    c = c[~key.isin(homophone)]
    raw, _ = normalize_names(pa.array(c["raw"].tolist()))
    clean, _ = normalize_names(pa.array(c["clean"].tolist()))
    same = np.array(raw.to_pylist()) == np.array(clean.to_pylist())
    by_kind = pd.Series(same, index=c.index).groupby(c["kind"]).mean()
    assert by_kind["name_spaces"] == 1.0 and by_kind["name_dot_variant"] == 1.0
    assert by_kind["name_traditional"] >= 0.99, by_kind


@pytest.mark.parametrize("kind", ["id_typo", "id_transposition"])
def test_typos_never_read_as_valid(small_data, kind):
    c = _corruptions(small_data, [kind])
    out = normalize_ids(pa.array(c["raw"].tolist(), type=pa.string())).to_pandas()
    assert not (out["id_status"] == "valid").any()


@pytest.mark.parametrize(
    ("written", "grade"),
    [("3年级", 3), ("三年级", 3), ("３年级", 3), ("3", 3), ("初一", 7), ("七年级", 7),
     ("7年级", 7), ("7", 7), ("初中三年级", 9), ("九年级", 9)],
)  # fmt: skip
def test_grades_as_people_write_them(written, grade):
    from analysis.clean.schema import _key, load_schema

    codes = load_schema()["xueji"].columns["grade"].codes
    assert codes.lookup[_key(written)] == grade
