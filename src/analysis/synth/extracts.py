"""Turn the synthetic world into raw registry extracts, as counties deliver them.

One builder per dataset of the data contract (``design.md``). Every builder produces clean
columns and hands them to :meth:`Extractor.emit`, which applies the mess (recorded value by
value), inserts exact duplicate rows, picks header names, formats and encodings, writes the
file and records, for every data row, which real person it describes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.resources import load_names
from analysis.synth.mess import MessLog, format_dates, legacy15, mess_ids, mess_names
from analysis.synth.population import ETHNIC_NAMES, OUTSIDE_PLACES
from analysis.synth.world import World
from analysis.synth.writers import Sheet, write_csv, write_xlsx

GRADE_CN = {
    1: "一年级",
    2: "二年级",
    3: "三年级",
    4: "四年级",
    5: "五年级",
    6: "六年级",
    7: "七年级",
    8: "八年级",
    9: "九年级",
}
GRADE_SHORT = {7: "初一", 8: "初二", 9: "初三"}
DISABILITY_DIGIT = {
    "视力": "1",
    "听力": "2",
    "言语": "3",
    "肢体": "4",
    "智力": "5",
    "精神": "6",
    "多重": "7",
}
LEVEL_CN = {1: "一级", 2: "二级", 3: "三级", 4: "四级"}


@dataclass
class Col:
    """A column of a file: canonical name, clean values, kind, header aliases, header group."""

    canonical: str
    values: np.ndarray
    kind: str = "text"
    aliases: tuple[str, ...] = ()
    group: str | None = None
    birth_year: np.ndarray | None = None
    regno: np.ndarray | None = None


def _obj(a) -> np.ndarray:
    return np.asarray(a, dtype=object)


def _lookup(values: np.ndarray, fn) -> np.ndarray:
    """``fn`` applied to each distinct value once, broadcast back (fast on repetitive columns)."""
    uniq, inv = np.unique(np.asarray(values), return_inverse=True)
    return np.array([fn(u) for u in uniq], dtype=object)[inv]


def _month_start(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    return (
        ((np.asarray(year) - 1970) * 12 + np.asarray(month) - 1)
        .astype("datetime64[M]")
        .astype("datetime64[D]")
    )


def _unknown_code(code: str, known: frozenset[str]) -> str:
    """A mistyped school code that is in no roster (the last two digits changed)."""
    for step in range(50, 150):
        cand = code[:-2] + f"{(int(code[-2:]) + step) % 100:02d}"
        if cand not in known:
            return cand
    return code[:-3] + "999"


def child_columns(world: World) -> dict[str, np.ndarray]:
    """Children's columns as numpy arrays, converted once and shared by all builders."""
    children = world.pop.children
    return {
        k: (
            children[k].to_numpy(dtype=object)
            if children[k].dtype == "str"
            else children[k].to_numpy()
        )
        for k in children.columns
    }


