"""Persuasion to return (劝返): the funnel through the four steps, time to return as
Kaplan–Meier curves with confidence bands, a Cox model of what speeds return, and
re-dropout after a return.

The four steps (四步法) are 劝返 (persuasion), 责令改正 (order to correct), 行政处罚
(administrative penalty) and 司法 (application to court). A step is reached only while a
child is still out, so reaching it is a time-varying covariate: each case is split into
episodes at its step dates (counting-process form) and the Cox model's coefficient of
"step k reached" is the hazard ratio of return once step k starts, against the step
before.

Follow-up runs from the first step's date and stops at the return, at the horizon
(:data:`HORIZON_DAYS`), when the child's class left compulsory school (a return is no
longer possible), or at ``censor_at``: the day from which returns were forced by a
campaign rather than persuaded (in Yuxi the summer-2019 push and the 2019/20 campaign
returned every child by a deadline; their returns say nothing about the steps).

Example::

    >>> d = pd.DataFrame({"days": [5, 40, 80, 200, 365, 30], "back": [1, 1, 1, 1, 0, 1],
    ...                   "county": ["a", "a", "a", "b", "b", "b"]})
    >>> r = time_to_event(d, "days", "back", group="county")
    >>> r.table.query("group == 'a'")[["group", "day", "returned"]].head(2).round(3)
      group  day  returned
    4     a   30     0.333
    5     a   90     1.000
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from analysis.effects.results import Effect, EffectResult

#: Days of follow-up after the first step.
HORIZON_DAYS = 365
#: Days at which the share returned is reported.
REPORT_DAYS = (30, 90, 180, 365)
STEP_NAMES = {1: "劝返", 2: "责令改正", 3: "行政处罚", 4: "司法"}


def _class_leaves(detected: pd.Series, grade: pd.Series) -> pd.Series:
    """15 July of the summer the child's class finishes grade 9 (no return after)."""
    d = pd.to_datetime(detected)
    year0 = d.dt.year - (d.dt.month < 9)  # school year of the detection
    leave = year0 + (9 - grade.fillna(9).clip(1, 9)) + 1
    return pd.to_datetime(leave.astype("Int64").astype(str) + "-07-15", errors="coerce")


def case_durations(cases: pd.DataFrame, censor_at: str | None = None) -> pd.DataFrame:
    """Each case's follow-up: ``start`` (first step), ``stop`` (return or censoring),
    ``days`` and ``returned`` (0/1). Cases whose first step is on or after ``censor_at``
    are left out (``in_analysis`` False): every return then was forced."""
    c = cases.copy()
    start = pd.to_datetime(c["step1"]).fillna(pd.to_datetime(c["detected"]))
    ret = pd.to_datetime(c["return_date"])
    ends = [start + pd.Timedelta(days=HORIZON_DAYS), _class_leaves(c["detected"], c["grade"])]
    if censor_at is not None:
        ends.append(pd.Series(pd.Timestamp(censor_at), index=c.index))
    end = pd.concat(ends, axis=1).min(axis=1)
    returned = ret.notna() & (ret <= end) & (ret > start)
    stop = ret.where(returned, end)
    c["start"], c["stop"] = start, stop
    c["days"] = (stop - start).dt.days.clip(lower=1)
    c["returned"] = returned.astype(int)
    c["in_analysis"] = start.notna() & (start < end)
    return c


def episodes(c: pd.DataFrame) -> pd.DataFrame:
    """Split each case (from :func:`case_durations`) at its step dates: one row per case and
    step reached, with ``entry`` and ``exit`` in days since the first step, ``step2``..
    ``step4`` (reached by then, 0/1) and ``returned`` on the last row only."""
    rows = []
    for i, r in c[c["in_analysis"]].iterrows():
        cuts = [0]
        for k in (2, 3, 4):
            s = r.get(f"step{k}")
            if pd.notna(s):
                day = (pd.Timestamp(s) - r["start"]).days
                if cuts[-1] < day < r["days"]:
                    cuts.append(day)
        cuts.append(int(r["days"]))
        for j in range(len(cuts) - 1):
            last = j == len(cuts) - 2
            rows.append({"case": i, "entry": cuts[j], "exit": cuts[j + 1],
                         "returned": int(r["returned"]) if last else 0,
                         **{f"step{k}": int(j >= k - 1) for k in (2, 3, 4)}})  # fmt: skip
    return pd.DataFrame(rows)


