"""Tables that describe a synthetic prefecture, for the notebook and the command line."""

from __future__ import annotations

import pandas as pd

from analysis.labels import bilingual, label, labels
from analysis.layout import Layout
from analysis.resources import load_counties
from analysis.runs import read_manifest
from analysis.synth.params import SEED_TARGETS


def load_summary(layout: Layout) -> dict:
    """The truth summary written by ``analysis synth``."""
    summary = read_manifest(layout.truth_summary)
    if summary is None:
        raise FileNotFoundError(f"{layout.truth_summary} not found: run `analysis synth` first")
    return summary


def calibration_table(summary: dict) -> pd.DataFrame:
    """The seed report's figures next to this world's (counts scaled to the world's size)."""
    f = summary["fraction"]
    rows = []
    for key, seed in SEED_TARGETS.items():
        scaled = seed * f if key.endswith(("students", "returns_2019", "schools")) else seed
        rows.append(
            {"figure": key, "seed report (scaled)": scaled, "this world": summary["figures"][key]}
        )
    out = pd.DataFrame(rows)
    out["difference"] = out["this world"] - out["seed report (scaled)"]
    return out


def dropout_by_year_and_county(layout: Layout) -> pd.DataFrame:
    """True dropout events per 100 students at risk, by school year and county."""
    st = pd.read_parquet(
        layout.truth_table("student_terms"), columns=["term", "school_code", "at_risk", "dropped"]
    )
    st = st[st["at_risk"]]
    st["school_year"] = st["term"].str[:4].astype(int)
    suffix = st["school_code"].str[4:6]
    names = load_counties()
    by_suffix = dict(zip(names["code"].astype(str).str[-2:], names["short_name"], strict=True))
    st["county"] = suffix.map(by_suffix)
    # Two terms a year: a student's yearly risk is about the sum of the terms'.
    return (
        st.groupby(["school_year", "county"])["dropped"]
        .mean()
        .mul(200)
        .rename("dropout_per_100")
        .reset_index()
    )


def mess_table(layout: Layout) -> pd.DataFrame:
    """Realised counts of each kind of mess, per 1,000 raw rows."""
    return pd.read_parquet(layout.truth_table("mess_rates")).sort_values("count", ascending=False)


def summary_tables(summary: dict, layout: Layout) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """The synth stage's summary: the seed's figures next to this world's, and notes on
    the people, the raw files and the best achievable ranking."""
    f = summary["fraction"]
    rows = []
    for key in labels("seed_figures"):
        fmt = label("seed_figures", key, "format")
        target = summary["targets"][key]
        if key.endswith("schools") and f != 1:
            target = target * f
        rows.append(
            [
                bilingual("seed_figures", key),
                fmt.format(summary["figures"][key]),
                fmt.format(target),
            ]
        )
    seed_col = "seed report" + (" (scaled)" if f != 1 else "")
    title = f"Synthetic prefecture · scale {summary['scale']} (×{f:g}) · seed {summary['seed']}"
    c, auc = summary["counts"], summary["auc_true_probability"]
    notes = [
        f"People: {c['children']:,} children, {c['parents']:,} parents in {c['households']:,} "
        f"households. Dropout events 2016-2021: {c['dropouts']:,}; persuasion cases: "
        f"{c['persuasion_cases']:,}.",
        f"Raw extracts: {c['raw_files']} files, {c['raw_rows']:,} rows, {c['corrupted_values']:,} "
        "values messed up (kinds and rates in truth/mess_rates.parquet).",
        f"Best achievable risk ranking (AUC of the true probabilities): {auc['pooled']:.3f} "
        f"pooled, {auc['last_term']:.3f} in the last term.",
        f"Written to {layout.raw} and {layout.truth}"
        + (f" in {summary['seconds']:.0f} s." if "seconds" in summary else "."),
    ]
    return {title: pd.DataFrame(rows, columns=["figure", "this world", seed_col])}, notes
