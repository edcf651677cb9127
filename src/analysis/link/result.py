"""What a linkage run gives back (:class:`LinkResult`), and the waterfall of one pair
(:func:`waterfall`): why the model scored it as it did, level by level.

The waterfall is computed from a Splink model (its JSON) and a pair's comparison vector
(the level of each comparison, ``gamma_<name>``), so it works on a live run
(:meth:`LinkResult.explain`) and on pairs saved by the person index stage
(:func:`analysis.link.index.explain_match`) alike.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd


def levels(model: dict) -> dict[str, list[dict]]:
    """Each comparison's levels as Splink reads the model: the comparison vector value
    (``gamma``: -1 for the null level, then counting down to 0), the label, and the m and
    u probabilities Splink scores with (its defaults where training left a level
    unestimated, 1e-6 for a level not observed). Read through Splink itself, so a saved
    model explains exactly as it scores.

    >>> import splink.comparison_library as cl
    >>> from splink import SettingsCreator
    >>> m = SettingsCreator(link_type="dedupe_only", comparisons=[cl.ExactMatch("dob")]
    ...                     ).create_settings_dict("duckdb")
    >>> [(lv["gamma"], lv["label"]) for lv in levels(m)["dob"]]
    [(-1, 'dob is NULL'), (1, 'Exact match on dob'), (0, 'All other comparisons')]
    """
    from splink import SettingsCreator

    settings = SettingsCreator.from_path_or_dict(model).get_settings("duckdb")
    out = {}
    for comp in settings.comparisons:
        rows = []
        for lv in comp.comparison_levels:
            null = lv.is_null_level
            rows.append(
                {
                    "gamma": lv.comparison_vector_value,
                    "label": lv.label_for_charts,
                    "null": null,
                    "m": np.nan if null else lv.m_probability,
                    "u": np.nan if null else lv.u_probability,
                }
            )
        out[comp.output_column_name] = rows
    return out


def _level_of(name: str, lvs: list[dict], pair: dict) -> dict:
    """The level of comparison ``name`` the pair fell in: from its comparison vector value
    (``gamma_<name>``) or, as Splink 5 keeps it without the records' values, from its
    partial match weight (``mw_<name>``: the level whose log2(m/u) it is; 0 is the null
    level when no other level weighs 0)."""
    g = pair.get(f"gamma_{name}")
    if g is not None and not (isinstance(g, float) and math.isnan(g)):
        level = next((lv for lv in lvs if lv["gamma"] == int(g)), None)
        if level is None:
            raise ValueError(f"comparison {name!r} has no level {g}")
        return level
    w = pair.get(f"mw_{name}")
    if w is None or (isinstance(w, float) and math.isnan(w)):
        raise KeyError(f"the pair has no level for comparison {name!r} (gamma_{name} or mw_{name})")

    def weight(lv: dict) -> float:
        return 0.0 if lv["null"] or not (lv["m"] and lv["u"]) else math.log2(lv["m"] / lv["u"])

    near = [lv for lv in lvs if abs(weight(lv) - float(w)) < 1e-6]
    if not near:
        raise ValueError(f"comparison {name!r}: no level weighs {w} in this model")
    return (
        next((lv for lv in near if not lv["null"]), near[0])
        if float(w)
        else (next((lv for lv in near if lv["null"]), near[0]))
    )


def _weight(p: float) -> float:
    return math.log2(p / (1 - p))


def waterfall(model: dict, pair: dict) -> pd.DataFrame:
    """The match weight of one pair, term by term: the prior, then each comparison's level
    with its m and u probabilities, Bayes factor and weight (log2 of the factor), and the
    running total; the last row is the pair's match weight and probability.

    Parameters
    ----------
    model : a trained Splink model (its settings JSON as a dict).
    pair : the pair's level of each comparison: ``gamma_<comparison>`` (the comparison
        vector value) or ``mw_<comparison>`` (the partial match weight Splink 5 keeps with
        ``retain_intermediate_calculation_columns``), and ``mw_tf_adj_<comparison>`` when
        term frequencies adjust it; the records' values (``<comparison>_l``, ``_r``) are
        shown when present.

    Examples
    --------
    >>> import splink.comparison_library as cl
    >>> from splink import SettingsCreator
    >>> model = SettingsCreator(link_type="dedupe_only", comparisons=[cl.ExactMatch("dob")],
    ...                         probability_two_random_records_match=0.001
    ...                         ).create_settings_dict("duckdb")
    >>> exact, other = model["comparisons"][0]["comparison_levels"][1:]
    >>> exact.update(m_probability=0.9, u_probability=0.01)
    >>> other.update(m_probability=0.1, u_probability=0.99)
    >>> w = waterfall(model, {"gamma_dob": 1})
    >>> w[["term", "level", "weight"]].round(2).values.tolist()
    [['prior', '', -9.96], ['dob', 'Exact match on dob', 6.49], ['total', '', -3.47]]
    """
    lam = model["probability_two_random_records_match"]
    rows = [{"term": "prior", "level": "", "m": np.nan, "u": np.nan,
             "bayes_factor": lam / (1 - lam), "weight": _weight(lam)}]  # fmt: skip
    for name, lvs in levels(model).items():
        level = _level_of(name, lvs, pair)
        m, u = level["m"], level["u"]
        bf = 1.0 if level["null"] or not (m and u) else m / u
        tf_bf = pair.get(f"bf_tf_adj_{name}")
        tf_w = pair.get(f"mw_tf_adj_{name}")
        if tf_bf is not None and not pd.isna(tf_bf):
            bf *= float(tf_bf)
        elif tf_w is not None and not pd.isna(tf_w):
            bf *= 2.0 ** float(tf_w)
        values = [pair.get(f"{name}_{s}") for s in ("l", "r")]
        rows.append(
            {
                "term": name,
                "level": level["label"],
                "m": m,
                "u": u,
                "bayes_factor": bf,
                "weight": math.log2(bf),
                "values": " | ".join("" if v is None else str(v) for v in values)
                if any(v is not None for v in values)
                else "",
            }
        )
    out = pd.DataFrame(rows)
    out["cumulative"] = out["weight"].cumsum()
    total = out["weight"].sum()
    out = pd.concat(
        [
            out,
            pd.DataFrame(
                [
                    {
                        "term": "total",
                        "level": "",
                        "weight": total,
                        "cumulative": total,
                        "bayes_factor": 2.0**total,
                    }
                ]
            ),
        ],
        ignore_index=True,
    )
    out["match_probability"] = out["cumulative"].map(lambda w: 2.0**w / (1 + 2.0**w))
    cols = ["term", "level", "m", "u", "bayes_factor", "weight", "cumulative",
            "match_probability"]  # fmt: skip
    return out[cols + (["values"] if "values" in out and out["values"].ne("").any() else [])]


def waterfall_chart(table: pd.DataFrame, ax=None, title: str | None = None):
    """The waterfall as a horizontal bar chart: each term's weight from the running total
    before it (green for, red against), the total in grey.

    >>> t = pd.DataFrame({"term": ["prior", "dob", "total"], "level": ["", "exact", ""],
    ...                   "weight": [-10.0, 6.5, -3.5], "cumulative": [-10.0, -3.5, -3.5]})
    >>> ax = waterfall_chart(t); len(ax.patches)
    3
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.4 * len(table) + 1))
    labels = [
        f"{t}: {lv}" if lv else t for t, lv in zip(table["term"], table["level"], strict=True)
    ]
    y = np.arange(len(table))[::-1]
    start = table["cumulative"] - table["weight"]
    colors = [
        "0.5" if t == "total" else ("tab:green" if w >= 0 else "tab:red")
        for t, w in zip(table["term"], table["weight"], strict=True)
    ]
    left = np.where(table["term"] == "total", 0.0, start)
    ax.barh(y, table["weight"], left=left, color=colors)
    ax.set_yticks(y, labels)
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_xlabel("match weight (log2 Bayes factor)")
    if title:
        ax.set_title(title)
    return ax


