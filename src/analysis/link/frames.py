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
import unicodedata
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

import pandas as pd
import pyarrow as pa

from analysis.config import EngineConfig
from analysis.link.names import _is_han, name_keys

log = logging.getLogger(__name__)

ROLES = (
    "name",
    "given_name",
    "surname",
    "alt_name",
    "birth_date",
    "sex",
    "id_number",
    "id_partial",
    "student_no",
    "guardian_name",
    "alt_guardian",
    "address",
    "postcode",
    "county",
)

#: Columns of a prepared record table (see :func:`prepare_records`).
PREPARED = (
    "unique_id",
    "name",
    "name_py",
    "alt_py",
    "surname_py",
    "initials",
    "birth_date",
    "birth_digits",
    "sex",
    "id_number",
    "id15",
    "student_no",
    "guardian_py",
    "alt_guardian_py",
    "address",
    "postcode",
    "county",
)


@cache
def _fold(text: str) -> str:
    """Lower case, accents removed, full-width forms folded, spaces collapsed."""
    t = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text))
    t = "".join(c for c in t if not unicodedata.combining(c)).lower()
    return " ".join(t.split())


def _name_key(name: str | None, pinyin: str | None) -> str | None:
    """The comparison key of a whole name: its pinyin when it has Chinese characters (in
    their order: a Chinese name is not reordered), else its folded words in sorted order."""
    if name is None:
        return None
    if any(_is_han(c) for c in name):
        return pinyin
    words = sorted(_fold(name).replace(",", " ").split())
    return " ".join(words) or None


def _keys(s: pd.Series) -> pd.DataFrame:
    """Pinyin, initials and surname keys of clean names (None where the name is), with
    order-free keys for names without Chinese characters, whose surname is unknown."""
    names = [None if not isinstance(v, str) else v for v in s.tolist()]
    distinct = list(dict.fromkeys(n for n in names if n is not None))
    k = dict(zip(distinct, name_keys(pa.array(distinct, pa.string())).to_pylist(), strict=True))
    memo: dict = {None: (None, None, None)}
    for name in distinct:
        key = _name_key(name, k[name]["pinyin"])
        han = any(_is_han(c) for c in name)
        memo[name] = (
            key,
            "".join(w[0] for w in key.split()) if key else None,
            k[name]["surname"] if han else None,
        )
    pinyin, initials, surname = (
        (list(col) for col in zip(*(memo[n] for n in names), strict=True))
        if names
        else ([], [], [])
    )
    return pd.DataFrame({"pinyin": pinyin, "initials": initials, "surname": surname}, dtype=object)


def _clean(v):
    """A cell as a stripped string, or None for a missing or empty one."""
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    t = str(v).strip()
    return t or None


def _column(df: pd.DataFrame, spec, n: int) -> pd.Series:
    """A role's values as stripped text (None when missing): one column, or several
    joined by spaces (missing parts skipped)."""
    if spec is None:
        return pd.Series([None] * n, dtype=object)
    cols = [spec] if isinstance(spec, str) else list(spec)
    parts = [[_clean(v) for v in df[c].tolist()] for c in cols]
    vals = [" ".join(p for p in row if p) or None for row in zip(*parts, strict=True)]
    return pd.Series(vals, dtype=object)


def _check_roles(df: pd.DataFrame, roles: Mapping, side: str) -> None:
    unknown = set(roles) - set(ROLES) - {"id"}
    if unknown:
        raise ValueError(
            f"{side}: unknown role(s) {sorted(unknown)}; roles are {', '.join(ROLES)}, id"
        )
    for role, spec in roles.items():
        cols = [spec] if isinstance(spec, str) else list(spec)
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise ValueError(
                f"{side}: role {role!r}: column(s) {missing} not in the data frame "
                f"(its columns: {', '.join(map(str, df.columns[:20]))})"
            )


