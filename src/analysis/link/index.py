"""The master person index: every clean row about a person, tied to one pseudonymous person.

Three passes, each only on what the one before left:

1. **Deterministic** (:mod:`analysis.link.deterministic`): a valid ID number, or a registry
   number that the student registry shows with exactly one valid ID. About 98.5 % of rows.
2. **Registry number alone**: rows that carry a registry number the registry never shows
   with a valid ID (the pupil was enrolled without one) are grouped by that number; the
   group is one *entity* for the next pass, profiled from its rows.
3. **Probabilistic** (:mod:`analysis.link.linker`, Splink on DuckDB): each remaining entity
   (a registry-number group, or a single row: a household member with a mistyped or
   truncated ID, a disability certificate, which carries no ID at all) is linked to the
   persons the first pass found, profiled from their rows (name as most often written,
   school name as an alternative name, birth date and sex from the ID, registry number,
   father's name, address, county). An entity takes its best match at or above
   ``threshold``; entities left over are linked among themselves and clustered (connected
   components at the same threshold), each cluster a new person without an ID.

``person_id`` is a salted hash of the person's key (the ID number, or the registry number or
record of a person without one): stable across runs that share the salt, and no ID number
leaves this stage.

Rows of parents (the father, mother and head of household columns of a household record)
are not rows of their own: the index has one entry per clean row, about the row's subject.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa

from analysis.config import EngineConfig, LinkConfig, default_config
from analysis.engine import connect, scan
from analysis.layout import Layout
from analysis.link.deterministic import VALID, deterministic_sql, roles, subject_id
from analysis.link.names import name_keys
from analysis.link.records import ROLES
from analysis.privacy import person_id_sql

#: The linker's roles a clean row can fill (county comes from the clean county_code; the
#: alternative name is a profile's, from the registry rows).
#: The roles the registries' schemas give (the researcher's name parts and postcode are not
#: among them; the alternative name and the county are profiled apart).
_ROLES = tuple(
    r for r in ROLES if r not in ("alt_name", "county", "given_name", "surname", "postcode")
)


def profile_kinds() -> list[str]:
    """Tables whose rows say who the person is beyond a name and a registry number (birth
    date, sex, ID, guardian): the persons found by an identifier are profiled from these
    (their linkage roles in ``schema.yaml``).

    >>> profile_kinds()
    ['hukou', 'xueji', 'poverty', 'disability', 'persuasion', 'home_teaching']
    """
    return [k for k, r in roles().items() if set(r) - {"name", "student_no"}]


@dataclass
class IndexResult:
    """Where the index went and what each pass did. ``links``: one row per clean row
    (``kind``, lineage, ``person_id``, ``rule``, ``match_probability``); ``persons``: one
    row per person."""

    links: Path
    persons: Path
    stats: dict = field(default_factory=dict)


def records_sql(layout: Layout, kinds: list[str]) -> str:
    """Every clean row of ``kinds`` in the linker's roles (``schema.yaml``). An ID number that
    failed its check digit is null in the clean table; its raw text (from the quarantine) is
    evidence all the same (one mistyped digit away from the person's number), so it fills
    ``id_number`` here, where only the linker sees it.

    Parameters
    ----------
    layout : the data folder.
    kinds : clean tables with linkage roles.

    Returns
    -------
    str
        A query of ``kind``, the lineage, the roles (:data:`_ROLES`), ``id_status`` and ``county``.

    Examples
    --------
    >>> from analysis.engine import connect
    >>> con = connect()
    >>> rows = con.execute(f"SELECT * FROM ({records_sql(prefecture, ['disability'])})").df()
    >>> bool(rows["id_number"].notna().any()), bool(rows["name"].notna().all())  # IDs from certificates
    (True, True)
    >>> con.close()
    """
    bad_ids = (
        rf"""(SELECT source_file, source_sheet, source_row, "column" AS col,
                    upper(regexp_replace(raw_value, '\s', '', 'g')) AS raw_id
             FROM {scan(layout.quarantine)}
             WHERE reason = 'id_bad_check' AND scope = 'value')"""
        if layout.quarantine.exists()
        else "(SELECT NULL::VARCHAR AS source_file, NULL::VARCHAR AS source_sheet, "
        "NULL::BIGINT AS source_row, NULL::VARCHAR AS col, NULL::VARCHAR AS raw_id WHERE false)"
    )
    parts = []
    for kind in kinds:
        cols_of = roles()[kind]
        cols = ", ".join(
            (
                f"coalesce(t.{cols_of[r]}::VARCHAR, q.raw_id) AS {r}"
                if r == "id_number" and r in cols_of
                else f"t.{cols_of[r]}::VARCHAR AS {r}"
                if r in cols_of
                else f"NULL::VARCHAR AS {r}"
            )
            for r in _ROLES
        )
        own = subject_id(kind)
        status = f"t.{own}_status" if own else "NULL::VARCHAR"
        join = (
            f"""LEFT JOIN {bad_ids} q ON q.source_file = t.source_file
                AND q.source_sheet = t.source_sheet AND q.source_row = t.source_row
                AND q.col = '{cols_of["id_number"]}'"""
            if "id_number" in cols_of
            else ""
        )
        parts.append(
            rf"""SELECT '{kind}' AS kind, t.source_file, t.source_sheet, t.source_row, {cols},
                       {status} AS id_status,
                       t.county_code AS county
                FROM {scan(layout.table(kind))} t {join}"""
        )
    return " UNION ALL ".join(f"({p})" for p in parts)


def _register_name_keys(con, table: str) -> None:
    """``name_keys``: pinyin keys of every distinct name and guardian name in ``table`` (a
    table or a subquery)."""
    names = con.sql(
        f"SELECT DISTINCT n FROM (SELECT name AS n FROM {table} UNION "
        f"SELECT guardian_name FROM {table} UNION SELECT alt_guardian FROM {table}) "
        "WHERE n IS NOT NULL"
    ).arrow()  # a RecordBatchReader in DuckDB 2
    col = names.read_all().column("n")
    keys = name_keys(col)
    con.register("name_keys_arrow", pa.table({"n": col, **{k: keys[k] for k in keys.column_names}}))
    con.execute("CREATE TABLE name_keys AS SELECT * FROM name_keys_arrow")
    con.unregister("name_keys_arrow")


def _profile_sql(source: str, group: str) -> str:
    """One record per ``group`` (a key) from the rows of ``source``: each field as most
    often written (ties: the smallest); the school name (xueji) as the alternative name."""

    def mode(expr: str, where: str = "TRUE") -> str:
        # Ordered input: a tie goes to the smallest value, the same on every run.
        return f"mode({expr} ORDER BY {expr}) FILTER (WHERE {expr} IS NOT NULL AND {where})"

    return f"""
        SELECT {group} AS unique_id,
               coalesce({mode("r.name", "r.kind <> 'xueji'")}, {mode("r.name")}) AS name,
               {mode("r.name", "r.kind = 'xueji'")} AS alt_name,
               {mode("r.birth_date")} AS birth_date,
               {mode("r.sex")} AS sex,
               {mode("r.id_number")} AS id_number,
               {mode("r.id_partial")} AS id_partial,
               {mode("r.student_no")} AS student_no,
               {mode("r.guardian_name")} AS guardian_name,
               {mode("r.alt_guardian")} AS alt_guardian,
               {mode("r.address")} AS address,
               {mode("r.county")} AS county
        FROM {source} r GROUP BY {group}"""


def _prepared(con, profile_sql: str, name: str) -> None:
    """A Splink input table ``name`` in the linker's columns from a profile query, in the
    order of its ids (records' own values), so Splink sees the same table every run."""
    con.execute(
        f"""CREATE OR REPLACE TABLE {name} AS
        SELECT p.unique_id::VARCHAR AS unique_id,
               p.name, k.pinyin AS name_py, coalesce(ka.pinyin, k.pinyin) AS alt_py,
               k.surname AS surname_py, k.initials,
               try_cast(p.birth_date AS DATE) AS birth_date, p.sex,
               CASE WHEN length(p.id_number) = 18 THEN p.id_number END AS id_number,
               CASE WHEN length(p.id_number) = 18 THEN p.id_number[1:15]
                    WHEN length(p.id_partial) >= 15 THEN p.id_partial[1:15] END AS id15,
               p.student_no, kg.pinyin AS guardian_py, kag.pinyin AS alt_guardian_py,
               p.address, p.county
        FROM ({profile_sql}) p
        LEFT JOIN name_keys k ON k.n = p.name
        LEFT JOIN name_keys ka ON ka.n = p.alt_name
        LEFT JOIN name_keys kg ON kg.n = p.guardian_name
        LEFT JOIN name_keys kag ON kag.n = p.alt_guardian
        ORDER BY unique_id"""
    )


def _household_corrects_id(con, layout: Layout) -> None:
    """An ID in a single household-check row that is one digit off (in its first 17, the
    check digit recomputed) from the ID of a child of the same name in the same household
    is a typo that passed the check: the row takes the household's ID (rule
    ``household_corrects_id``). Registry numbers do this for pupils; the household number
    does it for children in the household check, every year of which lists the child."""
    hukou = scan(layout.table("hukou"))
    con.execute(
        f"""CREATE TEMP TABLE fix AS
        WITH hk AS (
            SELECT d.source_file, d.source_sheet, d.source_row, d.key, h.household_no, h.name
            FROM det d JOIN {hukou} h USING (source_file, source_sheet, source_row)
            WHERE d.kind = 'hukou' AND h.household_no IS NOT NULL AND h.name IS NOT NULL),
        once AS (SELECT key FROM det GROUP BY key HAVING count(*) = 1)
        SELECT a.source_file, a.source_sheet, a.source_row, min(b.key) AS new_key
        FROM hk a JOIN once o ON o.key = a.key
        JOIN hk b ON b.household_no = a.household_no AND b.name = a.name AND b.key <> a.key
        WHERE damerau_levenshtein(a.key[1:17], b.key[1:17]) <= 1
        GROUP BY ALL HAVING count(DISTINCT b.key) = 1"""
    )
    con.execute(
        """UPDATE det SET key = f.new_key, rule = 'household_corrects_id'
           FROM fix f
           WHERE det.kind = 'hukou' AND det.source_file = f.source_file
             AND det.source_sheet = f.source_sheet AND det.source_row = f.source_row"""
    )


def _name_corrects_id(con) -> int:
    """Two valid IDs one digit apart in their first 17 (same sex digit parity), written with
    the same name: the rarer is a typo of the other that passed its check digit (the typist
    recomputed it, or got lucky) and its rows take the other's ID (rule
    ``name_corrects_id``). A child first listed in the household check in the year it
    turns six, under a mistyped ID, has no other household row to correct it; the
    registry, every term of which lists the child, has the right ID. Two IDs found in the
    same file are two children (a file lists a child once: the cleaner merged duplicates);
    two children of one name born the same day in one county, their IDs a digit apart,
    are not rare (7 such pairs at yuxi scale). Equal counts are left alone. Candidates
    share the name and either the first 10 or the next 7 characters (one edit leaves one
    of the two whole, a transposition across them aside). Returns the number of IDs
    corrected."""
    con.execute(
        """CREATE TEMP TABLE idfix AS
        WITH kn AS (
            SELECT DISTINCT key, name FROM resolved
            WHERE name IS NOT NULL AND length(key) = 18),
        cand AS (
            SELECT a.key AS minor, b.key AS major FROM kn a JOIN kn b
              ON a.name = b.name AND a.key[1:10] = b.key[1:10] AND a.key <> b.key
            UNION
            SELECT a.key, b.key FROM kn a JOIN kn b
              ON a.name = b.name AND a.key[11:17] = b.key[11:17] AND a.key <> b.key),
        pairs AS (
            SELECT minor, major FROM cand
            WHERE damerau_levenshtein(minor[1:17], major[1:17]) <= 1
              AND try_cast(minor[17] AS INTEGER) % 2 = try_cast(major[17] AS INTEGER) % 2),
        keys AS (SELECT minor AS key FROM pairs UNION SELECT major FROM pairs),
        kc AS (SELECT key, count(*) AS n FROM det SEMI JOIN keys USING (key) GROUP BY key),
        files AS (SELECT DISTINCT key, source_file FROM det SEMI JOIN keys USING (key)),
        shared AS (
            SELECT DISTINCT p.minor, p.major FROM pairs p
            JOIN files fa ON fa.key = p.minor
            JOIN files fb ON fb.key = p.major AND fb.source_file = fa.source_file),
        apart AS (SELECT * FROM pairs ANTI JOIN shared USING (minor, major))
        SELECT p.minor, min(p.major) AS major
        FROM apart p JOIN kc ca ON ca.key = p.minor JOIN kc cb ON cb.key = p.major
        WHERE cb.n > ca.n
        GROUP BY p.minor HAVING count(*) = 1"""
    )
    # A chain (a -> b -> c) ends at its last ID.
    con.execute("""UPDATE idfix SET major = f2.major FROM idfix f2 WHERE idfix.major = f2.minor""")
    con.execute(
        """UPDATE det SET key = f.major, rule = 'name_corrects_id'
           FROM idfix f WHERE det.key = f.minor"""
    )
    con.execute("UPDATE resolved SET key = f.major FROM idfix f WHERE resolved.key = f.minor")
    return con.execute("SELECT count(*) FROM idfix").fetchall()[0][0]


def build_index(
    layout: Layout,
    out: Layout,
    salt: str,
    link: LinkConfig | None = None,
    engine: EngineConfig | None = None,
) -> IndexResult:
    """The master person index of ``layout``'s clean tables (see the module docstring).

    Parameters
    ----------
    layout : the data folder whose clean tables are linked.
    out : the layout whose ``person_index.parquet`` and ``persons.parquet`` are written.
    salt : the key of the pseudonymous ids (:func:`analysis.privacy.salt_for`).
    link : the match threshold, Splink's seed and where the probabilistic pass scores its
        pairs (``duckdb`` or ``spark``, :mod:`analysis.link.spark`; the model is trained on
        DuckDB either way). Default: the configuration's.
    engine : DuckDB's resources.

    Returns
    -------
    IndexResult
        Where the index went, and what each pass did (``stats``).

    Examples
    --------
    >>> import tempfile
    >>> from analysis.layout import Layout
    >>> out = Layout(tempfile.mkdtemp())
    >>> result = build_index(prefecture, out, "ab" * 16)
    >>> result.stats["persons"] > 0 and result.stats["entities_matched"] > 0
    True
    >>> {"id", "student_no", "probabilistic"} <= set(result.stats["rules"])
    True
    """
    from analysis.link.linker import quiet_splink

    link = link or default_config().link
    with quiet_splink():
        return _build_index(layout, out, salt, link, engine)


def _build_index(layout: Layout, out: Layout, salt: str, link, engine) -> IndexResult:
    """:func:`build_index`'s work (Splink's logging quieted around it by the caller)."""
    stats: dict = {}
    t0 = time.perf_counter()
    con = connect(engine)
    _identifier_passes(con, layout, stats)
    stats["seconds_deterministic"] = round(time.perf_counter() - t0, 1)
    t1 = time.perf_counter()
    matches, within = _probabilistic_pass(con, link, stats, out)
    stats["entities_matched"] = len(matches)
    stats["seconds_probabilistic"] = round(time.perf_counter() - t1, 1)
    ents = con.execute("SELECT unique_id FROM new_entities").df()["unique_id"]
    con.register("final_df", _final_keys(ents, matches, within))
    _write_index(con, out, salt, stats)
    con.close()
    stats["seconds"] = round(time.perf_counter() - t0, 1)
    return IndexResult(out.person_index, out.persons, stats)


def _identifier_passes(con, layout: Layout, stats: dict) -> None:
    """Passes 1 and 2: ``det`` (rows keyed by an identifier, IDs corrected by household and
    name), ``resolved`` (the rows that say who their person is, with its key),
    ``unresolved`` (the rest, each an entity: a registry number the registry never shows
    with a valid ID keys its rows), and ``name_keys`` for every name seen."""
    kinds = [k for k in roles() if layout.table(k).exists()]
    con.execute(f"CREATE VIEW records AS {records_sql(layout, kinds)}")
    con.execute(f"CREATE TABLE det AS {deterministic_sql(layout)}")
    if "hukou" in kinds:
        _household_corrects_id(con, layout)
    # Rows that say who the person is, with the key the first pass gave them: the
    # profiles of pass 3 are made from them, and the name check of IDs reads their names.
    profiled = [k for k in kinds if k in profile_kinds()]
    con.execute(
        f"""CREATE TABLE resolved AS
        SELECT r.*, d.key FROM ({records_sql(layout, profiled)}) r JOIN det d
        USING (kind, source_file, source_sheet, source_row)"""
    )
    stats["ids_corrected_by_name"] = _name_corrects_id(con)
    con.execute(
        f"""CREATE TABLE unresolved AS
        WITH with_id AS (
            SELECT DISTINCT student_no FROM records
            WHERE kind = 'xueji' AND id_status IN {VALID} AND student_no IS NOT NULL)
        SELECT r.*,
               CASE WHEN r.student_no IS NOT NULL AND w.student_no IS NULL
                    THEN 'S:' || r.student_no END AS key,
               coalesce(key, 'R:' || r.kind || ':' || r.source_file || ':' || r.source_sheet
                        || ':' || r.source_row) AS entity
        FROM records r
        ANTI JOIN det d USING (kind, source_file, source_sheet, source_row)
        LEFT JOIN with_id w USING (student_no)"""
    )
    _register_name_keys(
        con,
        "(SELECT name, guardian_name, alt_guardian FROM resolved UNION ALL "
        "SELECT name, guardian_name, alt_guardian FROM unresolved)",
    )


def _probabilistic_pass(
    con, link: LinkConfig, stats: dict, out: Layout
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pass 3: the entities without an ID (``new_entities``) against the persons found so
    far (``existing``, profiled from their rows); then the leftovers among themselves.
    Returns each matched entity's best person (``entity``, ``key``, ``match_probability``)
    and the pairs of leftover entities at the threshold (``id_l``, ``id_r``). The trained
    model goes to ``out.link_model`` and the links' comparison levels to the temporary
    table ``link_vectors`` (see :func:`_keep_vectors`)."""
    from splink import Linker
    from splink.backends.duckdb import DuckDBAPI

    from analysis.link.linker import best_match, oriented_pairs, settings, train

    _prepared(con, _profile_sql("resolved", "r.key"), "existing")
    # The ID is the person's: birth date and sex read from it (GB 11643) beat any column.
    con.execute(
        """UPDATE existing SET id_number = unique_id, id15 = unique_id[1:15],
               birth_date = coalesce(try_strptime(unique_id[7:14], '%Y%m%d')::DATE, birth_date),
               sex = CASE WHEN try_cast(unique_id[17] AS INTEGER) % 2 = 1 THEN '男'
                          WHEN try_cast(unique_id[17] AS INTEGER) % 2 = 0 THEN '女'
                          ELSE sex END"""
    )
    _prepared(con, _profile_sql("unresolved", "r.entity"), "new_entities")
    n_new = con.execute("SELECT count(*) FROM new_entities").fetchall()[0][0]
    stats["persons_with_id"] = con.execute("SELECT count(*) FROM existing").fetchall()[0][0]
    stats["entities_without_id"] = n_new
    matches = pd.DataFrame({"entity": [], "key": [], "match_probability": []})
    within = pd.DataFrame({"id_l": [], "id_r": []})
    _keep_vectors(con, pd.DataFrame(), matches, within)
    if not n_new:
        return matches, within
    if link.engine not in ("duckdb", "spark"):
        raise ValueError(f"link engine {link.engine!r}: 'duckdb' or 'spark'")
    db = DuckDBAPI(connection=con)
    s_new = db.register("new_entities", table_name="entities")
    s_old = db.register("existing", table_name="existing_persons")
    linker = Linker([s_new, s_old], settings("link_only"))
    train(linker, link.seed)
    model = linker.misc.save_model_to_json()
    out.processed.mkdir(parents=True, exist_ok=True)
    out.link_model.write_text(json.dumps(model, indent=2, ensure_ascii=False), encoding="utf-8")
    if link.engine == "spark":
        from analysis.link import spark

        tables = {
            "entities": con.execute("SELECT * FROM new_entities").df(),
            "existing_persons": con.execute("SELECT * FROM existing").df(),
        }
        pairs = spark.predict(model, tables, link.threshold, "link_only")
    else:
        pairs = linker.inference.predict(
            threshold_match_probability=link.threshold
        ).as_pandas_dataframe()
    # Each entity is one person: its best match (ties: the smaller key).
    matches = best_match(oriented_pairs(pairs, "entities")).rename(
        columns={"id_l": "entity", "id_r": "key"}
    )
    con.register("matched_df", matches[["entity"]])
    rest = con.execute(
        "SELECT * FROM new_entities ANTI JOIN matched_df m ON m.entity = unique_id "
        "ORDER BY unique_id"
    ).df()
    if len(rest) > 1:
        # The trained model, applied within the leftover entities (dedupe).
        model["link_type"] = "dedupe_only"
        if link.engine == "spark":
            within = spark.predict(model, {"rest_entities": rest}, link.threshold, "dedupe_only")
        else:
            s_rest = db.register(rest, table_name="rest_entities")
            within = (
                Linker(s_rest, model)
                .inference.predict(threshold_match_probability=link.threshold)
                .as_pandas_dataframe()
            )
        within = within.rename(columns={"unique_id_l": "id_l", "unique_id_r": "id_r"})
    _keep_vectors(con, pairs, matches, within)
    return matches, within


def _keep_vectors(con, pairs: pd.DataFrame, matches: pd.DataFrame, within: pd.DataFrame) -> None:
    """The temporary table ``link_vectors``: each probabilistic link (an entity and its
    person's key, or two leftover entities clustered) with its match weight and
    probability and each comparison's partial match weight (``mw_*``, which names its
    level), no field values."""
    cols = ["match_weight", "match_probability"]
    rows = []
    if len(matches):
        swap = pairs["source_dataset_l"] != "entities"
        p = pairs.assign(
            entity=pairs["unique_id_l"].where(~swap, pairs["unique_id_r"]).astype(str),
            other=pairs["unique_id_r"].where(~swap, pairs["unique_id_l"]).astype(str),
        )
        gammas = [c for c in p.columns if c.startswith(("gamma_", "mw_"))]
        m = p.merge(matches[["entity", "key"]], left_on=["entity", "other"],
                    right_on=["entity", "key"])  # fmt: skip
        rows.append(m[["entity", "other", *cols, *gammas]].assign(link="matched"))
    if len(within):
        gammas = [c for c in within.columns if c.startswith(("gamma_", "mw_"))]
        w = within.rename(columns={"id_l": "entity", "id_r": "other"})
        rows.append(w[["entity", "other", *cols, *gammas]].assign(link="clustered"))
    frame = (
        pd.concat(rows, ignore_index=True)
        if rows
        else pd.DataFrame(columns=["entity", "other", *cols, "link"])
    )
    con.register("link_vectors_df", frame)
    con.execute("CREATE OR REPLACE TABLE link_vectors AS SELECT * FROM link_vectors_df")
    con.unregister("link_vectors_df")


def _final_keys(ents: pd.Series, matches: pd.DataFrame, within: pd.DataFrame) -> pd.DataFrame:
    """Each entity's final key: a matched entity takes its person's key; the rest cluster
    among themselves (connected components), each cluster keyed by its smallest entity."""
    from analysis.link.components import component_roots

    roots = component_roots(within["id_l"], within["id_r"])

    def find(e: str) -> str:
        return roots.get(e, e)

    key_of = dict(zip(matches["entity"], matches["key"], strict=True))
    return pd.DataFrame(
        {
            "entity": ents,
            "final": [key_of.get(e) or find(e) for e in ents],
            "how": [
                "probabilistic" if e in key_of else ("clustered" if find(e) != e else None)
                for e in ents
            ],
        }
    ).merge(matches[["entity", "match_probability"]], on="entity", how="left")


def _write_index(con, out: Layout, salt: str, stats: dict) -> None:
    """The index rows (deterministic, then the final keys of the rest) with their salted
    person ids, to ``out.person_index`` and ``out.persons``."""
    out.processed.mkdir(parents=True, exist_ok=True)
    con.execute(
        """CREATE TABLE index_rows AS
        SELECT kind, source_file, source_sheet, source_row, key, rule,
               NULL::DOUBLE AS match_probability
        FROM det
        UNION ALL
        SELECT u.kind, u.source_file, u.source_sheet, u.source_row,
               coalesce(f.final, u.entity) AS key,
               coalesce(f.how, CASE WHEN u.key IS NOT NULL THEN 'student_no_only'
                                    ELSE 'unmatched' END) AS rule,
               f.match_probability
        FROM unresolved u LEFT JOIN final_df f USING (entity)"""
    )
    # Hash each distinct key once (400,000 at yuxi, against 16 million rows).
    con.execute(
        f"""CREATE TABLE pids AS
        SELECT key, {person_id_sql("key", salt)} AS person_id, length(key) = 18 AS has_id
        FROM (SELECT DISTINCT key FROM index_rows)"""
    )
    con.execute(
        f"""COPY (SELECT i.kind, i.source_file, i.source_sheet, i.source_row, p.person_id,
                         i.rule, i.match_probability
                  FROM index_rows i JOIN pids p USING (key))
            TO '{out.person_index}' (FORMAT parquet, COMPRESSION zstd)"""
    )
    con.execute(
        f"""COPY (SELECT p.person_id, count(*) AS records, any_value(p.has_id) AS has_id,
                         list_sort(list_distinct(list(i.kind))) AS kinds
                  FROM index_rows i JOIN pids p USING (key) GROUP BY p.person_id
                  ORDER BY p.person_id)
            TO '{out.persons}' (FORMAT parquet, COMPRESSION zstd)"""
    )
    # The links with the person they made (the entity's final key), for explain_match.
    con.execute(
        f"""COPY (SELECT p.person_id, v.* EXCLUDE (entity, other),
                         CASE WHEN v.entity LIKE 'R:%' THEN v.entity[3:] END AS entity_ref
                  FROM link_vectors v
                  JOIN final_df f ON f.entity = v.entity
                  JOIN pids p ON p.key = f.final
                  ORDER BY p.person_id, v.link, v.match_weight DESC)
            TO '{out.link_pairs}' (FORMAT parquet, COMPRESSION zstd)"""
    )
    stats["rules"] = dict(
        con.execute("SELECT rule, count(*) FROM index_rows GROUP BY rule ORDER BY rule").fetchall()
    )
    stats["persons"] = con.execute("SELECT count(*) FROM pids").fetchall()[0][0]


def explain_match(layout: Layout, person_id: str) -> list:
    """Why the probabilistic pass made ``person_id`` (a salted id, as the lists show it):
    one :class:`~analysis.link.result.Explanation` per link into it, the waterfall of the
    saved model (``link_model.json``) over the link's comparison levels
    (``link_pairs.parquet``). ``left_id`` names the linked rows' first record
    (``kind:file:sheet:row``) when the entity was one row.

    Raises
    ------
    KeyError
        When no probabilistic link made the person (an ID or a registry number linked all
        its rows: ``person_index.parquet``'s ``rule`` says which).

    Examples
    --------
    >>> pairs = pd.read_parquet(prefecture.link_pairs)
    >>> pid = pairs.loc[pairs["link"] == "matched", "person_id"].iloc[0]
    >>> e = explain_match(prefecture, pid)[0]
    >>> e.table["term"].iloc[0], e.table["term"].iloc[-1], bool(e.match_probability >= 0.99)
    ('prior', 'total', True)
    """
    from analysis.link.result import Explanation, waterfall

    for p in (layout.link_model, layout.link_pairs):
        if not p.exists():
            raise FileNotFoundError(f"{p} is missing: run `analysis link` first")
    model = json.loads(layout.link_model.read_text(encoding="utf-8"))
    pairs = pd.read_parquet(layout.link_pairs, filters=[("person_id", "==", person_id)])
    if pairs.empty:
        raise KeyError(
            f"no probabilistic link made {person_id}: its rows were linked by an identifier "
            "(see the rule column of person_index.parquet)"
        )
    out = []
    for row in pairs.to_dict(orient="records"):
        ref = row.get("entity_ref") or f"a {row['link']} entity"
        out.append(Explanation(str(ref), person_id, waterfall(model, row)))
    return out
