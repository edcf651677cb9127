"""Probabilistic linkage of person records (Splink, DuckDB backend), for any two tables.

A bureau links more registries than this project's six, so the linker takes two data
frames and a mapping of **column roles**, and returns scored pairs::

    from analysis.link.linker import link_frames
    pairs = link_frames(
        hukou_df, welfare_df,
        roles={"name": "姓名", "birth_date": "出生日期", "sex": "性别", "id_number": "身份证号"},
        right_roles={"name": "name", "birth_date": "dob", "sex": "sex", "address": "addr"},
    )

Roles (any subset; a role missing on either side is simply not compared):

========================  ===============================================================
``name``                  the person's name (clean: simplified, NFKC)
``alt_name``              another name of the same person (a school name of a minority
                          child, a former name); compared against the other side's names
``birth_date``            date
``sex``                   '男' / '女' (or any consistent coding)
``id_number``             resident ID number, 18 characters when valid
``id_partial``            the first 15 digits of an ID that Excel truncated
``student_no``            national student registry number
``guardian_name``         a parent's or guardian's name
``alt_guardian``          the other parent's name (a household record names both; the
                          registry names one guardian, the father or the mother)
``address``               an address as text
``county``                county code (weak evidence, and a blocking key)
``id``                    the record identifier (defaults to the frame's index)
========================  ===============================================================

How names are compared: DuckDB's string distances count bytes, not characters, so a Chinese
name is compared on its characters (exact) and on toneless pinyin (see
:mod:`analysis.link.names`): same pinyin (a homophone a clerk typed), pinyin within a
Jaro-Winkler distance (one syllable off), same surname and initials. A minority child may be
registered at school under a Han name: the name's "no match" level keeps a real m
probability learnt from data, so the other fields can still carry the link.

How the ID number is compared: exact; one edit (Damerau-Levenshtein 1: a typo or two
swapped digits; never 2, which matches siblings and neighbours born the same day); the
first 15 digits equal (an Excel-truncated ID against the full one).

Training is unsupervised (Fellegi-Sunter, by Splink): u probabilities from random pairs,
m probabilities by expectation maximisation on two blocks, each training the fields it does
not block on (a block on the birth date cannot learn the birth date's m).

Blocking (candidate pairs), each rule justified by the errors it survives:

1. same birth date and surname pinyin (survives any ID error, a wrong given name);
2. same first 15 ID digits (survives a wrong birth date column, a homophone surname,
   Excel truncation);
3. same registry number;
4. same full pinyin and county (survives a wrong birth date and a bad ID together);
5. same birth date and guardian's name, 6. same birth date and address (a minority child
   registered at school under a Han name shares no name key with its household record).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pyarrow as pa

from analysis.config import EngineConfig
from analysis.engine import scan  # noqa: F401 (the examples read clean tables)
from analysis.link.names import name_keys

ROLES = (
    "name",
    "alt_name",
    "birth_date",
    "sex",
    "id_number",
    "id_partial",
    "student_no",
    "guardian_name",
    "alt_guardian",
    "address",
    "county",
)

#: Columns of a prepared record table (see :func:`prepare_records`).
COLUMNS = (
    "unique_id",
    "name",
    "name_py",
    "alt_py",
    "surname_py",
    "initials",
    "birth_date",
    "sex",
    "id_number",
    "id15",
    "student_no",
    "guardian_py",
    "alt_guardian_py",
    "address",
    "county",
)


def _pinyin(s: pd.Series) -> pd.DataFrame:
    t = name_keys(pa.array(s.astype(object).where(s.notna(), None), pa.string()))
    return t.to_pandas(types_mapper=pd.ArrowDtype).astype(object).replace({np.nan: None})


def prepare_records(df: pd.DataFrame, roles: Mapping[str, str]) -> pd.DataFrame:
    """``df`` as a record table in the linker's columns (:data:`COLUMNS`): names with their
    pinyin keys, the birth date as a date, ID numbers with their 15-digit prefix. Columns
    whose role is not given are null.

    Parameters
    ----------
    df : the records.
    roles : role (:data:`ROLES`, and ``id``) -> column of ``df``.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    ValueError
        For an unknown role, a column that is not in ``df``, or record ids that are not unique.

    Examples
    --------
    >>> df = pd.DataFrame({"姓名": ["李丽"], "出生日期": ["2010-01-02"]})
    >>> prepare_records(df, {"name": "姓名", "birth_date": "出生日期"})[["name", "name_py", "birth_date"]]
      name name_py  birth_date
    0   李丽   li li  2010-01-02
    """
    unknown = set(roles) - set(ROLES) - {"id"}
    if unknown:
        raise ValueError(f"unknown role(s) {sorted(unknown)}; roles are {', '.join(ROLES)}")
    missing = [c for c in roles.values() if c not in df.columns]
    if missing:
        raise ValueError(f"column(s) {missing} not in the data frame")
    n = len(df)

    def col(role: str) -> pd.Series:
        if role in roles:
            s = df[roles[role]].reset_index(drop=True)
            return s.astype(object).where(s.notna(), None)
        return pd.Series([None] * n, dtype=object)

    out = pd.DataFrame(
        {
            "unique_id": (
                df[roles["id"]].reset_index(drop=True) if "id" in roles else pd.RangeIndex(n)
            ).astype(str)
        }
    )
    if not out["unique_id"].is_unique:
        dup = out["unique_id"][out["unique_id"].duplicated()].iloc[0]
        raise ValueError(f"record ids are not unique (e.g. {dup!r}): the 'id' role needs a key")
    name = col("name").map(lambda v: v.strip() if isinstance(v, str) and v.strip() else None)
    keys = _pinyin(name)
    out["name"] = name
    out["name_py"] = keys["pinyin"]
    out["surname_py"] = keys["surname"]
    out["initials"] = keys["initials"]
    out["alt_py"] = _pinyin(col("alt_name"))["pinyin"] if "alt_name" in roles else out["name_py"]
    out["alt_py"] = out["alt_py"].where(out["alt_py"].notna(), out["name_py"])
    bd = pd.to_datetime(col("birth_date"), errors="coerce")
    out["birth_date"] = bd.dt.date.astype(object).where(bd.notna(), None)
    out["sex"] = col("sex")
    ids = col("id_number").map(lambda v: v.strip().upper() if isinstance(v, str) else None)
    out["id_number"] = ids.where(ids.map(lambda v: bool(v)), None)
    prefix = ids.map(lambda v: v[:15] if isinstance(v, str) and len(v) == 18 else None)
    partial = col("id_partial").map(
        lambda v: v[:15] if isinstance(v, str) and len(v) >= 15 else None
    )
    out["id15"] = prefix.where(prefix.notna(), partial)
    out["student_no"] = col("student_no")
    out["guardian_py"] = _pinyin(col("guardian_name"))["pinyin"]
    out["alt_guardian_py"] = (
        _pinyin(col("alt_guardian"))["pinyin"] if "alt_guardian" in roles else None
    )
    out["address"] = col("address")
    out["county"] = col("county").map(lambda v: None if v is None else str(v))
    return out[list(COLUMNS)]


def _has(*cols: str) -> str:
    return " AND ".join(f'"{c}_l" IS NOT NULL AND "{c}_r" IS NOT NULL' for c in cols)


def comparisons() -> list:
    """The comparisons, as Splink comparison creators (levels from strongest to weakest)."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    names = '("name_py_l" = "alt_py_r" OR "alt_py_l" = "name_py_r" OR "alt_py_l" = "alt_py_r")'
    return [
        cl.CustomComparison(
            output_column_name="name",
            comparison_description="name: characters, pinyin, close pinyin, surname",
            comparison_levels=[
                cll.NullLevel("name_py"),
                cll.ExactMatchLevel("name"),
                cll.CustomLevel(
                    f'"name_py_l" = "name_py_r" OR {names}',
                    "same pinyin",
                    base_dialect_str="duckdb",
                ),
                cll.JaroWinklerLevel("name_py", 0.92),
                cll.CustomLevel(
                    '"surname_py_l" = "surname_py_r" AND "initials_l" = "initials_r"',
                    "same surname and initials",
                    base_dialect_str="duckdb",
                ),
                cll.ElseLevel(),
            ],
        ),
        cl.CustomComparison(
            output_column_name="birth_date",
            comparison_description="birth date: exact, within a month, within a year",
            comparison_levels=[
                cll.NullLevel("birth_date"),
                cll.ExactMatchLevel("birth_date"),
                cll.AbsoluteDateDifferenceLevel(
                    "birth_date", input_is_string=False, threshold=31, metric="day"
                ),
                cll.AbsoluteDateDifferenceLevel(
                    "birth_date", input_is_string=False, threshold=366, metric="day"
                ),
                cll.ElseLevel(),
            ],
        ),
        cl.ExactMatch("sex"),
        cl.CustomComparison(
            output_column_name="id_number",
            comparison_description="ID number: exact, one edit, first 15 digits",
            comparison_levels=[
                cll.CustomLevel(
                    '("id_number_l" IS NULL OR "id_number_r" IS NULL) '
                    'AND ("id15_l" IS NULL OR "id15_r" IS NULL)',
                    "null",
                    base_dialect_str="duckdb",
                ).configure(is_null_level=True),
                cll.ExactMatchLevel("id_number"),
                cll.DamerauLevenshteinLevel("id_number", 1),
                cll.ExactMatchLevel("id15"),
                cll.ElseLevel(),
            ],
        ),
        cl.ExactMatch("student_no"),
        cl.CustomComparison(
            output_column_name="guardian",
            comparison_description="guardian's name (pinyin), or the other parent's",
            comparison_levels=[
                cll.NullLevel("guardian_py"),
                cll.ExactMatchLevel("guardian_py"),
                cll.CustomLevel(
                    '"guardian_py_l" = "alt_guardian_py_r" '
                    'OR "alt_guardian_py_l" = "guardian_py_r"',
                    "the other parent",
                    base_dialect_str="duckdb",
                ),
                cll.ElseLevel(),
            ],
        ),
        cl.ExactMatch("address"),
        cl.ExactMatch("county"),
    ]


