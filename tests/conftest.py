"""Shared fixtures: one small synthetic prefecture per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.synth import SynthParams, synthesize

SMALL_SEED = 7


@pytest.fixture(scope="session")
def small_data(tmp_path_factory) -> tuple[Path, dict]:
    """A small prefecture (about 1/20 of Yuxi) written to a temporary data folder."""
    data_dir = tmp_path_factory.mktemp("small") / "data"
    summary = synthesize(SynthParams.preset("small", SMALL_SEED), data_dir)
    return data_dir, summary


@pytest.fixture(scope="session")
def linked(small_data, tmp_path_factory):
    """The small prefecture cleaned and linked: (data folder, truth folder, link manifest)."""
    from analysis.clean.stage import clean
    from analysis.link.stage import link

    truth_dir, _ = small_data
    data = tmp_path_factory.mktemp("linked") / "data"
    clean(truth_dir / "raw", data / "interim")
    manifest = link(data)
    return data, truth_dir / "truth", manifest
