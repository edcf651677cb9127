"""What a file is about beyond its rows: the term, the year, the county, the school.

A registry file's rows rarely say which term they describe, nor a household check which
year and county; an attendance file per school often names its school only above the
table. These facts of the whole file are read, for each sheet, from (first found wins):

1. **a column** of the rows (``学期``, ``核查年度``, ``县区代码``, ``学校代码`` ...: optional
   columns of the header dictionary), row by row;
2. **the user's sidecar** ``raw/<dataset>/files.csv`` (columns ``file`` and any of
   ``term``, ``month``, ``year``, ``county_code``, ``school_code``; or 文件, 学期, 月份, 年度,
   县区代码, 学校代码): the user's own word for a file, so it overrides the title and name;
3. **the title rows** above the header (``红塔区2019-2020学年第一学期学籍数据``,
   ``核查时间：2019年9月``), then the sheet's name;
4. **the file's name**, in the forms people write (``2019-1``, ``2019年秋季学期``,
   ``2020春``, ``2019-2020学年第二学期``, ``2019年``, ``530402`` or ``红塔区``, a school's
   name from the roster).

A row's county is its own column's, else its school's county in the roster, else the
file's. A school's county in a roster without county codes comes from the county's name,
else from its township (the prefecture's township list). When a *required* fact (a
registry's term, a household check's year and county) has no source, the file is rejected
with a message naming what is missing and the three ways to supply it. Nothing here ever
guesses from a file name alone when the content says otherwise: where the title and the
name disagree the title wins and the manifest records the disagreement.

Terms are labelled as in :class:`analysis.calendar.Term`: ``'2019-1'`` is the autumn term
of school year 2019/20, ``'2019-2'`` its spring term (calendar 2020).

>>> term_in("红塔区2019-2020学年第二学期学籍数据"), term_in("学籍_2020春"), term_in("2019年秋季学期")
('2019-2', '2019-2', '2019-1')
>>> term_in("530402_红塔区_学籍_2016-1"), term_in("导出时间：2019-09-15"), term_in("2019-09-15", dates=False)
('2016-1', '2019-1', None)
>>> year_in("核查时间：2019年9月"), year_in("hukou_2018.csv"), year_in("学籍_2016-1")
(2019, 2018, None)
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from analysis.calendar import Term, term_of
from analysis.resources import legacy_county_codes, load_counties, load_townships

#: The facts each kind of file is about, and whether a row cannot be used without it (a
#: fact the declared schema lists as ``not_null`` cannot be done without either).
NEEDS: dict[str, dict[str, bool]] = {
    "schools": {"county_code": False},
    "xueji": {"term": True, "school_code": False, "county_code": False},
    "hukou": {"year": True, "county_code": True},
    "attendance": {"month": True, "school_code": False, "county_code": False},
    "leave": {"school_code": False, "county_code": False},
    "poverty": {"county_code": False},
    "disability": {"county_code": False},
    "persuasion": {"county_code": False},
    "redlist": {"county_code": False},
    "home_teaching": {"county_code": False},
}
#: The sidecar a user fills in, one per dataset folder (never read as data).
SIDECAR = "files.csv"
_SIDECAR_COLUMNS = {
    "file": "file", "文件": "file", "文件名": "file",
    "term": "term", "学期": "term",
    "month": "month", "月份": "month",
    "year": "year", "年度": "year", "年份": "year",
    "county_code": "county_code", "县区代码": "county_code", "county": "county_code",
    "县区": "county_code",
    "school_code": "school_code", "学校代码": "school_code", "学校标识码": "school_code",
    "school": "school_code", "学校": "school_code",
}  # fmt: skip
#: How each fact is called in a message, and an example of each way to supply it.
_WHAT = {
    "term": ("term (学期)", "学期", "…_2019年秋季学期.csv", "2019-1"),
    "month": ("month (月份)", "月份", "…_2019年10月考勤.csv", "2019-10"),
    "year": ("year (年度)", "核查年度", "…_2019年户籍核查.csv", "2019"),
    "county_code": ("county (县区)", "县区代码", "530423_….csv or 通海县_….csv", "530423"),
    "school_code": ("school (学校)", "学校代码", "<the roster's school name>_….csv", "2153231001"),
}

_HALF = {"一": 1, "1": 1, "上": 1, "二": 2, "2": 2, "下": 2}
_TERM_PATTERNS = (
    # 2019-2020学年第一学期, 2019—2020学年度上学期, 2019至2020学年第2学期
    (re.compile(r"((?:19|20)\d\d)\s*[-—–~至到/]\s*(?:(?:19|20)\d\d)\s*学年度?\s*第?\s*([一二12上下])\s*学期"), "year_half"),
    # 2019学年第一学期
    (re.compile(r"((?:19|20)\d\d)\s*学年度?\s*第?\s*([一二12上下])\s*学期"), "year_half"),
    # 2019年秋季学期, 2019秋, 2020年春季, 2020春季学期
    (re.compile(r"((?:19|20)\d\d)\s*年?\s*(秋|春)"), "season"),
    # the project's own label: 2019-1, 2019-2 (not a date: no digit after it)
    (re.compile(r"(?<!\d)((?:19|20)\d\d)[-_]([12])(?![\d])"), "label"),
)  # fmt: skip
_DATE = re.compile(r"(?<!\d)((?:19|20)\d\d)\s*[-/.年]\s*(\d{1,2})\s*(?:[-/.月]\s*(\d{1,2}))?")
_MONTH = (
    re.compile(r"(?<!\d)((?:19|20)\d\d)\s*年\s*(\d{1,2})\s*月"),
    re.compile(r"(?<!\d)((?:19|20)\d\d)[-./](\d{2})(?![\d])"),
    re.compile(r"(?<!\d)((?:19|20)\d\d)(\d{2})(?!\d)"),
)
_YEAR_NIAN = re.compile(r"(?<!\d)((?:19|20)\d\d)\s*年")
_YEAR = re.compile(r"(?<![\d-])((?:19|20)\d\d)(?![\d-])")
_CODE6 = re.compile(r"(?<!\d)(\d{6})(?!\d)")


def _norm(text: object) -> str:
    return unicodedata.normalize("NFKC", str(text or ""))


def term_in(text: object, dates: bool = True) -> str | None:
    """The term a text names (a title, a sheet or file name, a cell), as a label like
    ``'2019-1'``; with ``dates``, a date in it (an export date) names the term it falls in.
    None if it names none."""
    s = _norm(text)
    for pattern, form in _TERM_PATTERNS:
        m = pattern.search(s)
        if not m:
            continue
        year = int(m.group(1))
        if form == "year_half":
            return Term(year, _HALF[m.group(2)]).label
        if form == "season":
            return Term(year, 1).label if m.group(2) == "秋" else Term(year - 1, 2).label
        return Term(year, int(m.group(2))).label
    if dates:
        m = _DATE.search(s)
        if m and m.group(3) is not None and 1 <= int(m.group(2)) <= 12:
            try:
                return term_of(dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))))
            except ValueError:
                return None
    return None


def month_in(text: object) -> str | None:
    """The month a text names (``2019年10月``, ``2019-10``, ``201910``) as its first day in
    ISO form, or None.

    >>> month_in("红塔玉兴街道中心小学_2019年10月考勤"), month_in("考勤_201903"), month_in("2019-1")
    ('2019-10-01', '2019-03-01', None)
    """
    s = _norm(text)
    for pattern in _MONTH:
        m = pattern.search(s)
        if m and 1 <= int(m.group(2)) <= 12:
            return f"{m.group(1)}-{int(m.group(2)):02d}-01"
    return None


def year_in(text: object) -> int | None:
    """The year a text names: ``2019年`` first, else a four-digit year standing alone (not
    part of a term label or a date). None if none."""
    s = _norm(text)
    m = _YEAR_NIAN.search(s) or _YEAR.search(s)
    return int(m.group(1)) if m else None


@dataclass(frozen=True)
class Geography:
    """The prefecture's counties (codes, names, legacy ones) and townships, from the
    package's reference files (:mod:`analysis.resources`), to read a county from a text."""

    codes: frozenset[str]
    legacy_codes: dict[str, str]
    names: dict[str, str]  # full name (current or legacy) -> code
    townships: dict[str, str]  # township name found in one county only -> its code
    short: dict[str, str]  # short name (红塔, 通海) -> code: a school's name begins with it
    name_of: dict[str, str]  # code -> current full name

    @classmethod
    @cache
    def load(cls) -> Geography:
        c = load_counties()
        names = dict(zip(c["name"], c["code"].astype(str), strict=True))
        for _, r in c.dropna(subset=["legacy_name"]).iterrows():
            names[str(r["legacy_name"])] = str(r["code"])
        t = load_townships()
        n_counties = t.groupby("township")["county_code"].nunique()
        unique = t[t["township"].map(n_counties) == 1]
        return cls(
            frozenset(c["code"].astype(str)),
            legacy_county_codes(),
            names,
            dict(zip(unique["township"], unique["county_code"].astype(str), strict=True)),
            dict(zip(c["short_name"], c["code"].astype(str), strict=True)),
            dict(zip(c["code"].astype(str), c["name"], strict=True)),
        )

    def name_arrays(self) -> tuple[pa.Array, pa.Array]:
        """Codes and their current names, as Arrow arrays."""
        codes = sorted(self.codes)
        return pa.array(codes, pa.string()), pa.array([self.name_of[c] for c in codes])

    def county_in(self, text: object) -> str | None:
        """The county a text names by its code (current or legacy) or its full name."""
        s = _norm(text)
        for m in _CODE6.finditer(s):
            code = self.legacy_codes.get(m.group(1), m.group(1))
            if code in self.codes:
                return code
        hits = [(s.find(n), code) for n, code in self.names.items() if n in s]
        return min(hits)[1] if hits else None

    def county_of_township(self, township: object) -> str | None:
        return self.townships.get(_norm(township).strip()) if township else None

    def county_of_school(self, name: object) -> str | None:
        """The county a school's name says: a county's full name in it, else the one
        township of the prefecture in it, else the county's short name it begins with
        (红塔玉兴街道中心小学, 通海县四街镇中学)."""
        s = _norm(name).replace(" ", "")
        if not s:
            return None
        found = self.county_in(s)
        if found is None:
            hits = {code for t, code in self.townships.items() if t in s}
            found = hits.pop() if len(hits) == 1 else None
        if found is None:
            found = next((code for n, code in self.short.items() if s.startswith(n)), None)
        return found


