"""Tables that describe a synthetic prefecture, for the notebook and the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from analysis.resources import load_counties
from analysis.synth.params import SEED_TARGETS


def load_summary(data_dir: Path) -> dict:
    """The truth summary written by ``analysis synth``."""
    return json.loads((Path(data_dir) / "truth" / "summary.json").read_text(encoding="utf-8"))


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


def dropout_by_year_and_county(data_dir: Path) -> pd.DataFrame:
    """True dropout events per 100 students at risk, by school year and county."""
    st = pd.read_parquet(
        Path(data_dir) / "truth" / "student_terms.parquet",
        columns=["term", "school_code", "at_risk", "dropped"],
    )
    st = st[st["at_risk"]]
    st["school_year"] = st["term"].str[:4].astype(int)
    suffix = st["school_code"].str[4:6]
    names = load_counties()
    by_suffix = dict(zip(names["code"].astype(str).str[-2:], names["short_name"], strict=True))
    st["county"] = suffix.map(by_suffix)
    # Two terms a year: a student's yearly risk is about the sum of the terms'.
    out = (
        st.groupby(["school_year", "county"])["dropped"]
        .mean()
        .mul(200)
        .rename("dropout_per_100")
        .reset_index()
    )
    return out


def mess_table(data_dir: Path) -> pd.DataFrame:
    """Realised counts of each kind of mess, per 1,000 raw rows."""
    return pd.read_parquet(Path(data_dir) / "truth" / "mess_rates.parquet").sort_values(
        "count", ascending=False
    )
