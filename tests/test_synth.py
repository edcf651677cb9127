"""The synthetic prefecture: calibration to the seed, a complete truth, the mess as documented.

All tests use one small prefecture (about 1/20 of Yuxi) built once per session.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from analysis.idnumber import is_valid
from analysis.synth import SynthParams, synthesize
from analysis.synth.params import SEED_TARGETS, MessRates


def _truth(data_dir: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(data_dir / "truth" / f"{name}.parquet")


# ---- calibration ---------------------------------------------------------------------------
def test_reproduces_the_seed_figures(small_data):
    data_dir, summary = small_data
    f = summary["fraction"]
    fig = summary["figures"]
    # Student numbers within 1 % of the seed's (scaled), returns exact.
    for key in ("primary_students", "junior_students"):
        assert fig[key] == pytest.approx(SEED_TARGETS[key] * f, rel=0.01), key
    assert fig["returns_2019"] == round(SEED_TARGETS["returns_2019"] * f)
    # Rates: as close as the number of children allows (one child moves a small rate a lot).
    ind = _truth(data_dir, "indicators")
    pref = ind[(ind["year"] == 2020) & (ind["county_code"] == "5304")].iloc[0]
    assert abs(fig["primary_enrolment_rate"] - 99.97) <= 100 / pref["p_band"] + 0.005
    assert abs(fig["junior_enrolment_rate"] - 96.05) <= 100 / pref["j_band"] + 0.005
    assert abs(fig["disabled_enrolment_rate"] - 99.66) <= 100 / pref["d_band"] + 0.005
    cons = _truth(data_dir, "consolidation")
    c20 = cons[(cons["year"] == 2020) & (cons["county_code"] == "5304")].iloc[0]
    assert abs(fig["consolidation_rate"] - 99.76) <= 100 / c20["base"] + 0.005


def test_schools_and_counties_are_yuxis(small_data):
    data_dir, _ = small_data
    persons = _truth(data_dir, "persons")
    codes = {530402, 530403, 530481, 530423, 530424, 530425, 530426, 530427, 530428}
    kids = persons[persons["kind"] == "child"]
    assert set(kids["county_code"].astype(int)) == codes
    # Children born before the reorganisations carry the legacy county codes in their IDs.
    jc = kids[(kids["county_code"].astype(int) == 530403) & ~kids["migrant"].astype(bool)]
    assert (jc["id_number"].str[:6] == "530421").mean() > 0.95
    # Minority peoples live where they do in Yuxi.
    yuanjiang = kids[kids["county_code"].astype(int) == 530428]
    assert (yuanjiang["ethnicity"] == "hani").mean() > 0.25


def test_dropout_falls_over_the_years_and_is_higher_where_expected(small_data):
    data_dir, _ = small_data
    st = _truth(data_dir, "student_terms")
    r = st[st["at_risk"]].copy()
    r["year"] = r["term"].str[:4].astype(int)
    by_year = r.groupby("year")["dropped"].mean()
    assert by_year.loc[2016] > 3 * by_year.loc[2019]
    r["junior"] = r["grade"] >= 7
    assert (
        r.groupby("junior")["dropped"].mean().loc[True]
        > 4 * r.groupby("junior")["dropped"].mean().loc[False]
    )
    r["autonomous"] = r["school_code"].str[4:6].isin(["26", "27", "28"])
    early = r[r["year"] <= 2017]
    assert (
        early.groupby("autonomous")["dropped"].mean().loc[True]
        > 1.5 * early.groupby("autonomous")["dropped"].mean().loc[False]
    )


def test_true_probabilities_rank_like_published_early_warning_systems(small_data):
    _, summary = small_data
    auc = summary["auc_true_probability"]
    # Published administrative early-warning systems reach about 0.85-0.92 (small world: noisier).
    assert 0.84 <= auc["pooled"] <= 0.93


def test_campaign_returns_every_dropout_by_14_july_2020(small_data):
    data_dir, _ = small_data
    cases = _truth(data_dir, "cases")
    in_year = cases[cases["year"] == 2019]
    assert in_year["return_date"].notna().all()
    assert (in_year["return_date"] <= pd.Timestamp("2020-07-14")).all()
    status = _truth(data_dir, "status")
    assert not (status[status["term"] == "2020-1"]["status"] == "out_dropout").any()


def test_true_effects_vary_by_county_around_a_literature_mean(small_data):
    data_dir, _ = small_data
    eff = _truth(data_dir, "effects")
    for inter in ("mentoring", "video_check", "boarding_subsidy"):
        rr = eff[(eff["intervention"] == inter) & (eff["parameter"] == "risk_ratio")]["value"]
        assert len(rr) == 9
        assert (rr < 1).mean() > 0.7  # mostly protective
        assert 0.15 < rr.std() / (1 - rr.mean()) < 1.2  # spread about half the mean effect
    inspection = eff[eff["intervention"] == "inspection"]["value"]
    assert (inspection == 1.0).all()  # the placebo


# ---- truth completeness --------------------------------------------------------------------
def _read_csv(path: Path, encoding: str) -> pd.DataFrame:
    text = path.read_bytes().decode("utf-8-sig" if encoding == "utf-8-sig" else encoding)
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


def _xlsx_data_rows(path: Path, title_rows: int, merged: bool) -> dict[str, int]:
    wb = openpyxl.load_workbook(path, read_only=True)
    out = {}
    for ws in wb.worksheets:
        if ws.title == "填表说明":
            continue
        rows = [r for r in ws.iter_rows(values_only=True) if any(v is not None for v in r)]
        out[ws.title] = len(rows) - title_rows - (2 if merged else 1)
    return out


def test_every_raw_row_is_accounted_for(small_data):
    data_dir, _ = small_data
    files = _truth(data_dir, "files")
    rows = _truth(data_dir, "rows")
    persons = set(_truth(data_dir, "persons")["person_id"])
    on_disk = {
        str(p.relative_to(data_dir / "raw")) for p in (data_dir / "raw").rglob("*") if p.is_file()
    }
    assert on_disk == set(files["file"]), (
        "every file on disk is described in the truth, and no other"
    )
    counts = rows.groupby(["file", "sheet"]).size()
    for f in files.itertuples():
        path = data_dir / "raw" / f.file
        if f.format == "csv":
            n = {"": len(_read_csv(path, f.encoding))}
        else:
            n = _xlsx_data_rows(path, f.title_rows, f.merged_header)
        for sheet, k in n.items():
            assert counts.loc[(f.file, sheet if f.format == "xlsx" else "")] == k, (f.file, sheet)
    # Row numbers run 1..n in each sheet, and people are real people.
    per = rows.groupby(["file", "sheet"])["row"].agg(["min", "max", "size"])
    assert (per["min"] == 1).all() and (per["max"] == per["size"]).all()
    named = rows[rows["person_id"] != ""]
    assert named["person_id"].isin(persons).all()
    person_datasets = {
        "hukou",
        "xueji",
        "attendance",
        "leave",
        "poverty",
        "disability",
        "interventions",
    }
    assert (rows[rows["dataset"].isin(person_datasets)]["person_id"] != "").all()


def test_corruptions_are_in_the_files_as_recorded(small_data):
    data_dir, _ = small_data
    files = _truth(data_dir, "files").set_index("file")
    corr = _truth(data_dir, "corruptions")
    assert (corr["clean"] != corr["raw"]).all()
    csv_files = files[files["format"] == "csv"].index
    sample = corr[corr["file"].isin(csv_files)].groupby("kind").head(15)
    by_file = {}
    for c in sample.itertuples():
        if c.file not in by_file:
            f = files.loc[c.file]
            df = _read_csv(data_dir / "raw" / c.file, f["encoding"])
            cols = f["columns"].split("|")
            if len(df.columns) == len(cols) + 1:
                cols = ["_serial", *cols]
            df.columns = cols
            by_file[c.file] = df
        assert by_file[c.file].iloc[c.row - 1][c.column] == c.raw, (c.file, c.row, c.column, c.kind)


def test_mess_rates_match_the_documented_rates(small_data):
    data_dir, _ = small_data
    files = _truth(data_dir, "files")
    corr = _truth(data_dir, "corruptions")
    rows = _truth(data_dir, "rows")
    rates = MessRates()
    per_file = rows.groupby("file").size()

    # How many values each column kind had: rows of files that have such a column.
    def values_of(columns: set[str]) -> int:
        total = 0
        for f in files.itertuples():
            total += per_file[f.file] * len(columns & set(f.columns.split("|")))
        return total

    child_ids = values_of({"id_number"})
    for kind, rate in (
        ("id_typo", rates.id_typo),
        ("id_transposition", rates.id_transposition),
        ("id_excel_float", rates.id_excel_float),
        ("id_spaces", rates.id_spaces),
        ("id_fullwidth", rates.id_fullwidth),
    ):
        n = int((corr["kind"] == kind).sum())
        id_cols = corr[corr["kind"] == kind]["column"]
        denom = values_of(set(id_cols.unique()) | {"id_number"})
        expected = rate * denom
        assert abs(n - expected) < 5 * np.sqrt(expected) + 0.35 * expected, (kind, n, expected)
    assert child_ids > 0
    dup = (rows["row_kind"] == "exact_duplicate").mean()
    assert dup == pytest.approx(rates.duplicate_row, rel=0.35)
    # Typos break the check digit; 'valid typos' do not (the kind no rule can see).
    typos = corr[corr["kind"].isin(["id_typo", "id_transposition"])]
    assert not typos["raw"].map(is_valid).any()
    valid_typos = corr[corr["kind"] == "id_valid_typo"]
    assert valid_typos["raw"].map(is_valid).all()
    # Every CSV encoding and both kinds of XLSX header occur.
    assert set(files[files["format"] == "csv"]["encoding"]) == {"gb18030", "utf-8", "utf-8-sig"}
    xl = files[files["format"] == "xlsx"]
    assert xl["merged_header"].any() and (xl["title_rows"] > 0).any()


def test_attendance_is_consistent_and_the_closure_is_not_absence(small_data):
    data_dir, _ = small_data
    files = _truth(data_dir, "files")
    f = files[files["dataset"] == "attendance"].iloc[0]
    df = _read_csv(data_dir / "raw" / f["file"], f["encoding"])
    df.columns = f["columns"].split("|")
    nums = df[
        ["days_required", "days_present", "sick_leave", "personal_leave", "unexcused"]
    ].astype(int)
    assert (
        nums["days_present"] + nums["sick_leave"] + nums["personal_leave"] + nums["unexcused"]
        == nums["days_required"]
    ).all()
    rows = _truth(data_dir, "rows")
    months = rows[rows["dataset"] == "attendance"]["key"]
    assert not months.str.startswith(("2020-02", "2020-03")).any()


# ---- determinism --------------------------------------------------------------------------
def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_gives_byte_identical_files(small_data, tmp_path):
    data_dir, summary = small_data
    again = tmp_path / "again"
    synthesize(SynthParams.preset("small", summary["seed"]), again)
    assert _digest(again / "raw") == _digest(data_dir / "raw")
    assert _digest(again / "truth") == _digest(data_dir / "truth")


def test_xlsx_files_are_valid_workbooks(small_data):
    data_dir, _ = small_data
    for path in (data_dir / "raw").rglob("*.xlsx"):
        with zipfile.ZipFile(path) as z:
            assert z.testzip() is None
            assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in z.infolist())


def test_summary_json_is_readable(small_data):
    data_dir, _ = small_data
    s = json.loads((data_dir / "truth" / "summary.json").read_text(encoding="utf-8"))
    assert s["scale"] == "small" and s["counts"]["raw_files"] > 100
