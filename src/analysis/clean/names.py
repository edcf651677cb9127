"""Normalise personal names in bulk, keeping the original.

NFKC (full-width to half-width), every dot-like separator of transliterated minority names
to U+00B7 (·), all white space removed, traditional characters to simplified (OpenCC 't2s',
applied to distinct values only). Homophones are not "repaired": they are different
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
#: Traditional -> simplified results already computed in this process.
_SIMPLIFIED: dict[str, str] = {}


@cache
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def normalize_names(values: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, pa.Array]:
    """Return (normalised names, whether each changed beyond white space/width/dots: the
    traditional-to-simplified flag, so the cleaner can record that repair)."""
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
    # Traditional to simplified on distinct values, remembered across files (the same
    # children appear in every term's registry and every month's attendance).
    uniq = pc.unique(s)
    u_list = uniq.to_pylist()
    todo = [v for v in u_list if v and v not in _SIMPLIFIED]
    if todo:
        conv = _t2s()
        _SIMPLIFIED.update((v, conv.convert(v)) for v in todo)
    simplified = [_SIMPLIFIED.get(v, v) if v else v for v in u_list]
    changed_u = np.array([a != b for a, b in zip(u_list, simplified, strict=True)])
    if not changed_u.any():
        return s, pa.array(np.zeros(len(s), bool))
    pos = pc.index_in(s, uniq).to_numpy(zero_copy_only=False)
    out = pa.array(np.asarray(simplified, dtype=object)[pos], type=pa.string())
    return out, pa.array(changed_u[pos])
