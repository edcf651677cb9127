"""The validation's summary, as frames: what the command line prints after
``analysis validate`` and a notebook can show."""

from __future__ import annotations

import pandas as pd

LIST_LABELS = {
    "not_enrolled": "1 not enrolled (失学, 缓学)",
    "suspected_and_dropouts": "2 suspected and dropouts",
    "dropouts": "2 dropouts (辍学)",
    "poverty": "3 poor households, out",
}


def clean_table(c: dict) -> pd.DataFrame:
    """The cleaning's figures against their targets."""
    return pd.DataFrame(
        [
            ["corrupted values repaired or quarantined",
             f"{100 * c['repaired_or_quarantined_share']:.2f} %", "≥ 99.5 %"],
            ["clean rows wrongly quarantined",
             f"{100 * c['clean_rows_wrongly_quarantined_share']:.3f} %", "≤ 0.1 %"],
            ["undetectable (valid-looking) corruptions", f"{c['undetectable_values']:,}", "reported"],
            ["silently wrong values", f"{c['silently_wrong_values']:,}", ""],
            ["footer and total rows recognised",
             f"{c.get('footer_rows_recognised', 0):,} of {c.get('footer_rows', 0):,}", "all"],
        ],
        columns=["measure", "value", "target"],
    )  # fmt: skip


def link_table(lk: dict) -> pd.DataFrame:
    """Pairwise precision and recall: all records, by identity error, by threshold."""
    pw = lk["pairwise"]
    rows = [["all", f"{pw['records']:,}", f"{pw['precision']:.6f}", f"{pw['recall']:.6f}",
             "≥ 0.995 / ≥ 0.99"]]  # fmt: skip
    rows += [
        [f"  with {g}", f"{v['records']:,}", f"{v['precision']:.6f}", f"{v['recall']:.6f}", ""]
        for g, v in lk["by_error"].items()
    ]
    rows += [
        [f"  probabilistic cut at {th}", "", f"{v['precision']:.6f}", f"{v['recall']:.6f}", ""]
        for th, v in lk["by_threshold"].items()
    ]
    return pd.DataFrame(rows, columns=["records", "n", "precision", "recall", "target"])


def indicators_table(lk: dict) -> pd.DataFrame:
    """The prefecture's 2020 rates from the raw files against the true ones."""
    rows = [
        [rate.replace("_", " "), f"{v['prefecture_2020']:.2f} %", f"{v['prefecture_2020_true']:.2f} %",
         f"{v['prefecture_2020_diff_points']:+.3f} points",
         f"{v['max_abs_diff_points_any_county_year']:.3f} points"]
        for rate, v in lk["indicators"].items()
    ]  # fmt: skip
    cons = lk.get("checks", {}).get("consolidation")
    if cons and "2020" in cons["prefecture"]:
        v = cons["prefecture"]["2020"]
        rows.append(
            ["consolidation rate", f"{v['ours']:.2f} %", f"{v['true']:.2f} %",
             f"{v['diff_points']:+.3f} points",
             f"{cons['max_abs_diff_points_any_county_year']:.3f} points"]
        )  # fmt: skip
    return pd.DataFrame(
        rows,
        columns=["rate", "prefecture 2020", "true", "difference", "largest, any county and year"],
    )


def lists_table(checks: dict) -> pd.DataFrame:
    """Each comparison list's precision and recall."""
    return pd.DataFrame(
        [
            [label, f"{checks[k]['listed']:,}", f"{checks[k]['true']:,}",
             f"{checks[k]['precision']:.4f}", f"{checks[k]['recall']:.4f}"]
            for k, label in LIST_LABELS.items()
        ],
        columns=["list", "listed", "true", "precision", "recall"],
    )  # fmt: skip


def model_table(model: dict) -> pd.DataFrame:
    """Per held-out term: true dropouts, our AUC and precision at the list against the
    true probabilities'."""
    return pd.DataFrame(
        [
            [term, str(v["true_dropouts"]), f"{v['roc_auc']:.3f}",
             f"{v['roc_auc_true_probability']:.3f}", f"{v['roc_auc_ratio']:.3f}",
             f"{v['precision_at_list']:.4f}", f"{v['precision_at_list_true_probability']:.4f}",
             "" if v["precision_ratio"] is None else f"{v['precision_ratio']:.2f}"]
            for term, v in model.items()
        ],
        columns=["term", "dropouts", "AUC", "AUC p_true", "ratio", "prec@list", "prec p_true",
                 "prec ratio"],
    )  # fmt: skip


def summary_tables(result: dict) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Every table of the validation, and the notes that read them."""
    tables: dict[str, pd.DataFrame] = {}
    notes: list[str] = []
    if "clean" in result:
        c = result["clean"]
        tables["Cleaning against the truth"] = clean_table(c)
        worst = sorted(c["by_kind"].items(), key=lambda kv: -kv[1].get("silently_wrong", 0))[:5]
        notes += [f"silently wrong, {k}: {v}" for k, v in worst if v.get("silently_wrong")]
    else:
        notes.append("Nothing to validate yet: run `analysis clean` first.")
    if "link" in result:
        lk = result["link"]
        tables["Linkage against the truth (pairwise)"] = link_table(lk)
        if "indicators" in lk:
            tables["Indicators from the raw files against the truth"] = indicators_table(lk)
        if "checks" in lk:
            tables["The three comparison lists against the truth"] = lists_table(lk["checks"])
    if "model" in result:
        tables["Risk model against the truth (held-out terms)"] = model_table(result["model"])
        notes += _model_notes(result["model"])
    if "effects" in result:
        tables["Effects against the true estimands (prefecture)"] = effects_table(result["effects"])
        t = result["effects"].get("targeting")
        if t:
            notes.append(
                f"Mentoring lists of {t['term']} ({t['capacity']} pupils): the risk list would "
                f"prevent {t['risk_list']['prevented']:.2f} dropouts a term, the benefit list "
                f"{t['benefit_list']['prevented']:.2f} (expected, from the true probabilities)."
            )
    return tables, notes


def effects_table(e: dict) -> pd.DataFrame:
    """Each prefecture-wide estimate beside its true value, and each design's coverage."""
    rows = [
        [f"{r['intervention']} ({r['design']})", r["estimand"], r["interval"][:24],
         f"{r['estimate']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]", f"{r['truth']:.3f}",
         "yes" if r["covered"] else "NO"]
        for r in e["prefecture"]
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=["measure", "estimand", "interval", "estimate", "truth", "covered"])  # fmt: skip


def _model_notes(model: dict) -> list[str]:
    last = model[max(model)]
    notes = [
        "p_true: the true probabilities, the best any model could do. Last term: "
        f"ECE {last['ece']:.4f}; baselines' AUC "
        + ", ".join(f"{k} {v:.3f}" for k, v in sorted(last["baselines_roc_auc"].items()))
    ]
    best = last.get("best_from_features")
    if best:
        notes.append(
            "Last term, precision as expected from p_true (ours over p_true's list): "
            f"{last['expected_precision_ratio']:.2f}. The best function of our features "
            f"(boosting fit to p_true itself): AUC {best['roc_auc']:.3f}, ratio "
            f"{best['roc_auc_ratio']:.3f}, expected precision ratio "
            f"{best['expected_precision_ratio']:.2f}: the rest of p_true is not in the records."
        )
    notes.append("targets on the last term: AUC ratio ≥ 0.97, precision ratio ≥ 0.90, ECE ≤ 0.01")
    return notes
