"""Values a file does not give but its other columns do: a column that can be derived is
not required.

* **disability**: the holder's ID number from the certificate number. The second-generation
  残疾人证号 is the holder's 18-character ID followed by the category digit and the level
  digit (``53042320080301123X`` + ``4`` + ``2``), so certificates link by ID number like every
  other registry, and a disabled child who is deferred is found as such (残疾缓学).
* **poverty**: the household's number from its head's ID number (户主身份证号) where the
  register gives no household number: the head's ID identifies the household.

Derivations run on the raw text, before cleaning, so the derived column is cleaned like
any other (an ID's check character verified, a typo quarantined); a value the file gives
is never replaced.

>>> t = pa.table({"cert_no": ["53042320080301123X42", "12345"], "source_row": [1, 2]})
>>> derive_columns("disability", t).column("id_number").to_pylist()
['53042320080301123X', '']
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

#: kind -> derived column -> (source column, how), applied where the derived one is empty.
DERIVED = {
    "disability": {"id_number": ("cert_no", "id_prefix")},
    "poverty": {"household_no": ("head_id", "copy")},
}

_CERT = r"^\s*[0-9]{17}[0-9Xx][1-7][1-4]\s*$"


def _derive(how: str, source: pa.Array) -> pa.Array:
    source = source.cast(pa.string())
    if how == "id_prefix":
        ok = pc.match_substring_regex(source, _CERT)
        prefix = pc.utf8_slice_codeunits(pc.utf8_trim_whitespace(source), 0, 18)
        return pc.if_else(ok, prefix, "")
    return pc.fill_null(source, "")


def derive_columns(kind: str, table: pa.Table) -> pa.Table:
    """``table`` (a raw sheet's text columns) with the columns of :data:`DERIVED` filled from
    their sources where the sheet has none or leaves them empty."""
    for column, (source, how) in DERIVED.get(kind, {}).items():
        if source not in table.column_names:
            continue
        derived = _derive(how, table.column(source).combine_chunks())
        if column in table.column_names:
            own = table.column(column).combine_chunks().cast(pa.string())
            empty = pc.equal(pc.utf8_trim_whitespace(pc.fill_null(own, "")), "")
            derived = pc.if_else(empty, derived, own)
            table = table.set_column(table.column_names.index(column), column, derived)
        else:
            table = table.append_column(column, derived)
    return table
