"""Map raw header texts to canonical columns through the header dictionary (data, not code).

The dictionary lives in ``analysis/resources/headers.yaml``. A user extends it without
touching the installed package: a file of the same shape, ``data/raw/headers.yaml`` beside
the exports (or ``--headers FILE``), holding only what is new, is merged over it
(:func:`merge_dictionary`):

* a column of a known kind gains the user's aliases (tried first);
* ``required: false`` (or ``true``) changes whether a column must be present;
* a new column of a known kind, or a new kind with its ``folder`` and ``columns``, is added.

Header texts are compared after :func:`normalize_header`.

Examples
--------
>>> user = {"attendance": {"columns": {"days_present": {"aliases": ["到校天数"]}}}}
>>> specs = merge_dictionary(load_dictionary(), user, "headers.yaml")
>>> specs["attendance"].lookup[normalize_header("到校天数")]
'days_present'
>>> merge_dictionary(load_dictionary(), {"atendance": {"columns": {}}}, "headers.yaml")
Traceback (most recent call last):
...
analysis.clean.headers.HeaderError: headers.yaml: unknown kind 'atendance' (a new kind needs its folder and columns; known kinds: attendance, disability, followup, home_teaching, hukou, inspections, leave, persuasion, policies, poverty, redlist, schools, xueji)
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from pathlib import Path

import yaml

_STRIP = re.compile(r"[\s\*＊:：]+")


def normalize_header(text: object) -> str:
    """NFKC (full-width to half-width), no spaces, line breaks, '*' or colons; English lower-case."""
    if text is None:
        return ""
    s = unicodedata.normalize("NFKC", str(text))
    return _STRIP.sub("", s).lower()


@dataclass(frozen=True)
class TableSpec:
    """One kind of raw table: its folder, canonical columns, aliases and required columns."""

    kind: str
    folder: str
    aliases: dict[str, tuple[str, ...]]  # canonical -> header texts (as written in the YAML)
    required: frozenset[str]

    @property
    def lookup(self) -> dict[str, str]:
        """Normalised header text -> canonical column (computed once per spec)."""
        return _lookup(self.kind, tuple(self.aliases.items()))


@cache
def _lookup(kind: str, aliases: tuple) -> dict[str, str]:
    out: dict[str, str] = {}
    for canon, names in aliases:
        for n in (canon, *names):
            out.setdefault(normalize_header(n), canon)
    return out


@cache
def _known_headers(specs_key: tuple) -> frozenset[str]:
    known: set[str] = set()
    for kind, aliases in specs_key:
        known |= set(_lookup(kind, aliases))
    return frozenset(known)


def load_dictionary(path: Path | None = None) -> dict[str, TableSpec]:
    """The header dictionary: the package's, with a user's file (``path``, same shape, only
    what is new) merged over it."""
    if path is None:
        return _packaged()
    return merge_dictionary(_packaged(), read_user_dictionary(path), str(path))


def read_user_dictionary(path: Path) -> dict:
    """A user's header dictionary as data, or a :class:`HeaderError` naming the file."""
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise HeaderError(f"{path}: cannot read the header dictionary ({exc})") from None
    if not isinstance(doc, dict):
        raise HeaderError(f"{path}: expected kinds (xueji, attendance, ...) at the top level")
    return doc


def merge_dictionary(base: dict[str, TableSpec], user: dict, where: str) -> dict[str, TableSpec]:
    """``base`` with a user's dictionary (see the module docstring) merged over it."""
    out = dict(base)
    for kind, spec in user.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("columns", {}), dict):
            raise HeaderError(f"{where}: {kind}: expected 'columns:' with one entry per column")
        cols = spec.get("columns") or {}
        for col, entry in cols.items():
            if not isinstance(entry, dict) or not isinstance(entry.get("aliases", []), list):
                raise HeaderError(
                    f"{where}: {kind}.{col}: expected {{aliases: [...], required: true|false}}"
                )
        if kind not in base:
            if "folder" not in spec or not cols:
                raise HeaderError(
                    f"{where}: unknown kind {kind!r} (a new kind needs its folder and columns; "
                    f"known kinds: {', '.join(sorted(base))})"
                )
            out[kind] = _parse({kind: spec})[kind]
            continue
        old = base[kind]
        aliases = dict(old.aliases)
        required = set(old.required)
        for col, entry in cols.items():
            new = tuple(str(a) for a in entry.get("aliases", []))
            aliases[col] = new + tuple(a for a in aliases.get(col, ()) if a not in new)
            if entry.get("required") is True:
                required.add(col)
            elif entry.get("required") is False:
                required.discard(col)
        out[kind] = TableSpec(
            kind=kind,
            folder=spec.get("folder", old.folder),
            aliases=aliases,
            required=frozenset(required),
        )
    return out