@dataclass
class Roster:
    """The school roster as the context needs it: each school's name and county, and the
    schools by name (to find a school named in a title or a file name)."""

    names: dict[str, str] = field(default_factory=dict)  # code -> name
    county: dict[str, str] = field(default_factory=dict)  # code -> county code
    by_name: dict[str, str] = field(default_factory=dict)  # normalised name -> code
    _arrays: dict = field(default_factory=dict, repr=False, compare=False)

    def add(self, codes, names, county_codes, counties, townships, geo: Geography) -> None:
        """Schools of one roster table (columns as lists; absent columns as None)."""
        self._arrays.clear()
        n = len(codes)
        for i in range(n):
            code = codes[i]
            if not code:
                continue
            code = str(code).strip()
            name = str(names[i] or "").strip()
            self.names[code] = name
            if name:
                self.by_name[_norm(name).replace(" ", "")] = code
            county = None
            if county_codes is not None and county_codes[i]:
                c = str(county_codes[i]).strip()
                county = geo.legacy_codes.get(c, c)
            if county is None and counties is not None and counties[i]:
                county = geo.county_in(counties[i])
            if county is None and townships is not None:
                county = geo.county_of_township(townships[i])
            if county is None:
                county = geo.county_of_school(name)
            if county is not None:
                self.county[code] = county

    def arrays(self, which: str) -> tuple[pa.Array, pa.Array]:
        """The mapping ``which`` (``county``: code -> county; ``by_name``: name -> code) as
        Arrow keys and values, built once (every sheet looks rows up in them)."""
        if which not in self._arrays:
            mapping = getattr(self, which)
            self._arrays[which] = (
                pa.array(list(mapping), pa.string()),
                pa.array(list(mapping.values()), pa.string()),
            )
        return self._arrays[which]

    def school_in(self, text: object) -> str | None:
        """The school a text names: a roster code in it, else the longest roster name in it."""
        s = _norm(text).replace(" ", "")
        for m in re.finditer(r"(?<!\d)(\d{10})(?!\d)", s):
            if m.group(1) in self.names:
                return m.group(1)
        best = None
        for name, code in self.by_name.items():
            if name and name in s and (best is None or len(name) > len(best[0])):
                best = (name, code)
        return best[1] if best else None


