"""The two exceptions of :mod:`objectives`, and how a message names the user's code.

An :class:`ObjectiveError` says that the user's objective, space, data or metric cannot work
(one line that names the culprit, a function by :func:`qualified_name`); :class:`Pruned` says
that the engine's pruner stopped the trial. They sit at the bottom so that every module, the
metrics included, can raise them.
"""

from __future__ import annotations

from typing import Any


class ObjectiveError(ValueError):
    """The user's objective, space or data cannot work together; the message names the culprit."""


class Pruned(Exception):
    """Raised inside an objective when the trial handle says the trial should stop early."""


def qualified_name(fn: Any) -> str:
    """``module.qualname`` of a function (or the type of a callable object)."""
    target = fn if hasattr(fn, "__qualname__") else type(fn)
    module = getattr(target, "__module__", None)
    name = getattr(target, "__qualname__", repr(target))
    return f"{module}.{name}" if module else name