class Extractor:
    """Writes files under ``root`` and collects the truth about every row and change."""

    def __init__(
        self,
        world: World,
        root: Path,
        rng: np.random.Generator,
        columns: dict | None = None,
        parts: Path | None = None,
        prefix: str = "",
    ):
        self.world = world
        self.root = root
        self.rng = rng
        self.rates = world.params.mess
        self.names = load_names()
        #: Children's columns as numpy arrays (pandas' Arrow strings are slow to convert, and
        #: every file takes a slice of them).
        self.C = columns if columns is not None else child_columns(world)
        #: Truth about rows and changed values: written to ``parts`` file by file (so ten
        #: million attendance rows are never all in memory), or kept here without ``parts``.
        self.parts = parts
        self.prefix = prefix
        self.school_codes = frozenset(world.geo.schools["school_code"])
        self.rows: list[pd.DataFrame] = []
        self.corruptions: list[pd.DataFrame] = []
        self.files: list[dict] = []

    def _keep(self, what: str, df: pd.DataFrame) -> None:
        if self.parts is None:
            getattr(self, what).append(df)
        else:
            df.to_parquet(
                self.parts / f"{self.prefix}{len(self.files):04d}_{what}.parquet", index=False
            )

    # ------------------------------------------------------------------------------------
    def emit(
        self,
        dataset: str,
        filename: str,
        cols: list[Col],
        person_id: np.ndarray,
        key: np.ndarray,
        fmt: str,
        titles: list[str] | None = None,
        sheet_of: np.ndarray | None = None,
        row_kind: np.ndarray | None = None,
        allow_duplicates: bool = True,
        extra_cols: bool = True,
    ) -> None:
        rng, rates = self.rng, self.rates
        n = len(person_id)
        log = MessLog()
        xlsx = fmt == "xlsx"
        date_fmt = str(
            rng.choice(
                ["iso", "slash", "compact", "chinese"] + (["cell", "cell"] if xlsx else []), p=None
            )
        )
        month_fmt = str(rng.choice(["iso", "slash", "compact", "chinese"]))
        dot = str(rng.choice(self.names["dot_variants"]))
        header, raw_cols, kinds, groups, numeric, canon = [], [], [], [], {}, []
        if extra_cols and rng.random() < 0.5:
            cols = [Col("_serial", np.arange(1, n + 1), "int", ("序号",)), *cols]
        for col in cols:
            alias = (
                col.aliases[0]
                if (len(col.aliases) == 1 or rng.random() < 0.45)
                else str(rng.choice(col.aliases[1:]))
            )
            kind_w = "text"
            v = col.values
            if col.kind in ("id", "parent_id"):
                vals = _obj(v)
                if col.kind == "parent_id" and col.birth_year is not None:
                    vals2 = legacy15(
                        rng, vals, col.birth_year, col.canonical, log, rates.parent_id_legacy15
                    )
                else:
                    vals2 = vals
                raw, num = mess_ids(
                    rng, vals2, col.canonical, log, rates, regno=col.regno, xlsx=xlsx
                )
                if num.any():
                    numeric[len(header)] = num
                    kind_w = "float_id"
            elif col.kind == "name":
                raw = mess_names(rng, _obj(v), col.canonical, log, rates, self.names, dot)
            elif col.kind in ("date", "month"):
                if col.kind == "date" and date_fmt == "cell":
                    # Real Excel date cells; a share typed in as text or left as a serial.
                    before = len(log.row)
                    txt, serial = format_dates(
                        rng, v, col.canonical, log, "iso", rates.date_mixed_format
                    )
                    mixed = np.zeros(n, bool)
                    mixed[np.asarray(log.row[before:], dtype=int)] = True
                    dates = np.asarray(v).astype("datetime64[D]")
                    raw = np.empty(n, dtype=object)
                    raw[:] = list(dates)
                    raw[mixed] = txt[mixed]
                    numeric[len(header)] = serial
                    header.append(alias)
                    canon.append(col.canonical)
                    raw_cols.append(raw)
                    kinds.append("mixed_date")
                    groups.append(col.group)
                    continue
                raw, serial = format_dates(
                    rng,
                    v,
                    col.canonical,
                    log,
                    month_fmt if col.kind == "month" else date_fmt,
                    rates.date_mixed_format,
                    month_only=col.kind == "month",
                )
                if serial.any():
                    numeric[len(header)] = serial
                    kind_w = "serial"
            elif col.kind == "address":
                raw = _obj(v).copy()
                legacy = np.flatnonzero(
                    pd.Series(raw, dtype="str").str.contains("江川区|澄江市", regex=True).to_numpy()
                    & (rng.random(n) < rates.legacy_county_address)
                )
                raw[legacy] = [
                    s.replace("江川区", "江川县").replace("澄江市", "澄江县") for s in raw[legacy]
                ]
                log.add(
                    legacy, col.canonical, "legacy_county_address", _obj(v)[legacy], raw[legacy]
                )
            elif col.kind == "county_code":
                raw = _obj(v).copy()
                legacy = {"530403": "530421", "530481": "530422"}
                hit = np.flatnonzero(
                    np.isin(raw, list(legacy)) & (rng.random(n) < rates.legacy_county_address)
                )
                raw[hit] = [legacy[x] for x in raw[hit]]
                log.add(hit, col.canonical, "legacy_county_code", _obj(v)[hit], raw[hit])
            elif col.kind == "school_code":
                raw = _obj(v).copy()
                bad = np.flatnonzero(rng.random(n) < rates.unknown_school_code)
                raw[bad] = [_unknown_code(s, self.school_codes) for s in raw[bad]]
                log.add(bad, col.canonical, "unknown_school_code", _obj(v)[bad], raw[bad])
            elif col.kind == "int":
                raw = np.asarray(v)
                kind_w = "int"
            else:
                raw = _obj(v)
            header.append(alias)
            canon.append(col.canonical)
            raw_cols.append(raw)
            kinds.append(kind_w)
            groups.append(col.group)

        if fmt == "csv" and any(groups):
            header = [
                h if g is None or h.startswith(g) else g + h
                for h, g in zip(header, groups, strict=True)
            ]
            groups = [None] * len(groups)
        # Exact duplicate rows, right after their original (as a double export looks).
        dup = (rng.random(n) < rates.duplicate_row) if allow_duplicates else np.zeros(n, bool)
        order = np.repeat(np.arange(n), 1 + dup.astype(int))
        is_dup = np.zeros(len(order), bool)
        is_dup[1:] = order[1:] == order[:-1]
        first_pos = np.searchsorted(order, np.arange(n))  # position of each original

        raw_cols = [a[order] for a in raw_cols]
        numeric = {c: m[order] for c, m in numeric.items()}
        person = person_id[order]
        keys = key[order]
        kinds_rows = (row_kind if row_kind is not None else np.full(n, "record", dtype=object))[
            order
        ].copy()
        kinds_rows[is_dup] = "exact_duplicate"
        if sheet_of is not None:
            sheet = sheet_of[order]
        else:
            sheet = np.full(len(order), "Sheet1" if xlsx else "", dtype=object)

        # Row numbers: 1-based within each sheet, in file order.
        row_no = np.zeros(len(order), np.int64)
        for s in pd.unique(sheet):
            m = sheet == s
            row_no[m] = np.arange(1, int(m.sum()) + 1)
        dup_of = np.where(is_dup, row_no - 1, 0)

        rel = f"{dataset}/{filename}.{fmt}"
        path = self.root / rel
        encoding, crlf, merged = "", False, False
        title_rows = 0
        if fmt == "csv":
            enc_names = [e for e, _ in rates.csv_encoding]
            enc_p = np.array([p for _, p in rates.csv_encoding])
            encoding = str(rng.choice(enc_names, p=enc_p / enc_p.sum()))
            crlf = bool(rng.random() < 0.5)
            write_csv(path, header, raw_cols, encoding, crlf)
        else:
            merged = bool(any(g for g in groups))
            ts = list(titles or [])
            title_rows = int(rng.integers(1, rates.xlsx_title_rows_max + 1)) if ts else 0
            ts = ts[:title_rows]
            title_rows = len(ts)
            sheets = []
            for s in pd.unique(sheet):
                m = sheet == s
                cols_s, kinds_s, num_s = [], [], {}
                for c, a in enumerate(raw_cols):
                    cols_s.append(a[m])
                    kinds_s.append(kinds[c])
                    if c in numeric:
                        num_s[c] = numeric[c][m]
                sheets.append(
                    Sheet(
                        name=str(s),
                        header=header,
                        columns=cols_s,
                        kinds=kinds_s,
                        titles=ts,
                        groups=groups if merged else None,
                        numeric=num_s,
                    )
                )
            if rng.random() < 0.3:
                sheets.append(
                    Sheet(
                        name="填表说明",
                        header=["说明"],
                        columns=[
                            _obj(["本表由各乡镇（街道）核实后上报。", "身份证号请以文本格式填写。"])
                        ],
                        kinds=["text"],
                    )
                )
            write_xlsx(path, sheets)
        m = len(order)
        self._keep(
            "rows",
            pd.DataFrame(
                {
                    "file": rel,
                    "sheet": sheet,
                    "row": row_no,
                    "dataset": dataset,
                    "person_id": person,
                    "key": keys,
                    "row_kind": kinds_rows,
                    "dup_of_row": dup_of,
                }
            ),
        )
        if log.row:
            lr = np.asarray(log.row, dtype=np.int64)
            # Map base rows to file rows (duplicates carry the same raw value).
            pos = first_pos[lr]
            base_df = pd.DataFrame(
                {
                    "pos": pos,
                    "column": log.column,
                    "kind": log.kind,
                    "clean": log.clean,
                    "raw": log.raw,
                }
            )
            dup_df = base_df[is_dup[np.minimum(pos + 1, m - 1)] & (pos + 1 < m)].copy()
            dup_df["pos"] += 1
            allc = pd.concat([base_df, dup_df], ignore_index=True)
            allc.insert(0, "file", rel)
            allc.insert(1, "sheet", sheet[allc["pos"].to_numpy()])
            allc.insert(2, "row", row_no[allc["pos"].to_numpy()])
            self._keep("corruptions", allc.drop(columns="pos"))
        self.files.append(
            {
                "file": rel,
                "dataset": dataset,
                "format": fmt,
                "encoding": encoding,
                "crlf": crlf,
                "title_rows": title_rows,
                "merged_header": merged,
                "date_format": date_fmt,
                "month_format": month_fmt,
                "dot_variant": dot,
                "n_rows": m,
                "sheets": "|".join(str(s) for s in pd.unique(sheet)),
                "headers": "|".join(header),
                "columns": "|".join(canon),
            }
        )


