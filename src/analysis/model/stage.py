"""``analysis model``: features, temporal validation, the fitted model, red and white lists
and the model card, from ``data/interim/`` and ``data/processed/`` to
``data/processed/model/``:

* ``features.parquet``: the feature table of every term (one row per pupil and term);
* ``validation/``: ``metrics.parquet`` (every test term, model and metric with its
  bootstrap interval, and the boosting model's paired difference from it),
  ``calibration.parquet``, ``bias.parquet``, ``predictions.parquet``;
* ``model.pkl``: the final model (fit on every labelled term, recalibrated on the last),
  with the fingerprint of its training data; :func:`score_term` scores a new term with it;
* ``lists/<county code>/``: that county's ``red_list.parquet``, ``white_list.parquet`` and
  ``model_card.md``, holding only that county's children;
* ``model_card.md`` and ``model.json`` (the figures of the card) for the prefecture.

The whole folder is written to a temporary one and swapped in at the end: a failed run
leaves the last one whole.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.link.checks import _mask_sql, load_base_tables
from analysis.link.linker import connect
from analysis.model.card import model_card
from analysis.model.features import FEATURES, GROUPS, feature_table, load_model_tables
from analysis.model.lists import county_lists
from analysis.model.train import RiskModel, Validation, column, fit, group_rate, rolling_validation

#: The mentoring capacity of a county without a red-list ledger: this share of its pupils.
DEFAULT_CAPACITY_SHARE = 0.006


@dataclass
class ModelResult:
    """What a run of the stage made (``skipped``: nothing, the last run's output stands;
    then only ``folder`` and ``summary`` are set)."""

    folder: Path
    summary: dict
    skipped: bool = False
    validation: Validation | None = None
    model: RiskModel | None = None
    red: pd.DataFrame | None = None
    white: pd.DataFrame | None = None


def _input_fingerprint(data_dir: Path, settings: str) -> str:
    """The link stage's fingerprint (of the clean tables and its rules) with this stage's
    settings and the package version: equal means the same output."""
    from analysis import __version__

    manifest = data_dir / "processed" / "link_manifest.json"
    link = json.loads(manifest.read_text(encoding="utf-8")).get("fingerprint", "")
    return hashlib.sha1(f"{link}|{settings}|{__version__}".encode()).hexdigest()


def baselines() -> dict:
    """The baselines every run reports, besides logistic regression (see the model card)."""
    return {
        "abc_rule": (_abc_rule, False),
        "prior_absence": column("unx_days_last_term"),
        "school_rate": group_rate("school_code", "dropout"),
        "county_rate": group_rate("county_code", "dropout"),
    }


def _abc_rule(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    """An early-warning rule in the ABC tradition (Attendance, Behaviour, Course
    performance; Balfanz, Herzog & Mac Iver 2007): one flag each for chronic absence (10 %
    or more of last term's school days missed without excuse), behaviour (an earlier week
    of unexcused absence, or a return after dropping out) and being behind (over age for
    the grade by a year or more, or a repeated grade). The score is the number of flags."""
    a = (test["unx_rate_last_term"].fillna(0) >= 0.10).astype(int)
    b = ((test["ever_week_out"] == 1) | (test["returned_ever"] == 1)).astype(int)
    c = ((test["age_for_grade"] >= 1.0) | (test["repeated_grade"] == 1)).astype(int)
    return (a + b + c).to_numpy(float)


def capacity_of(con, counties: list[str], pupils: dict) -> dict:
    """Each county's list size: the number on its latest red-list ledger (红名单排查) if it
    keeps one, else :data:`DEFAULT_CAPACITY_SHARE` of its pupils."""
    cap = {c: max(1, round(DEFAULT_CAPACITY_SHARE * pupils.get(c, 0))) for c in counties}
    has_ledger = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'redlist'"
    ).fetchall()[0][0]
    rows = []
    if has_ledger:
        rows = con.execute(
            """WITH c AS (
                SELECT regexp_extract(source_file, '(^|/)(\\d{6})_', 2) AS county, term,
                       count(*) FILTER (WHERE red_list = '是') AS n
                FROM redlist GROUP BY ALL)
            SELECT county, arg_max(n, term) FROM c GROUP BY county"""
        ).fetchall()
    for county, n in rows:
        if county in cap and n:
            cap[county] = int(n)
    return cap


def _load(con, data_dir: Path) -> None:
    interim, processed = data_dir / "interim", data_dir / "processed"
    index = processed / "person_index.parquet"
    for p in (index, processed / "checks"):
        if not p.exists():
            raise FileNotFoundError(f"{p} is missing: run `analysis link` first")
    load_base_tables(con, interim, index)
    load_model_tables(con, interim, index, processed / "checks")
    if (interim / "redlist.parquet").exists():
        con.execute(
            f"CREATE OR REPLACE TABLE redlist AS SELECT * FROM "
            f"read_parquet('{interim / 'redlist.parquet'}/*.parquet')"
        )


def _who(con, persons: pd.DataFrame) -> pd.DataFrame:
    """Name, sex, masked ID, township and school name of ``persons`` (for the lists)."""
    con.register("wanted", persons[["person_id", "school_code"]])
    masked = _mask_sql("mode(id_number ORDER BY id_number) FILTER (WHERE id_number IS NOT NULL)")
    out = con.execute(
        f"""WITH r AS (
            SELECT person_id, name, id_number FROM xj SEMI JOIN wanted USING (person_id)
            UNION ALL
            SELECT person_id, name, id_number FROM hk SEMI JOIN wanted USING (person_id)),
        w AS (SELECT person_id, mode(name ORDER BY name) AS name, {masked} AS id_masked
              FROM r GROUP BY person_id)
        SELECT DISTINCT wanted.person_id, w.name, w.id_masked, s.school_name,
               s.school_township AS township, s.county
        FROM wanted LEFT JOIN w USING (person_id)
        LEFT JOIN schools s ON s.school_code = wanted.school_code"""
    ).df()
    con.unregister("wanted")
    return out


def model(
    data_dir: Path,
    capacity: dict | None = None,
    n_test: int = 4,
    n_boot: int = 500,
    seed: int = 0,
    force: bool = True,
) -> ModelResult:
    """Run the model stage on ``data_dir`` (see the module docstring). With ``force``
    false, a run whose inputs and settings are those of the last run does nothing."""
    data_dir = Path(data_dir)
    out = data_dir / "processed" / "model"
    if not (data_dir / "processed" / "link_manifest.json").exists():
        raise FileNotFoundError(
            f"{data_dir / 'processed' / 'link_manifest.json'} is missing: run `analysis link` first"
        )
    key = _input_fingerprint(
        data_dir, f"{sorted((capacity or {}).items())}|{n_test}|{n_boot}|{seed}"
    )
    if not force and (out / "model.json").exists():
        last = json.loads((out / "model.json").read_text(encoding="utf-8"))
        if last.get("input_fingerprint") == key:
            return ModelResult(out, last, skipped=True)
    tmp = out.with_name("model.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "validation").mkdir(parents=True)
    con = connect("8GB")
    try:
        _load(con, data_dir)
        ft = feature_table(con)
        ft.to_parquet(tmp / "features.parquet", index=False)
        features = list(FEATURES)
        latest = ft["term"].max()
        now = ft[ft["term"] == latest]
        pupils = now["county_code"].value_counts().to_dict()
        counties = sorted(c for c in ft["county_code"].dropna().unique())
        # Counties not given a list size keep their ledger's (or the default share).
        cap = capacity_of(con, counties, pupils) | dict(capacity or {})
        val = rolling_validation(
            ft,
            features,
            "dropout",
            "term",
            "county_code",
            cap,
            "person_id",
            baselines=baselines(),
            audit_groups=GROUPS,
            n_test=n_test,
            n_boot=n_boot,
            seed=seed,
        )
        for name in ("metrics", "calibration", "bias", "predictions"):
            getattr(val, name).to_parquet(tmp / "validation" / f"{name}.parquet", index=False)
        final = fit(ft, features, "dropout", "term", seed=seed)
        final.save(tmp / "model.pkl")
        scored = now.assign(risk=final.predict(now)) if len(now) else now.assign(risk=[])
        last_test = val.predictions[
            (val.predictions["model"] == val.main)
            & (val.predictions["term"] == val.predictions["term"].max())
            & val.predictions["listed"]
        ]
        red, white = county_lists(final, scored, cap, last_test[["person_id", "county_code"]])
        who = _who(con, pd.concat([red, white])[["person_id", "school_code"]].drop_duplicates())
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
        red = red[[*cols, "responsible_unit", "rank_in_county", "risk", "reasons", "change"]]
        white = white.merge(who, on="person_id", how="left")
        white = white[[*cols, "risk", "change", "reasons"]]
        summary = _summary(val, final, ft, cap, latest, red, white)
        summary["county_names"] = dict(
            con.execute("SELECT DISTINCT county_code, county FROM schools").fetchall()
        )
        summary["input_fingerprint"] = key
        (tmp / "model.json").write_text(
            json.dumps(summary, ensure_ascii=False, indent=1, default=_plain), encoding="utf-8"
        )
        (tmp / "model_card.md").write_text(model_card(summary, val), encoding="utf-8")
        for county in counties:
            d = tmp / "lists" / county
            d.mkdir(parents=True)
            red[red["county_code"] == county].to_parquet(d / "red_list.parquet", index=False)
            white[white["county_code"] == county].to_parquet(d / "white_list.parquet", index=False)
            (d / "model_card.md").write_text(
                model_card(summary, val, county=county), encoding="utf-8"
            )
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        con.close()
    old = out.with_name("model.old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)
    return ModelResult(out, summary, False, val, final, red, white)


def _records(df: pd.DataFrame) -> list[dict]:
    """Rows as dicts with missing values as None (JSON null, not the invalid NaN)."""
    return df.astype(object).where(df.notna(), None).to_dict(orient="records")


def _plain(v):
    if isinstance(v, (np.generic,)):
        return v.item()
    if isinstance(v, (pd.Timestamp,)):
        return v.isoformat()
    return str(v)


def _summary(
    val: Validation, final: RiskModel, ft: pd.DataFrame, cap: dict, latest: str, red, white
) -> dict:
    m = val.metrics
    last = m["term"].max()
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
        "last_test_term": last,
        "metrics": _records(m),
        "bias": _records(val.bias),
        "calibration": _records(val.calibration),
        "capacity": cap,
        "model": {
            "trained_on": final.trained_on,
            "calibrated_on": final.calibrated_on,
            "fingerprint": final.fingerprint,
            "features": final.features,
            "params": final.params,
            "slope": final.slope,
            "intercept": final.intercept,
        },
        "lists": {
            c: {
                "red": int((red["county_code"] == c).sum()),
                "new": int(((red["county_code"] == c) & (red["change"] == "新进")).sum()),
                "stayed": int(((red["county_code"] == c) & (red["change"] == "保留")).sum()),
                "left": int(
                    ((white["county_code"] == c) & (white["change"] == "移出红名单")).sum()
                ),
                "white": int((white["county_code"] == c).sum()),
            }
            for c in sorted(cap)
        },
    }


def score_term(model_path: Path, features: pd.DataFrame) -> pd.DataFrame:
    """Score a feature table (as :func:`analysis.model.features.features_as_of` makes)
    with a saved model, without retraining: the table with ``risk`` added."""
    model = RiskModel.load(model_path)
    missing = [f for f in model.features if f not in features.columns]
    if missing:
        raise ValueError(f"the feature table lacks the model's features: {missing}")
    return features.assign(risk=model.predict(features))
