# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Which measures work, in which county, and how sure we are
#
# Reads `data/processed/effects/` as `analysis effects` left it, and shows each design's
# estimate with its interval, the checks of its assumptions, the counties' own and partially
# pooled estimates, and the verdict an official can use: 有效 (helps), 有害 (harms),
# 无明显效果 (no effect that matters), 数据不足以判断 (the interval cannot tell a helpful
# measure from a harmful one). Everything is computed by `analysis.effects`; this notebook
# only shows it, and the last section calls the public functions on the stage's own tables
# as a researcher would on theirs. `docs/effects.md` explains the designs.

# %% tags=["parameters"]
data_dir = "../data"
policy = "video_check"  # the county policy for the event study and the re-analysis

# %%
import matplotlib.pyplot as plt
import pandas as pd

from analysis.effects import partial_pool, staggered_did
from analysis.effects.figures import event_study, forest, return_curves, use_chinese_font
from analysis.layout import Layout
from analysis.runs import read_manifest

use_chinese_font()
layout = Layout(data_dir)
manifest = read_manifest(layout.effects_json)
if manifest is None:
    raise FileNotFoundError(f"{layout.effects} holds no effects: run `analysis effects` first")
names = manifest["county_names"]
estimates = pd.read_parquet(layout.effects_table("estimates"))
counties = pd.read_parquet(layout.effects_table("counties"))
cols = ["design", "intervention", "estimand", "estimate", "ci_low", "ci_high", "interval", "verdict", "n"]
estimates.query("county_code == 'all'")[cols].round(4)

# %% [markdown]
# ## County policies: staggered difference-in-differences
#
# Each school is a unit, its dropout rate a term (percentage points) the outcome; a county
# adopts for all its schools. With nine counties, the analytic interval is beside the one
# from randomisation inference over the counties' adoption schedules, which holds with few
# clusters. The event study shows the effect by terms since adoption; the terms before
# adoption test the parallel trends.

# %%
attgt = pd.read_parquet(layout.effects_table("attgt"))
one = attgt[attgt["intervention"] == policy]
if len(one):
    event_study(one, f"{policy}: effect by terms since adoption")
    plt.show()
one[one["kind"] != "attgt"].round(4)

# %% [markdown]
# ## Per county: each county's own estimate and the partially pooled one
#
# A county's own interval carries its county-by-term shocks. The pooled estimate (empirical
# Bayes) moves a noisy county towards the prefecture; the verdict is the pooled interval's.

# %%
for (design, inter, estimand), g in counties.groupby(["design", "intervention", "estimand"]):
    if g["estimate"].notna().sum() >= 2 and estimand in ("ATT (simple)", "ATT", "effect at cutoff", "hazard_ratio"):
        forest(g, f"{inter}: {design} ({estimand})", "estimate", names, log=design == "cox")
        plt.show()
counties.pivot_table(index="county_code", columns=["design", "intervention"], values="verdict", aggfunc="first")

# %% [markdown]
# ## Red-list mentoring: regression discontinuity and the doubly robust estimate
#
# The RD compares pupils just above and just below each county's cutoff on the recorded
# score (fuzzy: some listed pupils are not mentored and some unlisted are); the table gives
# the bandwidth sensitivity. AIPW adjusts for the recorded score and the pupils' records;
# its overlap table says where the comparison rests on few pupils.

# %%
rd = pd.read_parquet(layout.effects_table("rd")) if layout.effects_table("rd").exists() else pd.DataFrame()
rd.round(4)

# %%
overlap = layout.effects_table("overlap")
pd.read_parquet(overlap).round(3) if overlap.exists() else "no AIPW estimate"

# %% [markdown]
# ## Persuasion to return: the funnel, time to return, the steps
#
# Follow-up stops where a campaign forced the returns (the summer-2019 push and the 2019/20
# campaign), when the child's class left compulsory school, or after a year.

# %%
pd.read_parquet(layout.effects_table("funnel"))

# %%
curves = pd.read_parquet(layout.effects_table("km_curves"))
return_curves(curves, names)
plt.show()
pd.read_parquet(layout.effects_table("redropout")).round(3)

# %% [markdown]
# ## The same functions on your own tables
#
# `staggered_did` and `partial_pool` take plain data frames: here the stage's school panel
# again, with never-treated controls instead of the stage's not-yet-treated ones.

# %%
panels = pd.read_parquet(layout.effects_table("policy_panels"))
panel = panels[panels["intervention"] == policy]
if panel["group"].nunique() > 1:
    r = staggered_did(panel, "dropped", "period", "school_code", "group", control="nevertreated",
                      weights="weight", covariates=["baseline"], method="reg", cluster="county_code",
                      draws=199, unit_label="pp")
    print(r.summary())

# %%
did_counties = pd.read_parquet(layout.effects_table("did_counties"))
own = did_counties[(did_counties["intervention"] == policy) & did_counties["estimate"].notna()]
if len(own) >= 2:
    print(partial_pool(own, "estimate", "se", "county_code", smallest_effect=0.1).summary())

# %% [markdown]
# ## Targeting: the risk list and the benefit list
#
# The benefit list ranks pupils by risk times their county's estimated relative effect of
# mentoring, with the same total capacity; the capacity what-if gives the dropouts a term one
# more mentor would prevent in each county.

# %%
cap = layout.effects_table("capacity")
pd.read_parquet(cap).round(3) if cap.exists() else "no targeting (no mentoring estimate)"
