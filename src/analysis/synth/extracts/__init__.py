"""Turn the synthetic world into raw registry extracts, as counties deliver them.

One builder per dataset of the data contract (``design.md``), in the modules
:mod:`.registries`, :mod:`.attendance`, :mod:`.welfare` and :mod:`.interventions`; each
hands clean columns to :meth:`.extractor.Extractor.emit`, which makes them messy and
writes the file with the truth of every row.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from analysis.parallel import map_forked
from analysis.synth.extracts import attendance, interventions, registries, welfare
from analysis.synth.extracts.extractor import Extractor, child_columns
from analysis.synth.extracts.recording import RegistryNumbers, registry_numbers
from analysis.synth.world import World

#: stream (seeded by the world's seed and its position here).
BUILDERS = (
    "schools",
    "hukou",
    "xueji",
    "attendance",
    "leave",
    "poverty",
    "disability",
    "interventions",
    "policies",
    "inspections",
)
#: Two groups of about equal work, one per core.
GROUPS = (
    ("hukou", "attendance", "leave", "policies"),
    ("schools", "xueji", "poverty", "disability", "interventions", "inspections"),
)


@dataclass(frozen=True)
class _Job:
    """What every builder writes from (reaches forked workers by the fork, not pickled)."""

    world: World
    root: Path
    parts: Path
    seed: int
    columns: dict
    regno: RegistryNumbers


def _run_builders(job: _Job, names: tuple[str, ...]) -> list[dict]:
    """Run some builders, each with its own random stream, and save their truth parts."""
    builders = _builders(job.world.params.dialect)
    files = []
    for name in names:
        i = BUILDERS.index(name)
        rng = np.random.default_rng([job.seed, 1, i])
        ex = Extractor(job.world, job.root, rng, job.columns, job.parts, f"{i:02d}_", job.regno)
        builders[name](ex)
        ex.flush()
        files += [dict(f, builder=i) for f in ex.files]
    return files


def write_all(world: World, root: Path, parts: Path, seed: int, workers: int = 2) -> list[dict]:
    """Write every dataset of the raw contract under ``root``; truth parts go to ``parts``.

    Each dataset's builder draws from its own random stream (seeded by the world's seed and
    the builder), so the files are the same whether builders run one after the other or in
    two processes at once (``workers=2``, forked: the world is shared, not copied).
    """
    parts.mkdir(parents=True, exist_ok=True)
    job = _Job(world, root, parts, seed, child_columns(world), registry_numbers(world))
    results = map_forked(partial(_run_builders, job), GROUPS, workers)
    files = [f for group in results for f in group]
    return sorted(files, key=lambda f: (f["builder"], f["file"]))


#: The export dialects: how the same world's datasets are cut into files and titled.
DIALECTS = ("county", "school")


def _builders(dialect: str = "county") -> dict:
    """Each dataset's builder, by name, in ``dialect`` (:data:`DIALECTS`): ``county`` one
    file per county and term; ``school`` (:mod:`.by_school`) one per school and term or
    month, as another county's system exports them."""
    if dialect not in DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r}: use one of {', '.join(DIALECTS)}")
    from analysis.synth.extracts import by_school

    own = by_school.BUILDERS if dialect == "school" else {}
    return {
        "schools": registries._schools,
        "hukou": registries._hukou,
        "xueji": registries._xueji,
        "attendance": attendance._attendance,
        "leave": attendance._leave,
        "poverty": welfare._poverty,
        "disability": welfare._disability,
        "interventions": interventions._interventions,
        "policies": interventions._policies,
        "inspections": interventions._inspections,
    } | own


__all__ = ["BUILDERS", "DIALECTS", "Extractor", "write_all"]
