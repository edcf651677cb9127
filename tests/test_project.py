"""The project itself: dependencies declared consistently, the command line answers."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from analysis.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[ ;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_and_pyproject_list_the_same_packages():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    deps = (
        pyproject["project"]["dependencies"] + pyproject["project"]["optional-dependencies"]["dev"]
    )
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    env_pkgs = {p for p in pip_section if not p.startswith("-e")}
    assert {_name(d) for d in deps} == {_name(p) for p in env_pkgs}
    # Same version ranges too, not just the same names.
    assert {d.replace(" ", "") for d in deps} == {p.replace(" ", "") for p in env_pkgs}


def test_no_dependency_forces_pandas_below_3():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    names = {_name(d) for d in pyproject["project"]["dependencies"]}
    assert not names & {"lifelines", "recordlinkage"}


def test_cli_help_and_module_entry_point():
    out = subprocess.run(
        [sys.executable, "-m", "analysis", "--help"], capture_output=True, text=True, check=True
    )
    assert "synth" in out.stdout and "run" in out.stdout
    out = subprocess.run(
        [sys.executable, "-m", "analysis", "synth", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--scale" in out.stdout and "--seed" in out.stdout


def test_cli_rejects_an_unknown_scale_with_a_message(capsys):
    try:
        main(["synth", "--scale", "huge"])
    except SystemExit as exc:
        assert exc.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_no_command_prints_help_and_fails():
    assert main([]) == 2


def test_run_cleans_after_synthesizing(small_data, capsys):
    """`analysis run` runs every stage there is: synth (skipped when current), then clean."""
    data_dir, summary = small_data
    assert (
        main(
            ["--data-dir", str(data_dir), "run", "--scale", "small", "--seed", str(summary["seed"])]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "skipped" in out and "Cleaning" in out
    assert (data_dir / "interim" / "manifest.json").is_file()
