"""Columns as codes into their distinct values: where the cleaning stage gets its speed.

Registry columns repeat heavily (ten million attendance rows hold fifty months, the same
children are in every term's registry), so every rule runs on a column's distinct values
and is broadcast back to the rows by the codes. The files of one county and dataset are
encoded together (:func:`encode_group`) and share their distinct values and the results
of the rules on them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analysis.clean.read import RawTable


def text_values(a: pa.Array) -> pa.Array:
    """Text as the rules compare it: NFKC (full-width to half-width), trimmed."""
    return pc.utf8_trim_whitespace(pc.utf8_normalize(a, "NFKC"))


def per_distinct(a: pa.ChunkedArray | pa.Array, fn):
    """Apply ``fn`` (array -> array, or tuple of arrays) to the distinct values of ``a`` only,
    and broadcast back to the rows."""
    e = Encoded.of(a)
    out = fn(e.raw)
    if isinstance(out, tuple):
        return tuple(e.rows(o) for o in out)
    return e.rows(out)


@dataclass
class Encoded:
    """A raw column as codes into its distinct values: every rule runs on the distinct
    values (``raw``, and ``text`` = NFKC, trimmed) and is broadcast to rows by the codes."""

    codes: np.ndarray  # int32, one per row
    raw: pa.Array  # distinct raw values, null read as ''
    #: Results of rules on the distinct values, shared by every table whose column was
    #: encoded against the same distinct values (see :func:`encode_group`).
    cache: dict = field(default_factory=dict)

    @classmethod
    def of(cls, a: pa.ChunkedArray | pa.Array) -> Encoded:
        if isinstance(a, pa.ChunkedArray):
            a = a.combine_chunks()
        enc = pc.dictionary_encode(pc.fill_null(a.cast(pa.string()), ""))
        return cls(enc.indices.to_numpy(zero_copy_only=False), enc.dictionary)

    def once(self, key, fn: Callable):
        """``fn()`` computed once per set of distinct values, whichever table asks."""
        if key not in self.cache:
            self.cache[key] = fn()
        return self.cache[key]

    @property
    def text(self) -> pa.Array:
        """The distinct values NFKC-normalised and trimmed."""
        return self.once("text", lambda: text_values(self.raw))

    @property
    def empty(self) -> np.ndarray:
        """Per distinct value: empty once trimmed."""
        return self.once(
            "empty", lambda: pc.equal(pc.utf8_length(self.text), 0).to_numpy(zero_copy_only=False)
        )

    def rows(self, distinct: pa.Array) -> pa.Array:
        """Values per distinct value -> values per row."""
        return pc.take(distinct, pa.array(self.codes))

    def mask(self, distinct: pa.Array | np.ndarray) -> np.ndarray:
        """A boolean per distinct value -> a numpy mask per row (nulls are False)."""
        if not isinstance(distinct, np.ndarray):
            distinct = pc.fill_null(distinct, False).to_numpy(zero_copy_only=False)
        return np.asarray(distinct, bool)[self.codes]

    def raw_rows(self) -> pa.Array:
        return pa.DictionaryArray.from_arrays(pa.array(self.codes), self.raw)

    def text_rows(self) -> pa.Array:
        return pa.DictionaryArray.from_arrays(pa.array(self.codes), self.text)


def encode_group(tables: list[list[RawTable]]) -> list[list[dict[str, Encoded]]]:
    """Encode the columns of a group's tables (per file, per sheet) as codes into distinct
    values, one hash pass per column name over all the group's tables of a kind: ten files
    of a county hold few new names, so each rule then runs once per distinct value of the
    group, not once per file. Tables encoded together share ``raw`` and ``cache``."""
    out: list[list[dict[str, Encoded]]] = [[{} for _ in ts] for ts in tables]
    by: dict[tuple[str, str], list[tuple[int, int, str, pa.ChunkedArray]]] = {}
    for f, ts in enumerate(tables):
        for k, t in enumerate(ts):
            for c in t.table.column_names:
                if c not in ("source_row", "source_line"):
                    by.setdefault((t.kind, c), []).append((f, k, c, t.table.column(c)))
    for cols in by.values():
        whole = pa.chunked_array(
            [ch for *_, a in cols for ch in a.cast(pa.string()).chunks], pa.string()
        )
        if whole.null_count:
            whole = pc.fill_null(whole, "")
        enc = pc.dictionary_encode(whole)  # one dictionary over all chunks
        codes = np.concatenate(
            [np.asarray(ch.indices, np.int32) for ch in enc.chunks] or [np.zeros(0, np.int32)]
        )
        raw = enc.chunk(0).dictionary if enc.num_chunks else pa.array([], pa.string())
        cache: dict = {}
        off = 0
        for f, k, c, a in cols:
            out[f][k][c] = Encoded(codes[off : off + len(a)], raw, cache)
            off += len(a)
    return out


def exact_duplicates(enc: dict[str, Encoded], n: int) -> np.ndarray:
    """For each row, the index of the first row identical to it in every column (itself
    when it is the first). Built from the columns' codes (hashing integers, never joined
    strings)."""
    import pandas as pd

    if not enc or n == 0:
        return np.arange(n)
    key = np.zeros(n, np.int64)
    for e in enc.values():
        card = max(len(e.raw), 1)
        if key.max(initial=0) >= (np.iinfo(np.int64).max // card) - card:
            key = pd.factorize(key)[0].astype(np.int64)  # re-densify
        key = key * card + e.codes
    codes = pd.factorize(key)[0]  # numbered in order of first occurrence
    first = np.empty(codes.max() + 1, np.int64)
    first[codes[::-1]] = np.arange(n - 1, -1, -1)  # the last write wins: the first row
    return first[codes]
