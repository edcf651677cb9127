"""How a stage runs: the fingerprint of its inputs, skipping a stage whose inputs have not
changed, and writing aside then swapping in, so a failed run leaves the last output whole.

Every stage (synth, clean, link, model) does the same three things with these functions:

1. compute the **fingerprint** of what its output depends on (:func:`fingerprint`): the
   previous stage's fingerprint or the raw files' content (:func:`file_hashes`), its
   settings, and its code (:func:`code_version`: the shared modules and its own
   subpackages);
2. **skip** when its manifest already holds that fingerprint and its outputs are there
   (:func:`unchanged`);
3. write everything into a **staging** copy of the layout and publish it whole at the end
   (:func:`staged`): old outputs are moved aside, the new ones moved in, the old ones
   deleted. An exception inside the block deletes the staging folder and leaves the
   published outputs as they were.

Examples
--------
>>> import tempfile
>>> from analysis.layout import Layout
>>> layout = Layout(tempfile.mkdtemp())
>>> with staged(layout, [layout.indicators], "demo") as stage:
...     stage.indicators.parent.mkdir(parents=True)
...     _ = stage.indicators.write_text("{}")
>>> layout.indicators.read_text()
'{}'
>>> fingerprint({"a": 1}) == fingerprint({"a": 1}) != fingerprint({"a": 2})
True
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from analysis import __version__
from analysis.layout import Layout


def code_files(packages: tuple[str, ...] = ()) -> list[Path]:
    """The files of the code a stage runs, relative to the package: the top-level modules,
    ``resources/`` and the subpackages named in ``packages``.

    >>> files = {str(p) for p in code_files(("clean",))}
    >>> "calendar.py" in files, "resources/config.yaml" in files, "clean/stage.py" in files
    (True, True, True)
    >>> any(f.startswith(("model/", "link/", "cli/")) for f in files)
    False
    """
    root = Path(__file__).parent
    out = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if p.suffix not in (".py", ".yaml", ".csv") or "__pycache__" in rel.parts:
            continue
        if len(rel.parts) == 1 or rel.parts[0] == "resources" or rel.parts[0] in packages:
            out.append(rel)
    return out


@cache
def code_version(packages: tuple[str, ...] = ()) -> str:
    """A SHA-1 of the code a stage runs (:func:`code_files`) and the package's version. An
    edit to the model's code reruns the model, not the cleaning and the linkage before it; a
    stage downstream of an edited one reruns anyway, because its fingerprint holds the
    upstream one's.

    >>> len(code_version(("clean",)))
    40
    >>> code_version(("clean",)) == code_version(("model",))
    False
    """
    root = Path(__file__).parent
    h = hashlib.sha1(__version__.encode())
    for rel in code_files(packages):
        h.update(str(rel).encode())
        h.update((root / rel).read_bytes())
    return h.hexdigest()


def fingerprint(*parts: object, code: tuple[str, ...] = ()) -> str:
    """A SHA-1 of ``parts`` (anything JSON can write; keys sorted) and of the code the stage
    runs (:func:`code_version` of the subpackages ``code``): equal fingerprints mean the same
    output."""
    h = hashlib.sha1(code_version(tuple(code)).encode())
    for p in parts:
        h.update(b"\x1f")
        h.update(json.dumps(p, sort_keys=True, default=str, ensure_ascii=False).encode())
    return h.hexdigest()


def file_sha1(path: Path, content: bytes | None = None) -> str:
    """The SHA-1 of a file's content (of ``content`` if the bytes are already read).

    >>> file_sha1(None, b"abc")
    'a9993e364706816aba3e25717850c26c9cd0d89d'
    """
    if content is not None:
        return hashlib.sha1(content).hexdigest()
    h = hashlib.sha1()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def file_stats(paths: Iterable[Path], root: Path) -> dict[str, list[int]]:
    """Size and modification time of each file (by its path under ``root``): the cheap
    test of "unchanged"."""
    return {str(p.relative_to(root)): [p.stat().st_size, p.stat().st_mtime_ns] for p in paths}


def file_hashes(
    paths: Iterable[Path], root: Path, previous: dict | None = None
) -> tuple[dict[str, str], dict[str, list[int]]]:
    """The SHA-1 and stats of each file under ``root``; a file whose size and time are those of
    ``previous`` (a manifest with ``inputs`` and ``stats``) keeps its recorded SHA-1 unread.
    Returns (hashes, stats).

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> _ = (root / "a.csv").write_text("x")
    >>> hashes, stats = file_hashes([root / "a.csv"], root)
    >>> hashes
    {'a.csv': '11f6ad8ec52a2984abaafd7c3b516503785c2072'}
    >>> file_hashes([root / "a.csv"], root, {"inputs": {"a.csv": "kept"}, "stats": stats})[0]
    {'a.csv': 'kept'}
    """
    paths = list(paths)
    stats = file_stats(paths, root)
    old_hash = (previous or {}).get("inputs", {})
    old_stats = (previous or {}).get("stats", {})
    hashes = {}
    for p in paths:
        rel = str(p.relative_to(root))
        same = old_stats.get(rel) == stats[rel] and rel in old_hash
        hashes[rel] = old_hash[rel] if same else file_sha1(p)
    return hashes, stats


def read_manifest(path: Path) -> dict | None:
    """A stage's manifest (JSON), or None if it is missing or unreadable.

    >>> read_manifest(Path("/nowhere/manifest.json")) is None
    True
    """
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def unchanged(manifest: Path, key: str, outputs: Iterable[Path] = ()) -> dict | None:
    """The previous manifest if it was written for the fingerprint ``key`` and every one of
    ``outputs`` is still there; else None (the stage must run).

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> write_json(root / "manifest.json", {"fingerprint": "k1"})
    >>> unchanged(root / "manifest.json", "k1"), unchanged(root / "manifest.json", "k2")
    ({'fingerprint': 'k1'}, None)
    >>> unchanged(root / "manifest.json", "k1", [root / "missing.parquet"]) is None
    True
    """
    prev = read_manifest(manifest)
    if prev is None or prev.get("fingerprint") != key:
        return None
    if not all(Path(p).exists() for p in outputs):
        return None
    return prev


def write_json(path: Path, doc: dict) -> None:
    """Write a JSON document whole (beside, then renamed over the old one).

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "doc.json"
    >>> write_json(p, {"n": np.int64(3), "when": __import__("datetime").date(2020, 9, 1)})
    >>> read_manifest(p)
    {'n': 3, 'when': '2020-09-01'}
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=1, default=_plain), encoding="utf-8")
    os.replace(tmp, path)