class ContextError(ValueError):
    """A sidecar that cannot be read: the message names the file, row and reason."""


def read_sidecars(raw: Path) -> dict[str, dict[str, str]]:
    """Every ``raw/<dataset>/files.csv``: file (relative to ``raw/``) -> the facts given.

    >>> import tempfile
    >>> raw = Path(tempfile.mkdtemp()); (raw / "xueji").mkdir()
    >>> _ = (raw / "xueji" / "files.csv").write_text("文件,学期\\n一中.csv,2019年秋季学期\\n")
    >>> read_sidecars(raw)
    {'xueji/一中.csv': {'term': '2019-1'}}
    """
    out: dict[str, dict[str, str]] = {}
    for path in sorted(raw.glob(f"*/{SIDECAR}")):
        folder = path.parent.name
        where = f"{folder}/{SIDECAR}"
        data = path.read_bytes()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("gb18030", errors="replace")
        rows = list(csv.reader(io.StringIO(text)))
        if not rows:
            continue
        header = [_SIDECAR_COLUMNS.get(_norm(h).strip().lower()) for h in rows[0]]
        if "file" not in header:
            raise ContextError(
                f"{where}: the first line must name the columns: file, and any of term, year, "
                f"county_code, school_code (found {', '.join(rows[0])})"
            )
        for line, r in enumerate(rows[1:], start=2):
            cells = dict(zip(header, (c.strip() for c in r), strict=False))
            name = cells.pop("file", "")
            if not name:
                continue
            facts = {}
            for k, v in cells.items():
                if k is None or not v:
                    continue
                value = _sidecar_value(k, v)
                if value is None:
                    raise ContextError(f"{where} line {line}: {k} {v!r} is not understood")
                facts[k] = value
            out[f"{folder}/{name}"] = facts
    return out


