"""The ``analysis`` command: one verb per stage of the pipeline (see ``design.md``).

Stages implemented so far: ``synth`` (the synthetic prefecture), ``clean``, ``validate``, and
``run`` (every stage in order, skipping those whose inputs have not changed). Each prints a
one-screen summary, exits 0 only on success, and turns bad input into a message rather than
a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table

from analysis import __version__

console = Console(highlight=False)

SEED_LABELS = {
    "primary_schools": ("小学 primary schools", "{:,.0f}"),
    "junior_schools": ("初中 junior-middle schools", "{:,.0f}"),
    "primary_students": ("小学在校生 primary students 2020/21", "{:,.0f}"),
    "junior_students": ("初中在校生 junior-middle students 2020/21", "{:,.0f}"),
    "returns_2019": ("劝返 dropouts returned in 2019/20", "{:,.0f}"),
    "primary_enrolment_rate": ("小学学龄儿童入学率 primary enrolment %", "{:.2f}"),
    "junior_enrolment_rate": ("初中学龄人口入学率 junior enrolment %", "{:.2f}"),
    "disabled_enrolment_rate": ("残疾儿童入学率 disabled enrolment %", "{:.2f}"),
    "consolidation_rate": ("九年义务教育巩固率 consolidation %", "{:.2f}"),
}


class UserError(Exception):
    """Bad input or a state the user can fix: shown as a message, exit code 2."""


def _data_dir(args: argparse.Namespace) -> Path:
    return Path(args.data_dir).resolve()


def print_synth_summary(summary: dict, data_dir: Path) -> None:
    """The synthetic prefecture in one screen: the seed's figures, files, mess, model bound."""
    f = summary["fraction"]
    t = Table(
        title=f"Synthetic prefecture · scale {summary['scale']} (×{f:g}) · seed {summary['seed']}",
        title_justify="left",
    )
    t.add_column("figure")
    t.add_column("this world", justify="right")
    t.add_column("seed report" + (" (scaled)" if f != 1 else ""), justify="right")
    for key, (label, fmt) in SEED_LABELS.items():
        mine = summary["figures"][key]
        target = summary["targets"][key]
        if key.endswith("schools") and f != 1:
            target = target * f
        t.add_row(label, fmt.format(mine), fmt.format(target))
    console.print(t)
    c = summary["counts"]
    auc = summary["auc_true_probability"]
    console.print(
        f"People: {c['children']:,} children, {c['parents']:,} parents in {c['households']:,} households. "
        f"Dropout events 2016-2021: {c['dropouts']:,}; persuasion cases: {c['persuasion_cases']:,}."
    )
    console.print(
        f"Raw extracts: {c['raw_files']} files, {c['raw_rows']:,} rows, {c['corrupted_values']:,} values messed up "
        f"(kinds and rates in truth/mess_rates.parquet)."
    )
    console.print(
        f"Best achievable risk ranking (AUC of the true probabilities): {auc['pooled']:.3f} pooled, "
        f"{auc['last_term']:.3f} in the last term."
    )
    console.print(
        f"Written to {data_dir / 'raw'} and {data_dir / 'truth'} in {summary.get('seconds', 0):.0f} s."
    )


def cmd_synth(args: argparse.Namespace) -> int:
    from analysis.synth import SynthParams, synthesize

    params = SynthParams.preset(args.scale, args.seed)
    data_dir = _data_dir(args)
    with console.status("starting") as status:
        summary = synthesize(
            params, data_dir, progress=lambda m: status.update(f"[bold]synth[/]: {m} …")
        )
    print_synth_summary(summary, data_dir)
    return 0


def _counts(files: list[dict], key: str) -> str:
    total: dict[str, int] = {}
    for f in files:
        for k, v in f.get(key, {}).items():
            total[k] = total.get(k, 0) + v
    return " · ".join(f"{k} {v:,}" for k, v in sorted(total.items(), key=lambda kv: -kv[1]) if v)


