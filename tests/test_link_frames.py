"""The researcher's linker (:func:`analysis.link.link_frames`) on data it was never tuned to:
names in another script and order, IDs of another length, fuzzy addresses; its result
object (pairs, clusters, model, diagnostics, the waterfall of one pair); a saved model
reused without training; Splink's own terms for every setting; logging left as found;
and a clear message for each bad input (issue 17)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from analysis.link import LinkResult, link_frames
from analysis.link.records import prepare_records
from analysis.link.result import waterfall

GIVEN = ["james", "olivia", "noah", "emma", "liam", "ava", "lucas", "mia", "ethan", "zoe",
         "oscar", "ruby", "henry", "isla", "leo", "chloe", "jack", "grace", "max", "ella"]  # fmt: skip
SURNAMES = ["smith", "jones", "brown", "wilson", "taylor", "nguyen", "martin", "walker",
            "white", "harris", "clark", "young", "king", "wright", "scott", "green"]  # fmt: skip
STREETS = ["station road", "church street", "park avenue", "hill crescent", "river lane"]


def _typo(rng, s: str) -> str:
    i = int(rng.integers(0, len(s)))
    return s[:i] + rng.choice(list("aeioustrn")) + s[i + 1 :]


@pytest.fixture(scope="module")
def people() -> tuple[pd.DataFrame, pd.DataFrame]:
    """400 people, and a second registry of the same people written differently: a name
    in the other order in a quarter, a typo in a name, an ID or a birth date in a tenth
    each, the address re-spelled; ids are 9 characters (not Chinese ID numbers)."""
    rng = np.random.default_rng(7)
    n = 400
    a = pd.DataFrame(
        {
            "pid": [f"A{i:04d}" for i in range(n)],
            "first": rng.choice(GIVEN, n),
            "last": rng.choice(SURNAMES, n),
            "dob": pd.to_datetime("1950-01-01")
            + pd.to_timedelta(rng.integers(0, 20000, n), unit="D"),
            "ssn": [f"{x:09d}" for x in rng.integers(10**8, 10**9, n)],
            "addr": [
                f"{k} {s}"
                for k, s in zip(rng.integers(1, 200, n), rng.choice(STREETS, n), strict=True)
            ],
            "zip": [f"{x}" for x in rng.integers(2000, 2100, n)],
        }
    )
    b = pd.DataFrame({"rid": [f"B{i:04d}" for i in range(n)]})
    full = a["first"] + " " + a["last"]
    swapped = a["last"] + ", " + a["first"]
    b["full_name"] = np.where(rng.random(n) < 0.25, swapped, full)
    typo = rng.random(n) < 0.1
    b.loc[typo, "full_name"] = [_typo(rng, s) for s in b.loc[typo, "full_name"]]
    b["born"] = a["dob"].dt.strftime("%d/%m/%Y")
    bad_dob = rng.random(n) < 0.1
    b.loc[bad_dob, "born"] = (a.loc[bad_dob, "dob"] + pd.Timedelta(days=1)).dt.strftime("%d/%m/%Y")
    b["id"] = a["ssn"]
    u = rng.random(n)
    swapped_digits = u < 0.1
    b.loc[swapped_digits, "id"] = [
        s[:4] + s[5] + s[4] + s[6:] for s in a.loc[swapped_digits, "ssn"]
    ]
    b.loc[(u >= 0.1) & (u < 0.15), "id"] = None  # not written down
    wrong = (u >= 0.15) & (u < 0.2)  # another person's
    b.loc[wrong, "id"] = rng.permutation(a.loc[wrong, "ssn"].to_numpy())
    b["address"] = a["addr"].str.replace("road", "rd").str.replace("street", "st").str.upper()
    b["post"] = a["zip"]
    return a, b.sample(frac=1, random_state=3).reset_index(drop=True)


LEFT = {"id": "pid", "given_name": "first", "surname": "last", "birth_date": "dob",
        "id_number": "ssn", "address": "addr", "postcode": "zip"}  # fmt: skip
RIGHT = {"id": "rid", "name": "full_name", "birth_date": "born", "id_number": "id",
         "address": "address", "postcode": "post"}  # fmt: skip


@pytest.fixture(scope="module")
def result(people) -> LinkResult:
    a, b = people
    return link_frames(a, b, roles=LEFT, right_roles=RIGHT, dayfirst=True)


def test_it_links_what_it_was_never_tuned_to(result):
    p = result.pairs
    assert {"id_l", "id_r", "match_weight", "match_probability", "found_by"} <= set(p.columns)
    right = p["id_l"].str[1:] == p["id_r"].str[1:]
    assert right.mean() >= 0.995  # precision
    assert right.sum() >= 0.98 * 400  # recall, with a quarter of the names reordered
    assert p["id_l"].is_unique and (p["match_probability"] >= 0.5).all()
    assert result.threshold == 0.5 and result.link_type == "link_only"
    # One cluster per person: each linked left record shares it with its right record.
    c = result.clusters
    assert set(c["side"]) == {"left", "right"} and len(c) == 800
    linked = c.set_index("id")["cluster"]
    assert (linked[p["id_l"]].to_numpy() == linked[p["id_r"]].to_numpy()).all()
    assert "LinkResult(link_only: 400 × 400 records" in repr(result)


def test_the_diagnostics_say_how_each_part_did(result):
    d = result.diagnostics()
    assert set(d) == {"blocking", "parameters", "weights", "prior", "notes"}
    b = d["blocking"]
    assert b["linked"].sum() == len(result.pairs) and b["share_of_links"].sum() == pytest.approx(1)
    assert (b["pairs"] >= b["linked"]).all()
    m = d["parameters"]
    assert {"name", "birth_date", "id_number", "address", "postcode"} <= set(m["comparison"])
    est = m.dropna(subset=["m", "u"])  # a level never seen in training has no estimate
    assert len(est) >= 0.5 * len(m)
    assert est["m"].between(0, 1).all() and est["u"].between(0, 1).all()
    exact_id = m[(m["comparison"] == "id_number") & (m["level"] == "Exact match on id_number")]
    assert (exact_id["match_weight"] > 5).all() and exact_id["trained"].all()
    assert not d["notes"]["note"].str.contains("EM").any()  # every training session ran
    w = d["weights"]
    assert w["pairs"].sum() >= len(result.pairs) and w["linked"].sum() == w["linked"].sum()


def test_explain_gives_the_waterfall_of_one_pair(result):
    row = result.pairs.iloc[0]
    e = result.explain(row["id_l"], row["id_r"])
    t = e.table
    assert t["term"].iloc[0] == "prior" and t["term"].iloc[-1] == "total"
    assert t["weight"].iloc[-1] == pytest.approx(row["match_weight"], abs=1e-6)
    assert e.match_probability == pytest.approx(row["match_probability"], rel=1e-6)
    assert len(e.chart().patches) == len(t)
    # A pair that is not linked can be explained too: its total is below the threshold.
    other = result.pairs["id_r"].iloc[1]
    assert result.explain(row["id_l"], other).match_probability < 0.5
    with pytest.raises(KeyError, match="no record 'nobody' in the left"):
        result.explain("nobody", row["id_r"])


def test_a_saved_model_gives_the_same_links_without_training(result, people, tmp_path):
    a, b = people
    path = result.save_model(tmp_path / "model.json")
    again = link_frames(a, b, roles=LEFT, right_roles=RIGHT, model=path, dayfirst=True)
    assert not again.trained
    assert again.pairs[["id_l", "id_r"]].equals(result.pairs[["id_l", "id_r"]])
    np.testing.assert_allclose(again.pairs["match_weight"], result.pairs["match_weight"])


def test_deduplicating_one_table(people):
    a, _ = people
    dup = pd.concat([a, a.iloc[:50].assign(pid=lambda d: d["pid"] + "d",
                                           first=lambda d: d["first"].str.upper())])  # fmt: skip
    r = link_frames(dup, roles=LEFT)
    assert r.link_type == "dedupe_only"
    found = {tuple(sorted(x)) for x in zip(r.pairs["id_l"], r.pairs["id_r"], strict=True)}
    assert {(f"A{i:04d}", f"A{i:04d}d") for i in range(50)} <= found
    assert len(found) <= 52
    assert r.clusters["cluster"].nunique() == len(a)


def test_everything_is_set_in_splinks_own_terms(people):
    import splink.comparison_library as cl
    from splink import block_on

    a, b = people
    r = link_frames(
        a, b, roles=LEFT, right_roles=RIGHT, keep=(),
        comparisons=[cl.ExactMatch("id_number"), cl.ExactMatch("birth_date")],
        blocking_rules=[block_on("postcode"), "l.id_number = r.id_number"],
        training_blocks=[block_on("postcode")], threshold=0.9,
    )  # fmt: skip
    assert [c["output_column_name"] for c in r.model["comparisons"]] == ["id_number", "birth_date"]
    assert len(r.blocking) == 2 and r.threshold == 0.9
    assert (r.pairs["match_probability"] >= 0.9).all()


def test_a_rule_too_wide_for_the_data_is_left_out_and_said(people):
    a, b = people
    r = link_frames(a, b, roles=LEFT, right_roles=RIGHT, max_pairs_per_rule=300)
    assert any("left out" in n and "postcode" in n for n in r.notes)
    assert not r.diagnostics()["notes"].empty


def test_logging_is_left_as_it_was_found(people):
    a, b = people
    lg = logging.getLogger("splink")
    lg.setLevel(logging.INFO)
    root = logging.getLogger()
    handlers = list(root.handlers)
    try:
        link_frames(a.head(60), b.head(60), roles=LEFT, right_roles=RIGHT)
        assert lg.level == logging.INFO and root.handlers == handlers
    finally:
        lg.setLevel(logging.NOTSET)


def test_bad_input_is_named():
    df = pd.DataFrame({"姓名": ["李丽", "王芳"], "出生日期": ["2010-01-02", "2011-03-04"]})
    with pytest.raises(ValueError, match=r"left: unknown role\(s\) \['nickname'\]"):
        link_frames(df, df, roles={"name": "姓名", "nickname": "姓名"})
    with pytest.raises(ValueError, match=r"right: role 'birth_date': column\(s\) \['生日'\]"):
        link_frames(df, df, roles={"name": "姓名", "birth_date": "出生日期"},
                    right_roles={"name": "姓名", "birth_date": "生日"})  # fmt: skip
    with pytest.raises(ValueError, match=r"records: record ids are not unique"):
        link_frames(df.assign(k=["a", "a"]), roles={"id": "k", "name": "姓名"})
    with pytest.raises(ValueError, match=r"roles: say which column"):
        link_frames(df, df)
    with pytest.raises(ValueError, match=r"model: cannot read a Splink model"):
        link_frames(df, df, roles={"name": "姓名"}, model="/nonexistent/model.json")
    with pytest.raises(TypeError, match=r"left: expected a pandas DataFrame"):
        link_frames([1, 2], df, roles={"name": "姓名"})


def test_names_are_keyed_by_script_and_order():
    df = pd.DataFrame(
        {
            "n": ["李丽", "Smith, John", "JOHN SMITH", "José  Álvarez"],
            "s": [None, "smith", None, None],
        }
    )
    out = prepare_records(df, {"name": "n"})
    assert out["name_py"].tolist() == ["li li", "john smith", "john smith", "alvarez jose"]
    assert out["surname_py"].tolist()[0] == "li" and out["surname_py"].isna().tolist()[1:] == [
        True, True, True,
    ]  # fmt: skip
    ids = prepare_records(pd.DataFrame({"i": ["12-345 678", None]}), {"id_number": "i"})
    assert ids["id_number"].tolist()[0] == "12345678"


def test_the_waterfall_of_a_saved_model_reads_its_levels():
    import splink.comparison_library as cl
    from splink import SettingsCreator

    model = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[cl.JaroWinklerAtThresholds("x", [0.9])],
        probability_two_random_records_match=0.01,
    ).create_settings_dict("duckdb")
    _, exact, close, _ = model["comparisons"][0]["comparison_levels"]
    exact.update(m_probability=0.8, u_probability=0.1)
    close.update(m_probability=0.15, u_probability=0.2)  # "other" keeps Splink's default
    assert waterfall(model, {"gamma_x": 2})["level"].tolist()[1] == "Exact match on x"
    assert waterfall(model, {"gamma_x": 0})["level"].tolist()[1] == "All other comparisons"
    assert waterfall(model, {"gamma_x": -1})["weight"].iloc[1] == 0
    with pytest.raises(KeyError, match="gamma_x"):
        waterfall(model, {})