def km_curve(days: np.ndarray, event: np.ndarray) -> pd.DataFrame:
    """The Kaplan–Meier share still out at each event time, with the Hall–Wellner 95 %
    band on the arcsine scale (the log scale's band collapses to [0, 1] at the earliest
    times)."""
    from statsmodels.duration.survfunc import SurvfuncRight

    sf = SurvfuncRight(np.asarray(days, float), np.asarray(event, int))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lo, hi = sf.simultaneous_cb(alpha=0.05, method="hw", transform="arcsin")
    return pd.DataFrame({"day": sf.surv_times, "still_out": sf.surv_prob,
                         "low": np.nan_to_num(lo, nan=0.0), "high": np.nan_to_num(hi, nan=1.0)})  # fmt: skip


def _at(curve: pd.DataFrame, day: int) -> tuple[float, float, float]:
    """Share returned by ``day`` (1 - still out), with its band."""
    before = curve[curve["day"] <= day]
    if not len(before):
        return 0.0, 0.0, 0.0
    r = before.iloc[-1]
    return 1 - r["still_out"], 1 - r["high"], 1 - r["low"]


def cox(
    data: pd.DataFrame, duration: str, event: str, covariates: list[str], *,
    entry: str | None = None, strata: str | None = None,
) -> pd.DataFrame:  # fmt: skip
    """A Cox model (statsmodels PHReg, Efron ties): each covariate's hazard ratio with its
    95 % interval. Constant covariates are left out."""
    import statsmodels.api as sm

    keep = [c for c in covariates if data[c].nunique() > 1]
    if not keep or data[event].sum() < 2:
        return pd.DataFrame(columns=["term", "hazard_ratio", "ci_low", "ci_high", "log_hr", "se", "p_value"])  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = sm.PHReg(data[duration].to_numpy(float), data[keep].to_numpy(float),
                     status=data[event].to_numpy(int), ties="efron",
                     entry=data[entry].to_numpy(float) if entry else None,
                     strata=data[strata].to_numpy() if strata else None)  # fmt: skip
        f = None
        # Newton's steps can overshoot into NaN with time-varying covariates; BFGS then.
        for method in ("newton", "bfgs"):
            try:
                f = m.fit(method=method, maxiter=200)
            except (np.linalg.LinAlgError, ValueError):  # a covariate with no events on one side
                f = None
            if f is not None and np.all(np.isfinite(f.params)):
                break
        if f is None or not np.all(np.isfinite(f.params)):
            return pd.DataFrame(columns=["term", "hazard_ratio", "ci_low", "ci_high", "log_hr", "se", "p_value"])  # fmt: skip
    b, se = np.asarray(f.params), np.asarray(f.bse)
    from scipy.stats import norm

    with np.errstate(over="ignore"):
        return pd.DataFrame({"term": keep, "hazard_ratio": np.exp(b), "ci_low": np.exp(b - 1.96 * se),
                         "ci_high": np.exp(b + 1.96 * se), "log_hr": b, "se": se,
                         "p_value": 2 * norm.sf(np.abs(b / se))})  # fmt: skip


