"""The link stage's summary, as frames: who was linked by which rule, the latest school
year's enrolment rates, and the three comparisons' counts per county. The command line
prints them; a notebook shows the same frames."""

from __future__ import annotations

import pandas as pd

from analysis.labels import label
from analysis.layout import Layout
from analysis.runs import read_manifest

#: The comparison columns of the summary: (list, category or None for all, label key).
COMPARISON_COLUMNS = (
    ("1_not_enrolled", "失学", "失学"),
    ("1_not_enrolled", "残疾缓学", "残疾缓学"),
    ("2_dropouts", "辍学", "辍学"),
    ("2_dropouts", "疑似辍学", "疑似辍学"),
    ("3_poverty", None, "贫困"),
)
COMPARISON_LEGEND = (
    "1 失学 not enrolled, 缓学 deferred for disability; 2 辍学 dropouts (runs begun this "
    "year), 疑似 suspected only; 3 贫困 poor households' children out of school; 返校 "
    "returns; 巩固率 nine-year consolidation rate."
)


def _pct(v) -> str:
    return "–" if v is None or pd.isna(v) else f"{v:.2f} %"


def _county(code: str) -> str:
    return "prefecture" if code == "5304" else code


def rules_table(manifest: dict) -> pd.DataFrame:
    """Rows tied to persons by each linkage rule, with its share of all rows."""
    rules = manifest.get("rules", {})
    total = sum(rules.values()) or 1
    return pd.DataFrame(
        [
            {"rule": label("link_rules", r, "en"), "rows": n, "share": f"{100 * n / total:.2f} %"}
            for r, n in rules.items()
        ]
    )


def enrolment_table(doc: dict) -> tuple[str, pd.DataFrame]:
    """The latest school year's enrolment rates per county (prefecture first), titled."""
    rows = doc["enrolment"]
    year = max(r["year"] for r in rows)
    latest = sorted(
        (r for r in rows if r["year"] == year), key=lambda r: r["county_code"] != "5304"
    )
    frame = pd.DataFrame(
        [
            {
                "county": _county(r["county_code"]),
                "primary 6-11": _pct(r["primary_enrolment_rate"]),
                "junior-middle 12-14": _pct(r["junior_enrolment_rate"]),
                "with disabilities 6-14": _pct(r["disabled_enrolment_rate"]),
            }
            for r in latest
        ]
    )
    title = (
        f"Enrolment, school year {year}/{(year + 1) % 100:02d} (autumn census, from the registries)"
    )
    return title, frame


def comparisons_table(doc: dict) -> tuple[str, pd.DataFrame] | None:
    """The three lists' counts per county for the latest school year, its returns and the
    consolidation rate of the latest graduation year, titled."""
    rows = pd.DataFrame(doc.get("comparisons", []))
    if rows.empty:
        return None
    first = rows.loc[rows["list"] == "1_not_enrolled", "school_year"]
    year = int(first.max() if len(first) else rows["school_year"].max())
    rows = rows[rows["school_year"] == year]
    missing = doc.get("not_computed", {})
    mon = pd.DataFrame(doc.get("monitoring", []))
    mon = mon[mon["term"].str.startswith(str(year))] if len(mon) else mon
    cons = pd.DataFrame(doc.get("consolidation", []))
    last = int(cons["year"].max()) if len(cons) else None
    out = []
    for code in sorted(rows["county_code"].unique(), key=lambda c: (c != "5304", c)):
        mine = rows[rows["county_code"] == code]
        r = {"county": _county(code)}
        for lst, cat, key in COMPARISON_COLUMNS:
            sel = mine[(mine["list"] == lst) & ((mine["category"] == cat) if cat else True)]
            lacking = any(lst.split("_", 1)[0] in w.split(" ", 1)[0] for w in missing)
            r[label("categories", key, "short")] = (
                "–" if lacking and sel.empty else f"{int(sel['children'].sum()):,}"
            )
        r["返校"] = (
            f"{int(mon.loc[mon['county_code'] == code, 'returns'].sum()):,}" if len(mon) else "0"
        )
        if last:
            rate = cons.loc[
                (cons["year"] == last) & (cons["county_code"] == code), "consolidation_rate"
            ]
            r[f"巩固率{last}"] = _pct(rate.iloc[0] if len(rate) else None)
        out.append(r)
    title = (
        f"三比对 · the three comparisons, school year {year}/{(year + 1) % 100:02d} "
        "(children; lists in processed/checks/)"
    )
    return title, pd.DataFrame(out)


