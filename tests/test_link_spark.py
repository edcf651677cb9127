"""The person index scored on Spark (the optional ``spark`` extra) against DuckDB: the same
persons, record for record, on the small prefecture."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyspark")

from analysis.clean.stage import clean
from analysis.link.index import build_index

KEY = ["kind", "source_file", "source_sheet", "source_row"]


def test_spark_and_duckdb_put_every_record_with_the_same_person(small_data, tmp_path):
    truth_dir, _ = small_data
    interim = tmp_path / "interim"
    clean(truth_dir / "raw", interim)
    salt = "5a" * 16
    duck = build_index(interim, tmp_path / "duckdb", salt)
    spark = build_index(interim, tmp_path / "spark", salt, engine="spark")
    a = pd.read_parquet(tmp_path / "duckdb" / "person_index.parquet").sort_values(KEY)
    b = pd.read_parquet(tmp_path / "spark" / "person_index.parquet").sort_values(KEY)
    assert len(a) == len(b) > 0
    assert (a[KEY].to_numpy() == b[KEY].to_numpy()).all()
    assert (a["person_id"].to_numpy() == b["person_id"].to_numpy()).all()
    assert (a["rule"].to_numpy() == b["rule"].to_numpy()).all()
    assert duck.stats["entities_matched"] == spark.stats["entities_matched"] > 0
    pa_, pb = a["match_probability"].to_numpy(), b["match_probability"].to_numpy()
    assert np.allclose(pa_, pb, equal_nan=True, atol=1e-9)
