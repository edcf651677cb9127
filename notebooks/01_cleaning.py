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
# # Cleaning: what came in, what was kept, what was quarantined and why
#
# Reads `data/interim/` as `analysis clean` left it: the manifest for the counts, the
# quarantine for the reasons and a few examples. ID numbers are masked. Everything is
# computed by `analysis.clean.overview`; this notebook only shows it.

# %% tags=["parameters"]
data_dir = "../data"

# %%
import matplotlib.pyplot as plt

from analysis.clean.overview import (
    counts_table,
    load_manifest,
    manifest_table,
    quarantine_examples,
)
from analysis.layout import Layout

layout = Layout(data_dir)
manifest = load_manifest(layout)
totals = manifest["totals"]
print(
    f"{totals['files']} raw files ({totals['rejected']} rejected), {totals['rows_read']:,} rows read: "
    f"{totals['rows_kept']:,} kept, {totals['rows_merged']:,} merged as exact duplicates, "
    f"{totals['rows_quarantined']:,} quarantined; {totals['values_quarantined']:,} values set to null."
)

# %% [markdown]
# ## Per table
#
# Rows read = kept + merged + quarantined, for every file (the manifest says so per file).

# %%
table = manifest_table(manifest).set_index("table")
table

# %%
ax = table["read"].sort_values().plot.barh(logx=True, figsize=(7, 4))
ax.set_xlabel("rows read (log scale)")
ax.set_ylabel("")
plt.show()

# %% [markdown]
# ## Values set to null, by reason
#
# The row is kept; the raw value is in the quarantine with its file, row and column.

# %%
counts_table(manifest, "values_quarantined")

# %% [markdown]
# ## Rows quarantined whole, and rows flagged by a cross-field rule

# %%
counts_table(manifest, "rows_quarantined")

# %%
counts_table(manifest, "flags")

# %% [markdown]
# ## Repairs (each certain, each counted)

# %%
counts_table(manifest, "repairs")

# %% [markdown]
# ## A few examples per reason (ID numbers masked)

# %%
quarantine_examples(layout, per_reason=3)
