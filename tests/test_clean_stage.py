"""The cleaning stage on the small prefecture: every row accounted for, against the truth."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from analysis.clean.stage import clean


@pytest.fixture(scope="module")
def cleaned(small_data):
    data_dir, _ = small_data
    manifest = clean(data_dir / "raw", data_dir / "interim")
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
    again = clean(data_dir / "raw", data_dir / "interim")
    assert again["skipped"] is True
    assert not (data_dir / "interim.partial").exists()
    on_disk = json.loads((data_dir / "interim" / "manifest.json").read_text(encoding="utf-8"))
    assert on_disk["totals"] == manifest["totals"]


def test_validation_meets_the_cleaning_targets(cleaned, tmp_path):
    from analysis.validate import validate

    data_dir, _ = cleaned
    result = validate(data_dir, tmp_path)["clean"]
    assert result["repaired_or_quarantined_share"] >= 0.995, result["by_kind"]
    assert result["clean_rows_wrongly_quarantined_share"] <= 0.001
    assert result["undetectable_values"] > 0  # valid-looking typos and homophones are reported
    assert result["by_kind"]["unknown_school_code"].get("silently_wrong", 0) == 0
    assert (tmp_path / "validation.json").is_file()
