"""``analysis model``: features, temporal validation, the fitted model, red and white lists
and the model card, from ``interim/`` and ``processed/`` to ``processed/model/``:

* ``features.parquet``: the feature table of every term (one row per pupil and term);
* ``validation/``: ``metrics.parquet`` (every test term, model and metric with its
  bootstrap interval, and the risk model's paired difference from it),
  ``calibration.parquet``, ``bias.parquet``, ``predictions.parquet``;
* ``model.pkl``: the final :class:`~analysis.model.estimator.RiskModel` (fit on every
  labelled term but the last, which chooses its size and stacking and calibrates it), with
  the fingerprint of its training data; :func:`score_term` scores a new term with it;
* ``lists/<county code>/``: that county's ``red_list.parquet``, ``white_list.parquet`` and
  ``model_card.md``, holding only that county's children (checked before writing);
* ``model_card.md`` and ``model.json`` (the figures of the card) for the prefecture.

The whole folder is written aside and swapped in at the end (:func:`analysis.runs.staged`):
a failed run leaves the last one whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from analysis.config import Config, ConfigError, ModelConfig, default_config
from analysis.engine import connect, scan
from analysis.layout import Layout
from analysis.link.tables import BaseTables, base_tables
from analysis.model.baselines import ColumnScore, GroupRate, LogisticBaseline
from analysis.model.card import model_card
from analysis.model.estimator import RiskModel
from analysis.model.features import FEATURES, GROUPS, ModelTables, feature_table, model_tables
from analysis.model.lists import TIEBREAK, county_lists
from analysis.model.responsible import coming_school
from analysis.model.train import Validation, rolling_validation
from analysis.privacy import check_one_county
from analysis.runs import fingerprint, read_manifest, staged, unchanged, write_json
from analysis.summary import CannotCompute, StageSummary

#: The subpackages whose code is part of the fingerprint (:func:`analysis.runs.code_version`):
#: the features are built on the linkage's base tables.
CODE = ("model", "link")


@dataclass(repr=False)
class ModelSummary(StageSummary):
    """The model stage's summary, with what a researcher works on next: the validation,
    the fitted model and the lists (only ``validation`` when the stage was skipped)."""

    validation: Validation | None = None
    model: RiskModel | None = None
    red: pd.DataFrame | None = None
    white: pd.DataFrame | None = None


def baselines() -> dict:
    """The baselines every run reports (see the model card), as estimators.

    >>> sorted(baselines())
    ['abc_rule', 'county_rate', 'logistic_regression', 'prior_absence', 'school_rate']
    """
    return {
        "logistic_regression": LogisticBaseline(),
        "abc_rule": ABCRule(),
        "prior_absence": ColumnScore("unx_days_last_term"),
        "school_rate": GroupRate("school_code"),
        "county_rate": GroupRate("county_code"),
    }


class ABCRule(ClassifierMixin, BaseEstimator):
    """An early-warning rule in the ABC tradition (Attendance, Behaviour, Course
    performance; Balfanz, Herzog & Mac Iver 2007): one flag each for chronic absence (10 %
    or more of last term's school days missed without excuse), behaviour (an earlier week
    of unexcused absence, or a return after dropping out) and being behind (over age for
    the grade by a year or more, or a repeated grade). The score is the number of flags.

    >>> rows = pd.DataFrame({"unx_rate_last_term": [0.2, None], "ever_week_out": [1, 0],
    ...                      "returned_ever": [0, 0], "age_for_grade": [0.0, 2.0],
    ...                      "repeated_grade": [0, 0]})
    >>> ABCRule().fit(rows, None).decision_function(rows).tolist()
    [2.0, 1.0]
    """

    def fit(self, X, y, period=None) -> ABCRule:
        self.classes_ = np.array([0, 1])
        return self

    @property
    def columns(self) -> list[str]:
        return ["unx_rate_last_term", "ever_week_out", "returned_ever", "age_for_grade",
                "repeated_grade"]  # fmt: skip

    def decision_function(self, X) -> np.ndarray:
        a = (X["unx_rate_last_term"].fillna(0) >= 0.10).astype(int)
        b = ((X["ever_week_out"] == 1) | (X["returned_ever"] == 1)).astype(int)
        c = ((X["age_for_grade"] >= 1.0) | (X["repeated_grade"] == 1)).astype(int)
        return (a + b + c).to_numpy(float)


def risk_model(cfg: ModelConfig) -> RiskModel:
    """The configuration's risk model (``model.risk_model``, seeded by ``model.seed``); an
    unknown parameter is a configuration error that names it.

    >>> from analysis.config import default_config
    >>> risk_model(default_config().model).num_leaves
    [7, 31]
    """
    known = RiskModel().get_params()
    unknown = sorted(set(cfg.risk_model) - set(known))
    if unknown:
        raise ConfigError(
            f"model.risk_model: unknown parameter(s) {', '.join(unknown)} "
            f"(RiskModel takes: {', '.join(sorted(known))})"
        )
    return RiskModel(**{**cfg.risk_model, "random_state": cfg.seed})


def capacity_of(t: BaseTables, layout: Layout, pupils: dict, share: float) -> dict:
    """Each county's list size: the number on its latest red-list ledger (红名单排查) if it
    keeps one, else ``share`` of its pupils (at least one)."""
    cap = {c: max(1, round(share * n)) for c, n in pupils.items()}
    if layout.table("redlist").exists():
        rows = t.con.execute(
            f"""WITH c AS (
                SELECT county_code AS county, term,
                       count(*) FILTER (WHERE red_list = '是') AS n
                FROM {scan(layout.table("redlist"))} GROUP BY ALL)
            SELECT county, arg_max(n, term) FROM c GROUP BY county"""
        ).fetchall()
        for county, n in rows:
            if county in cap and n:
                cap[county] = int(n)
    return cap


def _roster(t: BaseTables, layout: Layout) -> str:
    """A view of the school roster with each school's stage (小学, 初中): which schools take
    pupils moving up to grade 7."""
    stage = (
        f"(SELECT school_code, any_value(stage ORDER BY stage) AS stage FROM "
        f"{scan(layout.table('schools'))} GROUP BY school_code)"
    )
    t.con.execute(
        f"CREATE OR REPLACE TEMP VIEW roster_stage AS SELECT s.*, st.stage FROM {t.schools} s "
        f"LEFT JOIN {stage} st USING (school_code)"
    )
    return "roster_stage"


def _coming(t: BaseTables, layout: Layout, scored: pd.DataFrame) -> pd.DataFrame:
    """Every scored pupil's school of the coming term (:mod:`analysis.model.responsible`),
    found once for the lists and the schools' expected dropouts."""
    cols = ["person_id", "school_code", "grade", "grade_prev"]
    if scored.empty:
        return pd.DataFrame(columns=["person_id", "school_code", "basis", "last_school_code"])
    term = str(scored["term"].iloc[0])
    return coming_school(t.con, scored[cols], term, reg=t.reg, schools=_roster(t, layout))