def time_to_event(
    data: pd.DataFrame, duration: str, event: str, *, group: str | None = None,
    covariates: list[str] | None = None, entry: str | None = None, subject: str | None = None,
    strata: str | None = None, report_days: tuple[int, ...] = REPORT_DAYS,
) -> EffectResult:  # fmt: skip
    """Kaplan–Meier curves (per ``group``) and, with ``covariates``, a Cox model.

    Parameters
    ----------
    data : one row per subject, or per episode of a ``subject`` with ``entry`` (time-varying
        covariates, as :func:`episodes` makes them; the curves use each subject's last
        episode, whose exit is its follow-up).
    duration, event : days of follow-up and 1 if the event (a return) happened.

    Returns
    -------
    EffectResult
        ``effects``: each covariate's hazard ratio (none without covariates); ``table``:
        the share with the event by each of ``report_days`` per group, with the band;
        ``extra["curves"]``: the curves; ``extra["cox"]``: the Cox table.
    """
    curves, rows = [], []
    last = data if subject is None else data.sort_values(entry or duration).groupby(subject).tail(1)
    groups = [("all", last)] if group is None else [("all", last), *last.groupby(group)]
    for name, g in groups:
        if not len(g):
            continue
        cv = km_curve(g[duration].to_numpy(), g[event].to_numpy()).assign(group=name)
        curves.append(cv)
        for day in report_days:
            est, lo, hi = _at(cv, day)
            rows.append({"group": name, "day": day, "returned": est, "low": lo, "high": hi,
                         "n": len(g), "events": int(g[event].sum())})  # fmt: skip
    table = pd.DataFrame(rows)
    ct = cox(data, duration, event, covariates or [], entry=entry, strata=strata)
    effects = [
        Effect("HR " + r.term, r.hazard_ratio, r.se, r.ci_low, r.ci_high, "hazard ratio",
               "Cox, Wald on log scale", r.p_value)
        for r in ct.itertuples()
    ]  # fmt: skip
    if not effects and len(table):
        r = table[table["group"] == "all"].iloc[-1]
        effects = [Effect(f"share returned by day {r['day']}", r["returned"], np.nan, r["low"], r["high"], "", "Hall-Wellner band (arcsine)")]  # fmt: skip
    checks = {"independent censoring": "assumed: censoring (horizon, class leaving, campaign) says nothing about when a child would have returned"}  # fmt: skip
    if len(ct):
        checks["proportional hazards"] = (
            "assumed; step effects are contrasts within a case's own follow-up"
        )
    n = {"subjects": len(last), "events": int(last[event].sum())}
    curves = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame()
    return EffectResult("Kaplan–Meier and Cox proportional hazards", event, effects, table, checks, n, extra={"curves": curves, "cox": ct})  # fmt: skip


def funnel(c: pd.DataFrame, by: str = "county_code") -> pd.DataFrame:
    """Cases reaching each step and returning at it, per ``by`` and in all (from
    :func:`case_durations`)."""

    def one(g: pd.DataFrame) -> dict:
        out = {"cases": len(g)}
        reached = {
            k: g[f"step{k}"].notna() if k > 1 else pd.Series(True, index=g.index)
            for k in STEP_NAMES
        }
        ret = g["returned"] == 1
        for k, name in STEP_NAMES.items():
            nxt = reached.get(k + 1, pd.Series(False, index=g.index))
            out[f"reached {k} {name}"] = int(reached[k].sum())
            out[f"returned at {k}"] = int((reached[k] & ~nxt & ret).sum())
        out["not returned"] = int((~ret).sum())
        out["returned within a year"] = float(ret.mean()) if len(g) else np.nan
        return out  # fmt: skip

    rows = [{by: "all", **one(c)}] + [{by: k, **one(g)} for k, g in c.groupby(by)]
    return pd.DataFrame(rows)


def redropout(cases: pd.DataFrame, person: str = "person_id", by: str = "county_code", within_days: int = 365) -> pd.DataFrame:  # fmt: skip
    """Of the children who returned, the share who dropped out again (a new case detected)
    within ``within_days`` of the return, per ``by``, with a Wilson 95 % interval."""
    from statsmodels.stats.proportion import proportion_confint

    c = cases[[person, by, "detected", "return_date"]].dropna(subset=[person, "detected"])
    back = c.dropna(subset=["return_date"])
    nxt = back.merge(c[[person, "detected"]], on=person, suffixes=("", "_next"))
    gap = (pd.to_datetime(nxt["detected_next"]) - pd.to_datetime(nxt["return_date"])).dt.days
    again = nxt[(gap > 0) & (gap <= within_days)].groupby([person, "return_date"]).size()
    back = back.assign(again=back.set_index([person, "return_date"]).index.isin(again.index))
    rows = []
    for name, g in [("all", back), *back.groupby(by)]:
        k, n = int(g["again"].sum()), len(g)
        lo, hi = proportion_confint(k, n, method="wilson") if n else (np.nan, np.nan)
        rows.append({by: name, "returned": n, "dropped_again": k, "share": k / n if n else np.nan, "low": lo, "high": hi})  # fmt: skip
    return pd.DataFrame(rows)