# ---- helpers over the world ---------------------------------------------------------------
def _addresses(world: World) -> tuple[np.ndarray, np.ndarray]:
    """Household registration address of each child and current address per the registry."""
    c = world.pop.children
    geo = world.geo
    cname = geo.counties.set_index("code")["name"]
    tname = geo.townships.set_index("township_id")["township"]
    vname = geo.villages.set_index("village_code")["village"]
    hid = c["household_id"].to_numpy()
    grp = (hid * 7919) % 12 + 1
    num = (hid * 104729) % 90 + 1
    addr = (
        "云南省玉溪市"
        + cname.loc[c["hukou_county_code"]].to_numpy().astype(object)
        + tname.loc[c["township_id"]].to_numpy().astype(object)
        + vname.loc[c["village_code"]].to_numpy().astype(object).astype(str)
        + pd.Series(grp).astype(str).to_numpy().astype(object)
        + "组"
        + pd.Series(num).astype(str).to_numpy().astype(object)
        + "号"
    )
    return _obj(addr), hid


def _sex(sex: np.ndarray, numeric_codes: bool) -> np.ndarray:
    if numeric_codes:
        return np.where(sex == "M", "1", "2").astype(object)
    return np.where(sex == "M", "男", "女").astype(object)


def _eth(eth: np.ndarray, short: bool) -> np.ndarray:
    if short:
        return _lookup(
            eth, lambda e: ETHNIC_NAMES[e][:-1] if len(ETHNIC_NAMES[e]) > 2 else ETHNIC_NAMES[e]
        )
    return _lookup(eth, lambda e: ETHNIC_NAMES[e])


# ---- the datasets ---------------------------------------------------------------------------
BUILDERS = (
    "schools",
    "hukou",
    "xueji",
    "attendance",
    "leave",
    "poverty",
    "disability",
    "interventions",
    "policies",
    "inspections",
)
#: Two groups of about equal work, one per core.
GROUPS = (
    ("hukou", "attendance", "leave", "policies"),
    ("schools", "xueji", "poverty", "disability", "interventions", "inspections"),
)
_SHARED: dict = {}


def _run_builders(names: tuple[str, ...]) -> list[dict]:
    """Run some builders, each with its own random stream, and save their truth parts."""
    world, root, parts, seed, columns = (
        _SHARED[k] for k in ("world", "root", "parts", "seed", "columns")
    )
    files = []
    for name in names:
        i = BUILDERS.index(name)
        ex = Extractor(
            world, root, np.random.default_rng([seed, 1, i]), columns, parts, f"{i:02d}_"
        )
        globals()[f"_{name}"](ex)
        files += [dict(f, builder=i) for f in ex.files]
    return files


def write_all(world: World, root: Path, parts: Path, seed: int, workers: int = 2) -> list[dict]:
    """Write every dataset of the raw contract under ``root``; truth parts go to ``parts``.

    Each dataset's builder draws from its own random stream (seeded by the world's seed and
    the builder), so the files are the same whether builders run one after the other or in
    two processes at once (``workers=2``, forked: the world is shared, not copied).
    """
    parts.mkdir(parents=True, exist_ok=True)
    _SHARED.update(world=world, root=root, parts=parts, seed=seed, columns=child_columns(world))
    try:
        if workers > 1:
            import multiprocessing as mp

            with mp.get_context("fork").Pool(len(GROUPS)) as pool:
                results = pool.map(_run_builders, GROUPS)
        else:
            results = [_run_builders(g) for g in GROUPS]
    finally:
        _SHARED.clear()
    files = [f for group in results for f in group]
    return sorted(files, key=lambda f: (f["builder"], f["file"]))


def _schools(ex: Extractor) -> None:
    s = ex.world.geo.schools
    n = len(s)
    cols = [
        Col("school_code", _obj(s["school_code"]), "text", ("学校标识码", "学校代码")),
        Col("school_name", _obj(s["school_name"]), "text", ("学校名称",)),
        Col("county", _obj(s["county"]), "text", ("所在县(市、区)", "县区")),
        Col(
            "county_code",
            _obj(s["county_code"].astype(str)),
            "county_code",
            ("县区代码", "行政区划代码"),
        ),
        Col("township", _obj(s["township"]), "text", ("乡镇(街道)", "所在乡镇")),
        Col("stage", _obj(s["stage"]), "text", ("学段", "办学层次")),
        Col(
            "boarding",
            np.where(s["boarding"], "是", "否").astype(object),
            "text",
            ("是否寄宿制学校", "寄宿制"),
        ),
        Col("location", _obj(s["location"]), "text", ("城乡类型", "城乡分类")),
    ]
    ex.emit(
        "schools",
        "玉溪市义务教育学校名册",
        cols,
        np.full(n, "", dtype=object),
        _obj(s["school_code"]),
        "xlsx",
        titles=["玉溪市义务教育阶段学校名册", "填报单位：玉溪市教育体育局"],
        allow_duplicates=False,
        extra_cols=False,
    )


