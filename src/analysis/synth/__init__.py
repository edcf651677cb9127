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
    """Build the world for ``params`` and write its ``raw/`` and ``truth/`` folders.

    Both are written aside and swapped in only when complete, so an interrupted run leaves
    the previous data untouched. The same parameters (seed included) give byte-identical
    files, whichever number of workers writes them.

    Parameters
    ----------
    params : the prefecture (:meth:`SynthParams.preset`, or a variant of it).
    data_dir : a data folder, or a :class:`~analysis.layout.Layout`.
    progress : called with a line of text as the work goes on.
    workers : processes that write the datasets.

    Returns
    -------
    dict
        The truth summary (``truth/summary.json``): the seed's figures as this world has them,
        the AUC of the true probabilities, counts, the realised mess.

    Examples
    --------
    >>> from analysis.synth.overview import load_summary
    >>> summary = load_summary(Layout(prefecture_truth.parent))
    >>> summary["scale"], summary["figures"]["junior_enrolment_rate"] > 95
    ('small', True)
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


def current(layout: Layout, scale: str, seed: int, dialect: str = "county") -> dict | None:
    """The truth summary if ``raw/`` and ``truth/`` already hold the prefecture of ``scale``,
    ``seed`` and ``dialect`` (the same seed gives byte-identical files), else None.

    >>> current(Layout(prefecture_truth.parent), "small", 7)["seed"], current(Layout(prefecture_truth.parent), "yuxi", 7)
    (7, None)
    """
    summary = read_manifest(layout.truth_summary)
    if not layout.raw.is_dir() or summary is None:
        return None
    held = (summary.get("scale"), summary.get("seed"), summary.get("dialect", "county"))
    return summary if held == (scale, seed, dialect) else None


def synth(
    layout: Layout,
    config: Config | None = None,
    *,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> StageSummary:
    """The synthetic prefecture of ``config.synth`` in ``layout``.

    Parameters
    ----------
    layout : the data folder whose ``raw/`` and ``truth/`` are written.
    config : the run's settings (``synth``: scale and seed; ``engine``: workers).
    force : build even if the folder holds this prefecture already.
    progress : called with a line of text as the work goes on.

    Returns
    -------
    StageSummary
        Its manifest is the truth summary; its table, the seed's figures next to this world's.

    Examples
    --------
    >>> from analysis.config import default_config
    >>> small = default_config().with_("synth", scale="small", seed=7)
    >>> summary = synth(Layout(prefecture_truth.parent), small)
    >>> summary.skipped, list(summary.tables)[0]
    (True, 'Synthetic prefecture · scale small (×0.05) · seed 7')
    """
    from analysis.synth.overview import summary_tables

    config = config or default_config()
    scale, seed, dialect = config.synth.scale, config.synth.seed, config.synth.dialect
    prev = None if force else current(layout, scale, seed, dialect)
    if prev is not None:
        return StageSummary("synth", True, prev, *summary_tables(prev, layout))
    params = SynthParams.preset(scale, seed, dialect)
    summary = synthesize(params, layout, progress, workers=config.engine.workers)
    return StageSummary("synth", False, summary, *summary_tables(summary, layout))


__all__ = ["MessRates", "SynthParams", "current", "synth", "synthesize"]
