"""Knobs of the synthetic prefecture: scale, calibration targets, causal parameters, mess rates.

Everything a user may want to turn is here, as plain data, so that the README can document
it and a researcher can build a variant world with ``SynthParams(...)`` without touching the
simulation code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: School years simulated, named by the calendar year in which they start (2016 = 2016/17).
SCHOOL_YEARS: tuple[int, ...] = (2016, 2017, 2018, 2019, 2020)

# The school calendar (months of each term, school days of each month, the early-2020
# closure) is analysis.calendar's.

#: The seed report's figures for school year 2020/21 (and 2019/20 for returns).
SEED_TARGETS: dict[str, float] = {
    "primary_students": 142_700,
    "junior_students": 73_800,
    "primary_schools": 508,
    "junior_schools": 84,
    "returns_2019": 407,
    "primary_enrolment_rate": 99.97,
    "junior_enrolment_rate": 96.05,
    "disabled_enrolment_rate": 99.66,
    "consolidation_rate": 99.76,
}

#: Yearly share of enrolled students who drop out at least once (new dropout events), by
#: school year, before county and stage multipliers. Falls as the campaign intensifies;
#: 2019 is set exactly so that stock + new dropouts = 407 (the seed's returns).
DROPOUT_RATE_BY_YEAR: dict[int, float] = {
    2016: 0.0085,
    2017: 0.0062,
    2018: 0.0040,
    2019: 0.0013,
    2020: 0.0012,
}

#: Relative dropout risk of junior-middle against primary students.
JUNIOR_MULTIPLIER: float = 9.0
#: Relative risk in the three ethnic-autonomous counties against the others.
AUTONOMOUS_MULTIPLIER: float = 2.6

#: Probability that a dropout returns within 12 months, by school year of dropping out
#: (persuasion reaches more children each year; in 2019/20 every dropout is returned).
RETURN_WITHIN_YEAR: dict[int, float] = {2016: 0.75, 2017: 0.84, 2018: 0.90, 2019: 1.0, 2020: 0.97}

#: The campaign's deadline of 2019/20: every dropout of compulsory age returned by then.
CAMPAIGN_DEADLINE: str = "2020-07-14"


@dataclass(frozen=True)
class MessRates:
    """Rates at which each kind of mess is injected into the raw extracts.

    Rates are per value (or per row, or per file where the name says so). Each injected
    change is recorded in ``data/truth/corruptions.parquet`` with its kind, so the cleaner can
    be scored per kind.
    """

    csv_encoding: tuple[tuple[str, float], ...] = (
        ("gb18030", 0.40),
        ("utf-8", 0.35),
        ("utf-8-sig", 0.25),
    )
    xlsx_title_rows_max: int = 3  # 1..n title rows above the header in an XLSX
    xlsx_merged_header_per_file: float = 0.5  # share of XLSX files with two-row merged headers
    id_excel_float: float = 0.004  # ID typed as a number: 5.30402E+17 / numeric cell
    id_lower_x: float = 0.30  # of IDs ending in X, written with a lower-case x
    id_fullwidth: float = 0.004  # ID written with full-width digits
    id_spaces: float = 0.008  # stray spaces (ASCII or U+3000) in an ID
    id_typo: float = 0.003  # one digit changed (check digit breaks)
    id_transposition: float = 0.002  # two adjacent digits swapped (check digit breaks)
    id_valid_typo: float = 0.0004  # a wrong digit that still passes the check
    id_missing_regno: float = 0.005  # ID blank or replaced by the registry number
    parent_id_legacy15: float = 0.25  # parents born before 1982 listed with a 15-digit ID
    name_spaces: float = 0.008  # stray spaces inside or around a name
    name_homophone: float = 0.004  # one character replaced by a homophone
    name_traditional: float = 0.004  # traditional characters in a name
    legacy_county_address: float = 0.30  # Jiangchuan/Chengjiang address or code in the old form
    date_mixed_format: float = 0.05  # a date in another format than the file's usual one
    duplicate_row: float = 0.003  # exact duplicate of a row in the same file
    transfer_double_listing: float = 0.5  # of in-prefecture transfers, listed in both schools
    unknown_school_code: float = 0.001  # school code not in the roster (mistyped)
    # How the registries record the world (analysis.synth.extracts.recording): lasting
    # properties of the record, the same in every file and both dialects.
    regno_first_typo: float = (
        0.004  # registry number = G + the ID as mistyped at first registration
    )
    l_number_replaced: float = (
        0.6  # of children with an L number, those issued an ID (G number) in the window
    )
    absent_month_recorded_present: float = (
        0.1  # of months a pupil was mostly away, all marked present
    )
    absent_day_recorded_present: float = 0.05  # of days of ordinary truancy, marked present
    ledger_missing: float = 0.06  # dropouts never entered in the persuasion ledger
    ledger_delay_median_days: float = (
        10.0  # days from leaving to the ledger's detection date (lognormal)
    )


@dataclass(frozen=True)
class SynthParams:
    """Everything that defines one synthetic prefecture; defaults reproduce the seed.

    Examples
    --------
    >>> p = SynthParams.preset("small", 1)
    >>> p.fraction, p.mess.id_typo
    (0.05, 0.003)
    >>> messier = SynthParams(**{**p.__dict__, "mess": MessRates(id_typo=0.02)})
    >>> messier.mess.id_typo
    0.02
    """

    scale: str = "yuxi"
    seed: int = 2020
    #: How the extracts are cut into files and titled (the world is the same): 'county'
    #: (a file per county and term) or 'school' (a file per school and term or month, as
    #: another county system exports them; :mod:`analysis.synth.extracts.by_school`).
    dialect: str = "county"
    #: Fraction of Yuxi's size; 'small' is 1/20.
    fraction: float = 1.0
    targets: dict[str, float] = field(default_factory=lambda: dict(SEED_TARGETS))
    mess: MessRates = field(default_factory=MessRates)
    #: Share of each older age cohort that entered grade 1 late (12 % of them two years late).
    late_entry_1: float = 0.085
    #: Share of children who repeated a grade before 2016 (kept small; sets consolidation).
    repeated_before_2016: float = 0.010
    #: Share of local-hukou children whose family lives outside the prefecture all along.
    living_outside: float = 0.025
    #: Yearly share of enrolled children who move out of / into the prefecture with family.
    move_out_per_year: float = 0.006
    move_in_per_year: float = 0.008
    #: Share of students who are migrant children from outside the prefecture (随迁子女).
    migrant_share: float = 0.045
    #: Yearly share of students who change school within the prefecture (besides grade 7).
    transfer_per_year: float = 0.015
    #: Share of children with a disability certificate.
    disability_share: float = 0.012
    #: Share of disabled children of compulsory age taught at home (送教上门).
    home_teaching_share: float = 0.18
    #: Share of rural local children left behind by migrant-worker parents (留守儿童).
    left_behind_share: float = 0.14
    #: Share of children with a (latent) learning difficulty.
    learning_difficulty_share: float = 0.08
    #: Suspensions (休学, illness) per enrolled student per term.
    suspension_per_term: float = 0.0001
    #: Red-list mentoring capacity per county: share of the county's students followed.
    mentoring_capacity_share: float = 0.006
    #: Sick-leave and personal-leave days per student-month (Poisson means).
    sick_leave_mean: float = 0.35
    personal_leave_mean: float = 0.15
    #: Power knob of the validation study: every true effect's size (1 - risk ratio, and a
    #: persuasion step's hazard ratio - 1) times this. 1 keeps the calibrated world.
    effect_size: float = 1.0
    #: Standard deviation of the county-by-term shocks to the dropout rate (log scale): the
    #: counties' trends are parallel only in expectation.
    county_term_shock_sd: float = 0.15
    #: Weight of teachers' judgement in the red-list score (the part of it that knows a
    #: pupil's unrecorded engagement and learning difficulty; the rest is noise), 0..1.
    judgement_signal: float = 0.6
    #: Imperfect compliance with the red list: the share of listed pupils who are not
    #: mentored (family refuses, no mentor free), and of the next-ranked pupils
    #: (ranks capacity+1 .. 3 x capacity) whom a principal adds without their being listed.
    listed_not_mentored: float = 0.12
    mentored_off_list: float = 0.06

    @classmethod
    def preset(cls, scale: str, seed: int, dialect: str = "county") -> SynthParams:
        """The two documented scales: 'yuxi' (full size) and 'small' (about 1/20, for tests).

        >>> SynthParams.preset("yuxi", 2020).fraction
        1.0
        >>> SynthParams.preset("huge", 1)
        Traceback (most recent call last):
        ...
        ValueError: unknown scale 'huge': use 'small' or 'yuxi'
        """
        if scale == "yuxi":
            return cls(scale="yuxi", seed=seed, fraction=1.0, dialect=dialect)
        if scale == "small":
            return cls(scale="small", seed=seed, fraction=0.05, dialect=dialect)
        raise ValueError(f"unknown scale {scale!r}: use 'small' or 'yuxi'")
