"""The three comparisons (三比对), the census and the status timeline, built together.

:func:`build_checks` runs, in one DuckDB connection, the pipeline of the link stage after
the person index::

    base_tables → census → absence_episodes → who → the three lists → timeline
                                                  → monitoring counts, consolidation

(:mod:`analysis.link.tables`, :mod:`.census`, :mod:`.absence`, :mod:`.lists`,
:mod:`.timeline`), each step taking the tables of the steps before it as arguments. The
thresholds are :class:`analysis.config.Rules`, because local documents differ.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analysis.config import DEFAULT_RULES, EngineConfig, Rules
from analysis.engine import connect
from analysis.indicators import consolidation_rates
from analysis.layout import CHECK_LISTS, Layout
from analysis.link.absence import absence_episodes
from analysis.link.census import census
from analysis.link.lists import dropout_list, not_enrolled_list, poverty_list, who
from analysis.link.tables import base_tables
from analysis.link.timeline import consolidation_frame, monitoring_counts, status_timeline


@dataclass
class Checks:
    """The census, the comparisons' lists, the counts (:func:`build_checks`); the timeline
    (millions of rows) is written to disk, not held."""

    census: pd.DataFrame
    not_enrolled: pd.DataFrame
    dropouts: pd.DataFrame
    poverty: pd.DataFrame
    monitoring: pd.DataFrame
    consolidation: pd.DataFrame


def build_checks(
    layout: Layout,
    out: Layout | None = None,
    rules: Rules = DEFAULT_RULES,
    engine: EngineConfig | None = None,
) -> Checks:
    """The autumn census and the three comparisons on ``layout``'s clean tables and person
    index, in one DuckDB connection (see the module docstring).

    Parameters
    ----------
    layout : the data folder read.
    out : a layout (e.g. a stage's staging one) whose ``checks/`` folder receives the lists and
        the timeline (:data:`analysis.layout.CHECK_LISTS`); None: nothing is written.
    rules : the monitoring rules.
    engine : DuckDB's resources (default: the configuration's).

    Returns
    -------
    Checks
        The census, the three lists, the monitoring counts and the consolidation rates.

    Examples
    --------
    >>> checks = build_checks(prefecture)
    >>> len(checks.not_enrolled) > 0, len(checks.dropouts) > 0, len(checks.poverty) > 0
    (True, True, True)
    >>> sorted(checks.monitoring.columns)
    ['county_code', 'dropouts', 'returns', 'suspected', 'term']
    """
    con = connect(engine)
    try:
        t = base_tables(con, layout)
        frame = census(t, rules)
        episodes = absence_episodes(t, rules)
        lo, hi = rules.school_age
        con.register("census_all", frame)
        w = who(
            t,
            f"SELECT person_id FROM {episodes.episodes} UNION SELECT person_id FROM census_all "
            f"WHERE resident AND NOT enrolled AND age BETWEEN {lo} AND {hi}",
        )
        con.unregister("census_all")
        l1 = not_enrolled_list(t, frame, episodes, w, rules)
        l2 = dropout_list(t, episodes, w)
        l3 = poverty_list(t, episodes, w, l1, l2, rules)
        timeline = status_timeline(t, episodes, l1)
        reg, years = consolidation_frame(t, episodes)
        checks = Checks(frame, l1, l2, l3, monitoring_counts(l2), consolidation_rates(reg, years))
        if out is not None:
            out.checks.mkdir(parents=True, exist_ok=True)
            for key in CHECK_LISTS:
                if key == "timeline":
                    con.execute(
                        f"COPY {timeline} TO '{out.check(key)}' (FORMAT parquet, COMPRESSION zstd)"
                    )
                else:
                    getattr(checks, key).to_parquet(out.check(key), index=False, compression="zstd")
    finally:
        con.close()
    return checks
