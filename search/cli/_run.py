"""``python -m search STUDY.py`` and ``python -m search final``: a run from start to end.

The order is the contract: take the study's run lock, then check everything (study file, data,
space, objective, flags, tracking, the backend), and only then write. A run that stops at a
check leaves nothing behind; a run that loses the race for the lock touches no file. Then the
workers start, the search runs on the engine, and the best config is evaluated once on the
sealed test.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.backends import local_placement, placement_for
from search.cli._steps import (
    final_observers,
    no_complete_trial,
    observers_for,
    open_study,
    print_final,
    print_nested,
    print_stop,
    say_sampler,
    small_budget,
    stored_record,
    stored_trials,
    tracking_uri,
)
from search.core._engine import INTERRUPTED, Budget, Engine
from search.core._errors import TestSetAlreadyOpened, UserError
from search.core._final import final_evaluation
from search.core._folder import FINAL_JSON, STUDY_JSON, now, read_record, write_json
from search.core._logging import log_to_file
from search.core._observers import Observers, RunContext
from search.core._options import RunOptions
from search.core._pool import WorkerPool
from search.core._prepare import Prepared, prepare
from search.core._record import check_resume, check_study_file, study_record, update_record
from search.core._store import run_lock
from search.core._studyfile import load_study_file
from search.core._trials import counts_toward_budget
from search.core._warm import WarmStart, warm_start

if TYPE_CHECKING:
    import optuna

    from search.core._channel import Setup
    from search.core._pool import Placement

EXIT_NO_TRIAL = 1


def run(study_file: Path, options: RunOptions, argv: list[str]) -> int:
    """Search, then evaluate the best config once on the sealed test; return the exit status."""
    study = load_study_file(study_file, **options.overrides())
    options.check_backend(study.backend)
    _check_register(options)
    directory = options.results / study.name
    with run_lock(directory), _terminate_as_interrupt():
        stored = stored_record(directory, resume=options.resume)
        prep = prepare(
            study, study_file, seed=stored["seed"] if stored else None,
            sampler=stored.get("sampler") if stored else None,
        )
        fresh = study_record(prep, backend=study.backend, argv=argv)
        if stored is not None:
            check_resume(stored, fresh, directory)  # names what differs, where it can
            check_study_file(stored, study_file, directory)
            if (directory / FINAL_JSON).exists():
                raise UserError(
                    f"{directory / FINAL_JSON}: the test set was already opened, so this study "
                    "is closed; searching on would tune against the test result"
                )
        warm = _warm_start(prep, study_file) if stored is None else None
        for finding in prep.leaks:
            print(f"warning: leak check: {finding.message}", file=sys.stderr)
        if options.tracking:
            from search.watching._tracking import check_tracking

            check_tracking(tracking_uri(options))  # MLflow missing, server down: nothing written
        placement = placement_for(study, options)  # Ray starts or is reached: nothing written
        try:
            setup = prep.setup(directory, placement.threads(study.workers))
        except UserError:
            placement.close()
            raise
        return _write_and_run(
            prep, directory, stored, fresh, options, (placement, setup, warm), argv
        )


def _check_register(options: RunOptions) -> None:
    """``--register`` needs MLflow and a final model: refuse it where it would do nothing."""
    if options.register is None:
        return
    if not options.tracking or not options.final:
        flag = "--no-tracking" if not options.tracking else "--no-final"
        raise UserError(f"--register {options.register}: registers the final model in MLflow, "
                        f"which {flag} leaves out; drop one of them")


def _warm_start(prep: Prepared, study_file: Path) -> WarmStart | None:
    """The trials a fresh study takes from ``warm_start`` (read before anything is written)."""
    if prep.study.warm_start is None:
        return None
    warm = warm_start(prep.study.warm_start, prep.parts.space, prep.parts.goals, study_file.parent)
    print(warm.line())
    return warm


def _write_and_run(
    prep: Prepared,
    directory: Path,
    stored: dict[str, Any] | None,
    fresh: dict[str, Any],
    options: RunOptions,
    workers: tuple[Placement, Setup, WarmStart | None],
    argv: list[str],
) -> int:
    """Every check passed: from here on the run writes."""
    study = prep.study
    log_to_file(directory)
    started = now()
    if stored is None:
        write_json(directory / STUDY_JSON, fresh)
    else:
        update_record(
            directory,
            trials=study.trials,
            workers=study.workers,
            sampler=fresh["sampler"],
            pruner=study.pruner,
            backend=study.backend,  # a study may resume on the other backend
            status="running",
            command=fresh["command"],
        )
    placement, setup, warm = workers
    placement.begin(directory)
    pool = WorkerPool(placement, study.workers, setup).start()
    observers = Observers(observers_for(prep, directory, options))
    try:
        opt = open_study(prep, directory, resume=options.resume, warm=warm)
        return _search_and_evaluate(prep, directory, opt, pool, observers, options, started, argv)
    finally:
        pool.close()
        observers.run_ended()  # the report and MLflow helpers finish (or stop) here


def _search_and_evaluate(
    prep: Prepared,
    directory: Path,
    opt: optuna.Study,
    pool: WorkerPool,
    observers: Observers,
    options: RunOptions,
    started: str,
    argv: list[str],
) -> int:
    try:
        trials = _search(prep, directory, opt, pool, observers, options)
    except KeyboardInterrupt:
        update_record(directory, status="interrupted", **_run_entry(directory, started, argv))
        print(
            f"interrupted: finished trials are kept in {directory}; continue with --resume",
            file=sys.stderr,
        )
        return 130
    update_record(directory, status="searched", **_run_entry(directory, started, argv))
    if not any(t.state.name == "COMPLETE" for t in trials):
        print(f"error: {no_complete_trial(trials, directory)}", file=sys.stderr)
        update_record(directory, status="no complete trial")
        return EXIT_NO_TRIAL
    if prep.study.nested:
        _nested(prep, prep.study.nested, directory, pool, options)
    if options.final and prep.can_evaluate:
        record = _final(prep, directory, pool, options, trials)
        update_record(directory, status="finished")
        observers.final_evaluated(record)
    elif options.final:
        print("final: skipped (this study has no data or no way to fit a final model)")
    return 0


def _search(
    prep: Prepared,
    directory: Path,
    opt: optuna.Study,
    pool: WorkerPool,
    observers: Observers,
    options: RunOptions,
) -> list[optuna.trial.FrozenTrial]:
    """Run the study's trials on the engine, telling ``observers`` as trials finish."""
    study = prep.study
    trials = opt.get_trials(deepcopy=False)
    say_sampler(prep)
    small_budget(opt, study.trials)
    done = sum(t.state.is_finished() and counts_toward_budget(t) for t in trials)
    observers.search_started(RunContext(prep, directory, options.resume, done), trials)
    deadline = time.time() + study.timeout if study.timeout else None
    budget = Budget(trials=study.trials, deadline=deadline, stop_rule=prep.stop_rule())
    engine = Engine(
        opt,
        prep.parts.space,
        pool,
        budget,
        on_finished=observers.trial_finished,
        retries=options.retries(),
        goals=prep.parts.goals,
    )
    status = "interrupted"
    try:
        stop = engine.run()
        status = "finished"
    finally:
        observers.search_ended(opt.get_trials(deepcopy=False), status)
    if stop is not None:
        print_stop(stop)
        update_record(directory, stopped_early=stop)
    return opt.get_trials(deepcopy=False)


