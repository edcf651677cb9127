"""Where everything lives: one :class:`Layout` knows every path of a data folder and of its
reports, so no other module spells a folder or file name.

::

    data/
      raw/<dataset>/...            the registries as delivered (never modified)
      truth/                       the synthetic ground truth (validate and tests only)
      interim/<kind>.parquet/      one clean table per kind (a folder of parts),
              quarantine.parquet/  merges.parquet/  manifest.json
      processed/person_index.parquet  persons.parquet  link_manifest.json  indicators.json
                checks/            the three comparison lists and the status timeline
                model/             features, validation/, model.pkl, model.json, cards,
                                   lists/<county>/ (red and white lists, the county's card)
      .person_salt                 the key of the pseudonymous person ids (never shared)
    reports/
      validation.json              analysis validate
      <period>/                    the reports of a period (YYYY-MM): prefecture.html,
                                   prefecture_public.html, counties/<code>.html, the executed
                                   notebooks beside them, ledgers/<code>.xlsx, metrics.json

Every stage, the command line, ``validate`` and the notebooks take a ``Layout``.

Examples
--------
>>> layout = Layout("data")
>>> layout.table("xueji").as_posix()
'data/interim/xueji.parquet'
>>> layout.red_list("530402").as_posix()
'data/processed/model/lists/530402/red_list.parquet'
>>> layout.reports.as_posix(), layout.period("2021-03").as_posix()
('reports', 'reports/2021-03')
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: File names of the three comparison lists and the status timeline under ``checks/``.
CHECK_LISTS = {
    "not_enrolled": "1_not_enrolled.parquet",
    "dropouts": "2_dropouts.parquet",
    "poverty": "3_poverty_out_of_school.parquet",
    "timeline": "status_timeline.parquet",
}


@dataclass(frozen=True)
class Layout:
    """The paths of one data folder (``data``) and its reports folder (``reports``,
    default: ``reports`` beside the data folder)."""

    data: Path
    reports: Path
    _processed: Path | None = None

    def __init__(self, data: str | Path, reports: str | Path | None = None):
        data = Path(data)
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "reports", Path(reports) if reports else data.parent / "reports")
        object.__setattr__(self, "_processed", None)

    def reading(self, processed: Layout) -> Layout:
        """This layout with ``processed/`` taken from another one (a stage's staging
        layout): what a stage reads while its new output is not yet published."""
        out = Layout(self.data, self.reports)
        object.__setattr__(out, "_processed", processed.processed)
        return out

    # ---- the stages' folders ----------------------------------------------------------
    @property
    def raw(self) -> Path:
        return self.data / "raw"

    @property
    def truth(self) -> Path:
        return self.data / "truth"

    @property
    def interim(self) -> Path:
        return self.data / "interim"

    @property
    def processed(self) -> Path:
        return self._processed or self.data / "processed"

    @property
    def salt(self) -> Path:
        """The file holding the key of the pseudonymous person ids."""
        return self.data / ".person_salt"

    # ---- cleaning -----------------------------------------------------------------------
    def table(self, kind: str) -> Path:
        """The clean table of ``kind`` (a Parquet dataset: a folder of parts)."""
        return self.interim / f"{kind}.parquet"

    @property
    def quarantine(self) -> Path:
        return self.table("quarantine")

    @property
    def merges(self) -> Path:
        return self.table("merges")

    @property
    def clean_manifest(self) -> Path:
        return self.interim / "manifest.json"

    # ---- linking ------------------------------------------------------------------------
    @property
    def person_index(self) -> Path:
        return self.processed / "person_index.parquet"

    @property
    def persons(self) -> Path:
        return self.processed / "persons.parquet"

    @property
    def link_model(self) -> Path:
        """The person index's trained Splink model (its JSON)."""
        return self.processed / "link_model.json"

    @property
    def link_pairs(self) -> Path:
        """The probabilistic pass's links with each comparison's level (no personal data):
        what :func:`analysis.link.index.explain_match` explains."""
        return self.processed / "link_pairs.parquet"

    @property
    def link_manifest(self) -> Path:
        return self.processed / "link_manifest.json"

    @property
    def indicators(self) -> Path:
        return self.processed / "indicators.json"

    @property
    def checks(self) -> Path:
        return self.processed / "checks"

    def check(self, name: str) -> Path:
        """A comparison list or the timeline (:data:`CHECK_LISTS`)."""
        return self.checks / CHECK_LISTS[name]

    # ---- the model ----------------------------------------------------------------------
    @property
    def model(self) -> Path:
        return self.processed / "model"

    @property
    def features(self) -> Path:
        return self.model / "features.parquet"

    @property
    def model_json(self) -> Path:
        return self.model / "model.json"

    @property
    def model_pickle(self) -> Path:
        return self.model / "model.pkl"

    @property
    def model_card(self) -> Path:
        return self.model / "model_card.md"

    @property
    def validation_dir(self) -> Path:
        """The model's rolling-origin validation (:class:`analysis.model.train.Validation`)."""
        return self.model / "validation"

    def validation(self, name: str) -> Path:
        """A table of the model's rolling-origin validation (``metrics``, ``predictions``,
        ``calibration``, ``bias``)."""
        return self.validation_dir / f"{name}.parquet"

    @property
    def school_risk(self) -> Path:
        """Per school of the coming term: pupils, expected dropouts, red-listed pupils."""
        return self.model / "school_risk.parquet"

    def county_lists(self, county: str) -> Path:
        """The folder of one county's lists and card: that county's children only."""
        return self.model / "lists" / str(county)

    def red_list(self, county: str) -> Path:
        return self.county_lists(county) / "red_list.parquet"

    def white_list(self, county: str) -> Path:
        return self.county_lists(county) / "white_list.parquet"

    def county_card(self, county: str) -> Path:
        return self.county_lists(county) / "model_card.md"

    # ---- the effects ----------------------------------------------------------------------
    @property
    def effects(self) -> Path:
        """The intervention effects (:mod:`analysis.effects.stage`)."""
        return self.processed / "effects"

    @property
    def effects_json(self) -> Path:
        return self.effects / "effects.json"

    def effects_table(self, name: str) -> Path:
        """A table of the effects (``estimates``, ``attgt``, ``funnel``, ...)."""
        return self.effects / f"{name}.parquet"

    def effects_figure(self, name: str) -> Path:
        return self.effects / "figures" / f"{name}.png"

    # ---- the truth and the reports ------------------------------------------------------
    def truth_table(self, name: str) -> Path:
        """A table of the synthetic ground truth (``analysis validate`` and tests only)."""
        return self.truth / f"{name}.parquet"

    @property
    def truth_summary(self) -> Path:
        return self.truth / "summary.json"

    @property
    def validation_report(self) -> Path:
        return self.reports / "validation.json"

    def period(self, period: str) -> Path:
        """The reports of one period (``YYYY-MM``)."""
        return self.reports / period

    def county_report(self, period: str, county: str, suffix: str = ".html") -> Path:
        """A county's report of a period (``.html``; ``.ipynb``: the executed notebook)."""
        return self.period(period) / "counties" / f"{county}{suffix}"

    def prefecture_report(self, period: str, public: bool = False, suffix: str = ".html") -> Path:
        """The prefecture's report of a period (``public``: the version with small counts
        suppressed)."""
        return self.period(period) / f"prefecture{'_public' if public else ''}{suffix}"

    def ledger(self, period: str, county: str) -> Path:
        """A county's follow-up ledger (台账, XLSX) of a period."""
        return self.period(period) / "ledgers" / f"{county}.xlsx"

    def report_metrics(self, period: str) -> Path:
        """What ``analysis report`` did for a period: each report's outcome and figures."""
        return self.period(period) / "metrics.json"