def _sidecar_value(k: str, v: str) -> str | None:
    if k == "term":
        return term_in(v, dates=False)
    if k == "month":
        return month_in(v)
    if k == "year":
        y = year_in(v)
        return None if y is None else str(y)
    if k == "county_code":
        return Geography.load().county_in(v)
    return v  # a school: its code or name, looked up in the roster when used


def sidecar_bytes(raw: Path) -> bytes:
    """The sidecars' contents (for the stage's fingerprint: editing one reruns it)."""
    return b"".join(
        str(p.relative_to(raw)).encode() + b"\x1f" + p.read_bytes()
        for p in sorted(raw.glob(f"*/{SIDECAR}"))
    )


@dataclass
class FileFacts:
    """One sheet's facts: value and where it came from (``files.csv``, ``title``,
    ``sheet``, ``name``), and disagreements between title and name."""

    values: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)


def file_facts(
    kind: str,
    rel: str,
    sheet: str,
    titles: list[str],
    sidecar: dict[str, str] | None,
    roster: Roster | None,
) -> FileFacts:
    """What the sidecar, the title rows, the sheet's name and the file's name say of the
    facts ``kind`` needs (:data:`NEEDS`)."""
    geo = Geography.load()
    name = Path(rel).stem
    title = " ".join(titles)
    finders = {
        "term": lambda s, dates: term_in(s, dates),
        "month": lambda s, dates: month_in(s),
        "year": lambda s, dates: None if (y := year_in(s)) is None else str(y),
        "county_code": lambda s, dates: geo.county_in(s),
        "school_code": lambda s, dates: None if roster is None else roster.school_in(s),
    }
    out = FileFacts()
    for fact in NEEDS.get(kind, {}):
        find = finders[fact]
        if sidecar and sidecar.get(fact):
            v = sidecar[fact]
            if fact == "school_code" and roster is not None and v not in roster.names:
                v = roster.school_in(v) or v
            out.values[fact], out.sources[fact] = v, "files.csv"
            continue
        found = {
            "title": find(title, True) if title else None,
            "sheet": find(sheet, False) if sheet and not sheet.startswith("Sheet") else None,
            "name": find(name, False),
        }
        have = {k: v for k, v in found.items() if v is not None}
        if have:
            src, v = next(iter(have.items()))
            out.values[fact], out.sources[fact] = v, src
            if len(set(have.values())) > 1:
                out.conflicts.append(
                    f"{fact}: " + ", ".join(f"{k} says {x}" for k, x in have.items())
                )
    # A school's county is the county of the file, when nothing else names it.
    if "county_code" in NEEDS.get(kind, {}) and "county_code" not in out.values:
        school = out.values.get("school_code")
        if school and roster is not None and school in roster.county:
            out.values["county_code"], out.sources["county_code"] = roster.county[school], "roster"
    return out


