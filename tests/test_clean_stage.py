"""The cleaning stage on the small prefecture: every row accounted for, against the truth."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from analysis.clean.stage import clean
from analysis.layout import Layout


@pytest.fixture(scope="module")
def cleaned(small_data):
    data_dir, _ = small_data
    manifest = clean(Layout(data_dir)).manifest
    return data_dir, manifest


def test_every_file_balances_and_matches_the_truth(cleaned):
    data_dir, manifest = cleaned
    rows = pd.read_parquet(data_dir / "truth" / "rows.parquet")
    per_file = rows.groupby("file").size()
    dups = rows[rows["row_kind"] == "exact_duplicate"].groupby("file").size()
    for f in manifest["files"]:
        assert f["status"] == "read", f["message"]
        q = sum(f["rows_quarantined"].values())
        assert f["rows_read"] == f["rows_kept"] + f["rows_merged"] + q, f["file"]
        assert f["rows_read"] == per_file[f["file"]], f["file"]
        assert f["rows_merged"] == dups.get(f["file"], 0), f["file"]
    totals = manifest["totals"]
    assert totals["rows_read"] == len(rows)


def test_clean_rows_are_rarely_quarantined(cleaned):
    _, manifest = cleaned
    t = manifest["totals"]
    # The synthetic extracts have no impossible rows: whole-row quarantine must be (almost) nil.
    assert t["rows_quarantined"] <= 0.001 * t["rows_read"]


def test_outputs_carry_lineage_and_typed_columns(cleaned):
    data_dir, _ = cleaned
    att = pd.read_parquet(data_dir / "interim" / "attendance.parquet")
    assert {"source_file", "source_sheet", "source_row", "source_line"} <= set(att.columns)
    assert str(att["days_required"].dtype).startswith("int")
    assert (att["days_present"] <= att["days_required"]).all()
    hukou = pd.read_parquet(data_dir / "interim" / "hukou.parquet")
    valid = hukou["id_number_status"].isin(["valid", "upgraded15"])
    assert valid.mean() > 0.98
    assert hukou.loc[valid, "id_number"].str.len().eq(18).all()
    assert {"name", "name_raw"} <= set(hukou.columns)


def test_rerun_on_unchanged_input_does_no_work(cleaned):
    data_dir, manifest = cleaned
    again = clean(Layout(data_dir))
    assert again.skipped is True
    assert not [p for p in data_dir.iterdir() if p.name.endswith(".partial")]
    on_disk = json.loads((data_dir / "interim" / "manifest.json").read_text(encoding="utf-8"))
    assert on_disk["totals"] == manifest["totals"]


def test_validation_meets_the_cleaning_targets(cleaned, tmp_path):
    from analysis.validate import validate

    data_dir, _ = cleaned
    result = validate(Layout(data_dir, tmp_path)).manifest["clean"]
    assert result["repaired_or_quarantined_share"] >= 0.995, result["by_kind"]
    assert result["clean_rows_wrongly_quarantined_share"] <= 0.001
    assert result["undetectable_values"] > 0  # valid-looking typos and homophones are reported
    assert result["by_kind"]["unknown_school_code"].get("silently_wrong", 0) == 0
    assert (tmp_path / "validation.json").is_file()


def test_every_part_is_written_in_the_declared_schema(cleaned):
    """A table is a folder of parts (one per raw file sheet) read as one table: every part
    must have exactly the declared columns and types, whichever extract it came from."""
    import pyarrow.parquet as pq

    from analysis.clean.headers import load_dictionary
    from analysis.clean.schema import load_schema
    from analysis.clean.stage import output_schema

    data_dir, manifest = cleaned
    specs, schemas = load_dictionary(), load_schema()
    for kind, n in manifest["tables"].items():
        target = output_schema(kind, specs, schemas[kind])
        parts = sorted((data_dir / "interim" / f"{kind}.parquet").glob("*.parquet"))
        assert parts, kind
        for part in parts:
            assert pq.read_schema(part).remove_metadata() == target, part
        assert pq.read_table(data_dir / "interim" / f"{kind}.parquet").num_rows == n


def test_codes_come_out_standardised(cleaned):
    from analysis.clean.schema import GB3304

    data_dir, _ = cleaned
    xueji = pd.read_parquet(data_dir / "interim" / "xueji.parquet")
    assert set(xueji["sex"].dropna()) == {"男", "女"}
    assert set(xueji["grade"].dropna()) <= set(range(1, 10))
    assert set(xueji["ethnicity"].dropna()) <= set(GB3304)
    hukou = pd.read_parquet(data_dir / "interim" / "hukou.parquet")
    assert set(hukou["sex"].dropna()) == {"男", "女"}  # the extracts also say 1 and 2


def test_a_touched_but_identical_file_is_skipped_and_a_changed_one_reruns(small_data, tmp_path):
    import os
    import shutil

    data_dir, _ = small_data
    raw = tmp_path / "raw"
    for sub in ("schools", "leave"):
        shutil.copytree(data_dir / "raw" / sub, raw / sub)
    layout = Layout(tmp_path)
    first = clean(layout)
    assert first.skipped is False
    f = sorted((raw / "leave").iterdir())[0]
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 10**9))  # touched only
    assert clean(layout).skipped is True
    with f.open("ab") as fh:  # one more (malformed) line: the content changed
        fh.write(b"junk\n")
    third = clean(layout)
    assert third.skipped is False
    assert third.manifest["totals"]["rows_read"] == first.manifest["totals"]["rows_read"] + 1
