"""Benchmark: the effects stage at yuxi scale.

Target (issue 14): ``analysis effects`` in under 2 minutes wall on this 2-core machine.
Prints the whole stage's wall time and peak memory, and each design's time on the loaded
inputs. The alternative it names: the policies' DiD with the randomisation inference
recomputed by csdid for every permuted schedule (the plain way), timed on 20 schedules
and extrapolated to the stage's 999, beside the stage's estimator on cluster sums.

Usage::

    python benchmarks/bench_effects.py --data-dir data      # after analysis model
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=Path("data"))
    a = ap.parse_args()
    from analysis.config import default_config
    from analysis.effects import designs
    from analysis.effects.did import staggered_did
    from analysis.effects.inputs import load_inputs
    from analysis.effects.panels import POLICY_DESIGNS, school_panel
    from analysis.effects.stage import effects
    from analysis.engine import connect
    from analysis.layout import Layout

    layout, cfg = Layout(a.data_dir), default_config()
    t0 = time.perf_counter()
    effects(layout, cfg, force=True)
    stage = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(
        f"analysis effects (whole stage): {stage:.1f} s wall, peak {peak:.2f} GB (target < 120 s)"
    )
    con = connect(cfg.engine)
    t = time.perf_counter()
    inp = load_inputs(con, layout, cfg.effects.policy_names)
    con.close()
    print(f"  inputs:      {time.perf_counter() - t:6.1f} s")
    e = cfg.effects
    for name, fn in (
        ("policies", lambda: designs.policies(inp, e.ri_draws, e.seed)),
        ("placebo", lambda: designs.placebo(inp, e.ri_draws, e.seed)),
        ("mentoring", lambda: designs.mentoring(inp)),
        ("persuasion", lambda: designs.persuasion(inp, e.censor_returns_from)),
    ):
        t = time.perf_counter()
        fn()
        print(f"  {name:12s} {time.perf_counter() - t:6.1f} s")
    # The alternative: csdid refitted on each permuted schedule.
    pupils = inp.pupils.assign(dropped=inp.pupils["dropout"].astype(float))
    panel = school_panel(
        pupils, ["dropped"], inp.adoption["video_check"], POLICY_DESIGNS["video_check"]
    )
    g = panel.groupby("county_code")["group"].first()
    rng = np.random.default_rng(0)
    t = time.perf_counter()
    for _ in range(20):
        perm = dict(zip(g.index, rng.permutation(g.to_numpy()), strict=True))
        staggered_did(panel.assign(group=panel["county_code"].map(perm)), "dropped", "period", "school_code", "group", weights="weight")  # fmt: skip
    per = (time.perf_counter() - t) / 20
    t = time.perf_counter()
    staggered_did(panel, "dropped", "period", "school_code", "group", weights="weight",
                  cluster="county_code", draws=e.ri_draws)  # fmt: skip
    ours = time.perf_counter() - t
    print(f"randomisation inference, {e.ri_draws} schedules: ours {ours:.1f} s (csdid once, then "
          f"cluster sums); csdid refitted per schedule {per * e.ri_draws:.0f} s "
          f"(extrapolated from 20): {per * e.ri_draws / ours:.0f}x")  # fmt: skip


if __name__ == "__main__":
    main()
