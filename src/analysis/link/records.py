"""Person records in the linker's columns: which column plays which **role**, and the
comparison keys made from them (:func:`prepare_records`).

Names are keyed by script: Chinese characters as toneless pinyin in their order
(:mod:`analysis.link.names`); other scripts lower-cased, accents removed and their words
sorted, so a name written surname first matches the same name written given name first.
A birth date is kept as a date and as its digits (a typo that makes an impossible date is
still one edit from the right one); an identity number of any format upper-cased without
spaces or dashes, with its first 15 digits when it has 18.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from functools import cache

import pandas as pd
import pyarrow as pa

from analysis.link.names import _is_han, name_keys

ROLES = (
    "name",
    "given_name",
    "surname",
    "alt_name",
    "birth_date",
    "sex",
    "id_number",
    "id_partial",
    "student_no",
    "guardian_name",
    "alt_guardian",
    "address",
    "postcode",
    "county",
)

#: Columns of a prepared record table (see :func:`prepare_records`).
PREPARED = (
    "unique_id",
    "name",
    "name_py",
    "alt_py",
    "surname_py",
    "initials",
    "birth_date",
    "birth_digits",
    "sex",
    "id_number",
    "id15",
    "student_no",
    "guardian_py",
    "alt_guardian_py",
    "address",
    "postcode",
    "county",
)


@cache
def _fold(text: str) -> str:
    """Lower case, accents removed, full-width forms folded, spaces collapsed."""
    t = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text))
    t = "".join(c for c in t if not unicodedata.combining(c)).lower()
    return " ".join(t.split())


def _name_key(name: str | None, pinyin: str | None) -> str | None:
    """The comparison key of a whole name: its pinyin when it has Chinese characters (in
    their order: a Chinese name is not reordered), else its folded words in sorted order."""
    if name is None:
        return None
    if any(_is_han(c) for c in name):
        return pinyin
    words = sorted(_fold(name).replace(",", " ").split())
    return " ".join(words) or None


def _keys(s: pd.Series) -> pd.DataFrame:
    """Pinyin, initials and surname keys of clean names (None where the name is), with
    order-free keys for names without Chinese characters, whose surname is unknown."""
    names = [None if not isinstance(v, str) else v for v in s.tolist()]
    distinct = list(dict.fromkeys(n for n in names if n is not None))
    k = dict(zip(distinct, name_keys(pa.array(distinct, pa.string())).to_pylist(), strict=True))
    memo: dict = {None: (None, None, None)}
    for name in distinct:
        key = _name_key(name, k[name]["pinyin"])
        han = any(_is_han(c) for c in name)
        memo[name] = (
            key,
            "".join(w[0] for w in key.split()) if key else None,
            k[name]["surname"] if han else None,
        )
    pinyin, initials, surname = (
        (list(col) for col in zip(*(memo[n] for n in names), strict=True))
        if names
        else ([], [], [])
    )
    return pd.DataFrame({"pinyin": pinyin, "initials": initials, "surname": surname}, dtype=object)


def _clean(v):
    """A cell as a stripped string, or None for a missing or empty one."""
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    t = str(v).strip()
    return t or None


def _column(df: pd.DataFrame, spec, n: int) -> pd.Series:
    """A role's values as stripped text (None when missing): one column, or several
    joined by spaces (missing parts skipped)."""
    if spec is None:
        return pd.Series([None] * n, dtype=object)
    cols = [spec] if isinstance(spec, str) else list(spec)
    parts = [[_clean(v) for v in df[c].tolist()] for c in cols]
    vals = [" ".join(p for p in row if p) or None for row in zip(*parts, strict=True)]
    return pd.Series(vals, dtype=object)


def _check_roles(df: pd.DataFrame, roles: Mapping, side: str) -> None:
    unknown = set(roles) - set(ROLES) - {"id"}
    if unknown:
        raise ValueError(
            f"{side}: unknown role(s) {sorted(unknown)}; roles are {', '.join(ROLES)}, id"
        )
    for role, spec in roles.items():
        cols = [spec] if isinstance(spec, str) else list(spec)
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise ValueError(
                f"{side}: role {role!r}: column(s) {missing} not in the data frame "
                f"(its columns: {', '.join(map(str, df.columns[:20]))})"
            )


def prepare_records(
    df: pd.DataFrame,
    roles: Mapping,
    keep: Sequence[str] = (),
    side: str = "records",
    dayfirst: bool = False,
) -> pd.DataFrame:
    """``df`` as a record table in the linker's columns (:data:`PREPARED`, then ``keep``):
    names with their keys, the birth date as a date and as its digits, IDs upper-cased
    without spaces or dashes. Columns whose role is not given are null.

    Raises
    ------
    ValueError
        For an unknown role, a column that is not in ``df``, or record ids that are not
        unique; the message names the side (``left``, ``right``) and the column.

    Examples
    --------
    >>> df = pd.DataFrame({"姓名": ["李丽"], "出生日期": ["2010-01-02"]})
    >>> prepare_records(df, {"name": "姓名", "birth_date": "出生日期"})[["name_py", "birth_date"]]
      name_py  birth_date
    0   li li  2010-01-02
    >>> en = pd.DataFrame({"first": ["John"], "last": ["Smith"]})
    >>> prepare_records(en, {"given_name": "first", "surname": "last"})[["name_py", "surname_py"]]
          name_py surname_py
    0  john smith      smith
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{side}: expected a pandas DataFrame, got {type(df).__name__}")
    _check_roles(df, roles, side)
    missing = [c for c in keep if c not in df.columns]
    if missing:
        raise ValueError(f"{side}: keep: column(s) {missing} not in the data frame")
    n = len(df)

    def col(role: str) -> pd.Series:
        return _column(df, roles.get(role), n)

    ids = df[roles["id"]].reset_index(drop=True) if "id" in roles else pd.Series(df.index)
    out = pd.DataFrame({"unique_id": ids.astype(str).to_numpy()})
    if not out["unique_id"].is_unique:
        dup = out["unique_id"][out["unique_id"].duplicated()].iloc[0]
        raise ValueError(
            f"{side}: record ids are not unique (e.g. {dup!r}): give the 'id' role a key column"
        )
    if "name" in roles:
        name = col("name")
    else:
        given, sur = col("given_name"), col("surname")
        name = pd.Series(
            [" ".join(v for v in (g, s) if v) or None for g, s in zip(given, sur, strict=True)],
            dtype=object,
        )
    keys = _keys(name)
    out["name"] = name.map(lambda v: _fold(v) if isinstance(v, str) else None)
    out["name_py"] = keys["pinyin"]
    out["surname_py"] = keys["surname"]
    if "surname" in roles:
        out["surname_py"] = _keys(col("surname"))["pinyin"]
    out["initials"] = keys["initials"]
    alt = _keys(col("alt_name"))["pinyin"] if "alt_name" in roles else out["name_py"]
    out["alt_py"] = alt.where(alt.notna(), out["name_py"])
    raw_bd = col("birth_date")
    bd = pd.to_datetime(raw_bd, errors="coerce", format="mixed", dayfirst=dayfirst)
    out["birth_date"] = [None if pd.isna(v) else v.date() for v in bd]
    # The date's digits (YYYYMMDD) when it parses, else the digits as written: a typo that
    # makes an impossible date (19560490) is still one edit from the right one.
    out["birth_digits"] = [
        v.strftime("%Y%m%d")
        if not pd.isna(v)
        else ("".join(filter(str.isdigit, r)) or None)
        if r
        else None
        for v, r in zip(bd, raw_bd, strict=True)
    ]
    out["sex"] = col("sex").map(lambda v: None if v is None else str(v))
    ids = col("id_number").map(
        lambda v: "".join(str(v).split()).replace("-", "").upper() if v is not None else None
    )
    out["id_number"] = ids.where(ids.map(bool), None)
    prefix = ids.map(lambda v: v[:15] if isinstance(v, str) and len(v) == 18 else None)
    partial = col("id_partial").map(
        lambda v: str(v)[:15] if v is not None and len(str(v)) >= 15 else None
    )
    out["id15"] = prefix.where(prefix.notna(), partial)
    out["student_no"] = col("student_no").map(lambda v: None if v is None else str(v))
    out["guardian_py"] = _keys(col("guardian_name"))["pinyin"]
    out["alt_guardian_py"] = (
        _keys(col("alt_guardian"))["pinyin"] if "alt_guardian" in roles else None
    )
    out["address"] = col("address").map(lambda v: _fold(str(v)) if v is not None else None)
    out["postcode"] = col("postcode").map(lambda v: "".join(str(v).split()) or None if v else None)
    out["county"] = col("county").map(lambda v: None if v is None else str(v))
    for c in keep:
        out[c] = df[c].reset_index(drop=True).to_numpy()
    return out[[*PREPARED, *keep]]
