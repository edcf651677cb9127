"""The person index's probabilistic model (Splink, DuckDB backend): the comparisons,
blocking rules and training written for this project's registries and the errors they
show. A researcher linking other tables uses :func:`analysis.link.frames.link_frames`,
whose defaults are derived from the column roles instead.

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
from contextlib import contextmanager

import pandas as pd

from analysis.config import EngineConfig
from analysis.link.records import PREPARED

#: Columns of a record table of the person index (:func:`analysis.link.index._prepared`):
#: the researcher's prepared columns but the birth date's digits and the postcode.
COLUMNS = tuple(c for c in PREPARED if c not in ("birth_digits", "postcode"))


def _has(*cols: str) -> str:
    return " AND ".join(f'"{c}_l" IS NOT NULL AND "{c}_r" IS NOT NULL' for c in cols)


def comparisons() -> list:
    """The comparisons, as Splink comparison creators (levels from strongest to weakest).
    The ID number and the guardian are compared as the researcher's linker compares them
    (:func:`analysis.link.defaults.id_comparison`, :func:`~analysis.link.defaults.guardian_comparison`);
    the birth date without its digits' edit level, the address exactly (the registries
    write both from the same forms)."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    from analysis.link.defaults import guardian_comparison, id_comparison

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
        id_comparison(),
        cl.ExactMatch("student_no"),
        guardian_comparison(),
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
        # Each link keeps its partial match weights (mw_*, no values), so it can be explained.
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
    skipped = em_sessions(
        linker, [block_on("birth_date", "surname_py"), block_on("name_py", "county")]
    )
    for note in skipped:
        logging.getLogger(__name__).warning(note)


def rule_sql(rule) -> str:
    """A blocking rule's SQL: a string as it is, a Splink rule creator in DuckDB's dialect.

    >>> from splink import block_on
    >>> rule_sql(block_on("dob")), rule_sql("l.x = r.x")
    ('l."dob" = r."dob"', 'l.x = r.x')
    """
    if isinstance(rule, str):
        return rule
    return rule.get_blocking_rule("duckdb").blocking_rule_sql


def em_sessions(linker, blocks) -> list[str]:
    """Expectation maximisation on each block in turn; returns what was skipped.

    EM can drive a level's m to underflow when the level never occurs among the block's
    matches; the other blocks' estimates (or Splink's defaults) then stand for it. A failed
    session leaves the comparisons it set aside (those of the blocking columns) out of the
    model: they are put back as they were before it. Raises if a comparison is lost anyway.
    """
    settings_obj = linker._settings_obj  # Splink has no public handle to restore it
    expected = [c.output_column_name for c in settings_obj.core_model_settings.comparisons]
    skipped = []
    for block in blocks:
        saved = settings_obj.core_model_settings.copy()
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(block)
        except ValueError as exc:
            settings_obj.core_model_settings = saved
            skipped.append(f"EM on {rule_sql(block)!r} skipped: {exc}")
    have = [c.output_column_name for c in settings_obj.core_model_settings.comparisons]
    if have != expected:
        raise RuntimeError(f"training lost comparisons: {sorted(set(expected) - set(have))}")
    return skipped


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