def _who(t: BaseTables, coming: pd.DataFrame) -> pd.DataFrame:
    """Name, masked ID, and the coming term's school and township of the persons of
    ``coming`` (:func:`_coming`'s rows): the school that must act."""
    t.con.register("wanted", coming)
    try:
        return t.con.execute(
            f"""WITH r AS (
                SELECT person_id, name, id_number FROM {t.xj} SEMI JOIN wanted USING (person_id)
                UNION ALL
                SELECT person_id, name, id_number FROM {t.hk} SEMI JOIN wanted USING (person_id)),
            w AS (SELECT person_id, mode(name ORDER BY name) AS name,
                         mask_id(mode(id_number ORDER BY id_number)
                           FILTER (WHERE id_number IS NOT NULL)) AS id_masked
                  FROM r GROUP BY person_id)
            SELECT DISTINCT wanted.person_id, w.name, w.id_masked, s.school_name,
                   s.school_township AS township, s.county, wanted.basis AS school_basis,
                   ls.school_name AS last_school_name
            FROM wanted LEFT JOIN w USING (person_id)
            LEFT JOIN {t.schools} s ON s.school_code = wanted.school_code
            LEFT JOIN {t.schools} ls ON ls.school_code = wanted.last_school_code"""
        ).df()
    finally:
        t.con.unregister("wanted")


def input_fingerprint(layout: Layout, model: ModelConfig) -> str:
    """The link stage's fingerprint (of the clean tables and its rules) with this stage's
    settings: equal means the same output.

    >>> from analysis.config import default_config
    >>> m = default_config().model
    >>> input_fingerprint(prefecture, m) == input_fingerprint(prefecture, m)
    True
    """
    link = read_manifest(layout.link_manifest) or {}
    return fingerprint(link.get("fingerprint"), model, code=CODE)


