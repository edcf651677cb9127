"""Benchmark: the linkage stage at yuxi scale, against plain Splink on every record.

Targets (issue 4): the link stage (person index, the three lists, indicators) of the yuxi
prefecture in under 2 minutes wall and
6 GB peak memory on this 2-core machine.

The alternative it names: plain Splink (DuckDB backend, the same comparisons, blocking
rules and training) deduplicating *every* clean record, without the deterministic pass.
At yuxi scale that is 16 million records whose blocks (a pupil's fifty attendance rows
share a registry number) make hundreds of millions of pairs, more than this machine can
score in the session's time; so it runs on one county's records and is extrapolated to the
prefecture by records (blocks are per person, so pairs grow with records, not their
square). Both figures are printed, the extrapolation marked as such.

Usage::

    python benchmarks/bench_link.py --data-dir data          # after analysis clean
    python benchmarks/bench_link.py --data-dir data --county 530424
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path


def bench_index(data_dir: Path) -> tuple[float, float, dict]:
    """Wall time (s), peak memory (GB, this process: DuckDB and Splink run in it) and the
    manifest of one run of the whole stage (person index, lists and indicators), on a copy of
    the data folder that links to ``data_dir``'s clean tables."""
    from analysis.layout import Layout
    from analysis.link.stage import link

    with tempfile.TemporaryDirectory() as tmp:
        Layout(tmp).interim.symlink_to(Layout(data_dir).interim.resolve())
        t0 = time.perf_counter()
        manifest = link(Layout(tmp), force=True).manifest
        wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 2**30
    return wall, peak, manifest


def bench_plain_splink(data_dir: Path, county: str) -> tuple[float, int, int]:
    """Plain Splink dedupe of every clean record of ``county``: wall time, records, and
    the records of the whole prefecture (for the extrapolation)."""
    from splink import Linker
    from splink.backends.duckdb import DuckDBAPI

    from analysis.engine import connect
    from analysis.layout import Layout
    from analysis.link.deterministic import roles
    from analysis.link.index import _register_name_keys, records_sql
    from analysis.link.linker import quiet_splink, settings, train

    quiet = quiet_splink()
    quiet.__enter__()  # for the rest of this benchmark process
    layout = Layout(data_dir)
    kinds = [k for k in roles() if layout.table(k).exists()]
    con = connect()
    con.execute(f"CREATE VIEW records AS {records_sql(layout, kinds)}")
    total = con.execute("SELECT count(*) FROM records").fetchall()[0][0]
    t0 = time.perf_counter()
    con.execute(
        f"""CREATE TABLE recs AS SELECT row_number() OVER () AS rid, * FROM records
            WHERE county = '{county}'"""
    )
    n = con.execute("SELECT count(*) FROM recs").fetchall()[0][0]
    _register_name_keys(con, "recs")
    con.execute(
        """CREATE TABLE plain AS
        SELECT r.rid::VARCHAR AS unique_id, r.name, k.pinyin AS name_py, k.pinyin AS alt_py,
               k.surname AS surname_py, k.initials, try_cast(r.birth_date AS DATE) AS birth_date,
               r.sex, CASE WHEN length(r.id_number) = 18 THEN r.id_number END AS id_number,
               CASE WHEN length(r.id_number) = 18 THEN r.id_number[1:15]
                    WHEN length(r.id_partial) >= 15 THEN r.id_partial[1:15] END AS id15,
               r.student_no, kg.pinyin AS guardian_py, kag.pinyin AS alt_guardian_py,
               r.address, r.county
        FROM recs r LEFT JOIN name_keys k ON k.n = r.name
        LEFT JOIN name_keys kg ON kg.n = r.guardian_name
        LEFT JOIN name_keys kag ON kag.n = r.alt_guardian"""
    )
    db = DuckDBAPI(connection=con)
    linker = Linker(db.register("plain", table_name="all_records"), settings("dedupe_only"))
    train(linker)
    pred = linker.inference.predict(threshold_match_probability=0.95)
    linker.clustering.cluster_pairwise_predictions_at_threshold(pred, 0.95)
    wall = time.perf_counter() - t0
    con.close()
    return wall, n, total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=Path("data"))
    ap.add_argument(
        "--county", default="530424", help="county whose records plain Splink dedupes (华宁县)"
    )
    ap.add_argument("--skip-plain", action="store_true", help="only the stage")
    args = ap.parse_args()

    wall, peak, stats = bench_index(args.data_dir)
    ok_t = "ok" if wall < 120 else "MISSED"
    ok_m = "ok" if peak < 6 else "MISSED"
    print(
        f"link stage (person index, lists and indicators), whole prefecture: {wall:.1f} s wall (target < 120 s: {ok_t}), "
        f"peak memory {peak:.2f} GB (target < 6 GB: {ok_m}); "
        f"{sum(stats['rules'].values()):,} rows, {stats['persons']:,} persons; "
        f"deterministic {stats['seconds_deterministic']} s, "
        f"probabilistic {stats['seconds_probabilistic']} s "
        f"({stats['entities_without_id']:,} entities without a valid ID)"
    )
    if args.skip_plain:
        return
    p_wall, n, total = bench_plain_splink(args.data_dir, args.county)
    est = p_wall * total / n
    print(
        f"plain Splink, every record of county {args.county}: {n:,} records in {p_wall:.1f} s; "
        f"extrapolated to the prefecture's {total:,} records: {est / 60:.0f} min "
        f"(the stage is {est / wall:.0f}x faster)"
    )


if __name__ == "__main__":
    main()
