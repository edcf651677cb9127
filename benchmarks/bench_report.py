"""Benchmark: ``analysis report`` at yuxi scale, all reports of a period.

Targets (issue 15): the 9 county reports and the prefecture's (with its public version) in
under 90 s wall on this 2-core machine once the earlier stages are done, and the parallel
run at least 1.4× faster than the same notebooks one after another. The alternative it
names: the same stage with one worker (``report.workers = 1``: every notebook executed and
exported in turn, in one process).

After one warm-up run, prints for each the median wall time of ``--runs`` runs, the peak
memory of the whole process tree (the kernels included) and the slowest report; then the
ratio.

Usage::

    python benchmarks/bench_report.py --data-dir data          # after analysis effects
    python benchmarks/bench_report.py --data-dir data --runs 1 # one run each (quicker)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _measure import PeakMemory


def _run(layout, config, workers: int) -> tuple[float, float, dict]:
    from analysis.report.stage import report

    cfg = config.with_("report", workers=workers)
    with PeakMemory() as mem:
        t0 = time.perf_counter()
        summary = report(layout, cfg, force=True)
        wall = time.perf_counter() - t0
    if summary.manifest["failed"]:
        raise SystemExit(f"reports failed: {summary.manifest['failed']}")
    return wall, mem.peak / 1024**3, summary.manifest["reports"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=Path("data"))
    ap.add_argument("--runs", type=int, default=3, help="runs of each (the median is shown)")
    ap.add_argument("--workers", type=int, default=2, help="the parallel run's workers")
    a = ap.parse_args()
    from analysis.config import default_config
    from analysis.layout import Layout

    layout, config = Layout(a.data_dir), default_config()
    _run(layout, config, a.workers)  # warm-up: files in the page cache, kernels' imports compiled
    out = {}
    for workers in (a.workers, 1):
        walls, peaks = [], []
        for _ in range(a.runs):
            wall, peak, reports = _run(layout, config, workers)
            walls.append(wall)
            peaks.append(peak)
        slow = max(reports.items(), key=lambda kv: kv[1]["seconds"])
        out[workers] = statistics.median(walls)
        print(
            f"analysis report, {workers} worker(s): {out[workers]:.1f} s wall (median of "
            f"{a.runs}), peak {max(peaks):.2f} GB, {len(reports)} reports; slowest "
            f"{slow[0]} {slow[1]['seconds']:.1f} s"
        )
    print(
        f"parallel ({a.workers} workers) vs one after another: {out[1] / out[a.workers]:.2f}× "
        f"faster (target ≥ 1.4×); all reports in {out[a.workers]:.1f} s (target < 90 s)"
    )


if __name__ == "__main__":
    main()
