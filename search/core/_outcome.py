"""What a trial's end means, decided in one place for every backend.

Outcomes are those of Keras Tuner: COMPLETE with a finite value (or several: a mapping of named
values, or Optuna's tuple); PRUNED when the objective stopped early on the pruner's word (it
raised :class:`objectives.Pruned`, or Optuna's ``TrialPruned``, as every Optuna script and
integration callback does); FAIL, for this trial only, when the objective raised or returned
something that is not a finite number, with the reason in one line. A worker process that died is FAIL too, with its exit code or signal, but
the engine decides that (:mod:`search.core._engine`), since the trial could not say it.
"""

from __future__ import annotations

import math
import sys
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from objectives import DevData, Metric, Objective, TrialHandle

COMPLETE = "COMPLETE"
PRUNED = "PRUNED"
FAIL = "FAIL"


@dataclass(frozen=True, slots=True)
class Outcome:
    """A trial's end: its state, its value (COMPLETE) or why it failed (FAIL)."""

    state: str
    value: float | dict[str, float] | tuple[float, ...] | None = None
    error: str | None = None
    detail: str | None = None  # the traceback of a failure, for search.log


def run_objective(
    objective: Objective,
    config: dict[str, Any],
    data: DevData | None,
    handle: TrialHandle,
    metric: Metric | None,
) -> Outcome:
    """Evaluate ``config`` and say how the trial ended; only an objective's own failure is caught."""
    try:
        value = objective.evaluate(config, data, handle, metric)  # type: ignore[arg-type]
    except Exception as exc:  # noqa: BLE001 - a failing trial fails alone
        return Outcome(PRUNED) if is_pruned(exc) else failure(exc)
    return outcome_of(value)


def is_pruned(exc: BaseException) -> bool:
    """Whether ``exc`` says the trial was pruned: :class:`objectives.Pruned`, or Optuna's
    ``TrialPruned`` (and its subclasses), which only code that imported Optuna can raise."""
    from objectives import Pruned

    optuna = sys.modules.get("optuna")
    return isinstance(exc, Pruned) or (
        optuna is not None and isinstance(exc, optuna.exceptions.TrialPruned)
    )


def outcome_of(value: Any) -> Outcome:
    """COMPLETE with ``value`` as a float (a mapping of named floats, a tuple of floats), or
    FAIL saying why it is not a usable score. Which values a study needs is the driver's to
    check."""
    if isinstance(value, Mapping):
        named = {}
        for name, item in value.items():
            number = _number(item)
            if isinstance(number, str):
                return Outcome(FAIL, error=f"objective returned {number} for {str(name)!r}")
            named[str(name)] = number
        return Outcome(COMPLETE, value=named)
    if isinstance(value, (tuple, list)):  # Optuna's several objectives: the driver names them
        numbers = []
        for index, item in enumerate(value):
            number = _number(item)
            if isinstance(number, str):
                return Outcome(FAIL, error=f"objective returned {number} at position {index}")
            numbers.append(number)
        return Outcome(COMPLETE, value=tuple(numbers))
    number = _number(value)
    if isinstance(number, str):
        return Outcome(FAIL, error=f"objective returned {number}")
    return Outcome(COMPLETE, value=number)


def _number(value: Any) -> float | str:
    """``value`` as a finite float, or what it is instead."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return f"{type(value).__name__}, not a number"
    return number if math.isfinite(number) else str(number)


def failure(exc: BaseException) -> Outcome:
    """FAIL with the exception's class and first line, and its traceback for the log."""
    return Outcome(
        FAIL,
        error=f"{type(exc).__name__}: {first_line(exc)}",
        detail="".join(traceback.format_exception(exc)),
    )


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (empty when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""