def _hukou(ex: Extractor) -> None:
    w = ex.world
    C = ex.C
    p = w.pop.parents
    w.pop.households.set_index("household_id")
    rng = ex.rng
    addr, hid = _addresses(w)
    fathers = p[p["role"] == "father"].set_index("household_id")
    mothers = p[p["role"] == "mother"].set_index("household_id")
    cname = w.geo.counties.set_index("code")["name"]
    tname = w.geo.townships.set_index("township_id")["township"]
    vname = w.geo.villages.set_index("village_code")["village"]
    local = ~C["migrant"]
    A = C["A"]
    mo = C["move_out_year"]
    outside = C["living_outside"]
    lb = C["left_behind"]
    place = _obj(OUTSIDE_PLACES)[(hid * 31) % len(OUTSIDE_PLACES)]
    for code in w.geo.counties["code"]:
        for y in (2016, 2017, 2018, 2019, 2020):
            m = local & (C["hukou_county_code"] == code) & (y - 10 <= A) & (y >= A)
            idx = np.flatnonzero(m)
            if len(idx) == 0:
                continue
            h = hid[idx]
            fa, mo_ = fathers.loc[h], mothers.loc[h]
            away = outside[idx] | ((mo[idx] > 0) & (mo[idx] <= y))
            current = np.where(away, place[idx] + "务工租住", addr[idx]).astype(object)
            note = np.where(
                away, np.where(rng.random(len(idx)) < 0.5, "随父母外出", "随父母在外省就读"), ""
            ).astype(object)
            sexv = C["sex"][idx]
            rel = np.where(
                lb[idx], np.where(sexv == "M", "孙子", "孙女"), np.where(sexv == "M", "子", "女")
            ).astype(object)
            head = np.where(
                lb[idx],
                C["surname"][idx] + "老" + np.where(hid[idx] % 2 == 0, "大", "二"),
                fa["name"].to_numpy(),
            ).astype(object)
            numeric_sex = rng.random() < 0.1
            cols = [
                Col(
                    "household_no",
                    _obj([f"{code}{x:08d}" for x in h]),
                    "text",
                    ("户号", "户编号", "户口编号"),
                ),
                Col("name", _obj(C["name"][idx]), "name", ("姓名", "儿童姓名", "适龄儿童姓名")),
                Col("sex", _sex(sexv, numeric_sex), "text", ("性别",)),
                Col("ethnicity", _eth(C["ethnicity"][idx], rng.random() < 0.3), "text", ("民族",)),
                Col(
                    "birth_date",
                    C["birth_date"][idx],
                    "date",
                    ("出生日期", "出生年月", "出生年月日"),
                ),
                Col(
                    "id_number",
                    _obj(C["id_number"][idx]),
                    "id",
                    ("公民身份号码", "身份证号", "身份证件号", "身份证号码"),
                ),
                Col("relation", rel, "text", ("与户主关系",)),
                Col("head_name", head, "name", ("户主姓名",)),
                Col(
                    "father_name",
                    _obj(fa["name"].to_numpy()),
                    "name",
                    ("父亲姓名", "姓名"),
                    group="父亲",
                ),
                Col(
                    "father_id",
                    _obj(fa["id_number"].to_numpy()),
                    "parent_id",
                    ("父亲身份证号", "身份证号"),
                    group="父亲",
                    birth_year=pd.to_datetime(fa["birth_date"]).dt.year.to_numpy(),
                ),
                Col(
                    "mother_name",
                    _obj(mo_["name"].to_numpy()),
                    "name",
                    ("母亲姓名", "姓名"),
                    group="母亲",
                ),
                Col(
                    "mother_id",
                    _obj(mo_["id_number"].to_numpy()),
                    "parent_id",
                    ("母亲身份证号", "身份证号"),
                    group="母亲",
                    birth_year=pd.to_datetime(mo_["birth_date"]).dt.year.to_numpy(),
                ),
                Col(
                    "township",
                    _obj(tname.loc[C["township_id"][idx]].to_numpy()),
                    "text",
                    ("乡镇(街道)", "乡镇", "所属乡镇"),
                ),
                Col(
                    "village",
                    _obj(vname.loc[C["village_code"][idx]].to_numpy()),
                    "text",
                    ("村(社区)", "村委会", "行政村"),
                ),
                Col(
                    "hukou_address", addr[idx], "address", ("户籍地址", "户籍地详址", "户口所在地")
                ),
                Col("current_address", current, "address", ("现住址", "现居住地址", "实际居住地")),
                Col("note", note, "text", ("备注",)),
            ]
            # Merged two-row headers (XLSX only) put the short sub-header ('姓名') under the
            # group ('父亲'); flat headers spell it out ('父亲姓名').
            fmt = "xlsx" if rng.random() < 0.3 else "csv"
            merged_style = (
                fmt == "xlsx" and rng.random() < w.params.mess.xlsx_merged_header_per_file
            )
            for col in cols:
                if col.group and not merged_style:
                    col.aliases = (col.aliases[0],)
                    col.group = None
                elif col.group:
                    col.aliases = (col.aliases[1],)
            title = [
                f"{cname[code]}{y}年适龄儿童少年户籍信息核查表",
                f"数据来源：{cname[code]}公安局  核查时间：{y}年9月",
            ]
            ex.emit(
                "hukou",
                f"{code}_{cname[code]}_{y}年户籍核查",
                cols,
                _obj(C["person_id"][idx]),
                np.full(len(idx), str(y), dtype=object),
                fmt,
                titles=title,
            )


def _registry_status(w: World) -> pd.DataFrame:
    """Per student-term: the registry status as the school recorded it."""
    st = w.school.student_terms.copy()
    terms = {t.k: t for t in w.school.terms}
    st["registry_status"] = st["status"].map(
        {
            "in_school": "在读",
            "home_teaching": "在读",
            "suspended": "休学",
            "out_dropout": "在读",
            "moved_out": "转出",
        }
    )
    cases = w.school.cases
    if len(cases):
        out = st[st["status"] == "out_dropout"]
        snap = np.array([terms[k].snapshot for k in out["k"]]).astype("datetime64[D]")
        cs = cases.sort_values(["child", "dropped_on"])
        marked = np.zeros(len(out), bool)
        by_child = {ch: g for ch, g in cs.groupby("child")}
        for j, (ch, s) in enumerate(zip(out["child"].to_numpy(), snap, strict=True)):
            g = by_child.get(ch)
            if g is None:
                continue
            g = g[g["detected"].to_numpy().astype("datetime64[D]") < s]
            if len(g):
                marked[j] = bool(g["marked"].iloc[-1])
        st.loc[out.index[marked], "registry_status"] = "辍学"
    return st


