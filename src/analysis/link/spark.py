"""Scoring record pairs with Splink's Spark backend (local pyspark, the ``spark`` extra).

The person index trains its model on DuckDB (reproducible sampling) and can score the
pairs on Spark instead, for a province or a nation that outgrows one machine:
``analysis.link.stage.link(..., engine="spark")``. The comparisons are written once, in
DuckDB's dialect, and translated by Splink (sqlglot); the m and u probabilities are the
DuckDB model's (:func:`analysis.link.linker.engine_settings`), so both engines give every
pair the same match probability and the index the same persons.

Needs Java (17 or later) and ``pip install -e '.[spark]'``. A local session starts in about
8 seconds; Spark pays off only where one machine no longer holds the data.
"""

from __future__ import annotations

import tempfile

import pandas as pd

from analysis.link.linker import COLUMNS, engine_settings

_SESSION = None


def session():
    """A local Spark session with Splink's similarity functions and a checkpoint folder
    (Splink's Spark backend needs both), made once per process."""
    global _SESSION
    if _SESSION is None:
        from pyspark.sql import SparkSession
        from splink.backends.spark import similarity_jar_location

        _SESSION = (
            SparkSession.builder.master("local[2]")
            .appName("analysis-link")
            .config("spark.jars", similarity_jar_location())
            .config("spark.sql.shuffle.partitions", "8")
            .config("spark.driver.memory", "4g")
            .config("spark.ui.enabled", "false")
            .getOrCreate()
        )
        _SESSION.sparkContext.setLogLevel("ERROR")
        _SESSION.sparkContext.setCheckpointDir(tempfile.mkdtemp(prefix="analysis-spark-"))
    return _SESSION


def _frame(spark, df: pd.DataFrame):
    """A Spark frame of a prepared record table: strings, and the birth date as a date
    (an all-null column has no type Spark could infer)."""
    from pyspark.sql.types import DateType, StringType, StructField, StructType

    schema = StructType(
        [StructField(c, DateType() if c == "birth_date" else StringType(), True) for c in COLUMNS]
    )
    # Python objects with None for missing (pandas 3 strings hold NaN, which Spark would
    # read as the text 'nan'), the birth date as a date.
    data = df[list(COLUMNS)].astype(object)
    data = data.where(data.notna(), None)
    born = pd.to_datetime(df["birth_date"], errors="coerce")
    data["birth_date"] = [None if pd.isna(v) else v.date() for v in born]
    data = data.astype(object).where(data.notna(), None)
    rows = [
        tuple(
            None if v is None else (v if c == "birth_date" else str(v))
            for c, v in zip(COLUMNS, r, strict=True)
        )
        for r in data.itertuples(index=False, name=None)
    ]
    return spark.createDataFrame(rows, schema=schema)


def predict(
    trained: dict, tables: dict[str, pd.DataFrame], threshold: float, link_type: str
) -> pd.DataFrame:
    """Pairs at or above ``threshold`` among ``tables`` (name: prepared record table, one
    for a dedupe, two for a link), scored on Spark with the DuckDB model ``trained``;
    Splink's columns (``unique_id_l``, ``source_dataset_l``, ``match_probability`` ...)."""
    from splink import Linker
    from splink.backends.spark import SparkAPI

    spark = session()
    api = SparkAPI(spark_session=spark)
    inputs = [api.register(_frame(spark, df), table_name=name) for name, df in tables.items()]
    linker = Linker(
        inputs if len(inputs) > 1 else inputs[0],
        engine_settings(trained, "spark", link_type),
    )
    return linker.inference.predict(threshold_match_probability=threshold).as_pandas_dataframe()
