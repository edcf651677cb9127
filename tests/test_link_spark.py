"""The person index scored on Spark (the optional ``spark`` extra) against DuckDB: the same
persons, record for record, on the small prefecture."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyspark")

from analysis.config import default_config
from analysis.layout import Layout
from analysis.link.index import build_index

KEY = ["kind", "source_file", "source_sheet", "source_row"]


def test_spark_and_duckdb_put_every_record_with_the_same_person(linked, tmp_path):
    data, _, _ = linked
    salt = "5a" * 16
    link = default_config().link
    duck_out, spark_out = Layout(tmp_path / "duckdb"), Layout(tmp_path / "spark")
    duck = build_index(Layout(data), duck_out, salt, link)
    spark = build_index(Layout(data), spark_out, salt, dataclasses.replace(link, engine="spark"))
    a = pd.read_parquet(duck_out.person_index).sort_values(KEY)
    b = pd.read_parquet(spark_out.person_index).sort_values(KEY)
    assert len(a) == len(b) > 0
    assert (a[KEY].to_numpy() == b[KEY].to_numpy()).all()
    assert (a["person_id"].to_numpy() == b["person_id"].to_numpy()).all()
    assert (a["rule"].to_numpy() == b["rule"].to_numpy()).all()
    assert duck.stats["entities_matched"] == spark.stats["entities_matched"] > 0
    pa_, pb = a["match_probability"].to_numpy(), b["match_probability"].to_numpy()
    assert np.allclose(pa_, pb, equal_nan=True, atol=1e-9)