def model(layout: Layout, config: Config | None = None, *, force: bool = False) -> ModelSummary:
    """Run the model stage on ``layout`` (see the module docstring).

    Parameters
    ----------
    layout : the data folder (clean tables, person index and list 2 in; ``processed/model/``
        out).
    config : the run's settings (``model``, ``rules``, ``engine``); default: the packaged ones.
    force : redo even if the inputs and settings are those of the last run.

    Returns
    -------
    ModelSummary
        Its manifest is ``model.json``; with the validation, the model and the lists when the
        stage ran.

    Raises
    ------
    ConfigError
        A list size given for a county the registry does not know.

    Examples
    --------
    >>> from analysis.config import default_config
    >>> small = default_config().with_("model", n_test=2, n_boot=40)
    >>> summary = model(prefecture, small)
    >>> summary.skipped, summary.manifest["listed_term"]
    (True, '2021-1')
    >>> model(prefecture, small.with_("model", capacity={"530499": 10}))
    Traceback (most recent call last):
    ...
    analysis.config.ConfigError: capacity: no county 530499 in the registry (its counties: ...)
    """
    config = config or default_config()
    if not layout.link_manifest.exists():
        raise FileNotFoundError(f"{layout.link_manifest} is missing: run `analysis link` first")
    for p in (layout.person_index, layout.checks):
        if not p.exists():
            raise FileNotFoundError(f"{p} is missing: run `analysis link` first")
    key = input_fingerprint(layout, config.model)
    prev = None if force else unchanged(layout.model_json, key, [layout.model])
    if prev is not None:
        val = Validation.load(layout.validation_dir)
        return ModelSummary(
            "model", True, prev, *_summary_tables(prev, val, layout), validation=val
        )
    with staged(layout, [layout.model], "model") as stage:
        con = connect(config.engine)
        try:
            t = base_tables(con, layout)
            _check_capacity(t, config.model)
            m = model_tables(t, layout, config.rules)
            out = _run(m, layout, stage, config.model, key)
        finally:
            con.close()
    summary, val, final, red, white = out
    tables, notes = _summary_tables(summary, val, layout)
    return ModelSummary("model", False, summary, tables, notes, val, final, red, white)


def _check_capacity(t: BaseTables, cfg: ModelConfig) -> None:
    """A list size given for a county code the registry does not know is a mistake (a
    typo would otherwise leave the real county at its default size, silently)."""
    known = {r[0] for r in t.con.execute(f"SELECT DISTINCT county_code FROM {t.reg}").fetchall()}
    unknown = sorted(set(map(str, cfg.capacity)) - known)
    if unknown:
        raise ConfigError(
            f"capacity: no county {', '.join(unknown)} in the registry "
            f"(its counties: {', '.join(sorted(k for k in known if k))})"
        )


def _check_labels(ft: pd.DataFrame, cfg: ModelConfig, layout: Layout) -> None:
    """The model needs ``n_test`` + 2 terms whose outcome (dropped out or not) is known; say
    what the records lack when they give fewer."""
    have = ft.loc[ft["dropout"].notna(), "term"].nunique() if len(ft) else 0
    need = cfg.n_test + 2
    if have >= need:
        return
    lacking = (read_manifest(layout.link_manifest) or {}).get("not_computed", {})
    why = "; ".join(f"{k}: {v}" for k, v in lacking.items()) or (
        "the registries and the attendance cover too few terms"
    )
    raise CannotCompute(
        f"the risk model needs {need} terms with known outcomes ({cfg.n_test} to test it on, "
        f"two at least to fit and calibrate; model.n_test sets the first), the records give "
        f"{have}. What the linkage lacked: {why}"
    )


