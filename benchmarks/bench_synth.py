"""Benchmark: build the synthetic prefecture, print wall time and peak memory.

Targets (issue 2): ``small`` in under 30 s; ``yuxi`` in under 5 minutes with peak memory
under 6 GB on a 2-core machine. Memory is the peak of the resident set of the whole process
tree (the main process plus the writer processes it forks, as proportional set size so
shared pages count once), sampled every 0.1 s.

The alternatives it names, with ratios:

* ``--compare-serial`` also runs the extracts with one process (``workers=1``);
* the XLSX writer against xlsxwriter on one registry-sized sheet, if xlsxwriter is
  installed (``pip install xlsxwriter``): the reason the project writes SpreadsheetML itself.

Usage::

    python benchmarks/bench_synth.py                 # yuxi, then small
    python benchmarks/bench_synth.py --scale small
    python benchmarks/bench_synth.py --compare-serial
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from _measure import PeakMemory


def bench_synth(scale: str, seed: int, workers: int) -> tuple[float, float, dict]:
    from analysis.synth import SynthParams, synthesize

    with tempfile.TemporaryDirectory() as tmp, PeakMemory() as mem:
        t0 = time.perf_counter()
        summary = synthesize(SynthParams.preset(scale, seed), Path(tmp) / "data", workers=workers)
        wall = time.perf_counter() - t0
    return wall, mem.peak / 2**30, summary


def bench_xlsx(rows: int = 30_000, cols: int = 18) -> None:
    """Our SpreadsheetML writer against xlsxwriter on one registry-sized sheet."""
    from analysis.synth.writers import Sheet, write_xlsx

    rng = np.random.default_rng(0)
    data = [
        np.array([f"值{v}" for v in rng.integers(0, 10**9, rows)], dtype=object)
        for _ in range(cols)
    ]
    header = [f"列{i}" for i in range(cols)]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        write_xlsx(
            Path(tmp) / "ours.xlsx",
            [Sheet("Sheet1", header, data, ["text"] * cols, titles=["标题"])],
        )
        ours = time.perf_counter() - t0
        try:
            import xlsxwriter
        except ImportError:
            print(
                f"xlsx writer: ours {ours:.2f} s for {rows * cols:,} cells (xlsxwriter not installed: no ratio)"
            )
            return
        t0 = time.perf_counter()
        wb = xlsxwriter.Workbook(str(Path(tmp) / "theirs.xlsx"), {"constant_memory": True})
        ws = wb.add_worksheet()
        ws.write_row(0, 0, header)
        for i in range(rows):
            for c in range(cols):
                ws.write_string(i + 1, c, data[c][i])
        wb.close()
        theirs = time.perf_counter() - t0
    print(
        f"xlsx writer: ours {ours:.2f} s, xlsxwriter (constant_memory) {theirs:.2f} s "
        f"for {rows * cols:,} cells: {theirs / ours:.1f}x faster"
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--scale", choices=["small", "yuxi", "both"], default="both")
    ap.add_argument("--seed", type=int, default=2020)
    ap.add_argument(
        "--compare-serial", action="store_true", help="also run with one writer process"
    )
    args = ap.parse_args()
    scales = ["yuxi", "small"] if args.scale == "both" else [args.scale]
    limits = {"small": (30, None), "yuxi": (300, 6.0)}
    for scale in scales:
        wall, peak, summary = bench_synth(scale, args.seed, workers=2)
        lim_t, lim_m = limits[scale]
        ok_t = "ok" if wall < lim_t else "OVER"
        ok_m = "" if lim_m is None else (" ok" if peak < lim_m else " OVER")
        print(
            f"synth {scale}: {wall:.1f} s wall (target < {lim_t} s: {ok_t}), peak memory {peak:.2f} GB"
            + (f" (target < {lim_m} GB:{ok_m})" if lim_m else "")
            + f"; {summary['counts']['raw_files']} files, {summary['counts']['raw_rows']:,} rows"
        )
        if args.compare_serial:
            wall1, peak1, _ = bench_synth(scale, args.seed, workers=1)
            print(
                f"synth {scale} serial: {wall1:.1f} s, peak {peak1:.2f} GB; two processes are {wall1 / wall:.2f}x faster"
            )
    bench_xlsx()


if __name__ == "__main__":
    main()
