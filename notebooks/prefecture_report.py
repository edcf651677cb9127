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
# # The prefecture's monthly report (全市控辍保学月报)
#
# Rendered by `analysis report` (twice: the internal report, and with `public=True` the
# public version whose small counts are suppressed), or run here by hand. Counts only: no
# child is named. Every table comes from `analysis.report.prefecture`.

# %% tags=["parameters"]
data_dir = "../data"
period = ""  # YYYY-MM; empty: the month after the latest records
lang = "zh"  # zh or en
public = False  # True: counts below the small-cell threshold suppressed

# %%
import matplotlib.pyplot as plt
import pandas as pd

from analysis.report.display import figure_style, show
from analysis.report.prefecture import PrefectureReport

figure_style()
report = PrefectureReport(data_dir, period or None, lang, bool(public))
show(report.header())

# %%
show(report.overview())

# %%
counts = report.list_counts().iloc[:-1].set_index("县（市、区）")
counts = counts[["红名单", "仍需跟进"]].apply(pd.to_numeric, errors="coerce")  # public: <5 hidden
fig, ax = plt.subplots(figsize=(7, 3.2))
counts.plot.barh(ax=ax)
ax.invert_yaxis()
ax.set_ylabel("")
ax.set_xlabel("人数" if lang == "zh" else "children")
ax.legend(fontsize=8, loc="lower right")
plt.tight_layout()
plt.show()

# %%
show(report.inspections_section())

# %%
show(report.effects_section())

# %%
show(report.model_section())
