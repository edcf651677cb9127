"""Notebooks run end to end on the small prefecture, and are committed without outputs."""

from __future__ import annotations

import json
from pathlib import Path

import papermill as pm
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


#: Notebooks that read the model stage's output (on the linked small prefecture), and
#: those that read the effects stage's too.
NEEDS_LINK = {"02_linkage"}
NEEDS_MODEL = {"03_risk_model", "04_effects", "county_report", "prefecture_report"}
NEEDS_EFFECTS = {"04_effects", "county_report", "prefecture_report"}


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_on_the_small_prefecture(nb, request, tmp_path):
    from analysis.layout import Layout

    if nb.stem in NEEDS_MODEL:
        from analysis.model.stage import model

        data_dir, _, _ = request.getfixturevalue("linked")
        # As tests/test_model.py runs it; no work if that output is there already.
        model(Layout(data_dir), request.getfixturevalue("model_config"))
        if nb.stem in NEEDS_EFFECTS:
            from analysis.effects.stage import effects

            effects(Layout(data_dir))
    elif nb.stem in NEEDS_LINK:
        data_dir, _, _ = request.getfixturevalue("linked")
    else:
        from analysis.clean.stage import clean

        data_dir, _ = request.getfixturevalue("small_data")
        # The cleaning notebook reads it (no work if done).
        clean(Layout(data_dir))
    out = tmp_path / nb.name
    pm.execute_notebook(
        str(nb),
        str(out),
        parameters={"data_dir": str(data_dir)},
        kernel_name="python3",
        progress_bar=False,
    )
    executed = json.loads(out.read_text(encoding="utf-8"))
    errors = [
        o
        for c in executed["cells"]
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_without_outputs_and_paired(nb):
    cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
    assert all(not c.get("outputs") for c in cells if c["cell_type"] == "code")
    assert nb.with_suffix(".py").is_file(), "paired with jupytext (py:percent)"
    assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in cells)
