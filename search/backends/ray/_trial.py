"""The worker side of the Ray backend: the function Ray Tune runs for a trial, and its handle.

The driver samples the config (see :mod:`search.backends.ray._search`) and passes it with the trial's
number; :func:`train` evaluates the objective exactly as the local backend does and reports
to Tune. Every ``trial.report(value, step)`` of the objective is one Tune result, which the
scheduler reads; the trial's outcome (COMPLETE, PRUNED, FAIL) travels in its last result.

How Tune stops a trial: ``ray.tune.report`` blocks until the driver has read the result. When
the scheduler stops the trial, the blocked report ends in ``SystemExit(0)`` as soon as Tune
hands the process to the next trial (or ends it). :class:`RayTrialHandle` turns that into the
local contract: ``report`` returns, ``should_prune()`` says True, the objective raises
``Pruned``; :func:`train` then ends the thread quietly, so the process is free at once.

This module is imported only where a run uses Ray (in the driver and in Ray's workers).
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.core._strategies import made_trial_dir

if TYPE_CHECKING:
    from search.core._trial import TrialTask

log = logging.getLogger("search")

# Keys of the results a trial reports to Tune.
SCORE = "search_score"  # an intermediate (or the final) score: what the schedulers compare
STEP = "search_step"  # the objective's step (fold or epoch) of an intermediate score
ATTRS = "search_attrs"  # JSON of the attributes the objective set since the last report
OUTCOME = "search_outcome"  # COMPLETE, PRUNED or FAIL: only in a trial's last result
VALUE = "search_value"  # the objective's validation score, with OUTCOME COMPLETE
ERROR = "search_error"  # why a trial failed, with OUTCOME FAIL

# Keys of the config the driver gives a trial.
NUMBER = "number"  # the trial's number in the study store
CONFIG = "config"  # the sampled config (short names), or None when sampling failed
SAMPLING_ERROR = "sampling_error"  # why sampling failed, when it did


class RayTrialHandle:
    """A trial running under Ray Tune seen through the :class:`objectives.TrialHandle` protocol.

    ``should_prune()`` is True once Tune's scheduler has stopped the trial; a further
    ``report`` then raises :class:`objectives.Pruned`, for objectives that do not ask.
    """

    __slots__ = ("_artifacts", "_attrs", "number", "seed", "stopped")

    def __init__(self, number: int, seed: int | None, artifacts: Path | None = None) -> None:
        self.number = number
        self.seed = seed
        self._artifacts = artifacts
        self._attrs: dict[str, Any] = {}
        self.stopped = False

    @property
    def artifact_dir(self) -> Path | None:
        """This trial's folder under ``RESULTS/NAME/trials/``, created on first use."""
        return made_trial_dir(self._artifacts, self.number)

    def report(self, value: float, step: int) -> None:
        from ray import tune

        from objectives import Pruned

        if self.stopped:
            raise Pruned("stopped by the scheduler")
        try:
            tune.report({SCORE: float(value), STEP: int(step), ATTRS: self.take_attrs()})
        except SystemExit as stop:  # Tune ends a report this way when the trial was stopped
            if stop.code not in (0, None):
                raise
            self.stopped = True

    def should_prune(self) -> bool:
        return self.stopped

    def set_attr(self, key: str, value: Any) -> None:
        json.dumps(value)  # the store keeps JSON: fail in the objective, as Optuna would
        self._attrs[key] = value

    def take_attrs(self) -> str:
        """The attributes set since the last call, as JSON."""
        text = json.dumps(self._attrs)
        self._attrs = {}
        return text


def train(config: dict[str, Any], task: TrialTask) -> None:
    """Tune's function trainable: evaluate one sampled config and report its outcome."""
    from ray import tune

    _see_only_assigned_gpus()
    handle = RayTrialHandle(config[NUMBER], task.seed, task.artifacts)
    outcome: str
    value: float | None
    error: str | None
    if config.get(SAMPLING_ERROR):
        outcome, value, error = "FAIL", None, str(config[SAMPLING_ERROR])
    else:
        outcome, value, error = _evaluate(task, config[CONFIG], handle)
    if handle.stopped:
        raise SystemExit(0)  # the scheduler stopped this trial; Tune has recorded it already
    result: dict[str, Any] = {OUTCOME: outcome, ATTRS: handle.take_attrs(), "done": True}
    if value is not None:
        result[VALUE] = result[SCORE] = value
    if error is not None:
        result[ERROR] = error
    tune.report(result)


def _evaluate(
    task: TrialTask, config: dict[str, Any], handle: RayTrialHandle
) -> tuple[str, float | None, str | None]:
    """Run the objective; return its outcome, value and error as the local backend records them."""
    from objectives import Pruned
    from search.core._trial import _first_line

    try:
        value: Any = task.objective.evaluate(config, task.data, handle, task.metric)  # type: ignore[arg-type]
    except Pruned:
        return "PRUNED", None, None
    except Exception as exc:  # noqa: BLE001 - a failing trial fails alone
        log.exception("trial %d failed", handle.number)
        return "FAIL", None, f"{type(exc).__name__}: {_first_line(exc)}"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "FAIL", None, f"objective returned {type(value).__name__}, not a number"
    if not math.isfinite(number):
        return "FAIL", None, f"objective returned {number}"
    return "COMPLETE", number, None


def _see_only_assigned_gpus() -> None:
    """A trial without GPUs sees none, even on a GPU node (Ray leaves it all of them)."""
    import ray

    if not ray.get_gpu_ids():
        os.environ["CUDA_VISIBLE_DEVICES"] = ""


def trial_dirname(trial: Any) -> str:
    """Tune's folder name for a trial: the study's trial number."""
    number = trial.config.get(NUMBER)
    return f"trial_{number:05d}" if isinstance(number, int) else f"trial_{trial.trial_id}"