def _plain(v):
    """numpy scalars as Python ones, dates as ISO text, anything else as text."""
    if hasattr(v, "item"):
        return v.item()
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)


def _mirror(layout: Layout, stage: Layout, path: Path) -> Path:
    path = Path(path)
    for base, other in ((layout.data, stage.data), (layout.reports, stage.reports)):
        try:
            return other / path.relative_to(base)
        except ValueError:
            continue
    raise ValueError(f"{path} is neither in {layout.data} nor in {layout.reports}")


@contextmanager
def staged(layout: Layout, outputs: Iterable[Path], name: str) -> Iterator[Layout]:
    """A staging :class:`Layout` to write a stage's ``outputs`` into; on success each output
    found there replaces the published one (a file or a folder, whole). On an exception
    nothing published changes and the staging folder is removed.

    >>> import tempfile
    >>> layout = Layout(tempfile.mkdtemp())
    >>> layout.interim.mkdir()
    >>> _ = layout.clean_manifest.write_text("old")
    >>> try:
    ...     with staged(layout, [layout.interim], "clean") as stage:
    ...         stage.interim.mkdir(parents=True)
    ...         _ = stage.clean_manifest.write_text("new")
    ...         raise RuntimeError("disk full")
    ... except RuntimeError:
    ...     pass
    >>> layout.clean_manifest.read_text(), [p.name for p in layout.data.iterdir()]
    ('old', ['interim'])
    """
    outputs = [Path(p) for p in outputs]
    root = layout.data / f".{name}.partial"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    stage = Layout(root / "data", root / "reports")
    try:
        yield stage
        _publish(layout, stage, outputs, root / "old")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _publish(layout: Layout, stage: Layout, outputs: list[Path], old: Path) -> None:
    """Move the old outputs aside and the new ones in; if a move fails, put the old back."""
    moved: list[tuple[Path, Path]] = []  # (published path, where its old version went)
    placed: list[Path] = []
    try:
        for i, target in enumerate(outputs):
            new = _mirror(layout, stage, target)
            if not new.exists():
                continue
            if target.exists() or target.is_symlink():
                aside = old / str(i)
                aside.parent.mkdir(parents=True, exist_ok=True)
                os.replace(target, aside)
                moved.append((target, aside))
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(new, target)
            placed.append(target)
    except BaseException:
        for target in placed:
            _remove(target)
        for target, aside in moved:
            os.replace(aside, target)
        raise


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
