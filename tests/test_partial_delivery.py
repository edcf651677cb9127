"""A county that has sent only part of its registries: every stage computes what the records
allow and names what it could not, never a traceback."""

from __future__ import annotations

import json
import shutil

import pytest

from analysis.cli.commands import main
from analysis.layout import Layout

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def registry_only(small_data, tmp_path_factory):
    """The small prefecture's roster and student registry, nothing else, cleaned and linked."""
    data = tmp_path_factory.mktemp("partial") / "data"
    for kind in ("schools", "xueji"):
        shutil.copytree(small_data[0] / "raw" / kind, data / "raw" / kind)
    assert main(["--data-dir", str(data), "clean"]) == 0
    assert main(["--data-dir", str(data), "link"]) == 0
    return Layout(data)


def test_link_computes_what_the_registry_allows_and_names_the_rest(registry_only):
    doc = json.loads(registry_only.indicators.read_text(encoding="utf-8"))
    missing = doc["not_computed"]
    assert any("list 1" in k and "hukou" in v for k, v in missing.items())
    assert any("list 3" in k and "poverty" in v for k, v in missing.items())
    # No population base: no enrolment rate pretends to be one, no list 1 count either.
    assert all(r["junior_enrolment_rate"] is None for r in doc["enrolment"])
    assert not [c for c in doc["comparisons"] if c["list"].startswith(("1_", "3_"))]
    # What the registry alone gives is there: consolidation, and its dropout marks.
    assert any(r["consolidation_rate"] is not None for r in doc["consolidation"])


def test_the_model_says_what_it_lacks(registry_only, capsys):
    code = main(["--data-dir", str(registry_only.data), "model"])
    out = capsys.readouterr().out
    assert code == 1
    assert "cannot compute" in out and "terms with known outcomes" in out
    assert "attendance" in out and "Traceback" not in out
