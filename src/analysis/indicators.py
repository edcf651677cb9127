"""The bureau's indicators, defined once, with their formulas.

Definitions follow the Ministry of Education's statistical indicator explanations (教育统计
指标解释) as the domain brief states them. Yuxi runs six years of primary and three of
junior-middle school; ages are taken on 1 September of the school year.

* **Primary school-age enrolment rate (小学学龄儿童入学率)**::

      100 × (children aged 6-11 enrolled in primary school or higher)
          ÷ (children aged 6-11 living in the prefecture)

* **Junior-middle school-age enrolment rate (初中学龄人口入学率)**::

      100 × (children aged 12-14 enrolled in junior-middle school or higher)
          ÷ (children aged 12-14 living in the prefecture)

  Over-age children still in primary school count in the denominator only, which is why
  this rate is lower.

* **Enrolment rate of children with disabilities (残疾儿童入学率)**::

      100 × (certified disabled children aged 6-14 enrolled, home teaching included)
          ÷ (certified disabled children aged 6-14 living in the prefecture)

* **Nine-year consolidation rate (九年义务教育巩固率)** for the class graduating in summer ``Y``::

      100 × (students completing grade 9 in summer Y)
          ÷ (students who entered grade 1 in autumn Y-9, net of normal transfers)

  "Net of normal transfers" (含正常流动生): children who moved into the prefecture join the
  base, children who moved out with their families leave it. Children who dropped out stay
  in the base.

"Enrolled" means in school on the census date (the first day of the autumn term): a child on
suspension (休学) or out of school after dropping out is not enrolled, a child taught at home
(送教上门) is. "Living in the prefecture" is the resident population: children with local
household registration who live here, plus migrant children living here.

Per county, an enrolled child counts in the county of the school, any other child in the
county of residence.
"""

from __future__ import annotations

import pandas as pd

#: Age bands on 1 September.
PRIMARY_BAND = (6, 11)
JUNIOR_BAND = (12, 14)
DISABLED_BAND = (6, 14)


def _rate(num: pd.Series, den: pd.Series) -> pd.Series:
    return (100 * num / den.where(den > 0)).round(4)


def enrolment_rates(children: pd.DataFrame) -> pd.DataFrame:
    """Enrolment rates per year and county, plus the prefecture ('5304').

    Parameters
    ----------
    children : one row per child and school year with columns ``year``, ``county_code``,
        ``age`` (on 31 August), ``resident`` (bool), ``enrolled`` (bool), ``grade`` (1-9 when
        enrolled; 10 for beyond junior-middle), ``disabled`` (bool).

    Returns
    -------
    pandas.DataFrame
        One row per (year, county_code) with numerators, denominators and rates in percent.

    Examples
    --------
    >>> kids = pd.DataFrame({"year": 2020, "county_code": "530402", "age": [7, 8, 13, 13],
    ...                      "resident": True, "enrolled": [True, True, True, False],
    ...                      "grade": [2, 3, 6, 0], "disabled": False})
    >>> rates = enrolment_rates(kids).set_index("county_code")
    >>> rates.loc["530402", ["primary_enrolment_rate", "junior_enrolment_rate"]].tolist()
    [100.0, 0.0]
    """
    df = children[children["resident"]].copy()
    age = df["age"]
    df["p_band"] = age.between(*PRIMARY_BAND)
    df["j_band"] = age.between(*JUNIOR_BAND)
    df["d_band"] = age.between(*DISABLED_BAND) & df["disabled"]
    df["p_in"] = df["p_band"] & df["enrolled"] & (df["grade"] >= 1)
    df["j_in"] = df["j_band"] & df["enrolled"] & (df["grade"] >= 7)
    df["d_in"] = df["d_band"] & df["enrolled"]
    cols = ["p_band", "p_in", "j_band", "j_in", "d_band", "d_in"]
    by_county = df.groupby(["year", "county_code"])[cols].sum().reset_index()
    pref = df.groupby("year")[cols].sum().reset_index()
    pref["county_code"] = "5304"
    out = pd.concat([by_county.astype({"county_code": str}), pref], ignore_index=True)
    out["primary_enrolment_rate"] = _rate(out["p_in"], out["p_band"])
    out["junior_enrolment_rate"] = _rate(out["j_in"], out["j_band"])
    out["disabled_enrolment_rate"] = _rate(out["d_in"], out["d_band"])
    return out.sort_values(["year", "county_code"]).reset_index(drop=True)


def consolidation_rates(registry: pd.DataFrame, years: list[int]) -> pd.DataFrame:
    """Nine-year consolidation rate for each graduation year, per county and prefecture.

    Parameters
    ----------
    registry : one row per child ever in the prefecture's registry, with ``entry_year``
        (autumn of grade-1 entry), ``graduated_year`` (summer of grade-9 completion, 0 if not),
        ``member_<Y>`` (bool: in the registry through the spring of ``Y``, net of normal
        transfers; provided for each requested year) and ``county_code`` (county of the last
        school).
    years : the graduation years.

    Returns
    -------
    pandas.DataFrame
        ``year``, ``county_code``, ``graduates``, ``base``, ``consolidation_rate`` (percent).

    Examples
    --------
    >>> reg = pd.DataFrame({"entry_year": 2011, "graduated_year": [2020, 2020, 2020, 0],
    ...                     "member_2020": True, "county_code": "530402"})
    >>> consolidation_rates(reg, [2020])["consolidation_rate"].tolist()
    [75.0, 75.0]
    """
    rows = []
    for y in years:
        member = registry[f"member_{y}"]
        base = registry[member & (registry["entry_year"] == y - 9)]
        grads = registry[registry["graduated_year"] == y]
        for code, b in [*list(base.groupby("county_code")), ("5304", base)]:
            g = grads if code == "5304" else grads[grads["county_code"] == code]
            rows.append({"year": y, "county_code": str(code), "graduates": len(g), "base": len(b)})
    out = pd.DataFrame(rows, columns=["year", "county_code", "graduates", "base"])
    out["consolidation_rate"] = _rate(out["graduates"], out["base"])
    return out
