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
    """The nine county-level divisions of Yuxi with codes, legacy codes and world knobs."""
    df = pd.read_csv(_HERE / "counties.csv", dtype={"legacy_code": "string"})
    df["autonomous"] = df["autonomous"].astype(bool)
    return df


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
