"""The effects' figures, in Chinese, for officials and researchers: a forest plot per
measure (each county's own interval beside its partially pooled one), each policy's event
study, time to return per county, and the red list's discontinuity.

Chinese needs a CJK font: Noto Sans CJK comes with the package (the ``noto-cjk-sans-otc``
wheel) and is registered with matplotlib by :func:`use_chinese_font`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.layout import Layout

MEASURES = {
    "mentoring": "红名单结对帮扶",
    "video_check": "视频核查",
    "boarding_subsidy": "寄宿生生活补助提标",
    "inspection": "督查（安慰剂）",
    "persuasion_step2": "责令改正",
    "persuasion_step3": "行政处罚",
    "persuasion_step4": "司法程序",
}
DESIGNS = {
    "did": "双重差分",
    "rd": "断点回归",
    "aipw": "双稳健加权",
    "re-dropout": "返校生再辍学",
    "cox": "Cox 模型",
    "placebo": "安慰剂",
}


def use_chinese_font() -> None:
    """Register Noto Sans CJK with matplotlib and make it the sans-serif font."""
    import matplotlib as mpl
    from matplotlib import font_manager

    try:
        import noto_cjk_sans_otc

        font_manager.fontManager.addfont(str(noto_cjk_sans_otc.FONT_PATH))
        mpl.rcParams["font.sans-serif"] = ["Noto Sans CJK SC", "DejaVu Sans"]
    except ImportError:  # figures still draw; Chinese shows as boxes
        pass
    mpl.rcParams["axes.unicode_minus"] = False


def forest(rows: pd.DataFrame, title: str, xlabel: str, names: dict, log: bool = False):
    """Each county's raw 95 % interval (grey) and its partially pooled one (colour), with
    the verdict written at the right."""
    import matplotlib.pyplot as plt

    r = rows.sort_values("county_code").reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(r) + 1.6))
    y = np.arange(len(r))[::-1]
    ok = r["estimate"].notna()
    ax.errorbar(r.loc[ok, "estimate"], y[ok] + 0.15,
                xerr=[r.loc[ok, "estimate"] - r.loc[ok, "ci_low"], r.loc[ok, "ci_high"] - r.loc[ok, "estimate"]],
                fmt="o", color="0.6", capsize=2, label="本县数据")  # fmt: skip
    ok = r["pooled"].notna()
    ax.errorbar(r.loc[ok, "pooled"], y[ok] - 0.15,
                xerr=[r.loc[ok, "pooled"] - r.loc[ok, "pooled_low"], r.loc[ok, "pooled_high"] - r.loc[ok, "pooled"]],
                fmt="s", color="#1f5fa8", capsize=2, label="部分合并（经验贝叶斯）")  # fmt: skip
    ax.axvline(1.0 if log else 0.0, color="0.3", lw=0.8, ls="--")
    ax.set_yticks(y, [names.get(c, c) for c in r["county_code"]])
    for yi, v in zip(y, r["verdict"], strict=True):
        ax.annotate(str(v), (1.01, yi), xycoords=("axes fraction", "data"), va="center", fontsize=9)
    if log:
        from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter

        ax.set_xscale("log")
        lo, hi = ax.get_xlim()
        ticks = [t for t in (0.25, 0.5, 1, 2, 4, 8, 16) if lo <= t <= hi]
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=11)
    # Below the axis: inside it would sit on the last county's intervals.
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1 - 0.25 / len(r)), ncol=2,
              fontsize=8, frameon=False)  # fmt: skip
    fig.tight_layout()
    return fig


def event_study(tidy: pd.DataFrame, title: str):
    """The dynamic aggregation: the effect by terms since adoption, with 95 % intervals."""
    import matplotlib.pyplot as plt

    d = tidy[(tidy["kind"] == "dynamic") & tidy["e"].notna()].sort_values("e")
    fig, ax = plt.subplots(figsize=(7, 3.6))
    pre = d["e"] < 0
    for part, colour in ((d[pre], "0.55"), (d[~pre], "#1f5fa8")):
        ax.errorbar(part["e"], part["att"], yerr=[part["att"] - part["ci_low"], part["ci_high"] - part["att"]],
                    fmt="o", color=colour, capsize=2)  # fmt: skip
    ax.axhline(0, color="0.3", lw=0.8)
    ax.axvline(-0.5, color="0.3", lw=0.8, ls=":")
    ax.set_xlabel("实施后的学期数（负数为实施前）")
    ax.set_ylabel("辍学率变化（百分点/学期）")
    ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig


def return_curves(curves: pd.DataFrame, names: dict):
    """Share returned by days since persuasion began, per county (the prefecture with
    its 95 % band)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    c = curves[curves["group"] == "all"]
    for county, g in c.groupby("county_code"):
        g = g.sort_values("day")
        if county == "all":
            ax.fill_between(
                g["day"], 1 - g["high"], 1 - g["low"], step="post", color="#1f5fa8", alpha=0.15
            )
            ax.step(
                g["day"], 1 - g["still_out"], where="post", color="#1f5fa8", lw=2.2, label="全市"
            )
        else:
            ax.step(g["day"], 1 - g["still_out"], where="post", lw=0.9, alpha=0.8, label=names.get(county, county))  # fmt: skip
    ax.set_xlim(0, 365)
    ax.set_ylim(0, 1)
    ax.set_xlabel("开始劝返后的天数")
    ax.set_ylabel("已返校比例")
    ax.set_title("劝返后返校时间（Kaplan–Meier，阴影为全市 95% 置信带）", fontsize=11)
    ax.legend(fontsize=7, ncol=2, frameon=False, loc="lower right")
    fig.tight_layout()
    return fig


