"""Same records, same results: every output of the pipeline is the same whether it is run
again in the same data folder or in another one (whose person ids are salted differently),
but for the pseudonymous ids themselves."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from analysis.clean.stage import clean
from analysis.layout import Layout
from analysis.link.stage import link
from analysis.model.estimator import RiskModel
from analysis.model.stage import model

#: Keys of the manifests that are about the run, not its results.
RUN_KEYS = {"seconds", "seconds_deterministic", "seconds_probabilistic", "stats"}


def _ids(layout: Layout, reference: Layout | None) -> dict | None:
    """Map ``layout``'s person ids to ``reference``'s, through the rows both indexes tie."""
    if reference is None:
        return None
    key = ["kind", "source_file", "source_sheet", "source_row"]
    a = pd.read_parquet(reference.person_index)
    b = pd.read_parquet(layout.person_index)
    pairs = b.merge(a, on=key, suffixes=("", "_ref"))[["person_id", "person_id_ref"]]
    pairs = pairs.drop_duplicates()
    assert pairs["person_id"].is_unique and pairs["person_id_ref"].is_unique, "other persons"
    return dict(zip(pairs["person_id"], pairs["person_id_ref"], strict=True))


def _frame(path: Path, ids: dict | None) -> pd.DataFrame:
    df = pd.read_parquet(path)
    for c in df.columns:  # lists (a person's kinds of record) as tuples, to sort
        if df[c].dtype == object and len(df) and hasattr(df[c].iloc[0], "tolist"):
            df[c] = df[c].map(lambda v: tuple(v.tolist()))
    if ids is not None and "person_id" in df.columns:
        df["person_id"] = df["person_id"].map(ids)
    cols = sorted(df.columns)
    return df[cols].sort_values(cols, kind="stable", ignore_index=True)


def _doc(path: Path) -> dict:
    doc = json.loads(path.read_text(encoding="utf-8"))
    return {k: v for k, v in doc.items() if k not in RUN_KEYS}


def snapshot(layout: Layout, reference: Layout | None = None) -> dict:
    """Every output of clean, link and model, with ``layout``'s ids mapped to
    ``reference``'s."""
    ids = _ids(layout, reference)
    tables = [*layout.interim.glob("*.parquet"), layout.person_index, layout.persons]
    tables += [*layout.checks.glob("*.parquet"), *layout.model.rglob("*.parquet")]
    out = {str(p.relative_to(layout.data)): _frame(p, ids) for p in tables}
    manifest = _doc(layout.clean_manifest)
    manifest["files"] = [{k: v for k, v in f.items() if k != "seconds"} for f in manifest["files"]]
    out["manifest"] = manifest
    for p in (layout.link_manifest, layout.indicators, layout.model_json):
        out[p.name] = _doc(p)
    for p in layout.model.rglob("*.md"):
        out[str(p.relative_to(layout.data))] = p.read_text(encoding="utf-8")
    fitted = RiskModel.load(layout.model_pickle)
    out["booster"] = fitted.booster_.model_to_string()
    out["stacking"] = [*fitted.weights_.tolist(), fitted.intercept_]
    out["logistic"] = fitted.linear_.coef_.tolist()
    return out


def assert_same(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for name in a:
        if isinstance(a[name], pd.DataFrame):
            pd.testing.assert_frame_equal(a[name], b[name], obj=name)
        else:
            assert a[name] == b[name], name


@pytest.fixture(scope="module")
def first_run(linked, model_config):
    data, _, _ = linked
    layout = Layout(data)
    model(layout, model_config)  # as the other tests left it, or anew
    return layout, snapshot(layout)


def test_a_second_run_in_the_same_folder_gives_the_same_outputs(first_run, model_config):
    layout, first = first_run
    link(layout, force=True)
    model(layout, model_config, force=True)
    assert_same(first, snapshot(layout))


def test_another_folder_with_other_person_ids_gives_the_same_outputs(
    first_run, small_data, model_config, tmp_path
):
    layout, first = first_run
    other = Layout(tmp_path / "data")
    other.data.mkdir()
    other.raw.symlink_to(small_data[0] / "raw", target_is_directory=True)
    clean(other)
    link(other)
    model(other, model_config)
    assert other.salt.read_text() != layout.salt.read_text()
    assert_same(first, snapshot(other, reference=layout))