def missing_message(where: str, kind: str, fact: str) -> str:
    """Why a file is rejected for want of ``fact``, and the three ways to supply it."""
    what, column, name, value = _WHAT[fact]
    folder = kind if "/" not in where else where.split("/", 1)[0]
    file = where.split("/", 1)[-1].split(" [", 1)[0]
    return (
        f"{where}: no {what} for its rows: none in a column, the title rows, the sheet or "
        f"the file name. Supply it in one of three ways: a column {column} in the file; "
        f"a file name such as {name}; or a line '{file},{value}' in {folder}/{SIDECAR} "
        f"(columns file,{fact})"
    )


def _mapped(values: pa.Array, keys: pa.Array, vals: pa.Array) -> pa.Array:
    """``values`` looked up in the mapping ``keys`` -> ``vals`` (null where not found)."""
    return pc.take(vals, pc.index_in(values.cast(pa.string()), keys))


def fill(table: pa.Table, kind: str, facts: FileFacts, roster: Roster | None) -> pa.Table:
    """The sheet's clean columns with each fact filled where the row has none: the file's
    value; before it, a row's school from its school name in the roster, and a row's county
    from its school. A roster's county name comes from the code where it gives none."""
    for fact in NEEDS.get(kind, {}):
        if fact not in table.column_names:
            continue
        col = table.column(fact)
        if fact == "school_code" and roster is not None and "school_name" in table.column_names:
            names = pc.utf8_normalize(table.column("school_name").cast(pa.string()), "NFKC")
            names = pc.replace_substring(names, " ", "")
            col = pc.coalesce(col, _mapped(names, *roster.arrays("by_name")).cast(col.type))
        if fact == "county_code" and roster is not None and "school_code" in table.column_names:
            by_school = _mapped(table.column("school_code"), *roster.arrays("county"))
            col = pc.coalesce(col.cast(pa.string()), by_school).cast(col.type)
        v = facts.values.get(fact)
        if v is not None:
            col = pc.coalesce(col, pa.scalar(v).cast(col.type))
        table = table.set_column(table.column_names.index(fact), fact, col)
    if "county" in table.column_names and "county_code" in table.column_names:
        by_code = _mapped(table.column("county_code"), *Geography.load().name_arrays())
        col = pc.coalesce(table.column("county").cast(pa.string()), by_code)
        table = table.set_column(table.column_names.index("county"), "county", col)
    return table
