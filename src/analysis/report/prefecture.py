"""The prefecture's monthly report (月报) across counties, for the notebook
``notebooks/prefecture_report``: indicators, the three lists' counts of children still to
follow up, returns, red-list sizes, inspections against the plan, the measures' effects and
the model's fit in each county. Counts only: no child is named.

The **public version** (``public=True``) hides every count from 1 to ``privacy.small_cell
- 1`` (and one more cell where a hidden one could be recovered from the total;
:func:`analysis.privacy.suppress_small`), drops numerators and denominators from the rates,
and hides a rate whose shortfall (children not enrolled) is such a small count.

Examples
--------
>>> r = PrefectureReport(prefecture.data)
>>> counts = r.list_counts()
>>> counts.columns[:3].tolist(), bool((counts.iloc[:-1, 1:].sum() == counts.iloc[-1, 1:]).all())
(['县（市、区）', '红名单', '其中新进'], True)
>>> public = PrefectureReport(prefecture.data, public=True).list_counts()
>>> shown = public.iloc[:-1, 1:].apply(pd.to_numeric, errors="coerce")
>>> bool(shown.apply(lambda c: c.between(1, 4)).any().any())
False
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.config import Config
from analysis.effects.figures import DESIGNS
from analysis.layout import Layout
from analysis.privacy import suppress_small
from analysis.report import actions, display, indicators, monitoring
from analysis.report.effects import SHOWN, prefecture_row, sentence
from analysis.report.period import check_period, default_period, month_label
from analysis.report.sources import county_names, last_record_month, read_json
from analysis.report.texts import columns, t


@dataclass
class PrefectureReport:
    """The prefecture's report for one period (see the module docstring)."""

    data_dir: str | Path
    period: str | None = None
    lang: str = "zh"
    public: bool = False
    config: Config | None = None
    layout: Layout = field(init=False)

    def __post_init__(self):
        self.layout = Layout(self.data_dir)
        self.config = self.config or Config.load()
        self.names = county_names(self.layout)
        last = last_record_month(self.layout)
        self.data_end = f"{last:%Y-%m}" if last else "—"
        self.period = check_period(self.period) if self.period else default_period(last)
        self.model_summary = read_json(self.layout.model_json)
        self.small = self.config.privacy.small_cell

    def header(self) -> str:
        key = "public_title" if self.public else "prefecture_title"
        name = self.config.report.prefecture_name
        meta = t(
            "meta", self.lang, month=month_label(self.period, self.lang),
            data_end=self.data_end, term=self.model_summary["listed_term"],
        )  # fmt: skip
        out = display.heading(t(key, self.lang, name=name), 1, meta)
        if self.public:
            out += display.box(t("suppressed", self.lang, k=self.small), "note")
        if self.lang == "en":
            out += display.paragraph(t("english_note", "en"))
        return out

    # ---- counts -------------------------------------------------------------------------
    def list_counts(self) -> pd.DataFrame:
        """Per county and for the prefecture: red list and its new entries, children of
        each comparison list still to follow up, and the last term's returns (read once:
        the overview and the figure show the same table)."""
        if not hasattr(self, "_counts"):
            self._counts = self._list_counts()
        return self._counts.copy()

    def _list_counts(self) -> pd.DataFrame:
        ind = read_json(self.layout.indicators)
        mon = pd.DataFrame(ind["monitoring"]).astype({"county_code": str})
        last_term = mon["term"].max() if len(mon) else None
        lists = self.model_summary.get("lists", {})
        rows = []
        for code, name in self.names.items():
            f = actions.follow_up(self.layout, code, self.period)
            on = f["lists"].fillna("")
            returns = mon[(mon["county_code"] == code) & (mon["term"] == last_term)]["returns"]
            rows.append(
                {
                    "县（市、区）": name,
                    "红名单": int(lists.get(code, {}).get("red", 0)),
                    "其中新进": int(lists.get(code, {}).get("new", 0)),
                    "仍需跟进": len(f),
                    "名单1 未入学": int(on.str.contains("1").sum()),
                    "名单2 辍学未返校": int(on.str.contains("2").sum()),
                    "名单3 贫困家庭": int(on.str.contains("3").sum()),
                    f"{last_term}返校": int(returns.sum()) if len(returns) else 0,
                }
            )
        out = pd.DataFrame(rows)
        total = (
            out.drop(columns="县（市、区）").sum().to_frame().T.assign(**{"县（市、区）": "全市"})
        )
        out = pd.concat([out, total[out.columns]], ignore_index=True)
        if self.public:
            counts = [c for c in out.columns if c != "县（市、区）"]
            body = suppress_small(out.iloc[:-1], counts, threshold=self.small, by=[])
            body[counts] = body[counts].astype(object).where(body[counts].notna(), f"<{self.small}")
            out = pd.concat([body, out.iloc[-1:]], ignore_index=True)
        return out

    def indicators(self) -> tuple[pd.DataFrame, list[str]]:
        """The latest enrolment and consolidation rates of every county (see
        :func:`analysis.report.indicators.prefecture_table`); rates only in the public
        version, a rate hidden where its shortfall is a small count."""
        ind = read_json(self.layout.indicators)
        table, notes = indicators.prefecture_table(ind, self.names)
        if not self.public:
            return table, notes

        def public(text: str) -> str | None:
            if text == "—" or "（" not in text:
                return text
            rate, rest = text.split("（", 1)
            num, den = (int(x.replace(",", "")) for x in rest.rstrip("）").split("/"))
            return "—" if 0 < abs(den - num) < self.small else rate

        return table.set_index("县（市、区）").map(public).reset_index(), notes

    def inspections(self) -> pd.DataFrame:
        """Junior-middle schools inspected in the last cycle against the plan, per county."""
        cfg = self.config.report
        d = actions.inspections_done(
            self.layout, self.period,
            per_month=cfg.inspections_per_month, cycle=cfg.inspection_cycle_months,
        )  # fmt: skip
        out = pd.DataFrame(
            {
                "县（市、区）": d["county_code"].map(self.names),
                "初中学校": d["junior_schools"],
                "督查期间": d["months"],
                "计划督查（所次）": d["required"],
                "实际督查（所次）": d["visits"],
                "覆盖学校": d["schools_visited"],
                "覆盖率": (100 * d["share_visited"]).map(
                    lambda v: "—" if pd.isna(v) else f"{v:.0f}%"
                ),
                "完成情况": np.where(
                    (d["visits"] >= d["required"]) & (d["schools_visited"] >= d["junior_schools"]),
                    "完成",
                    "未完成",
                ),
            }
        )
        return out

    def effects(self) -> pd.DataFrame:
        """The prefecture's estimate of each measure with its sentence."""
        est = pd.read_parquet(self.layout.effects_table("estimates"))
        cfg = self.config.effects
        rows = []
        for design, measure, estimand in SHOWN:
            p = prefecture_row(est, design, measure, estimand)
            if p.empty:
                continue
            r = p.iloc[0]
            ratio = design == "cox"
            rows.append(
                {
                    "措施": sentence(measure, "", "", np.nan, 0, 0, 0).split("：")[0],
                    "方法": DESIGNS.get(design, design),
                    "结论": r["verdict"],
                    "说明": sentence(
                        measure, "hazard ratio" if ratio else "pp", r["verdict"], r["estimate"],
                        r["ci_low"], r["ci_high"],
                        cfg.smallest_log_hr if ratio else cfg.smallest_effect_pp,
                    ),
                }
            )  # fmt: skip
        return pd.DataFrame(rows)

    def model_fit(self) -> pd.DataFrame:
        """Per county: the last held-out term's dropouts against the expected, the AUC,
        and whether the model still fits (the monitoring panel's rule)."""
        pred = pd.read_parquet(
            self.layout.validation("predictions"),
            columns=["term", "model", "dropout", "score", "county_code"],
            filters=[("term", "==", self.model_summary["last_test_term"])],
        )
        rows = []
        for code, name in self.names.items():
            c = monitoring.term_checks(pred[pred["county_code"] == code])
            if c.empty:
                continue
            w, _ = monitoring.warnings_for(c, pd.DataFrame(), self.config.report)
            r = c.iloc[-1]
            rows.append(
                {
                    "县（市、区）": name,
                    "检验学期": r["term"],
                    "实际辍学": int(r["dropouts"]),
                    "预计辍学": round(float(r["expected"]), 1),
                    "AUC": "—" if pd.isna(r["auc"]) else f"{r['auc']:.2f}",
                    "模型适用": "需复核" if w else "适用",
                }
            )
        out = pd.DataFrame(rows)
        if self.public and len(out):
            out = suppress_small(out, ["实际辍学"], threshold=self.small, by=None)
        return out

    # ---- sections -----------------------------------------------------------------------
    def overview(self) -> str:
        counts, (ind, notes) = self.list_counts(), self.indicators()
        total = counts.iloc[-1]
        pref = ind.iloc[-1]
        lang = self.lang

        def rate(col: str) -> str:
            v = pref[col]
            return "—" if v is None or pd.isna(v) else str(v).split("（")[0]

        en = lang == "en"
        head = display.kpis(
            [
                ("primary enrolment" if en else "小学入学率", rate("小学学龄儿童入学率")),
                ("junior enrolment" if en else "初中入学率", rate("初中学龄人口入学率")),
                ("consolidation" if en else "巩固率", rate("九年义务教育巩固率")),
                ("red list" if en else "红名单", f"{int(total['红名单'])}"),
                ("to follow up" if en else "仍需跟进", f"{int(total['仍需跟进'])}"),
            ]
        )
        return "\n".join(
            [
                head,
                display.heading(t("prefecture_counties", lang), 2),
                display.table_html(columns(ind, lang)),
                display.box(notes) if notes else "",
                display.heading(t("prefecture_lists", lang), 2),
                display.table_html(columns(counts, lang)),
            ]
        )

    def inspections_section(self) -> str:
        return display.heading(t("prefecture_inspections", self.lang), 2) + display.table_html(
            columns(self.inspections(), self.lang)
        )

    def effects_section(self) -> str:
        e = self.effects()
        return "\n".join(
            [
                display.heading(
                    t("prefecture_effects", self.lang), 2, t("effects_meta", self.lang)
                ),
                display.table_html(columns(e, self.lang), wrap=("说明", "what it means")),
            ]
        )

    def model_section(self) -> str:
        return display.heading(
            t("prefecture_model", self.lang), 2, t("prefecture_model_meta", self.lang)
        ) + (display.table_html(columns(self.model_fit(), self.lang)))
