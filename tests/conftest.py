"""Shared fixtures: one small synthetic prefecture per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.layout import Layout
from analysis.synth import SynthParams, synthesize

SMALL_SEED = 7


@pytest.fixture(scope="session")
def model_config():
    """The model stage's settings for the small prefecture: two test terms, few bootstrap
    replicates (the tests check the machinery, not the intervals)."""
    from analysis.config import default_config

    return default_config().with_("model", n_test=2, n_boot=40)


@pytest.fixture(scope="session")
def small_data(tmp_path_factory) -> tuple[Path, dict]:
    """A small prefecture (about 1/20 of Yuxi) written to a temporary data folder."""
    data_dir = tmp_path_factory.mktemp("small") / "data"
    summary = synthesize(SynthParams.preset("small", SMALL_SEED), data_dir)
    return data_dir, summary


@pytest.fixture(scope="session")
def linked(small_data, tmp_path_factory):
    """The small prefecture cleaned and linked, in a data folder of its own (its raw/ a
    link to the synthetic one; no truth beside it): (data folder, truth folder, link
    manifest)."""
    from analysis.clean.stage import clean
    from analysis.link.stage import link

    truth_dir, _ = small_data
    data = tmp_path_factory.mktemp("linked") / "data"
    data.mkdir()
    (data / "raw").symlink_to(truth_dir / "raw", target_is_directory=True)
    clean(Layout(data))
    manifest = link(Layout(data)).manifest
    return data, truth_dir / "truth", manifest
