"""A user's header dictionary (raw/headers.yaml or --headers) extends the packaged one
without touching the installed package."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from analysis.clean.headers import HeaderError
from analysis.clean.stage import clean, raw_files
from analysis.layout import Layout

#: An attendance export whose county titles present days 在校天数, an alias nobody ships.
EXPORT = (
    "学校标识码,学籍号,姓名,月份,应出勤天数,在校天数,病假天数,事假天数,旷课天数\n"
    "2153021001,G530402200803011235,张三,2019-09,20,18,1,0,1\n"
    "2153021001,G530402200803021231,李四,2019-09,20,20,0,0,0\n"
)


@pytest.fixture
def export(tmp_path):
    data = tmp_path / "data"
    (data / "raw" / "attendance").mkdir(parents=True)
    (data / "raw" / "attendance" / "9月考勤.csv").write_text(EXPORT, encoding="utf-8")
    return Layout(data)


def _file(layout: Layout) -> dict:
    manifest = json.loads(layout.clean_manifest.read_text(encoding="utf-8"))
    (only,) = manifest["files"]
    return only


def test_an_unknown_title_is_rejected_then_read_with_the_users_alias(export):
    clean(export)
    rejected = _file(export)
    assert rejected["status"] == "rejected"
    assert "days_present" in rejected["message"] and "9月考勤.csv" in rejected["message"]

    (export.raw / "headers.yaml").write_text(
        "attendance:\n  columns:\n    days_present: {aliases: [在校天数]}\n", encoding="utf-8"
    )
    summary = clean(export)  # the dictionary changed: the stage reruns
    assert not summary.skipped
    read = _file(export)
    assert read["status"] == "read" and read["rows_kept"] == 2
    assert summary.manifest["user_headers"].endswith("headers.yaml")
    assert export.raw / "headers.yaml" not in raw_files(export)  # not an export
    assert clean(export).skipped  # unchanged: nothing to do


def test_headers_flag_takes_a_file_anywhere(export, tmp_path):
    mine = tmp_path / "mine.yaml"
    mine.write_text("attendance:\n  columns:\n    days_present: {aliases: [在校天数]}\n")
    clean(export, headers=mine)
    assert _file(export)["status"] == "read"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("attendance: [", "cannot read the header dictionary"),
        ("atendance:\n  columns: {x: {aliases: [y]}}\n", "unknown kind 'atendance'"),
        ("attendance:\n  columns:\n    days_present: 在校天数\n", "attendance.days_present"),
    ],
)
def test_a_bad_dictionary_is_a_message_naming_it(export, text, message):
    (export.raw / "headers.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(HeaderError, match=message):
        clean(export)
    cli = subprocess.run(
        [sys.executable, "-m", "analysis", "--data-dir", str(export.data), "clean"],
        capture_output=True, text=True, env={**os.environ, "COLUMNS": "400"},
    )  # fmt: skip
    assert cli.returncode == 2 and "headers.yaml" in cli.stdout and "Traceback" not in cli.stdout


def test_inspect_explains_a_new_export_and_what_to_do(export):
    """`analysis inspect` on the export: rejected, the column it could not find named with
    the headers.yaml entry that would supply it; with that entry, read, its mapping and
    first rows shown, IDs masked."""
    f = export.raw / "attendance" / "9月考勤.csv"
    cmd = [sys.executable, "-m", "analysis", "--data-dir", str(export.data), "inspect", str(f)]
    env = {**os.environ, "COLUMNS": "400"}
    before = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert before.returncode == 0, before.stdout
    assert "rejected" in before.stdout and "days_present" in before.stdout
    assert "headers.yaml" in before.stdout and "在校天数" in before.stdout  # not understood
    (export.raw / "headers.yaml").write_text(
        "attendance:\n  columns:\n    days_present: {aliases: [在校天数]}\n", encoding="utf-8"
    )
    after = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert "read as attendance" in after.stdout and "header on row 1" in after.stdout
    assert "days_present" in after.stdout and "张三" in after.stdout
    assert "530402200803011235" not in after.stdout  # the registry number is masked
    assert not (export.interim).exists()  # nothing written


def test_inspect_diagnoses_a_workbook_by_its_data_sheet(tmp_path):
    """A rejected workbook is diagnosed on the sheet that holds data, not its notes sheet:
    the columns it has, and the one it lacks."""
    import shutil
    from pathlib import Path

    from analysis.clean.inspect import inspect_file

    name = "43_notes_first_data_sheet_lacks_a_column.xlsx"
    src = Path(__file__).parent / "data" / "bad" / "attendance" / name
    (tmp_path / "raw" / "attendance").mkdir(parents=True)
    shutil.copy(src, tmp_path / "raw" / "attendance" / name)
    (sheet,) = inspect_file(tmp_path / "raw" / "attendance" / name, tmp_path / "raw")
    assert sheet["status"] == "rejected" and sheet["sheet"] == "考勤"
    assert sheet["missing"] == ["unexcused"]
    assert "days_present" in set(sheet["columns"]["column"])