def _xueji(ex: Extractor) -> None:
    w = ex.world
    rng = ex.rng
    C = ex.C
    sch = w.geo.schools
    st = _registry_status(w)
    addr, hid = _addresses(w)
    p = w.pop.parents
    fathers = p[p["role"] == "father"].set_index("household_id")
    mothers = p[p["role"] == "mother"].set_index("household_id")
    # Transfers within the prefecture: the old school still lists the child that term.
    tr = st[st["transfer"] & (st["prev_school"] >= 0)]
    stale = tr[rng.random(len(tr)) < w.params.mess.transfer_double_listing].copy()
    stale["school"] = stale["prev_school"]
    stale["registry_status"] = "在读"
    stale["row_kind"] = "transfer_stale"
    st["row_kind"] = "record"
    allrows = pd.concat([st, stale], ignore_index=True)
    allrows["county_code"] = sch["county_code"].to_numpy()[allrows["school"].to_numpy()]
    terms = {t.k: t for t in w.school.terms}
    cname = w.geo.counties.set_index("code")["name"]
    allrows["child"].to_numpy()
    guardian_is_mother = (C["household_id"] % 3) == 0
    allrows = allrows.sort_values(["county_code", "k", "school", "grade", "child"], kind="stable")
    groups = allrows.groupby(["county_code", "k"], sort=False).indices
    for code in w.geo.counties["code"]:
        grade_style = str(rng.choice(["cn", "short", "num"], p=[0.6, 0.25, 0.15]))
        for k, t in terms.items():
            pos = groups.get((code, k))
            if pos is None:
                continue
            rows = allrows.iloc[pos]
            idx = rows["child"].to_numpy()
            grade = rows["grade"].to_numpy()
            if grade_style == "cn":
                gtxt = _lookup(grade, lambda g: GRADE_CN[int(g)])
            elif grade_style == "short":
                gtxt = _lookup(grade, lambda g: GRADE_SHORT.get(int(g), GRADE_CN[int(g)]))
            else:
                gtxt = _lookup(grade, lambda g: str(int(g)))
            home = C["home_teaching"][idx]
            mode = np.where(
                home, "送教上门", np.where(rows["boarding"].to_numpy(), "住校", "走读")
            ).astype(object)
            hh_i = hid[idx]
            gm = guardian_is_mother[idx]
            g_name = np.where(
                gm, mothers.loc[hh_i, "name"].to_numpy(), fathers.loc[hh_i, "name"].to_numpy()
            ).astype(object)
            g_id = np.where(
                gm,
                mothers.loc[hh_i, "id_number"].to_numpy(),
                fathers.loc[hh_i, "id_number"].to_numpy(),
            ).astype(object)
            g_by = np.where(
                gm,
                pd.to_datetime(mothers.loc[hh_i, "birth_date"]).dt.year.to_numpy(),
                pd.to_datetime(fathers.loc[hh_i, "birth_date"]).dt.year.to_numpy(),
            )
            mig = C["migrant"][idx]
            hk = np.where(mig, C["origin"][idx], addr[idx]).astype(object)
            has_id = C["registry_has_id"][idx]
            ids = np.where(has_id, C["id_number"][idx], "").astype(object)
            entry = _month_start(C["entry_year"][idx], 9)
            dis = np.where(C["disabled"][idx], C["disability_type"][idx], "无").astype(object)
            cls = _lookup((idx * 2654435761) % 4 + 1, lambda k: f"{k}班")
            cols = [
                Col(
                    "student_no",
                    _obj(C["student_no"][idx]),
                    "text",
                    ("学籍号", "全国学籍号", "个人标识码"),
                ),
                Col("name", _obj(C["school_name"][idx]), "name", ("姓名", "学生姓名")),
                Col("sex", _sex(C["sex"][idx], False), "text", ("性别",)),
                Col("birth_date", C["birth_date"][idx], "date", ("出生日期", "出生年月")),
                Col("ethnicity", _eth(C["ethnicity"][idx], False), "text", ("民族",)),
                Col(
                    "id_number",
                    ids,
                    "id",
                    ("身份证件号", "身份证号", "公民身份号码"),
                    regno=_obj(C["student_no"][idx]),
                ),
                Col(
                    "school_code",
                    _obj(sch["school_code"].to_numpy()[rows["school"].to_numpy()]),
                    "school_code",
                    ("学校标识码", "学校代码"),
                ),
                Col(
                    "school_name",
                    _obj(sch["school_name"].to_numpy()[rows["school"].to_numpy()]),
                    "text",
                    ("学校名称", "就读学校"),
                ),
                Col("grade", _obj(gtxt), "text", ("年级", "现年级")),
                Col("class", cls, "text", ("班级", "班号")),
                Col("entry_date", entry, "month", ("入学年月", "入学时间")),
                Col(
                    "status",
                    _obj(rows["registry_status"].to_numpy()),
                    "text",
                    ("学籍状态", "在校状态"),
                ),
                Col("study_mode", mode, "text", ("就读方式",)),
                Col(
                    "migrant",
                    np.where(mig, "是", "否").astype(object),
                    "text",
                    ("是否随迁子女", "随迁子女"),
                ),
                Col(
                    "left_behind",
                    np.where(C["left_behind"][idx], "是", "否").astype(object),
                    "text",
                    ("是否留守儿童", "留守儿童"),
                ),
                Col("disability", dis, "text", ("残疾类型", "残疾人类型")),
                Col("hukou_address", hk, "address", ("户口所在地", "户籍所在地")),
                Col("guardian_name", g_name, "name", ("监护人姓名", "监护人")),
                Col(
                    "guardian_id",
                    g_id,
                    "parent_id",
                    ("监护人身份证号", "监护人证件号"),
                    birth_year=g_by,
                ),
            ]
            fmt = "xlsx" if rng.random() < 0.15 else "csv"
            sheet_of = None
            if fmt == "xlsx":
                sheet_of = np.where(grade <= 6, "小学", "初中").astype(object)
            title = [
                f"{cname[code]}{t.year}-{t.year + 1}学年第{'一' if t.term == 1 else '二'}学期学籍数据",
                f"导出时间：{t.snapshot}",
            ]
            ex.emit(
                "xueji",
                f"{code}_{cname[code]}_学籍_{t.label}",
                cols,
                _obj(C["person_id"][idx]),
                np.full(len(idx), t.label, dtype=object),
                fmt,
                titles=title,
                sheet_of=sheet_of,
                row_kind=_obj(rows["row_kind"].to_numpy()),
            )


def _attendance(ex: Extractor) -> None:
    w = ex.world
    C = ex.C
    a = w.school.attendance
    sch = w.geo.schools
    cname = w.geo.counties.set_index("code")["name"]
    a_county = sch["county_code"].to_numpy()[a["school"].to_numpy()]
    sy = np.where(a["month"].to_numpy() >= 9, a["year"].to_numpy(), a["year"].to_numpy() - 1)
    for code in w.geo.counties["code"]:
        for y in (2016, 2017, 2018, 2019, 2020):
            m = np.flatnonzero((a_county == code) & (sy == y))
            if len(m) == 0:
                continue
            sub = a.iloc[m]
            order = np.lexsort(
                (
                    sub["month"].to_numpy() + 12 * sub["year"].to_numpy(),
                    sub["child"].to_numpy(),
                    sub["school"].to_numpy(),
                )
            )
            sub = sub.iloc[order]
            idx = sub["child"].to_numpy()
            months = _month_start(sub["year"].to_numpy(), sub["month"].to_numpy())
            cols = [
                Col(
                    "school_code",
                    _obj(sch["school_code"].to_numpy()[sub["school"].to_numpy()]),
                    "text",
                    ("学校标识码", "学校代码"),
                ),
                Col("student_no", _obj(C["student_no"][idx]), "text", ("学籍号", "全国学籍号")),
                Col("name", _obj(C["school_name"][idx]), "name", ("姓名", "学生姓名")),
                Col("month", months, "month", ("月份", "考勤月份", "统计月份")),
                Col("days_required", sub["required"].to_numpy(), "int", ("应出勤天数", "应到天数")),
                Col(
                    "days_present",
                    sub["present"].to_numpy(),
                    "int",
                    ("实际出勤天数", "实到天数", "出勤天数"),
                ),
                Col("sick_leave", sub["sick"].to_numpy(), "int", ("病假天数", "病假")),
                Col("personal_leave", sub["personal"].to_numpy(), "int", ("事假天数", "事假")),
                Col(
                    "unexcused",
                    sub["unexcused"].to_numpy(),
                    "int",
                    ("旷课天数", "无故缺勤天数", "旷课"),
                ),
            ]
            key = _lookup(months, str)
            ex.emit(
                "attendance",
                f"{code}_{cname[code]}_{y}学年月考勤",
                cols,
                _obj(C["person_id"][idx]),
                key,
                "csv",
                extra_cols=False,
            )


