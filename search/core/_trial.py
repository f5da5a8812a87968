"""Run one trial: sample a config, evaluate the objective, tell the store the outcome.

Outcomes are those of Keras Tuner: COMPLETE with a finite value; PRUNED when the objective
stopped early on the pruner's word; FAIL (this trial only) when the objective raised or
returned a non-finite number, with the reason kept in the trial's ``error`` attribute. A
``KeyboardInterrupt`` fails the trial and propagates, so the whole run stops.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.core._strategies import OptunaTrialHandle

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

    from objectives import DevData, Metric, Objective
    from spaces import Space

log = logging.getLogger("search")


@dataclass(frozen=True, eq=False)
class TrialTask:
    """Everything a worker needs to run trials, and nothing sealed."""

    space: Space
    objective: Objective
    data: DevData | None
    metric: Metric | None
    seed: int
    artifacts: Path | None = None  # RESULTS/NAME/trials: where trials may keep files


def run_trial(study: optuna.Study, trial: optuna.Trial, task: TrialTask) -> FrozenTrial:
    """Evaluate ``trial``, record its outcome in ``study`` and the log; return it finished."""
    finished = _evaluate(study, trial, task)
    log_finished(finished)
    return finished


def log_finished(trial: FrozenTrial) -> None:
    """One line in ``search.log`` for a finished trial, whichever backend ran it."""
    log.info(
        "trial %d %s value=%s params=%s", trial.number, trial.state.name, trial.value, trial.params
    )


def _evaluate(study: optuna.Study, trial: optuna.Trial, task: TrialTask) -> FrozenTrial:
    from optuna.trial import TrialState

    from objectives import Pruned

    handle = OptunaTrialHandle(trial, task.seed, task.artifacts)
    try:
        config = task.space.sample(trial)
        value: Any = task.objective.evaluate(config, task.data, handle, task.metric)  # type: ignore[arg-type]
    except Pruned:
        return study.tell(trial, state=TrialState.PRUNED)
    except KeyboardInterrupt:
        trial.set_user_attr("error", "interrupted")
        study.tell(trial, state=TrialState.FAIL)
        raise
    except Exception as exc:  # noqa: BLE001 - a failing trial fails alone
        log.exception("trial %d failed", trial.number)
        return _fail(study, trial, f"{type(exc).__name__}: {_first_line(exc)}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        return _fail(study, trial, f"objective returned {type(value).__name__}, not a number")
    if not math.isfinite(number):
        return _fail(study, trial, f"objective returned {number}")
    return study.tell(trial, number)


def _fail(study: optuna.Study, trial: optuna.Trial, reason: str) -> FrozenTrial:
    from optuna.trial import TrialState

    trial.set_user_attr("error", reason)
    return study.tell(trial, state=TrialState.FAIL)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""
