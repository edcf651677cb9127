"""What a stage did, as data: the summary every stage returns.

A :class:`StageSummary` holds the stage's manifest (what it wrote to disk) and the tables a
person reads after a run, as data frames with their titles, plus a few notes. The command
line renders them in the terminal and a notebook shows the same frames, so the two never
disagree.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import pandas as pd


@dataclass
class StageSummary:
    """The outcome of one stage.

    ``stage``: its name; ``skipped``: its inputs had not changed, the last output stands;
    ``manifest``: the stage's manifest as written; ``tables``: title -> frame, in reading
    order; ``notes``: lines that explain the tables (legends, where the output went).
    """

    stage: str
    skipped: bool
    manifest: dict
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        state = "skipped, inputs unchanged" if self.skipped else "ran"
        return (
            f"<{self.stage}: {state}; {len(self.tables)} table(s): "
            f"{', '.join(self.tables) or 'none'}>"
        )

    def _repr_html_(self) -> str:
        parts = [
            f"<p><b>{html.escape(self.stage)}</b>: "
            f"{'skipped (inputs unchanged)' if self.skipped else 'ran'}</p>"
        ]
        for title, frame in self.tables.items():
            parts.append(f"<h4>{html.escape(title)}</h4>{frame.to_html(index=False)}")
        parts += [f"<p><small>{html.escape(n)}</small></p>" for n in self.notes]
        return "\n".join(parts)


class CannotCompute(Exception):
    """A stage that cannot compute its output from the records delivered: the message says
    what it lacked and how to supply it (no traceback; the CLI exits 1)."""
