"""Bad input: each malformed file of tests/data/bad/ has one exact, documented outcome.

Either the file is rejected with a message naming it and the reason, or it is read and
each untrustworthy row or value is quarantined with the right reason. Never a traceback,
never a lost row (read = kept + merged + quarantined).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from analysis.clean.stage import clean
from analysis.layout import Layout

BAD = Path(__file__).resolve().parent / "data" / "bad"

#: file -> ('rejected', message pattern) or ('read', {expected manifest fields}).
EXPECTED = {
    "attendance/01_empty.csv": ("rejected", "the file is empty"),
    "attendance/02_header_only.csv": ("read", {"rows_read": 0, "rows_kept": 0}),
    "attendance/03_binary_junk.csv": ("rejected", "binary content"),
    "attendance/04_truncated.csv": (
        "read",
        {"rows_read": 3, "rows_kept": 2, "rows_quarantined": {"malformed_line": 1}},
    ),
    "attendance/05_bom_but_gb18030.csv": (
        "read",
        {"rows_kept": 2, "encoding": "gb18030-after-utf8-bom"},
    ),
    "attendance/06_latin1.csv": ("rejected", "neither UTF-8 nor GB18030"),
    "attendance/07_duplicate_headers.csv": (
        "read",
        {"rows_kept": 2, "duplicate_columns": ["name"]},
    ),
    "attendance/08_negative.csv": (
        "read",
        {"rows_kept": 2, "rows_quarantined": {"impossible_attendance": 1}},
    ),
    "attendance/09_present_exceeds_required.csv": (
        "read",
        {"rows_kept": 2, "rows_quarantined": {"impossible_attendance": 1}},
    ),
    "attendance/10_text_numbers.csv": (
        "read",
        {
            "rows_kept": 2,
            "rows_quarantined": {"attendance_not_a_number": 1},
            "values_quarantined": {"not_an_integer": 1},
        },
    ),
    "attendance/11_blank_lines.csv": ("read", {"rows_read": 2, "rows_kept": 2, "empty_rows": 3}),
    "attendance/12_title_rows.csv": (
        "read",
        {"rows_read": 2, "rows_kept": 2, "rows_quarantined": {}},
    ),
    "attendance/13_only_title.csv": ("rejected", "no header row found"),
    "attendance/14_missing_required_column.csv": (
        "rejected",
        r"required column missing .*'unexcused' \(tried: 旷课天数",
    ),
    "attendance/15_unknown_extension.txt": ("rejected", r"unsupported file type '\.txt'"),
    "attendance/16_not_a_zip.xlsx": ("rejected", "not a readable XLSX workbook"),
    "attendance/17_corrupt_zip.xlsx": ("rejected", "not a readable XLSX workbook"),
    "attendance/18_student_missing.csv": (
        "read",
        {"rows_kept": 2, "rows_quarantined": {"missing_student_no": 1}},
    ),
    "attendance/30_semicolon_separated.csv": ("read", {"rows_kept": 2}),
    # A total row under its own word, a bare row of sums, a signature: not records, and
    # not blamed as a missing pupil or impossible attendance.
    "attendance/31_footer_and_totals.csv": (
        "read",
        {"rows_read": 5, "rows_kept": 2, "rows_quarantined": {"footer_row": 2, "total_row": 1}},
    ),
    "hukou/23_bad_dates.csv": (
        "read",
        {"rows_kept": 3, "values_quarantined": {"unparseable_date": 2}},
    ),
    "hukou/24_rare_character_gb18030.csv": ("read", {"rows_kept": 1, "encoding": "gb18030"}),
    "hukou/25_extra_unknown_columns.csv": (
        "read",
        {"rows_kept": 1, "unknown_columns": ["联系电话", "家庭年收入"]},
    ),
    "hukou/26_ids_as_numbers.xlsx": (
        "read",
        {"rows_kept": 2, "values_quarantined": {"id_excel_truncated": 2}},
    ),
    "hukou/27_sheet_without_header.xlsx": ("rejected", r"\[数据\]: no header row found"),
    "hukou/31_id_disagrees_with_birth_date.csv": (
        "read",
        {"rows_kept": 2, "values_quarantined": {"id_birth_date_mismatch": 1}},
    ),
    "hukou/32_id_disagrees_with_sex.csv": (
        "read",
        {"rows_kept": 1, "values_quarantined": {"id_sex_mismatch": 1}},
    ),
    "xueji/33_school_code_of_another_school.csv": (
        "read",
        {"rows_kept": 1, "values_quarantined": {"school_code_name_mismatch": 1}},
    ),
    "xueji/19_attendance_in_wrong_folder.csv": (
        "rejected",
        "this is a attendance table .* delivered in the 'xueji' folder",
    ),
    "xueji/20_unknown_school_code.csv": (
        "read",
        {"rows_kept": 2, "values_quarantined": {"unknown_school_code": 1}},
    ),
    "xueji/21_bad_ids.csv": (
        "read",
        {"rows_kept": 3, "values_quarantined": {"id_bad_check": 1, "id_malformed": 1}},
    ),
    "xueji/35_bad_registry_number.csv": (
        "read",
        {"rows_kept": 1, "values_quarantined": {"bad_format": 1}},
    ),
    "leave/36_leave_ends_before_it_starts.csv": (
        "read",
        {
            "rows_kept": 3,
            "values_quarantined": {"out_of_range": 1},
            "flags": {"leave_ends_before_it_starts": 1},
        },
    ),
    "xueji/28_merged_cells_down.xlsx": (
        "read",
        {"rows_kept": 1, "rows_quarantined": {"missing_school_code": 1}},
    ),
    "xueji/29_notes_sheet_first.xlsx": ("read", {"rows_kept": 1}),
    # What a whole file is about, when no column says: from the title, the name, files.csv.
    "hukou/37_no_year_anywhere.csv": (
        "rejected",
        r"no year \(年度\) for its rows.*a column 核查年度.*'37_no_year_anywhere.csv,2019' in "
        r"hukou/files.csv",
    ),
    "xueji/38_school_and_term_in_title.csv": (
        "read",
        {
            "rows_kept": 2,
            "context": {
                "term": "2019-2 (title)",
                "school_code": "2153021001 (title)",
                "county_code": "530402 (roster)",
            },
        },
    ),
    "attendance/39_红塔玉兴街道中心小学_2019年10月考勤.csv": (
        "read",
        {
            "rows_kept": 2,
            "context": {
                "month": "2019-10-01 (name)",
                "school_code": "2153021001 (name)",
                "county_code": "530402 (roster)",
            },
        },
    ),
    "attendance/40_no_month.csv": ("rejected", r"no month \(月份\).*attendance/files.csv"),
    # A workbook is judged by its data sheet, never by its notes sheet; a data sheet that
    # fails while another is read is named, not dropped in silence.
    "attendance/43_notes_first_data_sheet_lacks_a_column.xlsx": (
        "rejected",
        r"\[考勤\]: .*required column missing .*'unexcused'",
    ),
    "attendance/44_one_data_sheet_lacks_a_column.xlsx": (
        "read",
        {
            "rows_kept": 1,
            "sheets_rejected": [
                "attendance/44_one_data_sheet_lacks_a_column.xlsx [十一月]: required column missing "
                "for a attendance table: 'unexcused' (tried: 旷课天数, 无故缺勤天数, 旷课, 旷课(天), "
                "无故缺课天数, 无故缺勤, unexcused)"
            ],
        },
    ),
    # A household register lists the adults too: born any year; a child of the household
    # born before 1990 is flagged (the birth-date range depends on the role).
    "hukou/41_household_with_adults.csv": (
        "read",
        {
            "rows_kept": 4,
            "values_quarantined": {},
            "flags": {"child_of_household_born_before_1990": 1},
        },
    ),
    # The certificate number is the holder's ID and two digits: the ID is derived, checked.
    "disability/42_certificate_number_holds_the_id.csv": (
        "read",
        {"rows_kept": 4, "values_quarantined": {"id_bad_check": 1}},
    ),
    "hukou/22_future_birth.csv": (
        "read",
        {
            "rows_kept": 1,
            "rows_quarantined": {"future_birth_date": 1},
            "context": {"year": "2019 (files.csv)", "county_code": "530402 (files.csv)"},
        },
    ),
    "xueji/34_codes_not_in_list.csv": (
        "read",
        {
            "rows_kept": 3,
            "values_quarantined": {"unknown_code": 2},
            "repairs": {"code_standardised": 3},  # 三年级 -> 3 twice, 哈尼 -> 哈尼族 once
            "context": {"term": "2019-2 (files.csv)"},
        },
    ),
}


def test_the_corpus_is_complete():
    on_disk = {
        str(p.relative_to(BAD))
        for p in BAD.rglob("*")
        if p.is_file() and p.parent.name != "schools" and p.name != "files.csv"
    }
    assert on_disk == set(EXPECTED)
    assert len(EXPECTED) >= 25


@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_bad_file_outcome(rel, tmp_path):
    raw = tmp_path / "raw"
    (raw / "schools").mkdir(parents=True)
    shutil.copy(BAD / "schools" / "roster.csv", raw / "schools" / "roster.csv")
    dest = raw / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(BAD / rel, dest)
    sidecar = (BAD / rel).parent / "files.csv"  # the term, year or county a file lacks
    if sidecar.exists():
        shutil.copy(sidecar, dest.parent / "files.csv")
    manifest = clean(Layout(tmp_path)).manifest  # never raises on a bad file
    report = next(f for f in manifest["files"] if f["file"] == rel)
    status, expected = EXPECTED[rel]
    assert report["status"] == status, report["message"]
    assert report["rows_read"] == report["rows_kept"] + report["rows_merged"] + sum(
        report["rows_quarantined"].values()
    )
    if status == "rejected":
        import re

        assert re.search(expected, report["message"]), report["message"]
        assert rel in report["message"]  # the message names the file
        return
    for key, value in expected.items():
        assert report[key] == value, (key, report[key])
