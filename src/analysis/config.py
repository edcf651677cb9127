"""The settings of a run, as data: ``resources/config.yaml`` read into frozen dataclasses.

One place holds every number a run depends on that is not a fact of the records: DuckDB's
resources, the link threshold, the monitoring rules of the three comparisons, the model's
parameters, the small-cell threshold. A user overrides them with a YAML file of the same
shape holding only what changes (``analysis --config FILE``) and a command's flags
override that (:meth:`Config.with_`). A key the defaults do not have is an error that
names it, so a typo never passes silently.

Examples
--------
>>> config = Config.load()
>>> config.link.threshold, config.rules.school_age
(0.99, (6, 14))
>>> config.with_("model", n_boot=100).model.n_boot
100
>>> Config.from_dict({"model": {"n_bot": 1}})
Traceback (most recent call last):
...
analysis.config.ConfigError: configuration: unknown setting 'model.n_bot' (model has: capacity, capacity_share, decay, n_boot, n_test, risk_model, seed)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A configuration file or override that cannot be used: the message says which key."""


@dataclass(frozen=True)
class SynthConfig:
    """The synthetic prefecture to build: its scale (``yuxi`` or ``small``), seed and export
    dialect (``county`` or ``school``: :mod:`analysis.synth.extracts.by_school`)."""

    scale: str
    seed: int
    dialect: str


@dataclass(frozen=True)
class EngineConfig:
    """DuckDB's resources and the worker processes of a run."""

    threads: int
    memory_limit: str
    temp_directory: str | None
    workers: int


@dataclass(frozen=True)
class LinkConfig:
    """The linkage stage: match threshold, Splink's sampling seed, where pairs are scored."""

    threshold: float
    seed: int
    engine: str


@dataclass(frozen=True)
class Rules:
    """Thresholds of the monitoring rules, in school days of unexcused absence.

    ``suspected_days``: a run longer than this is a suspected dropout (one school week: 5).
    ``dropout_days``: a run longer than this is a dropout (one month of school: 20 days;
    months have 16-23 school days). ``out_present_days``: a month with unexcused absence
    and at most this many days present is a month *out* (1: a pupil who left on the
    second day, or came once to collect books, is out; chosen on the small prefecture,
    where 0 missed pupils back for a day and 2 let chronic absentees in); ``out_share``: or
    at least this share of the month's school days missed without excuse and none on
    leave. ``school_age``: the compulsory-school ages (completed years on 31 August) of
    comparison 1.
    """

    suspected_days: int
    dropout_days: int
    out_present_days: int
    out_share: float
    school_age: tuple[int, int]


@dataclass(frozen=True)
class ModelConfig:
    """The risk model: validation design, list sizes, features' decay, and the parameters of
    :class:`analysis.model.estimator.RiskModel`."""

    n_test: int
    n_boot: int
    seed: int
    capacity_share: float
    capacity: dict
    decay: float
    risk_model: dict


@dataclass(frozen=True)
class EffectsConfig:
    """Intervention effects: inference, the campaign's forced returns, what matters."""

    ri_draws: int
    seed: int
    censor_returns_from: str
    smallest_effect_pp: float
    smallest_log_hr: float
    policy_names: dict
    pupils_per_mentor: int
    min_arm_events: int


@dataclass(frozen=True)
class ReportConfig:
    """The reports: how many render at once, the inspection plan's rules, and when the
    monitoring panel warns that the model no longer fits a county."""

    workers: int
    notebooks: str
    prefecture_name: str
    screenshots: bool
    inspections_per_month: int
    inspection_cycle_months: int
    psi_warn: float
    psi_alert: float
    drift_features: int
    oe_band: tuple
    auc_floor: float


@dataclass(frozen=True)
class PrivacyConfig:
    """Published tables: counts from 1 to ``small_cell - 1`` are suppressed."""

    small_cell: int


