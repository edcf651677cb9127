"""``analysis validate``: every stage's output against the synthetic truth.

Only this package (and the tests) read ``data/truth/``, once, through
:class:`~analysis.validate.truth.Truth`. The checks, one module each:

* :func:`~analysis.validate.clean.validate_clean`: corrupted values repaired or
  quarantined, clean rows wrongly quarantined;
* :func:`~analysis.validate.link.validate_link`: the person index (pairwise precision and
  recall) and the enrolment indicators;
* :func:`~analysis.validate.checks.validate_checks`: the three comparison lists and the
  consolidation rate;
* :func:`~analysis.validate.model.validate_model`: the risk model against the true
  probabilities, and the ceiling of what its features can reach;
* :func:`~analysis.validate.effects.validate_effects`: each effect estimate against the
  true estimand (error, coverage of its interval), and the targeting lists.

:func:`validate` runs every check whose stage has output and writes
``reports/validation.json``.
"""

from __future__ import annotations

from pathlib import Path

from analysis.config import Config, default_config
from analysis.layout import Layout
from analysis.runs import write_json
from analysis.summary import StageSummary
from analysis.validate.checks import validate_checks
from analysis.validate.clean import validate_clean
from analysis.validate.effects import validate_effects
from analysis.validate.link import validate_link
from analysis.validate.model import validate_model
from analysis.validate.summary import summary_tables
from analysis.validate.truth import Truth


def validate(
    layout: Layout, config: Config | None = None, *, truth: Path | None = None
) -> StageSummary:
    """Validate every stage that has output against the truth; write
    ``layout.validation_report``.

    Parameters
    ----------
    layout : the data folder (and its reports folder).
    config : the run's settings (the monitoring rules the lists were built with).
    truth : the truth folder (default: ``layout.truth``).

    Returns
    -------
    StageSummary
        Its manifest is the report (``clean``, ``link`` with ``checks``, ``model``).

    Examples
    --------
    >>> import tempfile
    >>> from analysis.layout import Layout
    >>> out = Layout(prefecture.data, tempfile.mkdtemp())
    >>> report = validate(out, truth=prefecture_truth).manifest
    >>> report["clean"]["repaired_or_quarantined_share"] >= 0.995
    True
    >>> report["link"]["pairwise"]["precision"] > 0.999, out.validation_report.exists()
    (True, True)
    """
    config = config or default_config()
    out: dict = {}
    with Truth(truth or layout.truth, config.engine) as t:
        if layout.clean_manifest.exists():
            out["clean"] = validate_clean(layout, t)
        if layout.person_index.exists():
            out["link"] = validate_link(layout, t)
            if layout.checks.is_dir():
                out["link"]["checks"] = validate_checks(layout, t, config.rules)
        if layout.validation("predictions").exists():
            out["model"] = validate_model(layout, t)
        if layout.effects_table("estimates").exists() and t.path("estimands").exists():
            out["effects"] = validate_effects(layout, t)
    write_json(layout.validation_report, out)
    tables, notes = summary_tables(out)
    notes.append(f"Written to {layout.validation_report}")
    return StageSummary("validate", False, out, tables, notes)


__all__ = [
    "Truth",
    "validate",
    "validate_checks",
    "validate_clean",
    "validate_link",
    "validate_model",
]