def prepare_records(
    df: pd.DataFrame,
    roles: Mapping,
    keep: Sequence[str] = (),
    side: str = "records",
    dayfirst: bool = False,
) -> pd.DataFrame:
    """``df`` as a record table in the linker's columns (:data:`PREPARED`, then ``keep``):
    names with their keys, the birth date as a date and as its digits, IDs upper-cased
    without spaces or dashes. Columns whose role is not given are null.

    Raises
    ------
    ValueError
        For an unknown role, a column that is not in ``df``, or record ids that are not
        unique; the message names the side (``left``, ``right``) and the column.

    Examples
    --------
    >>> df = pd.DataFrame({"姓名": ["李丽"], "出生日期": ["2010-01-02"]})
    >>> prepare_records(df, {"name": "姓名", "birth_date": "出生日期"})[["name_py", "birth_date"]]
      name_py  birth_date
    0   li li  2010-01-02
    >>> en = pd.DataFrame({"first": ["John"], "last": ["Smith"]})
    >>> prepare_records(en, {"given_name": "first", "surname": "last"})[["name_py", "surname_py"]]
          name_py surname_py
    0  john smith      smith
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{side}: expected a pandas DataFrame, got {type(df).__name__}")
    _check_roles(df, roles, side)
    missing = [c for c in keep if c not in df.columns]
    if missing:
        raise ValueError(f"{side}: keep: column(s) {missing} not in the data frame")
    n = len(df)

    def col(role: str) -> pd.Series:
        return _column(df, roles.get(role), n)

    ids = df[roles["id"]].reset_index(drop=True) if "id" in roles else pd.Series(df.index)
    out = pd.DataFrame({"unique_id": ids.astype(str).to_numpy()})
    if not out["unique_id"].is_unique:
        dup = out["unique_id"][out["unique_id"].duplicated()].iloc[0]
        raise ValueError(
            f"{side}: record ids are not unique (e.g. {dup!r}): give the 'id' role a key column"
        )
    if "name" in roles:
        name = col("name")
    else:
        given, sur = col("given_name"), col("surname")
        name = pd.Series(
            [" ".join(v for v in (g, s) if v) or None for g, s in zip(given, sur, strict=True)],
            dtype=object,
        )
    keys = _keys(name)
    out["name"] = name.map(lambda v: _fold(v) if isinstance(v, str) else None)
    out["name_py"] = keys["pinyin"]
    out["surname_py"] = keys["surname"]
    if "surname" in roles:
        out["surname_py"] = _keys(col("surname"))["pinyin"]
    out["initials"] = keys["initials"]
    alt = _keys(col("alt_name"))["pinyin"] if "alt_name" in roles else out["name_py"]
    out["alt_py"] = alt.where(alt.notna(), out["name_py"])
    raw_bd = col("birth_date")
    bd = pd.to_datetime(raw_bd, errors="coerce", format="mixed", dayfirst=dayfirst)
    out["birth_date"] = [None if pd.isna(v) else v.date() for v in bd]
    # The date's digits (YYYYMMDD) when it parses, else the digits as written: a typo that
    # makes an impossible date (19560490) is still one edit from the right one.
    out["birth_digits"] = [
        v.strftime("%Y%m%d")
        if not pd.isna(v)
        else ("".join(filter(str.isdigit, r)) or None)
        if r
        else None
        for v, r in zip(bd, raw_bd, strict=True)
    ]
    out["sex"] = col("sex").map(lambda v: None if v is None else str(v))
    ids = col("id_number").map(
        lambda v: "".join(str(v).split()).replace("-", "").upper() if v is not None else None
    )
    out["id_number"] = ids.where(ids.map(bool), None)
    prefix = ids.map(lambda v: v[:15] if isinstance(v, str) and len(v) == 18 else None)
    partial = col("id_partial").map(
        lambda v: str(v)[:15] if v is not None and len(str(v)) >= 15 else None
    )
    out["id15"] = prefix.where(prefix.notna(), partial)
    out["student_no"] = col("student_no").map(lambda v: None if v is None else str(v))
    out["guardian_py"] = _keys(col("guardian_name"))["pinyin"]
    out["alt_guardian_py"] = (
        _keys(col("alt_guardian"))["pinyin"] if "alt_guardian" in roles else None
    )
    out["address"] = col("address").map(lambda v: _fold(str(v)) if v is not None else None)
    out["postcode"] = col("postcode").map(lambda v: "".join(str(v).split()) or None if v else None)
    out["county"] = col("county").map(lambda v: None if v is None else str(v))
    for c in keep:
        out[c] = df[c].reset_index(drop=True).to_numpy()
    return out[[*PREPARED, *keep]]


# -- defaults derived from the roles ------------------------------------------------------


def present(*role_maps: Mapping) -> set[str]:
    """The roles every side has (``name`` stands for a whole name however it is given).

    >>> sorted(present({"name": "a", "sex": "s"}, {"given_name": "g", "sex": "s"}))
    ['name', 'sex']
    """
    sets = []
    for roles in role_maps:
        s = set(roles) - {"id"}
        if s & {"given_name", "surname"}:
            s.add("name")
        sets.append(s)
    return set.intersection(*sets) if sets else set()


def _null(*cols: str):
    import splink.comparison_level_library as cll

    sql = " OR ".join(f'"{c}_l" IS NULL OR "{c}_r" IS NULL' for c in cols)
    return cll.CustomLevel(sql, "null", base_dialect_str="duckdb").configure(is_null_level=True)


def _custom(sql: str, label: str):
    import splink.comparison_level_library as cll

    return cll.CustomLevel(sql, label, base_dialect_str="duckdb")


def name_comparison(alt: bool = False):
    """A whole name: the same characters, the same key (pinyin, or the sorted folded words;
    with ``alt``, either name of either side), close keys, the same surname and initials."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    same = '"name_py_l" = "name_py_r"'
    if alt:
        same += (
            ' OR "name_py_l" = "alt_py_r" OR "alt_py_l" = "name_py_r" OR "alt_py_l" = "alt_py_r"'
        )
    return cl.CustomComparison(
        output_column_name="name",
        comparison_description="name: characters, key, close key, surname and initials",
        comparison_levels=[
            cll.NullLevel("name_py"),
            cll.ExactMatchLevel("name"),
            _custom(same, "same key"),
            cll.JaroWinklerLevel("name_py", 0.92),
            cll.JaroWinklerLevel("name_py", 0.80),
            _custom(
                '"surname_py_l" = "surname_py_r" AND "initials_l" = "initials_r"',
                "same surname and initials",
            ),
            cll.ElseLevel(),
        ],
    )


