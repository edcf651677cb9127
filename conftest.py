"""Shared fixtures: one small synthetic prefecture per test session.

A test that asks for the prefecture (directly, or a doctest naming ``prefecture``) is marked
``e2e``: ``pytest -m "not e2e"`` runs the rest in about a minute.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from analysis.layout import Layout
from analysis.synth import SynthParams, synthesize

SMALL_SEED = 7
#: R did's mpdta panel (tests/data/did-mpdta), for the effects' examples.
MPDTA = Path(__file__).parent / "tests" / "data" / "did-mpdta" / "mpdta.csv"
#: The fixtures that build the small prefecture.
E2E_FIXTURES = {"small_data", "linked", "prefecture"}


def _doctest_needs_prefecture(item) -> bool:
    dtest = getattr(item, "dtest", None)
    return dtest is not None and any("prefecture" in ex.source for ex in dtest.examples)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if E2E_FIXTURES & set(getattr(item, "fixturenames", ())) or _doctest_needs_prefecture(item):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(autouse=True)
def _doctest_names(request, doctest_namespace):
    """What the docstrings' examples may use: numpy, pandas, pyarrow, ``MPDTA`` (the path of
    R did's mpdta panel), and ``prefecture``
    (the small prefecture's layout, cleaned, linked and modelled) with ``prefecture_truth``
    (its truth folder)."""
    doctest_namespace.update(np=np, pd=pd, pa=pa, MPDTA=MPDTA)
    if _doctest_needs_prefecture(request.node):
        truth = request.getfixturevalue("small_data")[0] / "truth"
        doctest_namespace.update(
            prefecture=request.getfixturevalue("prefecture"), prefecture_truth=truth
        )


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


@pytest.fixture(scope="session")
def prefecture(linked, model_config, small_data) -> Layout:
    """The linked small prefecture with its model stage run (as the model tests run it)."""
    from analysis.model.stage import model

    data, _, _ = linked
    model(Layout(data), model_config)
    return Layout(data)
