"""The fixed wording of the reports, in Chinese and English.

The reports are written for Chinese officials; ``--lang en`` gives headings, column names
and fixed sentences in English for researchers and visitors. Texts generated from the data
(a child's reasons, an effect's sentence, the indicators' notes) stay in Chinese, as the
stages write them; the English report says so once.

Examples
--------
>>> t("actions", "en"), t("actions")
('1. Actions this month', '一、本月工作')
>>> columns(pd.DataFrame(columns=["排名", "姓名"]), "en").columns.tolist()
['rank', 'name']
"""

from __future__ import annotations

import pandas as pd

TEXTS: dict[str, tuple[str, str]] = {
    "county_title": ("{name}控辍保学月报", "{name}: dropout-control monthly report"),
    "prefecture_title": ("{name}控辍保学月报", "{name}: dropout-control monthly report"),
    "public_title": ("{name}控辍保学月报（公开版）", "{name}: monthly report (public version)"),
    "meta": (
        "{month}　数据截至{data_end}　红名单学期：{term}　身份证号已脱敏（保留前6位和后4位）",
        "{month} · records up to {data_end} · red list for term {term} · ID numbers masked",
    ),
    "english_note": (
        "",
        "Generated texts (reasons, effect sentences, notes) are in Chinese, as the pipeline writes them.",
    ),
    "actions": ("一、本月工作", "1. Actions this month"),
    "red_list": ("红名单（结对包保）", "Red list (paired mentoring)"),
    "red_list_meta": (
        "按下学期辍学风险从高到低排列，共{n}人（新进{new}人）。责任单位是学生下学期就读的学校及其乡镇；"
        "升入初中的学生在秋季学籍到来前按往年去向预计，并注明原学校以便交接。原因是模型中推高风险最多的三项，"
        "不是辍学的原因，须由班主任和包保干部核实。",
        "Ranked by next term's dropout risk; {n} children ({new} new). The responsible unit is the "
        "school the child attends next term; for pupils moving up to junior-middle school before the "
        "autumn registry arrives it is the usual destination, with the old school named for the "
        "hand-over. Reasons are what raises the model's score most, not causes.",
    ),
    "follow_up": ("三比对名单中仍需跟进的儿童", "Children on the three lists still to follow up"),
    "follow_up_meta": (
        "名单1：未入学（最近学年）；名单2：辍学、疑似辍学且未返校；名单3：贫困家庭子女失学辍学。共{n}人。",
        "List 1: not enrolled (latest school year); list 2: dropouts not returned; list 3: children "
        "of poor households out of school. {n} children.",
    ),
    "plan": ("督查计划（初中学校）", "Inspection plan (junior-middle schools)"),
    "plan_meta": (
        "每月至少{per}所，两个月内覆盖全部{n}所初中，按下学期预计辍学人数从高到低安排。",
        "At least {per} schools a month, all {n} junior-middle schools within two months, riskiest first.",
    ),
    "invalid": ("上次台账中无法采用的填写", "Ledger entries that could not be used"),
    "invalid_meta": (
        "共{n}处。请按文件、工作表和行号更正后重新提交（跟进情况须从下拉列表选择，编号不得改动）。",
        "{n} entries. Correct them by file, sheet and row and hand the ledger in again.",
    ),
    "indicators": ("二、主要指标", "2. Indicators"),
    "enrolment": ("入学率（本县与全市）", "Enrolment rates (county and prefecture)"),
    "consolidation": ("九年义务教育巩固率", "Nine-year consolidation rate"),
    "monitoring": (
        "各学期疑似辍学、辍学和返校人数",
        "Suspected dropouts, dropouts and returns by term",
    ),
    "effects": ("三、措施效果", "3. What the measures achieve"),
    "effects_meta": (
        "本县估计综合了各县的数据（本县数据少时更多借鉴全市），括号内为95%区间。辍学效果单位为"
        "每学期辍学率的百分点（负数表示辍学减少）；劝返步骤为返校速度的倍数（大于1表示返校更快）。",
        "County estimates borrow strength from the other counties; brackets: 95 % intervals. Dropout "
        "effects in points of a term's dropout rate (negative: fewer); persuasion steps as the "
        "multiple of the speed of return (above 1: sooner).",
    ),
    "model": ("四、风险模型", "4. The risk model"),
    "model_meta": (
        "模型在每学期开学时估计每名学生本学期辍学的概率。以下检验只用本县学生的实际结果："
        "每个检验学期的模型只用此前学期的数据训练。",
        "The model estimates each pupil's probability of dropping out in the term. The checks below "
        "use this county's own outcomes; each test term's model was fit on earlier terms only.",
    ),
    "monitoring_panel": ("模型监测（本县）", "Monitoring (this county)"),
    "drift": ("输入变化（与训练数据相比）", "Drift of the inputs since training"),
    "fits": (
        "模型在本县仍然适用：最近一个检验学期（{term}）实际辍学{k}人，模型预计{e:.1f}人；"
        "排序能力AUC {auc}。",
        "The model still fits this county: in the last test term ({term}) {k} pupils dropped out "
        "against {e:.1f} expected; AUC {auc}.",
    ),
    "card": ("模型说明摘要", "Model card summary"),
    "prefecture_counties": ("各县主要指标", "Indicators by county"),
    "prefecture_lists": ("三比对名单与红名单", "The three lists and the red lists"),
    "prefecture_inspections": ("督查完成情况", "Inspections against the plan"),
    "prefecture_effects": ("措施效果（全市）", "Effects of the measures (prefecture)"),
    "prefecture_model": ("风险模型在各县是否适用", "Does the risk model fit each county?"),
    "prefecture_model_meta": (
        "最近一个检验学期（模型只用此前学期的数据训练）各县实际与预计的辍学人数和排序能力（AUC）。"
        "“需复核”：实际人数明显偏离预计（区间不含1且超出0.5～2倍），或排序接近随机；详见该县月报的模型监测。",
        "The last held-out term (the model fit on earlier terms only): dropouts observed and "
        "expected, and the AUC, per county. 需复核 (review): observed far from expected, or "
        "ranking near chance; see the county's monitoring panel.",
    ),
    "suppressed": (
        "公开版：少于{k}人的数字以“<{k}”表示，相关比率一并隐去，以免识别到个人。",
        "Public version: counts below {k} are shown as <{k} and rates built on them are hidden.",
    ),
}

