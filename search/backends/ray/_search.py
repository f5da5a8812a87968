"""Sampling and early stopping for the Ray backend: Optuna's sampler on the study store, Tune's
schedulers chosen by the study's pruner name.

:class:`StoreSearch` is Ray Tune's ``OptunaSearch`` on the study that the run opened in the
store (``RESULTS/NAME/study.journal``), with the study's sampler and its compiled space
(``space.sample``, define-by-run). It runs in the driver, the store's only writer, and differs
from the shipped searcher where that one misleads the sampler or loses what the local
backend keeps:

- a trial the scheduler stopped is told PRUNED (the shipped searcher tells COMPLETE, with the
  last intermediate score as if it were the trial's result);
- intermediate scores are stored at the objective's own steps (folds, epochs), with the
  attributes the objective set (fold scores, train score);
- a trial whose process died more often than Ray retries it is told FAIL with the reason;
- it stops proposing when the deadline has passed or a grid is exhausted, and lets running
  trials finish;
- each finished trial goes to the run's observers (progress line, results files) at once.

This module imports Ray; only :mod:`search.backends.ray._backend` imports it, when a run uses Ray.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ray.tune.schedulers import (
    AsyncHyperBandScheduler,
    FIFOScheduler,
    MedianStoppingRule,
    TrialScheduler,
)
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from search.backends._local import STOPPED_ATTR
from search.backends.ray._trial import (
    ATTRS,
    CONFIG,
    ERROR,
    NUMBER,
    OUTCOME,
    SAMPLING_ERROR,
    SCORE,
    STEP,
    VALUE,
)
from search.core._trial import log_finished
from search.core._trials import ABANDONED

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

    from search.backends._local import Budget
    from search.core._observers import TrialsFn
    from spaces import Space

log = logging.getLogger("search")

#: the Tune result attribute the schedulers count in: one a reported step
TIME_ATTR = "training_iteration"


class StoreSearch(OptunaSearch):  # type: ignore[misc]
    """``OptunaSearch`` on the run's study in the store; see the module docstring."""

    def __init__(
        self,
        study: optuna.Study,
        space: Space,
        budget: Budget,
        on_finished: Callable[[FrozenTrial, TrialsFn], None],
    ) -> None:
        self._run_study = study
        self._sample = space.sample
        mode = "max" if study.direction.name == "MAXIMIZE" else "min"
        super().__init__(
            space=space.sample,
            metric=SCORE,
            mode=mode,
            sampler=study.sampler,
            study_name=study.study_name,
        )
        self._budget = budget
        self._on_finished = on_finished
        self._seen_steps: dict[str, set[int]] = {}
        self._failures: dict[str, str] = {}

    def _setup_study(self, mode: str | list[str]) -> None:
        """Use the study the run opened (created or resumed, default config enqueued)."""
        self._ot_study = self._run_study  # type: ignore[assignment]

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:  # type: ignore[override]
        """Ask the store's study for a trial and sample the space on it (in the driver)."""
        from optuna.samplers import GridSampler

        study = self._run_study
        sampler = study.sampler
        if self._budget.expired() or (
            isinstance(sampler, GridSampler) and sampler.is_exhausted(study)
        ):
            return Searcher.FINISHED
        rule = self._budget.stop_rule
        if rule is not None:
            stop = rule.check(study)
            if stop is not None:
                study.set_user_attr(STOPPED_ATTR, stop)
                log.info("search stopped early: %s", stop)
                return Searcher.FINISHED
        trial = self._ot_trials.get(trial_id) or study.ask()
        self._ot_trials[trial_id] = trial
        self._seen_steps[trial_id] = set()
        try:
            config = self._sample(trial)
        except Exception as exc:  # noqa: BLE001 - the trial fails alone, as locally
            log.exception("trial %d: sampling failed", trial.number)
            return {
                NUMBER: trial.number,
                CONFIG: None,
                SAMPLING_ERROR: f"{type(exc).__name__}: {exc}",
            }
        return {NUMBER: trial.number, CONFIG: config}

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        """Store an intermediate score at the objective's step, and the attributes set."""
        if trial_id in self._completed_trials or trial_id not in self._ot_trials:
            return
        self._record(trial_id, result)

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        """Tell the store the trial's outcome; a trial stopped by the scheduler is PRUNED."""
        from optuna.trial import TrialState

        if trial_id in self._completed_trials or trial_id not in self._ot_trials:
            return
        trial = self._ot_trials[trial_id]
        if error:  # its process failed more often than Ray retries it
            reason = self._failures.pop(trial_id, "the trial's process failed; see ray.log")
            trial.set_user_attr("error", reason)
            self._tell(trial_id, None, TrialState.FAIL)
            return
        if result is None:  # never started: the run ended or was interrupted first
            self._abandon(trial_id)
            return
        self._record(trial_id, result)
        outcome = result.get(OUTCOME)
        if outcome == "COMPLETE":
            self._tell(trial_id, float(result[VALUE]))
        elif outcome == "FAIL":
            trial.set_user_attr("error", str(result.get(ERROR) or "failed"))
            self._tell(trial_id, None, TrialState.FAIL)
        else:  # the objective raised Pruned, or (no outcome) the scheduler stopped it
            self._tell(trial_id, None, TrialState.PRUNED)

    def note_failure(self, trial_id: str, reason: str) -> None:
        """Why a trial failed past its retries; Tune says it just before ``on_trial_complete``."""
        self._failures[trial_id] = reason

    def finish(self, *, interrupted: bool) -> None:
        """At the end of an interrupted run: the live trials are abandoned."""
        if interrupted:
            for trial_id in list(self._ot_trials):
                if trial_id not in self._completed_trials:
                    self._abandon(trial_id)

    def _record(self, trial_id: str, result: dict[str, Any]) -> None:
        trial = self._ot_trials[trial_id]
        attrs = result.get(ATTRS)
        if attrs:
            for key, value in json.loads(attrs).items():
                trial.set_user_attr(key, value)
        step, score = result.get(STEP), result.get(SCORE)
        seen = self._seen_steps.setdefault(trial_id, set())
        if step is not None and score is not None and step not in seen:
            seen.add(step)  # a retried trial reports its steps again: keep the first
            trial.report(float(score), int(step))

    def _tell(self, trial_id: str, value: float | None, state: Any = None) -> None:
        trial = self._ot_trials[trial_id]
        study = self._run_study
        finished = study.tell(trial, value, state=state) if state else study.tell(trial, value)
        self._completed_trials.add(trial_id)
        log_finished(finished)
        self._on_finished(finished, lambda: study.get_trials(deepcopy=False))

    def _abandon(self, trial_id: str) -> None:
        """A trial that never ran to an outcome: FAIL, and its slot runs again on resume."""
        from optuna.trial import TrialState

        trial = self._ot_trials[trial_id]
        storage = self._run_study._storage
        storage.set_trial_system_attr(trial._trial_id, ABANDONED, True)
        storage.set_trial_user_attr(trial._trial_id, "error", "abandoned: its run was stopped")
        storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        self._completed_trials.add(trial_id)

    # The store is the study's state: Tune's own checkpoints of the searcher are not needed
    # (a resumed run reads the store), and the study, its store and the observers do not
    # pickle. Tune pickles its configuration (searcher included) into its experiment folder.
    def save(self, checkpoint_path: str) -> None:
        pass

    def restore(self, checkpoint_path: str) -> None:
        pass

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


