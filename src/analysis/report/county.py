"""A county's monthly report (县级控辍保学月报), section by section, for the notebook
``notebooks/county_report`` to show: what to do first, the evidence after.

1. **Actions**: the red list, the children of the three lists still to follow up, next
   months' inspection plan (:mod:`analysis.report.actions`).
2. **Indicators**: this year against earlier years and the prefecture, with numerators and
   denominators (:mod:`analysis.report.indicators`).
3. **Effects**: each measure's result with its interval and a plain sentence
   (:mod:`analysis.report.effects`).
4. **The model**: its card's figures and the monitoring panel (:mod:`analysis.report.monitoring`).

Everything read about children is filtered to the county as it is read; ID numbers are
masked by the stages that wrote them. A method returns the frames it shows (``tables``),
so a researcher can take them into their own analysis.

Examples
--------
>>> r = CountyReport(prefecture.data, "530427")
>>> r.period > "2021", r.name
(True, '新平彝族傣族自治县')
>>> red = r.red_list_frame()
>>> red.columns[:3].tolist(), bool(red["身份证号"].str.contains(r"^\\d{6}\\*+\\w{4}$").all())
(['排名', '姓名', '身份证号'], True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import followup
from analysis.config import Config
from analysis.layout import Layout
from analysis.report import actions, display, effects, indicators, monitoring
from analysis.report.period import check_period, default_period, month_label
from analysis.report.sources import county_names, last_record_month, read_json
from analysis.report.texts import columns, t


@dataclass
class CountyReport:
    """The report of one county for one period (see the module docstring).

    Parameters
    ----------
    data_dir : the data folder (``data``).
    county : the six-digit county code (text: ``"530402"``).
    period : the report's month ``YYYY-MM`` (default: the month after the latest records).
    lang : ``zh`` or ``en``.
    config : the run's settings (default: the packaged ones).
    """

    data_dir: str | Path
    county: str
    period: str | None = None
    lang: str = "zh"
    config: Config | None = None
    layout: Layout = field(init=False)
    name: str = field(init=False)
    data_end: str = field(init=False)

    def __post_init__(self):
        self.county = str(self.county)
        self.layout = Layout(self.data_dir)
        self.config = self.config or Config.load()
        names = county_names(self.layout)
        if self.county not in names:
            raise ValueError(
                f"county {self.county!r} is not in the school roster "
                f"(its counties: {', '.join(sorted(names))})"
            )
        self.name = names[self.county]
        last = last_record_month(self.layout)
        self.data_end = f"{last:%Y-%m}" if last else "—"
        self.period = check_period(self.period) if self.period else default_period(last)
        self.model_summary = read_json(self.layout.model_json)

    # ---- header -------------------------------------------------------------------------
    def header(self) -> str:
        """The title and the line under it."""
        meta = t(
            "meta", self.lang, month=month_label(self.period, self.lang),
            data_end=self.data_end, term=self.model_summary["listed_term"],
        )  # fmt: skip
        out = display.heading(t("county_title", self.lang, name=self.name), 1, meta)
        if self.lang == "en":
            out += display.paragraph(t("english_note", "en"))
        return out

    def contents(self) -> str:
        """Links to the sections (the red list can be long)."""
        keys = ["red_list", "follow_up", "plan", "indicators", "effects", "model"]
        anchors = ["red", "follow", "plan", "indicators", "effects", "model"]
        return display.contents([(a, t(k, self.lang)) for a, k in zip(anchors, keys, strict=True)])

    # ---- 1. actions ---------------------------------------------------------------------
    def red_list_frame(self, key: bool = False) -> pd.DataFrame:
        """The red list as the report shows it (masked IDs, the coming term's school);
        ``key``: with ``person_id`` first (the ledger's 编号)."""
        red = actions.red_list(self.layout, self.county)
        school = red["school_name"].fillna("—")
        moved = (
            red["school_basis"].fillna("").str.startswith("升学") & red["last_school_name"].notna()
        )
        school = school.where(~moved, school + "（原" + red["last_school_name"].fillna("") + "）")
        out = pd.DataFrame(
            {
                "排名": red["rank_in_county"].astype(int),
                "姓名": red["name"],
                "身份证号": red["id_masked"],
                "年级": red["grade"].astype("Int64"),
                "学校（下学期）": school,
                "乡镇": red["township"],
                "责任单位": red["responsible_unit"],
                "主要原因": red["reasons"],
                "名单变化": red["change"],
                "风险": (100 * red["risk"]).map(lambda v: f"{v:.2f}%"),
                "最近跟进": self._last_follow_up(red["person_id"]),
            }
        )
        if not key:
            return out
        term = self.model_summary["listed_term"]
        return out.assign(person_id=red["person_id"], 学期=term)[["person_id", "学期", *out]]

    def follow_up_frame(self, key: bool = False) -> pd.DataFrame:
        """The children of the three lists still to follow up (``key``: with
        ``person_id``)."""
        f = actions.follow_up(self.layout, self.county, self.period)
        out = pd.DataFrame(
            {
                "姓名": f["name"],
                "身份证号": f["id_masked"],
                "性别": f["sex"],
                "乡镇": f["township"],
                "学校": f["school_name"],
                "责任单位": f["responsible_unit"],
                "名单": f["lists"],
                "类别": f["category"],
                "发现时间": f["since"],
                "劝返进展": f["case_step"],
                "证据": f["evidence"],
                "最近跟进": self._last_follow_up(f["person_id"]),
            }
        )
        return out.assign(person_id=f["person_id"])[["person_id", *out]] if key else out

    def _last_follow_up(self, person_ids: pd.Series) -> pd.Series:
        """The latest entry of a returned ledger for each child (empty if none)."""
        if not hasattr(self, "_latest"):
            self._latest = followup.latest(followup.read_followup(self.layout)).set_index(
                "person_id"
            )["最近跟进"]
        found = person_ids.map(self._latest).astype(object)
        return found.where(found.notna(), "").to_numpy()

    def invalid_ledger_entries(self) -> pd.DataFrame:
        """Entries of this county's returned ledgers that could not be used, by row."""
        bad = followup.invalid_entries(self.layout)
        mine = followup.file_counties(self.layout)
        mine = set(mine.loc[mine["county_code"] == self.county, "source_file"])
        return bad[bad["文件"].isin(mine)].reset_index(drop=True)

    def write_ledger(self, path: Path) -> None:
        """The county's follow-up ledger (:mod:`analysis.report.ledger`) to ``path``."""
        from analysis.report.ledger import write_ledger

        red, follow = self.red_list_frame(key=True), self.follow_up_frame(key=True)
        write_ledger(path, self.name, self.period, red, follow)

    def plan_frame(self) -> pd.DataFrame:
        """Next months' inspection plan."""
        cfg = self.config.report
        p = actions.inspection_plan(
            self.layout, self.county, self.period,
            per_month=cfg.inspections_per_month, cycle=cfg.inspection_cycle_months,
        )  # fmt: skip
        return pd.DataFrame(
            {
                "月份": p["month"],
                "学校": p["school_name"],
                "乡镇": p["township"],
                "在校生": p["pupils"],
                "预计辍学人数": p["expected_dropouts"].round(2),
                "红名单人数": p["red_listed"],
                "上次督查": pd.to_datetime(p["last_visit"]).dt.strftime("%Y-%m-%d"),
            }
        )

    def actions(self) -> str:
        """Section 1 as HTML."""
        lang = self.lang
        red, follow, plan = self.red_list_frame(), self.follow_up_frame(), self.plan_frame()
        new = int((red["名单变化"] == "新进").sum())
        n_plan = len(plan)
        next_month = plan["月份"].min() if n_plan else None
        first = int((plan["月份"] == next_month).sum()) if n_plan else 0
        plan_meta = t("plan_meta", lang, per=self.config.report.inspections_per_month, n=n_plan)
        head = display.kpis(
            [
                ("红名单" if lang == "zh" else "red list", f"{len(red)}"),
                ("其中新进" if lang == "zh" else "new", f"{new}"),
                ("仍需跟进" if lang == "zh" else "to follow up", f"{len(follow)}"),
                (
                    f"{next_month}督查" if lang == "zh" else f"inspections {next_month}",
                    f"{first}",
                ),
            ]
        )
        return "\n".join(
            [
                display.heading(t("actions", lang), anchor="actions"),
                self.contents(),
                head,
                display.heading(
                    t("red_list", lang), 3, t("red_list_meta", lang, n=len(red), new=new), "red"
                ),
                display.table_html(columns(red, lang), wrap=("主要原因", "main reasons")),
                display.heading(
                    t("follow_up", lang), 3, t("follow_up_meta", lang, n=len(follow)), "follow"
                ),
                display.table_html(columns(follow, lang), wrap=("证据", "evidence")),
                display.heading(t("plan", lang), 3, plan_meta, "plan"),
                display.table_html(columns(plan, lang)),
                self._invalid_section(),
            ]
        )

    def _invalid_section(self) -> str:
        bad = self.invalid_ledger_entries()
        if bad.empty:
            return ""
        return display.heading(
            t("invalid", self.lang), 3, t("invalid_meta", self.lang, n=len(bad))
        ) + display.table_html(columns(bad, self.lang))

    # ---- 2. indicators ------------------------------------------------------------------
    def indicators(self) -> str:
        """Section 2 as HTML."""
        ind = read_json(self.layout.indicators)
        lang = self.lang
        enrol, n1 = indicators.enrolment_table(ind, self.county)
        cons, n2 = indicators.consolidation_table(ind, self.county)
        mon = indicators.monitoring_table(ind, self.county)
        notes = n1 + n2
        return "\n".join(
            [
                display.heading(t("indicators", lang), anchor="indicators"),
                display.heading(t("enrolment", lang), 3),
                display.table_html(columns(enrol, lang)),
                display.heading(t("consolidation", lang), 3),
                display.table_html(columns(cons, lang)),
                display.box(notes) if notes else "",
                display.heading(t("monitoring", lang), 3),
                display.table_html(columns(mon, lang)),
            ]
        )

    def monitoring_counts(self) -> pd.DataFrame:
        """Suspected dropouts, dropouts and returns by term (for a figure)."""
        return indicators.monitoring_table(read_json(self.layout.indicators), self.county)

    # ---- 3. effects ---------------------------------------------------------------------
    def effects_frame(self) -> pd.DataFrame:
        cfg = self.config.effects
        return effects.county_effects(
            pd.read_parquet(self.layout.effects_table("counties")),
            pd.read_parquet(self.layout.effects_table("estimates")),
            self.county, cfg.smallest_effect_pp, cfg.smallest_log_hr,
        )  # fmt: skip

    def effects(self) -> str:
        """Section 3 as HTML: the table, then each sentence."""
        e = self.effects_frame()
        sentences = e["说明"].tolist() if len(e) else []
        return "\n".join(
            [
                display.heading(
                    t("effects", self.lang), 2, t("effects_meta", self.lang), "effects"
                ),
                display.table_html(columns(e.drop(columns="说明"), self.lang)),
                "".join(display.paragraph(s) for s in sentences),
            ]
        )

    # ---- 4. the model -------------------------------------------------------------------
    def term_checks(self) -> pd.DataFrame:
        """The monitoring panel's checks by held-out term (the county's own labels)."""
        pred = pd.read_parquet(
            self.layout.validation("predictions"),
            columns=["term", "model", "dropout", "score"],
            filters=[("county_code", "==", self.county)],
        )
        return monitoring.term_checks(pred)

    def drift(self) -> pd.DataFrame:
        """The drift of the model's most important inputs in the county."""
        from analysis.model.estimator import RiskModel

        m = RiskModel.load(self.layout.model_pickle)
        features = list(m.feature_names_in_)
        imp = pd.Series(m.feature_importances_, index=features)
        ft = pd.read_parquet(
            self.layout.features,
            columns=["term", *features],
            filters=[("county_code", "==", self.county)],
        )
        return monitoring.drift(
            ft, [str(t) for t in m.trained_on_], self.model_summary["listed_term"], imp,
            self.config.report.drift_features,
        )  # fmt: skip

    def model(self) -> str:
        """Section 4 as HTML: the card's figures, the checks, the verdict, the drift."""
        lang, cfg = self.lang, self.config.report
        s = self.model_summary
        m = pd.DataFrame(s["metrics"])
        last = m[(m["term"] == s["last_test_term"]) & (m["model"] == "risk_model")]
        auc_row = last[last["metric"] == "roc_auc"]
        lists = s.get("lists", {}).get(self.county, {})
        card = pd.DataFrame(
            {
                "项目": ["训练学期", "最近检验学期", "全市AUC（95%区间）", "本县名单人数", "本县新进"],
                "内容": [
                    f"{s['model']['trained_on'][0]}～{s['model']['trained_on'][-1]}",
                    s["last_test_term"],
                    "—" if auc_row.empty else
                    f"{auc_row['estimate'].iloc[0]:.3f}（{auc_row['lo'].iloc[0]:.3f}～{auc_row['hi'].iloc[0]:.3f}）",
                    str(lists.get("red", "—")),
                    str(lists.get("new", "—")),
                ],
            }
        )  # fmt: skip
        checks, shifts = self.term_checks(), self.drift()
        warnings, notices = monitoring.warnings_for(checks, shifts, cfg)
        if warnings:
            verdict = display.box(warnings, "warn")
        elif len(checks):
            c = checks.iloc[-1]
            auc = "—" if pd.isna(c["auc"]) else f"{c['auc']:.2f}"
            verdict = display.box(
                t("fits", lang, term=c["term"], k=int(c["dropouts"]), e=c["expected"], auc=auc),
                "ok",
            )
        else:
            verdict = ""
        shown = pd.DataFrame(
            {
                "检验学期": checks["term"],
                "学生数": checks["pupils"],
                "实际辍学": checks["dropouts"],
                "预计辍学": checks["expected"].round(1),
                "实际/预计": [
                    f"{o:.2f}（{lo:.2f}～{hi:.2f}）" if np.isfinite(o) else "—"
                    for o, lo, hi in zip(checks["oe"], checks["oe_low"], checks["oe_high"], strict=True)
                ],
                "AUC": [
                    "—" if pd.isna(a) else f"{a:.2f}（{lo:.2f}～{hi:.2f}）"
                    for a, lo, hi in zip(checks["auc"], checks["auc_low"], checks["auc_high"], strict=True)
                ],
            }
        ) if len(checks) else pd.DataFrame()  # fmt: skip
        drift = pd.DataFrame(
            {
                "输入": shifts["说明"],
                "训练时平均": shifts["reference_mean"].map(lambda v: f"{v:.3g}"),
                "现在平均": shifts["current_mean"].map(lambda v: f"{v:.3g}"),
                "PSI": shifts["psi"].round(3),
                "判断": shifts["psi"].map(lambda v: monitoring.reading(v, cfg)),
            }
        ) if len(shifts) else pd.DataFrame()  # fmt: skip
        return "\n".join(
            [
                display.heading(t("model", lang), 2, t("model_meta", lang), "model"),
                display.heading(t("card", lang), 3),
                display.table_html(card),
                display.heading(t("monitoring_panel", lang), 3),
                verdict,
                display.table_html(columns(shown, lang)),
                display.heading(t("drift", lang), 3),
                display.table_html(columns(drift, lang)),
                display.box(notices, "note") if notices else "",
            ]
        )
