"""``analysis effects``: which measures bring children back and keep them in school, per
county, from ``interim/`` and ``processed/`` to ``processed/effects/``:

* ``estimates.parquet``: every estimate, one row each (design, intervention, county or
  ``all``, estimand, estimate, standard error, interval and its kind, n, verdict);
* ``counties.parquet``: per design and county, the raw and the partially pooled estimate
  and the verdict (有效 / 有害 / 无明显效果 / 数据不足以判断);
* ``attgt.parquet`` (each policy's group-time effects and aggregations),
  ``did_counties.parquet``, ``policy_panels.parquet``;
* ``rd.parquet`` (the RD fits with the bandwidth sensitivity), ``overlap.parquet``,
  ``checks.parquet`` (every design's assumptions and what the data said of each);
* ``funnel.parquet``, ``km.parquet`` (time to return per county), ``km_curves.parquet``,
  ``redropout.parquet``, ``cox.parquet``;
* ``targeting.parquet`` (risk list and benefit list of the last labelled term) and
  ``capacity.parquet`` (dropouts one more mentor would prevent per county);
* ``figures/``: forest plots, event studies, time-to-return curves, the RD plot;
* ``effects.json``: the manifest.

The whole folder is written aside and swapped in at the end: a failed run leaves the last
one whole. The stage reads the pipeline's tables only, never the truth.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from analysis.config import Config, EffectsConfig, default_config
from analysis.effects import designs
from analysis.effects.designs import ALL
from analysis.effects.inputs import EffectInputs, load_inputs
from analysis.effects.pooling import partial_pool
from analysis.effects.results import CANNOT_TELL, verdict
from analysis.effects.targeting import benefit_lists, capacity_whatif, relative_effects
from analysis.engine import connect
from analysis.layout import Layout
from analysis.runs import fingerprint, read_manifest, staged, unchanged, write_json
from analysis.summary import StageSummary

#: The subpackages whose code is part of the fingerprint: the inputs are the model's.
CODE = ("effects",)
#: Per design, the interval kind of its per-county rows that is pooled and judged.
PRIMARY = {
    "did": "shock-adjusted",
    "rd": "robust bias-corrected",
    "aipw": "influence function",
    "re-dropout": "influence function",
    "cox": "Cox, Wald on log scale",
}


def input_fingerprint(layout: Layout, cfg: EffectsConfig) -> str:
    """The model stage's fingerprint (which holds the link's and the clean's) with this
    stage's settings."""
    prev = read_manifest(layout.model_json) or {}
    return fingerprint(prev.get("fingerprint"), cfg, code=CODE)


def effects(layout: Layout, config: Config | None = None, *, force: bool = False) -> StageSummary:
    """Run the effects stage on ``layout`` (see the module docstring).

    Examples
    --------
    >>> summary = effects(prefecture)
    >>> sorted(summary.manifest["designs"])
    ['aipw', 'cox', 'did', 'placebo', 'rd', 're-dropout']
    >>> effects(prefecture).skipped
    True
    """
    config = config or default_config()
    cfg = config.effects
    for p in (layout.model_json, layout.features, layout.person_index):
        if not p.exists():
            raise FileNotFoundError(f"{p} is missing: run `analysis model` first")
    key = input_fingerprint(layout, cfg)
    prev = None if force else unchanged(layout.effects_json, key, [layout.effects])
    if prev is not None:
        return StageSummary("effects", True, prev, *_summary_tables(layout, prev))
    t0 = time.perf_counter()
    with staged(layout, [layout.effects], "effects") as stage:
        con = connect(config.engine)
        try:
            inp = load_inputs(con, layout, cfg.policy_names)
        finally:
            con.close()
        manifest = _run(inp, layout, stage, cfg, key)
        manifest["seconds"] = round(time.perf_counter() - t0, 1)
        write_json(stage.effects_json, manifest)
    return StageSummary("effects", False, manifest, *_summary_tables(layout, manifest))


