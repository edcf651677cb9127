"""The reports and ledgers of a period, on the small prefecture: every report renders, no
page reaches another host, every Chinese glyph is drawn, and no county's files hold another
county's child."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from analysis.config import default_config
from analysis.layout import Layout
from analysis.report.render import Job, outside_references, render_all, to_html

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def reported(linked, model_config):
    """The small prefecture's reports of its default period (model, effects, report)."""
    from analysis.effects.stage import effects
    from analysis.model.stage import model
    from analysis.report.stage import report

    data, _, _ = linked
    layout = Layout(data)
    model(layout, model_config)
    effects(layout)
    summary = report(layout, default_config().with_("report", workers=2))
    return layout, summary


def _files(layout: Layout, period: str) -> list[Path]:
    return sorted(p for p in layout.period(period).rglob("*") if p.is_file())


def _text(path: Path) -> str:
    """What a person could read in a file: the HTML or notebook as text, a workbook's cells."""
    if path.suffix == ".xlsx":
        wb = openpyxl.load_workbook(path, read_only=True)
        return "\n".join(
            "\t".join("" if v is None else str(v) for v in row)
            for ws in wb.worksheets
            for row in ws.iter_rows(values_only=True)
        )
    return path.read_text(encoding="utf-8")


def test_every_report_and_ledger_is_written(reported):
    layout, summary = reported
    m = summary.manifest
    assert m["failed"] == [], m.get("details")
    period = m["period"]
    counties = sorted(json.loads(layout.model_json.read_text())["county_names"])
    assert len(counties) == 9
    for c in counties:
        assert layout.county_report(period, c).stat().st_size > 10_000
        assert layout.county_report(period, c, ".ipynb").is_file()  # kept for audit
        assert layout.ledger(period, c).is_file()
    for public in (False, True):
        assert layout.prefecture_report(period, public).is_file()
    assert json.loads(layout.report_metrics(period).read_text())["failed"] == []
    # Codes stay text in the executed notebook's parameters (a dict, not -p on a command line).
    injected = json.loads(layout.county_report(period, counties[0], ".ipynb").read_text())
    source = "".join(
        "".join(c["source"])
        for c in injected["cells"]
        if "injected-parameters" in c["metadata"].get("tags", [])
    )
    assert f'county = "{counties[0]}"' in source
    assert not [p for p in _files(layout, period) if ".part" in p.name or "failed" in p.name]


def test_pages_are_self_contained_and_hide_code(reported):
    layout, summary = reported
    pages = [p for p in _files(layout, summary.manifest["period"]) if p.suffix == ".html"]
    assert len(pages) == 11
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert outside_references(html) == [], page.name
        assert "<script src" not in html
        assert 'src="data:image/png;base64,' in html  # figures inline
        assert "import matplotlib" not in html and "CountyReport(" not in html  # code hidden
        assert "Traceback" not in html


def test_every_chinese_glyph_is_drawn(reported):
    """Matplotlib warns "Glyph ... missing from font" when a character has no glyph: the
    figures would show boxes. No report may have printed it."""
    layout, summary = reported
    for name, r in summary.manifest["reports"].items():
        assert not [w for w in r["warnings"] if "Glyph" in w or "missing from" in w], name
    for nb in layout.period(summary.manifest["period"]).rglob("*.ipynb"):
        assert "missing from font" not in nb.read_text(encoding="utf-8"), nb.name


def test_no_county_file_holds_another_countys_child(reported):
    """Each county's report, executed notebook and ledger: no other county's child by
    pseudonymous id, masked ID or name (a name shared with one of the county's own listed
    children excepted), and no unmasked ID or registry number at all."""
    layout, summary = reported
    period = summary.manifest["period"]
    counties = sorted(json.loads(layout.model_json.read_text())["county_names"])
    people = {}
    for c in counties:
        wb = openpyxl.load_workbook(layout.ledger(period, c), read_only=True)
        rows = []
        for ws in wb.worksheets[1:]:
            it = ws.iter_rows(values_only=True)
            head = next(it)
            rows += [dict(zip(head, r, strict=False)) for r in it if r[0]]
        people[c] = pd.DataFrame(rows, columns=["编号", "姓名", "身份证号"])
    assert sum(len(p) for p in people.values()) > 50  # the check has children to check
    for c in counties:
        files = [
            layout.county_report(period, c),
            layout.county_report(period, c, ".ipynb"),
            layout.ledger(period, c),
        ]
        text = "\n".join(_text(f) for f in files)
        own_names = set(people[c]["姓名"])
        assert not re.search(r"(?<![0-9.])\d{17}[\dXx](?![0-9])", text)  # unmasked IDs
        assert not re.search(r"(?<![0-9A-Za-z])[GL]\d{17}[\dX]", text)  # registry numbers
        for other in counties:
            if other == c:
                continue
            o = people[other]
            leaked_ids = [x for x in o["编号"] if x in text]
            leaked_masked = [x for x in o["身份证号"].dropna() if x in text]
            leaked_names = [n for n in o["姓名"].dropna() if n not in own_names and n in text]
            assert not (leaked_ids or leaked_masked or leaked_names), (c, other, leaked_names[:3])


