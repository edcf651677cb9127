"""What every effect estimate returns: an :class:`Effect` (one number with its interval)
and an :class:`EffectResult` (a design's estimates, the assumptions it rests on and how
they were checked, and a tidy table), printed the way R's ``summary()`` prints.

The verdict rule lives here too: an interval that holds both a helpful and a harmful
effect of a size that matters says 数据不足以判断 (the records cannot tell), not a number
presented as a finding.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: Verdicts, by what the 95 % interval says (see :func:`verdict`).
HELPS, HARMS, NO_EFFECT, CANNOT_TELL = "有效", "有害", "无明显效果", "数据不足以判断"


@dataclass(frozen=True)
class Effect:
    """One estimate: value, standard error and 95 % interval, on the scale ``unit``.

    ``method`` says how the interval was made (analytic, randomisation inference, ...).

    >>> e = Effect("ATT", -0.5, 0.2, -0.9, -0.1, "pp", "analytic")
    >>> e
    ATT = -0.500 pp [-0.900, -0.100] (analytic)
    """

    name: str
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    unit: str = ""
    method: str = "analytic"
    p_value: float = np.nan

    def __repr__(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return (
            f"{self.name} = {self.estimate:.3f}{unit} "
            f"[{self.ci_low:.3f}, {self.ci_high:.3f}] ({self.method})"
        )

    @classmethod
    def normal(cls, name: str, estimate: float, se: float, unit: str = "", method: str = "analytic", level: float = 0.95) -> Effect:  # fmt: skip
        """An estimate with a normal interval and a two-sided p-value against zero."""
        from scipy.stats import norm

        z = norm.ppf(0.5 + level / 2)
        p = 2 * norm.sf(abs(estimate / se)) if se > 0 else np.nan
        return cls(name, float(estimate), float(se), estimate - z * se, estimate + z * se, unit, method, float(p))  # fmt: skip

    def covers(self, value: float) -> bool:
        """Whether the interval holds ``value`` (for scoring against a known truth)."""
        return bool(self.ci_low <= value <= self.ci_high)

    def row(self) -> dict:
        return {
            "estimand": self.name,
            "estimate": self.estimate,
            "se": self.se,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "p_value": self.p_value,
            "unit": self.unit,
            "interval": self.method,
        }


def verdict(ci_low: float, ci_high: float, smallest_effect: float, helpful_sign: int = -1) -> str:
    """What an interval lets an official say about a measure.

    ``smallest_effect`` is the smallest effect size (absolute, on the estimate's scale)
    that would matter to the bureau; ``helpful_sign`` is -1 when a lower outcome is better
    (dropout). An interval wholly on the helpful side says 有效, wholly on the harmful side
    有害; one inside ±``smallest_effect`` says 无明显效果; one that reaches past
    ``smallest_effect`` on both sides cannot tell a helpful measure from a harmful one:
    数据不足以判断. Otherwise (it excludes a harmful effect of that size but not zero) it is
    still not a finding, so 数据不足以判断 too.

    >>> verdict(-0.9, -0.1, 0.2), verdict(-0.1, 0.1, 0.2), verdict(-2.0, 1.5, 0.2)
    ('有效', '无明显效果', '数据不足以判断')
    >>> verdict(0.3, 0.8, 0.2)
    '有害'
    """
    lo, hi = sorted((helpful_sign * ci_low, helpful_sign * ci_high))
    if lo > 0:
        return HELPS
    if hi < 0:
        return HARMS
    if lo >= -smallest_effect and hi <= smallest_effect:
        return NO_EFFECT
    return CANNOT_TELL


@dataclass
class EffectResult:
    """A design's answer: headline effects, a tidy table of every estimate, and the
    assumptions with how each was checked.

    ``design``: e.g. "Callaway–Sant'Anna staggered DiD"; ``effects``: the headline numbers
    (one per kind of interval); ``table``: every estimate (one row each, tidy); ``checks``:
    assumption -> what the data said; ``n``: counts (units, clusters, treated ...).
    """

    design: str
    outcome: str
    effects: list[Effect]
    table: pd.DataFrame
    checks: dict[str, str] = field(default_factory=dict)
    n: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        head = "; ".join(repr(e) for e in self.effects[:2])
        return f"<{self.design}: {head}>"

    @property
    def effect(self) -> Effect:
        """The headline estimate (the first)."""
        return self.effects[0]

    def tidy(self) -> pd.DataFrame:
        """Every estimate, one row each (like broom's ``tidy``)."""
        return self.table.copy()

    def summary(self) -> str:
        """A readable summary: design, outcome, estimates with intervals, assumptions and
        their checks, counts."""
        lines = [self.design, f"Outcome: {self.outcome}", ""]
        width = max(len(e.name) for e in self.effects)
        lines.append(f"{'':{width}}  estimate      se   [95% interval]      interval")
        for e in self.effects:
            lines.append(
                f"{e.name:{width}}  {e.estimate:8.4f} {e.se:7.4f}   "
                f"[{e.ci_low:8.4f}, {e.ci_high:8.4f}]  {e.method}"
            )
        if self.checks:
            lines += ["", "Assumptions and checks:"]
            lines += [f"  - {k}: {v}" for k, v in self.checks.items()]
        if self.n:
            lines += ["", "n: " + ", ".join(f"{k} {v:,}" for k, v in self.n.items())]
        lines += [f"Note: {x}" for x in self.notes]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html

        return f"<pre>{html.escape(self.summary())}</pre>" + self.table.to_html(index=False)
