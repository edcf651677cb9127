"""Linking records of the same person across registries and years, and the three
comparisons (三比对) and indicators that rest on it.

* :func:`link`: the stage (``analysis link``);
* :func:`link_frames`: probabilistic linkage of any two data frames by column roles;
* :func:`base_tables` and the functions taking them: the census, the runs of absence, the
  three lists, the status timeline (:mod:`analysis.link.checks` shows the pipeline).
"""

from analysis.link.absence import Episodes, absence_episodes
from analysis.link.census import census
from analysis.link.checks import Checks, build_checks
from analysis.link.index import build_index
from analysis.link.linker import link_frames
from analysis.link.lists import dropout_list, not_enrolled_list, poverty_list
from analysis.link.stage import link
from analysis.link.tables import BaseTables, base_tables
from analysis.link.timeline import monitoring_counts, status_timeline

__all__ = [
    "BaseTables",
    "Checks",
    "Episodes",
    "absence_episodes",
    "base_tables",
    "build_checks",
    "build_index",
    "census",
    "dropout_list",
    "link",
    "link_frames",
    "monitoring_counts",
    "not_enrolled_list",
    "poverty_list",
    "status_timeline",
]