def blocking_rules() -> list:
    """Rules that generate candidate pairs (see the module docstring for why these)."""
    from splink import block_on

    return [
        block_on("birth_date", "surname_py"),
        block_on("id15"),
        block_on("student_no"),
        block_on("name_py", "county"),
        block_on("birth_date", "guardian_py"),
        block_on("birth_date", "address"),
    ]


def settings(link_type: str = "link_only"):
    from splink import SettingsCreator

    return SettingsCreator(
        link_type=link_type,
        comparisons=comparisons(),
        blocking_rules_to_generate_predictions=blocking_rules(),
        # Each link keeps its comparison levels (gamma_*), so a link can be explained.
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=False,
    )


def engine_settings(trained: dict, sql_dialect: str, link_type: str | None = None) -> dict:
    """The settings of :func:`settings` written for another SQL engine (``"spark"``), with the
    parameters of a model trained on DuckDB (``trained``: Splink's model JSON): the same
    comparisons, levels, m and u probabilities and prior, so every engine scores a pair
    the same. Training stays on DuckDB, where its random sampling is reproducible."""
    out = settings(link_type or trained["link_type"]).create_settings_dict(sql_dialect)
    out["probability_two_random_records_match"] = trained["probability_two_random_records_match"]
    by_name = {c["output_column_name"]: c for c in trained["comparisons"]}
    for comp in out["comparisons"]:
        levels = by_name[comp["output_column_name"]]["comparison_levels"]
        if len(levels) != len(comp["comparison_levels"]):
            raise ValueError(f"comparison {comp['output_column_name']!r} differs between models")
        for mine, theirs in zip(comp["comparison_levels"], levels, strict=True):
            for key in ("m_probability", "u_probability"):
                if key in theirs:
                    mine[key] = theirs[key]
    return out


