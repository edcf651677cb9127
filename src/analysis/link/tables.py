"""The clean tables joined to the person index: what the comparisons, the indicators and the
model read.

:func:`base_tables` builds them in a DuckDB connection and returns a :class:`BaseTables`,
which every later function takes as its argument: a function's inputs are in its
signature, never a table an earlier call happened to leave behind. The tables (their
names are attributes of the object, for SQL):

* ``xj`` and ``hk``: the registry's and the household check's rows with their person;
* ``reg``: one row per person and registry term (the snapshot two weeks into the term):
  status, study mode, grade, school, county, entry year. A pupil listed by two schools in
  a term (a transfer) keeps what the row that says most says (辍学 > 休学 > 转出 > 在读),
  then the larger school code; a value missing from that row (a school code nulled as
  unknown) is taken from the next; ties go by the value itself: the same every run;
* ``am``: one row per person and attendance month: days required, present, on leave
  (``leave``, of which ``sick`` and ``pers``onal), unexcused (``unx``), and the school;
* ``disabled``: the persons holding a disability certificate;
* ``schools``: the roster (school code, name, county, township);
* ``ledger``: the persuasion ledger's cases (劝返复学台账) by person (empty if none);
* ``poverty``: per person in the poverty registry, the year the household was registered
  and the year it was lifted out (null if not yet).

The registry term of a row and the county of a household-check row are read from the
file's name (``…_2019-1.csv``, ``530402_…``) until issue 16 reads them from content.
"""

from __future__ import annotations

from dataclasses import dataclass

from analysis.engine import scan
from analysis.layout import Layout


@dataclass(frozen=True)
class BaseTables:
    """The base tables in ``con`` (see the module docstring); attributes name them."""

    con: object
    xj: str = "xj"
    hk: str = "hk"
    reg: str = "reg"
    am: str = "am"
    disabled: str = "disabled"
    schools: str = "schools"
    ledger: str = "ledger"
    poverty: str = "poverty"


class _Source:
    """The clean tables of a layout joined to its person index, as SQL."""

    def __init__(self, layout: Layout):
        self.layout = layout

    def has(self, kind: str) -> bool:
        return self.layout.table(kind).exists()

    def table(self, kind: str) -> str:
        """The clean table ``kind``, or an empty one of its columns when none was delivered
        (so every later query runs, on no rows, and the stage says what it lacked)."""
        if self.has(kind):
            return scan(self.layout.table(kind))
        return f"({empty_table_sql(kind)})"

    def ref(self, kind: str) -> str:
        return f"(SELECT * FROM {self.table(kind)})"

    def joined(self, kind: str, columns: str, alias: str = "x") -> str:
        return (
            f"SELECT i.person_id, {columns} "
            f"FROM {self.table(kind)} {alias} "
            f"JOIN {scan(self.layout.person_index)} i ON i.kind = '{kind}' "
            f"AND i.source_file = {alias}.source_file AND i.source_sheet = {alias}.source_sheet "
            f"AND i.source_row = {alias}.source_row"
        )


_DUCK_TYPES = {
    "string": "VARCHAR", "large_string": "VARCHAR", "int32": "INTEGER", "int64": "BIGINT",
    "double": "DOUBLE", "date32[day]": "DATE", "bool": "BOOLEAN", "int8": "TINYINT",
    "int16": "SMALLINT", "float": "FLOAT",
}  # fmt: skip


def empty_table_sql(kind: str) -> str:
    """SQL of an empty clean table ``kind``: its declared columns and types, no rows.

    >>> from analysis.engine import connect
    >>> connect().execute(f"SELECT count(*) FROM ({empty_table_sql('hukou')})").fetchall()
    [(0,)]
    """
    from analysis.clean.headers import load_dictionary
    from analysis.clean.schema import load_schema
    from analysis.clean.write import output_schema

    specs, schemas = load_dictionary(), load_schema()
    sch = output_schema(kind, specs, schemas[kind])
    cols = ", ".join(
        f'CAST(NULL AS {_DUCK_TYPES.get(str(f.type), "VARCHAR")}) AS "{f.name}"' for f in sch
    )
    return f"SELECT {cols} WHERE false"


