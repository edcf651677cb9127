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
# # The dropout-risk model: how well it ranks, how honest its probabilities are, whom its list misses
#
# Reads `data/processed/model/` as `analysis model` left it: the held-out metrics of every
# test term (each model trained on earlier terms only), the calibration, the bias audit, the
# fitted model and one county's red list. Everything is computed by `analysis.model`; this
# notebook only shows it. `docs/model.md` explains the method.

# %% tags=["parameters"]
data_dir = "../data"
county = ""  # a county code for its red list; empty: the county with the longest list

# %%
import matplotlib.pyplot as plt
import pandas as pd

from analysis.layout import Layout
from analysis.model import RiskModel, Validation, importance
from analysis.model.card import auc_by_term, bias_frame, calibration_frame, metrics_table
from analysis.runs import read_manifest

layout = Layout(data_dir)
summary = read_manifest(layout.model_json)
if summary is None:
    raise FileNotFoundError(f"{layout.model} holds no model: run `analysis model` first")
validation = Validation.load(layout.validation_dir)
last = summary["last_test_term"]
pd.DataFrame(summary["terms"]).T.rename_axis("term")

# %% [markdown]
# ## The last held-out term, every model on the same pupils
#
# Brackets: 95 % bootstrap intervals. The last column is the boosting model's ROC-AUC minus
# the model's, paired on the same bootstrap replicates: an interval above zero means the
# boosting model is better, whatever the overlap of the two models' own intervals.

# %%
validation.summary()

# %%
metrics_table(summary)

# %%
ax = auc_by_term(summary, chinese=False).T.plot(marker="o", figsize=(7, 4))
ax.legend(fontsize=7)
ax.set_ylabel("ROC-AUC (held out)")
ax.set_xlabel("test term")
plt.show()

# %% [markdown]
# ## Calibration on the last term
#
# Mean predicted against observed dropout rate by decile of predicted risk. The model is
# recalibrated on the most recent labelled term, because dropout falls from year to year.

# %%
cal = calibration_frame(summary)
fig, ax = plt.subplots(figsize=(4.5, 4.5))
ax.plot(cal["预测辍学率"] * 100, cal["实际辍学率"] * 100, "o-")
top = 100 * max(cal["预测辍学率"].max(), cal["实际辍学率"].max())
ax.plot([0, top], [0, top], color="grey", lw=0.8)
ax.set_xlabel("predicted dropout rate, %")
ax.set_ylabel("observed dropout rate, %")
plt.show()
cal

# %% [markdown]
# ## Bias audit of the list (last term, each county's list size)
#
# False-negative rate (漏报率), false-discovery rate (误报率) and precision per group, and
# their ratios to the largest group; ratios outside 0.8-1.25 are marked, never dropped.
# Small groups swing widely: read the counts with the ratios.

# %%
bias = bias_frame(summary)
bias[bias["0.8–1.25"].astype(bool)] if len(bias) else bias

# %%
bias

# %% [markdown]
# ## What moves the score
#
# The model is gradient boosting stacked with logistic regression; its size, rounds and
# stacking weights were chosen on the last labelled term (`summary()` says what it chose).
# Mean absolute contribution of each feature to the log-odds (exact and additive: TreeSHAP
# for the boosting, coefficient × value for the logistic part, each times its weight) over
# the pupils of the term the lists are for, and its mean contribution on the red list.

# %%
model = RiskModel.load(layout.model_pickle)
model.summary()

# %%
now = pd.read_parquet(layout.features, filters=[("term", "==", summary["listed_term"])])
counties = sorted(summary["capacity"])
red = pd.concat([pd.read_parquet(layout.red_list(c)) for c in counties], ignore_index=True)
imp = importance(model, now, on=now["person_id"].isin(red["person_id"]).to_numpy())
imp.head(15)

# %%
ax = imp.head(15).set_index("feature")["mean_abs_contribution"][::-1].plot.barh(figsize=(6, 5))
ax.set_xlabel("mean |contribution| to the log-odds")
plt.show()

# %% [markdown]
# ## One county's red list
#
# Rank, school, grade, risk, the three reasons and the change since the last list. Names and
# ID numbers are left out here; the county's own file has them (ID numbers masked).

# %%
chosen = county or red["county_code"].value_counts().idxmax()
lst = pd.read_parquet(layout.red_list(chosen))
lst[["rank_in_county", "school_name", "grade", "risk", "reasons", "change"]].head(20)