def _run(m: ModelTables, layout: Layout, stage: Layout, cfg: ModelConfig, key: str):
    """Features, validation, the final model, the lists and the cards, into ``stage``."""
    ft = feature_table(m, decay=cfg.decay)
    _check_labels(ft, cfg, layout)
    stage.model.mkdir(parents=True)
    ft.to_parquet(stage.features, index=False)
    latest = ft["term"].max()
    now = ft[ft["term"] == latest]
    pupils = now["county_code"].value_counts().to_dict()
    counties = sorted(c for c in ft["county_code"].dropna().unique())
    # Counties not given a list size keep their ledger's (or the default share).
    cap = capacity_of(m.base, layout, {c: pupils.get(c, 0) for c in counties}, cfg.capacity_share)
    cap |= {str(k): int(v) for k, v in cfg.capacity.items()}
    val = rolling_validation(
        ft, features=list(FEATURES), label="dropout", time="term", model=risk_model(cfg),
        baselines=baselines(), group="county_code", capacity=cap, tiebreak=TIEBREAK,
        audit_groups=GROUPS, n_test=cfg.n_test, n_boot=cfg.n_boot, seed=cfg.seed,
    )  # fmt: skip
    val.save(stage.validation_dir)
    labelled = ft[ft["dropout"].notna()]
    final = risk_model(cfg).fit(
        labelled[list(FEATURES)], labelled["dropout"].astype(int), period=labelled["term"]
    )
    final.save(stage.model_pickle)
    scored = now.assign(risk=final.predict_proba(now)[:, 1] if len(now) else [])
    last_test = val.predictions[
        (val.predictions["model"] == val.main)
        & (val.predictions["term"] == val.predictions["term"].max())
        & val.predictions["listed"]
    ]
    coming = _coming(m.base, layout, scored)
    red, white = _lists(m.base, coming, final, scored, cap, last_test)
    _school_risk(scored, coming, red).to_parquet(stage.school_risk, index=False)
    summary = _summary(val, final, ft, cap, latest, red, white)
    summary["county_names"] = dict(
        m.base.con.execute(f"SELECT DISTINCT county_code, county FROM {m.base.schools}").fetchall()
    )
    summary["fingerprint"] = key
    write_json(stage.model_json, summary)
    stage.model_card.write_text(model_card(summary, val), encoding="utf-8")
    for county in counties:
        stage.county_lists(county).mkdir(parents=True)
        for frame, path in ((red, stage.red_list(county)), (white, stage.white_list(county))):
            mine = frame[frame["county_code"] == county]
            check_one_county(mine, county, str(path.relative_to(stage.data)))
            mine.to_parquet(path, index=False)
        stage.county_card(county).write_text(
            model_card(summary, val, county=county), encoding="utf-8"
        )
    return summary, val, final, red, white


def _lists(t: BaseTables, coming: pd.DataFrame, final: RiskModel, scored, cap, last_test):
    """The red and white lists with the name, masked ID, and the coming term's school and
    responsible unit (``school_basis`` says how that school is known; a pupil of the last
    list no longer scored has none)."""
    red, white = county_lists(final, scored, cap, last_test[["person_id", "county_code"]])
    wanted = pd.concat([red, white])[["person_id"]].drop_duplicates()
    who = _who(t, wanted.merge(coming, on="person_id", how="left"))
    cols = [
        "county_code",
        "county",
        "township",
        "school_name",
        "person_id",
        "name",
        "id_masked",
        "grade",
    ]
    red = red.merge(who, on="person_id", how="left")
    red["responsible_unit"] = red["school_name"].fillna("") + "；" + red["township"].fillna("")
    red = red[
        [*cols, "responsible_unit", "school_basis", "last_school_name", "rank_in_county", "risk",
         "reasons", "change"]
    ]  # fmt: skip
    white = white.merge(who, on="person_id", how="left")
    white = white[[*cols, "risk", "change", "reasons"]]
    return red, white


def _school_risk(scored: pd.DataFrame, coming: pd.DataFrame, red: pd.DataFrame) -> pd.DataFrame:
    """Per school of the coming term (the school each pupil attends then, see
    :mod:`analysis.model.responsible`): pupils scored, expected dropouts (the sum of their
    risks, pupils a term) and red-listed pupils. What an inspection plan ranks schools by;
    counts only, no child."""
    cols = ["county_code", "school_code", "pupils", "expected_dropouts", "red_listed"]
    if scored.empty:
        return pd.DataFrame(columns=cols)
    frame = scored[["person_id", "county_code", "risk"]].assign(
        school_code=coming["school_code"].to_numpy(),
        red=scored["person_id"].isin(red["person_id"]).to_numpy(),
    )
    return (
        frame.groupby(["county_code", "school_code"], as_index=False)
        .agg(
            pupils=("person_id", "size"),
            expected_dropouts=("risk", "sum"),
            red_listed=("red", "sum"),
        )
        .sort_values(["county_code", "school_code"], ignore_index=True)[cols]
    )


def _records(df: pd.DataFrame) -> list[dict]:
    """Rows as dicts with missing values as None (JSON null, not the invalid NaN)."""
    return df.astype(object).where(df.notna(), None).to_dict(orient="records")