@cache
def _packaged() -> dict[str, TableSpec]:
    text = (files("analysis.resources") / "headers.yaml").read_text(encoding="utf-8")
    return _parse(yaml.safe_load(text))


def _parse(data: dict) -> dict[str, TableSpec]:
    specs = {}
    for kind, spec in data.items():
        cols = spec["columns"]
        specs[kind] = TableSpec(
            kind=kind,
            folder=spec.get("folder", kind),
            aliases={c: tuple(v.get("aliases", [])) for c, v in cols.items()},
            required=frozenset(c for c, v in cols.items() if v.get("required")),
        )
    return specs


class HeaderError(ValueError):
    """A file whose header cannot be mapped: names the file, the column and the aliases tried."""


@dataclass
class HeaderMap:
    """How one file's columns map: position -> canonical column, and what did not map."""

    kind: str
    columns: dict[int, str]  # column position -> canonical name
    unknown: list[str] = field(default_factory=list)  # header texts not in the dictionary
    duplicates: list[str] = field(default_factory=list)  # canonical columns seen twice (first kept)
    score: float = 0.0


def combine_two_row_header(top: list[str], sub: list[str]) -> list[tuple[str, str | None]]:
    """For a merged two-row header, each column's (sub-header, group) or (header, None).

    Group names are carried right across the merged cells of the top row (which read as
    blanks) wherever the second row has a sub-header.
    """
    out: list[tuple[str, str | None]] = []
    group = None
    for t, s in zip(top, sub, strict=True):
        t, s = (t or "").strip(), (s or "").strip()
        if t and s:
            group = t
            out.append((s, t))
        elif s:
            out.append((s, group))
        else:
            group = None if t else group
            out.append((t, None))
    return out


def map_header(
    cells: list[tuple[str, str | None]], spec: TableSpec, file: str = "<file>"
) -> HeaderMap:
    """Map a header (with optional groups) to the canonical columns of ``spec``.

    Raises :class:`HeaderError` when a required column is missing.
    """
    lookup = spec.lookup
    columns: dict[int, str] = {}
    unknown, dups = [], []
    used: set[str] = set()
    for i, (text, group) in enumerate(cells):
        if not text and not group:
            continue
        candidates = [normalize_header(text)]
        if group:
            # '父亲' + '姓名': the group and sub-header together are the unambiguous name.
            candidates.insert(0, normalize_header(group + text))
        canon = None
        for cand in candidates:
            c = lookup.get(cand)
            if c is not None and c not in used:
                canon = c
                break
            if c is not None and c in used:
                dups.append(c)
        if canon is None:
            if normalize_header(text) in ("序号", "编号", "no", "#"):
                continue  # a running number, not data
            if not any(lookup.get(c) for c in candidates):
                unknown.append(f"{group}/{text}" if group else text)
            continue
        columns[i] = canon
        used.add(canon)
    missing = sorted(spec.required - used)
    if missing:
        details = "; ".join(f"'{m}' (tried: {', '.join(spec.aliases[m])})" for m in missing)
        raise HeaderError(f"{file}: required column missing for a {spec.kind} table: {details}")
    score = len(used & spec.required) / max(len(spec.required), 1) + 0.01 * len(used)
    return HeaderMap(spec.kind, columns, unknown, sorted(set(dups)), score)


def header_matches(cells: list[str], specs: dict[str, TableSpec]) -> int:
    """How many cells of a row are known header texts of any table (header-row detection)."""
    known = _known_headers(tuple((s.kind, tuple(s.aliases.items())) for s in specs.values()))
    return sum(1 for c in cells if c and normalize_header(c) in known)


def best_table(
    cells: list[tuple[str, str | None]], specs: dict[str, TableSpec], folder: str, file: str
) -> HeaderMap:
    """The table kind whose required columns this header has; those of the folder first.

    A file that matches no kind of its folder but another folder's kind is reported as a
    file in the wrong folder.
    """
    in_folder = [s for s in specs.values() if s.folder == folder]
    errors: dict[str, str] = {}  # kind -> why its required columns are not all there
    for group in (in_folder, [s for s in specs.values() if s.folder != folder]):
        found = []
        for spec in group:
            try:
                found.append(map_header(cells, spec, file))
            except HeaderError as exc:
                errors[spec.kind] = str(exc)
        if found:
            best = max(found, key=lambda m: m.score)
            if group is not in_folder:
                raise HeaderError(
                    f"{file}: this is a {best.kind} table (folder '{specs[best.kind].folder}'), "
                    f"delivered in the '{folder}' folder"
                )
            return best
    if not in_folder:
        raise HeaderError(f"{file}: '{folder}' is not a dataset folder of the data contract")
    # Judged as a kind of its folder: the one it comes closest to (the shortest list of
    # missing columns), never another folder's kind.
    raise HeaderError(min((errors[s.kind] for s in in_folder), key=len))
