"""``analysis link``: the linkage stage, from ``data/interim/`` to ``data/processed/``.

Writes ``person_index.parquet`` (one row per clean row: which person it is about, by which
rule, with what match probability), ``persons.parquet``, ``indicators.json`` (the
enrolment rates per school year and county) and ``link_manifest.json`` (what
each pass did, and the fingerprint of the clean tables it read, so a rerun on unchanged
clean tables does no work).

The salt of the pseudonymous ``person_id`` lives in ``DATA_DIR/.person_salt``, made once
at random: person ids are stable from run to run on the same machine's data, and mean
nothing without the salt. It is not a data file to share.
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
from pathlib import Path

from analysis import __version__
from analysis.link.index import build_index

#: The match probability at or above which an entity without an ID joins a person (see
#: :mod:`analysis.link.index`). Chosen on the small prefecture (seed 7): at 0.95 one pair of
#: girls born the same day at the same address, with unrelated names, was merged (pairwise
#: precision 0.99988, recall 0.99998); at 0.99 none was (precision 1.0, recall 0.99995).
#: A wrong merge puts one child's absences on another's record; a missed link leaves a
#: record on its own, where the lists still show it. ``analysis validate`` reports the
#: linkage with the probabilistic links cut at stricter thresholds, to check the choice.
THRESHOLD = 0.99


def salt_for(data_dir: Path) -> str:
    """The data folder's person-id salt (32 hex digits), created on first use."""
    path = Path(data_dir) / ".person_salt"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(16), encoding="ascii")
    salt = path.read_text(encoding="ascii").strip()
    if not salt or any(c not in "0123456789abcdef" for c in salt):
        raise ValueError(f"{path}: not a salt of hex digits; delete it to make a new one")
    return salt


def _fingerprint(interim: Path, threshold: float) -> str:
    manifest = json.loads((interim / "manifest.json").read_text(encoding="utf-8"))
    h = hashlib.sha1()
    h.update(json.dumps(manifest.get("inputs", {}), sort_keys=True).encode())
    h.update(str(manifest.get("rules")).encode())
    h.update(f"{__version__}|{threshold}".encode())
    return h.hexdigest()


def _plain(v):
    """A JSON-able scalar: numpy numbers as Python ones, NaN (a rate over nobody) as null."""
    v = v.item() if hasattr(v, "item") else v
    return None if isinstance(v, float) and math.isnan(v) else v


def write_indicators(interim: Path, index: Path, out: Path) -> dict:
    """The enrolment indicators per school year and county (and the prefecture, '5304'),
    from the census of the linked registries (:mod:`analysis.link.census`), written to
    ``out`` (JSON: numerators, denominators and rates in percent)."""
    from analysis.indicators import enrolment_rates
    from analysis.link.census import census_frame

    rates = enrolment_rates(census_frame(interim, index))
    doc = {
        "definitions": "analysis.indicators (formulas in its docstring); census: analysis.link.census",
        "enrolment": [
            {k: _plain(v) for k, v in row.items()} for row in rates.to_dict(orient="records")
        ],
    }
    tmp = out.with_suffix(".partial")
    tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(out)
    return doc


def link(data_dir: Path, force: bool = False, threshold: float = THRESHOLD) -> dict:
    """Build the person index of ``data_dir``'s clean tables; return the link manifest
    (with ``skipped`` true when the clean tables had not changed since the last run)."""
    data_dir = Path(data_dir)
    interim, processed = data_dir / "interim", data_dir / "processed"
    if not (interim / "manifest.json").exists():
        raise FileNotFoundError(
            f"{interim / 'manifest.json'} not found: run `analysis clean` first"
        )
    fp = _fingerprint(interim, threshold)
    out = processed / "link_manifest.json"
    if out.exists() and not force:
        prev = json.loads(out.read_text(encoding="utf-8"))
        if prev.get("fingerprint") == fp and (processed / "person_index.parquet").exists():
            return {**prev, "skipped": True}
    result = build_index(interim, processed, salt_for(data_dir), threshold=threshold)
    write_indicators(interim, result.links, processed / "indicators.json")
    manifest = {"version": __version__, "fingerprint": fp, "threshold": threshold, **result.stats}
    tmp = out.with_suffix(".partial")
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(out)
    return {**manifest, "skipped": False}
