"""Red and white lists per county, with reasons in plain Chinese.

* **Red list (红名单)**: a county's ``capacity`` pupils of highest risk (ties by the row's
  ``order_key``, see :mod:`analysis.model.metrics`), who get a paired cadre or teacher
  (结对包保). Each row carries the top reasons and the change since the last list
  (新进, 保留).
* **White list (白名单)**: pupils the county was following (on the last red list, or
  returned after a dropout) whose risk is now below the red list's cut: stable, the pairing
  can be released. The last red list's pupils not on the new one and no longer scored
  (left school, graduated) are listed as ``移出`` with their reason.

**Reasons.** The model's exact additive contributions (TreeSHAP, log-odds) of the child's
features, largest first; the top ``n_reasons`` that raise the risk are written as a
sentence with the child's value and, for a measured quantity, where it stands in the county
("本学期无故缺勤12天，全县前5%"). Contributions are of the feature's value in the model, not
causes: the model card says so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.model.estimator import RiskModel
from analysis.model.features import FEATURES
from analysis.model.metrics import listed, rank_within, tie_order

#: How pupils with the same risk are ordered at a list's cut: by their feature row's own
#: values (``order_key``), then (rows identical in every value) by ``person_id``.
TIEBREAK = ["order_key", "person_id"]

#: Features shown with a county percentile (measured quantities; higher is worse).
_RANKED = {
    "unx_days_last_term",
    "unx_trend",
    "unx_rate_last_term",
    "unx_rate_year",
    "unx_rate_last_month",
    "unx_recent_weighted",
    "unx_rate_all",
    "personal_recent_weighted",
    "max_unx_month_year",
    "months_unx3_year",
    "longest_unx_streak",
    "personal_days_last_term",
    "sick_days_last_term",
    "age_for_grade",
    "siblings_unx_rate",
    "school_out_rate",
    "school_unx_rate",
    "county_out_rate",
}
_RATES = {c for c in FEATURES if "rate" in c or "weighted" in c}
_DAYS = {
    "unx_days_last_term",
    "sick_days_last_term",
    "personal_days_last_term",
    "max_unx_month_year",
}


def reason_text(feature: str, value: float, top_share: float | None) -> str:
    """One reason as an official reads it, e.g. ``上学期无故缺勤天数12天，全县前5%``.

    Parameters
    ----------
    feature : the feature's name (:data:`analysis.model.features.FEATURES`).
    value : the child's value of it.
    top_share : the share of the county's pupils at or above the value (shown when at most
        20 %), or None.

    Examples
    --------
    >>> reason_text("unx_days_last_term", 12.0, 0.043)
    '上学期无故缺勤天数12天，全县前5%'
    >>> reason_text("siblings_dropped", 1.0, None)
    '兄弟姐妹曾辍学'
    """
    name = FEATURES[feature].split("（")[0]
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return f"{name}：无记录"
    if feature == "unx_trend":
        text = f"上学期末两个月无故缺勤率比此前上升{value * 100:.0f}个百分点"
    elif feature == "age":
        text = f"年龄{value:.1f}岁"
    elif feature in _RATES:
        text = f"{name}{value:.0%}"
    elif feature in _DAYS:
        text = f"{name}{value:.0f}天"
    elif feature in ("age_for_grade", "years_since_return", "years_since_lifted", "age"):
        text = f"{name}{value:.1f}年" if feature != "age_for_grade" else f"超龄{value:.1f}岁"
    elif feature in ("months_unx3_year", "longest_unx_streak", "months_recorded_year"):
        text = f"{name}{value:.0f}个月"
    elif feature in ("prior_cases", "schools_attended"):
        text = f"{name}{value:.0f}"
    elif feature == "grade":
        text = f"就读{value:.0f}年级"
    elif value in (0, 1):
        text = name if value == 1 else f"非{name}"
    else:
        text = f"{name}{value:g}"
    if top_share is not None and top_share <= 0.2:
        pct = max(1, int(np.ceil(top_share * 100)))
        text += f"，全县前{pct}%"
    return text


def reasons(
    model: RiskModel, rows: pd.DataFrame, county_rows: pd.DataFrame, n_reasons: int = 3
) -> list[str]:
    """The top ``n_reasons`` reasons of each row of ``rows`` (joined by '；'), ranked by the
    model's contribution; percentiles against ``county_rows`` (the county's scored pupils).

    Parameters
    ----------
    model : the fitted model.
    rows : the pupils to explain (feature rows).
    county_rows : their county's scored pupils.
    n_reasons : the most reasons per pupil (only those that raise the risk).

    Returns
    -------
    list of str

    Examples
    --------
    >>> from analysis.model.estimator import RiskModel
    >>> m = RiskModel.load(prefecture.model_pickle)
    >>> ft = pd.read_parquet(prefecture.features)
    >>> county = ft[ft["county_code"] == "530427"]
    >>> texts = reasons(m, county.head(2), county)
    >>> len(texts), all("_" not in t for t in texts)
    (2, True)
    """
    if rows.empty:
        return []
    features = list(model.feature_names_in_)
    contrib = model.contributions(rows)[features]
    out = []
    sorted_vals = {f: np.sort(county_rows[f].dropna().to_numpy()) for f in _RANKED if f in features}
    for i in range(len(rows)):
        c = contrib.iloc[i]
        top = c[c > 0].sort_values(ascending=False).head(n_reasons)
        parts = []
        for f in top.index:
            v = rows[f].iloc[i]
            share = None
            if f in sorted_vals and len(sorted_vals[f]) and not pd.isna(v) and v > 0:
                arr = sorted_vals[f]
                share = (len(arr) - np.searchsorted(arr, v, side="left")) / len(arr)
            parts.append(reason_text(f, float(v) if not pd.isna(v) else np.nan, share))
        out.append("；".join(parts) if parts else "综合风险较高")
    return out


def importance(model: RiskModel, frame: pd.DataFrame, on: np.ndarray | None = None) -> pd.DataFrame:
    """How much each feature moves the model's log-odds over the rows of ``frame``: the mean
    absolute contribution (TreeSHAP and the logistic part's terms, log-odds units), and, for the rows ``on`` (say, a red
    list), the mean signed contribution, which says which way it pushes them. Sorted by the
    first; with the feature's Chinese description.

    >>> from analysis.model.estimator import RiskModel
    >>> m = RiskModel.load(prefecture.model_pickle)
    >>> imp = importance(m, pd.read_parquet(prefecture.features).head(500))
    >>> list(imp.columns), len(imp)
    (['feature', '说明', 'mean_abs_contribution'], 44)
    """
    features = list(model.feature_names_in_)
    c = model.contributions(frame)[features]
    out = pd.DataFrame(
        {
            "feature": features,
            "说明": [FEATURES.get(f, f) for f in features],
            "mean_abs_contribution": c.abs().mean().to_numpy(),
        }
    )
    if on is not None:
        out["mean_contribution_on_list"] = c[np.asarray(on, bool)].mean().to_numpy()
    return out.sort_values("mean_abs_contribution", ascending=False, ignore_index=True)


def county_lists(
    model: RiskModel,
    scored: pd.DataFrame,
    capacity: dict,
    previous_red: pd.DataFrame | None = None,
    n_reasons: int = 3,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The red and white lists of every county.

    Parameters
    ----------
    model : the fitted model (its contributions give the reasons).
    scored : the feature table of the term to list, with ``risk``.
    capacity : each county's list size.
    previous_red : the previous red lists (``person_id``, ``county_code``), for the change.
    n_reasons : reasons per child.

    Returns
    -------
    tuple of (pandas.DataFrame, pandas.DataFrame)
        (red, white), both sorted by county and rank: the red list's rank, risk, reasons and
        change (新进, 保留); the white list's change (移出红名单, 劝返复学后稳定).

    Examples
    --------
    >>> from analysis.model.estimator import RiskModel
    >>> m = RiskModel.load(prefecture.model_pickle)
    >>> ft = pd.read_parquet(prefecture.features)
    >>> now = ft[ft["term"] == ft["term"].max()]
    >>> red, white = county_lists(m, now.assign(risk=m.predict_proba(now)[:, 1]), {"530427": 5})
    >>> len(red), red["rank_in_county"].tolist(), set(red["change"])
    (5, [1, 2, 3, 4, 5], {'新进'})
    """
    scored = scored.reset_index(drop=True)
    tie = tie_order(scored, TIEBREAK)
    scored = scored.assign(
        rank_in_county=rank_within(scored, "risk", "county_code", tie),
        red=listed(scored, "risk", "county_code", capacity, tie),
    )
    prev = set() if previous_red is None else set(previous_red["person_id"])
    reds = []
    for _county, rows in scored.groupby("county_code", sort=True):
        red = rows[rows["red"]].sort_values("rank_in_county")
        red = red.assign(
            reasons=reasons(model, red, rows, n_reasons),
            change=np.where(red["person_id"].isin(prev), "保留", "新进"),
        )
        reds.append(red)
    red = (
        pd.concat(reds, ignore_index=True)
        if reds
        else scored.iloc[:0].assign(reasons=pd.Series(dtype=str), change=pd.Series(dtype=str))
    )
    followed = scored["person_id"].isin(prev) | (scored["returned_ever"] == 1)
    white = scored[followed & ~scored["red"]].assign(
        change=lambda d: np.where(d["person_id"].isin(prev), "移出红名单", "劝返复学后稳定"),
        reasons="风险低于本县红名单线",
    )
    if previous_red is not None and len(previous_red):
        gone = previous_red[~previous_red["person_id"].isin(scored["person_id"])]
        if len(gone):
            white = pd.concat(
                [
                    white,
                    gone[["person_id", "county_code"]].assign(
                        change="移出红名单", reasons="本学期不在册（毕业、转出或已离校）"
                    ),
                ],
                ignore_index=True,
            )
    order = ["county_code", "change", "order_key", "person_id"]
    return red, white.sort_values(order, na_position="last").reset_index(drop=True)
