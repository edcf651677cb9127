"""Intervention effects: which measures bring children back and keep them in school, in
which county, and how sure we are.

Public entry points, each on plain data frames (a researcher's own data as much as the
stage's)::

    from analysis.effects import staggered_did, rdd, aipw, time_to_event, partial_pool
"""

from analysis.effects.aipw import aipw
from analysis.effects.did import randomisation_inference, staggered_did
from analysis.effects.pooling import partial_pool
from analysis.effects.rdd import rdd
from analysis.effects.results import Effect, EffectResult, verdict
from analysis.effects.survival import time_to_event

__all__ = [
    "Effect",
    "EffectResult",
    "aipw",
    "partial_pool",
    "randomisation_inference",
    "rdd",
    "staggered_did",
    "time_to_event",
    "verdict",
]