def joined(layout: Layout, kind: str, columns: str, alias: str = "x") -> str:
    """SQL of clean table ``kind``'s ``columns`` (over alias ``alias``) with each row's
    ``person_id``: for the stages that read more of the clean tables than the base ones.

    Parameters
    ----------
    layout : the data folder.
    kind : a clean table (``xueji``, ``hukou``, ``poverty`` ...).
    columns : the SQL select list over the table's alias.
    alias : the clean table's alias in ``columns``.

    Returns
    -------
    str
        A query of ``person_id`` and ``columns``.

    Examples
    --------
    >>> from analysis.engine import connect
    >>> con = connect()
    >>> q = joined(prefecture, "poverty", "x.registered_year")
    >>> con.execute(f"SELECT min(registered_year) FROM ({q})").fetchall()[0][0]
    2014
    >>> con.close()
    """
    return _Source(layout).joined(kind, columns, alias)


def base_tables(con, layout: Layout) -> BaseTables:
    """Build the base tables of ``layout``'s clean tables and person index in ``con``.

    Parameters
    ----------
    con : a DuckDB connection (:func:`analysis.engine.connect`), which holds the tables.
    layout : the data folder whose ``interim/`` and person index are read.

    Returns
    -------
    BaseTables
        The connection and the names of the tables in it; every later step (the census, the
        runs of absence, the lists, the model's features) takes it as its argument.

    Examples
    --------
    >>> from analysis.engine import connect
    >>> con = connect()
    >>> t = base_tables(con, prefecture)
    >>> con.execute(f"SELECT count(DISTINCT term) FROM {t.reg}").fetchall()[0][0]
    10
    >>> sorted(con.execute(f"SELECT * FROM {t.am} LIMIT 0").df().columns)
    ['leave', 'month', 'pers', 'person_id', 'pres', 'req', 'school_code', 'sick', 'unx']
    >>> con.close()
    """
    src = _Source(layout)
    t = BaseTables(con)
    _schools(con, src, t)
    _registry(con, src, t)
    _household(con, src, t)
    _attendance(con, src, t)
    _ledger(con, src, t)
    _poverty(con, src, t)
    if src.has("disability"):
        con.execute(
            f"CREATE OR REPLACE TABLE {t.disabled} AS SELECT DISTINCT person_id FROM "
            f"({src.joined('disability', 'x.cert_no')})"
        )
    else:
        con.execute(f"CREATE OR REPLACE TABLE {t.disabled} (person_id VARCHAR)")
    return t


def _schools(con, src: _Source, t: BaseTables) -> None:
    con.execute(
        f"""CREATE OR REPLACE TABLE {t.schools} AS
        SELECT school_code, any_value(school_name ORDER BY school_name) AS school_name,
               any_value(county_code ORDER BY county_code) AS county_code,
               any_value(county ORDER BY county) AS county,
               any_value(township ORDER BY township) AS school_township
        FROM {src.ref("schools")} GROUP BY school_code"""
    )


def _registry(con, src: _Source, t: BaseTables) -> None:
    registry = src.joined(
        "xueji",
        "x.term, x.status, "
        "x.study_mode, x.grade, x.school_code, year(x.entry_date) AS entry_year, "
        "x.migrant = '是' AS migrant, x.name, x.sex, x.birth_date, x.id_number",
    )
    con.execute(f"CREATE OR REPLACE TABLE {t.xj} AS {registry}")
    # One row per person and term: of the rows that say most, the larger school code; each
    # column from the row that says most among those holding a value for it (a school code
    # nulled as unknown leaves the code to the other row), ties broken by the value itself.
    says = "CASE status WHEN '辍学' THEN 4 WHEN '休学' THEN 3 WHEN '转出' THEN 2 ELSE 1 END"
    con.execute(
        f"""CREATE OR REPLACE TABLE {t.reg} AS
        WITH x AS (SELECT *, {says} AS says FROM {t.xj} WHERE term IS NOT NULL),
        r AS (
            SELECT person_id, term,
                   arg_max(status, (says, school_code, status)) AS status,
                   arg_max(study_mode, (says, school_code, study_mode)) AS study_mode,
                   arg_max(school_code, (says, school_code)) AS school_code,
                   max(grade) AS grade, min(entry_year) AS entry_year,
                   bool_or(migrant) AS migrant
            FROM x GROUP BY person_id, term)
        SELECT r.*, s.county_code, s.school_name, s.school_township
        FROM r LEFT JOIN {t.schools} s USING (school_code)"""
    )