def estimate_all(inp: EffectInputs, cfg: EffectsConfig) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Every design on ``inp``: the estimates (with verdicts), the counties' pooled
    estimates, and each design's detail (``did``, ``placebo``, ``mentoring``,
    ``persuasion``)."""
    rows_did, did = designs.policies(inp, cfg.ri_draws, cfg.seed)
    rows_pl, pl = designs.placebo(inp, cfg.ri_draws, cfg.seed)
    rows_m, men = designs.mentoring(inp, cfg.min_arm_events)
    rows_p, per = designs.persuasion(inp, cfg.censor_returns_from)
    est = designs.as_frame(rows_did + rows_pl + rows_m + rows_p)
    est["verdict"] = [_verdict(r, cfg) for r in est.itertuples()]
    counties = pool_counties(est, cfg)
    return est, counties, {"did": did, "placebo": pl, "mentoring": men, "persuasion": per}


def _run(inp: EffectInputs, layout: Layout, stage: Layout, cfg: EffectsConfig, key: str) -> dict:
    stage.effects.mkdir(parents=True, exist_ok=True)
    est, counties, detail = estimate_all(inp, cfg)
    did, pl, men, per = (detail[k] for k in ("did", "placebo", "mentoring", "persuasion"))
    write = lambda df, name: df.to_parquet(stage.effects_table(name), index=False)  # noqa: E731
    write(est, "estimates")
    write(counties, "counties")
    _write_details(write, did, pl, men, per)
    targeting = _targeting(inp, layout, est, counties, cfg)
    for name, frame in targeting.items():
        write(frame, name)
    from analysis.effects.figures import draw_all

    figures = draw_all(stage, est, counties, did, men, per, inp.counties)
    return {
        "fingerprint": key,
        "designs": sorted(est["design"].unique()),
        "estimates": len(est),
        "figures": figures,
        "notes": inp.notes,
        "counties": sorted(inp.counties),
        "county_names": inp.counties,
    }


def _verdict(r, cfg: EffectsConfig) -> str:
    if pd.isna(r.ci_low) or pd.isna(r.ci_high):
        return CANNOT_TELL
    if r.design == "cox":  # a hazard ratio above 1 helps (faster return)
        return verdict(np.log(r.ci_low), np.log(r.ci_high), cfg.smallest_log_hr, helpful_sign=1)
    return verdict(r.ci_low, r.ci_high, cfg.smallest_effect_pp)


def pool_counties(est: pd.DataFrame, cfg: EffectsConfig) -> pd.DataFrame:
    """Per design, intervention and estimand: each county's raw estimate beside its
    partially pooled one (persuasion steps on the log hazard-ratio scale), and the verdict
    of the pooled interval; counties without an estimate say why."""
    out = []
    per = est[est["county_code"] != ALL]
    for (design, inter, estimand), g in per.groupby(["design", "intervention", "estimand"]):
        kind = PRIMARY.get(design)
        have = g[(g["interval"] == kind) & g["se"].notna()].copy()
        missing = g[g["estimate"].isna()]
        if len(have) >= 2:
            cox = design == "cox"
            have["y"] = np.log(have["estimate"]) if cox else have["estimate"]
            small = cfg.smallest_log_hr if cox else cfg.smallest_effect_pp
            r = partial_pool(have, "y", "se", "county_code", smallest_effect=small,
                             helpful_sign=1 if cox else -1)  # fmt: skip
            t = r.table.merge(have[["county_code", "n", "note"]], on="county_code")
            if cox:
                for c in ("estimate", "ci_low", "ci_high", "pooled", "pooled_low", "pooled_high"):
                    t[c] = np.exp(t[c])
            t["tau"] = r.extra["tau"]
            out.append(t.assign(design=design, intervention=inter, estimand=estimand))
        for m in missing.itertuples():
            out.append(pd.DataFrame([{"design": design, "intervention": inter, "estimand": estimand,
                                      "county_code": m.county_code, "n": m.n, "note": m.note,
                                      "verdict": CANNOT_TELL}]))  # fmt: skip
    if not out:
        return pd.DataFrame()
    cols = ["design", "intervention", "estimand", "county_code", "estimate", "se", "ci_low",
            "ci_high", "pooled", "pooled_se", "pooled_low", "pooled_high", "shrinkage", "tau",
            "verdict", "n", "note"]  # fmt: skip
    frame = pd.concat(out, ignore_index=True)
    return frame.reindex(columns=cols)


def _write_details(write, did: dict, pl: dict, men: dict, per: dict) -> None:
    att, dc, panels = [], [], []
    for policy, d in did.items():
        att.append(d["result"].tidy().assign(intervention=policy))
        dc.append(d["county"].assign(intervention=policy))
        panels.append(d["panel"].assign(intervention=policy))
    if pl:
        att.append(pl["result"].tidy().assign(intervention="inspection"))
    for name, frames in (("attgt", att), ("did_counties", dc), ("policy_panels", panels)):
        if frames:
            write(pd.concat(frames, ignore_index=True), name)
    rd, ov = [], []
    for county, fits in men["fits"].items():
        if "rd" in fits:
            rd.append(fits["rd"].tidy().assign(county_code=county))
        for k, a in fits.items():
            if k != "rd":
                ov.append(a.tidy().assign(county_code=county, analysis=k))
    write(_checks(did, pl, men), "checks")
    if rd:
        write(pd.concat(rd, ignore_index=True), "rd")
    if ov:
        write(pd.concat(ov, ignore_index=True), "overlap")
    for name in ("funnel", "redropout", "km", "curves"):
        if name in per:
            write(per[name], "km_curves" if name == "curves" else name)


def _checks(did: dict, pl: dict, men: dict) -> pd.DataFrame:
    """Every fitted design's assumptions and what the data said of each, and its notes."""
    rows = []

    def add(design, intervention, county, r):
        rows.extend({"design": design, "intervention": intervention, "county_code": county,
                     "check": k, "result": v} for k, v in r.checks.items())  # fmt: skip
        rows.extend({"design": design, "intervention": intervention, "county_code": county,
                     "check": "note", "result": n} for n in r.notes)  # fmt: skip

    for policy, d in did.items():
        add("did", policy, ALL, d["result"])
    if pl:
        add("placebo", "inspection", ALL, pl["result"])
    for county, fits in men["fits"].items():
        for name, r in fits.items():
            add(name.split("_")[0], "mentoring", county, r)
    return pd.DataFrame(rows, columns=["design", "intervention", "county_code", "check", "result"])


