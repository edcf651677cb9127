"""What the cleaning notebook shows: counts that add up, and no readable ID number."""

from __future__ import annotations

import datetime as dt
import re

from hypothesis import given
from hypothesis import strategies as st

from analysis.clean.overview import counts_table, manifest_table, quarantine_examples
from analysis.clean.stage import clean
from analysis.idnumber import check_char
from analysis.layout import Layout
from analysis.privacy import mask_ids_in_text as mask_ids


@given(
    area=st.from_regex(r"5304[0-9]{2}", fullmatch=True),
    birth=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2099, 12, 31)),
    seq=st.integers(0, 999),
    around=st.sampled_from(["{}", "G{}", "x|{}|y", "{} ", "身份证{}号"]),
)
def test_no_birth_date_or_sequence_survives_masking(area, birth, seq, around):
    first17 = f"{area}{birth:%Y%m%d}{seq:03d}"
    id18 = first17 + check_char(first17)
    shown = mask_ids(around.format(id18))
    assert f"{birth:%Y%m%d}" not in shown
    assert shown.replace("*", "").count(area) == 1  # the area code stays, for the reader
    assert re.search(r"[0-9]{10}", shown) is None


def test_a_legacy_15_digit_number_and_an_excel_float_are_masked_too():
    assert mask_ids("530402800301123") == "530402*****1123"
    assert "20080301" not in mask_ids("5.30402200803011e+17")


def test_the_tables_add_up_to_the_manifest(small_data):
    data_dir, _ = small_data
    layout = Layout(data_dir)
    manifest = clean(layout).manifest
    t = manifest_table(manifest)
    totals = manifest["totals"]
    assert t["files"].sum() == totals["files"]
    assert t["read"].sum() == totals["rows_read"]
    assert (t["read"] == t["kept"] + t["merged"] + t["rows out"]).all()
    values = counts_table(manifest, "values_quarantined")
    assert values.to_numpy().sum() == totals["values_quarantined"]
    examples = quarantine_examples(layout, per_reason=2)
    assert examples.groupby("reason").size().le(2).all()
    assert not examples["raw_value"].str.contains(r"[0-9]{14}").any()  # school codes have 10
