"""Reading finished trials the same way everywhere: the best, the budget, the abandoned.

A trial a run left unfinished (killed, interrupted) is marked abandoned: it is FAIL in the store
but does not count toward ``--trials``, so a resumed run runs its slot again.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

#: system attribute of a trial its run left unfinished
ABANDONED = "search:abandoned"
#: system attribute holding the sha256 of each file a trial kept, by path in its folder
FILES = "search:files"
#: system attribute naming the worker that ran the trial (``host:pid``)
WORKER = "search:worker"


def counts_toward_budget(trial: FrozenTrial) -> bool:
    """Every trial counts except those a run abandoned: their slots run again."""
    return ABANDONED not in trial.system_attrs


def best_trial(trials: Sequence[FrozenTrial], direction: str) -> FrozenTrial | None:
    """The COMPLETE trial with the best value (lowest number on ties), or ``None``."""
    done = [t for t in trials if t.state.name == "COMPLETE" and t.value is not None]
    if not done:
        return None
    sign = -1.0 if direction == "maximize" else 1.0
    return min(done, key=lambda t: (sign * float(t.value), t.number))  # type: ignore[arg-type]


def spread(values: Sequence[float]) -> dict[str, Any]:
    """Mean, standard deviation, min and max of validation scores."""
    if not values:
        return {}
    return {
        "n": len(values),
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
    }


def duration(trial: FrozenTrial) -> float | None:
    """Seconds from the trial's start to its end, or ``None`` while it runs."""
    if trial.datetime_start is None or trial.datetime_complete is None:
        return None
    return round((trial.datetime_complete - trial.datetime_start).total_seconds(), 4)