def _leave(ex: Extractor) -> None:
    """Leave slips (请假条) from 2019/20, when the unified form came in; they sum to the
    attendance leave days of each student-month."""
    w = ex.world
    rng = ex.rng
    C = ex.C
    a = w.school.attendance
    sch = w.geo.schools
    cname = w.geo.counties.set_index("code")["name"]
    sy = np.where(a["month"].to_numpy() >= 9, a["year"].to_numpy(), a["year"].to_numpy() - 1)
    a = a[(sy >= 2019) & ((a["sick"] > 0) | (a["personal"] > 0))]
    reasons = {
        "病假": ["感冒发烧", "肠胃炎", "腹痛", "牙痛", "住院治疗", "复诊"],
        "事假": ["家中有事", "参加婚礼", "奔丧", "农忙帮工", "随家长外出", "办理证件"],
    }
    rows = []
    for kind, colname in (("病假", "sick"), ("事假", "personal")):
        sub = a[a[colname] > 0]
        days = sub[colname].to_numpy()
        nslip = np.minimum(days, rng.integers(1, 3, len(sub)))
        rep = np.repeat(np.arange(len(sub)), nslip)
        first = np.concatenate([[0], np.cumsum(nslip)[:-1]])
        j = np.arange(len(rep)) - first[rep]
        base = days[rep] // nslip[rep]
        d = base + (j < (days[rep] - base * nslip[rep]))
        start_day = (j * 9 + rng.integers(1, 9, len(rep))).clip(1, 26)
        start = _month_start(sub["year"].to_numpy()[rep], sub["month"].to_numpy()[rep]) + (
            start_day - 1
        ).astype("timedelta64[D]")
        rows.append(
            pd.DataFrame(
                {
                    "child": sub["child"].to_numpy()[rep],
                    "school": sub["school"].to_numpy()[rep],
                    "kind": kind,
                    "start": start,
                    "end": start
                    + (d - 1).astype("timedelta64[D]")
                    + (d > 1) * np.timedelta64(0, "D"),
                    "days": d,
                    "reason": _obj(reasons[kind])[rng.integers(0, 6, len(rep))],
                }
            )
        )
    slips = pd.concat(rows, ignore_index=True)
    slips["county_code"] = sch["county_code"].to_numpy()[slips["school"].to_numpy()]
    slips["sy"] = np.where(
        pd.to_datetime(slips["start"]).dt.month >= 9,
        pd.to_datetime(slips["start"]).dt.year,
        pd.to_datetime(slips["start"]).dt.year - 1,
    )
    for code in w.geo.counties["code"]:
        for y in (2019, 2020):
            s = slips[(slips["county_code"] == code) & (slips["sy"] == y)].sort_values(
                ["school", "start", "child"]
            )
            if len(s) == 0:
                continue
            idx = s["child"].to_numpy()
            cols = [
                Col("student_no", _obj(C["student_no"][idx]), "text", ("学籍号",)),
                Col("name", _obj(C["school_name"][idx]), "name", ("学生姓名", "姓名")),
                Col(
                    "school_code",
                    _obj(sch["school_code"].to_numpy()[s["school"].to_numpy()]),
                    "text",
                    ("学校标识码",),
                ),
                Col("leave_type", _obj(s["kind"].to_numpy()), "text", ("请假类型", "假别")),
                Col("start_date", s["start"].to_numpy(), "date", ("开始日期", "请假开始时间")),
                Col("end_date", s["end"].to_numpy(), "date", ("结束日期", "请假结束时间")),
                Col("days", s["days"].to_numpy(), "int", ("请假天数", "天数")),
                Col("reason", _obj(s["reason"].to_numpy()), "text", ("请假事由", "事由")),
            ]
            ex.emit(
                "leave",
                f"{code}_{cname[code]}_{y}学年请假条",
                cols,
                _obj(C["person_id"][idx]),
                _lookup(s["start"].to_numpy().astype("datetime64[D]"), str),
                "csv",
            )


def _poverty(ex: Extractor) -> None:
    w = ex.world
    rng = ex.rng
    c = w.pop.children
    p = w.pop.parents
    hh = w.pop.households
    hh = hh[hh["poverty"]]
    cname = w.geo.counties.set_index("code")["name"]
    tname = w.geo.townships.set_index("township_id")["township"]
    vname = w.geo.villages.set_index("village_code")["village"]
    causes = ["缺资金", "缺技术", "因病", "因学", "因残", "缺劳力", "交通条件落后"]
    for code in w.geo.counties["code"]:
        h = hh[hh["county_code"] == code]
        if len(h) == 0:
            continue
        hids = h["household_id"].to_numpy()
        par = p[p["household_id"].isin(hids)]
        kids = c[c["household_id"].isin(hids) & ~c["migrant"]]
        mem = pd.concat(
            [
                pd.DataFrame(
                    {
                        "household_id": par["household_id"],
                        "person_id": par["person_id"],
                        "name": par["name"],
                        "id": par["id_number"],
                        "sex": par["sex"],
                        "rel": np.where(par["role"] == "father", "户主", "配偶"),
                        "birth": par["birth_date"],
                    }
                ),
                pd.DataFrame(
                    {
                        "household_id": kids["household_id"],
                        "person_id": kids["person_id"],
                        "name": kids["name"],
                        "id": kids["id_number"],
                        "sex": kids["sex"],
                        "rel": np.where(kids["sex"] == "M", "之子", "之女"),
                        "birth": kids["birth_date"],
                    }
                ),
            ],
            ignore_index=True,
        ).sort_values(
            ["household_id", "rel"],
            key=lambda s: s.map({"户主": 0, "配偶": 1}).fillna(2) if s.name == "rel" else s,
        )
        hrow = hh.set_index("household_id").loc[mem["household_id"]]
        heads = par[par["role"] == "father"].set_index("household_id").loc[mem["household_id"]]
        by = pd.to_datetime(mem["birth"]).dt.year.to_numpy()
        hcause = _obj(causes)[(mem["household_id"].to_numpy() * 13) % len(causes)]
        ptype = np.where(hrow["low_income"].to_numpy(), "低保贫困户", "一般贫困户").astype(object)
        lifted = hrow["poverty_lifted_year"].to_numpy()
        cols = [
            Col(
                "household_no",
                _obj([f"P{code}{x:07d}" for x in mem["household_id"]]),
                "text",
                ("户编号", "贫困户编号"),
            ),
            Col("head_name", _obj(heads["name"].to_numpy()), "name", ("户主姓名",)),
            Col(
                "head_id",
                _obj(heads["id_number"].to_numpy()),
                "parent_id",
                ("户主身份证号", "户主证件号码"),
                birth_year=pd.to_datetime(heads["birth_date"]).dt.year.to_numpy(),
            ),
            Col("member_name", _obj(mem["name"].to_numpy()), "name", ("成员姓名", "姓名")),
            Col(
                "member_id",
                _obj(mem["id"].to_numpy()),
                "parent_id",
                ("证件号码", "身份证号", "成员身份证号"),
                birth_year=by,
            ),
            Col("relation", _obj(mem["rel"].to_numpy()), "text", ("与户主关系",)),
            Col("sex", _sex(mem["sex"].to_numpy(), False), "text", ("性别",)),
            Col(
                "registered_year",
                _obj(hrow["poverty_registered_year"].astype(str).to_numpy()),
                "text",
                ("识别年度", "纳入年度", "贫困户识别年度"),
            ),
            Col(
                "lifted_year",
                _obj(np.where(lifted > 0, lifted.astype(str), "")),
                "text",
                ("脱贫年度", "脱贫(享受政策)年度"),
            ),
            Col("poverty_type", ptype, "text", ("贫困户属性",)),
            Col("cause", hcause, "text", ("主要致贫原因", "致贫原因")),
            Col(
                "township",
                _obj(tname.loc[hrow["township_id"].to_numpy()].to_numpy()),
                "text",
                ("乡(镇)", "乡镇"),
            ),
            Col(
                "village",
                _obj(vname.loc[hrow["village_code"].to_numpy()].to_numpy()),
                "text",
                ("行政村", "村"),
            ),
        ]
        fmt = "xlsx" if rng.random() < 0.6 else "csv"
        ex.emit(
            "poverty",
            f"{code}_{cname[code]}_建档立卡贫困人口",
            cols,
            _obj(mem["person_id"].to_numpy()),
            np.full(len(mem), "", dtype=object),
            fmt,
            titles=[f"{cname[code]}建档立卡贫困户家庭成员信息表", "来源：全国扶贫开发信息系统"],
        )