def id_comparison(prefix: bool = True):
    """An identity number of any length: exact, one edit, the same first 15 digits."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    levels = [
        _custom(
            '("id_number_l" IS NULL OR "id_number_r" IS NULL) '
            'AND ("id15_l" IS NULL OR "id15_r" IS NULL)',
            "null",
        ).configure(is_null_level=True),
        cll.ExactMatchLevel("id_number"),
        cll.DamerauLevenshteinLevel("id_number", 1),
    ]
    if prefix:
        levels.append(cll.ExactMatchLevel("id15"))
    return cl.CustomComparison(
        output_column_name="id_number",
        comparison_description="ID number: exact, one edit, first 15 digits",
        comparison_levels=[*levels, cll.ElseLevel()],
    )


def birth_comparison():
    """A birth date: exact, one edit in its digits, within a month, within a year."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    return cl.CustomComparison(
        output_column_name="birth_date",
        comparison_description="birth date: exact, one typo, within a month, within a year",
        comparison_levels=[
            _null("birth_digits"),
            cll.ExactMatchLevel("birth_digits"),
            cll.DamerauLevenshteinLevel("birth_digits", 1),
            cll.AbsoluteDateDifferenceLevel(
                "birth_date", input_is_string=False, threshold=31, metric="day"
            ),
            cll.AbsoluteDateDifferenceLevel(
                "birth_date", input_is_string=False, threshold=366, metric="day"
            ),
            cll.ElseLevel(),
        ],
    )


