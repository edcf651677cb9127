"""The intervention results as a report states them: per measure, the county's estimate
with its interval and one plain sentence of what it means and how sure we are.

A county's figure is its partially pooled estimate (its own data, borrowing strength from
the other counties as far as they agree; :mod:`analysis.effects.pooling`), beside its own
raw interval. The verdict is the effects stage's (有效, 有害, 无明显效果, 数据不足以判断);
the sentence only puts it in words. Dropout effects are in percentage points of a term's
dropout rate (negative: fewer dropouts); a persuasion step's effect is a hazard ratio of
returning (above 1: children come back sooner).

Examples
--------
>>> sentence("video_check", "pp", "无明显效果", -0.003, -0.02, 0.017, 0.1)
'视频核查：没有看到明显效果。每学期辍学率变化估计为-0.003个百分点（95%区间-0.020～+0.017），区间排除了大于0.1个百分点的作用。'
>>> sentence("persuasion_step4", "hazard ratio", "有效", 3.4, 2.7, 4.4, 0.1)
'司法程序：有效。进入这一步后，辍学儿童返校的速度约为之前的3.4倍（95%区间2.7～4.4倍），区间不含1，结论可靠。'
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.effects.figures import DESIGNS, MEASURES

#: The measures and estimands a county report shows, in order, with the design that
#: answers each (the prefecture's main estimate of each).
SHOWN = [
    ("did", "video_check", "ATT (simple)"),
    ("did", "boarding_subsidy", "ATT (simple)"),
    ("rd", "mentoring", "effect at cutoff"),
    ("aipw", "mentoring", "ATT"),
    ("cox", "persuasion_step2", "hazard_ratio"),
    ("cox", "persuasion_step3", "hazard_ratio"),
    ("cox", "persuasion_step4", "hazard_ratio"),
    ("placebo", "inspection", "ATT (simple)"),
]


def _interval(lo: float, hi: float, ratio: bool) -> str:
    if ratio:
        return f"{lo:.1f}～{hi:.1f}倍"
    return f"{lo:+.3f}～{hi:+.3f}".lstrip("+")


def sentence(
    measure: str, unit: str, verdict: str, est: float, lo: float, hi: float, smallest: float
) -> str:
    """One plain sentence about one estimate (see the module docstring).

    Parameters
    ----------
    measure : the measure's key (:data:`analysis.effects.figures.MEASURES`).
    unit : ``pp`` (percentage points of a term's dropout rate) or ``hazard ratio``.
    verdict : the effects stage's verdict.
    est, lo, hi : the estimate and its 95 % interval.
    smallest : the smallest effect that matters (points, or log hazard ratio).
    """
    name = MEASURES.get(measure, measure)
    ratio = unit == "hazard ratio"
    if est is None or pd.isna(est):
        return f"{name}：数据不足以判断。本县相关记录太少，无法估计。"
    interval = _interval(lo, hi, ratio)
    if ratio:
        what = f"进入这一步后，辍学儿童返校的速度约为之前的{est:.1f}倍（95%区间{interval}）"
        null = "1"
    else:
        what = f"每学期辍学率变化估计为{est:+.3f}个百分点（95%区间{interval}）".replace("为+", "为")
        null = "0"
    if verdict == "有效":
        return f"{name}：有效。{what}，区间不含{null}，结论可靠。"
    if verdict == "有害":
        return f"{name}：可能有害。{what}，区间不含{null}，需要查明原因。"
    if verdict == "无明显效果":
        bound = f"{np.exp(smallest):.2f}倍" if ratio else f"{smallest:g}个百分点"
        return f"{name}：没有看到明显效果。{what}，区间排除了大于{bound}的作用。"
    return f"{name}：数据不足以判断。{what}，区间太宽，既可能有效也可能无效。"


def prefecture_row(estimates: pd.DataFrame, design: str, measure: str, estimand: str):
    """The prefecture's estimate of one measure (the effects stage's ``estimates``, county
    ``all``): the row with the randomisation-inference interval where the design has one,
    else the analytic one (empty if none)."""
    p = estimates[
        (estimates["design"] == design)
        & (estimates["intervention"] == measure)
        & (estimates["estimand"] == estimand)
        & (estimates["county_code"] == "all")
    ]
    ri = p["interval"].fillna("").str.startswith("randomisation")
    return (p[ri] if ri.any() else p).head(1)


def county_effects(
    counties: pd.DataFrame, estimates: pd.DataFrame, county: str, smallest_pp: float,
    smallest_log_hr: float,
) -> pd.DataFrame:  # fmt: skip
    """The county's results of each measure in :data:`SHOWN`: its pooled estimate and
    interval, its own raw interval, the prefecture's, the verdict and the sentence.

    Parameters
    ----------
    counties : the effects stage's ``counties`` table (every county, pooled).
    estimates : its ``estimates`` table (for the prefecture's figure).
    county : the county code.
    smallest_pp, smallest_log_hr : the smallest effects that matter (the configuration's).
    """
    rows = []
    for design, measure, estimand in SHOWN:
        c = counties[
            (counties["design"] == design)
            & (counties["intervention"] == measure)
            & (counties["estimand"] == estimand)
            & (counties["county_code"].astype(str) == county)
        ]
        p = prefecture_row(estimates, design, measure, estimand)
        if c.empty and p.empty:
            continue
        ratio = design == "cox"
        unit = "hazard ratio" if ratio else "pp"
        smallest = smallest_log_hr if ratio else smallest_pp
        if len(c):
            r = c.iloc[0]
            est, lo, hi, verdict = r["pooled"], r["pooled_low"], r["pooled_high"], r["verdict"]
            own = (
                "—" if pd.isna(r["estimate"])
                else f"{r['estimate']:.3g}（{_interval(r['ci_low'], r['ci_high'], ratio)}）"
            )  # fmt: skip
        pr = p.iloc[0] if len(p) else None
        if c.empty:  # no county estimate (the county did not adopt it, or a placebo)
            own = "本县无单独估计"
            if pr is not None:
                est, lo, hi, verdict = pr["estimate"], pr["ci_low"], pr["ci_high"], pr["verdict"]
            else:
                est = lo = hi = np.nan
                verdict = "数据不足以判断"
        rows.append(
            {
                "措施": MEASURES.get(measure, measure),
                "方法": DESIGNS.get(design, design),
                "本县估计（综合各县）": "—" if c.empty or pd.isna(est)
                else f"{est:.3g}（{_interval(lo, hi, ratio)}）",
                "本县单独估计": own,
                "全市": "—" if pr is None or pd.isna(pr["estimate"])
                else f"{pr['estimate']:.3g}（{_interval(pr['ci_low'], pr['ci_high'], ratio)}）",
                "结论": verdict,
                "说明": ("（全市）" if c.empty else "")
                + sentence(measure, unit, verdict, est, lo, hi, smallest),
            }
        )  # fmt: skip
    return pd.DataFrame(rows)
