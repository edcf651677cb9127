"""The cleaning stage: every raw file in, one clean table per kind out, nothing lost.

For each raw file:

1. read it (:mod:`analysis.clean.read`): encoding, title rows, merged headers, the header
   dictionary; a file that cannot be read is *rejected* with its reason in the manifest;
2. merge exact duplicate rows into their first occurrence (recorded in ``merges``);
3. normalise every column by its declared type and apply the declared schema
   (:mod:`analysis.clean.normalise`, :mod:`analysis.clean.schema`); a value that cannot be
   trusted is set to null and recorded in the quarantine with ``scope='value'`` and a
   reason, the row is kept;
4. quarantine whole rows that cannot be trusted (``scope='row'``): a required value
   missing, impossible attendance, a birth date in the future; flag rows that break a
   declared cross-field rule (``scope='flag'``, kept);
5. write the file's rows as one part of ``interim/<kind>.parquet``
   (:mod:`analysis.clean.write`), likewise the quarantine and merges; then the manifest.

Files of one county and dataset are cleaned together in a worker process and share their
distinct values (:mod:`analysis.clean.encoding`); groups go to the workers largest first.

The manifest says, per raw file, rows read, kept, merged and quarantined by reason (read =
kept + merged + quarantined, always: :class:`analysis.clean.quarantine.FileReport`). The
stage writes aside and swaps in (:func:`analysis.runs.staged`), and a rerun on unchanged
input (same file contents, same header dictionary and schema) does no work.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from importlib.resources import files
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from analysis.clean.context import (
    NEEDS,
    SIDECAR,
    Geography,
    Roster,
    file_facts,
    fill,
    missing_message,
    read_sidecars,
    sidecar_bytes,
)
from analysis.clean.encoding import Encoded, encode_group, exact_duplicates, text_values
from analysis.clean.headers import TableSpec, load_dictionary
from analysis.clean.normalise import normalise
from analysis.clean.quarantine import Collector, FileReport, malformed_records, merge_records
from analysis.clean.read import RawFileError, RawTable, read_raw_file
from analysis.clean.schema import TableSchema, conform, failing_rules, load_schema
from analysis.clean.write import output_schema, write_empty, write_parts
from analysis.config import Config, EngineConfig, default_config
from analysis.layout import Layout
from analysis.parallel import map_forked
from analysis.runs import file_hashes, file_sha1, fingerprint, read_manifest, staged, write_json
from analysis.summary import StageSummary

#: The subpackages whose code is part of the fingerprint (besides the shared top-level
#: modules and resources, :func:`analysis.runs.code_version`): editing them reruns the stage.
CODE = ("clean",)


@dataclass(frozen=True)
class _Job:
    """What every file of a run is cleaned with (reaches the workers by the fork)."""

    raw: Path
    out: Layout  # the staging layout the parts are written into
    specs: dict[str, TableSpec]
    schemas: dict[str, TableSchema]
    schools: dict[str, str] | None
    roster: Roster | None
    sidecars: dict[str, dict[str, str]]
    today: dt.date
    engine: EngineConfig
    single_thread: bool

    def schema(self, kind: str) -> TableSchema:
        return self.schemas.get(kind) or TableSchema(kind)


#: A user's header dictionary beside the exports (:mod:`analysis.clean.headers`).
USER_HEADERS = "headers.yaml"


def user_headers(layout: Layout, headers: Path | None = None) -> Path | None:
    """The user's header dictionary in force: ``headers`` if given (it must exist), else
    ``raw/headers.yaml`` if there is one, else None."""
    if headers is not None:
        if not Path(headers).is_file():
            raise FileNotFoundError(f"--headers {headers}: no such file")
        return Path(headers)
    own = layout.raw / USER_HEADERS
    return own if own.is_file() else None


def raw_files(layout: Layout) -> list[Path]:
    """Every delivered file under ``raw/`` (hidden files, the user's ``raw/headers.yaml``
    and the sidecars ``raw/<dataset>/files.csv`` aside), in path order.

    >>> len(raw_files(prefecture)) > 200
    True
    """
    return sorted(
        p
        for p in layout.raw.rglob("*")
        if p.is_file()
        and not p.name.startswith(".")
        and p != layout.raw / USER_HEADERS
        and not (p.name == SIDECAR and p.parent.parent == layout.raw)
    )


def rules_hash(user: Path | None = None, raw: Path | None = None) -> str:
    """The header dictionary (with the user's, if any), the declared schema and the
    sidecars (``raw/<dataset>/files.csv``) in force: a change to any of them reruns."""
    h = hashlib.sha1()
    for name in ("headers.yaml", "schema.yaml", "counties.csv", "townships.csv"):
        h.update((files("analysis.resources") / name).read_bytes())
    if user is not None:
        h.update(b"user headers\x1f" + Path(user).read_bytes())
    if raw is not None:
        h.update(b"sidecars\x1f" + sidecar_bytes(raw))
    return h.hexdigest()


def clean(
    layout: Layout,
    config: Config | None = None,
    *,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
    today: dt.date | None = None,
    headers: Path | None = None,
) -> StageSummary:
    """Clean every file under ``layout.raw`` into ``layout.interim`` (see the module docstring).

    Parameters
    ----------
    layout : the data folder.
    config : the run's settings (``engine``: the worker processes); default: the packaged ones.
    force : clean again even if the raw files and the rules have not changed.
    progress : called with a line of text as the work goes on.
    today : the day a birth date must not be after (default: today).
    headers : a user's header dictionary merged over the packaged one (default:
        ``raw/headers.yaml`` if there is one; :mod:`analysis.clean.headers`).

    Returns
    -------
    StageSummary
        Its manifest is ``interim/manifest.json``: per raw file, rows read, kept, merged and
        quarantined by reason (read = kept + merged + quarantined).

    Raises
    ------
    RawFileError
        No raw files at all.

    Examples
    --------
    >>> summary = clean(prefecture)
    >>> summary.skipped, summary.manifest["totals"]["rejected"]
    (True, 0)
    >>> t = summary.manifest["totals"]
    >>> t["rows_read"] == t["rows_kept"] + t["rows_merged"] + t["rows_quarantined"]
    True
    """
    from analysis.clean.overview import summary_tables

    config = config or default_config()
    say = progress or (lambda _m: None)
    paths = raw_files(layout)
    if not paths:
        raise RawFileError(
            f"{layout.raw}: no raw files (run `analysis synth` or copy a county's extracts there)"
        )
    user = user_headers(layout, headers)
    specs = load_dictionary(user)
    rules = rules_hash(user, layout.raw)
    sidecars = read_sidecars(layout.raw)
    prev = None if force else _unchanged(layout, paths, rules)
    if prev is not None:
        return StageSummary("clean", True, prev, *summary_tables(prev, layout))
    t0 = time.perf_counter()
    with staged(layout, [layout.interim], "clean") as stage:
        stage.interim.mkdir(parents=True)
        groups = _groups(paths, layout.raw)
        roster = _roster(layout.raw, paths, specs)
        job = _Job(
            raw=layout.raw,
            out=stage,
            specs=specs,
            schemas=load_schema(),
            schools=None if roster is None else roster.names,
            roster=roster,
            sidecars=sidecars,
            today=today or dt.date.today(),
            engine=config.engine,
            single_thread=min(config.engine.workers, len(groups)) > 1,
        )
        say(f"cleaning {len(paths)} files in {min(config.engine.workers, len(groups))} process(es)")
        results = map_forked(
            partial(_clean_group, job),
            groups,
            config.engine.workers,
            setup=partial(_worker_connection, job),
        )
        reports = [rep for _, rep in sorted((r for rs in results for r in rs), key=lambda r: r[0])]
        write_empty(stage)
        manifest = _manifest(
            layout, stage, paths, reports, round(time.perf_counter() - t0, 1), rules
        )
        manifest["user_headers"] = None if user is None else str(user)
        write_json(stage.clean_manifest, manifest)
    return StageSummary("clean", False, manifest, *summary_tables(manifest, layout))


def _unchanged(layout: Layout, paths: list[Path], rules: str) -> dict | None:
    """The previous manifest if the raw files' contents and the rules are the same. Files
    whose size or time changed are compared by content (SHA-1): a copied or touched but
    identical extract does not rerun the stage (the manifest then records the new times)."""
    prev = read_manifest(layout.clean_manifest)
    if prev is None or "fingerprint" not in prev:
        return None
    if set(prev.get("inputs", {})) != {str(p.relative_to(layout.raw)) for p in paths}:
        return None
    hashes, stats = file_hashes(paths, layout.raw, prev)
    if fingerprint(hashes, rules, code=CODE) != prev["fingerprint"]:
        return None
    if prev.get("stats") != stats:
        prev["stats"] = stats
        write_json(layout.clean_manifest, prev)
    return prev


def _roster(raw: Path, paths: list[Path], specs: dict[str, TableSpec]) -> Roster | None:
    """The school roster that other tables' school codes are checked against, with each
    school's county (from its county code, else its county's name, else its township) and
    the schools by name: every ``schools`` table delivered (None if there is none)."""
    roster: Roster | None = None
    geo = Geography.load()
    for p in paths:
        if p.relative_to(raw).parts[0] != specs["schools"].folder:
            continue
        try:
            for t in read_raw_file(p, raw, specs):
                if t.kind != "schools":
                    continue
                roster = roster or Roster()

                def col(name: str, t=t) -> list | None:
                    if name not in t.table.column_names:
                        return None
                    return _text(t.table.column(name)).to_pylist()

                roster.add(
                    col("school_code"),
                    col("school_name"),
                    col("county_code"),
                    col("county"),
                    col("township"),
                    geo,
                )
        except RawFileError:
            pass
    return roster


def _text(a) -> pa.Array:
    e = Encoded.of(a)
    return e.rows(text_values(e.raw))


def _groups(paths: list[Path], raw: Path) -> list[list[tuple[int, Path]]]:
    """Files cleaned together (the same dataset folder and county, by the code the file name
    starts with, else by the name before its date: one school's monthly files), largest work
    first so the workers finish together. Workbooks cost about six times as much per byte as CSV.
    (The grouping only shares work; what a file holds is read from its content.)"""

    def key(p: Path) -> tuple[str, str]:
        folder, _, name = str(p.relative_to(raw)).partition("/")
        county = name.split("_", 1)[0]
        if county.isdigit() and len(county) == 6:
            return folder, county
        # A school's or a county's monthly or termly files (红塔一中_2019年10月考勤统计):
        # the name before its first '_' or digit. They share their pupils' names and IDs.
        return folder, re.split(r"[_\d]", name, maxsplit=1)[0] or name

    def cost(p: Path) -> float:
        return p.stat().st_size * (6 if p.suffix.lower() in (".xlsx", ".xlsm") else 1)

    grouped: dict[tuple[str, str], list[tuple[int, Path]]] = {}
    for k, p in enumerate(paths):
        grouped.setdefault(key(p), []).append((k, p))
    return sorted(grouped.values(), key=lambda g: -sum(cost(p) for _, p in g))


def _worker_connection(job: _Job):
    """A worker process's DuckDB connection (one thread: one worker per core), opened once
    for all its groups."""
    from analysis.engine import connect

    if job.single_thread:
        pa.set_cpu_count(1)  # one worker per core: Arrow's own threads would only contend
    return connect(job.engine, threads=1)


def _clean_group(job: _Job, con, group: list[tuple[int, Path]]) -> list[tuple[int, FileReport]]:
    """A group of files, in a worker with its connection ``con``: read them all, share their
    distinct values, then clean each; with their SHA-1s for the manifest."""
    loaded = []
    for i, p in group:
        t0 = time.perf_counter()
        # A CSV is read once, hashed and parsed from the same bytes.
        content = p.read_bytes() if p.suffix.lower() == ".csv" else None
        sha = file_sha1(p, content)
        try:
            tables: list[RawTable] | RawFileError = read_raw_file(p, job.raw, job.specs, content)
        except RawFileError as exc:
            tables = exc
        loaded.append([i, p, sha, tables, [], time.perf_counter() - t0])
    t0 = time.perf_counter()
    ok = [item for item in loaded if not isinstance(item[3], RawFileError)]
    for item, encodings in zip(ok, encode_group([item[3] for item in ok]), strict=True):
        item[4] = encodings
    # The shared encoding's time, spread over the files by rows.
    rows = {id(item): sum(t.table.num_rows for t in item[3]) for item in ok}
    spent, total = time.perf_counter() - t0, max(1, sum(rows.values()))
    for item in ok:
        item[5] += spent * rows[id(item)] / total
    out = []
    batch = _Batch(job.out)
    for item in loaded:
        i, p, sha, tables, encodings, seconds = item
        t0 = time.perf_counter()
        rep = _clean_file(job, con, i, p, sha, tables, encodings, batch)
        rep.seconds = round(seconds + time.perf_counter() - t0, 3)
        item[3] = item[4] = None  # free the tables as we go
        out.append((i, rep))
    batch.flush()
    return out


class _Batch:
    """The clean rows of a group's files, written a part per kind once a million rows are
    held (a file per school and month would otherwise be a Parquet file each)."""

    ROWS = 1_000_000

    def __init__(self, out: Layout):
        self.out = out
        self.first: int | None = None
        self.bodies: list[tuple[str, pa.Table, list[str]]] = []
        self.quarantine: list[pa.Table] = []
        self.merges: list[pa.Table] = []
        self.rows = 0

    def add(self, i: int, bodies, quarantine, merges) -> None:
        self.first = i if self.first is None else self.first
        self.bodies += bodies
        self.quarantine += quarantine
        self.merges += merges
        self.rows += sum(b.num_rows for _, b, _ in bodies)
        if self.rows >= self.ROWS:
            self.flush()

    def flush(self) -> None:
        if self.first is None:
            return
        by_kind: dict[str, tuple[list[pa.Table], set[str]]] = {}
        for kind, body, few in self.bodies:
            tables, cols = by_kind.setdefault(kind, ([], set()))
            tables.append(body)
            cols |= set(few)
        bodies = [
            (kind, pa.concat_tables(tables) if len(tables) > 1 else tables[0], sorted(cols))
            for kind, (tables, cols) in by_kind.items()
        ]
        write_parts(self.out, self.first, bodies, self.quarantine, self.merges)
        self.__init__(self.out)


def _clean_file(
    job: _Job,
    con,
    i: int,
    p: Path,
    sha1: str,
    tables: list[RawTable] | RawFileError,
    encodings: list[dict[str, Encoded]],
    batch: _Batch | None = None,
) -> FileReport:
    """Clean one raw file, already read (``tables``, or the error that rejected it) and
    encoded; its clean tables, quarantine and merges go to the job's staging layout."""
    rel = str(p.relative_to(job.raw))
    rep = FileReport(rel, sha1)
    if isinstance(tables, RawFileError):
        rep.status, rep.message = "rejected", str(tables)
        return rep
    facts = []
    for t in tables:
        f = file_facts(t.kind, rel, t.sheet, t.titles, job.sidecars.get(rel), job.roster)
        not_null = job.schema(t.kind).not_null
        for fact, required in NEEDS.get(t.kind, {}).items():
            needed = required or fact in not_null
            if needed and fact not in f.values and fact not in t.table.column_names:
                where = f"{rel}{f' [{t.sheet}]' if t.sheet else ''}"
                rep.status, rep.message = "rejected", missing_message(where, t.kind, fact)
                rep.kinds = [t.kind]
                return rep
        facts.append(f)
    bodies, quarantine, merges = [], [], []
    for t, enc, f in zip(tables, encodings, facts, strict=True):
        for fact, value in f.values.items():
            rep.context[fact] = f"{value} ({f.sources[fact]})"
        rep.context_conflicts += f.conflicts
        rep.kinds.append(t.kind)
        rep.sheets_rejected += t.rejected_sheets
        rep.encoding = t.encoding
        rep.unknown_columns += [u for u in t.unknown_columns if u not in rep.unknown_columns]
        rep.empty_rows += t.empty_rows
        rep.duplicate_columns += [d for d in t.duplicate_columns if d not in rep.duplicate_columns]
        rep.rows_read += t.table.num_rows + len(t.malformed)
        if t.malformed:
            rep.malformed_lines += len(t.malformed)
            rep.count("rows_quarantined", "malformed_line", len(t.malformed))
            quarantine.append(malformed_records(rel, t))
        bodies.append(_clean_sheet(job, con, rel, t, enc, f, rep, quarantine, merges))
    if batch is None:
        write_parts(job.out, i, bodies, quarantine, merges)
    else:
        batch.add(i, bodies, quarantine, merges)
    return rep


def _clean_sheet(
    job: _Job,
    con,
    rel: str,
    t: RawTable,
    enc: dict[str, Encoded],
    facts,
    rep: FileReport,
    quarantine: list[pa.Table],
    merges: list[pa.Table],
) -> tuple[str, pa.Table, list[str]]:
    """One sheet: duplicates merged, columns normalised, rules applied, rows counted.
    Returns (kind, the rows kept, the columns worth a Parquet dictionary)."""
    n = t.table.num_rows
    # Rows alike in every known column but not in the others (two lines of a form's footer,
    # under a column the dictionary does not know) are not duplicates.
    first = exact_duplicates(
        enc if t.first_cells is None else {**enc, "": Encoded.of(t.first_cells)}, n
    )
    dup = first != np.arange(n)
    if dup.any():
        merges.append(merge_records(rel, t, np.flatnonzero(dup), first))
    col = Collector(t)
    schema = job.schema(t.kind)
    clean_tab, keep = normalise(t, schema, job.schools, job.today, col, enc)
    for name in ("source_row", "source_line"):
        clean_tab = clean_tab.append_column(name, t.table.column(name))
    clean_tab = clean_tab.append_column(
        "source_file", pa.repeat(pa.scalar(rel, pa.string()), n)
    ).append_column("source_sheet", pa.repeat(pa.scalar(t.sheet, pa.string()), n))
    typed = conform(clean_tab, output_schema(t.kind, job.specs, schema))
    # What the file says of all its rows (term, year, county, school), where a row has none.
    typed = fill(typed, t.kind, facts, job.roster)
    for fact, required in NEEDS.get(t.kind, {}).items():
        if (required or fact in schema.not_null) and fact in typed.column_names:
            none = typed.column(fact).is_null().to_numpy(zero_copy_only=False)
            col.row(none & keep, f"missing_{fact}", t.table)
            keep &= ~none
    for rule, bad in failing_rules(con, typed, schema):
        if rule.scope == "row":
            col.row(bad & keep, rule.name, t.table)
            keep &= ~bad
        else:
            col.row(bad, rule.name, t.table, scope="flag")
            # Every rule of the table is listed, with 0 if no row broke it.
            rep.flags[rule.name] = rep.flags.get(rule.name, 0) + int((bad & ~dup).sum())
    _account(col, dup, rep, quarantine)
    keep_rows = keep & ~dup
    rep.rows_kept += int(keep_rows.sum())
    body = typed if keep_rows.all() else typed.filter(pa.array(keep_rows))
    # Parquet dictionary pages pay only for columns with few distinct values.
    few = {c for c, e in enc.items() if len(e.raw) <= max(1000, n // 5)}
    few |= {f"{c}_status" for c in enc} | {f"{c}_partial" for c in enc}
    few |= {f"{c}_raw" for c in few} | {"source_file", "source_sheet"}
    return t.kind, body, sorted(few & set(body.column_names))


def _account(col: Collector, dup: np.ndarray, rep: FileReport, quarantine: list) -> None:
    """The sheet's quarantine records and counts: a duplicate of a row that was quarantined
    counts as merged, not twice quarantined."""
    rep.rows_merged += int(dup.sum())
    row_q = [q for q in col.rows if q.column("scope")[0].as_py() == "row"]
    for q in col.rows:
        if q.column("scope")[0].as_py() in ("row", "flag"):
            rows_q = q.column("source_row").to_numpy()
            q = q.filter(pa.array(~dup[rows_q - 1]))
        quarantine.append(q)
    for q in row_q:
        rows_q = q.column("source_row").to_numpy()
        reason = q.column("reason")[0].as_py()
        rep.count("rows_quarantined", reason, int((~dup[rows_q - 1]).sum()))
    for k, v in col.values.items():
        rep.count("values_quarantined", k, v)
    for k, v in col.repairs.items():
        rep.count("repairs", k, v)


def _manifest(
    layout: Layout,
    stage: Layout,
    paths: list[Path],
    reports: list[FileReport],
    seconds: float,
    rules: str,
) -> dict:
    """The manifest of a run (see the module docstring)."""
    hashes = {rep.file: rep.sha1 for rep in reports}
    stats = {
        str(p.relative_to(layout.raw)): [p.stat().st_size, p.stat().st_mtime_ns] for p in paths
    }
    tables = {
        d.name.removesuffix(".parquet"): sum(
            pq.read_metadata(f).num_rows for f in d.glob("*.parquet")
        )
        for d in sorted(stage.interim.glob("*.parquet"))
        if d not in (stage.quarantine, stage.merges)
    }
    return {
        "fingerprint": fingerprint(hashes, rules, code=CODE),
        "seconds": seconds,
        "inputs": hashes,
        "stats": stats,
        "tables": tables,
        "files": [rep.__dict__ for rep in reports],
        "totals": {
            "files": len(reports),
            "rejected": sum(r.status == "rejected" for r in reports),
            "rows_read": sum(r.rows_read for r in reports),
            "rows_kept": sum(r.rows_kept for r in reports),
            "rows_merged": sum(r.rows_merged for r in reports),
            "rows_quarantined": sum(sum(r.rows_quarantined.values()) for r in reports),
            "values_quarantined": sum(sum(r.values_quarantined.values()) for r in reports),
            "rows_flagged": sum(sum(r.flags.values()) for r in reports),
        },
    }
