"""Validation study of the effect estimators: many synthetic worlds, each design's 95 %
intervals against the true estimands.

For each seed a world is simulated (``--fraction`` of Yuxi's size, every effect times
``--effect-size``), its recorded tables go straight to the estimators
(:func:`analysis.effects.direct.inputs_from_world`, no mess, for speed), and every
estimate is scored against the world's truth (:mod:`analysis.synth.estimands`). Printed per
design and kind of interval: the share of intervals covering the truth (target >= 90 %),
the mean bias against a quarter of the mean standard error, and for the placebo the share
of intervals that exclude zero (its rejection rate at 5 %, target <= 10 %).

    python benchmarks/effects_validation_study.py --seeds 20 --fraction 0.25 --effect-size 2
    python benchmarks/effects_validation_study.py --pipeline data   # one seed, both paths

``--pipeline DATA_DIR`` compares, for the world in DATA_DIR (built, cleaned, linked,
modelled and evaluated by ``analysis run``), the pipeline's prefecture estimates with the
direct path's on the same world.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.config import default_config
from analysis.effects.direct import inputs_from_world
from analysis.effects.stage import estimate_all
from analysis.parallel import map_forked
from analysis.synth.estimands import true_estimands
from analysis.synth.params import SynthParams
from analysis.synth.world import build_world
from analysis.validate.effects import score


def one_seed(args: tuple[int, float, float, int]) -> pd.DataFrame:
    """Every estimate of one world, scored; a world that fails is reported, not fatal."""
    try:
        return _one_seed(*args)
    except Exception as exc:
        print(f"seed {args[0]}: {exc.__class__.__name__}: {exc}", flush=True)
        return pd.DataFrame()


def _one_seed(seed: int, fraction: float, size: float, draws: int) -> pd.DataFrame:
    params = SynthParams(scale="study", seed=seed, fraction=fraction, effect_size=size)
    world = build_world(params)
    cfg = replace(default_config().effects, ri_draws=draws, seed=seed)
    est, _, detail = estimate_all(inputs_from_world(world), cfg)
    tru, _, panels = true_estimands(world)
    att = [d["result"].tidy().assign(intervention=p) for p, d in detail["did"].items()]
    scored = score(est, tru, panels, pd.concat(att) if att else None)
    se = est.set_index(["design", "intervention", "county_code", "estimand", "interval"])["se"]
    key = list(zip(scored["design"], scored["intervention"], scored["county_code"],
                   scored["estimand"], scored["interval"], strict=True))  # fmt: skip
    scored["se"] = se.reindex(key).to_numpy()
    return scored.assign(seed=seed)


def summarise(all_rows: pd.DataFrame) -> pd.DataFrame:
    """Per design, estimand and interval, prefecture and counties apart."""
    d = all_rows.copy()
    d["level"] = np.where(d["county_code"] == "all", "prefecture", "county")
    d["interval"] = d["interval"].str.replace(r", \d+ schedules", "", regex=True)
    cox = d["design"] == "cox"
    d["err"] = np.where(cox, np.log(d["estimate"]) - np.log(d["truth"]), d["error"])
    rows = []
    for (level, design, inter, estimand, interval), g in d.groupby(
        ["level", "design", "intervention", "estimand", "interval"]
    ):
        bias, mse = g["err"].mean(), g["se"].mean()
        rows.append({
            "level": level, "design": design, "intervention": inter, "estimand": estimand,
            "interval": interval[:32], "n": len(g), "coverage": g["covered"].mean(),
            "bias": bias, "mean_se": mse, "bias_ok": abs(bias) < mse / 4 if pd.notna(mse) else None,
            "rejects_zero": float(((g["ci_low"] > 0) | (g["ci_high"] < 0)).mean()) if design == "placebo" else np.nan,
            "scale": "log HR" if design == "cox" else "pp",
        })  # fmt: skip
    return pd.DataFrame(rows)


def pipeline_vs_direct(data_dir: Path) -> pd.DataFrame:
    """The pipeline's prefecture estimates beside the direct path's, same world."""
    from analysis.layout import Layout
    from analysis.synth.overview import load_summary

    layout = Layout(data_dir)
    summary = load_summary(layout)
    params = SynthParams.preset(summary["scale"], summary["seed"])
    world = build_world(params)
    est, _, _ = estimate_all(inputs_from_world(world), default_config().effects)
    ours = pd.read_parquet(layout.effects_table("estimates"))
    keys = ["design", "intervention", "county_code", "estimand", "interval"]
    both = ours.merge(est, on=keys, suffixes=("_pipeline", "_direct"))
    both = both[both["county_code"] == "all"]
    return both[keys[:2] + keys[3:] + ["estimate_pipeline", "estimate_direct", "se_pipeline", "se_direct"]]  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--first-seed", type=int, default=1)
    p.add_argument("--fraction", type=float, default=0.25, help="share of Yuxi's size")
    p.add_argument("--effect-size", type=float, default=2.0, help="every true effect times this")
    p.add_argument("--draws", type=int, default=199, help="randomisation-inference schedules")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", default="reports/effects_validation_study.json")
    p.add_argument("--pipeline", type=Path, help="compare the pipeline with the direct path here")
    a = p.parse_args()
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 20)
    if a.pipeline:
        print(pipeline_vs_direct(a.pipeline).round(4).to_string(index=False))
        return
    t0 = time.perf_counter()
    seeds = range(a.first_seed, a.first_seed + a.seeds)
    frames = map_forked(
        one_seed, [(s, a.fraction, a.effect_size, a.draws) for s in seeds], workers=a.workers
    )
    rows = pd.concat(frames, ignore_index=True)
    table = summarise(rows)
    print(f"{a.seeds} worlds at {a.fraction:g} of Yuxi, effects x{a.effect_size:g}, "
          f"{time.perf_counter() - t0:.0f} s\n")  # fmt: skip
    print(table.round(4).to_string(index=False))
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"seeds": list(seeds), "fraction": a.fraction, "effect_size": a.effect_size,
                               "summary": table.to_dict("records")}, indent=1, default=float), encoding="utf-8")  # fmt: skip
    rows.to_parquet(out.with_suffix(".parquet"), index=False)
    print(f"\nwritten to {out} (and every scored estimate to {out.with_suffix('.parquet')})")


if __name__ == "__main__":
    main()
