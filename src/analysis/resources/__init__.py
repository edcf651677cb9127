"""Reference data kept as files: counties, townships, name material.

These are data, not code: a user extends them by editing the CSV/YAML files.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

import pandas as pd
import yaml

_HERE = files(__name__)


def load_counties() -> pd.DataFrame:
    """The nine county-level divisions of Yuxi with codes, legacy codes and world knobs.

    ``legacy_code`` and ``legacy_name`` are what a county was called before it was
    reorganised in ``legacy_until`` (江川县 became 江川区 in 2015, 澄江县 became 澄江市 in
    2019): ID numbers issued before then keep the old code, and old addresses the old name.
    """
    df = pd.read_csv(
        _HERE / "counties.csv",
        dtype={"legacy_code": "string", "legacy_until": "Int64"},
    )
    df["autonomous"] = df["autonomous"].astype(bool)
    return df


@cache
def legacy_county_codes() -> dict[str, str]:
    """Legacy county codes and the current code of each (``530421`` → ``530403``)."""
    c = load_counties().dropna(subset=["legacy_code"])
    return dict(zip(c["legacy_code"].astype(str), c["code"].astype(str), strict=True))


@cache
def legacy_county_names() -> dict[str, str]:
    """Legacy county names and the current name of each (``江川县`` → ``江川区``)."""
    c = load_counties().dropna(subset=["legacy_name"])
    return dict(zip(c["legacy_name"].astype(str), c["name"], strict=True))


def load_townships() -> pd.DataFrame:
    """Townships and streets (乡镇街道) per county, with a three-digit township code."""
    return pd.read_csv(_HERE / "townships.csv", dtype={"township_code": str})


@cache
def _names() -> dict:
    with (_HERE / "names.yaml").open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    # Identity mappings carry no variant: drop them.
    for key in ("homophones", "traditional"):
        data[key] = {k: v for k, v in data[key].items() if k != v}
    return data


def load_names() -> dict:
    """Surnames by ethnicity, given-name characters, homophone and traditional variant maps."""
    return _names()
