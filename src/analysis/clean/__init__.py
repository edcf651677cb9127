"""Cleaning: messy registry extracts in, trustworthy tables out, nothing lost.

:func:`clean` is the stage (``analysis clean``); :func:`read_raw_file` shows how one raw
file is understood; the normalisers (:func:`normalize_ids`, :func:`normalize_names`,
:func:`parse_dates`) work on any Arrow column.
"""

from analysis.clean.dates import parse_dates
from analysis.clean.ids import normalize_ids
from analysis.clean.names import normalize_names
from analysis.clean.read import RawFileError, read_raw_file
from analysis.clean.stage import clean

__all__ = [
    "RawFileError",
    "clean",
    "normalize_ids",
    "normalize_names",
    "parse_dates",
    "read_raw_file",
]