def test_ledger_has_dropdowns_and_keys(reported):
    layout, summary = reported
    period = summary.manifest["period"]
    code = max(summary.manifest["ledgers"], key=lambda c: c)
    wb = openpyxl.load_workbook(layout.ledger(period, code))
    assert wb.sheetnames == ["填写说明", "红名单", "跟进名单"]
    red = wb["红名单"]
    head = [c.value for c in red[1]]
    assert head[0] == "编号" and {"跟进情况", "跟进日期", "是否开展结对帮扶"} <= set(head)
    lists = [dv for dv in red.data_validations.dataValidation if dv.type == "list"]
    assert any("已返校" in dv.formula1 for dv in lists)
    at = head.index("身份证号")
    ids = [r[at] for r in red.iter_rows(min_row=2, values_only=True) if r[0]]
    assert ids and all(re.fullmatch(r"\d{6}\*+[\dX]{4}", x) for x in ids if x)


def test_a_failing_report_does_not_stop_the_others(reported, tmp_path):
    layout, _ = reported
    nb = ROOT / "notebooks" / "county_report.ipynb"
    good = Job(
        "good", nb, {"data_dir": str(layout.data), "county": "530402", "period": "", "lang": "en"},
        tmp_path / "good.html", tmp_path / "good.ipynb",
    )  # fmt: skip
    bad = Job(
        "bad", nb, {"data_dir": str(layout.data), "county": "999999", "period": "", "lang": "zh"},
        tmp_path / "bad.html", tmp_path / "bad.ipynb",
    )  # fmt: skip
    results = render_all([bad, good], workers=2)
    assert [r.ok for r in results] == [False, True]
    assert "999999" in results[0].error and not (tmp_path / "bad.html").exists()
    assert (tmp_path / "bad.failed.ipynb").is_file()
    page = (tmp_path / "good.html").read_text(encoding="utf-8")
    assert "Red list" in page and "monthly report" in page  # --lang en


