"""Linking records of the same person across registries and years, and the three
comparisons (三比对) and indicators that rest on it.

* :func:`link`: the stage (``analysis link``);
* :func:`link_frames`: probabilistic linkage of any two data frames (or deduplication of
  one) by column roles, returning a :class:`LinkResult` (docs/linkage.md);
* :func:`base_tables` and the functions taking them: the census, the runs of absence, the
  three lists, the status timeline (:mod:`analysis.link.checks` shows the pipeline).
"""

from analysis.link.absence import Episodes, absence_episodes
from analysis.link.census import census
from analysis.link.checks import Checks, build_checks
from analysis.link.frames import link_frames
from analysis.link.index import build_index, explain_match
from analysis.link.lists import dropout_list, not_enrolled_list, poverty_list
from analysis.link.result import LinkResult
from analysis.link.stage import link
from analysis.link.tables import BaseTables, base_tables
from analysis.link.timeline import monitoring_counts, status_timeline

__all__ = [
    "BaseTables",
    "Checks",
    "Episodes",
    "LinkResult",
    "absence_episodes",
    "base_tables",
    "build_checks",
    "build_index",
    "census",
    "dropout_list",
    "explain_match",
    "link",
    "link_frames",
    "monitoring_counts",
    "not_enrolled_list",
    "poverty_list",
    "status_timeline",
]