class _Reasons:
    """For Tune's schedulers: tell the searcher why a trial failed past its retries.

    Tune calls a scheduler's ``on_trial_error`` just before the searcher's
    ``on_trial_complete(error=True)``; a Tune callback would do as well, but Tune imports every
    logging integration it knows (MLflow's among them, seconds) once a run has a callback.
    """

    searcher: StoreSearch | None = None

    def on_trial_error(self, tune_controller: Any, trial: Any) -> None:
        if self.searcher is not None:
            failures = getattr(getattr(trial, "run_metadata", None), "num_failures", "?")
            self.searcher.note_failure(
                trial.trial_id,
                f"the trial's process failed {failures} time(s): {_last_error(trial)}",
            )
        super().on_trial_error(tune_controller, trial)  # type: ignore[misc]


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_RAISED = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit)\b.*")


def _last_error(trial: Any) -> str:
    """One line on the trial's last error, from the error file Tune writes: the exception
    raised last, or the error's first line (a dead process's)."""
    try:
        with open(trial.error_file, encoding="utf-8") as f:
            text = _ANSI.sub("", f.read())
    except (OSError, TypeError):
        return "see ray.log"
    last = text.rsplit("Failure # ", 1)[-1].splitlines()[1:]
    lines = [line.strip() for line in last if line.strip() and not line.startswith("ray::")]
    raised = [line for line in lines if _RAISED.match(line)]
    shown = raised[-1] if raised else (lines[0] if lines else "see ray.log")
    return shown[:240]


class _ASHA(_Reasons, AsyncHyperBandScheduler):
    """Ray's asynchronous successive halving (and, with brackets, Hyperband)."""


class _FIFO(_Reasons, FIFOScheduler):
    """No early stopping."""


class _MedianStopping(_Reasons, MedianStoppingRule):
    """Ray's median stopping rule on step counts, which never pauses a trial.

    Pausing a function trainable without checkpoints restarts it from scratch, so where the
    rule lacks samples it lets the trial run on; results without a score (failed and pruned
    trials' last results) are left out of the medians.
    """

    def on_trial_complete(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> None:
        if self._metric in result and self._time_attr in result:
            super().on_trial_complete(tune_controller, trial, result)

    def _on_insufficient_samples(self, tune_controller: Any, trial: Any, time: float) -> str:
        return str(TrialScheduler.CONTINUE)


#: how the study's pruner name maps to a Tune scheduler (see the README's table)
SCHEDULERS = {
    "median": "ASHA, reduction factor 2: a trial goes on at each rung only in the better half",
    "successive_halving": "ASHA, reduction factor 4 (Optuna's SuccessiveHalvingPruner)",
    "hyperband": "asynchronous Hyperband: ASHA over 3 brackets, reduction factor 3",
    "median_stopping": "Ray's MedianStoppingRule on steps, never pausing",
    "none": "FIFO: no early stopping",
}


def make_scheduler(name: str, searcher: StoreSearch) -> TrialScheduler:
    """The Tune scheduler for the study's pruner ``name``; steps are the objective's reports."""
    scheduler = _scheduler(name, searcher.mode)
    scheduler.searcher = searcher
    return scheduler


def _scheduler(name: str, mode: str) -> _ASHA | _FIFO | _MedianStopping:
    common: dict[str, Any] = {"time_attr": TIME_ATTR, "metric": SCORE, "mode": mode}
    if name in ("median", "successive_halving", "hyperband"):
        factor, brackets = {"median": (2, 1), "successive_halving": (4, 1), "hyperband": (3, 3)}[
            name
        ]
        return _ASHA(
            **common,
            max_t=100_000,  # no step limit: a trial is never cut off at the last rung
            grace_period=1,
            reduction_factor=factor,
            brackets=brackets,
            stop_last_trials=False,
        )
    if name == "median_stopping":
        return _MedianStopping(**common, grace_period=1, min_samples_required=3)
    if name == "none":
        return _FIFO()
    raise ValueError(f"unknown pruner {name!r}")
