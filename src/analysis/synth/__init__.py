"""The synthetic prefecture: a Yuxi-like world with a known truth, and its messy extracts.

Use :func:`synthesize` (or ``analysis synth``) to write ``data/raw/`` and ``data/truth/``.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

from analysis.synth.params import SynthParams


def synthesize(
    params: SynthParams,
    data_dir: Path,
    progress: Callable[[str], None] | None = None,
    workers: int = 2,
) -> dict:
    """Build the world for ``params`` and write ``data_dir/raw`` and ``data_dir/truth``.

    Both folders are written next to the old ones and swapped in only when complete, so an
    interrupted run leaves the previous data untouched. ``workers=2`` writes the datasets in
    two processes; the files are identical either way. Returns the truth summary.
    """
    from analysis.synth.extracts import write_all
    from analysis.synth.truth import write_truth
    from analysis.synth.world import build_world

    say = progress or (lambda _msg: None)
    t0 = time.perf_counter()
    say("simulating the prefecture")
    world = build_world(params)
    data_dir.mkdir(parents=True, exist_ok=True)
    raw_tmp = data_dir / ".raw.partial"
    truth_tmp = data_dir / ".truth.partial"
    for d in (raw_tmp, truth_tmp):
        shutil.rmtree(d, ignore_errors=True)
    say("writing raw registry extracts")
    parts = data_dir / ".parts.partial"
    shutil.rmtree(parts, ignore_errors=True)
    files = write_all(world, raw_tmp, parts, params.seed, workers=workers)
    say("writing the ground truth")
    summary = write_truth(world, files, parts, truth_tmp)
    shutil.rmtree(parts, ignore_errors=True)
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    for name, tmp in (("raw", raw_tmp), ("truth", truth_tmp)):
        final = data_dir / name
        old = data_dir / f".{name}.old"
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    return summary


__all__ = ["SynthParams", "synthesize"]
