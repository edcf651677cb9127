"""The ground truth of a synthetic prefecture, written to ``data/truth/``.

Only ``analysis validate`` and the tests read it; no pipeline stage may.

Tables (parquet):

* ``persons``: every real child and parent, with every true attribute (IDs, names, the name
  used at school, household, residence and migration, disability, poverty, entry year,
  repeats, never-enrolled, learning difficulty).
* ``households``: poverty registration and lifting years, low-income support, latent factor.
* ``rows``: for every data row of every raw file: the person it describes (or none), the
  record key (term, month, date), and what kind of row it is (record, exact duplicate, stale
  listing after a transfer).
* ``corruptions``: every value changed by the mess: file, sheet, row, column, kind, clean
  value, raw value.
* ``files``: per raw file its format, encoding, title rows, merged header, date format.
* ``status``: each child's true status in every term (in school, home teaching, suspended,
  out after dropping out, moved away, never enrolled, not yet at school, graduated, lost).
* ``student_terms``: for students in the registry: county, school, grade, the true
  probability of dropping out within the term (and without treatment), the outcome, the
  treatments received, the recorded screening score, and the potential outcomes (mentored
  or not, without each county policy) drawn with the same uniform.
* ``cases``: persuasion cases with the true dates, their county, and whether calibration
  forced the return (``return_forced``, with the date the hazard had drawn).
* ``effects``: true effects per county and intervention, with realised effects on the treated.
* ``estimands``: the true value of each effect design's estimand, realised and expected
  (:mod:`analysis.synth.estimands`); ``mentoring_ledger``: the screening ledgers' pupils
  with the running variable and potential outcomes; ``policy_panels``: each county
  policy's school panel with the rates with and without it.
* ``indicators``, ``consolidation``: the true indicators per county and year.
* ``summary.json``: calibration against the seed, the AUC of the true probabilities, the
  realised mess rates.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sklearn.metrics import roc_auc_score

from analysis.layout import Layout
from analysis.synth.estimands import true_estimands
from analysis.synth.params import SEED_TARGETS
from analysis.synth.world import World, summary_figures


def _write(df: pd.DataFrame, path: Path) -> None:
    df.to_parquet(path, index=False, compression="zstd")


def status_table(world: World) -> pd.DataFrame:
    """Every child's true status in every term."""
    c = world.pop.children
    st = world.school.student_terms
    terms = world.school.terms
    n = len(c)
    grad = world.school.graduated_year
    frames = []
    E = c["entry_year"].to_numpy()
    R = c["repeats"].to_numpy()
    for k, t in enumerate(terms):
        s = np.full(n, "", dtype=object)
        s[:] = "not_yet_in_school"
        cg = t.year - E - R + 1
        s[(cg >= 10)] = "lost_or_left"
        s[(grad > 0) & (grad <= t.year)] = "graduated"
        s[c["never_enrolled"].to_numpy()] = "never_enrolled"
        mo = c["move_out_year"].to_numpy()
        s[(mo > 0) & (mo < t.year + (t.half == 2))] = "moved_away"
        s[c["living_outside"].to_numpy()] = "living_outside"
        ar = c["arrive_year"].to_numpy()
        s[(ar > 0) & (ar > t.year)] = "not_yet_arrived"
        sub = st[st["k"] == k]
        s[sub["child"].to_numpy()] = sub["status"].to_numpy()
        frames.append(
            pd.DataFrame({"person_id": c["person_id"].to_numpy(), "term": t.label, "status": s})
        )
    return pd.concat(frames, ignore_index=True)


def realised_effects(world: World) -> pd.DataFrame:
    """True effects per county: the risk ratio drawn, and on the treated student-terms the
    realised average effect in percentage points (probability without minus with)."""
    st = world.school.student_terms
    sch = world.geo.schools
    st = st.assign(county_code=sch["county_code"].to_numpy()[st["school"].to_numpy()])
    eff = world.school.effects.copy()
    rows = []
    for inter, column in (
        ("mentoring", "mentored"),
        ("video_check", "video_check"),
        ("boarding_subsidy", "boarding_subsidy"),
    ):
        treated = st[st[column] & st["at_risk"]]
        for code, g in treated.groupby("county_code"):
            # The untreated probability lacks only the other treatments' factors too; isolate
            # this one: p_without_this = p_true / rr_this.
            rr = eff[(eff["county_code"] == code) & (eff["intervention"] == inter)]["value"].iloc[0]
            p_without = g["p_true"] / rr
            rows.append(
                {
                    "county_code": code,
                    "intervention": inter,
                    "parameter": "att_pp_per_term",
                    "value": float(100 * (p_without - g["p_true"]).mean()),
                    "n_treated": len(g),
                }
            )
    out = pd.concat([eff.assign(n_treated=np.nan), pd.DataFrame(rows)], ignore_index=True)
    return out


def mess_rates(
    files: pd.DataFrame, n_rows: int, row_kinds: dict[str, int], corr_kinds: dict[str, int]
) -> pd.DataFrame:
    """Realised count of each kind of mess, per 1,000 raw rows."""
    out = [
        {"kind": k, "count": int(v), "per_1000_rows": round(1000 * v / n_rows, 4)}
        for k, v in sorted(corr_kinds.items())
    ]
    for kind, name in (
        ("exact_duplicate", "exact_duplicate_row"),
        ("transfer_stale", "transfer_stale_row"),
    ):
        v = row_kinds.get(kind, 0)
        out.append({"kind": name, "count": int(v), "per_1000_rows": round(1000 * v / n_rows, 4)})
    for enc, g in files[files["format"] == "csv"].groupby("encoding"):
        out.append({"kind": f"csv_encoding_{enc}", "count": len(g), "per_1000_rows": np.nan})
    out.append(
        {
            "kind": "xlsx_files",
            "count": int((files["format"] == "xlsx").sum()),
            "per_1000_rows": np.nan,
        }
    )
    out.append(
        {
            "kind": "xlsx_merged_header_files",
            "count": int(files["merged_header"].sum()),
            "per_1000_rows": np.nan,
        }
    )
    return pd.DataFrame(out)