@dataclass(frozen=True)
class Config:
    """Every setting of a run (see ``resources/config.yaml`` for what each means)."""

    synth: SynthConfig
    engine: EngineConfig
    link: LinkConfig
    rules: Rules
    model: ModelConfig
    effects: EffectsConfig
    report: ReportConfig
    privacy: PrivacyConfig

    @classmethod
    def load(cls, path: Path | None = None) -> Config:
        r"""The packaged defaults, with a user's file (same shape, any subset) over them.

        >>> import tempfile
        >>> from pathlib import Path
        >>> f = Path(tempfile.mkdtemp()) / "mine.yaml"
        >>> _ = f.write_text("rules:\n  dropout_days: 15\n")
        >>> Config.load(f).rules.dropout_days, Config.load(f).rules.suspected_days
        (15, 5)
        """
        if path is None:
            return _defaults()
        path = Path(path)
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: cannot read the configuration ({exc})") from None
        return cls.from_dict(doc, where=str(path), base=_defaults())

    @classmethod
    def from_dict(
        cls, doc: dict, where: str = "configuration", base: Config | None = None
    ) -> Config:
        """A configuration from a document of the YAML's shape, over ``base`` (default: the
        packaged defaults).

        >>> Config.from_dict({"link": {"threshold": 0.995}}).link.threshold
        0.995
        >>> Config.from_dict({"links": {}})
        Traceback (most recent call last):
        ...
        analysis.config.ConfigError: configuration: unknown section 'links' (sections: synth, engine, link, rules, model, effects, report, privacy)
        """
        base = base or _defaults()
        if not isinstance(doc, dict):
            raise ConfigError(f"{where}: expected sections (engine, link, ...), not {doc!r}")
        out = base
        for section, values in doc.items():
            if section not in _sections():
                raise ConfigError(
                    f"{where}: unknown section {section!r} (sections: {', '.join(_sections())})"
                )
            if not isinstance(values, dict):
                raise ConfigError(f"{where}: {section} must hold settings, not {values!r}")
            out = out._with(section, values, where)
        return out

    def with_(self, section: str, **values: Any) -> Config:
        """A copy with some settings of one section changed (a command's flags); values of ``None``
        leave the setting as it is.

        >>> c = default_config().with_("model", n_boot=100, n_test=None)
        >>> c.model.n_boot, c.model.n_test
        (100, 4)
        """
        return self._with(section, {k: v for k, v in values.items() if v is not None}, "override")

    def _with(self, section: str, values: dict, where: str) -> Config:
        current = getattr(self, section)
        known = {f.name: f for f in dataclasses.fields(current)}
        changes = {}
        for key, value in values.items():
            if key not in known:
                raise ConfigError(
                    f"{where}: unknown setting '{section}.{key}' ({section} has: "
                    f"{', '.join(sorted(known))})"
                )
            changes[key] = _coerce(value, getattr(current, key), f"{where}: {section}.{key}")
        return dataclasses.replace(self, **{section: dataclasses.replace(current, **changes)})

    def fingerprint(self, *sections: str) -> str:
        """A short hash of the given sections' settings: what a stage's output depends on.

        >>> c = default_config()
        >>> c.fingerprint("rules") == c.with_("model", n_boot=1).fingerprint("rules")
        True
        """
        doc = {s: dataclasses.asdict(getattr(self, s)) for s in sections}
        return hashlib.sha1(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def _coerce(value: Any, default: Any, where: str) -> Any:
    """``value`` in the type of the default it replaces, or an error naming the key."""
    if default is None or value is None:
        return value
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: is_number,
        str: isinstance(value, str),
        tuple: isinstance(value, list | tuple) and len(value) == len(default),
        dict: isinstance(value, dict),
    }[type(default)]
    if not ok:
        raise ConfigError(
            f"{where}: expected {type(default).__name__} like {default!r}, not {value!r}"
        )
    if isinstance(default, float):
        return float(value)
    if isinstance(default, tuple):
        return tuple(_coerce(v, d, where) for v, d in zip(value, default, strict=True))
    if isinstance(default, dict):  # merged over the default, keys as text (county codes)
        return {**default, **{str(k): v for k, v in value.items()}}
    return value


def _sections() -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(Config))


@cache
def _defaults() -> Config:
    """The packaged ``config.yaml``, which must set every setting (it is their one home)."""
    where = "resources/config.yaml"
    doc = yaml.safe_load((files("analysis.resources") / "config.yaml").read_text(encoding="utf-8"))
    sections = {}
    for f in dataclasses.fields(Config):
        typ, values = _TYPES[f.name], doc.get(f.name) or {}
        names = {g.name for g in dataclasses.fields(typ)}
        if set(values) != names:
            raise ConfigError(
                f"{where}: {f.name}: missing {sorted(names - set(values))}, "
                f"unknown {sorted(set(values) - names)}"
            )
        sections[f.name] = typ(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        )
    return Config(**sections)


_TYPES = {
    "synth": SynthConfig,
    "engine": EngineConfig,
    "link": LinkConfig,
    "rules": Rules,
    "model": ModelConfig,
    "effects": EffectsConfig,
    "report": ReportConfig,
    "privacy": PrivacyConfig,
}


def default_config() -> Config:
    """The packaged configuration (:meth:`Config.load` without a file).

    >>> default_config().engine.threads
    2
    """
    return _defaults()


#: The monitoring rules as the packaged configuration states them.
DEFAULT_RULES = _defaults().rules
