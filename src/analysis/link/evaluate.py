"""Pairwise linkage quality against a truth, by counting, never by listing pairs.

For records grouped into predicted clusters and into true persons, with ``n[c, t]`` the
records of cluster ``c`` that belong to person ``t``:

* true positives  = sum over (c, t) of n[c, t] choose 2;
* predicted pairs = sum over c of n[c] choose 2;
* true pairs      = sum over t of n[t] choose 2 (over *all* records of the person, linked
  or not, so recall shows what is left for the next pass);
* precision = TP / predicted pairs, recall = TP / true pairs.

A person with 500 attendance rows has 124,750 pairs; a prefecture has billions, so pairs
are counted from group sizes.
"""

from __future__ import annotations

import pandas as pd


def _pairs(sizes: pd.Series) -> int:
    n = sizes.astype("int64")
    return int((n * (n - 1) // 2).sum())


def pairwise_scores(links: pd.DataFrame, truth: pd.DataFrame, on: list[str]) -> dict:
    """Precision and recall of ``links`` (columns ``on`` + ``key``) against ``truth``
    (columns ``on`` + ``person_id``, every record that should be linked). Links of records
    the truth does not cover (e.g. a stale row of a transferred pupil) are not scored."""
    both = links[[*on, "key"]].merge(truth[[*on, "person_id"]], on=on, how="inner")
    tp = _pairs(both.groupby(["key", "person_id"]).size())
    predicted = _pairs(both.groupby("key").size())  # within the records the truth covers
    true = _pairs(truth.groupby("person_id").size())
    return {
        "records": len(truth),
        "records_linked": len(both),
        "predicted_pairs": predicted,
        "true_pairs": true,
        "true_positive_pairs": tp,
        "precision": round(tp / predicted, 6) if predicted else 1.0,
        "recall": round(tp / true, 6) if true else 1.0,
    }
