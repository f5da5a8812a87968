"""The engine: one loop that runs a study's trials on a pool of workers, for every backend.

The driver asks the study's sampler for a trial, samples the space, and hands the config to an
idle worker, with what the trial and the study look like in the store (the trial's Optuna API in
the worker reads them). While trials run, it records what they report and answers what they ask
(should this trial stop? which value for this parameter? stop the study?); when one ends, it
tells the store the outcome. It is the store's only writer. A worker that dies fails its trial with the cause, and
the trial runs again on a fresh worker, up to the retries allowed, then stays FAIL. The budget
is exact: the trials that count (finished or running) never exceed ``--trials``; no new trial
starts after the deadline, once the stop rule fires, or once the study is told to stop
(``study.stop()`` in a trial or a callback). A trial that returns values of the wrong shape for
the study (a tuple to a study with one objective) stops the search: every trial would fail
alike, each only after training. An interruption (Ctrl-C) abandons the running trials: FAIL in
the store, not counted, so a resumed run runs their slots again.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.core._asking import Asker, log_finished, suggest, trial_snapshot, waiting_state
from search.core._channel import Ask, Attr, Done, Report, Run, StudySnapshot, StudyState
from search.core._checkpoints import CHECKPOINT, record, restore_for
from search.core._goals import Goals, ShapeMismatch
from search.core._keyed import sign_trial_files
from search.core._observers import TrialsFn
from search.core._outcome import COMPLETE, FAIL, PRUNED, failure
from search.core._pbt import PBT, PBT_ATTR, last_value
from search.core._pool import Died, Worker, WorkerPool
from search.core._trials import (
    ABANDONED,
    FILES,
    METRICS,
    SEGMENT_ENDED,
    STARTED,
    WORKER,
    best_trial,
    counts_toward_budget,
)

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

    from search.core._reproducible import Reproducible
    from spaces import Space

log = logging.getLogger(__name__)

#: study attribute recording why a stop rule ended the search
STOPPED_ATTR = "stopped_early"


#: set by the command's SIGINT/SIGTERM handler. Optuna's GP sampler (torch, greenlets) was seen
#: to lose a KeyboardInterrupt raised while it sampled; the engine checks this before each trial.
INTERRUPTED = threading.Event()


@dataclass(frozen=True)
class Budget:
    """The study's total of trials, the time after which no trial starts, and a stop rule
    (``check(study)`` returns why to stop, or ``None``)."""

    trials: int | None  # None: no limit (a deadline, a stop rule or study.stop() ends it)
    deadline: float | None = None  # time.time() seconds
    stop_rule: Any = None

    def expired(self) -> bool:
        return self.deadline is not None and time.time() >= self.deadline


@dataclass(eq=False)
class _Running:
    """A trial handed to a worker: its config, its attempt, the steps it reported."""

    trial: optuna.Trial
    config: dict[str, Any]
    attempt: int = 1
    steps: set[int] = field(default_factory=set)
    deaths: list[str] = field(default_factory=list)
    metrics: dict[int, Any] = field(default_factory=dict)  # step -> every metric reported
    slot: int | None = None  # its slot in a reproducible run
    ahead: bool = False  # drawn before a worker was free


def trials_used(study: optuna.Study) -> int:
    """Trials started or finished that count toward the budget (enqueued ones not yet)."""
    return sum(
        t.state.name != "WAITING" and counts_toward_budget(t)
        for t in study.get_trials(deepcopy=False)
    )


class Engine:
    """Runs the trials of ``study`` over ``space`` on ``pool`` until ``budget`` is spent."""

    def __init__(
        self,
        study: optuna.Study,
        space: Space,
        pool: WorkerPool,
        budget: Budget,
        *,
        on_finished: Callable[[FrozenTrial, TrialsFn], None] | None = None,
        retries: int = 2,
        rows: Any = None,
        goals: Goals | None = None,
        stop_requested: Callable[[], bool] | None = None,
        directory: Path | None = None,
        keep_checkpoints: int | None = None,
        reproducible: Reproducible | None = None,
        sampler_for: Callable[[int], Any] | None = None,
    ) -> None:
        self.study = study
        self.goals = goals  # None: the objective returns one number
        self.space = space
        self.pool = pool
        self.budget = budget
        self.retries = retries
        self.rows = rows  # the rows of the development data the trials use (nested CV)
        self.directory = directory  # the study folder: trials' checkpoints (None: in memory)
        self.keep_checkpoints = keep_checkpoints
        self._on_finished = on_finished
        self._running: dict[Worker, _Running] = {}
        self._again: collections.deque[_Running] = collections.deque()
        self._ready: collections.deque[_Running] = collections.deque()  # drawn, not started
        self._pbt = study.pruner if isinstance(study.pruner, PBT) else None
        self._asker = Asker(study, None if self._pbt else reproducible, sampler_for)
        self._segments: collections.deque[tuple[dict[str, Any], dict[str, Any]]] = \
            collections.deque()  # PBT: members' next segments, which no budget stops
        self._closed = False
        self._used = 0
        self._stop_requested = stop_requested or (lambda: False)
        self._told_to_stop = False
        self._best: FrozenTrial | None = None
        self._snapshot: StudySnapshot | None = None
        self.stopped: dict[str, Any] | None = None
        self.ended_by: str | None = None  # "timeout", "stop", "stop rule", "grid" or "mismatch"
        self.mismatch: str | None = None  # why the trials' values do not fit the study

    def run(self) -> dict[str, Any] | None:
        """Run trials until none may start and none runs; the stop rule's record, if it fired."""
        self._used = trials_used(self.study)
        if self._pbt is not None:  # a resumed PBT study: members between two segments go on
            self._segments.extend(self._pbt.resumed(self.study.get_trials(deepcopy=False),
                                                    self._direction == "maximize"))
        if not self._multi:
            self._best = best_trial(self.study.get_trials(deepcopy=False), self._direction)
        try:
            while self._busy or not self._closed:
                self._dispatch()
                if not self._busy and self._closed:
                    break
                self._draw_ahead()
                for worker, message in self.pool.events(self._wait()):
                    self._handle(worker, message)
        except BaseException:
            self._abandon("interrupted: its slot runs again on --resume")
            raise
        return self.stopped

    @property
    def _busy(self) -> bool:
        """Trials run, wait to run again, are drawn ahead, or PBT members go on."""
        return bool(self._running or self._again or self._ready or self._pending_segments)

    # --- starting trials ------------------------------------------------------------------------

    def _dispatch(self) -> None:
        for worker in self.pool.idle:
            running = self._again.popleft() if self._again else self._next()
            if running is None:
                return
            self._running[worker] = running
            self._system_attr(running.trial, WORKER, f"{worker.host}:{worker.pid}")
            if running.ahead:  # Optuna's datetime_start is when it was drawn
                self._system_attr(running.trial, STARTED, datetime.now().isoformat())
            trial = running.trial
            stored = self.study._storage.get_trial(trial._trial_id)
            restore = restore_for(stored, lambda: self.study.get_trials(deepcopy=False),
                                  self.directory)
            job = Run(trial.number, running.config, running.attempt, self.rows,
                      trial=trial_snapshot(stored), study=self._study_snapshot(),
                      restore=restore.as_message() if restore is not None else None,
                      keep_checkpoints=self.keep_checkpoints)
            self.pool.send(worker, job)

    def _study_snapshot(self) -> StudySnapshot:
        """What ``trial.study`` knows in the worker without asking: what never changes."""
        if self._snapshot is None:
            names = self.study.metric_names
            self._snapshot = StudySnapshot(
                name=self.study.study_name,
                directions=tuple(d.name.lower() for d in self.study.directions),
                metric_names=tuple(names) if names else None,
            )
        return self._snapshot

    def _next(self) -> _Running | None:
        """The next trial to start: one drawn ahead, a new one while the budget allows, else a
        PBT member's next segment; ``None`` when none may start now."""
        if self._ready and self._cut_short():
            self._abandon("abandoned: drawn ahead, and the search ended before it started",
                          running=False)
        running = self._ready.popleft() if self._ready else self._new_trial()
        if running is None and self._segments and self.ended_by is None:
            return self._next_segment()
        return running

    @property
    def _pending_segments(self) -> bool:
        return bool(self._segments) and self.ended_by is None

    def _next_segment(self) -> _Running:
        """A PBT member goes on, the one with the least training first, outside the budget
        (a timeout or a stop ends the population too)."""
        params, attrs = min(self._segments, key=lambda s: s[1][PBT_ATTR]["from_step"])
        self._segments.remove((params, attrs))
        self.study.enqueue_trial(params, user_attrs=attrs, skip_if_exists=False)
        trial = self.study.ask()
        return _Running(trial, self.space.sample(trial))

    def _new_trial(self) -> _Running | None:
        """A new trial of the budget with its config, or ``None`` once no more may start."""
        while not self._closed:
            if INTERRUPTED.is_set():  # a library swallowed the KeyboardInterrupt: raise it again
                raise KeyboardInterrupt
            if self._spent():
                self._closed = True
                return None
            self._fix_next()
            slot = self._asker.slot()
            if not self._asker.ready(slot, self._unfinished_slots()):
                return None  # reproducible: the slots it sees have not all finished
            with self._asker.seen_by(slot):
                trial = self._asker.ask(slot)
                self._used += 1
                if self._pbt is not None:
                    trial.set_user_attr(PBT_ATTR, self._pbt.first_segment(trial.number))
                try:
                    return _Running(trial, self.space.sample(trial), slot=slot)
                except Exception as exc:  # noqa: BLE001 - the trial fails alone, as any other
                    lost = failure(exc)
                    log.error("trial %d: sampling failed:\n%s", trial.number, lost.detail)
            self._tell(_Running(trial, {}, slot=slot), FAIL,
                       error=f"sampling failed: {lost.error}")
        return None

    def _unfinished_slots(self) -> Any:
        return (r.slot for r in (*self._running.values(), *self._again, *self._ready))

    def _draw_ahead(self) -> None:
        """Reproducible: draw the next trial while every worker is busy, once the slots it
        sees have finished, so that the worker that frees first starts it at once (its config
        would be the same drawn later)."""
        if self._asker.reproducible is not None and not self.pool.idle and not self._ready \
                and not self._again and self.budget.deadline is None \
                and self.budget.stop_rule is None:  # none drawn that these could leave unstarted
            running = self._new_trial()
            if running is not None:
                running.ahead = True
                self._ready.append(running)

    def _fix_next(self) -> None:
        """Values the next new trial takes, unless a trial waits already: a space with grid
        parameters (``tune.grid_search``) gives each trial the next grid point in turn, and a PBT
        member starts at the constants PBT mutates; the sampler draws the other parameters."""
        points = self.space.grid_points() if hasattr(self.space, "grid_points") else []
        fixed = dict(points[self._used % len(points)]) if points else {}
        fixed.update(self._pbt.first_values() if self._pbt is not None else {})
        if fixed and not self.study.get_trials(deepcopy=False, states=(waiting_state(),)):
            self.study.enqueue_trial(fixed, skip_if_exists=False)

    def _cut_short(self) -> bool:
        """Whether the deadline passed or the study was told to stop."""
        return self.budget.expired() or self._told_to_stop or self._stop_requested()

    def _spent(self) -> bool:
        from optuna.samplers import GridSampler

        sampler = self.study.sampler
        if self.budget.trials is not None and self._used >= self.budget.trials:
            return True
        ended = next((why for why, yes in (
            ("timeout", self.budget.expired()),
            ("stop", self._told_to_stop or self._stop_requested()),
            ("grid", isinstance(sampler, GridSampler) and sampler.is_exhausted(self.study)),
        ) if yes), None)
        if ended is not None:
            self.ended_by = ended
            return True
        rule = self.budget.stop_rule
        stop = rule.check(self.study) if rule is not None else None
        if stop is not None:
            self.study.set_user_attr(STOPPED_ATTR, stop)
            log.info("search stopped early: %s", stop)
            self.stopped, self.ended_by = stop, "stop rule"
        return stop is not None

    def _wait(self) -> float:
        if self.budget.deadline is None or self._closed:
            return 1.0
        return max(0.01, min(1.0, self.budget.deadline - time.time()))

    # --- what workers send ----------------------------------------------------------------------

    def _handle(self, worker: Worker, message: Any) -> None:
        if isinstance(message, Died):
            self._died(worker, message.cause, retry=message.retry)
            return
        running = self._running.get(worker)
        if running is None:
            return
        if isinstance(message, Report):
            if self._multi:
                return  # Optuna's pruners weigh one objective: several have no reports
            if message.step not in running.steps:  # a retried trial reports its steps again
                running.steps.add(message.step)
                running.trial.report(message.value, message.step)
        elif isinstance(message, Attr):
            self._attr(running, message)
        elif isinstance(message, Ask):
            self.pool.answer(worker, self._answer(running, message))
        elif isinstance(message, Done):
            del self._running[worker]
            self._done(running, message)

    def _answer(self, running: _Running, ask: Ask) -> Any:
        """The driver's answer to a trial's question; an error is sent back to be raised."""
        try:
            if ask.what == "prune":
                with self._asker.seen_by(running.slot):
                    return False if self._multi else running.trial.should_prune()
            if ask.what == "suggest":
                from optuna.distributions import json_to_distribution

                name, distribution = ask.args
                with self._asker.seen_by(running.slot):
                    return suggest(running.trial, str(name), json_to_distribution(distribution))
            if ask.what == "study":
                return StudyState(user_attrs=self.study.user_attrs, best=self._seen_best(running))
            if ask.what == "stop":
                self._told_to_stop = True
                return None
            raise ValueError(f"the engine cannot answer {ask.what!r}")
        except Exception as exc:  # noqa: BLE001 - raised again in the trial
            return exc

    def _attr(self, running: _Running, attr: Attr) -> None:
        """Keep what a trial set: a user attribute, a system attribute, a constraint value, a
        checkpoint it saved, the metrics it reported at a step (kept until it ends)."""
        trial = running.trial
        if attr.kind == "checkpoint":
            self._system_attr(trial, CHECKPOINT, record(trial.number, attr.value))
        elif attr.kind == "metrics":
            running.metrics[int(attr.key)] = attr.value
        elif attr.kind == "constraint":
            trial.set_constraint(attr.key, float(attr.value))
        elif attr.kind == "system":
            if not str(attr.key).startswith("search:"):  # the framework's own keys stay its own
                self._system_attr(trial, attr.key, attr.value)
        else:
            trial.set_user_attr(attr.key, attr.value)

    def _done(self, running: _Running, done: Done) -> None:
        if done.files:  # keyed here, in the driver: the results folder cannot forge them
            number = running.trial.number
            self._system_attr(running.trial, FILES, sign_trial_files(number, done.files))
        if done.detail:
            log.error("trial %d failed:\n%s", running.trial.number, done.detail)
        self._tell(running, done.state, value=done.value, error=done.error)

    def _died(self, worker: Worker, cause: str, *, retry: bool = True) -> None:
        running = self._running.pop(worker, None)
        if not self._closed or self._busy or running is not None:
            self.pool.replace(worker)
        if running is None:
            return
        number = running.trial.number
        where = f"{worker.host}:{worker.pid}"
        running.deaths.append(f"attempt {running.attempt} on {where}: {cause}")
        log.warning("trial %d: %s (%s)", number, "its worker died" if retry else "refused", cause)
        if retry and running.attempt <= self.retries:
            running.attempt += 1
            self._again.append(running)
            return
        tries = f" ({running.attempt} attempts)" if running.attempt > 1 else ""
        said = "its worker died" if retry else "refused"
        self._tell(running, FAIL, error=f"{said}: {cause}{tries}")

    # --- telling the store ----------------------------------------------------------------------

    def _tell(
        self, running: _Running, state: str, *, value: Any = None, error: str | None = None
    ) -> None:
        from optuna.trial import TrialState

        trial = running.trial
        if running.deaths:
            trial.set_user_attr("worker_deaths", running.deaths)
        if running.metrics:
            self._system_attr(trial, METRICS, [running.metrics[s] for s in sorted(running.metrics)])
        segment = self._pbt is not None and state == PRUNED
        if segment:  # a PBT segment ended: its member trains on in the next one
            state, value = COMPLETE, last_value(self.study._storage.get_trial(trial._trial_id))
            self._system_attr(trial, SEGMENT_ENDED, True)
        if state == COMPLETE:
            try:
                read = value if self.goals is None else self.goals.tell_values(trial, value)
            except ShapeMismatch as mismatch:
                read = str(mismatch)
                self._stop_on_mismatch(trial.number, read)
            if isinstance(read, str):
                state, error = FAIL, read
        if state == COMPLETE:
            finished = self.study.tell(trial, read)
        elif state == PRUNED:
            finished = self.study.tell(trial, state=TrialState.PRUNED)
        else:
            trial.set_user_attr("error", error or "failed")
            finished = self.study.tell(trial, state=TrialState.FAIL)
        log_finished(finished)
        if segment and self._pbt is not None and finished.state.name == "COMPLETE":
            self._segments.append(self._pbt.next_segment(
                finished, self.study.get_trials(deepcopy=False), self._direction == "maximize"))
        self._keep_best(finished)
        if self._on_finished is not None:
            self._on_finished(finished, lambda: self.study.get_trials(deepcopy=False))

    def _stop_on_mismatch(self, number: int, why: str) -> None:
        """Values of the wrong shape: every trial would fail alike, so no new trial starts and
        the ones running are abandoned (their slots run again once the study is fixed)."""
        if self.mismatch is None:
            self.mismatch = f"trial {number}: {why}"
            self.ended_by = "mismatch"
            log.error("search stopped: %s", self.mismatch)
        self._closed = True
        self._abandon(f"abandoned: {self.mismatch}")

    def _seen_best(self, running: _Running) -> FrozenTrial | None:
        """The best trial as ``running`` may see it (reproducible: its slot's view)."""
        if running.slot is None or self._multi:
            return self._best
        with self._asker.seen_by(running.slot):
            return best_trial(self.study.get_trials(deepcopy=False), self._direction)

    def _keep_best(self, trial: FrozenTrial) -> None:
        if self._multi or trial.state.name != "COMPLETE" or trial.value is None:
            return
        best = best_trial([t for t in (self._best, trial) if t is not None], self._direction)
        self._best = best

    @property
    def _direction(self) -> str:
        return self.goals.direction if self.goals is not None else \
            self.study.direction.name.lower()

    @property
    def _multi(self) -> bool:
        return self.goals is not None and self.goals.multi

    def _abandon(self, why: str, *, running: bool = True) -> None:
        """Running, waiting and drawn trials (drawn ones alone with ``running=False``) end FAIL
        without using their slots."""
        from optuna.trial import TrialState

        storage = self.study._storage
        ended = [*self._running.values(), *self._again] if running else []
        for trial in [r.trial for r in (*ended, *self._ready)]:
            storage.set_trial_system_attr(trial._trial_id, ABANDONED, True)
            storage.set_trial_user_attr(trial._trial_id, "error", why)
            storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        if running:
            self._running.clear()
            self._again.clear()
        self._ready.clear()

    def _system_attr(self, trial: optuna.Trial, key: str, value: Any) -> None:
        self.study._storage.set_trial_system_attr(trial._trial_id, key, value)