def guardian_comparison():
    """A guardian's name (pinyin), or the other parent's."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    return cl.CustomComparison(
        output_column_name="guardian",
        comparison_description="guardian's name (pinyin), or the other parent's",
        comparison_levels=[
            cll.NullLevel("guardian_py"),
            cll.ExactMatchLevel("guardian_py"),
            _custom(
                '"guardian_py_l" = "alt_guardian_py_r" OR "alt_guardian_py_l" = "guardian_py_r"',
                "the other parent",
            ),
            cll.ElseLevel(),
        ],
    )


def default_comparisons(roles: set[str]) -> list:
    """The comparisons for the roles both sides have (see the module docstring).

    >>> [c.create_output_column_name() for c in default_comparisons({"name", "postcode"})]
    ['name', 'postcode']
    """
    import splink.comparison_library as cl

    out = []
    if "name" in roles:
        out.append(name_comparison(alt="alt_name" in roles))
    if "birth_date" in roles:
        out.append(birth_comparison())
    if "sex" in roles:
        out.append(cl.ExactMatch("sex"))
    if "id_number" in roles or "id_partial" in roles:
        out.append(id_comparison())
    if "student_no" in roles:
        out.append(cl.ExactMatch("student_no"))
    if "guardian_name" in roles:
        out.append(guardian_comparison())
    if "address" in roles:
        out.append(cl.JaroWinklerAtThresholds("address", [0.85]))
    if "postcode" in roles:
        out.append(cl.DamerauLevenshteinAtThresholds("postcode", [1]))
    if "county" in roles:
        out.append(cl.ExactMatch("county"))
    if not out:
        raise ValueError("no role both sides have: nothing to compare")
    return out


def default_blocking(roles: set[str]) -> list[tuple[str, ...]]:
    """Blocking rules for the roles both sides have, as the columns each rule equates,
    most specific first: each identifier; the birth date with the surname and with the
    name's initials (they survive any identifier error and a typo in the name); the name
    with the area (survives a wrong birth date); the birth date with the address, the
    postcode or the guardian (a child registered under another name); then single keys
    (the name, the surname, the birth date, the postcode, the address), which catch a
    record with errors in several fields at once but make many pairs in large tables:
    :func:`link_frames` leaves out any rule that would make more than
    ``max_pairs_per_rule`` pairs, and says so.

    >>> default_blocking({"name", "birth_date", "id_number"})[:3]
    [('id_number',), ('id15',), ('birth_date', 'surname_py')]
    """
    rules: list[tuple[str, ...]] = []
    if "id_number" in roles:
        rules.append(("id_number",))
    if "id_number" in roles or "id_partial" in roles:
        rules.append(("id15",))
    if "student_no" in roles:
        rules.append(("student_no",))
    if {"birth_date", "name"} <= roles:
        rules += [("birth_date", "surname_py"), ("birth_date", "initials")]
    area = [c for c in ("county", "postcode") if c in roles]
    if "name" in roles:
        rules += [("name_py", a) for a in area]
    if "birth_date" in roles:
        for other, col in (("address", "address"), ("postcode", "postcode"),
                           ("guardian_name", "guardian_py"), ("county", "county")):  # fmt: skip
            if other in roles:
                rules.append(("birth_date", col))
    if "name" in roles:
        rules += [("name_py",), ("surname_py",)]
    for role, col in (("birth_date", "birth_date"), ("postcode", "postcode"),
                      ("address", "address")):  # fmt: skip
        if role in roles:
            rules.append((col,))
    if not rules:
        raise ValueError("no role to block on: give a name, a birth date or an identifier")
    return rules


def default_training(roles: set[str]) -> tuple[list, list]:
    """Candidate EM training blocks, as two lists of increasingly narrow rules (column
    tuples): the first block fixes the birth date (its sessions learn the names and the
    rest), the second a place or the name (they learn the birth date). The widest rule of
    each list that makes at most ``em_max_pairs`` pairs on these data is used.

    >>> a, b = default_training({"name", "birth_date", "postcode"})
    >>> a, b
    ([('birth_date',), ('birth_date', 'postcode'), ('birth_date', 'initials')], [('postcode',), ('name_py',), ('name_py', 'postcode')])
    """
    first: list[tuple[str, ...]] = []
    second: list[tuple[str, ...]] = []
    if "birth_date" in roles:
        first = [("birth_date",)]
        first += [("birth_date", c) for c in ("county", "postcode") if c in roles]
        if "name" in roles:
            first.append(("birth_date", "initials"))
    for c in ("postcode", "address"):
        if c in roles:
            second.append((c,))
    if "name" in roles:
        second.append(("name_py",))
        second += [("name_py", c) for c in ("county", "postcode") if c in roles]
    return first, second


def default_prior_rules(roles: set[str]) -> list:
    """Rules that are nearly always right (the share of matches is estimated from them):
    the same ID number; the same name and birth date."""
    from splink import block_on

    rules = []
    if "id_number" in roles:
        rules.append(block_on("id_number"))
    if {"name", "birth_date"} <= roles:
        rules.append(block_on("name_py", "birth_date"))
    if not rules:
        rules.append(block_on(*(["name_py"] if "name" in roles else ["unique_id"])))
    return rules


# -- running ------------------------------------------------------------------------------


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


def _rule_sql(rule) -> str:
    if isinstance(rule, str):
        return rule
    return rule.get_blocking_rule("duckdb").blocking_rule_sql


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
    from analysis.link.linker import quiet_splink

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

    from analysis.link.linker import _db_api
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
    con.register("_prep_l", a)
    if not dedupe:
        con.register("_prep_r", b)
    tables = ["_prep_l"] if dedupe else ["_prep_l", "_prep_r"]
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
                {"blocking_rule": _rule_sql(r)} for r in blocking_rules
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
    settings_obj = linker._settings_obj  # Splink has no public handle to restore it
    for block in blocks:
        saved = settings_obj.core_model_settings.copy()
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(block)
        except ValueError as exc:
            settings_obj.core_model_settings = saved
            notes.append(f"EM on {_rule_sql(block)!r} skipped: {exc}")
            log.warning("EM on %s skipped: %s", _rule_sql(block), exc)