def _disability(ex: Extractor) -> None:
    w = ex.world
    c = w.pop.children
    p = w.pop.parents
    cname = w.geo.counties.set_index("code")["name"]
    addr, _ = _addresses(w)
    fathers = p[p["role"] == "father"].set_index("household_id")
    d = c[c["disabled"]]
    for code in w.geo.counties["code"]:
        sub = d[d["hukou_county_code"] == code].sort_values("disability_cert_date")
        if len(sub) == 0:
            continue
        idx = sub.index.to_numpy()
        cert = _obj(
            [
                f"{i}{DISABILITY_DIGIT[t]}{lv}"
                for i, t, lv in zip(
                    sub["id_number"], sub["disability_type"], sub["disability_level"], strict=True
                )
            ]
        )
        cols = [
            Col("cert_no", cert, "text", ("残疾人证号", "残疾证号")),
            Col("name", _obj(sub["name"].to_numpy()), "name", ("姓名",)),
            Col("sex", _sex(sub["sex"].to_numpy(), False), "text", ("性别",)),
            Col("birth_date", sub["birth_date"].to_numpy(), "date", ("出生日期",)),
            Col(
                "disability_type",
                _obj(sub["disability_type"].to_numpy() + "残疾"),
                "text",
                ("残疾类别", "残疾类型"),
            ),
            Col(
                "disability_level",
                _obj([LEVEL_CN[x] for x in sub["disability_level"]]),
                "text",
                ("残疾等级",),
            ),
            Col("issued", sub["disability_cert_date"].to_numpy(), "date", ("发证日期", "办证日期")),
            Col(
                "guardian_name",
                _obj(fathers.loc[sub["household_id"], "name"].to_numpy()),
                "name",
                ("监护人姓名", "监护人"),
            ),
            Col("address", addr[idx], "address", ("住址", "户籍地址")),
        ]
        ex.emit(
            "disability",
            f"{code}_{cname[code]}_残疾人证持证儿童",
            cols,
            _obj(sub["person_id"].to_numpy()),
            np.full(len(sub), "", dtype=object),
            "xlsx" if ex.rng.random() < 0.5 else "csv",
            titles=[f"{cname[code]}持证残疾儿童少年名册", "来源：县残疾人联合会"],
        )


