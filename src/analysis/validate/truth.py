"""The synthetic ground truth, read once for every check of ``analysis validate``.

:class:`Truth` holds one DuckDB connection in which each truth table is materialised the
first time a check asks for it (the row list of sixteen million rows at yuxi scale among
them), and the map of our persons to the true ones (``tp``), so the cleaning, linkage,
list and model checks share them rather than reading the files again. Only ``validate``
and the tests read ``data/truth/``.
"""

from __future__ import annotations

from pathlib import Path

from analysis.config import EngineConfig
from analysis.engine import connect, scan
from analysis.layout import Layout

#: How a truth table is materialised (its columns renamed to the pipeline's lineage names).
_QUERIES = {
    "rows": """SELECT file AS source_file, coalesce(sheet, '') AS source_sheet,
                      row AS source_row, person_id, row_kind
               FROM {src}""",
    "corruptions": """SELECT file AS source_file, coalesce(sheet, '') AS source_sheet,
                             row AS source_row, "column", kind, raw, clean
                      FROM {src}""",
    "kids": "SELECT * FROM {src} WHERE kind = 'child'",
}
_FILES = {"kids": "persons"}


class Truth:
    """The truth folder ``folder`` (``data/truth``), its tables in one connection.

    Examples
    --------
    >>> with Truth(prefecture_truth) as t:
    ...     t.con.execute(f"SELECT count(*) > 0 FROM {t.table('cases')}").fetchall()
    [(True,)]
    >>> Truth(prefecture_truth / "nowhere")
    Traceback (most recent call last):
    ...
    FileNotFoundError: ... not found: validation needs a synthetic prefecture (analysis synth)
    """

    def __init__(self, folder: Path, engine: EngineConfig | None = None):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise FileNotFoundError(
                f"{self.folder} not found: validation needs a synthetic prefecture (analysis synth)"
            )
        self.con = connect(engine)
        self._made: set[str] = set()

    def __enter__(self) -> Truth:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()

    def path(self, name: str) -> Path:
        return self.folder / f"{name}.parquet"

    def table(self, name: str) -> str:
        """The name of truth table ``name`` in :attr:`con` (``truth_<name>``), made on first use:
        ``rows`` and ``corruptions`` with the lineage columns ``source_file``, ``source_sheet``,
        ``source_row``; ``kids``: the children of ``persons``; any other table as its file holds
        it.

        >>> with Truth(prefecture_truth) as t:
        ...     t.table("rows"), "source_row" in t.con.execute(f"SELECT * FROM {t.table('rows')} LIMIT 0").df()
        ('truth_rows', True)
        """
        out = f"truth_{name}"
        if out not in self._made:
            src = scan(self.path(_FILES.get(name, name)))
            query = _QUERIES.get(name, "SELECT * FROM {src}").format(src=src)
            self.con.execute(f"CREATE OR REPLACE TABLE {out} AS {query}")
            self._made.add(out)
        return out

    def persons(self, layout: Layout) -> str:
        """Table ``tp``: each of our persons and the true child most of its rows are about (ties:
        the smaller true id), made once.

        >>> with Truth(prefecture_truth) as t:
        ...     t.con.execute(f"SELECT count(*) > 0 FROM {t.persons(prefecture)}").fetchall()
        [(True,)]
        """
        if "tp" not in self._made:
            self.con.execute(
                f"""CREATE OR REPLACE TABLE tp AS
                SELECT i.person_id, mode(t.person_id ORDER BY t.person_id) AS tpid
                FROM {scan(layout.person_index)} i
                JOIN {self.table("rows")} t USING (source_file, source_sheet, source_row)
                WHERE coalesce(t.person_id, '') <> '' GROUP BY i.person_id"""
            )
            self._made.add("tp")
        return "tp"
