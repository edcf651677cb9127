"""The linker's defaults, derived from the roles both sides have: Splink comparisons,
blocking rules (as the columns each equates), EM training blocks and the rules the share of
matches is estimated from. :mod:`analysis.link.frames` explains why each is what it is.
"""

from __future__ import annotations

from collections.abc import Mapping


def present(*role_maps: Mapping) -> set[str]:
    """The roles every side has (``name`` stands for a whole name however it is given).

    >>> sorted(present({"name": "a", "sex": "s"}, {"given_name": "g", "sex": "s"}))
    ['name', 'sex']
    """
    sets = []
    for roles in role_maps:
        s = set(roles) - {"id"}
        if s & {"given_name", "surname"}:
            s.add("name")
        sets.append(s)
    return set.intersection(*sets) if sets else set()


def _null(*cols: str):
    import splink.comparison_level_library as cll

    sql = " OR ".join(f'"{c}_l" IS NULL OR "{c}_r" IS NULL' for c in cols)
    return cll.CustomLevel(sql, "null", base_dialect_str="duckdb").configure(is_null_level=True)


def _custom(sql: str, label: str):
    import splink.comparison_level_library as cll

    return cll.CustomLevel(sql, label, base_dialect_str="duckdb")


def name_comparison(alt: bool = False):
    """A whole name: the same characters, the same key (pinyin, or the sorted folded words;
    with ``alt``, either name of either side), close keys, the same surname and initials."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    same = '"name_py_l" = "name_py_r"'
    if alt:
        same += (
            ' OR "name_py_l" = "alt_py_r" OR "alt_py_l" = "name_py_r" OR "alt_py_l" = "alt_py_r"'
        )
    return cl.CustomComparison(
        output_column_name="name",
        comparison_description="name: characters, key, close key, surname and initials",
        comparison_levels=[
            cll.NullLevel("name_py"),
            cll.ExactMatchLevel("name"),
            _custom(same, "same key"),
            cll.JaroWinklerLevel("name_py", 0.92),
            cll.JaroWinklerLevel("name_py", 0.80),
            _custom(
                '"surname_py_l" = "surname_py_r" AND "initials_l" = "initials_r"',
                "same surname and initials",
            ),
            cll.ElseLevel(),
        ],
    )


def id_comparison(prefix: bool = True):
    """An identity number of any length: exact, one edit, the same first 15 digits."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    levels = [
        _custom(
            '("id_number_l" IS NULL OR "id_number_r" IS NULL) '
            'AND ("id15_l" IS NULL OR "id15_r" IS NULL)',
            "null",
        ).configure(is_null_level=True),
        cll.ExactMatchLevel("id_number"),
        cll.DamerauLevenshteinLevel("id_number", 1),
    ]
    if prefix:
        levels.append(cll.ExactMatchLevel("id15"))
    return cl.CustomComparison(
        output_column_name="id_number",
        comparison_description="ID number: exact, one edit, first 15 digits",
        comparison_levels=[*levels, cll.ElseLevel()],
    )


def birth_comparison():
    """A birth date: exact, one edit in its digits, within a month, within a year."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    return cl.CustomComparison(
        output_column_name="birth_date",
        comparison_description="birth date: exact, one typo, within a month, within a year",
        comparison_levels=[
            _null("birth_digits"),
            cll.ExactMatchLevel("birth_digits"),
            cll.DamerauLevenshteinLevel("birth_digits", 1),
            cll.AbsoluteDateDifferenceLevel(
                "birth_date", input_is_string=False, threshold=31, metric="day"
            ),
            cll.AbsoluteDateDifferenceLevel(
                "birth_date", input_is_string=False, threshold=366, metric="day"
            ),
            cll.ElseLevel(),
        ],
    )


def guardian_comparison():
    """A guardian's name (pinyin), or the other parent's."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    return cl.CustomComparison(
        output_column_name="guardian",
        comparison_description="guardian's name (pinyin), or the other parent's",
        comparison_levels=[
            cll.NullLevel("guardian_py"),
            cll.ExactMatchLevel("guardian_py"),
            _custom(
                '"guardian_py_l" = "alt_guardian_py_r" OR "alt_guardian_py_l" = "guardian_py_r"',
                "the other parent",
            ),
            cll.ElseLevel(),
        ],
    )