def print_clean_summary(manifest: dict, interim: Path) -> None:
    """Per dataset: files, rows read / kept / merged / quarantined, values nulled, rows
    flagged; then the reasons and repairs over all files, and the rejected files."""
    files = manifest["files"]
    t = Table(
        title=f"Cleaning · {manifest['totals']['files']} raw files",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for col in ("table", "files", "read", "kept", "merged", "rows out", "nulled", "flagged"):
        t.add_column(col, justify="right" if col != "table" else "left", no_wrap=True)
    by_kind: dict[str, list] = {}
    for f in files:
        # A workbook whose sheets hold several tables is counted under their joint label.
        by_kind.setdefault("+".join(dict.fromkeys(f["kinds"])) or "(rejected)", []).append(f)
    for kind in sorted(by_kind):
        fs = by_kind[kind]
        t.add_row(
            kind,
            str(len(fs)),
            f"{sum(f['rows_read'] for f in fs):,}",
            f"{sum(f['rows_kept'] for f in fs):,}",
            f"{sum(f['rows_merged'] for f in fs):,}",
            f"{sum(sum(f['rows_quarantined'].values()) for f in fs):,}",
            f"{sum(sum(f['values_quarantined'].values()) for f in fs):,}",
            f"{sum(sum(f.get('flags', {}).values()) for f in fs):,}",
        )
    console.print(t)
    console.print(
        "[dim]rows out: quarantined whole; nulled: values quarantined, row kept; "
        "flagged: a cross-field rule broken, row kept.[/]"
    )
    for label, key in (
        ("Rows quarantined", "rows_quarantined"),
        ("Values quarantined", "values_quarantined"),
        ("Rows flagged", "flags"),
        ("Repairs", "repairs"),
    ):
        text = _counts(files, key)
        if text:
            console.print(f"{label}: {text}")
    for f in files:
        if f["status"] == "rejected":
            console.print(f"[red]rejected[/] {f['message']}")
    unknown = sorted({u for f in files for u in f["unknown_columns"]})
    if unknown:
        console.print(f"Columns not in the header dictionary (ignored): {', '.join(unknown)}")
    console.print(
        f"Clean tables, quarantine and manifest in {interim} ({manifest.get('seconds', 0):.0f} s)."
    )


def cmd_clean(args: argparse.Namespace) -> int:
    from analysis.clean.read import RawFileError
    from analysis.clean.stage import clean

    data_dir = _data_dir(args)
    try:
        with console.status("starting") as status:
            manifest = clean(
                data_dir / "raw",
                data_dir / "interim",
                progress=lambda m: status.update(f"[bold]clean[/]: {m}"),
                force=args.force,
            )
    except RawFileError as exc:
        raise UserError(str(exc)) from None
    if manifest.get("skipped"):
        console.print(
            "[dim]clean: raw files unchanged since the last run: nothing to do (use --force to redo)[/]"
        )
    print_clean_summary(manifest, data_dir / "interim")
    return 0


RULE_LABELS = {
    "id": "own valid ID number",
    "student_no": "registry number → ID",
    "student_no_corrects_id": "registry number corrects an ID typo",
    "household_corrects_id": "household number corrects an ID typo",
    "name_corrects_id": "same name corrects an ID typo",
    "student_no_only": "registry number, no ID anywhere",
    "probabilistic": "probabilistic match",
    "clustered": "probabilistic, among records without ID",
    "unmatched": "no match: a person of its own",
}


def print_link_summary(manifest: dict) -> None:
    """Rows per linkage rule, persons, time."""
    t = Table(title="Linkage · who is who", title_justify="left")
    t.add_column("rule")
    t.add_column("rows", justify="right")
    total = sum(manifest.get("rules", {}).values()) or 1
    for rule, n in manifest.get("rules", {}).items():
        t.add_row(RULE_LABELS.get(rule, rule), f"{n:,}", f"{100 * n / total:.2f} %")
    console.print(t)
    console.print(
        f"{manifest.get('persons', 0):,} persons ({manifest.get('persons_with_id', 0):,} found by an "
        f"ID number); {manifest.get('entities_matched', 0):,} of "
        f"{manifest.get('entities_without_id', 0):,} records or registry numbers without a valid ID "
        f"matched at probability ≥ {manifest.get('threshold')} ({manifest.get('seconds', 0)} s)."
    )


def print_indicators(path: Path) -> None:
    """The latest school year's enrolment rates, per county and for the prefecture."""
    if not path.exists():
        return
    rows = json.loads(path.read_text(encoding="utf-8"))["enrolment"]
    year = max(r["year"] for r in rows)
    t = Table(
        title=f"Enrolment, school year {year}/{(year + 1) % 100:02d} (autumn census, from the registries)",
        title_justify="left",
    )
    for c in ("county", "primary 6-11", "junior-middle 12-14", "with disabilities 6-14"):
        t.add_column(c, justify="right" if c != "county" else "left")

    def pct(v) -> str:
        return "–" if v is None else f"{v:.2f} %"

    for r in sorted(
        (r for r in rows if r["year"] == year), key=lambda r: r["county_code"] != "5304"
    ):
        t.add_row(
            "prefecture" if r["county_code"] == "5304" else r["county_code"],
            pct(r["primary_enrolment_rate"]),
            pct(r["junior_enrolment_rate"]),
            pct(r["disabled_enrolment_rate"]),
        )
    console.print(t)


COMPARISON_COLUMNS = (
    ("1_not_enrolled", "失学", "1 失学"),
    ("1_not_enrolled", "残疾缓学", "1 缓学"),
    ("2_dropouts", "辍学", "2 辍学"),
    ("2_dropouts", "疑似辍学", "2 疑似"),
    ("3_poverty", None, "3 贫困"),
)
COMPARISON_LEGEND = (
    "1 失学 not enrolled, 缓学 deferred for disability; 2 辍学 dropouts (runs begun this "
    "year), 疑似 suspected only; 3 贫困 poor households' children out of school; 返校 "
    "returns; 巩固率 nine-year consolidation rate."
)


def print_comparisons(path: Path) -> None:
    """The three lists' counts per county for the latest school year, the monitoring
    counts of that year and the consolidation rate of the latest graduation year."""
    if not path.exists():
        return
    doc = json.loads(path.read_text(encoding="utf-8"))
    rows = doc.get("comparisons", [])
    if not rows:
        return
    year = max(r["school_year"] for r in rows if r["list"] == "1_not_enrolled")
    counties = sorted({r["county_code"] for r in rows}, key=lambda c: (c != "5304", c))
    mon = [m for m in doc.get("monitoring", []) if m["term"].startswith(str(year))]
    cons = doc.get("consolidation", [])
    last = max((c["year"] for c in cons), default=None)
    t = Table(
        title=f"三比对 · the three comparisons, school year {year}/{(year + 1) % 100:02d} "
        "(children; lists in processed/checks/)",
        title_justify="left",
    )
    t.add_column("county")
    for _, _, label in COMPARISON_COLUMNS:
        t.add_column(label, justify="right")
    t.add_column("返校", justify="right")
    if last:
        t.add_column(f"巩固率{last}", justify="right")
    for code in counties:
        cells = []
        for lst, cat, _ in COMPARISON_COLUMNS:
            n = sum(
                r["children"]
                for r in rows
                if r["list"] == lst
                and r["county_code"] == code
                and r["school_year"] == year
                and (cat is None or r["category"] == cat)
            )
            cells.append(f"{n:,}")
        cells.append(f"{sum(m['returns'] for m in mon if m['county_code'] == code):,}")
        if last:
            rate = next(
                (
                    c["consolidation_rate"]
                    for c in cons
                    if c["year"] == last and c["county_code"] == code
                ),
                None,
            )
            cells.append("–" if rate is None else f"{rate:.2f} %")
        t.add_row("prefecture" if code == "5304" else code, *cells)
    console.print(t)
    console.print(f"[dim]{COMPARISON_LEGEND}[/]")


def cmd_link(args: argparse.Namespace) -> int:
    from analysis.link.stage import link

    data_dir = _data_dir(args)
    try:
        with console.status("[bold]link[/]: deterministic, then probabilistic (Splink)"):
            manifest = link(data_dir, force=args.force, engine=getattr(args, "engine", "duckdb"))
    except FileNotFoundError as exc:
        raise UserError(str(exc)) from None
    if manifest.get("skipped"):
        console.print(
            "[dim]link: clean tables unchanged since the last run: nothing to do (use --force to redo)[/]"
        )
    print_link_summary(manifest)
    print_indicators(data_dir / "processed" / "indicators.json")
    print_comparisons(data_dir / "processed" / "indicators.json")
    console.print(f"Person index, lists and indicators in {data_dir / 'processed'}.")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from analysis.validate import validate

    data_dir = _data_dir(args)
    if not (data_dir / "truth").is_dir():
        raise UserError(
            f"{data_dir / 'truth'} not found: validation needs a synthetic prefecture (analysis synth)"
        )
    reports = Path(args.reports_dir).resolve()
    with console.status("validating against the truth"):
        result = validate(data_dir, reports)
    if "clean" in result:
        c = result["clean"]
        t = Table(title="Cleaning against the truth", title_justify="left")
        t.add_column("measure")
        t.add_column("value", justify="right")
        t.add_column("target", justify="right")
        t.add_row(
            "corrupted values repaired or quarantined",
            f"{100 * c['repaired_or_quarantined_share']:.2f} %",
            "≥ 99.5 %",
        )
        t.add_row(
            "clean rows wrongly quarantined",
            f"{100 * c['clean_rows_wrongly_quarantined_share']:.3f} %",
            "≤ 0.1 %",
        )
        t.add_row(
            "undetectable (valid-looking) corruptions", f"{c['undetectable_values']:,}", "reported"
        )
        t.add_row("silently wrong values", f"{c['silently_wrong_values']:,}", "")
        console.print(t)
        worst = sorted(c["by_kind"].items(), key=lambda kv: -kv[1].get("silently_wrong", 0))[:5]
        for kind, counts in worst:
            if counts.get("silently_wrong"):
                console.print(f"  {kind}: {counts}")
    else:
        console.print("Nothing to validate yet: run `analysis clean` first.")
    if "link" in result:
        lk = result["link"]
        t = Table(title="Linkage against the truth (pairwise)", title_justify="left")
        t.add_column("records")
        t.add_column("n", justify="right")
        t.add_column("precision", justify="right")
        t.add_column("recall", justify="right")
        t.add_column("target", justify="right")
        pw = lk["pairwise"]
        t.add_row(
            "all",
            f"{pw['records']:,}",
            f"{pw['precision']:.6f}",
            f"{pw['recall']:.6f}",
            "≥ 0.995 / ≥ 0.99",
        )
        for grp, v in lk["by_error"].items():
            t.add_row(
                f"  with {grp}",
                f"{v['records']:,}",
                f"{v['precision']:.6f}",
                f"{v['recall']:.6f}",
                "",
            )
        for th, v in lk["by_threshold"].items():
            t.add_row(
                f"  probabilistic cut at {th}",
                "",
                f"{v['precision']:.6f}",
                f"{v['recall']:.6f}",
                "",
            )
        console.print(t)
        if "indicators" in lk:
            t = Table(title="Indicators from the raw files against the truth", title_justify="left")
            t.add_column("rate")
            t.add_column("prefecture 2020", justify="right")
            t.add_column("true", justify="right")
            t.add_column("difference", justify="right")
            t.add_column("largest, any county and year", justify="right")
            for rate, v in lk["indicators"].items():
                t.add_row(
                    rate.replace("_", " "),
                    f"{v['prefecture_2020']:.2f} %",
                    f"{v['prefecture_2020_true']:.2f} %",
                    f"{v['prefecture_2020_diff_points']:+.3f} points",
                    f"{v['max_abs_diff_points_any_county_year']:.3f} points",
                )
            cons = lk.get("checks", {}).get("consolidation")
            if cons and "2020" in cons["prefecture"]:
                v = cons["prefecture"]["2020"]
                t.add_row(
                    "consolidation rate",
                    f"{v['ours']:.2f} %",
                    f"{v['true']:.2f} %",
                    f"{v['diff_points']:+.3f} points",
                    f"{cons['max_abs_diff_points_any_county_year']:.3f} points",
                )
            console.print(t)
        if "checks" in lk:
            t = Table(title="The three comparison lists against the truth", title_justify="left")
            for c in ("list", "listed", "true", "precision", "recall"):
                t.add_column(c, justify="left" if c == "list" else "right")
            for key, label in (
                ("not_enrolled", "1 not enrolled (失学, 缓学)"),
                ("suspected_and_dropouts", "2 suspected and dropouts"),
                ("dropouts", "2 dropouts (辍学)"),
                ("poverty", "3 poor households, out"),
            ):
                v = lk["checks"][key]
                t.add_row(
                    label,
                    f"{v['listed']:,}",
                    f"{v['true']:,}",
                    f"{v['precision']:.4f}",
                    f"{v['recall']:.4f}",
                )
            console.print(t)
    if "model" in result:
        t = Table(title="Risk model against the truth (held-out terms)", title_justify="left")
        for c in ("term", "dropouts", "AUC", "p_true", "ratio", "prec@list", "p_true", "ratio"):
            t.add_column(c, justify="left" if c == "term" else "right")
        for term, v in result["model"].items():
            t.add_row(
                term,
                str(v["true_dropouts"]),
                f"{v['roc_auc']:.3f}",
                f"{v['roc_auc_true_probability']:.3f}",
                f"{v['roc_auc_ratio']:.3f}",
                f"{v['precision_at_list']:.4f}",
                f"{v['precision_at_list_true_probability']:.4f}",
                "" if v["precision_ratio"] is None else f"{v['precision_ratio']:.2f}",
            )
        console.print(t)
        last = result["model"][max(result["model"])]
        console.print(
            "[dim]p_true: the true probabilities, the best any model could do. Last term: "
            f"ECE {last['ece']:.4f}; baselines' AUC "
            + ", ".join(f"{k} {v:.3f}" for k, v in sorted(last["baselines_roc_auc"].items()))
            + "[/]"
        )
        best = last.get("best_from_features")
        if best:
            console.print(
                "[dim]Last term, precision as expected from p_true (ours over p_true's list): "
                f"{last['expected_precision_ratio']:.2f}. The best function of our features "
                f"(boosting fit to p_true itself): AUC {best['roc_auc']:.3f}, ratio "
                f"{best['roc_auc_ratio']:.3f}, expected precision ratio "
                f"{best['expected_precision_ratio']:.2f}: the rest of p_true is not in the "
                "records.[/]"
            )
        console.print(
            "[dim]targets on the last term: AUC ratio ≥ 0.97, precision ratio ≥ 0.90, ECE ≤ 0.01[/]"
        )
    console.print(f"Written to {reports / 'validation.json'}")
    return 0


MODEL_SHORT = {
    "gradient_boosting": "boosting",
    "logistic_regression": "logistic",
    "abc_rule": "ABC rule",
    "prior_absence": "absence",
    "school_rate": "school",
    "county_rate": "county",
}


def _short(x: float) -> str:
    """Three decimals without the leading zero (``.792``, ``-.050``), so a table of
    intervals fits 80 columns."""
    return f"{x:.3f}".replace("0.", ".", 1)


def print_model_summary(summary: dict) -> None:
    """The last test term's metrics (model and baselines, with 95 % intervals) and the
    lists' counts per county."""
    import pandas as pd

    m = pd.DataFrame(summary["metrics"])
    last = summary["last_test_term"]
    t = Table(
        title=f"Dropout risk: held-out term {last} (trained on earlier terms only)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    t.add_column("model")
    shown = ["roc_auc", "precision_at_list", "recall_at_list"]  # PR-AUC: in the card
    for k in shown:
        t.add_column(
            {
                "roc_auc": "ROC-AUC",
                "pr_auc": "PR-AUC",
                "precision_at_list": "prec@list",
                "recall_at_list": "recall@list",
                "ece": "ECE",
            }[k],
            justify="right",
            min_width=11,
        )
    t.add_column("AUC gain", justify="right", min_width=12)
    lm = m[m["term"] == last]
    for name, g in lm.groupby("model", sort=False):
        g = g.set_index("metric")
        cells = []
        for k in shown:
            if k not in g.index:
                cells.append("")
                continue
            r = g.loc[k]
            cells.append(f"{r.estimate:.3f}\n[{_short(r.lo)},{_short(r.hi)}]")
        d = g.loc["roc_auc"] if "diff" in g.columns and "roc_auc" in g.index else None
        ok = d is not None and pd.notna(d["diff"])
        cells.append(
            f"{d['diff']:+.3f}\n[{_short(d['diff_lo'])},{_short(d['diff_hi'])}]" if ok else ""
        )
        t.add_row(MODEL_SHORT.get(name, name), *cells)
    console.print(t)
    ece = lm[(lm["model"] == "gradient_boosting") & (lm["metric"] == "ece")]
    console.print(
        "[dim]95 % bootstrap intervals; AUC gain: boosting's ROC-AUC minus the model's, paired"
        " on the same replicates (above 0 throughout = boosting is better); lists cut at"
        " each county's capacity"
        + (f"; expected calibration error {ece['estimate'].iloc[0]:.4f}" if len(ece) else "")
        + ". Model card: processed/model/model_card.md[/]"
    )
    t = Table(title=f"Red and white lists for {summary['listed_term']}", title_justify="left")
    for c in ("county", "capacity", "red", "new", "stayed", "left", "white"):
        t.add_column(c, justify="left" if c == "county" else "right")
    for county, v in summary["lists"].items():
        t.add_row(
            county,
            str(summary["capacity"].get(county, "")),
            *(str(v[k]) for k in ("red", "new", "stayed", "left", "white")),
        )
    console.print(t)


def cmd_model(args: argparse.Namespace) -> int:
    from analysis.model.stage import model

    data_dir = _data_dir(args)
    capacity = None
    if getattr(args, "capacity", None):
        capacity = {}
        for part in args.capacity.split(","):
            code, _, n = part.partition("=")
            if not n.strip().isdigit():
                raise UserError(f"--capacity: {part!r} is not COUNTY=NUMBER (e.g. 530402=320)")
            capacity[code.strip()] = int(n)
    try:
        with console.status("[bold]model[/]: features, rolling-origin validation, lists"):
            result = model(
                data_dir,
                capacity=capacity,
                n_test=getattr(args, "test_terms", 4),
                n_boot=getattr(args, "boot", 500),
                force=getattr(args, "force", False),
            )
    except FileNotFoundError as exc:
        raise UserError(str(exc)) from None
    if result.skipped:
        console.print(
            "[dim]model: person index and lists unchanged since the last run: nothing to do "
            "(use --force to redo)[/]"
        )
    print_model_summary(result.summary)
    console.print(
        f"Model, validation, lists and model cards in {result.folder} "
        "(lists/<county>/ holds one county's children only)."
    )
    return 0


def _synth_is_current(data_dir: Path, scale: str, seed: int) -> dict | None:
    path = data_dir / "truth" / "summary.json"
    if not (data_dir / "raw").is_dir() or not path.is_file():
        return None
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if summary.get("scale") == scale and summary.get("seed") == seed:
        return summary
    return None


def cmd_run(args: argparse.Namespace) -> int:
    """Every stage in order; a stage whose inputs have not changed is skipped."""
    data_dir = _data_dir(args)
    t0 = time.perf_counter()
    current = None if args.force else _synth_is_current(data_dir, args.scale, args.seed)
    if current is not None:
        console.print(
            f"[dim]synth: data/raw already holds scale {args.scale}, seed {args.seed}: skipped (use --force to rebuild)[/]"
        )
        print_synth_summary(current, data_dir)
    else:
        cmd_synth(args)
    cmd_clean(args)
    cmd_link(args)
    cmd_model(args)
    console.print(
        f"[bold green]run finished[/] in {time.perf_counter() - t0:.0f} s. "
        "Still to come: effects, report."
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="analysis",
        description="Dropout-control analytics (控辍保学) for a prefecture's education bureau.",
    )
    p.add_argument("--version", action="version", version=f"analysis {__version__}")
    p.add_argument(
        "--data-dir",
        default="data",
        help="where raw/, interim/, processed/ and truth/ live (default: ./data)",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def scale_args(sp: argparse.ArgumentParser, default_scale: str) -> None:
        sp.add_argument(
            "--scale",
            choices=["small", "yuxi"],
            default=default_scale,
            help="yuxi: full size (216,500 students); small: about 1/20, for tests (default: %(default)s)",
        )
        sp.add_argument(
            "--seed",
            type=int,
            default=2020,
            help="random seed; the same seed gives byte-identical files (default: %(default)s)",
        )

    s = sub.add_parser(
        "synth",
        help="write a synthetic prefecture's raw registries and its ground truth",
        description=(
            "Simulate a Yuxi-like prefecture (9 counties, five school years 2016/17-2020/21) and write its "
            "registry extracts, messy as counties deliver them, to DATA_DIR/raw/<dataset>/, and the ground "
            "truth to DATA_DIR/truth/. The previous data is replaced only when the new data is complete."
        ),
    )
    scale_args(s, "yuxi")
    s.set_defaults(func=cmd_synth)

    c = sub.add_parser(
        "clean",
        help="raw registry files to clean tables, with quarantine and a row-accounting manifest",
        description=(
            "Read every file under DATA_DIR/raw/ (CSV in GB18030 or UTF-8, XLSX), map headers through the "
            "header dictionary, normalise IDs, names and dates, quarantine what cannot be trusted, and write "
            "one table per kind to DATA_DIR/interim/ with quarantine.parquet and manifest.json."
        ),
    )
    c.add_argument(
        "--force", action="store_true", help="clean again even if the raw files have not changed"
    )
    c.set_defaults(func=cmd_clean)

    lk = sub.add_parser(
        "link",
        help="who is who across registries and years: the person index",
        description=(
            "Tie every clean row to a person: valid ID numbers and registry numbers first, then "
            "probabilistic linkage (Splink, DuckDB) for rows without a usable ID. Writes "
            "DATA_DIR/processed/person_index.parquet, persons.parquet and link_manifest.json."
        ),
    )
    lk.add_argument(
        "--force", action="store_true", help="link again even if the clean tables have not changed"
    )
    lk.add_argument(
        "--engine",
        choices=("duckdb", "spark"),
        default="duckdb",
        help="where the probabilistic pass scores its pairs (spark: pip install -e '.[spark]', "
        "Java 17; the same persons, slower on one machine)",
    )
    lk.set_defaults(func=cmd_link)

    m = sub.add_parser(
        "model",
        help="dropout risk: features as of each term, temporal validation, red and white lists",
        description=(
            "Build features as of each term's start, validate the risk model and its baselines "
            "on the last terms (rolling origin), fit the final model, and write each county's "
            "red and white lists with reasons and the model cards to DATA_DIR/processed/model/."
        ),
    )
    m.add_argument(
        "--capacity",
        help="list size per county, e.g. 530402=320,530403=110 (counties not named: their latest "
        "red-list ledger, or 0.6 %% of their pupils)",
    )
    m.add_argument(
        "--test-terms", type=int, default=4, help="terms held out, one origin each (default 4)"
    )
    m.add_argument(
        "--boot", type=int, default=500, help="bootstrap replicates for the intervals (default 500)"
    )
    m.add_argument(
        "--force", action="store_true", help="redo even if the link stage's output is unchanged"
    )
    m.set_defaults(func=cmd_model)

    v = sub.add_parser(
        "validate",
        help="compare every stage's output with the synthetic truth; writes reports/validation.json",
        description="Compare every stage's output with DATA_DIR/truth/ and write REPORTS_DIR/validation.json.",
    )
    v.add_argument(
        "--reports-dir", default="reports", help="where validation.json goes (default: ./reports)"
    )
    v.set_defaults(func=cmd_validate)

    r = sub.add_parser(
        "run",
        help="run every stage in order, skipping stages whose inputs have not changed",
        description="Run every stage of the pipeline in order (today: synth, clean, link, model). A stage whose inputs have not changed is skipped.",
    )
    scale_args(r, "yuxi")
    r.add_argument(
        "--force", action="store_true", help="rerun every stage even if its inputs have not changed"
    )
    r.set_defaults(func=cmd_run)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        return 2
    except KeyboardInterrupt:
        console.print("[bold red]interrupted[/]: nothing half-written was kept")
        return 130
    except OSError as exc:
        console.print(f"[bold red]error:[/] {exc.strerror or exc}: {exc.filename or ''}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
