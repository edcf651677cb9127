"""What a person reads, in Chinese or English: the labels of ``resources/labels.yaml``.

The command line, the model cards and the reports take their wording from here, so a
label is changed in one file and every output follows.

Examples
--------
>>> label("models", "logistic_regression")
'逻辑回归'
>>> label("models", "logistic_regression", "en")
'logistic regression'
>>> labels("groups", "en")["county_code"]
'county'
>>> label("metrics", "precision_at_list", "short")
'prec@list'
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

import yaml

#: The languages every label has; ``short`` and ``format`` are optional forms.
LANGUAGES = ("zh", "en")


@cache
def _doc() -> dict:
    doc = yaml.safe_load((files("analysis.resources") / "labels.yaml").read_text(encoding="utf-8"))
    for section, entries in doc.items():
        for key, entry in entries.items():
            missing = [lang for lang in LANGUAGES if lang not in (entry or {})]
            if missing:
                raise ValueError(f"labels.yaml: {section}.{key} has no {', '.join(missing)} label")
    return doc


def label(section: str, key: str, form: str = "zh") -> str:
    """The label of ``key`` in ``section``: ``form`` is ``zh``, ``en``, ``short`` (falls back
    to ``zh``) or ``format``. An unknown key is an error naming it."""
    try:
        entry = _doc()[section][key]
    except KeyError:
        raise KeyError(f"labels.yaml has no label {section}.{key}") from None
    if form == "short":
        return entry.get("short", entry["zh"])
    return entry[form]


def labels(section: str, form: str = "zh") -> dict[str, str]:
    """Every label of a section, in file order."""
    return {k: label(section, k, form) for k in _doc()[section]}


def bilingual(section: str, key: str) -> str:
    """``中文 English``, as the command line shows a figure's name.

    >>> bilingual("seed_figures", "primary_schools")
    '小学 primary schools'
    """
    return f"{label(section, key, 'zh')} {label(section, key, 'en')}"
