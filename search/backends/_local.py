"""The local backend: Optuna trials in this machine's processes, on the embedded store.

One worker runs trials in this process. ``workers > 1`` starts that many spawned processes on
the shared store; each receives the development data (never the sealed test part), rebuilds
the objective from the study file, and runs trials until the study's budget is spent. This
process watches the store and prints progress. A lock around "count the trials, then start
one" keeps the total exact.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.core._observers import TrialsFn
from search.core._store import open_store, slot_lock
from search.core._trial import TrialTask, run_trial
from search.core._trials import counts_toward_budget

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

log = logging.getLogger("search")


#: study attribute recording why a stop rule ended the search
STOPPED_ATTR = "stopped_early"


@dataclass(frozen=True)
class Budget:
    """The study's total of trials, the wall-clock time after which no trial starts, and an
    optional stop rule (``check(study)`` returns why to stop, or ``None``)."""

    trials: int
    deadline: float | None = None  # time.time() seconds
    stop_rule: Any = None

    def expired(self) -> bool:
        return self.deadline is not None and time.time() >= self.deadline


def trials_used(study: optuna.Study) -> int:
    """Trials started or finished that count toward the budget (enqueued ones not yet)."""
    return sum(
        t.state.name != "WAITING" and counts_toward_budget(t)
        for t in study.get_trials(deepcopy=False)
    )


def trial_loop(
    study: optuna.Study,
    task: TrialTask,
    budget: Budget,
    *,
    lock_dir: Path | None,
    on_finished: Callable[[FrozenTrial, TrialsFn], None] = lambda *_: None,
) -> dict[str, Any] | None:
    """Run trials until the budget is spent, the deadline passes or a grid is exhausted.

    With ``lock_dir`` (several processes on one store) the trials are counted in the store
    under the slot lock before each start; a sole writer counts once and then keeps count.
    Returns the stop rule's record when it ended the search, else ``None``.
    """
    from optuna.samplers import GridSampler

    grid = study.sampler if isinstance(study.sampler, GridSampler) else None
    used = trials_used(study)
    while not budget.expired():
        with slot_lock(lock_dir) if lock_dir else contextlib.nullcontext():
            if lock_dir:
                used = trials_used(study)
            if used >= budget.trials or (grid is not None and grid.is_exhausted(study)):
                return None
            if budget.stop_rule is not None:
                stop = budget.stop_rule.check(study)
                if stop is not None:
                    study.set_user_attr(STOPPED_ATTR, stop)
                    log.info("search stopped early: %s", stop)
                    return stop
            trial = study.ask()
            used += 1
        on_finished(run_trial(study, trial, task), lambda: study.get_trials(deepcopy=False))
    return None


def run_workers(
    *,
    workers: int,
    directory: Path,
    study_name: str,
    worker_args: dict[str, Any],
    task: TrialTask,
    budget: Budget,
    on_finished: Callable[[FrozenTrial, TrialsFn], None],
) -> None:
    """Run ``workers`` spawned processes on the shared store and report what they finish."""
    import optuna

    ctx = multiprocessing.get_context("spawn")
    procs = []
    for index in range(workers):
        args = {
            **worker_args,
            "index": index,
            "directory": str(directory),
            "budget": budget,
            "data": task.data,
            "seed": task.seed,
            "artifacts": task.artifacts,
            "threads": max(1, (os.cpu_count() or 1) // workers),
        }
        proc = ctx.Process(target=_worker_main, args=(args,), name=f"search-worker-{index}")
        proc.start()
        procs.append(proc)
    storage = open_store(directory, shared=True)
    study = optuna.load_study(study_name=study_name, storage=storage)
    seen: set[int] = {t.number for t in study.get_trials(deepcopy=False) if t.state.is_finished()}
    try:
        while True:
            alive = any(p.is_alive() for p in procs)
            trials = study.get_trials(deepcopy=False)
            current = trials  # bound once per poll for the observers' on-demand view

            def view(snapshot: list[FrozenTrial] = current) -> list[FrozenTrial]:
                return snapshot

            for t in trials:
                if t.state.is_finished() and t.number not in seen:
                    seen.add(t.number)
                    on_finished(t, view)
            if not alive:
                break
            time.sleep(0.25)
    except KeyboardInterrupt:
        for p in procs:
            if p.is_alive() and p.pid is not None:
                os.kill(p.pid, signal.SIGINT)
        for p in procs:
            p.join(timeout=30)
        raise
    failed = [p for p in procs if p.exitcode not in (0,)]
    if failed:
        codes = ", ".join(f"{p.name} exit {p.exitcode}" for p in failed)
        raise RuntimeError(f"worker processes failed: {codes}; see search.log")


def _worker_main(args: dict[str, Any]) -> None:
    """Entry point of a spawned worker: rebuild the study from its file and run trials."""
    import optuna
    from threadpoolctl import threadpool_limits

    from search.core._logging import log_to_file
    from search.core._prepare import resolve
    from search.core._strategies import make_pruner, make_sampler, sampler_seed
    from search.core._studyfile import load_study_file

    directory = Path(args["directory"])
    log_to_file(directory)
    try:
        study_def = load_study_file(args["study_file"]).with_overrides(**args["overrides"])
        parts = resolve(study_def, Path(args["study_file"]).parent)
        seed = args["seed"]
        task = TrialTask(
            space=parts.space,
            objective=parts.objective,
            data=args["data"],
            metric=parts.metric,
            seed=seed,
            artifacts=args["artifacts"],
        )
        study = optuna.load_study(
            study_name=study_def.name,
            storage=open_store(directory, shared=True),
            sampler=make_sampler(
                study_def.sampler,
                parts.space,
                sampler_seed(seed, worker=args["index"], prior=args["prior"]),
            ),
            pruner=make_pruner(study_def.pruner),
        )
        with threadpool_limits(args["threads"]):
            trial_loop(study, task, args["budget"], lock_dir=directory)
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except Exception:
        log.exception("worker %d stopped", args["index"])
        raise SystemExit(1) from None