def _household(con, src: _Source, t: BaseTables) -> None:
    household = src.joined(
        "hukou",
        "x.year, x.county_code, x.note, "
        "x.name, x.sex, x.birth_date, x.id_number, x.township, x.village",
    )
    con.execute(f"CREATE OR REPLACE TABLE {t.hk} AS {household}")


def _attendance(con, src: _Source, t: BaseTables) -> None:
    if not src.has("attendance"):
        con.execute(
            f"CREATE OR REPLACE TABLE {t.am} (person_id VARCHAR, month DATE, school_code VARCHAR, "
            "req INTEGER, pres INTEGER, leave INTEGER, unx INTEGER, sick INTEGER, pers INTEGER)"
        )
        return
    attendance = src.joined(
        "attendance",
        "x.month, x.school_code, x.days_required, x.days_present, "
        "coalesce(x.sick_leave, 0) AS sick, coalesce(x.personal_leave, 0) AS pers, "
        "x.unexcused",
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE am_rows AS
        SELECT person_id, month, school_code, days_required::INTEGER AS req,
               days_present::INTEGER AS pres, (sick + pers)::INTEGER AS leave,
               unexcused::INTEGER AS unx, sick::INTEGER AS sick, pers::INTEGER AS pers
        FROM ({attendance}) WHERE month IS NOT NULL"""
    )
    # A pupil has one row a month, unless two schools both sent one (a transfer in
    # mid-month): summing 12 million rows costs more than looking for such pairs.
    twice = con.execute(
        "SELECT count(*) FROM (SELECT 1 FROM am_rows GROUP BY person_id, month HAVING count(*) > 1)"
    ).fetchall()[0][0]
    con.execute(
        f"CREATE OR REPLACE TABLE {t.am} AS SELECT * FROM am_rows"
        if not twice
        else f"""CREATE OR REPLACE TABLE {t.am} AS
        SELECT person_id, month, arg_max(school_code, (req, school_code)) AS school_code,
               sum(req)::INTEGER AS req, sum(pres)::INTEGER AS pres,
               sum(leave)::INTEGER AS leave, sum(unx)::INTEGER AS unx,
               sum(sick)::INTEGER AS sick, sum(pers)::INTEGER AS pers
        FROM am_rows GROUP BY person_id, month"""
    )
    con.execute("DROP TABLE am_rows")


def _ledger(con, src: _Source, t: BaseTables) -> None:
    if src.has("persuasion"):
        ledger = src.joined(
            "persuasion",
            "x.detected, x.step1, x.step2, x.step3, x.step4, x.return_date, x.outcome",
        )
        con.execute(f"CREATE OR REPLACE TABLE {t.ledger} AS {ledger}")
    else:
        con.execute(
            f"CREATE OR REPLACE TABLE {t.ledger} (person_id VARCHAR, detected DATE, step1 DATE, "
            "step2 DATE, step3 DATE, step4 DATE, return_date DATE, outcome VARCHAR)"
        )


def _poverty(con, src: _Source, t: BaseTables) -> None:
    if src.has("poverty"):
        members = src.joined("poverty", "x.registered_year, x.lifted_year")
        con.execute(
            f"""CREATE OR REPLACE TABLE {t.poverty} AS
            SELECT person_id, min(registered_year) AS registered_year,
                   max(lifted_year) AS lifted_year
            FROM ({members}) WHERE registered_year IS NOT NULL GROUP BY person_id"""
        )
    else:
        con.execute(
            f"CREATE OR REPLACE TABLE {t.poverty} (person_id VARCHAR, registered_year INTEGER, "
            "lifted_year INTEGER)"
        )
