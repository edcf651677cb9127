"""The synthetic prefecture: a Yuxi-like world with a known truth, and its messy extracts.

:func:`synth` is the stage (``analysis synth``): it builds the prefecture of the
configuration's scale and seed into ``raw/`` and ``truth/``, unless they already hold it.
:func:`synthesize` does the work for any :class:`SynthParams`, e.g. a variant world::

    params = SynthParams.preset("small", 1)
    messier = SynthParams(**{**params.__dict__, "mess": MessRates(id_typo=0.02)})
    synthesize(messier, Path("data"))
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from analysis.config import Config, default_config
from analysis.layout import Layout
from analysis.runs import read_manifest, staged
from analysis.summary import StageSummary
from analysis.synth.params import MessRates, SynthParams


def synthesize(
    params: SynthParams,
    data_dir: Path | Layout,
    progress: Callable[[str], None] | None = None,
    workers: int = 2,
) -> dict:
    """Build the world for ``params`` and write its ``raw/`` and ``truth/`` folders (a data
    folder, or a :class:`~analysis.layout.Layout`).

    Both are written aside and swapped in only when complete, so an interrupted run leaves
    the previous data untouched. ``workers=2`` writes the datasets in two processes; the
    files are identical either way. Returns the truth summary.
    """
    from analysis.synth.extracts import write_all
    from analysis.synth.truth import write_truth
    from analysis.synth.world import build_world

    layout = data_dir if isinstance(data_dir, Layout) else Layout(data_dir)
    say = progress or (lambda _msg: None)
    t0 = time.perf_counter()
    say("simulating the prefecture")
    world = build_world(params)
    layout.data.mkdir(parents=True, exist_ok=True)
    with staged(layout, [layout.raw, layout.truth], "synth") as stage:
        say("writing raw registry extracts")
        parts = stage.data / "parts"
        files = write_all(world, stage.raw, parts, params.seed, workers=workers)
        say("writing the ground truth")
        summary = write_truth(world, files, parts, stage)
    summary["seconds"] = round(time.perf_counter() - t0, 1)  # not in the file: it varies
    return summary


def current(layout: Layout, scale: str, seed: int) -> dict | None:
    """The truth summary if ``raw/`` and ``truth/`` already hold the prefecture of
    ``scale`` and ``seed`` (the same seed gives byte-identical files), else None."""
    summary = read_manifest(layout.truth_summary)
    if not layout.raw.is_dir() or summary is None:
        return None
    return summary if (summary.get("scale"), summary.get("seed")) == (scale, seed) else None


def synth(
    layout: Layout,
    config: Config | None = None,
    *,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> StageSummary:
    """The synthetic prefecture of ``config.synth`` in ``layout`` (skipped when it is there
    already, unless ``force``)."""
    from analysis.synth.overview import summary_tables

    config = config or default_config()
    scale, seed = config.synth.scale, config.synth.seed
    prev = None if force else current(layout, scale, seed)
    if prev is not None:
        return StageSummary("synth", True, prev, *summary_tables(prev, layout))
    params = SynthParams.preset(scale, seed)
    summary = synthesize(params, layout, progress, workers=config.engine.workers)
    return StageSummary("synth", False, summary, *summary_tables(summary, layout))


__all__ = ["MessRates", "SynthParams", "current", "synth", "synthesize"]