def test_command_line_report(reported):
    layout, _ = reported
    exe = [sys.executable, "-m", "analysis"]  # the command of this environment
    bad = subprocess.run(
        [*exe, "--data-dir", str(layout.data), "report", "--county", "999999"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert bad.returncode == 2 and "999999" in bad.stdout and "Traceback" not in bad.stdout
    bad = subprocess.run(
        [*exe, "--data-dir", str(layout.data), "report", "--period", "2021-8"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert bad.returncode == 2 and "YYYY-MM" in bad.stdout
    again = subprocess.run(
        [*exe, "--data-dir", str(layout.data), "report"], capture_output=True, text=True
    )
    assert again.returncode == 0 and "skipped" in again.stdout.lower()


def test_executed_notebook_renders_the_same_page(reported):
    layout, summary = reported
    period = summary.manifest["period"]
    nb = layout.county_report(period, "530402", ".ipynb")
    assert outside_references(to_html(nb)) == []


def test_a_filled_ledger_comes_back(reported, tmp_path):
    """A county fills in its ledger (a valid visit, a return, a value not in the dropdown,
    an 编号 changed by hand) and drops it into raw/followup/: after cleaning, the next report
    shows the follow-ups, lists the two bad entries by sheet and row, and the effects'
    inputs date the child's return."""
    from analysis.clean.stage import clean
    from analysis.effects.inputs import load_inputs
    from analysis.engine import connect
    from analysis.report.county import CountyReport

    layout, summary = reported
    period = summary.manifest["period"]
    data = tmp_path / "data"
    (data / "raw").mkdir(parents=True)
    for f in layout.raw.resolve().rglob("*"):  # the raw files, linked one by one
        if f.is_file():
            target = data / "raw" / f.relative_to(layout.raw.resolve())
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(f)
    shutil.copytree(layout.processed, data / "processed")
    # A county whose follow-up list has a child with an open persuasion case.
    con = connect()
    try:
        before = load_inputs(con, layout, default_config().effects.policy_names).cases
    finally:
        con.close()
    open_cases = set(before.loc[before["return_date"].isna(), "person_id"])
    counties = sorted(summary.manifest["ledgers"])
    follow = {c: CountyReport(layout.data, c, period).follow_up_frame(key=True) for c in counties}
    county = max(counties, key=lambda c: follow[c]["person_id"].isin(open_cases).sum())
    case_child = (
        follow[county].loc[follow[county]["person_id"].isin(open_cases), "person_id"].iloc[0]
    )

    wb = openpyxl.load_workbook(layout.ledger(period, county))
    red, fol = wb["红名单"], wb["跟进名单"]
    col = {c.value: c.column for c in red[1]}
    red.cell(2, col["是否开展结对帮扶"], "否")
    red.cell(2, col["跟进情况"], "已家访")
    red.cell(2, col["跟进日期"], pd.Timestamp("2021-09-10").to_pydatetime())
    red.cell(3, col["跟进情况"], "已经回来了")  # not in the dropdown
    fcol = {c.value: c.column for c in fol[1]}
    row = next(r for r in range(2, fol.max_row + 1) if fol.cell(r, 1).value == case_child)
    fol.cell(row, fcol["跟进情况"], "已返校")
    fol.cell(row, fcol["跟进日期"], "2021-09-15")
    n = fol.max_row + 1
    fol.cell(n, 1, "0123456789abcdef")  # an 编号 that is no child
    fol.cell(n, fcol["跟进情况"], "已家访")
    (data / "raw" / "followup").mkdir()
    wb.save(data / "raw" / "followup" / "9月台账（已填）.xlsx")

    clean(Layout(data))
    manifest = json.loads(Layout(data).clean_manifest.read_text())
    ledger_file = next(f for f in manifest["files"] if f["file"].startswith("followup/"))
    assert ledger_file["status"] != "rejected"

    r = CountyReport(data, county, period)
    first = r.red_list_frame().iloc[0]
    assert first["最近跟进"] == "已家访（2021-09-10）"
    bad = r.invalid_ledger_entries()
    assert sorted(zip(bad["工作表"], bad["行"], strict=True)) == [("红名单", 3), ("跟进名单", n)]
    assert set(bad["填写的值"]) == {"已经回来了", "0123456789abcdef"}
    assert "编号不存在" in " ".join(bad["原因"])
    html = r.actions()
    assert "已返校（2021-09-15）" in html and "无法采用" in html

    con = connect()
    try:
        inp = load_inputs(con, Layout(data), default_config().effects.policy_names)
    finally:
        con.close()
    case = inp.cases[inp.cases["person_id"] == case_child]
    assert "2021-09-15" in case["return_date"].astype(str).tolist()
    assert any("returned ledgers" in note for note in inp.notes)


def test_reports_look_right_in_a_browser(reported, tmp_path):
    """Headless Chromium, network off, renders the prefecture report and a county report at
    desktop and phone width: the pages draw (text and figures, not a blank page) and the
    phone page is as narrow as the phone."""
    import matplotlib.image as mpimg

    from analysis.report.screenshot import WIDTHS, chromium, screenshot

    if chromium() is None:
        pytest.skip(
            "headless Chromium is not installed (Debian: apt-get install "
            "chromium-headless-shell), so the reports were not looked at in a browser"
        )
    layout, summary = reported
    period = summary.manifest["period"]
    pages = [layout.prefecture_report(period), layout.county_report(period, "530402")]
    for page in pages:
        for device, width in WIDTHS.items():
            shot = screenshot(page, tmp_path / f"{page.stem}-{device}.png", width, 1600)
            img = mpimg.imread(shot["png"])
            assert img.shape[1] == width
            dark = (img[..., :3].mean(axis=2) < 0.5).mean()
            assert 0.005 < dark < 0.5, (page.name, device, dark)  # text drawn, not blank
