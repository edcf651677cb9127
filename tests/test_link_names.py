"""Name keys for linking: homophones meet, different names stay apart."""

from __future__ import annotations

from importlib.resources import files

import pandas as pd
import pyarrow as pa
import yaml
from hypothesis import given
from hypothesis import strategies as st

from analysis.link.names import name_keys


def test_every_homophone_pair_the_synthetic_clerks_type_shares_its_pinyin():
    pairs = yaml.safe_load((files("analysis.resources") / "names.yaml").read_text("utf-8"))[
        "homophones"
    ]
    left = name_keys(pa.array([f"王{a}" for a in pairs])).column("pinyin").to_pylist()
    right = name_keys(pa.array([f"王{b}" for b in pairs.values()])).column("pinyin").to_pylist()
    assert left == right


def test_keys_of_han_minority_and_mixed_names():
    t = name_keys(pa.array(["李丽", "阿依·古丽", "张 三", "Tom李", None, ""])).to_pylist()
    assert t[0] == {"pinyin": "li li", "initials": "ll", "surname": "li"}
    assert t[1] == {"pinyin": "a yi gu li", "initials": "aygl", "surname": "a yi"}
    assert t[2]["pinyin"] == "zhang san"
    assert t[3]["pinyin"] == "tom li"
    assert t[4] == t[5] == {"pinyin": None, "initials": None, "surname": None}


def test_every_homophone_in_the_extracts_meets_its_true_name(small_data):
    """Each name the synthetic clerks typed with a homophone has its true name's pinyin."""
    from analysis.clean.names import normalize_names

    data_dir, _ = small_data
    corr = pd.read_parquet(data_dir / "truth" / "corruptions.parquet")
    homo = corr[corr["kind"] == "name_homophone"]
    assert len(homo) > 100
    typed = name_keys(normalize_names(pa.array(homo["raw"].tolist()))[0])
    true = name_keys(normalize_names(pa.array(homo["clean"].tolist()))[0])
    assert typed.column("pinyin").equals(true.column("pinyin"))
    assert (homo["raw"].to_numpy() != homo["clean"].to_numpy()).all()  # yet the text differs


def test_different_names_mostly_keep_different_keys(small_data):
    """On the small prefecture's people: pinyin merges only names that sound alike."""
    data_dir, _ = small_data
    names = pd.read_parquet(data_dir / "truth" / "persons.parquet", columns=["name"])["name"]
    distinct = names.drop_duplicates()
    keys = name_keys(pa.array(distinct.tolist())).column("pinyin").to_pandas()
    assert keys.notna().all()
    # Many characters share a reading, so distinct names share keys: about one in twenty here,
    # one in five at yuxi scale (377,221 names, 292,142 keys). Pinyin is one comparison
    # level beside the characters, never a key on its own.
    assert keys.nunique() >= 0.9 * len(distinct)


@given(st.lists(st.text(alphabet="李王张丽莉明铭·a ", max_size=6), max_size=20))
def test_keys_are_computed_per_value_whatever_the_batch(values):
    """A name's keys do not depend on the other names in the array."""
    together = name_keys(pa.array(values)).to_pylist()
    alone = [name_keys(pa.array([v])).to_pylist()[0] for v in values]
    assert together == alone