def train(linker, seed: int = 2020) -> None:
    """u from random pairs; m by EM on two blocks that each leave other fields free."""
    from splink import block_on

    linker.training.estimate_probability_two_random_records_match(
        [block_on("birth_date", "name_py")], recall=0.95
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=seed)
    settings_obj = linker._settings_obj  # Splink has no public handle to restore it
    expected = [c.output_column_name for c in settings_obj.core_model_settings.comparisons]
    for block in (block_on("birth_date", "surname_py"), block_on("name_py", "county")):
        saved = settings_obj.core_model_settings.copy()
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(block)
        except ValueError as exc:
            # EM can drive a level's m to underflow when the level never occurs among
            # matches; the other block's estimates (or the defaults) stand for it. A failed
            # session leaves the comparisons it set aside (those of the blocking columns:
            # the name, the county) out of the model: put them back.
            settings_obj.core_model_settings = saved
            logging.getLogger(__name__).warning("EM on %s skipped: %s", block, exc)
    have = [c.output_column_name for c in settings_obj.core_model_settings.comparisons]
    if have != expected:
        raise RuntimeError(f"training lost comparisons: {sorted(set(expected) - set(have))}")


def _db_api(engine: EngineConfig | None = None):
    from splink.backends.duckdb import DuckDBAPI

    from analysis.engine import connect

    return DuckDBAPI(connection=connect(engine))


@contextmanager
def quiet_splink():
    """Splink's loggers at ERROR while the block runs, then as they were.

    Splink logs each training step, and warns about levels no training pair shows (an exact
    ID match between records that have no valid ID, by construction): these keep their
    default m and u. The figures that matter are in the stage's manifest. A caller's own
    logging settings are left as found.

    >>> import logging
    >>> logging.getLogger("splink").setLevel(logging.INFO)
    >>> with quiet_splink():
    ...     logging.getLogger("splink").level == logging.ERROR
    True
    >>> logging.getLogger("splink").level == logging.INFO
    True
    """
    import logging

    loggers = [logging.getLogger(n) for n in ("splink", "splink.internals")]
    before = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, before, strict=True):
            lg.setLevel(level)