#: Column names in English.
COLUMNS_EN = {
    "排名": "rank",
    "姓名": "name",
    "身份证号": "ID (masked)",
    "年级": "grade",
    "学校（下学期）": "school (next term)",
    "乡镇": "township",
    "责任单位": "responsible unit",
    "主要原因": "main reasons",
    "名单变化": "change",
    "风险": "risk",
    "名单": "lists",
    "类别": "category",
    "发现时间": "since",
    "劝返进展": "persuasion step",
    "证据": "evidence",
    "性别": "sex",
    "月份": "month",
    "学校": "school",
    "在校生": "pupils",
    "预计辍学人数": "expected dropouts",
    "红名单人数": "red-listed",
    "上次督查": "last inspection",
    "学年": "school year",
    "指标": "indicator",
    "本县": "county",
    "全市": "prefecture",
    "较上年": "change on last year",
    "毕业年份": "graduating class",
    "学期": "term",
    "措施": "measure",
    "方法": "design",
    "本县估计（综合各县）": "county (pooled)",
    "本县单独估计": "county alone",
    "结论": "verdict",
    "说明": "what it means",
    "检验学期": "test term",
    "学生数": "pupils",
    "实际辍学": "dropouts",
    "预计辍学": "expected",
    "实际/预计": "observed/expected",
    "输入": "input",
    "训练时平均": "mean in training",
    "现在平均": "mean now",
    "判断": "reading",
    "最近跟进": "latest follow-up",
    "文件": "file",
    "工作表": "sheet",
    "行": "row",
    "列": "column",
    "填写的值": "value written",
    "原因": "reason",
}


def t(key: str, lang: str = "zh", **values) -> str:
    """A fixed text of the reports in ``lang`` (``zh`` or ``en``), formatted with ``values``."""
    zh, en = TEXTS[key]
    return (en if lang == "en" else zh).format(**values)


def columns(frame: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """``frame`` with its Chinese column names in ``lang``."""
    if lang != "en":
        return frame
    return frame.rename(columns=lambda c: COLUMNS_EN.get(c, c))
