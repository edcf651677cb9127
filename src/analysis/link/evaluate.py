"""Pairwise linkage quality against a truth, by counting, never by listing pairs.

For records grouped into predicted clusters and into true persons, with ``n[c, t]`` the
records of cluster ``c`` that belong to person ``t``:

* true positives  = sum over (c, t) of n[c, t] choose 2;
* predicted pairs = sum over c of n[c] choose 2;
* true pairs      = sum over t of n[t] choose 2 (over *all* records of the person, linked
  or not, so recall shows what is left for the next pass);
* precision = TP / predicted pairs, recall = TP / true pairs.

A person with 500 attendance rows has 124,750 pairs; a prefecture has billions, so pairs
are counted from group sizes, in DuckDB (16 million records at yuxi scale).
"""

from __future__ import annotations

import pandas as pd

#: Error kinds of the synthetic truth that bear on identity, grouped as the issue reports
#: them. A record is in a group if one of its subject's identity values carries the error.
ERROR_GROUPS = {
    "id_typo": ("id_typo", "id_transposition", "id_valid_typo"),
    "id_truncated": ("id_excel_float",),
    "id_missing": ("id_missing_regno",),
    "name_variant": ("name_homophone", "name_traditional", "name_dot_variant", "name_spaces"),
    "id_legacy15": ("id_legacy15",),
}
#: The columns that hold the identity of a row's subject (not of a parent).
SUBJECT_COLUMNS = ("id_number", "member_id", "name", "member_name")


def pairwise_scores_sql(con, links: str, truth: str, on: list[str]) -> dict:
    """Precision and recall of ``links`` (a table expression with columns ``on`` + ``key``)
    against ``truth`` (``on`` + ``person_id``: every record that should be linked), counted
    in DuckDB. Links of records the truth does not cover (e.g. a stale row of a transferred
    pupil) are not scored."""
    using = ", ".join(on)
    row = con.execute(
        f"""WITH b AS (SELECT l.key, t.person_id FROM {truth} t JOIN {links} l USING ({using})),
        ct AS (SELECT count(*)::HUGEINT AS n FROM b GROUP BY key, person_id),
        c AS (SELECT count(*)::HUGEINT AS n FROM b GROUP BY key),
        tt AS (SELECT count(*)::HUGEINT AS n FROM {truth} GROUP BY person_id)
        SELECT (SELECT count(*) FROM {truth}), (SELECT count(*) FROM b),
               (SELECT coalesce(sum(n * (n - 1) // 2), 0) FROM c),
               (SELECT coalesce(sum(n * (n - 1) // 2), 0) FROM tt),
               (SELECT coalesce(sum(n * (n - 1) // 2), 0) FROM ct)"""
    ).fetchall()[0]
    records, linked, predicted, true, tp = (int(v) for v in row)
    return {
        "records": records,
        "records_linked": linked,
        "predicted_pairs": predicted,
        "true_pairs": true,
        "true_positive_pairs": tp,
        "precision": round(tp / predicted, 6) if predicted else 1.0,
        "recall": round(tp / true, 6) if true else 1.0,
    }


def scores_by_group_sql(con, links: str, truth: str, on: list[str], groups: str) -> dict:
    """Pairwise precision and recall restricted to the pairs that involve a record of each
    group (``groups``: a table expression with ``on`` + ``grp``).

    Record-centred counting: a record ``r`` of cluster ``c`` and person ``t`` has
    ``n[c, t] - 1`` true-positive partners, ``n[c] - 1`` predicted and ``n[t] - 1`` true ones;
    a group's precision is the sum of the first over the sum of the second, its recall the
    sum of the first over the sum of the third. (A pair of two records of the same group
    counts twice; that keeps the sums exact and weighs nothing in practice.) A record the
    links miss is a cluster of its own."""
    using = ", ".join(on)
    rows = con.execute(
        f"""WITH b AS (
            SELECT t.*, coalesce(l.key, 'unlinked:' || row_number() OVER ()) AS key
            FROM {truth} t LEFT JOIN {links} l USING ({using})),
        n AS (
            SELECT {using}, count(*) OVER (PARTITION BY key, person_id) - 1 AS tp,
                   count(*) OVER (PARTITION BY key) - 1 AS pred,
                   count(*) OVER (PARTITION BY person_id) - 1 AS tru
            FROM b)
        SELECT g.grp, count(*), sum(tp), sum(pred), sum(tru)
        FROM n JOIN (SELECT DISTINCT {using}, grp FROM {groups}) g USING ({using})
        GROUP BY g.grp ORDER BY g.grp"""
    ).fetchall()
    return {
        grp: {
            "records": int(k),
            "precision": round(float(tp) / float(pred), 6) if pred else 1.0,
            "recall": round(float(tp) / float(tru), 6) if tru else 1.0,
        }
        for grp, k, tp, pred, tru in rows
    }


def pairwise_scores(links: pd.DataFrame, truth: pd.DataFrame, on: list[str]) -> dict:
    """:func:`pairwise_scores_sql` on two data frames (``links``: ``on`` + ``key``;
    ``truth``: ``on`` + ``person_id``)."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.register("links_df", links[[*on, "key"]])
    con.register("truth_df", truth[[*on, "person_id"]])
    out = pairwise_scores_sql(con, "links_df", "truth_df", on)
    con.close()
    return out
