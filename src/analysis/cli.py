"""The ``analysis`` command: one verb per stage of the pipeline (see ``design.md``).

Stages implemented so far: ``synth`` (the synthetic prefecture) and ``run`` (every stage in
order, skipping those whose inputs have not changed). Each prints a one-screen summary,
exits 0 only on success, and turns bad input into a message rather than a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

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
    console.print(
        f"[bold green]run finished[/] in {time.perf_counter() - t0:.0f} s. "
        "Stages still to come: clean, link, model, effects, report."
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

    r = sub.add_parser(
        "run",
        help="run every stage in order, skipping stages whose inputs have not changed",
        description="Run every stage of the pipeline in order (today: synth). A stage whose inputs have not changed is skipped.",
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