@dataclass
class Explanation:
    """Why one pair scored as it did: :attr:`table` (see :func:`waterfall`) and
    :meth:`chart`."""

    left_id: str
    right_id: str
    table: pd.DataFrame

    @property
    def match_probability(self) -> float:
        return float(self.table["match_probability"].iloc[-1])

    def chart(self, ax=None):
        return waterfall_chart(
            self.table, ax,
            f"{self.left_id} ~ {self.right_id}: p = {self.match_probability:.4f}",
        )  # fmt: skip

    def _repr_html_(self) -> str:
        return self.table.to_html(index=False, float_format=lambda v: f"{v:.4g}")

    def __repr__(self) -> str:
        return f"Explanation({self.left_id} ~ {self.right_id})\n{self.table.to_string(index=False)}"


@dataclass
class LinkResult:
    """What :func:`~analysis.link.frames.link_frames` found.

    Attributes
    ----------
    pairs : the links: ``id_l``, ``id_r``, ``match_weight``, ``match_probability`` and
        ``found_by`` (the first blocking rule that made the pair).
    clusters : every record (``id``, ``side``: left, right or records) with its
        ``cluster`` (connected components of the links, numbered from 0).
    model : the trained Splink model (its JSON, as a dict).
    threshold : the smallest match probability linked.
    notes : what the run left out or could not do (rules too wide, EM sessions that failed).

    Examples
    --------
    >>> from analysis.link import link_frames
    >>> a = pd.DataFrame({"who": ["Ann Lee", "Bo Chan", "Cy Diaz"] * 40,
    ...                   "born": pd.date_range("1980-01-01", periods=120, freq="45D")})
    >>> b = a.assign(who=a["who"].str.upper())
    >>> r = link_frames(a, b, roles={"name": "who", "birth_date": "born"})
    >>> r.pairs[["id_l", "id_r"]].head(2).values.tolist()
    [['0', '0'], ['1', '1']]
    >>> list(r.diagnostics())
    ['blocking', 'parameters', 'weights', 'prior', 'notes']
    >>> e = r.explain("0", "1")          # not a link: the names and dates differ
    >>> e.table["term"].tolist(), e.match_probability < 0.5
    (['prior', 'name', 'birth_date', 'total'], True)
    """

    pairs: pd.DataFrame
    clusters: pd.DataFrame
    model: dict
    threshold: float
    link_type: str
    notes: list[str] = field(default_factory=list)
    blocking: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    histogram: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    records: tuple = field(default=(), repr=False)
    trained: bool = True
    seconds: float = 0.0
    _linker: object = field(default=None, repr=False)

    @classmethod
    def from_predictions(cls, linker, pred, a, b, *, threshold, best_only, notes, trained,
                         seconds_to_predict) -> LinkResult:  # fmt: skip
        """Pairs, clusters and diagnostics from Splink's scored candidate pairs (every
        blocked pair: the histogram needs the ones below the threshold too)."""
        from analysis.link.linker import best_match, oriented_pairs

        con = linker._db_api._con
        t = pred.physical_name
        hist = con.execute(
            f"""SELECT floor(match_weight) AS weight_from, count(*) AS pairs,
                       count(*) FILTER (WHERE match_probability >= {threshold}) AS linked
                FROM {t} GROUP BY ALL ORDER BY 1"""
        ).df()
        cols = "unique_id_l, unique_id_r, match_weight, match_probability, match_key"
        src = ", source_dataset_l" if b is not None else ""
        kept = con.execute(
            f"SELECT {cols}{src} FROM {t} WHERE match_probability >= {threshold}"
        ).df()
        by_rule = con.execute(
            f"""SELECT match_key, count(*) AS pairs,
                       count(*) FILTER (WHERE match_probability >= {threshold}) AS linked
                FROM {t} GROUP BY ALL"""
        ).df()
        rules = [
            br.blocking_rule_sql
            for br in linker._settings_obj._blocking_rules_to_generate_predictions
        ]
        if b is not None:
            pairs = oriented_pairs(kept, "l_records")
            pairs["found_by"] = kept["match_key"].astype(int).map(dict(enumerate(rules))).to_numpy()
            if best_only:
                pairs = best_match(pairs)
        else:
            pairs = pd.DataFrame(
                {
                    "id_l": kept["unique_id_l"].astype(str),
                    "id_r": kept["unique_id_r"].astype(str),
                    "match_weight": kept["match_weight"].astype(float),
                    "match_probability": kept["match_probability"].astype(float),
                    "found_by": kept["match_key"].astype(int).map(dict(enumerate(rules))),
                }
            )
        pairs = pairs.sort_values(["id_l", "id_r"], ignore_index=True)
        linked_after = pairs["found_by"].value_counts()
        blocking = pd.DataFrame(
            {
                "rule": rules,
                "pairs": [int(by_rule.loc[by_rule["match_key"].astype(int) == i, "pairs"].sum())
                          for i in range(len(rules))],
                "linked": [int(linked_after.get(r, 0)) for r in rules],
            }
        )  # fmt: skip
        total = blocking["linked"].sum()
        blocking["share_of_links"] = blocking["linked"] / total if total else 0.0
        clusters = _clusters(pairs, a, b)
        model = linker.misc.save_model_to_json()
        return cls(
            pairs=pairs, clusters=clusters, model=model, threshold=threshold,
            link_type=model["link_type"], notes=list(notes), blocking=blocking, histogram=hist,
            records=(a, b), trained=trained, seconds=seconds_to_predict, _linker=linker,
        )  # fmt: skip

    def __repr__(self) -> str:
        a, b = self.records if self.records else (None, None)
        sizes = f"{len(a):,}" + ("" if b is None else f" × {len(b):,}") if a is not None else "?"
        w = _weight(self.threshold) if 0 < self.threshold < 1 else float("nan")
        return (
            f"LinkResult({self.link_type}: {sizes} records; "
            f"{int(self.histogram['pairs'].sum()) if len(self.histogram) else 0:,} candidate "
            f"pairs from {len(self.blocking)} rules; {len(self.pairs):,} links at match "
            f"probability ≥ {self.threshold:g} (weight ≥ {w:.2f}); "
            f"{self.clusters['cluster'].nunique():,} clusters"
            + (f"; {len(self.notes)} note(s)" if self.notes else "")
            + ")"
        )

    # -- diagnostics ----------------------------------------------------------------------

    def parameters(self) -> pd.DataFrame:
        """m and u of every level of every comparison as the model scores with them, with
        the match weight (log2 m/u) and whether training estimated them (``trained``;
        otherwise Splink's default stands)."""
        raw = {c["output_column_name"]: c["comparison_levels"] for c in self.model["comparisons"]}
        rows = []
        for name, lvs in levels(self.model).items():
            nonnull = [lv for lv in raw[name] if not lv.get("is_null_level")]
            for lv, saved in zip([x for x in lvs if not x["null"]], nonnull, strict=True):
                m, u = lv["m"], lv["u"]
                rows.append(
                    {
                        "comparison": name,
                        "level": lv["label"],
                        "gamma": lv["gamma"],
                        "m": m,
                        "u": u,
                        "match_weight": math.log2(m / u) if m and u else np.nan,
                        "trained": "m_probability" in saved,
                    }
                )
        return pd.DataFrame(rows)

    def diagnostics(self) -> dict[str, pd.DataFrame]:
        """``blocking`` (each rule's candidate pairs, links and share of the links: the
        first rule that made a pair counts it), ``parameters`` (m, u and weight per
        level), ``weights`` (the histogram of every candidate pair's match weight, by unit
        of weight, with how many were linked), ``prior`` and ``notes``."""
        lam = self.model["probability_two_random_records_match"]
        return {
            "blocking": self.blocking,
            "parameters": self.parameters(),
            "weights": self.histogram,
            "prior": pd.DataFrame(
                [
                    {
                        "probability_two_random_records_match": lam,
                        "prior_weight": _weight(lam),
                        "threshold_probability": self.threshold,
                        "threshold_weight": _weight(self.threshold)
                        if 0 < self.threshold < 1
                        else np.nan,
                    }
                ]
            ),
            "notes": pd.DataFrame({"note": pd.Series(self.notes, dtype=object)}),
        }

    def weights_chart(self, ax=None):
        """The histogram of candidate pairs' match weights (log scale), the threshold
        marked: two humps (non-matches, matches) and a valley between them is a healthy
        model."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 3))
        h = self.histogram
        ax.bar(h["weight_from"] + 0.5, h["pairs"], width=1.0, color="0.6", label="candidates")
        ax.bar(h["weight_from"] + 0.5, h["linked"], width=1.0, color="tab:blue", label="linked")
        ax.set_yscale("log")
        if 0 < self.threshold < 1:
            ax.axvline(_weight(self.threshold), color="tab:red", lw=1, label="threshold")
        ax.set_xlabel("match weight")
        ax.set_ylabel("pairs")
        ax.legend()
        return ax

    # -- one pair ------------------------------------------------------------------------

    def _record(self, rid: str, side: int) -> dict:
        frame = self.records[side] if side < len(self.records) else None
        if frame is None:
            frame = self.records[0]
        hit = frame[frame["unique_id"] == str(rid)]
        if hit.empty:
            name = ("left", "right")[side] if self.records[1] is not None else "records"
            raise KeyError(f"no record {rid!r} in the {name}")
        rec = hit.iloc[0].to_dict()
        return {k: (None if v is None or (isinstance(v, float) and np.isnan(v)) else v)
                for k, v in rec.items()}  # fmt: skip

    def explain(self, left_id, right_id) -> Explanation:
        """Why the model scores the pair (``left_id``, ``right_id``) as it does, whether or
        not it was linked: the waterfall as a table (:func:`waterfall`) and a chart
        (``.chart()``)."""
        if self._linker is None:
            raise RuntimeError("this result has no live model to score with (was it loaded?)")
        dedupe = self.records[1] is None
        rec_l = self._record(left_id, 0)
        rec_r = self._record(right_id, 0 if dedupe else 1)
        if not dedupe:
            rec_l["source_dataset"], rec_r["source_dataset"] = "l_records", "r_records"
        from analysis.link.linker import quiet_splink

        with quiet_splink():
            row = self._linker.inference.score_pair(rec_l, rec_r).as_record_list()[0]
        table = waterfall(self.model, row)
        return Explanation(str(left_id), str(right_id), table)

    def save_model(self, path) -> Path:
        """The trained model as Splink's JSON (atomically): ``link_frames(..., model=path)``
        or Splink's own ``Linker(df, path)`` reuse it without training."""
        path = Path(path)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.model, indent=2, ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)
        return path


def _clusters(pairs: pd.DataFrame, a: pd.DataFrame, b: pd.DataFrame | None) -> pd.DataFrame:
    """Connected components of the links over every record (:mod:`analysis.link.components`),
    numbered from 0 in the order of each cluster's first record."""
    from analysis.link.components import component_roots

    sides = [("records", a)] if b is None else [("left", a), ("right", b)]
    ids = pd.concat(
        [pd.DataFrame({"id": t["unique_id"].astype(str), "side": side}) for side, t in sides],
        ignore_index=True,
    )
    # A left and a right record may share an id: the side is part of the key.
    ls, rs = ("records", "records") if b is None else ("left", "right")
    roots = component_roots([(ls, x) for x in pairs["id_l"]], [(rs, x) for x in pairs["id_r"]])
    keys = list(zip(ids["side"], ids["id"], strict=True))
    return ids.assign(cluster=pd.factorize(pd.Series([roots.get(k, k) for k in keys]))[0])
