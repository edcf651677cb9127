"""Reading raw files: every synthetic extract reads, with the truth's rows and columns."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.clean.derive import DERIVED
from analysis.clean.headers import (
    combine_two_row_header,
    load_dictionary,
    map_header,
    normalize_header,
)
from analysis.clean.read import RawFileError, read_raw_file


def test_every_synthetic_file_reads_with_its_rows_and_canonical_columns(small_data):
    data_dir, _ = small_data
    raw = data_dir / "raw"
    files = pd.read_parquet(data_dir / "truth" / "files.parquet").set_index("file")
    rows = pd.read_parquet(data_dir / "truth" / "rows.parquet")
    counts = rows.groupby(["file", "sheet"]).size()
    for path in sorted(p for p in raw.rglob("*") if p.is_file()):
        rel = str(path.relative_to(raw))
        tables = read_raw_file(path, raw)
        expected_cols = [c for c in files.loc[rel, "columns"].split("|") if c != "_serial"]
        assert sum(t.table.num_rows for t in tables) == counts.loc[rel].sum(), rel
        for t in tables:
            assert t.table.num_rows == counts.loc[(rel, t.sheet)], (rel, t.sheet)
            cols = [c for c in t.table.column_names if c not in ("source_row", "source_line")]
            derived = list(DERIVED.get(t.kind, {}))  # from the other columns, appended
            assert cols == expected_cols + [c for c in derived if c not in expected_cols], rel
            assert t.table.column("source_row").to_pylist() == list(range(1, t.table.num_rows + 1))
            assert not t.unknown_columns and not t.malformed
            if files.loc[rel, "format"] == "csv":
                assert t.encoding == files.loc[rel, "encoding"]


def test_header_texts_normalise():
    assert normalize_header("乡镇（街道）") == normalize_header("乡镇(街道)")
    assert normalize_header(" 身份证号\n*") == "身份证号"


def test_merged_header_reads_group_then_sub_header():
    top = ["户号", "姓名", "父亲", "", "母亲", ""]
    sub = ["", "", "姓名", "身份证号", "姓名", "身份证号"]
    cells = combine_two_row_header(top, sub)
    hmap = map_header(
        cells,
        load_dictionary()["hukou"].__class__(
            **{**load_dictionary()["hukou"].__dict__, "required": frozenset({"name"})}
        ),
    )
    assert list(hmap.columns.values()) == [
        "household_no",
        "name",
        "father_name",
        "father_id",
        "mother_name",
        "mother_id",
    ]


def test_missing_required_column_names_the_file_column_and_aliases():
    spec = load_dictionary()["attendance"]
    with pytest.raises(
        ValueError, match=r"a\.csv: required column missing .*'unexcused' \(tried: 旷课天数"
    ):
        map_header(
            [
                (h, None)
                for h in ["学校标识码", "学籍号", "月份", "应到天数", "实到天数", "病假", "事假"]
            ],
            spec,
            "a.csv",
        )


def test_a_file_in_the_wrong_folder_is_named_as_such(tmp_path):
    (tmp_path / "xueji").mkdir()
    p = tmp_path / "xueji" / "oops.csv"
    p.write_text(
        "学校标识码,学籍号,姓名,月份,应到天数,实到天数,病假,事假,旷课\n2153021001,G1,张三,2016-09,20,20,0,0,0\n",
        encoding="utf-8",
    )
    with pytest.raises(RawFileError, match=r"attendance table .* delivered in the 'xueji' folder"):
        read_raw_file(p, tmp_path)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.just(""),
            st.text(max_size=6),
            st.booleans(),
            st.integers(-(10**6), 10**6),
            st.floats(allow_nan=False, allow_infinity=False),
            st.dates(min_value=dt.date(1900, 1, 1)),
            st.datetimes(min_value=dt.datetime(1900, 1, 1)),
        ),
        max_size=8,
    )
)
def test_a_worksheet_column_reads_as_its_cells_read_one_by_one(cells):
    """The column-at-once fast paths give exactly what the cell-by-cell rule gives."""
    from analysis.clean.read import _cell_text, _text_column

    assert _text_column(tuple(cells)).to_pylist() == [_cell_text(v) for v in cells]
