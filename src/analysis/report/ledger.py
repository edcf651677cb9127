"""The follow-up ledger (控辍保学台账) of a county: an XLSX workbook for its schools and
townships, one sheet per list, that comes back filled in.

Sheets:

* ``填写说明``: what the ledger is and how to fill it in;
* ``红名单``: the red list of the coming term, with 是否开展结对帮扶 (是/否), 包保责任人 and the
  follow-up columns;
* ``跟进名单``: the children of the three comparisons still to follow up, with the
  follow-up columns.

Every row carries ``编号``, the child's pseudonymous ``person_id`` (meaningless outside
this data folder), which is how a filled ledger is tied back to the child: ID numbers are
masked in the ledger. The follow-up columns are ``跟进情况`` (a dropdown of
:data:`FOLLOW_UP`), ``跟进日期`` (a date) and ``备注``. openpyxl writes the dropdown as a
data validation, which Excel and WPS enforce on typing but not on pasting, so
the cleaning checks every value (:mod:`analysis.followup`) when the ledger comes
back.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> red = pd.DataFrame({"person_id": ["a1"], "排名": [1], "姓名": ["张三"],
...                     "身份证号": ["530402********1235"]})
>>> path = Path(tempfile.mkdtemp()) / "530402.xlsx"
>>> write_ledger(path, "红塔区", "2021-08", red, red.iloc[:0])
>>> import openpyxl
>>> wb = openpyxl.load_workbook(path)
>>> wb.sheetnames, wb["红名单"]["A2"].value, wb["红名单"].data_validations.count
(['填写说明', '红名单', '跟进名单'], 'a1', 3)
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

#: The allowed follow-up values (the dropdown), each with what it means for the records.
FOLLOW_UP = {
    "已家访": "visited the family; the child's situation is known",
    "已返校": "the child is back in school",
    "已转学": "the child transferred to another school",
    "随家庭迁出": "the family moved away (give the destination in 备注)",
    "送教上门": "taught at home (disability)",
    "劝返第1步（劝返教育）": "persuasion step 1 under way",
    "劝返第2步（责令改正）": "persuasion step 2: written order to the guardian",
    "劝返第3步（行政处罚）": "persuasion step 3: administrative penalty",
    "劝返第4步（申请法院强制执行）": "persuasion step 4: court",
    "超出义务教育年限": "no longer of compulsory-school age",
    "查无此人": "the child cannot be found at the registered address",
    "其他": "anything else (say what in 备注)",
}
#: Values of 是否开展结对帮扶 (the red list's mentoring).
MENTORED = ("是", "否")
#: The columns a school or township fills in.
FILL_COLUMNS = ["跟进情况", "跟进日期", "备注"]
#: The sheets holding children.
SHEETS = {"red": "红名单", "follow": "跟进名单"}

_INSTRUCTIONS = [
    "控辍保学台账（{county}，{period}）",
    "",
    "本台账由市教育局控辍保学分析系统生成，供学校和乡镇逐人跟进。身份证号已脱敏（保留前6位和后4位）。",
    "“编号”是系统内的学生编号，请勿修改或删除，系统据此把填写结果对应到学生。",
    "请在每一行填写：跟进情况（从下拉列表选择）、跟进日期（如2021-09-15）、备注（可选）。",
    "红名单另填：是否开展结对帮扶（是/否）和包保责任人。",
    "填好后把本文件放入数据目录的 data/raw/followup/ 文件夹（文件名不限），下次运行 analysis run 时读取；"
    "无效的填写会在下一期县级月报中按文件、工作表和行号列出，不会被采用。",
    "",
    "跟进情况可选值：",
]


def _frame_for_sheet(frame: pd.DataFrame, extra: list[str]) -> pd.DataFrame:
    out = frame.rename(columns={"person_id": "编号"})
    cols = ["编号", *[c for c in out.columns if c != "编号"]]
    out = out[cols]
    for c in extra:
        out[c] = None
    return out


def write_ledger(
    path: Path, county_name: str, period: str, red: pd.DataFrame, follow: pd.DataFrame
) -> None:
    """Write a county's ledger (see the module docstring) to ``path``, whole or not at all.

    Parameters
    ----------
    path : the XLSX file to write.
    county_name : the county's name (for the instructions).
    period : the report's period (``YYYY-MM``).
    red : the red list as the report shows it, with ``person_id``.
    follow : the follow-up list as the report shows it, with ``person_id``.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    info = wb.active
    info.title = "填写说明"
    for i, line in enumerate(_INSTRUCTIONS, start=1):
        info.cell(i, 1, line.format(county=county_name, period=period))
    for j, (value, meaning) in enumerate(FOLLOW_UP.items(), start=len(_INSTRUCTIONS) + 1):
        info.cell(j, 1, value)
        info.cell(j, 2, meaning)
    info["A1"].font = Font(bold=True, size=14)
    info.column_dimensions["A"].width = 40

    fill = PatternFill("solid", fgColor="FFF2CC")
    sheets = (
        (SHEETS["red"], _frame_for_sheet(red, ["是否开展结对帮扶", "包保责任人", *FILL_COLUMNS])),
        (SHEETS["follow"], _frame_for_sheet(follow, FILL_COLUMNS)),
    )
    for title, frame in sheets:
        ws = wb.create_sheet(title)
        ws.append(list(frame.columns))
        for row in frame.astype(object).where(frame.notna(), None).itertuples(index=False):
            ws.append([v if not isinstance(v, pd.Timestamp) else v.date() for v in row])
        n = max(len(frame), 1) + 1
        ws.freeze_panes = "C2"
        for j, col in enumerate(frame.columns, start=1):
            letter = get_column_letter(j)
            ws[f"{letter}1"].font = Font(bold=True)
            width = 12 if col not in ("主要原因", "证据", "责任单位") else 36
            ws.column_dimensions[letter].width = width
            if col in ("主要原因", "证据"):
                for r in range(2, n + 1):
                    ws[f"{letter}{r}"].alignment = Alignment(wrap_text=True, vertical="top")
            if col in (*FILL_COLUMNS, "是否开展结对帮扶", "包保责任人"):
                ws[f"{letter}1"].fill = fill
        cols = {c: get_column_letter(j) for j, c in enumerate(frame.columns, start=1)}
        last = max(len(frame) + 1, 200)  # room for rows a school adds by hand
        rules = [
            ("跟进情况", f'"{",".join(FOLLOW_UP)}"', "list"),
            ("是否开展结对帮扶", f'"{",".join(MENTORED)}"', "list"),
        ]
        for col, formula, kind in rules:
            if col in cols:
                dv = DataValidation(
                    type=kind, formula1=formula, allow_blank=True, showErrorMessage=True,
                    errorTitle="无效的值", error="请从下拉列表中选择",
                )  # fmt: skip
                dv.add(f"{cols[col]}2:{cols[col]}{last}")
                ws.add_data_validation(dv)
        if "跟进日期" in cols:
            dv = DataValidation(
                type="date", operator="greaterThan", formula1="36526", allow_blank=True,
                showErrorMessage=True, errorTitle="无效的日期", error="请填写日期，如2021-09-15",
            )  # fmt: skip
            dv.add(f"{cols['跟进日期']}2:{cols['跟进日期']}{last}")
            ws.add_data_validation(dv)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".part.xlsx")
    wb.save(tmp)
    tmp.replace(path)
