"""Probabilistic linkage of any two tables of person records, or deduplication of one, by
**column roles** (Splink, DuckDB backend)::

    from analysis.link import link_frames
    result = link_frames(welfare, school, roles={"name": "姓名", "birth_date": "出生日期",
                                                 "id_number": "身份证号"})
    result.pairs            # id_l, id_r, match_weight, match_probability, found_by
    result.clusters         # every record with its cluster
    result.diagnostics()    # blocking coverage, m and u per level, the weights' histogram
    result.explain("a17", "b203")        # why this pair scored as it did: table and chart
    result.save_model("model.json")      # Splink's JSON; link_frames(..., model=path) reuses it

Roles (any subset; a role missing on either side is not compared). A role names one
column, or a list of columns joined with spaces (``address=["street_number", "address_1",
"suburb"]``):

========================  ===============================================================
``name``                  the person's whole name, in any script
``given_name``,           the parts of the name, when the table keeps them apart (joined
``surname``               into the whole name; the surname is a blocking key)
``alt_name``              another name of the same person (a school name, a former name)
``birth_date``            a date, or text a date parser reads (``19560409``, ``2010-01-02``)
``sex``                   any consistent coding
``id_number``             an identity number of any format and length
``id_partial``            the first 15 digits of an 18-digit ID that Excel truncated
``student_no``            another identifier (a registry number)
``guardian_name``,        a parent's name; the other parent's
``alt_guardian``
``address``               an address as text
``postcode``              a postal code
``county``                an area code (weak evidence, and a blocking key)
``id``                    the record identifier (default: the frame's index)
========================  ===============================================================

**Defaults derived from the roles** (:func:`default_comparisons`, :func:`default_blocking`,
:func:`default_training`):

* names are compared on keys that survive the script: Chinese characters as toneless
  pinyin, other scripts lower-cased with accents removed and their words put in order, so
  ``Smith John`` and ``john smith`` are the same name (order-free); levels: the same
  characters, the same key, close keys (Jaro-Winkler 0.92, then 0.80), the same surname
  and initials;
* an ID of any length: exact, one edit (a typo or two swapped digits), the same first 15
  digits (a truncated 18-digit ID);
* a birth date: exact, one edit in its digits (a typo), within a month, within a year;
* an address fuzzily (exact, Jaro-Winkler 0.85); a postcode exact or one edit;
* blocking on every identifier, on the birth date with the surname and with the name's
  initials, on the name with the area, and on the birth date with the address, postcode
  or guardian. A rule that would make more than ``max_pairs_per_rule`` pairs is left out
  and the diagnostics say so.

**Training** is unsupervised (Fellegi-Sunter, by Splink): the share of pairs that match
from rules that are nearly always right, u probabilities from random pairs, m probabilities
by expectation maximisation on two blocks, one on the birth date (it learns the names) and
one on the place or the name (it learns the birth date); a block too large for this data
is narrowed.

**Threshold.** By default a pair is linked when the fitted model gives it a match
probability of at least one half: the model's own Bayes decision, from its m and u
probabilities and its estimate of how many pairs match in these data, not a number tuned
on other data. ``threshold=`` overrides it.

Everything is in Splink's own terms: pass ``blocking_rules`` (``block_on(...)`` or SQL
strings on ``l.`` and ``r.``), ``comparisons`` (Splink comparison objects on the prepared
columns, :data:`PREPARED`, or on ``keep`` columns carried through), ``training_blocks``,
``prior_rules``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from analysis.config import EngineConfig
from analysis.link.defaults import (
    default_blocking,
    default_comparisons,
    default_prior_rules,
    default_training,
    present,
)
from analysis.link.linker import _db_api, em_sessions, quiet_splink, rule_sql
from analysis.link.records import PREPARED, ROLES, prepare_records

__all__ = ["PREPARED", "ROLES", "count_pairs", "link_frames", "prepare_records", "u_pairs"]

log = logging.getLogger(__name__)


def count_pairs(con, tables: list[str], cols: tuple[str, ...]) -> int:
    """The candidate pairs a rule equating ``cols`` makes (records with a null in any of
    them make none): from the sizes of its blocks, without making the pairs.

    >>> import duckdb
    >>> con = duckdb.connect()
    >>> _ = con.execute("CREATE TABLE t AS SELECT * FROM (VALUES ('a'), ('a'), ('a'), ('b'), (NULL)) v(k)")
    >>> count_pairs(con, ["t"], ("k",)), count_pairs(con, ["t", "t"], ("k",))
    (3, 10)
    """
    keys = ", ".join(f'"{c}"' for c in cols)
    ok = " AND ".join(f'"{c}" IS NOT NULL' for c in cols)
    sizes = [f"SELECT {keys}, count(*) AS n FROM {t} WHERE {ok} GROUP BY ALL" for t in tables]
    if len(tables) == 1:
        sql = f"SELECT coalesce(sum(n * (n - 1) / 2), 0) FROM ({sizes[0]})"
    else:
        sql = (
            f"SELECT coalesce(sum(a.n * b.n), 0) FROM ({sizes[0]}) a "
            f"JOIN ({sizes[1]}) b USING ({keys})"
        )
    return int(con.execute(sql).fetchall()[0][0])


def _load_model(model) -> dict:
    import json

    if isinstance(model, dict):
        return model
    path = Path(model)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"model: cannot read a Splink model from {path} ({exc})") from None


def link_frames(
    left: pd.DataFrame,
    right: pd.DataFrame | None = None,
    roles: Mapping | None = None,
    right_roles: Mapping | None = None,
    *,
    keep: Sequence[str] = (),
    model: dict | str | Path | None = None,
    comparisons: list | None = None,
    blocking_rules: list | None = None,
    training_blocks: list | None = None,
    prior_rules: list | None = None,
    prior_recall: float = 0.8,
    threshold: float | None = None,
    best_only: bool = True,
    dayfirst: bool = False,
    max_pairs_per_rule: float | None = None,
    em_max_pairs: float = 5e6,
    seed: int = 2020,
    engine: EngineConfig | None = None,
):
    """Link the person records of ``left`` to those of ``right``, or, without ``right``,
    find the records of ``left`` that are the same person (see the module docstring).

    Parameters
    ----------
    left, right : the tables of person records (``right=None``: deduplicate ``left``).
    roles : role -> ``left``'s column (or list of columns); ``right_roles``: the same for
        ``right`` (default ``roles``).
    keep : further columns (the same names on both sides) carried into the prepared
        records, for your own comparisons and blocking rules.
    model : a trained Splink model (its JSON as a dict, or a path): no training, the same
        scores as the run that saved it (:meth:`LinkResult.save_model`).
    comparisons, blocking_rules, training_blocks, prior_rules : Splink's own objects
        (comparisons on :data:`PREPARED` columns, ``block_on(...)`` or SQL): each replaces
        the default derived from the roles. ``training_blocks`` are used as given (not
        narrowed); ``prior_recall``: the share of matches ``prior_rules`` are taken to find.
    threshold : the smallest match probability linked (default: 0.5, the model's own
        decision; see the module docstring).
    best_only : linking two tables, each left record keeps only its best right record
        (ties: the smaller id): "who is this person in the other table".
    dayfirst : read an ambiguous text date (03/04/2010) day first (3 April), as most of
        the world writes it; default month first. Unambiguous forms (2010-04-03,
        20100403, 2010年4月3日 after cleaning) read the same either way.
    max_pairs_per_rule : a default blocking rule making more pairs is left out (default:
        100 per record, at least two million). ``em_max_pairs``: the most pairs of a
        training block.
    seed : the seed of the random pairs that estimate u.
    engine : DuckDB's threads, memory limit and spill folder.

    Returns
    -------
    LinkResult

    Examples
    --------
    >>> people = pd.DataFrame({
    ...     "name": ["Ann Lee", "Bob Stone", "Cai Wen", "Dee Moss"] * 50,
    ...     "dob": pd.date_range("1990-01-01", periods=200, freq="17D").astype(str),
    ...     "pc": [f"{2000 + i % 37}" for i in range(200)]})
    >>> other = people.assign(name=people["name"].str.split().str[::-1].str.join(" "))
    >>> r = link_frames(people, other, roles={"name": "name", "birth_date": "dob",
    ...                                        "postcode": "pc"})
    >>> len(r.pairs), bool((r.pairs["id_l"] == r.pairs["id_r"]).all())
    (200, True)
    """
    if roles is None:
        raise ValueError("roles: say which column is the name, the birth date ... (see ROLES)")
    with quiet_splink():
        return _link(
            left, right, roles, right_roles, keep, model, comparisons, blocking_rules,
            training_blocks, prior_rules, prior_recall, threshold, best_only, dayfirst,
            max_pairs_per_rule, em_max_pairs, seed, engine,
        )  # fmt: skip


def _link(left, right, roles, right_roles, keep, model, comparisons, blocking_rules,
          training_blocks, prior_rules, prior_recall, threshold, best_only, dayfirst,
          max_pairs_per_rule, em_max_pairs, seed, engine):  # fmt: skip
    from splink import Linker, SettingsCreator

    from analysis.link.result import LinkResult

    t0 = time.perf_counter()
    dedupe = right is None
    right_roles = right_roles or roles
    a = prepare_records(left, roles, keep, "left" if not dedupe else "records", dayfirst)
    b = None if dedupe else prepare_records(right, right_roles, keep, "right", dayfirst)
    link_type = "dedupe_only" if dedupe else "link_only"
    db = _db_api(engine)
    sdfs = [db.register(a, table_name="l_records")]
    if not dedupe:
        sdfs.append(db.register(b, table_name="r_records"))
    n = len(a) + (0 if dedupe else len(b))
    have = present(roles) if dedupe else present(roles, right_roles)
    notes: list[str] = []
    con = db._con
    tables = ["l_records"] if dedupe else ["l_records", "r_records"]  # registered above
    counts: dict[tuple, int] = {}

    def pairs_of(cols: tuple[str, ...]) -> int:
        if cols not in counts:
            counts[cols] = count_pairs(con, tables, cols)
        return counts[cols]

    if model is not None:
        settings = dict(_load_model(model))
        settings["link_type"] = link_type
        if blocking_rules is not None:
            settings["blocking_rules_to_generate_predictions"] = [
                {"blocking_rule": rule_sql(r)} for r in blocking_rules
            ]
        linker = Linker(sdfs if not dedupe else sdfs[0], settings)
        trained = False
    else:
        from splink import block_on

        cap = max_pairs_per_rule or max(2e6, 100 * n)
        rules = blocking_rules
        if rules is None:
            rules = []
            for cols in default_blocking(have):
                k = pairs_of(cols)
                if k > cap:
                    notes.append(
                        f"blocking on {' + '.join(cols)} left out: it would make {k:,} pairs "
                        f"(more than {cap:,.0f}); pass blocking_rules= to keep it"
                    )
                elif k:
                    rules.append(block_on(*cols))
        settings = SettingsCreator(
            link_type=link_type,
            comparisons=comparisons or default_comparisons(have),
            blocking_rules_to_generate_predictions=rules,
            retain_intermediate_calculation_columns=False,
            retain_matching_columns=False,
        )
        linker = Linker(sdfs if not dedupe else sdfs[0], settings)
        blocks = training_blocks
        if blocks is None:
            blocks = []
            for candidates in default_training(have):
                for cols in candidates:
                    if 0 < pairs_of(cols) <= em_max_pairs:
                        blocks.append(block_on(*cols))
                        break
        _train(linker, prior_rules or default_prior_rules(have), prior_recall, blocks, seed,
               notes, n)  # fmt: skip
        trained = True
    threshold = 0.5 if threshold is None else float(threshold)
    pred = linker.inference.predict()
    return LinkResult.from_predictions(
        linker, pred, a, b, threshold=threshold, best_only=best_only and not dedupe,
        notes=notes, trained=trained, seconds_to_predict=time.perf_counter() - t0,
    )  # fmt: skip


def u_pairs(n: int) -> float:
    """Random pairs for the u probabilities: 40 per record, between 200,000 and 10
    million. A level that one pair in 10,000 of non-matches reaches is then seen at least
    20 times; the rarest levels (an equal ID between two people) are not seen at any
    size Splink can afford, and keep the value Splink gives an unobserved level.

    >>> u_pairs(5_000), u_pairs(100_000), u_pairs(10**9)
    (200000.0, 4000000.0, 10000000.0)
    """
    return float(min(1e7, max(2e5, 40 * n)))


def _train(linker, prior_rules, recall, blocks, seed, notes, n) -> None:
    """The share of matches, u from random pairs, m by EM on each block; a block whose
    session fails (EM can drive a level's m to underflow) is noted and its comparisons put
    back as they were."""
    linker.training.estimate_probability_two_random_records_match(prior_rules, recall=recall)
    pairs = u_pairs(n)
    # Splink splits the sample in chunks to stop early once every level is seen 100 times;
    # a level that never is (an equal ID) makes it run them all, ten passes instead of one.
    linker.training.estimate_u_using_random_sampling(
        max_pairs=pairs, seed=seed, num_chunks=1 if pairs <= 1e6 else 10
    )
    for note in em_sessions(linker, blocks):
        notes.append(note)
        log.warning(note)