def _summary(
    val: Validation, final: RiskModel, ft: pd.DataFrame, cap: dict, latest: str, red, white
) -> dict:
    """``model.json``: the figures the cards and the command line read."""
    m = val.metrics
    by_term = ft.groupby("term").agg(
        pupils=("person_id", "size"), dropouts=("dropout", "sum"), labelled=("dropout", "count")
    )
    labelled = ft[ft["dropout"].notna()]
    return {
        "terms": {
            t: {"pupils": int(r.pupils), "dropouts": int(r.dropouts)} for t, r in by_term.iterrows()
        },
        "labelled_terms": sorted(labelled["term"].unique().tolist()),
        "listed_term": latest,
        "test_terms": sorted(m["term"].unique().tolist()),
        "last_test_term": m["term"].max(),
        "metrics": _records(m),
        "bias": _records(val.bias),
        "calibration": _records(val.calibration),
        "capacity": cap,
        "model": {
            "trained_on": [str(t) for t in final.trained_on_],
            "calibrated_on": [str(t) for t in final.calibrated_on_],
            "fingerprint": final.fingerprint_,
            "features": list(final.feature_names_in_),
            "params": final.get_params(),
            "num_leaves": final.num_leaves_,
            "rounds": final.n_rounds_,
            "candidates": _records(final.candidates_),
            "weights": final.weights_.tolist(),
            "intercept": final.intercept_,
            "negative_share": final.negative_share_,
            "negatives": _negatives_zh(final),
        },
        "lists": {c: _list_counts(c, red, white) for c in sorted(cap)},
    }


def _negatives_zh(m: RiskModel) -> str:
    """What the fit did with the negatives, for the card.

    >>> class M: negative_share_, prevalence_ = 0.097, 0.003
    >>> _negatives_zh(M())
    '未辍学者按9.7%抽样后加权还原（辍学占拟合样本的0.30%，低于3%）'
    """
    if m.negative_share_ >= 1:
        return f"全部样本参与拟合（辍学占{m.prevalence_:.2%}）"
    return (
        f"未辍学者按{m.negative_share_:.1%}抽样后加权还原"
        f"（辍学占拟合样本的{m.prevalence_:.2%}，低于3%）"
    )


def _list_counts(c: str, red: pd.DataFrame, white: pd.DataFrame) -> dict:
    r, w = red[red["county_code"] == c], white[white["county_code"] == c]
    return {
        "red": len(r),
        "new": int((r["change"] == "新进").sum()),
        "stayed": int((r["change"] == "保留").sum()),
        "left": int((w["change"] == "移出红名单").sum()),
        "white": len(w),
    }


def _summary_tables(summary: dict, val: Validation, layout: Layout):
    """The stage's summary: the last test term's metrics and each county's lists."""
    last = summary["last_test_term"]
    ece = val.metrics[
        (val.metrics["term"] == last) & (val.metrics["model"] == val.main)
        & (val.metrics["metric"] == "ece")
    ]  # fmt: skip
    lists = pd.DataFrame(
        [
            {"county": c, "capacity": summary["capacity"].get(c, ""), **v}
            for c, v in summary["lists"].items()
        ]
    )
    tables = {
        f"Dropout risk: held-out term {last} (trained on earlier terms only)": val.summary(last),
        f"Red and white lists for {summary['listed_term']}": lists,
    }
    notes = [
        "95 % bootstrap intervals; AUC gain: the risk model's ROC-AUC minus the other's, paired "
        "on the same replicates (above 0 throughout = the risk model is better); lists cut at each "
        "county's capacity"
        + (f"; expected calibration error {ece['estimate'].iloc[0]:.4f}" if len(ece) else "")
        + f". Model card: {layout.model_card}",
        f"Model, validation, lists and model cards in {layout.model} "
        "(lists/<county>/ holds one county's children only).",
    ]
    return tables, notes


def score_term(model_path: Path, features: pd.DataFrame) -> pd.DataFrame:
    """Score a feature table (as :func:`analysis.model.features.features_as_of` makes) with a
    saved model, without retraining: the table with ``risk`` added.

    >>> ft = pd.read_parquet(prefecture.features)
    >>> scored = score_term(prefecture.model_pickle, ft.head(3))
    >>> bool(scored["risk"].between(0, 1).all())
    True
    """
    model = RiskModel.load(model_path)
    missing = [f for f in model.feature_names_in_ if f not in features.columns]
    if missing:
        raise ValueError(f"the feature table lacks the model's features: {missing}")
    return features.assign(risk=model.predict_proba(features)[:, 1])
