"""Comparison keys for Chinese personal names.

DuckDB's string distances (and so Splink's comparisons on DuckDB) count bytes, not
characters: one wrong character in a Chinese name is a three-byte edit, and two names that
sound alike share no bytes at all. So names are compared on keys computed here:

* ``pinyin``: toneless pinyin, one syllable per character, separated by spaces
  (``李丽`` -> ``li li``). A homophone typed in by a clerk (丽/莉, 静/晶, 雪/学) gives the same
  key; tones are dropped because the confusions the registries show cross tones too.
* ``initials``: the first letter of each syllable (``ll``), for blocking.
* ``surname``: the pinyin of the first character, or of the first part of a transliterated
  minority name written with ``·`` (阿依·古丽 -> ``a yi``).

Pinyin is taken character by character, each character's most common reading, without
phrase context: the same character always gives the same syllable whatever its
neighbours. It is a comparison key, not a romanisation (单 gives ``dan``, not the surname
reading ``shan``; 曾 gives ``ceng``), which is what matching needs. Characters without a
reading (Latin letters, digits) are kept, lower-cased.

Every function takes and returns Arrow arrays and works on distinct values only.
"""

from __future__ import annotations

from functools import cache

import pyarrow as pa
import pyarrow.compute as pc

MIDDLE_DOT = "·"


@cache
def _syllable(char: str) -> str:
    from pypinyin import Style, lazy_pinyin

    out = lazy_pinyin(char, style=Style.NORMAL, errors="default")
    return (out[0] if out else char).lower()


def _is_han(c: str) -> bool:
    o = ord(c)
    return 0x3400 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF or 0x20000 <= o <= 0x3134F


def _tokens(part: str) -> list[str]:
    """One syllable per Han character; a run of other characters (Latin, digits) is one
    token, lower-cased; white space separates runs."""
    out: list[str] = []
    run = ""
    for c in part:
        if _is_han(c) or c.isspace():
            if run:
                out.append(run.lower())
                run = ""
            if not c.isspace():
                out.append(_syllable(c))
        else:
            run += c
    if run:
        out.append(run.lower())
    return out


def _keys(name: str | None) -> tuple[str | None, str | None, str | None]:
    if not name:
        return None, None, None
    parts = [p for p in name.split(MIDDLE_DOT) if p]
    syllables = [_tokens(part) for part in parts]
    flat = [s for part in syllables for s in part]
    if not flat:
        return None, None, None
    # A transliterated minority name: its first part plays the surname's role in blocking.
    surname = " ".join(syllables[0]) if len(parts) > 1 else flat[0]
    return " ".join(flat), "".join(s[0] for s in flat), surname


def name_keys(names: pa.Array | pa.ChunkedArray) -> pa.Table:
    """``pinyin``, ``initials`` and ``surname`` keys of clean names (see the module
    docstring), aligned with ``names``; null where the name is null or empty."""
    if isinstance(names, pa.ChunkedArray):
        names = names.combine_chunks()
    enc = pc.dictionary_encode(names.cast(pa.string()))
    keys = [_keys(v) for v in enc.dictionary.to_pylist()]
    cols = list(zip(*keys, strict=True)) if keys else [(), (), ()]
    return pa.table(
        {
            name: pc.take(pa.array(list(col), pa.string()), enc.indices)
            for name, col in zip(("pinyin", "initials", "surname"), cols, strict=True)
        }
    )
