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
# # The synthetic prefecture
#
# What the synthetic Yuxi looks like: the seed report's figures as this world has them, how
# dropout moves over the years and counties, and the mess in the raw extracts. Everything is
# computed by `analysis`; this notebook only shows it.

# %% tags=["parameters"]
data_dir = "../data"

# %%
import matplotlib.pyplot as plt
import seaborn as sns

from analysis.layout import Layout
from analysis.synth.overview import (
    calibration_table,
    dropout_by_year_and_county,
    load_summary,
    mess_table,
)

layout = Layout(data_dir)
summary = load_summary(layout)
print(
    f"scale {summary['scale']}, seed {summary['seed']}: {summary['counts']['children']:,} children, "
    f"{summary['counts']['raw_files']} raw files"
)

# %% [markdown]
# ## The seed report's figures

# %%
calibration_table(summary)

# %% [markdown]
# ## Dropout by school year and county (true events, per 100 students at risk)

# %%
rates = dropout_by_year_and_county(layout)
ax = sns.lineplot(data=rates, x="school_year", y="dropout_per_100", hue="county", marker="o")
ax.set_xlabel("school year (autumn)")
ax.set_ylabel("dropouts per 100 students")
ax.legend(title="county", fontsize=7)
plt.show()

# %% [markdown]
# ## The mess in the raw extracts

# %%
mess_table(layout)