def _targeting(
    inp: EffectInputs, layout: Layout, est: pd.DataFrame, counties: pd.DataFrame, cfg
) -> dict:
    """The risk and benefit lists of the last labelled term, and the capacity what-if."""
    from analysis.model.stage import score_term

    if inp.ledger.empty:
        return {}
    att = counties[(counties["design"] == "aipw") & (counties["estimand"] == "ATT")].dropna(subset=["pooled"])  # fmt: skip
    # Act on a county's own effect only where its interval can tell: moving mentors away
    # from a county on a noisy estimate loses more than it gains.
    att = att[att["verdict"] != CANNOT_TELL]
    have = set(att["county_code"])
    # A county without a usable estimate of its own takes the prefecture's.
    pref = est[(est["design"] == "aipw") & (est["estimand"] == "ATT") & (est["county_code"] == ALL)]
    pref = pref.dropna(subset=["estimate"])
    if not pref.empty:
        p = pref.iloc[0]
        rest = sorted(set(inp.counties) - set(att["county_code"]))
        att = pd.concat([att, pd.DataFrame({"county_code": rest, "pooled": p["estimate"],
                                            "pooled_low": p["ci_low"], "pooled_high": p["ci_high"]})])  # fmt: skip
    if att.empty:
        return {}
    led = inp.ledger.merge(inp.pupils[["person_id", "term", "dropout"]], on=["person_id", "term"])
    treated = led[led["treated"] == 1]
    # A county's own rate goes with its own estimate; the prefecture's with the prefecture's.
    own = treated.groupby("county_code")["dropout"].mean()
    rate = pd.Series({c: own.get(c, np.nan) if c in have else treated["dropout"].mean() for c in att["county_code"]})  # fmt: skip
    rel = relative_effects(att, rate)
    # The last labelled term only: the feature table of every term is large at yuxi scale.
    last = inp.pupils["term"].max()
    scored = score_term(layout.model_pickle, pd.read_parquet(layout.features, filters=[("term", "==", last)]))  # fmt: skip
    cap = led[led["term"] == led["term"].max()].groupby("county_code")["listed"].sum().to_dict()
    lists = benefit_lists(scored[["person_id", "county_code", "risk"]], rel, cap).assign(term=last)
    return {"targeting": lists, "capacity": capacity_whatif(lists, rel, cfg.pupils_per_mentor),
            "relative_effects": rel}  # fmt: skip


