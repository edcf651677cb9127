"""Files we did not write: the same small prefecture exported in the second dialect.

``analysis synth --dialect school`` cuts the same world into the files another county's
system sends (a registry file per school and term, an attendance file per school and month,
the school and the term or month only in the file name, the registry system's header words,
each county's column order, forms ending in totals and signatures, a roster without county
codes). The pipeline must read every file, keep exactly the rows the county dialect keeps,
and find the same children, with every count per county summing to the prefecture's.
"""

from __future__ import annotations

import json

import duckdb
import pandas as pd
import pytest

from analysis.layout import CHECK_LISTS, Layout
from analysis.validate import Truth, validate_checks, validate_clean, validate_link

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def school(tmp_path_factory):
    """The small prefecture in the school dialect, cleaned and linked: (layout, truth)."""
    from analysis.clean.stage import clean
    from analysis.link.stage import link
    from analysis.synth import SynthParams, synthesize

    data = tmp_path_factory.mktemp("school") / "data"
    synthesize(SynthParams.preset("small", 7, dialect="school"), data)
    clean(Layout(data))
    link(Layout(data))
    return Layout(data), data / "truth"


def _kept(layout: Layout) -> dict[str, int]:
    manifest = json.loads(layout.clean_manifest.read_text(encoding="utf-8"))
    out: dict[str, int] = {}
    for f in manifest["files"]:
        for kind in set(f["kinds"]):
            out[kind] = out.get(kind, 0) + f["rows_kept"]
    return out


def test_every_file_is_read_and_every_row_accounted_for(school):
    layout, truth = school
    manifest = json.loads(layout.clean_manifest.read_text(encoding="utf-8"))
    files = pd.read_parquet(truth / "files.parquet")
    assert manifest["totals"]["files"] == len(files) > 1500  # a file per school and month
    assert manifest["totals"]["rejected"] == 0, [
        f["message"] for f in manifest["files"] if f["status"] == "rejected"
    ][:3]
    for f in manifest["files"]:
        assert f["rows_read"] == f["rows_kept"] + f["rows_merged"] + sum(
            f["rows_quarantined"].values()
        ), f["file"]
    # What each file is about came from its name or title, never guessed.
    att = [f for f in manifest["files"] if f["kinds"] == ["attendance"]]
    assert all(f["context"]["month"].endswith("(name)") for f in att)
    assert all(f["context"]["school_code"].endswith("(name)") for f in att)
    reg = [f for f in manifest["files"] if f["kinds"] and f["kinds"][0] == "xueji"]
    assert all(f["context"]["term"].endswith(("(name)", "(title)")) for f in reg)


def test_footers_are_footers_and_the_rows_kept_are_the_county_dialects(school, linked):
    """Totals and signatures are recognised as such (none kept, none blamed on a pupil), and
    the clean tables hold exactly the records the county dialect's files give."""
    layout, truth = school
    with Truth(truth) as t:
        scores = validate_clean(layout, t)
    assert scores["footer_rows"] > 500
    assert scores["footer_rows_recognised"] == scores["footer_rows"]
    assert scores["clean_rows_wrongly_quarantined"] == 0
    county_dialect = _kept(Layout(linked[0]))
    ours = _kept(layout)
    for kind in ("xueji", "attendance", "hukou", "schools"):
        assert ours[kind] == county_dialect[kind], kind


def test_the_roster_without_county_codes_still_gives_every_row_its_county(school):
    layout, _ = school
    con = duckdb.connect()
    for kind in ("schools", "xueji", "attendance", "hukou"):
        n, missing = con.execute(
            f"SELECT count(*), count(*) - count(county_code) "
            f"FROM read_parquet('{layout.table(kind)}/*.parquet')"
        ).fetchall()[0]
        assert n > 0 and missing == 0, kind
    # and the county is the true one: each school's, as the synthetic roster has it
    schools = con.execute(
        f"SELECT school_code, county_code FROM read_parquet('{layout.table('schools')}/*.parquet')"
    ).df()
    assert (schools["school_code"].str[4:6] == schools["county_code"].str[-2:]).all()


def test_linkage_lists_and_indicators_as_good_as_in_the_county_dialect(school):
    layout, truth = school
    with Truth(truth) as t:
        lk = validate_link(layout, t)["pairwise"]
        checks = validate_checks(layout, t)
    assert lk["precision"] >= 0.9999 and lk["recall"] >= 0.999
    for key in ("not_enrolled", "dropouts", "suspected_and_dropouts"):
        assert checks[key]["precision"] >= 0.95, key
    assert checks["not_enrolled"]["recall"] >= 0.98
    assert checks["dropouts"]["recall"] >= 0.95
    assert checks["poverty"]["recall"] >= 0.9
    ours = pd.DataFrame(json.loads(layout.indicators.read_text(encoding="utf-8"))["enrolment"])
    true = pd.read_parquet(truth / "indicators.parquet")
    m = ours.merge(true, on=["year", "county_code"], suffixes=("", "_t"))
    assert len(m) == len(true)
    pref = m[m["county_code"] == "5304"].set_index("year")
    for rate in ("primary_enrolment_rate", "junior_enrolment_rate", "disabled_enrolment_rate"):
        assert abs(pref.loc[2020, rate] - pref.loc[2020, f"{rate}_t"]) <= 0.05, rate
        assert (pref[rate] - pref[f"{rate}_t"]).abs().max() <= 0.1, rate


@pytest.mark.parametrize("dialect", ["county", "school"])
def test_counts_per_county_sum_to_the_prefecture(dialect, school, linked):
    """No child is lost between the counties and the prefecture: every list row has a
    county, and every count of the indicators sums over the counties to the prefecture's."""
    layout = school[0] if dialect == "school" else Layout(linked[0])
    doc = json.loads(layout.indicators.read_text(encoding="utf-8"))
    for table, counts in (
        ("enrolment", ["p_band", "p_in", "j_band", "j_in", "d_band", "d_in"]),
        ("monitoring", ["suspected", "dropouts", "returns"]),
    ):
        df = pd.DataFrame(doc[table])
        key = "year" if "year" in df else "term"
        pref = df[df["county_code"] == "5304"].set_index(key)[counts]
        counties = df[df["county_code"] != "5304"].groupby(key)[counts].sum()
        pd.testing.assert_frame_equal(
            counties.loc[pref.index], pref, check_dtype=False, obj=f"{dialect} {table}"
        )
    for key in ("not_enrolled", "dropouts", "poverty"):
        df = pd.read_parquet(layout.processed / "checks" / CHECK_LISTS[key])
        assert df["county_code"].notna().all() and (df["county_code"] != "").all(), key