def _interventions(ex: Extractor) -> None:
    w = ex.world
    rng = ex.rng
    C = ex.C
    sch = w.geo.schools
    cname = w.geo.counties.set_index("code")["name"]
    cases = w.school.cases.copy()
    cases["county_code"] = sch["county_code"].to_numpy()[cases["school"].to_numpy()]
    placements = {"已返校": "随班就读"}
    for code in w.geo.counties["code"]:
        cs = cases[cases["county_code"] == code].sort_values("detected")
        if len(cs):
            idx = cs["child"].to_numpy()
            outc = cs["outcome"].to_numpy()
            cols = [
                Col("student_no", _obj(C["student_no"][idx]), "text", ("学籍号",)),
                Col("name", _obj(C["school_name"][idx]), "name", ("学生姓名", "姓名")),
                Col(
                    "id_number",
                    _obj(np.where(C["registry_has_id"][idx], C["id_number"][idx], "")),
                    "id",
                    ("身份证号", "身份证件号"),
                ),
                Col(
                    "school_name",
                    _obj(sch["school_name"].to_numpy()[cs["school"].to_numpy()]),
                    "text",
                    ("学校名称", "原就读学校"),
                ),
                Col(
                    "grade",
                    _obj([GRADE_CN[g] for g in cs["grade"]]),
                    "text",
                    ("辍学时年级", "年级"),
                ),
                Col(
                    "detected", cs["detected"].to_numpy(), "date", ("发现日期", "疑似辍学发现时间")
                ),
                Col(
                    "whereabouts", _obj(cs["whereabouts"].to_numpy()), "text", ("去向", "目前去向")
                ),
                Col("reason", _obj(cs["reason"].to_numpy()), "text", ("辍学原因", "主要原因")),
                Col(
                    "step1",
                    cs["step1"].to_numpy(),
                    "date",
                    ("劝导日期", "第一步劝返日期"),
                    group="四步法",
                ),
                Col("step2", cs["step2"].to_numpy(), "date", ("责令改正日期",), group="四步法"),
                Col("step3", cs["step3"].to_numpy(), "date", ("行政处罚日期",), group="四步法"),
                Col(
                    "step4",
                    cs["step4"].to_numpy(),
                    "date",
                    ("申请强制执行或起诉日期", "司法程序日期"),
                    group="四步法",
                ),
                Col("return_date", cs["return_date"].to_numpy(), "date", ("返校日期", "复学日期")),
                Col(
                    "placement", _obj([placements.get(o, "") for o in outc]), "text", ("安置方式",)
                ),
                Col("outcome", _obj(outc), "text", ("劝返结果", "状态")),
            ]
            fmt = "xlsx" if rng.random() < 0.6 else "csv"
            if fmt == "csv" or rng.random() < 0.5:
                for col in cols:
                    col.group = None
            ex.emit(
                "interventions",
                f"{code}_{cname[code]}_劝返复学台账",
                cols,
                _obj(C["person_id"][idx]),
                _obj(cs["detected"].astype(str).to_numpy()),
                fmt,
                titles=[f"{cname[code]}控辍保学劝返复学工作台账", "填报单位：县教育体育局"],
            )
        # Red-list screening ledgers.
        sc = w.school.screening
        sc = sc[sc["county_code"] == code] if len(sc) else sc
        for term, g in sc.groupby("term") if len(sc) else []:
            idx = g["child"].to_numpy()
            mentor = _obj([f"{'王李张刘陈杨赵'[(i * 7) % 7]}老师" for i in idx])
            cols = [
                Col("term", _obj(np.full(len(g), term)), "text", ("学期",)),
                Col("student_no", _obj(C["student_no"][idx]), "text", ("学籍号",)),
                Col("name", _obj(C["school_name"][idx]), "name", ("学生姓名", "姓名")),
                Col(
                    "school_name",
                    _obj(sch["school_name"].to_numpy()[g["school"].to_numpy()]),
                    "text",
                    ("学校名称",),
                ),
                Col(
                    "risk_score",
                    _obj(g["score"].map("{:.1f}".format).to_numpy()),
                    "text",
                    ("风险分值", "排查得分"),
                ),
                Col("rank", g["rank"].to_numpy(), "int", ("排名", "县内排名")),
                Col(
                    "red_list",
                    np.where(g["assigned"], "是", "否").astype(object),
                    "text",
                    ("是否纳入红名单", "纳入红名单"),
                ),
                Col(
                    "mentor",
                    np.where(g["assigned"], mentor, "").astype(object),
                    "text",
                    ("包保责任人", "结对帮扶人"),
                ),
            ]
            ex.emit(
                "interventions",
                f"{code}_{cname[code]}_红名单排查_{term}",
                cols,
                _obj(C["person_id"][idx]),
                np.full(len(g), term, dtype=object),
                "csv",
                allow_duplicates=False,
            )
        # Home teaching register.
        st = w.school.student_terms
        ht = st[(st["status"] == "home_teaching")]
        ht = ht.assign(county_code=sch["county_code"].to_numpy()[ht["school"].to_numpy()])
        ht = ht[ht["county_code"] == code].sort_values("k").groupby("child").first().reset_index()
        if len(ht):
            idx = ht["child"].to_numpy()
            start = np.array([w.school.terms[k].start for k in ht["k"]]).astype(
                "datetime64[D]"
            ) + np.timedelta64(7, "D")
            cols = [
                Col("student_no", _obj(C["student_no"][idx]), "text", ("学籍号",)),
                Col("name", _obj(C["school_name"][idx]), "name", ("学生姓名",)),
                Col(
                    "id_number",
                    _obj(np.where(C["registry_has_id"][idx], C["id_number"][idx], "")),
                    "id",
                    ("身份证号",),
                ),
                Col(
                    "school_name",
                    _obj(sch["school_name"].to_numpy()[ht["school"].to_numpy()]),
                    "text",
                    ("学籍所在学校",),
                ),
                Col("disability_type", _obj(C["disability_type"][idx]), "text", ("残疾类别",)),
                Col("start_date", start, "date", ("送教开始日期",)),
                Col("visits_per_month", np.full(len(ht), 4), "int", ("每月送教次数",)),
            ]
            ex.emit(
                "interventions",
                f"{code}_{cname[code]}_送教上门登记",
                cols,
                _obj(C["person_id"][idx]),
                np.full(len(ht), "", dtype=object),
                "xlsx",
                titles=[f"{cname[code]}送教上门学生登记表"],
            )


def _policies(ex: Extractor) -> None:
    w = ex.world
    pol = w.school.policies
    pol = pol[pol["policy"] != "mentoring"].copy()
    terms = {t.k: t for t in w.school.terms}
    pol = pol[pol["start_k"] < 99]
    names = {
        "video_check": "学生到校情况视频核查",
        "boarding_subsidy": "建档立卡寄宿生生活补助提标",
    }
    cname = w.geo.counties.set_index("code")["name"]
    dates = np.array([terms[k].start for k in pol["start_k"]]).astype("datetime64[D]")
    doc = [
        f"{cname[c][:2]}教发〔{str(d)[:4]}〕{(i * 7) % 40 + 1}号"
        for i, (c, d) in enumerate(zip(pol["county_code"], dates, strict=True))
    ]
    cols = [
        Col(
            "county", _obj(cname.loc[pol["county_code"]].to_numpy()), "text", ("县(市、区)", "县区")
        ),
        Col("policy", _obj([names[x] for x in pol["policy"]]), "text", ("政策措施", "措施名称")),
        Col("adopted", dates, "date", ("实施日期", "执行时间")),
        Col("document", _obj(doc), "text", ("文号",)),
    ]
    ex.emit(
        "policies",
        "各县控辍保学政策措施实施情况",
        cols,
        np.full(len(pol), "", dtype=object),
        _obj(pol["county_code"].astype(str).to_numpy()),
        "xlsx",
        titles=["各县（市、区）控辍保学政策措施实施情况统计表"],
        allow_duplicates=False,
    )


def _inspections(ex: Extractor) -> None:
    w = ex.world
    ins = w.school.inspections
    sch = w.geo.schools
    d = ins["date"].to_numpy().astype("datetime64[D]")
    sy = np.array([int(str(x)[:4]) if int(str(x)[5:7]) >= 9 else int(str(x)[:4]) - 1 for x in d])
    for y in (2016, 2017, 2018, 2019, 2020):
        g = ins[sy == y].sort_values("date")
        if len(g) == 0:
            continue
        cols = [
            Col("date", g["date"].to_numpy(), "date", ("督查日期",)),
            Col(
                "school_code",
                _obj(sch["school_code"].to_numpy()[g["school"].to_numpy()]),
                "text",
                ("学校标识码",),
            ),
            Col(
                "school_name",
                _obj(sch["school_name"].to_numpy()[g["school"].to_numpy()]),
                "text",
                ("学校名称", "被督查学校"),
            ),
            Col("level", _obj(g["level"].to_numpy()), "text", ("督查层级",)),
            Col("problems", g["problems"].to_numpy(), "int", ("发现问题数",)),
            Col(
                "notice",
                np.where(g["rectification_notice"], "是", "否").astype(object),
                "text",
                ("是否下达整改通知书",),
            ),
        ]
        ex.emit(
            "inspections",
            f"{y}学年控辍保学督查记录",
            cols,
            np.full(len(g), "", dtype=object),
            _obj(g["school"].astype(str).to_numpy()),
            "csv",
            allow_duplicates=False,
        )


__all__ = ["BUILDERS", "Extractor", "write_all"]