def _nested(
    prep: Prepared, k: int, directory: Path, pool: WorkerPool, options: RunOptions
) -> None:
    from search.cli._nested import run_nested

    record = run_nested(prep, k, directory, pool, retries=options.retries())
    print_nested(record)


def _final(
    prep: Prepared,
    directory: Path,
    pool: WorkerPool,
    options: RunOptions,
    trials: list[optuna.trial.FrozenTrial],
) -> dict[str, Any]:
    record = final_evaluation(prep, trials, directory, pool, retries=options.retries())
    print_final(record, directory)
    return record


def _run_entry(directory: Path, started: str, argv: list[str]) -> dict[str, Any]:
    runs = read_record(directory / STUDY_JSON).get("runs", [])
    runs.append({"started_at": started, "ended_at": now(), "argv": argv})
    return {"runs": runs}


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a scheduler's pre-emption, ``kill``) ends the run as Ctrl-C does; both are
    also noted for the engine, in case a library swallows the KeyboardInterrupt."""

    def interrupt(signum: int, frame: Any) -> None:
        INTERRUPTED.set()
        raise KeyboardInterrupt

    INTERRUPTED.clear()
    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
        previous_int = signal.signal(signal.SIGINT, interrupt)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)


def run_final(directory: Path) -> int:
    """``python -m search final RESULTS/NAME``: the final evaluation alone."""
    if not (directory / STUDY_JSON).is_file():
        raise UserError(f"{directory}: not a study folder (no {STUDY_JSON})")
    stored = read_record(directory / STUDY_JSON)
    if (directory / FINAL_JSON).exists():
        raise TestSetAlreadyOpened.at(directory / FINAL_JSON)
    study_file = Path(stored.get("study_file") or "")
    check_study_file(stored, study_file, directory)  # before the file runs
    with run_lock(directory):
        study = load_study_file(study_file, seed=stored["seed"])
        prep = prepare(study, study_file, seed=stored["seed"], sampler=stored.get("sampler"))
        check_resume(stored, study_record(prep, backend="local", argv=[]), directory)
        if not prep.can_evaluate:
            raise UserError(f"{directory}: this study has no data or no way to fit a final model")
        log_to_file(directory)
        return _final_alone(prep, directory)


def _final_alone(prep: Prepared, directory: Path) -> int:
    placement = local_placement()
    pool = WorkerPool(placement, 1, prep.setup(directory, placement.threads(1))).start()
    observers = Observers(final_observers(directory))
    try:
        trials = stored_trials(directory, prep.study.name)
        record = final_evaluation(prep, trials, directory, pool, retries=RunOptions().retries())
        print_final(record, directory)
        update_record(directory, status="finished")
        observers.final_evaluated(record)
    finally:
        pool.close()
        observers.run_ended()
    return 0