#: Short names of the measures and designs for the terminal's tables.
_SHORT = {
    ("did", "video_check"): "video check (DiD)",
    ("did", "boarding_subsidy"): "boarding allowance (DiD)",
    ("placebo", "inspection"): "inspections (placebo DiD)",
    ("rd", "mentoring"): "mentoring (RD)",
    ("aipw", "mentoring"): "mentoring (AIPW)",
    ("re-dropout", "mentoring"): "mentoring, returners (AIPW)",
    ("cox", "persuasion_step2"): "step 2 责令改正 (Cox)",
    ("cox", "persuasion_step3"): "step 3 行政处罚 (Cox)",
    ("cox", "persuasion_step4"): "step 4 司法 (Cox)",
}


def _interval(est: float, lo: float, hi: float) -> str:
    return f"{est:.3f} [{lo:.3f}, {hi:.3f}]"


def _summary_tables(layout: Layout, manifest: dict) -> tuple[dict, list[str]]:
    est = pd.read_parquet(layout.effects_table("estimates"))
    head = est[(est["county_code"] == ALL) & est["estimate"].notna()]
    head = head[~head["estimand"].isin(["ATT (group)", "ATT (dynamic)", "ATT (calendar)", "hazard_ratio (stratified Cox)"])]  # fmt: skip
    show = pd.DataFrame({
        "measure": [_SHORT.get((d, i), f"{i} ({d})") for d, i in zip(head["design"], head["intervention"], strict=True)],
        "estimand": head["estimand"].str.replace("hazard_ratio", "hazard ratio"),
        "estimate [95 % interval]": [_interval(*x) for x in zip(head["estimate"], head["ci_low"], head["ci_high"], strict=True)],
        "interval": head["interval"].str.replace(r", \d+ schedules", "", regex=True),
        "verdict": head["verdict"],
    })  # fmt: skip
    tables = {"Effects, prefecture": show}
    counties = layout.effects_table("counties")
    if counties.exists():
        c = pd.read_parquet(counties)
        c = c[c["estimand"].isin(["ATT (simple)", "ATT", "effect at cutoff", "hazard_ratio"])]
        c = c.assign(measure=[_SHORT.get((d, i), i) for d, i in zip(c["design"], c["intervention"], strict=True)])  # fmt: skip
        short = {"数据不足以判断": "不足", "无明显效果": "无效", "无估计": "不足"}
        c["verdict"] = c["verdict"].replace(short)
        piv = c.pivot_table(
            index="measure", columns="county_code", values="verdict", aggfunc="first"
        )
        names = manifest.get("county_names", {})
        piv.columns = [names.get(x, x)[:2] for x in piv.columns]
        tables[
            "Verdicts per county (pooled intervals; 不足 = 数据不足以判断, 无效 = 无明显效果)"
        ] = piv.reset_index().fillna("")
    notes = [
        "Dropout effects in percentage points a term (negative: fewer dropouts); persuasion "
        "steps as hazard ratios of return (above 1: faster). 有效 helps, 有害 harms, 无明显效果 "
        "no effect that matters, 数据不足以判断 the interval cannot tell a helpful measure from a "
        "harmful one.",
        f"Tables and figures in {layout.effects}.",
        *manifest.get("notes", []),
    ]
    return tables, notes
