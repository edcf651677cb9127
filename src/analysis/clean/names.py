"""Normalise personal names in bulk, keeping the original.

NFKC (full-width to half-width), every dot-like separator of transliterated minority names
to U+00B7 (·), all white space removed, traditional characters to simplified (OpenCC's 't2s'
character table, character by character: see :func:`_t2s_chars`). Homophones are not "repaired": they are different
characters, and telling them apart is the linker's job (pinyin comparison).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Separators seen between the parts of transliterated names (after NFKC).
DOT_VARIANTS = "•．.・‧∙⋅･·"
MIDDLE_DOT = "·"


@cache
def _t2s_chars() -> dict[int, str]:
    """OpenCC's 't2s' character table: every CJK character it changes on its own, and to what.

    Names are converted character by character, never through OpenCC's phrase table: phrase
    rules are for words, and would turn the surname 沈 of 沈思 into 沉 (沉思, "to ponder")."""
    ranges = [(0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2A6DF)]
    chars = [chr(c) for lo, hi in ranges for c in range(lo, hi + 1)]
    conv = _t2s().convert("\n".join(chars)).split("\n")
    return {ord(c): s for c, s in zip(chars, conv, strict=True) if s != c}


@cache
def _traditional_class() -> str:
    """A regular-expression class of the characters :func:`_t2s_chars` changes."""
    return "[" + "".join(sorted(chr(c) for c in _t2s_chars())) + "]"


@cache
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def normalize_names(values: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, pa.Array]:
    """Names as the linker compares them: NFKC, no spaces, every middle-dot variant as ``·``,
    traditional characters simplified character by character.

    Parameters
    ----------
    values : the raw names.

    Returns
    -------
    tuple of (pyarrow.Array, pyarrow.Array)
        The normalised names, and whether each changed beyond white space, width and dots
        (the traditional-to-simplified flag, so the cleaner can record that repair).

    Examples
    --------
    >>> names, simplified = normalize_names(pa.array(["陳 麗", "阿依・古丽", "沈思"]))
    >>> names.to_pylist(), simplified.to_pylist()
    (['陈丽', '阿依·古丽', '沈思'], [True, False, False])
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    s = pc.utf8_normalize(pc.fill_null(values.cast(pa.string()), ""), "NFKC")
    s = pc.replace_substring_regex(s, r"\s+", "")
    s = pc.replace_substring_regex(
        s,
        "[" + "".join("\\" + c if c in ".^$*+?()[]{}|\\-" else c for c in DOT_VARIANTS) + "]+",
        MIDDLE_DOT,
    )
    s = pc.utf8_trim(s, MIDDLE_DOT)
    # Traditional to simplified on distinct values, and only on those holding a character
    # the table changes (a few per cent of names): a regular expression finds them in Arrow.
    uniq = pc.unique(s)
    cand = pc.fill_null(pc.match_substring_regex(uniq, _traditional_class()), False)
    cand_idx = np.flatnonzero(cand.to_numpy(zero_copy_only=False))
    if not len(cand_idx):
        return s, pa.array(np.zeros(len(s), bool))
    names = pc.take(uniq, pa.array(cand_idx)).to_pylist()
    table = _t2s_chars()
    simplified = uniq.to_numpy(zero_copy_only=False).astype(object)
    simplified[cand_idx] = [v.translate(table) for v in names]
    changed_u = np.zeros(len(uniq), bool)
    changed_u[cand_idx] = True  # each holds a character the table changes
    if not changed_u.any():
        return s, pa.array(np.zeros(len(s), bool))
    pos = pc.index_in(s, uniq).to_numpy(zero_copy_only=False)
    out = pa.array(simplified[pos], type=pa.string())
    return out, pa.array(changed_u[pos])