def summary_tables(manifest: dict, layout: Layout) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """The link stage's summary tables and notes (reads ``indicators.json`` if present)."""
    m = manifest
    tables = {"Linkage · who is who": rules_table(m)}
    notes = [
        f"{m.get('persons', 0):,} persons ({m.get('persons_with_id', 0):,} found by an ID "
        f"number); {m.get('entities_matched', 0):,} of {m.get('entities_without_id', 0):,} "
        "records or registry numbers without a valid ID matched at probability ≥ "
        f"{m.get('threshold')} ({m.get('seconds', 0)} s)."
    ]
    doc = read_manifest(layout.indicators)
    if doc:
        title, frame = enrolment_table(doc)
        tables[title] = frame
        comp = comparisons_table(doc)
        if comp:
            tables[comp[0]] = comp[1]
            notes.append(COMPARISON_LEGEND)
        for what, why in doc.get("not_computed", {}).items():
            notes.append(f"Not computed: {what}: {why}.")
    notes.append(f"Person index, lists and indicators in {layout.processed}.")
    return tables, notes


def match_probabilities(layout: Layout) -> pd.DataFrame:
    """The probabilistic links' match probabilities, binned: how close to the threshold the
    linker had to go (``bin`` lower edge, ``rows``, ``rule``)."""
    import duckdb

    from analysis.engine import scan

    with duckdb.connect() as con:
        return con.execute(
            f"""SELECT rule, floor(match_probability * 1000) / 1000 AS bin, count(*) AS rows
            FROM {scan(layout.person_index)}
            WHERE match_probability IS NOT NULL GROUP BY ALL ORDER BY rule, bin"""
        ).df()


def weak_spots(validation: dict | None) -> pd.DataFrame | None:
    """Pairwise precision and recall by kind of identity error, from ``analysis validate``'s
    report (synthetic data only: a real prefecture has no truth), weakest recall first; None
    when the report is not there."""
    if not validation or "link" not in validation:
        return None
    rows = [
        {"error": k, "records": v["records"], "precision": v["precision"], "recall": v["recall"]}
        for k, v in validation["link"].get("by_error", {}).items()
    ]
    return pd.DataFrame(rows).sort_values("recall", ignore_index=True)


def lists_by_county(doc: dict, year: int | None = None) -> pd.DataFrame:
    """Children on each comparison list by county and category, for school year ``year``
    (default: the latest), counties as rows (the prefecture last)."""
    c = pd.DataFrame(doc.get("comparisons", []))
    if c.empty:
        return c
    year = year or int(c["school_year"].max())
    c = c[c["school_year"] == year]
    c = c.assign(column=c["list"].str[:1] + " " + c["category"])
    out = c.pivot_table(index="county_code", columns="column", values="children", aggfunc="sum")
    out = out.fillna(0).astype(int)
    order = [k for k in out.index if k != "5304"] + (["5304"] if "5304" in out.index else [])
    return out.loc[order].rename(index=_county).rename_axis(index=f"county ({year}/{year + 1})")


#: Statuses of the timeline in the order a strip chart stacks them.
TIMELINE_STATUSES = (
    "在读",
    "送教上门",
    "返校",
    "疑似辍学",
    "辍学",
    "休学",
    "转出",
    "失学",
    "残疾缓学",
)


def example_timeline(layout: Layout, status: str = "返校") -> pd.DataFrame:
    """One child's status in every term, chosen as the first (by pseudonymous id) who ever
    had ``status``: the person id, term, status and school code, no name."""
    import duckdb

    from analysis.engine import scan

    path = layout.check("timeline")
    with duckdb.connect() as con:
        return con.execute(
            f"""WITH who AS (SELECT min(person_id) AS person_id FROM {scan(path)}
                             WHERE status = '{status}')
            SELECT t.person_id, t.term, t.status, t.school_code, t.county_code
            FROM {scan(path)} t SEMI JOIN who USING (person_id) ORDER BY t.term"""
        ).df()


def status_counts(layout: Layout) -> pd.DataFrame:
    """Children by status and term (the timeline, counted): terms as rows."""
    import duckdb

    from analysis.engine import scan

    with duckdb.connect() as con:
        t = con.execute(
            f"SELECT term, status, count(*) AS n FROM {scan(layout.check('timeline'))} GROUP BY ALL"
        ).df()
    out = t.pivot_table(index="term", columns="status", values="n", aggfunc="sum").fillna(0)
    return out[[s for s in TIMELINE_STATUSES if s in out.columns]].astype(int)
