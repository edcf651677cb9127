"""How the command line shows a stage's summary: each of its frames as a table, then its
notes. The frames are the same a notebook shows (:class:`analysis.summary.StageSummary`)."""

from __future__ import annotations

import numbers

import pandas as pd
from rich import box
from rich.console import Console
from rich.table import Table

from analysis.summary import StageSummary

console = Console(highlight=False)

_SKIPPED = {
    "synth": "synth: data/raw already holds this scale and seed: skipped (use --force to rebuild)",
    "clean": "clean: raw files unchanged since the last run: nothing to do (use --force to redo)",
    "link": "link: clean tables unchanged since the last run: nothing to do (use --force to redo)",
    "model": "model: person index and lists unchanged since the last run: nothing to do "
    "(use --force to redo)",
    "effects": "effects: the model's inputs unchanged since the last run: nothing to do "
    "(use --force to redo)",
    "report": "report: inputs, notebooks and code unchanged since this period's reports were "
    "rendered: skipped (use --force to render again)",
}


def cell(v) -> str:
    """A value as the terminal shows it: whole numbers with thousands separators."""
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return ""
    if isinstance(v, numbers.Integral) and not isinstance(v, bool):
        return f"{int(v):,}"
    if isinstance(v, numbers.Real) and not isinstance(v, bool):
        return f"{float(v):g}"
    return str(v)


def _numeric(values: pd.Series) -> bool:
    text = values.map(cell)
    return bool(text.str.match(r"^[-+]?[\d,.]+( ?%| points)?(\n\[.*\])?$|^$").all())


def table(title: str, frame: pd.DataFrame) -> Table:
    """One frame as a rich table: the first column and text columns left, numbers right."""
    t = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for i, c in enumerate(frame.columns):
        right = i > 0 and _numeric(frame[c])
        lines = frame[c].map(cell).str.contains("\n").any()
        t.add_column(str(c), justify="right" if right else "left", no_wrap=not lines)
    for row in frame.itertuples(index=False):
        t.add_row(*(cell(v) for v in row))
    return t


def show(summary: StageSummary) -> None:
    """Print a stage's summary: whether it was skipped, its tables, its notes."""
    if summary.skipped and summary.stage in _SKIPPED:
        console.print(f"[dim]{_SKIPPED[summary.stage]}[/]")
    for title, frame in summary.tables.items():
        console.print(table(title, frame))
    for note in summary.notes:
        console.print(f"[dim]{note}[/]")
