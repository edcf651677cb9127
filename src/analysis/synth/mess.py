"""Inject the mess of real registry extracts, and record every change in the truth.

Each function takes clean values (an object array of ``str``) and returns the raw values to
write, appending one record per changed value to a :class:`MessLog`: the row, the column, the
kind of mess, the clean value and the raw value. The kinds are documented in
:class:`analysis.synth.params.MessRates` and in the README.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.idnumber import check_char, downgrade18, is_valid

FULLWIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")
DATE_FORMATS = ("iso", "slash", "compact", "chinese")
MONTH_FORMATS = ("iso", "slash", "compact", "chinese")


@dataclass
class MessLog:
    """Changes made to one file's values: parallel lists, turned into a table at the end."""

    row: list[int] = field(default_factory=list)
    column: list[str] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)
    clean: list[str] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)

    def add(
        self, rows: np.ndarray, column: str, kind: str, clean: np.ndarray, raw: np.ndarray
    ) -> None:
        self.row.extend(int(r) for r in rows)
        self.column.extend([column] * len(rows))
        self.kind.extend([kind] * len(rows))
        self.clean.extend(str(v) for v in clean)
        self.raw.extend(str(v) for v in raw)


def _choose(
    rng: np.random.Generator, n: int, rates: list[tuple[str, float]], eligible: np.ndarray
) -> np.ndarray:
    """Assign at most one kind per row: '' for untouched, else the kind name."""
    u = rng.random(n)
    out = np.full(n, "", dtype=object)
    lo = 0.0
    for kind, rate in rates:
        hit = eligible & (u >= lo) & (u < lo + rate)
        out[hit] = kind
        lo += rate
    return out


def _typo(rng: np.random.Generator, v: str) -> str:
    """Change one digit of the first 17 so that the check character no longer matches."""
    for _ in range(20):
        i = int(rng.integers(0, 17))
        d = str((int(v[i]) + int(rng.integers(1, 10))) % 10)
        w = v[:i] + d + v[i + 1 :]
        if not is_valid(w):
            return w
    return v


def _transpose(rng: np.random.Generator, v: str) -> str:
    for _ in range(20):
        i = int(rng.integers(0, 16))
        if v[i] == v[i + 1]:
            continue
        w = v[:i] + v[i + 1] + v[i] + v[i + 2 :]
        if not is_valid(w):
            return w
    return v


def _valid_typo(rng: np.random.Generator, v: str) -> str:
    """A wrong order-code digit with a recomputed, valid check: no rule can see it."""
    i = int(rng.integers(14, 16))  # keep the sex digit (position 16) so sex still agrees
    d = str((int(v[i]) + int(rng.integers(1, 10))) % 10)
    first17 = v[:i] + d + v[i + 1 : 17]
    return first17 + check_char(first17)


def _spaces(rng: np.random.Generator, v: str) -> str:
    where = int(rng.integers(0, 3))
    sp = " " if rng.random() < 0.7 else "\u3000"
    if where == 0:
        return sp + v
    if where == 1:
        return v + sp
    i = int(rng.integers(1, max(len(v), 2)))
    return v[:i] + sp + v[i:]


def excel_float_text(v: str) -> str:
    """What a CSV saved by Excel holds for an 18-digit number typed as a number."""
    return f"{float(v):.5E}"


