"""The effects' inputs straight from a simulated world's records, without the mess: for
the validation study, which fits every design on many worlds and cannot afford the
pipeline (cleaning, linkage, the risk model's features) for each.

The tables are the records the bureau's systems kept (registry, screening ledgers,
persuasion ledgers as recorded, policy documents, inspections), exactly as written before
the mess:
pupils at risk each term with the term's outcome, the ledger with who was listed and who
mentored, the cases with their dates. Covariates the pipeline derives from attendance are
not rebuilt here; the recorded score carries them into the mentoring designs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.effects.inputs import EffectInputs, prepare_ledger


def inputs_from_world(world) -> EffectInputs:
    """The :class:`EffectInputs` of ``world`` (an :class:`analysis.synth.world.World`)."""
    sch = world.geo.schools
    code = sch["school_code"].to_numpy()
    pid = world.pop.children["person_id"].to_numpy()
    label = {k: t.label for k, t in enumerate(world.school.terms)}
    names = world.geo.counties.set_index("code")["name"]
    counties = {str(c): n for c, n in names.items()}
    st = world.school.student_terms
    st = st[st["at_risk"]]
    pupils = pd.DataFrame({
        "person_id": pid[st["child"].to_numpy()], "term": st["k"].map(label).to_numpy(),
        "county_code": st["county_code"].astype(str).to_numpy(), "school_code": code[st["school"].to_numpy()],
        "dropout": st["dropped"].astype(int).to_numpy(), "poverty_now": st["poverty_now"].astype(float).to_numpy(),
        "boarding": st["boarding"].astype(float).to_numpy(), "grade": st["class_grade"].astype(float).to_numpy(),
        "spring": (st["k"] % 2).astype(float).to_numpy(),
    })  # fmt: skip
    sc = world.school.screening
    notes: list[str] = []
    ledger = pd.DataFrame()
    if len(sc):
        led = pd.DataFrame({
            "person_id": pid[sc["child"].to_numpy()], "term": sc["term"].to_numpy(),
            "county_code": sc["county_code"].astype(str).to_numpy(), "risk_score": sc["score"].to_numpy(),
            "rank": sc["rank"].to_numpy(), "red_list": np.where(sc["assigned"], "是", "否"),
            "mentored": np.where(sc["mentored"], "是", "否"),
        })  # fmt: skip
        ledger = prepare_ledger(led, notes)
    # The persuasion ledger as the counties kept it: some cases missing, detection dated
    # late (analysis.synth.extracts.recording), as the pipeline reads it from the files.
    from analysis.synth.extracts.recording import ledger_as_recorded

    c = ledger_as_recorded(world, world.school.cases)
    cases = pd.DataFrame({
        "person_id": pid[c["child"].to_numpy()], "county_code": c["county_code"].astype(str).to_numpy(),
        "grade": c["grade"].to_numpy(), "whereabouts": c["whereabouts"].to_numpy(),
        **{k: pd.to_datetime(c[k]) for k in ("detected", "step1", "step2", "step3", "step4", "return_date")},
    })  # fmt: skip
    pol = world.school.policies
    adoption = {}
    for policy, g in pol[pol["policy"] != "mentoring"].groupby("policy"):
        adoption[policy] = {str(r.county_code): (None if r.start_term == "never" else r.start_term)
                            for r in g.itertuples()}  # fmt: skip
    ins = world.school.inspections
    from analysis.calendar import term_of

    inspections = pd.DataFrame({
        "school_code": code[ins["school"].to_numpy()], "date": pd.to_datetime(ins["date"]),
        "level": ins["level"].to_numpy(),
    })  # fmt: skip
    inspections["term"] = [term_of(d.date()) for d in inspections["date"]]
    roster = pd.DataFrame({"school_code": code, "school_name": sch["school_name"].to_numpy(),
                           "county_code": sch["county_code"].astype(str).to_numpy(),
                           "stage": sch["stage"].to_numpy()})  # fmt: skip
    roster["county"] = roster["county_code"].map(counties)
    return EffectInputs(pupils, ledger, cases, adoption, inspections, counties, notes, roster)