def default_comparisons(roles: set[str]) -> list:
    """The comparisons for the roles both sides have (see the module docstring).

    >>> [c.create_output_column_name() for c in default_comparisons({"name", "postcode"})]
    ['name', 'postcode']
    """
    import splink.comparison_library as cl

    out = []
    if "name" in roles:
        out.append(name_comparison(alt="alt_name" in roles))
    if "birth_date" in roles:
        out.append(birth_comparison())
    if "sex" in roles:
        out.append(cl.ExactMatch("sex"))
    if "id_number" in roles or "id_partial" in roles:
        out.append(id_comparison())
    if "student_no" in roles:
        out.append(cl.ExactMatch("student_no"))
    if "guardian_name" in roles:
        out.append(guardian_comparison())
    if "address" in roles:
        out.append(cl.JaroWinklerAtThresholds("address", [0.85]))
    if "postcode" in roles:
        out.append(cl.DamerauLevenshteinAtThresholds("postcode", [1]))
    if "county" in roles:
        out.append(cl.ExactMatch("county"))
    if not out:
        raise ValueError("no role both sides have: nothing to compare")
    return out


def default_blocking(roles: set[str]) -> list[tuple[str, ...]]:
    """Blocking rules for the roles both sides have, as the columns each rule equates,
    most specific first: each identifier; the birth date with the surname and with the
    name's initials (they survive any identifier error and a typo in the name); the name
    with the area (survives a wrong birth date); the birth date with the address, the
    postcode or the guardian (a child registered under another name); then single keys
    (the name, the surname, the birth date, the postcode, the address), which catch a
    record with errors in several fields at once but make many pairs in large tables:
    :func:`link_frames` leaves out any rule that would make more than
    ``max_pairs_per_rule`` pairs, and says so.

    >>> default_blocking({"name", "birth_date", "id_number"})[:3]
    [('id_number',), ('id15',), ('birth_date', 'surname_py')]
    """
    rules: list[tuple[str, ...]] = []
    if "id_number" in roles:
        rules.append(("id_number",))
    if "id_number" in roles or "id_partial" in roles:
        rules.append(("id15",))
    if "student_no" in roles:
        rules.append(("student_no",))
    if {"birth_date", "name"} <= roles:
        rules += [("birth_date", "surname_py"), ("birth_date", "initials")]
    area = [c for c in ("county", "postcode") if c in roles]
    if "name" in roles:
        rules += [("name_py", a) for a in area]
    if "birth_date" in roles:
        for other, col in (("address", "address"), ("postcode", "postcode"),
                           ("guardian_name", "guardian_py"), ("county", "county")):  # fmt: skip
            if other in roles:
                rules.append(("birth_date", col))
    if "name" in roles:
        rules += [("name_py",), ("surname_py",)]
    for role, col in (("birth_date", "birth_date"), ("postcode", "postcode"),
                      ("address", "address")):  # fmt: skip
        if role in roles:
            rules.append((col,))
    if not rules:
        raise ValueError("no role to block on: give a name, a birth date or an identifier")
    return rules


def default_training(roles: set[str]) -> tuple[list, list]:
    """Candidate EM training blocks, as two lists of increasingly narrow rules (column
    tuples): the first block fixes the birth date (its sessions learn the names and the
    rest), the second a place or the name (they learn the birth date). The widest rule of
    each list that makes at most ``em_max_pairs`` pairs on these data is used.

    >>> a, b = default_training({"name", "birth_date", "postcode"})
    >>> a, b
    ([('birth_date',), ('birth_date', 'postcode'), ('birth_date', 'initials')], [('postcode',), ('name_py',), ('name_py', 'postcode')])
    """
    first: list[tuple[str, ...]] = []
    second: list[tuple[str, ...]] = []
    if "birth_date" in roles:
        first = [("birth_date",)]
        first += [("birth_date", c) for c in ("county", "postcode") if c in roles]
        if "name" in roles:
            first.append(("birth_date", "initials"))
    for c in ("postcode", "address"):
        if c in roles:
            second.append((c,))
    if "name" in roles:
        second.append(("name_py",))
        second += [("name_py", c) for c in ("county", "postcode") if c in roles]
    return first, second


def default_prior_rules(roles: set[str]) -> list:
    """Rules that are nearly always right (the share of matches is estimated from them):
    the same ID number; the same name and birth date."""
    from splink import block_on

    rules = []
    if "id_number" in roles:
        rules.append(block_on("id_number"))
    if {"name", "birth_date"} <= roles:
        rules.append(block_on("name_py", "birth_date"))
    if not rules:
        rules.append(block_on(*(["name_py"] if "name" in roles else ["unique_id"])))
    return rules
