"""``analysis validate``: compare each stage's output with the synthetic truth.

Only this module (and the tests) read ``data/truth/``. Results go to
``reports/validation.json``.

Cleaning is scored value by value against ``truth/corruptions.parquet``:

* *repaired*: the clean table holds the true value;
* *quarantined*: the value (or its row) is in the quarantine with a reason;
* *undetectable*: kinds no rule can see (a wrong digit that keeps a valid check; a homophone
  of a name), which read as valid: counted and reported, not held against the cleaner;
* *silently wrong*: none of these. The target is repaired + quarantined >= 99.5 % of the
  detectable corruptions.

and row by row: clean rows (no corruption, not a duplicate) wrongly quarantined <= 0.1 %.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from analysis.clean.names import normalize_names
from analysis.clean.stage import COLUMN_TYPES

UNDETECTABLE = {"id_valid_typo", "name_homophone"}
KEY = ["source_file", "source_sheet", "source_row"]
_ON = "USING (source_file, source_sheet, source_row)"


def _in(left: pd.DataFrame, right: pd.DataFrame, on: list[str]) -> np.ndarray:
    """For each row of ``left``: is its key in ``right``? (a merge, not Python sets: the truth
    has millions of rows)."""
    hits = right[on].drop_duplicates().assign(_hit=True)
    m = left[on].reset_index(drop=True).merge(hits, on=on, how="left")
    return m["_hit"].fillna(False).to_numpy(dtype=bool)


def _table(path: Path) -> str:
    """A Parquet table (a file, or a folder of parts) as a DuckDB table expression."""
    glob = f"{path}/*.parquet" if path.is_dir() else str(path)
    return f"read_parquet('{glob}', union_by_name = true)"


def validate_clean(data_dir: Path) -> dict:
    """Score the cleaning stage against the truth; see the module docstring.

    The joins with the clean tables and the truth's row list (tens of millions of rows at
    yuxi scale) run in DuckDB, which streams them; only the corruptions (a few per cent of
    the values) come into pandas."""
    import duckdb

    data_dir = Path(data_dir)
    interim, truth = data_dir / "interim", data_dir / "truth"
    manifest = json.loads((interim / "manifest.json").read_text(encoding="utf-8"))
    kind_of = {f["file"]: (f["kinds"][0] if f["kinds"] else None) for f in manifest["files"]}
    con = duckdb.connect(config={"threads": 2, "memory_limit": "3GB"})
    merges = _table(interim / "merges.parquet")
    quarantine = _table(interim / "quarantine.parquet")
    corr_src = f"""(SELECT file AS source_file, sheet AS source_sheet, row AS source_row,
                     "column", kind, raw, clean FROM read_parquet('{truth}/corruptions.parquet'))"""
    # Corruptions on merged duplicate rows are judged on the row they were merged into.
    corr = con.sql(
        f"SELECT c.* FROM {corr_src} c ANTI JOIN {merges} m {_ON} "
        'ORDER BY source_file, source_sheet, source_row, "column"'
    ).df()
    q = con.sql(
        f'SELECT source_file, source_sheet, source_row, scope, "column" FROM {quarantine}'
    ).df()
    row_q = q[q["scope"] == "row"][KEY].drop_duplicates()
    val_q = q[q["scope"] == "value"][[*KEY, "column"]].drop_duplicates()

    outcome = pd.Series("silently_wrong", index=corr.index, dtype=object)
    for kind, g in corr.groupby(corr["source_file"].map(kind_of)):
        path = interim / f"{kind}.parquet"
        if kind is None or not path.exists():
            continue
        columns = set(con.sql(f"SELECT * FROM {_table(path)} LIMIT 0").columns)
        for column, gc in g.groupby("column"):
            if column not in columns:
                continue
            probe = gc[KEY].assign(_i=np.arange(len(gc)))  # noqa: F841 (read by DuckDB)
            got = (
                con.sql(
                    f'SELECT p._i, t."{column}" AS got FROM probe p '
                    f"LEFT JOIN {_table(path)} t {_ON} ORDER BY p._i"
                )
                .df()["got"]
                .reset_index(drop=True)
            )
            typ = COLUMN_TYPES.get(column, "text")
            clean = gc["clean"].reset_index(drop=True)
            if typ == "name":
                expected = pd.Series(normalize_names(pa.array(clean.tolist()))[0].to_pylist())
            elif typ in ("date", "month"):
                got = got.astype(str).str[: 7 if typ == "month" else 10]
                expected = clean.str[: 7 if typ == "month" else 10]
            else:
                expected = clean
            ok = (
                got.astype(str).to_numpy() == expected.astype(str).to_numpy()
            ) & got.notna().to_numpy()
            outcome.loc[gc.index[ok]] = "repaired"
    in_row_q = _in(corr, row_q, KEY)
    in_val_q = _in(corr, val_q, [*KEY, "column"])
    outcome[(outcome != "repaired") & (in_row_q | in_val_q)] = "quarantined"
    # An ID left empty is flagged by its status ('missing'), not kept as if clean.
    outcome[
        (outcome == "silently_wrong") & (corr["kind"] == "id_missing_regno") & (corr["raw"] == "")
    ] = "quarantined"
    # A value that also carries an undetectable change (a homophone) cannot come out clean.
    also = _in(corr, corr[corr["kind"].isin(UNDETECTABLE)], [*KEY, "column"])
    outcome[(outcome == "silently_wrong") & (corr["kind"].isin(UNDETECTABLE) | also)] = (
        "undetectable"
    )
    by_kind = pd.crosstab(corr["kind"], outcome)
    detectable = outcome != "undetectable"
    share_ok = (
        float(outcome[detectable].isin(["repaired", "quarantined"]).mean())
        if detectable.any()
        else 1.0
    )

    # Clean rows wrongly quarantined: records with no corruption at all.
    clean_rows, wrongly = con.sql(
        f"""
        WITH records AS (
            SELECT file AS source_file, sheet AS source_sheet, row AS source_row
            FROM read_parquet('{truth}/rows.parquet') WHERE row_kind = 'record'),
        clean AS (SELECT * FROM records r ANTI JOIN {corr_src} c {_ON}),
        row_q AS (SELECT DISTINCT source_file, source_sheet, source_row
                  FROM {quarantine} WHERE scope = 'row')
        SELECT count(*), count(*) FILTER (WHERE q.source_row IS NOT NULL)
        FROM clean c LEFT JOIN row_q q {_ON}
        """
    ).fetchall()[0]
    con.close()
    return {
        "corrupted_values": int(len(corr)),
        "repaired_or_quarantined_share": round(share_ok, 5),
        "target_repaired_or_quarantined": 0.995,
        "undetectable_values": int((outcome == "undetectable").sum()),
        "silently_wrong_values": int((outcome == "silently_wrong").sum()),
        "by_kind": {k: {c: int(v) for c, v in row.items()} for k, row in by_kind.iterrows()},
        "clean_rows": int(clean_rows),
        "clean_rows_wrongly_quarantined": int(wrongly),
        "clean_rows_wrongly_quarantined_share": round(
            float(wrongly) / clean_rows if clean_rows else 0.0, 6
        ),
        "target_wrongly_quarantined": 0.001,
    }


RATES = ("primary_enrolment_rate", "junior_enrolment_rate", "disabled_enrolment_rate")


def _compare_indicators(ours: pd.DataFrame, truth: pd.DataFrame) -> dict:
    """The enrolment rates computed from the raw files against the true ones: per rate, the
    prefecture's 2020 difference (the seed's year; target within 0.05 points) and the
    largest difference over every county and year, in percentage points."""
    m = ours.merge(truth, on=["year", "county_code"], suffixes=("", "_true"))
    out: dict = {}
    for r in RATES:
        diff = (m[r] - m[f"{r}_true"]).astype(float)
        pref = m[(m["county_code"] == "5304") & (m["year"] == 2020)]
        out[r] = {
            "prefecture_2020": round(float(pref[r].iloc[0]), 4) if len(pref) else None,
            "prefecture_2020_true": round(float(pref[f"{r}_true"].iloc[0]), 4)
            if len(pref)
            else None,
            "prefecture_2020_diff_points": round(float((pref[r] - pref[f"{r}_true"]).iloc[0]), 4)
            if len(pref)
            else None,
            "max_abs_diff_points_any_county_year": round(float(diff.abs().max()), 4),
        }
    return out


def validate_link(data_dir: Path) -> dict:
    """Score the person index against the truth (:mod:`analysis.link.evaluate`): pairwise
    precision and recall over every record the truth ties to a person; the same restricted
    to records carrying each identity error; and with the probabilistic links cut at higher
    thresholds (their records then count as unlinked), to show what the threshold buys."""
    from analysis.link.evaluate import (
        ERROR_GROUPS,
        SUBJECT_COLUMNS,
        pairwise_scores_sql,
        scores_by_group_sql,
    )
    from analysis.link.linker import connect

    data_dir = Path(data_dir)
    truth, index = data_dir / "truth", data_dir / "processed" / "person_index.parquet"
    con = connect("4GB")
    on = ["source_file", "source_sheet", "source_row"]
    con.execute(
        f"""CREATE TABLE truth_rows AS
        SELECT file AS source_file, coalesce(sheet, '') AS source_sheet, row AS source_row,
               person_id
        FROM read_parquet('{truth}/rows.parquet')
        WHERE row_kind = 'record' AND coalesce(person_id, '') <> ''"""
    )
    links = f"(SELECT source_file, source_sheet, source_row, person_id AS key, rule, match_probability FROM read_parquet('{index}'))"
    out: dict = {"pairwise": pairwise_scores_sql(con, links, "truth_rows", on)}
    groups = " UNION ALL ".join(
        f"""SELECT file AS source_file, coalesce(sheet, '') AS source_sheet, row AS source_row,
                   '{g}' AS grp
            FROM read_parquet('{truth}/corruptions.parquet')
            WHERE kind IN {tuple(kinds) if len(kinds) > 1 else f"('{kinds[0]}')"}
              AND "column" IN {SUBJECT_COLUMNS}"""
        for g, kinds in ERROR_GROUPS.items()
    )
    out["by_error"] = scores_by_group_sql(con, links, "truth_rows", on, f"({groups})")
    out["by_threshold"] = {
        str(t): pairwise_scores_sql(
            con,
            f"(SELECT * FROM {links} WHERE rule <> 'probabilistic' OR match_probability >= {t})",
            "truth_rows",
            on,
        )
        for t in (0.999, 0.9999)
    }
    ind = data_dir / "processed" / "indicators.json"
    if ind.exists():
        out["indicators"] = _compare_indicators(
            pd.DataFrame(json.loads(ind.read_text(encoding="utf-8"))["enrolment"]),
            pd.read_parquet(truth / "indicators.parquet"),
        )
    out["rules"] = dict(
        con.execute(f"SELECT rule, count(*) FROM {links} GROUP BY rule ORDER BY rule").fetchall()
    )
    con.close()
    if (data_dir / "processed" / "checks").is_dir():
        out["checks"] = validate_checks(data_dir)
    return out


def validate(data_dir: Path, reports_dir: Path) -> dict:
    """Every stage that has output: cleaning, linkage, the model. Writes validation.json."""
    out: dict = {}
    if (Path(data_dir) / "interim" / "manifest.json").exists():
        out["clean"] = validate_clean(data_dir)
    if (Path(data_dir) / "processed" / "person_index.parquet").exists():
        out["link"] = validate_link(data_dir)
    if (Path(data_dir) / "processed" / "model" / "validation" / "predictions.parquet").exists():
        out["model"] = validate_model(data_dir)
    reports_dir = Path(reports_dir)
    reports_dir.mkdir(parents=True, exist_ok=True)
    (reports_dir / "validation.json").write_text(
        json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    return out


def _scores(ours: int, truth: int, hits_ours: int, hits_truth: int) -> dict:
    """Precision (share of our rows that are right) and recall (share of the true ones we
    found); the two hit counts differ when one row of ours matches several true ones."""
    return {
        "listed": ours,
        "true": truth,
        "precision": round(hits_ours / ours, 4) if ours else 1.0,
        "recall": round(hits_truth / truth, 4) if truth else 1.0,
    }


def _true_persons(con, processed: Path, truth: Path) -> None:
    """Table ``tp``: each of our persons and the true child most of its rows are about."""
    con.execute(
        f"""CREATE TABLE tp AS
        SELECT i.person_id, mode(t.person_id ORDER BY t.person_id) AS tpid
        FROM read_parquet('{processed / "person_index.parquet"}') i
        JOIN read_parquet('{truth / "rows.parquet"}') t ON t.file = i.source_file
             AND coalesce(t.sheet, '') = i.source_sheet AND t.row = i.source_row
        WHERE coalesce(t.person_id, '') <> '' GROUP BY i.person_id"""
    )


def validate_checks(
    data_dir: Path, dropout_days: int | None = None, truth_dir: Path | None = None
) -> dict:
    """Score the three comparison lists and the monitoring counts against the truth.

    Our persons are mapped to true ones by the truth of their rows (the most frequent).

    * **List 1** (失学 and 残疾缓学, per school year) against the resident children of 6-14
      (completed years on 31 August) whose true autumn status is never enrolled or not
      yet in school; residents exclude children living outside with their parents, those
      who moved away by that year and those not yet arrived, as the indicators do.
    * **List 2**: a run of ours is right when the child has a true persuasion case whose
      time out of school overlaps it; a true case is found when a run overlaps it. For
      dropouts (辍学) the true cases are those out for more than ``dropout_days`` school
      days (the rule's threshold), counted on the prefecture's school calendar (the most
      days any pupil was required to attend each month, prorated over part months): a
      child out from 8 July to 1 September missed 7 school days, not a month. Cases
      before the records begin or after they end are left out.
    * **List 3**, per school year: the children of the true list 1 and of the true
      dropout cases who missed more than a school week of that year (on the same calendar),
      whose household was registered as poor by then in the prefecture's registry (a
      migrant child's household is registered where it came from, not here).
    * **Counts**: suspected dropouts and returns per school year, ours and true.
    * **Consolidation rate** per graduation year against the true one.
    """
    from analysis.link.checks import LISTS, OUT_OF_SCHOOL, Rules
    from analysis.link.linker import connect

    data_dir = Path(data_dir)
    truth, processed = Path(truth_dir or data_dir / "truth"), data_dir / "processed"
    checks = processed / "checks"
    d = Rules().dropout_days if dropout_days is None else dropout_days
    s = Rules().suspected_days
    con = connect("4GB")
    _true_persons(con, processed, truth)
    con.execute(
        f"""CREATE TABLE kids AS SELECT * FROM read_parquet('{truth / "persons.parquet"}')
        WHERE kind = 'child'"""
    )
    con.execute(
        f"""CREATE TABLE t1 AS
        SELECT CAST(left(s.term, 4) AS INTEGER) AS y, s.person_id AS tpid
        FROM read_parquet('{truth / "status.parquet"}') s JOIN kids p USING (person_id)
        WHERE right(s.term, 1) = '1' AND s.status IN ('never_enrolled', 'not_yet_in_school')
          AND NOT p.migrant AND NOT p.living_outside
          AND NOT (p.move_out_year > 0 AND p.move_out_year <= CAST(left(s.term, 4) AS INTEGER))
          AND NOT (p.arrive_year > CAST(left(s.term, 4) AS INTEGER))
          AND CAST(left(s.term, 4) AS INTEGER) - year(p.birth_date)
              - (month(p.birth_date) >= 9)::INTEGER BETWEEN 6 AND 14"""
    )
    cats = ", ".join(f"'{c}'" for c in OUT_OF_SCHOOL if c in ("失学", "残疾缓学"))
    con.execute(
        f"""CREATE TABLE o1 AS
        SELECT DISTINCT l.school_year AS y, coalesce(tp.tpid, l.person_id) AS tpid
        FROM read_parquet('{checks / LISTS["not_enrolled"]}') l LEFT JOIN tp USING (person_id)
        WHERE l.category IN ({cats})"""
    )

    def overlap_scores(ours: str, true: str, on: str) -> dict:
        n_o = con.execute(f"SELECT count(*) FROM {ours}").fetchall()[0][0]
        n_t = con.execute(f"SELECT count(*) FROM {true}").fetchall()[0][0]
        h_o = con.execute(
            f"SELECT count(*) FROM {ours} o WHERE EXISTS (SELECT 1 FROM {true} t WHERE {on})"
        ).fetchall()[0][0]
        h_t = con.execute(
            f"SELECT count(*) FROM {true} t WHERE EXISTS (SELECT 1 FROM {ours} o WHERE {on})"
        ).fetchall()[0][0]
        return _scores(n_o, n_t, h_o, h_t)

    out: dict = {"not_enrolled": overlap_scores("o1", "t1", "o.y = t.y AND o.tpid = t.tpid")}
    out["not_enrolled_by_year"] = {
        str(y): overlap_scores(
            f"(SELECT * FROM o1 WHERE y = {y})",
            f"(SELECT * FROM t1 WHERE y = {y})",
            "o.y = t.y AND o.tpid = t.tpid",
        )
        for (y,) in con.execute("SELECT DISTINCT y FROM t1 ORDER BY y").fetchall()
    }
    # The school calendar, and each true case's school days out.
    con.execute(
        f"""CREATE TABLE cal AS
        SELECT month, max(days_required) AS req
        FROM read_parquet('{data_dir / "interim" / "attendance.parquet"}/*.parquet')
        GROUP BY month"""
    )
    con.execute(
        f"""CREATE TABLE cases AS
        WITH c AS (
            SELECT row_number() OVER () AS cid, person_id AS tpid, dropped_on,
                   coalesce(return_date, closed, DATE '9999-12-31') AS back
            FROM read_parquet('{truth / "cases.parquet"}'))
        SELECT c.cid, c.tpid, c.dropped_on, c.back,
               year(k.month) - (month(k.month) < 9)::INTEGER AS school_year,
               sum(k.req * datediff('day', greatest(c.dropped_on, k.month),
                                    least(c.back, (k.month + INTERVAL 1 MONTH)::DATE))
                   / datediff('day', k.month, (k.month + INTERVAL 1 MONTH)::DATE))
                 AS school_days
        FROM c JOIN cal k ON k.month < c.back AND k.month + INTERVAL 1 MONTH > c.dropped_on
        WHERE c.dropped_on >= (SELECT min(month) FROM cal)
          AND c.dropped_on < (SELECT max(month) FROM cal)
        GROUP BY ALL"""
    )
    con.execute("ALTER TABLE cases RENAME TO case_years")
    con.execute(
        """CREATE TABLE cases AS
        SELECT cid, tpid, dropped_on, back, sum(school_days) AS school_days
        FROM case_years GROUP BY ALL"""
    )
    con.execute(
        f"""CREATE TABLE o2 AS
        SELECT coalesce(tp.tpid, l.person_id) AS tpid, l.category, l.first_month,
               coalesce(l.return_month, DATE '9999-12-31') AS back
        FROM read_parquet('{checks / LISTS["dropouts"]}') l LEFT JOIN tp USING (person_id)"""
    )
    on2 = (
        "o.tpid = t.tpid AND o.first_month < t.back AND o.back >= date_trunc('month', t.dropped_on)"
    )
    out["suspected_and_dropouts"] = overlap_scores("o2", "cases", on2)
    out["dropouts"] = overlap_scores(
        "(SELECT * FROM o2 WHERE category = '辍学')",
        f"(SELECT * FROM cases WHERE school_days > {d})",
        on2,
    )
    # List 3.
    con.execute(
        f"""CREATE TABLE t3 AS
        WITH poor AS (
            SELECT k.person_id AS tpid, h.poverty_registered_year AS reg
            FROM kids k JOIN read_parquet('{truth / "households.parquet"}') h
                 USING (household_id)
            WHERE h.poverty_registered_year > 0 AND NOT k.migrant),
        outs AS (
            SELECT y, tpid FROM t1
            UNION
            SELECT cy.school_year, cy.tpid FROM case_years cy JOIN cases c USING (cid)
            WHERE c.school_days > {d} AND cy.school_days > {s})
        SELECT DISTINCT outs.y, outs.tpid FROM outs JOIN poor USING (tpid) WHERE poor.reg <= outs.y"""
    )
    con.execute(
        f"""CREATE TABLE o3 AS
        SELECT DISTINCT l.school_year AS y, coalesce(tp.tpid, l.person_id) AS tpid
        FROM read_parquet('{checks / LISTS["poverty"]}') l LEFT JOIN tp USING (person_id)"""
    )
    out["poverty"] = overlap_scores("o3", "t3", "o.y = t.y AND o.tpid = t.tpid")
    ind = processed / "indicators.json"
    if ind.exists():
        doc = json.loads(ind.read_text(encoding="utf-8"))
        if "consolidation" in doc:
            ours = pd.DataFrame(doc["consolidation"])
            true = pd.read_parquet(truth / "consolidation.parquet")
            m = ours.merge(true, on=["year", "county_code"], suffixes=("", "_true"))
            pref = m[m["county_code"] == "5304"]
            out["consolidation"] = {
                "prefecture": {
                    str(r.year): {
                        "ours": r.consolidation_rate,
                        "true": r.consolidation_rate_true,
                        "diff_points": round(r.consolidation_rate - r.consolidation_rate_true, 4),
                    }
                    for r in pref.itertuples()
                },
                "max_abs_diff_points_any_county_year": round(
                    float((m["consolidation_rate"] - m["consolidation_rate_true"]).abs().max()),
                    4,
                ),
            }
    con.close()
    return out


def validate_model(data_dir: Path, truth_dir: Path | None = None) -> dict:
    """Score the model's held-out predictions against the truth, per test term.

    Our pupils are mapped to true children by their rows (as for the lists). On the rows
    that map to a child at risk that term in the truth, we compare

    * the ROC-AUC of our score against the true label (dropped out that term) with the
      ROC-AUC of the true probability ``p_true``, the best any model could do, and their
      ratio (target ≥ 0.97 on the last term);
    * the precision of our list (each county's capacity, as the model stage cut it) with
      that of a list cut on ``p_true`` at the same sizes (target ratio ≥ 0.90);
    * the expected calibration error of our probability against the true label;
    * every baseline's ROC-AUC against the true label;
    * the expected precision ratio: the true probabilities summed over our list, over the
      same sum for the list cut on ``p_true`` (who happened to drop out is noise around
      that; with a hundred dropouts a term the realised precision swings widely);
    * on the last term, ``best_from_features``: what the best function of our features
      reaches. A boosting model fit on the earlier terms to the *true probabilities* (soft
      labels: the truth tells it, for every pupil, what the hundreds of dropouts can only
      hint at) estimates ``E[p_true | features]``. The gap between it and ``p_true`` is
      information the records do not hold (latent engagement, learning difficulty, the
      household factor of the simulation); the gap between our model and it is what
      learning from real labels costs.
    """
    from analysis.link.linker import connect
    from analysis.model import metrics as M

    data_dir = Path(data_dir)
    truth = Path(truth_dir or data_dir / "truth")
    processed = data_dir / "processed"
    preds = processed / "model" / "validation" / "predictions.parquet"
    con = connect("4GB")
    _true_persons(con, processed, truth)
    df = con.execute(
        f"""SELECT p.*, st.p_true, st.dropped::INTEGER AS dropped
        FROM read_parquet('{preds}') p JOIN tp USING (person_id)
        JOIN read_parquet('{truth / "student_terms.parquet"}') st
             ON st.person_id = tp.tpid AND st.term = p.term AND st.at_risk"""
    ).df()
    n_ours = con.execute(
        f"SELECT term, count(*) FROM read_parquet('{preds}') "
        "WHERE model = 'gradient_boosting' GROUP BY term"
    ).fetchall()
    # Every scored term's features with the truth, for the ceiling of the last term. (Left
    # joins materialised, then filtered: as inner joins DuckDB 2.0 picks a plan that takes
    # over ten minutes here.)
    con.execute(
        f"""CREATE TABLE ft AS SELECT f.*, st.p_true, st.dropped::INTEGER AS dropped
        FROM read_parquet('{processed / "model" / "features.parquet"}') f
        LEFT JOIN tp USING (person_id)
        LEFT JOIN read_parquet('{truth / "student_terms.parquet"}') st
             ON st.person_id = tp.tpid AND st.term = f.term AND st.at_risk"""
    )
    feats_true = con.execute("SELECT * FROM ft WHERE p_true IS NOT NULL").df()
    con.close()
    n_ours = dict(n_ours)
    out: dict = {}
    caps: dict = {}  # each term's list sizes per county, as the model stage cut them
    for term, g in df.groupby("term", sort=True):
        main = g[g["model"] == "gradient_boosting"]
        y = main["dropped"].to_numpy()
        cap = main[main["listed"]].groupby("county_code").size().to_dict()
        true_list = M.listed(main, main["p_true"].to_numpy(), "county_code", cap, "person_id")
        ours_p = M.list_metrics(y, main["listed"].to_numpy())["precision_at_list"]
        pt = main["p_true"].to_numpy()
        exp_ratio = pt[main["listed"].to_numpy()].sum() / pt[true_list].sum()
        true_p = M.list_metrics(y, true_list)["precision_at_list"]
        auc_ours = M.auc(y, main["score"].to_numpy())
        auc_true = M.auc(y, main["p_true"].to_numpy())
        caps[str(term)] = cap
        out[str(term)] = {
            "pupils_scored": int(n_ours.get(term, 0)),
            "pupils_matched": len(main),
            "true_dropouts": int(y.sum()),
            "our_label_dropouts": int(main["dropout"].sum()),
            "roc_auc": round(auc_ours, 4),
            "roc_auc_true_probability": round(auc_true, 4),
            "roc_auc_ratio": round(auc_ours / auc_true, 4),
            "precision_at_list": round(ours_p, 4),
            "precision_at_list_true_probability": round(true_p, 4),
            "precision_ratio": round(ours_p / true_p, 4) if true_p else None,
            "expected_precision_ratio": round(float(exp_ratio), 4),
            "ece": round(M.ece(y, main["score"].to_numpy()), 5),
            "baselines_roc_auc": {
                m: round(M.auc(b["dropped"].to_numpy(), b["score"].to_numpy()), 4)
                for m, b in g.groupby("model")
                if m != "gradient_boosting"
            },
        }
    if out:
        last = max(out)
        out[last]["best_from_features"] = _feature_ceiling(
            processed, feats_true, last, caps[last], out[last]["roc_auc_true_probability"]
        )
    return out


def _feature_ceiling(
    processed: Path, frame: pd.DataFrame, term: str, capacity: dict, auc_true: float
) -> dict:
    """ROC-AUC and expected precision ratio on ``term`` of a boosting model fit to the true
    probabilities of the earlier terms, on the model's own features (see
    :func:`validate_model`)."""
    import lightgbm as lgb

    from analysis.model import metrics as M

    features = json.loads((processed / "model" / "model.json").read_text(encoding="utf-8"))[
        "model"
    ]["features"]
    train, test = frame[frame["term"] < term], frame[frame["term"] == term].reset_index(drop=True)
    params = {
        "objective": "cross_entropy",  # accepts labels in [0, 1]
        "num_leaves": 15,
        "learning_rate": 0.05,
        "min_data_in_leaf": 200,
        "num_threads": 2,
        "seed": 0,
        "deterministic": True,
        "verbose": -1,
    }
    booster = lgb.train(params, lgb.Dataset(train[features], train["p_true"]), 300)
    s = booster.predict(test[features])
    y = test["dropped"].to_numpy()
    pt = test["p_true"].to_numpy()
    ours = M.listed(test, s, "county_code", capacity, "person_id")
    best = M.listed(test, pt, "county_code", capacity, "person_id")
    auc = M.auc(y, s)
    return {
        "roc_auc": round(auc, 4),
        "roc_auc_ratio": round(auc / auc_true, 4),
        "expected_precision_ratio": round(float(pt[ours].sum() / pt[best].sum()), 4),
    }