def link_frames(
    left: pd.DataFrame,
    right: pd.DataFrame,
    roles: Mapping[str, str],
    right_roles: Mapping[str, str] | None = None,
    *,
    threshold: float = 0.99,
    best_only: bool = True,
    seed: int = 2020,
    engine: EngineConfig | None = None,
) -> pd.DataFrame:
    """Link the person records of ``left`` to those of ``right``.

    The model is trained on the two frames (no labels needed: u probabilities from random
    pairs, m by expectation maximisation).

    Parameters
    ----------
    left, right : the two tables of person records.
    roles : role (:data:`ROLES`, and ``id``) -> ``left``'s column.
    right_roles : the same for ``right`` (default: ``roles``).
    threshold : the smallest match probability kept.
    best_only : each left record keeps only its best right record (ties: the smaller id),
        which is what "who is this person in the other registry" needs.
    seed : the seed of the random sample of pairs.
    engine : DuckDB's threads, memory limit and spill folder (default: the packaged
        configuration's ``engine``).

    Returns
    -------
    pandas.DataFrame
        ``id_l`` (a ``left`` record's id), ``id_r``, ``match_weight`` (log2 Bayes factor) and
        ``match_probability``, at or above ``threshold``.

    Examples
    --------
    >>> from analysis.engine import connect
    >>> con = connect()
    >>> rows = "*, '530424' AS county, source_file || ':' || source_row AS rid"
    >>> x = con.execute(f"SELECT {rows} FROM {scan(prefecture.table('xueji'))} "
    ...                 "WHERE source_file LIKE '%530424%2020-1%'").df()
    >>> h = con.execute(f"SELECT {rows} FROM {scan(prefecture.table('hukou'))} "
    ...                 "WHERE source_file LIKE '%530424%2020%'").df()
    >>> common = dict(id="rid", name="name", birth_date="birth_date", sex="sex",
    ...               id_number="id_number", address="hukou_address", county="county")
    >>> from analysis.config import default_config
    >>> one_thread = default_config().with_("engine", threads=1).engine
    >>> pairs = link_frames(x, h, common, engine=one_thread)
    >>> len(pairs) > 0.9 * len(x)
    True
    >>> bool(pairs["id_l"].is_unique and (pairs["match_probability"] >= 0.99).all())
    True
    >>> con.close()
    """
    with quiet_splink():
        return _link_frames(left, right, roles, right_roles, threshold, best_only, seed, engine)


def _link_frames(left, right, roles, right_roles, threshold, best_only, seed, engine):
    from splink import Linker

    a = prepare_records(left, roles)
    b = prepare_records(right, right_roles or roles)
    db = _db_api(engine)
    sa, sb = db.register(a, table_name="l_records"), db.register(b, table_name="r_records")
    linker = Linker([sa, sb], settings("link_only"))
    train(linker, seed)
    pred = linker.inference.predict(threshold_match_probability=threshold).as_pandas_dataframe()
    pairs = oriented_pairs(pred, "l_records")
    return best_match(pairs) if best_only else pairs


def best_match(pairs: pd.DataFrame) -> pd.DataFrame:
    """Each ``id_l``'s pair of highest match weight (ties: the smaller ``id_r``), so the result
    does not depend on the order Splink returned the pairs in.

    >>> pairs = pd.DataFrame({"id_l": ["a", "a", "b"], "id_r": ["y", "x", "z"],
    ...                       "match_weight": [3.0, 3.0, 1.0], "match_probability": [0.9, 0.9, 0.6]})
    >>> best_match(pairs)[["id_l", "id_r"]].values.tolist()
    [['a', 'x'], ['b', 'z']]
    """
    if pairs.empty:
        return pairs.reset_index(drop=True)
    return (
        pairs.sort_values(["id_l", "match_weight", "id_r"], ascending=[True, False, True])
        .drop_duplicates("id_l")
        .reset_index(drop=True)
    )


def oriented_pairs(pred: pd.DataFrame, left_name: str) -> pd.DataFrame:
    """Splink's pairs (``unique_id_l``/``_r`` in either order) with the record of the input
    table registered as ``left_name`` always in ``id_l``.

    >>> pred = pd.DataFrame({"unique_id_l": ["p1"], "unique_id_r": ["e1"],
    ...                      "source_dataset_l": ["persons"], "match_weight": [9.0],
    ...                      "match_probability": [0.998]})
    >>> oriented_pairs(pred, "entities")[["id_l", "id_r"]].values.tolist()
    [['e1', 'p1']]
    """
    if pred.empty:
        return pd.DataFrame(columns=["id_l", "id_r", "match_weight", "match_probability"])
    swap = pred["source_dataset_l"] != left_name
    return pd.DataFrame(
        {
            "id_l": pred["unique_id_l"].where(~swap, pred["unique_id_r"]).astype(str),
            "id_r": pred["unique_id_r"].where(~swap, pred["unique_id_l"]).astype(str),
            "match_weight": pred["match_weight"].astype(float),
            "match_probability": pred["match_probability"].astype(float),
        }
    )
