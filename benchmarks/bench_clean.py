"""Benchmark: the cleaning stage at yuxi scale, and the same work done row by row in pandas.

Targets (issue 3): ``analysis clean`` on the yuxi prefecture in under 60 s wall and under
4 GB peak memory on this 2-core machine. Memory is an upper bound of the process tree's peak
(see :func:`bench_stage`).

The alternative it names: a straightforward pandas cleaner that reads each CSV with
``pandas.read_csv(dtype=str)``, maps the headers with the same dictionary, and cleans row by
row (``itertuples``) with scalar Python rules of the same kinds: NFKC and trimming, resident
IDs (GB 11643 check, 15 to 18 digits, Excel floats, registry numbers), names (traditional to
simplified), dates in the same formats, integers, code lists, exact duplicates, and a
Parquet file out. It runs on a sample of CSV files (the median-sized file of each dataset), and the stage
cleans the same files in one process, so the ratio is
per core and like for like; the baseline's time for the whole prefecture is extrapolated
from its rows per second.

Usage::

    python benchmarks/bench_clean.py                     # data/ (made with analysis synth)
    python benchmarks/bench_clean.py --data-dir /tmp/data --skip-full
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import shutil
import statistics
import tempfile
import time
import unicodedata
from pathlib import Path


def bench_stage(raw: Path, workers: int) -> tuple[float, float, dict]:
    """Wall time, peak memory (GB) and manifest of one cleaning run.

    Peak memory is read from the kernel's accounting after the run, at no cost during it:
    the largest resident set of this process plus ``workers`` times the largest resident
    set of any worker process (an upper bound: pages the forked workers share with this
    process count twice). Sampling /proc/<pid>/smaps_rollup while the stage runs, as
    bench_synth does, slowed it by a fifth: the kernel locks a process's memory map to
    read it, and the workers map and unmap memory all the time."""
    import resource

    from analysis.clean.stage import clean
    from analysis.config import default_config
    from analysis.layout import Layout

    config = default_config().with_("engine", workers=workers)
    with tempfile.TemporaryDirectory() as tmp:
        Layout(tmp).raw.symlink_to(raw.resolve())
        t0 = time.perf_counter()
        manifest = clean(Layout(tmp), config, force=True).manifest
        wall = time.perf_counter() - t0
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    peak = own + (workers if workers > 1 else 0) * child
    return wall, peak / 2**30, manifest


# --- the straightforward alternative ---------------------------------------------------

_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日")
_MONTH_FORMATS = ("%Y-%m", "%Y/%m", "%Y%m", "%Y年%m月")
_FLOAT_ID = re.compile(r"^[1-9]\.\d+E\+?1[67]$")
_REGNO = re.compile(r"^[GLJ][0-9A-Z]{10,20}$")


def _date(v: str, formats) -> dt.date | None:
    for f in formats:
        try:
            return dt.datetime.strptime(v, f).date()
        except ValueError:
            continue
    if v.isdigit() and 4 <= len(v) <= 5 and formats is _DATE_FORMATS:
        return dt.date(1899, 12, 30) + dt.timedelta(days=int(v))
    return None


def _id(v: str) -> tuple[str | None, str]:
    from analysis.idnumber import birth_date, is_valid, upgrade15

    v = "".join(v.split()).upper()
    if not v:
        return None, "missing"
    if len(v) == 18 and v[:17].isdigit():
        if is_valid(v):
            return v, "valid"
        return None, "bad_check" if birth_date(v) else "bad_date"
    if len(v) == 15 and v.isdigit():
        up = upgrade15(v)
        return (up, "upgraded15") if birth_date(up) else (None, "bad_date")
    if _FLOAT_ID.match(v):
        return None, "excel_truncated"
    if _REGNO.match(v):
        return None, "registry_number"
    return None, "malformed"


def baseline_clean(files: list[Path], raw: Path, out: Path) -> tuple[int, dict]:
    """Clean ``files`` row by row; return rows read and the quarantine counts by reason."""
    import opencc
    import pandas as pd

    from analysis.clean.headers import load_dictionary, normalize_header
    from analysis.clean.schema import load_schema

    specs, schemas = load_dictionary(), load_schema()
    t2s = opencc.OpenCC("t2s")
    reasons: dict[str, int] = {}
    rows = 0
    for k, path in enumerate(files):
        kind = next(s.kind for s in specs.values() if s.folder == path.parent.name)
        for enc in ("utf-8-sig", "gb18030"):
            try:
                df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=enc)
                break
            except UnicodeDecodeError:
                continue
        lookup = specs[kind].lookup
        df = df.rename(columns={c: lookup.get(normalize_header(c), c) for c in df.columns})
        cols = [c for c in df.columns if c in specs[kind].aliases]
        rules = schemas[kind].columns if kind in schemas else {}
        seen: set[tuple] = set()
        records = []
        for row in df[cols].itertuples(index=False, name=None):
            rows += 1
            if row in seen:
                reasons["merged"] = reasons.get("merged", 0) + 1
                continue
            seen.add(row)
            rec: dict = {}
            for c, raw_value in zip(cols, row, strict=True):
                v = unicodedata.normalize("NFKC", raw_value).strip()
                typ = schemas[kind].type_of(c) if kind in schemas else "text"
                if typ == "id":
                    rec[c], rec[f"{c}_status"] = _id(v)
                    if rec[f"{c}_status"] not in ("valid", "upgraded15", "missing"):
                        reasons[f"id_{rec[f'{c}_status']}"] = (
                            reasons.get(f"id_{rec[f'{c}_status']}", 0) + 1
                        )
                elif typ == "name":
                    rec[c] = t2s.convert("".join(v.split()))
                    rec[f"{c}_raw"] = raw_value
                elif typ in ("date", "month"):
                    rec[c] = _date(v, _MONTH_FORMATS if typ == "month" else _DATE_FORMATS)
                    if v and rec[c] is None:
                        reasons["unparseable_date"] = reasons.get("unparseable_date", 0) + 1
                elif typ == "int":
                    rec[c] = int(float(v)) if re.fullmatch(r"-?\d+(\.0+)?", v) else None
                elif c in rules and rules[c].codes is not None:
                    rec[c] = rules[c].codes.lookup.get(v.lower())
                else:
                    rec[c] = v
            records.append(rec)
        pd.DataFrame.from_records(records).to_parquet(out / f"{k:03d}_{kind}.parquet")
    return rows, reasons


def sample_files(raw: Path) -> list[Path]:
    """One CSV per dataset: the file of median size (a typical extract of each kind)."""
    by_folder: dict[str, list[Path]] = {}
    for p in sorted(raw.rglob("*.csv")):
        by_folder.setdefault(p.parent.name, []).append(p)
    return [
        sorted(v, key=lambda p: p.stat().st_size)[len(v) // 2]
        for k, v in sorted(by_folder.items())
        if k != "schools"
    ]


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data-dir", type=Path, default=Path("data"))
    ap.add_argument("--skip-full", action="store_true", help="only the like-for-like sample")
    ap.add_argument("--repeat", type=int, default=3, help="runs of the whole prefecture")
    args = ap.parse_args()
    from analysis.layout import Layout

    raw = Layout(args.data_dir).raw
    if not raw.is_dir():
        raise SystemExit(f"{raw}: no raw data (run `analysis synth --scale yuxi` first)")

    if not args.skip_full:
        runs = [bench_stage(raw, workers=2) for _ in range(args.repeat)]
        walls = sorted(r[0] for r in runs)
        wall, peak, m = statistics.median(walls), max(r[1] for r in runs), runs[0][2]
        t = m["totals"]
        if args.repeat > 1:
            print(f"clean, {args.repeat} runs: " + ", ".join(f"{w:.1f} s" for w in walls))
        print(
            f"clean, whole prefecture, 2 processes: {wall:.1f} s wall (median) "
            f"(target < 60 s: {'ok' if wall < 60 else 'OVER'}), peak memory {peak:.2f} GB "
            f"(target < 4 GB: {'ok' if peak < 4 else 'OVER'}); {t['files']} files, "
            f"{t['rows_read']:,} rows ({t['rows_read'] / wall:,.0f} rows/s)"
        )
        total_rows = t["rows_read"]
    else:
        total_rows = None

    files = sample_files(raw)
    with tempfile.TemporaryDirectory() as tmp:
        sub = Layout(tmp).raw
        for p in [*files, *sorted((raw / "schools").glob("*"))]:
            dest = sub / p.relative_to(raw)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(p, dest)
        ours, _, _m1 = bench_stage(sub, workers=1)
        out = Path(tmp) / "baseline"
        out.mkdir()
        t0 = time.perf_counter()
        rows, _reasons = baseline_clean([sub / p.relative_to(raw) for p in files], sub, out)
        theirs = time.perf_counter() - t0
    print(
        f"sample of {len(files)} CSV files, {rows:,} rows, one process: "
        f"stage {ours:.1f} s ({rows / ours:,.0f} rows/s), pandas row by row {theirs:.1f} s "
        f"({rows / theirs:,.0f} rows/s): the stage is {theirs / ours:.1f}x faster"
    )
    if total_rows:
        print(
            f"pandas row by row, extrapolated to the whole prefecture: "
            f"{total_rows / (rows / theirs) / 60:.0f} min on one core"
        )


if __name__ == "__main__":
    main()
