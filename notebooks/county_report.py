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

# %% [markdown] tags=["remove_cell"]
# # A county's monthly report (县级控辍保学月报)
#
# Rendered by `analysis report` for each county (`--county CODE|all --period YYYY-MM`), or
# run here by hand. Every figure and table comes from `analysis.report.county`; this
# notebook only shows them, in the order an official acts on them: this month's actions,
# then the indicators, the measures' effects and the model's monitoring. Only the county's
# own children are read; ID numbers are masked.

# %% tags=["parameters"]
data_dir = "../data"
county = "530402"  # text, not a number: pass it as `-p county 530402` with -r, or in a dict
period = ""  # YYYY-MM; empty: the month after the latest records
lang = "zh"  # zh or en

# %%
import matplotlib.pyplot as plt

from analysis.report.county import CountyReport
from analysis.report.display import figure_style, show

figure_style()
report = CountyReport(data_dir, str(county), period or None, lang)
show(report.header())

# %%
show(report.actions())

# %%
show(report.indicators())

# %%
counts = report.monitoring_counts().set_index("学期")
fig, ax = plt.subplots(figsize=(7, 3))
counts[["疑似辍学（本县）", "辍学（本县）", "返校（本县）"]].plot(ax=ax, marker="o")
ax.set_xlabel("学期" if lang == "zh" else "term")
ax.set_ylabel("人数" if lang == "zh" else "children")
ax.legend(fontsize=8, loc="upper right")
plt.tight_layout()
plt.show()

# %%
show(report.effects())

# %%
show(report.model())