def rd_plot(ledger: pd.DataFrame, bins: int = 30):
    """Dropout and mentoring by the score's distance from the cutoff (binned means),
    without the pupils tied at the cutoff (as the estimate)."""
    import matplotlib.pyplot as plt

    from analysis.effects.inputs import TIE_OFFSET

    d = ledger.dropna(subset=["running", "dropped_pp"])
    d = d[d["running"].abs() > 1.5 * TIE_OFFSET]  # the donut the estimate uses
    d = d[d["running"].abs() <= d["running"].abs().quantile(0.95)]
    edges = np.linspace(d["running"].min(), d["running"].max(), bins + 1)
    d = d.assign(bin=pd.cut(d["running"], edges, include_lowest=True))
    g = d.groupby("bin", observed=True).agg(x=("running", "mean"), y=("dropped_pp", "mean"),
                                            t=("treated", "mean"), n=("running", "size"))  # fmt: skip
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, col, label in ((a1, "t", "结对帮扶比例"), (a2, "y", "本学期辍学率（%）")):
        ax.scatter(g["x"], g[col], s=8 + 40 * g["n"] / g["n"].max(), color="#1f5fa8")
        ax.axvline(0, color="0.3", lw=0.8, ls="--")
        ax.set_xlabel("风险分值减去本县本学期红名单分数线")
        ax.set_ylabel(label)
    fig.suptitle("红名单分数线两侧", fontsize=11)
    fig.tight_layout()
    return fig


def draw_all(stage: Layout, est, counties, did, men, per, names: dict | None = None) -> list[str]:
    """Every figure into ``stage``'s effects folder; returns their file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    use_chinese_font()
    names = names or {}
    out: list[str] = []

    def save(fig, name: str) -> None:
        path = Path(stage.effects_figure(name))
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=130, bbox_inches="tight")
        plt.close(fig)
        out.append(path.name)

    if len(counties):
        for (design, inter, estimand), g in counties.groupby(
            ["design", "intervention", "estimand"]
        ):
            if g["estimate"].notna().sum() < 2 or (design == "aipw" and estimand != "ATT"):
                continue
            cox = design == "cox"
            title = f"{MEASURES.get(inter, inter)}：{DESIGNS.get(design, design)}（{estimand}）"
            xlabel = "返校风险比（>1 更快返校）" if cox else "辍学率变化（百分点/学期，负数为减少）"
            save(forest(g, title, xlabel, names, log=cox), f"forest_{design}_{inter}_{estimand}".replace(" ", "_").replace("(", "").replace(")", ""))  # fmt: skip
    for policy, d in did.items():
        save(event_study(d["result"].tidy(), f"{MEASURES.get(policy, policy)}：事件研究（全市）"), f"event_study_{policy}")  # fmt: skip
    if "curves" in per and len(per["curves"]):
        save(return_curves(per["curves"], names), "time_to_return")
    if "ledger" in men and len(men["ledger"]):
        save(rd_plot(men["ledger"]), "rd_mentoring")
    return out