def _concat_parts(
    parts: Path, what: str, dest: Path, count_column: str
) -> tuple[int, dict[str, int]]:
    """Stream the builders' parts into one parquet file (in builder order) without holding
    them all in memory; return the row count and the counts of ``count_column``."""
    n = 0
    counts: dict[str, int] = {}
    writer = None
    schema = None
    for p in sorted(parts.glob(f"*_{what}.parquet")):
        table = pq.read_table(p).replace_schema_metadata(None)
        if table.num_rows == 0:
            continue
        if writer is None:
            schema = table.schema
            writer = pq.ParquetWriter(dest, schema, compression="zstd")
        writer.write_table(table.cast(schema))
        n += table.num_rows
        for item in pc.value_counts(table[count_column]).to_pylist():
            counts[item["values"]] = counts.get(item["values"], 0) + item["counts"]
    if writer is not None:
        writer.close()
    return n, counts


def write_truth(world: World, file_list: list[dict], parts: Path, layout: Layout) -> dict:
    """Write every truth table to ``layout.truth``; return the summary that is also saved
    as JSON.

    ``file_list`` and ``parts`` come from :func:`analysis.synth.extracts.write_all`.
    """
    layout.truth.mkdir(parents=True, exist_ok=True)
    out = layout.truth_table
    c = world.pop.children.copy()
    p = world.pop.parents.copy()
    sch = world.geo.schools
    c["kind"] = "child"
    p["kind"] = "parent"
    persons = pd.concat([c, p], ignore_index=True)
    _write(persons, out("persons"))
    _write(world.pop.households, out("households"))
    n_rows, row_kinds = _concat_parts(parts, "rows", out("rows"), "row_kind")
    n_corr, corr_kinds = _concat_parts(parts, "corruptions", out("corruptions"), "kind")
    files = pd.DataFrame(file_list).drop(columns="builder")
    _write(files, out("files"))
    _write(status_table(world), out("status"))
    st = world.school.student_terms.copy()
    label = {k: t.label for k, t in enumerate(world.school.terms)}
    st.insert(0, "person_id", c["person_id"].to_numpy()[st["child"].to_numpy()])
    st.insert(1, "term", st["k"].map(label))
    st["school_code"] = sch["school_code"].to_numpy()[st["school"].to_numpy()]
    st["prev_school_code"] = np.where(
        st["prev_school"] >= 0, sch["school_code"].to_numpy()[np.maximum(st["prev_school"], 0)], ""
    )
    st["county_code"] = st["county_code"].astype(str)
    _write(st.drop(columns=["child", "school", "prev_school"]), out("student_terms"))
    cases = world.school.cases.copy()
    cases.insert(0, "person_id", c["person_id"].to_numpy()[cases["child"].to_numpy()])
    cases["school_code"] = sch["school_code"].to_numpy()[cases["school"].to_numpy()]
    cases["county_code"] = cases["county_code"].astype(str)
    _write(cases.drop(columns=["child", "school"]), out("cases"))
    _write(realised_effects(world), out("effects"))
    estimands, ledger, panels = true_estimands(world)
    _write(estimands, out("estimands"))
    if len(ledger):
        ledger.insert(0, "person_id", c["person_id"].to_numpy()[ledger["child"].to_numpy()])
        ledger["county_code"] = ledger["county_code"].astype(str)
        _write(ledger.drop(columns=["child", "school"]), out("mentoring_ledger"))
    _write(panels.astype({"county_code": str}), out("policy_panels"))
    _write(world.school.policies, out("policies"))
    _write(world.indicators, out("indicators"))
    _write(world.consolidation, out("consolidation"))
    mr = mess_rates(files, n_rows, row_kinds, corr_kinds)
    _write(mr, out("mess_rates"))

    r = st[st["at_risk"]]
    auc_by_term = {
        t: float(roc_auc_score(g["dropped"], g["p_true"]))
        for t, g in r.groupby("term")
        if g["dropped"].any()
    }
    figures = summary_figures(world)
    summary = {
        "scale": world.params.scale,
        "seed": world.params.seed,
        "dialect": world.params.dialect,
        "fraction": world.params.fraction,
        "figures": figures,
        "targets": {
            k: (v * world.params.fraction if k.endswith(("students", "returns_2019")) else v)
            for k, v in SEED_TARGETS.items()
        },
        "auc_true_probability": {
            "pooled": float(roc_auc_score(r["dropped"], r["p_true"])),
            "by_term": auc_by_term,
            "last_term": auc_by_term[max(auc_by_term)],
        },
        "counts": {
            "children": len(c),
            "parents": len(p),
            "households": len(world.pop.households),
            "raw_files": len(files),
            "raw_rows": int(n_rows),
            "corrupted_values": int(n_corr),
            "dropouts": int(r["dropped"].sum()),
            "persuasion_cases": len(cases),
            "returns_forced_by_calibration": int(cases["return_forced"].sum()),
        },
        "mess": {row["kind"]: row["count"] for row in mr.to_dict("records")},
    }
    layout.truth_summary.write_text(
        json.dumps(summary, ensure_ascii=False, indent=2, default=float), encoding="utf-8"
    )
    return summary
