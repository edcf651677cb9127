"""The model card (模型说明): what the model is for, on what data it was fit, how well it
ranks and how well its probabilities hold against the baselines, whom its list misses, and
what the score must not be used for. One for the prefecture and one per county (the
county's own list figures; no child of another county)."""

from __future__ import annotations

import pandas as pd

from analysis.labels import label, labels
from analysis.model.train import Validation

#: The models, metrics and audit groups as the card names them (``labels.yaml``).
MODEL_NAMES = labels("models")
METRIC_NAMES = {k: v for k, v in labels("metrics").items() if k != "auc_gain"}
GROUP_NAMES = labels("groups")


def _fmt(v: float, metric: str) -> str:
    if pd.isna(v):
        return "—"
    return f"{v:.4f}" if metric in ("brier", "ece", "pr_auc") else f"{v:.3f}"


def _table(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(x) for x in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def metrics_table(summary: dict, term: str | None = None) -> pd.DataFrame:
    """Every model's metrics on ``term`` (default: the last test term), each as
    "estimate [95 % interval]", and the main model's paired ROC-AUC advantage over it."""
    m = pd.DataFrame(summary["metrics"])
    lm = m[m["term"] == (term or summary["last_test_term"])]
    rows = []
    for name in MODEL_NAMES:
        sub = lm[lm["model"] == name].set_index("metric")
        if sub.empty:
            continue
        row = {"模型": MODEL_NAMES[name]}
        for k, name_zh in METRIC_NAMES.items():
            if k in sub.index:
                r = sub.loc[k]
                row[name_zh] = f"{_fmt(r.estimate, k)} [{_fmt(r.lo, k)}, {_fmt(r.hi, k)}]"
            else:
                row[name_zh] = "—"
        d = sub.loc["roc_auc"] if "roc_auc" in sub.index and "diff" in sub.columns else None
        row[label("metrics", "auc_gain")] = (
            "—"
            if d is None or pd.isna(d["diff"])
            else f"{d['diff']:+.3f} [{d['diff_lo']:+.3f}, {d['diff_hi']:+.3f}]"
        )
        rows.append(row)
    return pd.DataFrame(rows)


def auc_by_term(summary: dict, chinese: bool = True) -> pd.DataFrame:
    """ROC-AUC of every model (rows; Chinese names, or the models' keys for a figure
    drawn without a Chinese font) on every test term (columns), as numbers."""
    m = pd.DataFrame(summary["metrics"])
    out = (
        m[m["metric"] == "roc_auc"]
        .pivot_table(index="model", columns="term", values="estimate")
        .reindex([n for n in MODEL_NAMES if n in set(m["model"])])
    )
    if chinese:
        return out.rename(index=MODEL_NAMES).rename_axis(index="模型", columns="检验学期")
    return out


def calibration_frame(summary: dict, term: str | None = None) -> pd.DataFrame:
    """The main model's calibration on ``term`` by decile of predicted risk: pupils, mean
    predicted and observed dropout rate (shares, not per cent)."""
    cal = pd.DataFrame(summary["calibration"])
    cal = cal[cal["term"] == (term or summary["last_test_term"])]
    out = cal[["decile", "n", "predicted", "observed"]].reset_index(drop=True)
    out.columns = ["十分位", "人数", "预测辍学率", "实际辍学率"]
    return out


def bias_frame(summary: dict, county: str | None = None) -> pd.DataFrame:
    """The bias audit of the last test term's list, with Chinese headings; for ``county``,
    the other counties' rows are left out."""
    b = pd.DataFrame(summary["bias"])
    if b.empty:
        return b
    if county:
        b = b[(b["group"] != "county_code") | (b["level"] == county)]
    b = b.assign(组别=b["group"].map(GROUP_NAMES).fillna(b["group"]))
    cols = {"组别": "组别"} | {k: v for k, v in labels("bias_columns").items() if k != "group"}
    return b[list(cols)].rename(columns=cols).reset_index(drop=True)


def model_card(summary: dict, val: Validation, county: str | None = None) -> str:
    """The card as Markdown, in Chinese (for ``county``: that county's card, whose lists and
    audit hold no other county's rows)."""
    name = summary.get("county_names", {}).get(county, county) if county else "全市"
    out = [f"# 辍学风险模型说明（{name}）", ""]
    out += _use_section(summary) + _data_section(summary) + _validation_section(summary)
    if county:
        out += _county_section(summary, val, county)
    out += _fairness_section(summary, county) + _LIMITS
    return "\n".join(out)


def _use_section(summary: dict) -> list[str]:
    return [
        "## 用途",
        "",
        f"- 用于：在每学期开学时，按辍学风险为各县（市、区）排出红名单（{summary['listed_term']}学期），"
        "供学校和乡镇安排结对包保、家访和帮扶；名单须由班主任和包保干部核实后使用。",
        "- 不得用于：处分、劝退、分班、升学、评优评先；不得向学生、同学或其他家长公开分数；"
        "不得据此对学生个人作出任何自动决定；不得用来考核教师或学校（分数反映生源，不反映工作好坏）。",
        "- 分数是风险的估计，不是事实：名单外的学生同样需要关注，名单上的学生多数并不会辍学。",
        "",
    ]


def _data_section(summary: dict) -> list[str]:
    mdl = summary["model"]
    per_term = "；".join(
        f"{t} {v['pupils']}人/" + ("尚无结果" if v["dropouts"] is None else f"{v['dropouts']}人")
        for t, v in summary["terms"].items()
    )
    return [
        "## 数据与期间",
        "",
        f"- 有标签的学期：{'、'.join(summary['labelled_terms'])}；"
        f"全市每学期评分学生与辍学人数：{per_term}。",
        "- 标签：学期内出现无故缺勤辍学（第二比对名单中的疑似辍学或辍学），由考勤月报判定。",
        "- 特征：只用开学前已有的记录（考勤、学籍、劝返台账、贫困户、残疾证），"
        "2020年春季停课期间无考勤记录，不计为缺勤。一年级新生和外地转入学生无历史记录，不评分。",
        f"- 模型：梯度提升（LightGBM，{mdl['num_leaves']}叶×{mdl['rounds']}轮）与逻辑回归的"
        f"对数几率加权组合，训练学期 {'、'.join(mdl['trained_on'])}，"
        f"在 {'、'.join(mdl['calibrated_on'])} 上选定树的大小、组合权重并校准；"
        f"{mdl['negatives']}；训练数据指纹 `{mdl['fingerprint'][:16]}`。",
        "",
    ]


def _validation_section(summary: dict) -> list[str]:
    last = summary["last_test_term"]
    by_term = auc_by_term(summary).map(lambda v: f"{v:.3f}").reset_index()
    cal = calibration_frame(summary)
    cal["预测辍学率"] = cal["预测辍学率"].map("{:.4%}".format)
    cal["实际辍学率"] = cal["实际辍学率"].map("{:.4%}".format)
    cal["人数"] = cal["人数"].map("{:.0f}".format)
    return [
        f"## 时间验证（{'、'.join(summary['test_terms'])}，每学期只用此前的学期训练）",
        "",
        f"最后一个检验学期 {last} 的结果，方括号内为95%自助法置信区间；"
        "名单精确率和召回率按各县的实际名单容量计算，同分者按其记录本身的取值排序（固定且不偏向任何人）。"
        "最后一列是同一批学生、同一组自助样本上本模型与该模型ROC-AUC之差及其95%区间："
        "区间不含0，才说明本模型确实更好；两个模型各自的区间相互重叠并不等于二者没有差别。",
        "",
        _table(metrics_table(summary)),
        "",
        "各检验学期的ROC-AUC：",
        "",
        _table(by_term),
        "",
        f"## 校准（{last}）",
        "",
        _table(cal),
        "",
    ]


def _county_section(summary: dict, val: Validation, county: str) -> list[str]:
    last = summary["last_test_term"]
    pr = val.predictions
    p = pr[(pr["model"] == val.main) & (pr["term"] == last) & (pr["county_code"] == county)]
    hits = int((p["listed"] & (p["dropout"] == 1)).sum())
    lst, pos = int(p["listed"].sum()), int((p["dropout"] == 1).sum())
    li = summary["lists"].get(county, {})
    return [
        "## 本县名单",
        "",
        f"- 名单容量：{summary['capacity'].get(county, 0)}人；本学期红名单{li.get('red', 0)}人"
        f"（新进{li.get('new', 0)}人，保留{li.get('stayed', 0)}人），移出{li.get('left', 0)}人，"
        f"白名单共{li.get('white', 0)}人。",
        f"- {last}学期检验：名单{lst}人中{hits}人辍学，全县辍学{pos}人"
        + (f"，召回率{hits / pos:.1%}" if pos else "")
        + "。",
        "",
    ]


def _fairness_section(summary: dict, county: str | None) -> list[str]:
    out = [
        f"## 公平性审计（{summary['last_test_term']}，实际名单容量）",
        "",
        "各组的漏报率（FNR）、误报率（FDR）和精确率，以及与参照组（人数最多的组）之比；"
        "比值在0.8–1.25以外的标为“超出”。小组人数少时比值波动大，请结合人数阅读。",
        "",
    ]
    b = bias_frame(summary, county)
    if not b.empty:
        for c in ("漏报率", "误报率", "精确率", "漏报率比", "误报率比", "精确率比"):
            b[c] = b[c].map(lambda v: "—" if pd.isna(v) else f"{v:.2f}")
        b["0.8–1.25"] = b["0.8–1.25"].map({True: "超出", False: ""})
        out += [_table(b), ""]
    return out


_LIMITS = [
    "## 局限",
    "",
    "- 辍学率逐年下降，每学期辍学人数少（百人左右），指标的置信区间较宽。",
    "- 标签来自考勤月报：月报只有合计天数，短暂缺勤可能看不出；"
    "县和学校记录考勤的质量不同，会影响该县的分数。",
    "- 理由是模型中各特征的贡献（精确可加分解），说明“为什么排在前面”，不是辍学的原因；"
    "采取措施前须家访核实。",
    "- 模型学到的是过去的做法下谁辍学；结对包保等措施本身会降低名单上学生的辍学率，"
    "不应因此认为模型不准。",
    "",
]
