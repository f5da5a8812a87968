"""The two exceptions of :mod:`objectives`: a user error, and a trial stopped early.

An :class:`ObjectiveError` says that the user's objective, space, data or metric cannot work
(one line that names the culprit); :class:`Pruned` says that the engine's pruner stopped the
trial. They sit at the bottom so that every module, the metrics included, can raise them.
"""

from __future__ import annotations


class ObjectiveError(ValueError):
    """The user's objective, space or data cannot work together; the message names the culprit."""


class Pruned(Exception):
    """Raised inside an objective when the trial handle says the trial should stop early."""