def mess_ids(
    rng: np.random.Generator,
    vals: np.ndarray,
    column: str,
    log: MessLog,
    rates,
    regno: np.ndarray | None = None,
    xlsx: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Mess up ID numbers. Returns raw values and a mask of values to write as Excel numbers.

    In a CSV an Excel-mangled number becomes text like ``5.30402E+17``; in an XLSX it is a
    numeric cell (15 significant digits survive), flagged by the returned mask.
    """
    n = len(vals)
    raw = vals.copy()
    sv = pd.Series(vals, dtype="str")
    present = (sv.str.len() == 18).fillna(False).to_numpy(dtype=bool)
    ends_x = present & sv.str.endswith("X").fillna(False).to_numpy(dtype=bool)
    kinds = [
        ("id_excel_float", rates.id_excel_float),
        ("id_fullwidth", rates.id_fullwidth),
        ("id_spaces", rates.id_spaces),
        ("id_typo", rates.id_typo),
        ("id_transposition", rates.id_transposition),
        ("id_valid_typo", rates.id_valid_typo),
    ]
    if regno is not None:
        kinds.append(("id_missing_regno", rates.id_missing_regno))
    kind = _choose(rng, n, kinds, present)
    kind[(kind == "id_excel_float") & ends_x] = ""  # Excel keeps a trailing X as text
    numeric = np.zeros(n, bool)
    for k in np.unique(kind[kind != ""]):
        idx = np.flatnonzero(kind == k)
        for i in idx:
            v = vals[i]
            if k == "id_excel_float":
                if xlsx:
                    numeric[i] = True
                    r = v  # written as a float cell; the reader sees 15 significant digits
                else:
                    r = excel_float_text(v)
            elif k == "id_fullwidth":
                r = v.translate(FULLWIDTH)
            elif k == "id_spaces":
                r = _spaces(rng, v)
            elif k == "id_typo":
                r = _typo(rng, v)
            elif k == "id_transposition":
                r = _transpose(rng, v)
            elif k == "id_valid_typo":
                r = _valid_typo(rng, v)
            else:  # missing, or the registry number typed in its place
                r = "" if rng.random() < 0.5 else str(regno[i])
            raw[i] = r
        log.add(
            idx,
            column,
            k,
            vals[idx],
            # What a reader of the XLSX sees: the float Excel stored (15 digits kept).
            [repr(float(vals[i][:15] + "000")) if numeric[i] else raw[i] for i in idx],
        )
    lower = ends_x & (kind == "") & (rng.random(n) < rates.id_lower_x)
    if lower.any():
        idx = np.flatnonzero(lower)
        raw[idx] = [v[:-1] + "x" for v in vals[idx]]
        log.add(idx, column, "id_lower_x", vals[idx], raw[idx])
    return raw, numeric


def legacy15(
    rng: np.random.Generator,
    vals: np.ndarray,
    birth_year: np.ndarray,
    column: str,
    log: MessLog,
    rate: float,
) -> np.ndarray:
    """Parents born before 1982 sometimes still listed with their first-generation 15-digit ID."""
    raw = vals.copy()
    is18 = (pd.Series(vals, dtype="str").str.len() == 18).fillna(False).to_numpy(dtype=bool)
    hit = (birth_year < 1982) & (rng.random(len(vals)) < rate) & is18
    idx = np.flatnonzero(hit)
    raw[idx] = [downgrade18(v) for v in vals[idx]]
    log.add(idx, column, "id_legacy15", vals[idx], raw[idx])
    return raw


def mess_names(
    rng: np.random.Generator,
    vals: np.ndarray,
    column: str,
    log: MessLog,
    rates,
    names: dict,
    file_dot: str,
) -> np.ndarray:
    """Spaces, homophones, traditional characters, and the file's own dot separator."""
    n = len(vals)
    raw = vals.copy()
    homo, trad = names["homophones"], names["traditional"]
    kind = _choose(
        rng,
        n,
        [
            ("name_spaces", rates.name_spaces),
            ("name_homophone", rates.name_homophone),
            ("name_traditional", rates.name_traditional),
        ],
        np.ones(n, bool),
    )
    # Eligibility is checked on the chosen rows only (cheap on ten million attendance rows).
    for i in np.flatnonzero(kind == "name_homophone"):
        if not any(ch in homo for ch in vals[i][1:]):
            kind[i] = ""
    for i in np.flatnonzero(kind == "name_traditional"):
        if not any(ch in trad for ch in vals[i]):
            kind[i] = ""
    for k in ("name_spaces", "name_homophone", "name_traditional"):
        idx = np.flatnonzero(kind == k)
        for i in idx:
            v = vals[i]
            if k == "name_spaces":
                raw[i] = _spaces(rng, v)
            elif k == "name_homophone":
                pos = [j for j in range(1, len(v)) if v[j] in homo]
                j = pos[int(rng.integers(len(pos)))]
                raw[i] = v[:j] + homo[v[j]] + v[j + 1 :]
            else:
                raw[i] = "".join(trad.get(ch, ch) for ch in v)
        log.add(idx, column, k, vals[idx], raw[idx])
    dotted = np.flatnonzero(pd.Series(raw, dtype="str").str.contains("·", regex=False).to_numpy())
    if len(dotted):
        variants = names["dot_variants"]
        per_row = np.where(
            rng.random(len(dotted)) < 0.1,
            np.asarray(variants, dtype=object)[rng.integers(0, len(variants), len(dotted))],
            file_dot,
        )
        changed = []
        for j, i in enumerate(dotted):
            if per_row[j] != "·":
                raw[i] = raw[i].replace("·", per_row[j])
                changed.append(i)
        changed = np.asarray(changed, dtype=int)
        log.add(changed, column, "name_dot_variant", vals[changed], raw[changed])
    return raw


def _render_one(x: np.datetime64, fmt: str, month_only: bool) -> str:
    if np.isnat(x):
        return ""
    t = str(x)[:10]
    y, m, d = t[:4], t[5:7], t[8:10]
    if month_only:
        return {
            "iso": f"{y}-{m}",
            "slash": f"{y}/{int(m)}",
            "compact": f"{y}{m}",
            "chinese": f"{y}年{int(m)}月",
        }[fmt]
    return {
        "iso": f"{y}-{m}-{d}",
        "slash": f"{y}/{int(m)}/{int(d)}",
        "compact": f"{y}{m}{d}",
        "chinese": f"{y}年{int(m)}月{int(d)}日",
    }[fmt]


def format_dates(
    rng: np.random.Generator,
    dates: np.ndarray,
    column: str,
    log: MessLog,
    file_format: str,
    mixed_rate: float,
    month_only: bool = False,
    allow_serial: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Dates as text in the file's format; a share in another format or as an Excel serial.

    Returns the text values and a mask of values to write as Excel serial numbers (XLSX) or
    as the bare serial integer (CSV). Each distinct date is rendered once (dates repeat a
    lot: ten million attendance rows have fifty months).
    """
    d = np.asarray(dates).astype("datetime64[D]")
    n = len(d)
    uniq, inv = np.unique(d, return_inverse=True)
    out = np.array([_render_one(x, file_format, month_only) for x in uniq], dtype=object)[inv]
    valid = ~np.isnat(d)
    u = rng.random(n)
    mixed = valid & (u < mixed_rate)
    serial = np.zeros(n, bool)
    if allow_serial and not month_only:
        serial = mixed & (u < mixed_rate * 0.3)
    other = mixed & ~serial
    fmts = [f for f in (MONTH_FORMATS if month_only else DATE_FORMATS) if f != file_format]
    if other.any():
        idx = np.flatnonzero(other)
        pick = rng.integers(0, len(fmts), len(idx))
        out[idx] = [_render_one(d[i], fmts[j], month_only) for i, j in zip(idx, pick, strict=True)]
        canon = np.array([_render_one(d[i], "iso", month_only) for i in idx], dtype=object)
        differs = out[idx] != canon  # a stray ISO date in a file of another format is no mess
        log.add(idx[differs], column, "date_mixed_format", canon[differs], out[idx][differs])
    if serial.any():
        idx = np.flatnonzero(serial)
        out[idx] = (d[idx] - np.datetime64("1899-12-30")).astype(int).astype(str)
        log.add(
            idx,
            column,
            "date_excel_serial",
            [_render_one(d[i], "iso", False) for i in idx],
            out[idx],
        )
    return out, serial
