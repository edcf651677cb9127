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
# # Linkage and the three comparisons: who is who, and who is out of school
#
# Reads `data/processed/` as `analysis link` left it: which rule tied each row to a person,
# how sure the probabilistic links are, where linkage is weakest (by kind of identity error,
# when `analysis validate` has scored a synthetic prefecture), the three comparison lists
# per county, and one child's status from term to term (a pseudonymous id, no name). All of
# it is computed by `analysis.link`; this notebook only shows it. The README's "Linking"
# section explains the rules.

# %% tags=["parameters"]
data_dir = "../data"
status = "返校"  # the timeline example: the first child who ever had this status

# %%
import json

import matplotlib.pyplot as plt
import pandas as pd

from analysis.effects.figures import use_chinese_font
from analysis.layout import Layout
from analysis.link import explain_match
from analysis.link.overview import (
    example_timeline,
    lists_by_county,
    match_probabilities,
    rules_table,
    status_counts,
    weak_spots,
)
from analysis.runs import read_manifest

use_chinese_font()
layout = Layout(data_dir)
manifest = read_manifest(layout.link_manifest)
if manifest is None:
    raise FileNotFoundError(f"{layout.link_manifest} is missing: run `analysis link` first")
indicators = json.loads(layout.indicators.read_text(encoding="utf-8"))
print(
    f"{manifest['persons']:,} persons; threshold {manifest['threshold']}; "
    f"{manifest['entities_without_id']:,} groups of rows without a usable ID, "
    f"{manifest['entities_matched']:,} of them joined to a person."
)

# %% [markdown]
# ## The rules used
#
# Deterministic rules first (a valid ID, a registry number held with one ID, typos a
# registry or household number corrects), then Splink for what is left.

# %%
rules_table(manifest)

# %% [markdown]
# ## How sure the probabilistic links are
#
# Rows joined by Splink, by match probability (links below the threshold are not made).

# %%
probs = match_probabilities(layout)
if len(probs):
    ax = probs.pivot_table(index="bin", columns="rule", values="rows").plot(
        marker=".", logy=True, figsize=(7, 3.5)
    )
    ax.set_xlabel("match probability (lower edge of a 0.001 bin)")
    ax.set_ylabel("rows")
    plt.show()
else:
    print("no probabilistic links")

# %% [markdown]
# ## Why two records were made one child
#
# The probabilistic pass saves its model and each link's partial match weights. The
# waterfall of the least sure link: the prior, then each comparison's level, its m and u
# probabilities and its weight, to the final match probability.

# %%
links = pd.read_parquet(layout.link_pairs) if layout.link_pairs.exists() else pd.DataFrame()
if len(links):
    weakest = links.sort_values("match_weight").iloc[0]
    explained = explain_match(layout, weakest["person_id"])[0]
    explained.chart()
    plt.show()
    display(explained.table.drop(columns=["values"], errors="ignore").round(4))
else:
    print("no probabilistic links")

# %% [markdown]
# ## The weak spots, by kind of identity error
#
# Pairwise precision and recall of the records whose identity carries each kind of error.
# Only a synthetic prefecture can be scored (`analysis validate` writes
# `reports/validation.json`); a real one has no truth.

# %%
validation = read_manifest(layout.validation_report)
spots = weak_spots(validation)
spots if spots is not None else print("no reports/validation.json: run `analysis validate`")

# %% [markdown]
# ## The three comparisons, per county, latest school year
#
# `1` not enrolled (失学, 残疾缓学, 辍学, 休学, ...), `2` dropouts and suspected dropouts
# (runs of unexcused absence begun that year), `3` children of poor households out of
# school. Each list, with every child's evidence, is in `data/processed/checks/`.

# %%
lists_by_county(indicators)

# %% [markdown]
# ## Status from term to term
#
# Every child's status per term (`status_timeline.parquet`), counted; then one child's
# timeline, by pseudonymous id only.

# %%
counts = status_counts(layout)
ax = counts.drop(columns=["在读"], errors="ignore").plot.bar(stacked=True, figsize=(8, 3.5))
ax.set_ylabel("children")
ax.legend(fontsize=8, ncols=3)
plt.show()
counts

# %%
example_timeline(layout, status)
