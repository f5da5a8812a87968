"""``python -m search FILE`` and ``python -m search final``: a run from start to end.

FILE runs as ``__main__`` (:mod:`search.scripts`). A researcher's Optuna script searches as it
calls ``optimize`` (a Ray Tune script as it calls ``Tuner.fit``); a study file defines
``study``, which is then searched. Either way each
study's run keeps the contract's order (:mod:`search.cli._session`): take the study's run
lock, check everything, and only then write. Then the search runs on the engine, and a study
with data evaluates its best config once on the sealed test.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.backends import local_placement
from search.cli._session import RunSession
from search.cli._steps import (
    final_observers,
    no_complete_trial,
    print_final,
    print_nested,
    stored_trials,
)
from search.core._engine import INTERRUPTED
from search.core._errors import CannotWrite, UserError
from search.core._final import complete_final, final_evaluation, pending_opening
from search.core._folder import STUDY_JSON, read_record
from search.core._journal_check import check_journal
from search.core._logging import log_to_file
from search.core._observers import Observers
from search.core._options import RunOptions
from search.core._pool import WorkerPool
from search.core._prepare import Prepared, prepare
from search.core._record import check_resume, check_study_file, study_record, update_record
from search.core._store import run_lock
from search.core._studyfile import load_study_file, study_from
from search.core._sweep import read_sweep_file
from search.scripts import ScriptRun

if TYPE_CHECKING:
    import optuna

EXIT_NO_TRIAL = 1


def run(study_file: Path, options: RunOptions, argv: list[str],
        script_args: list[str] | None = None, *, sweep: Path | None = None) -> int:
    """Run the file as ``__main__``: a script's ``optimize`` calls search as they come; a study
    file's ``study`` (with what a W&B ``sweep`` sets) is searched, then its best config
    evaluated once on the sealed test. Return the exit status."""
    sweep_read = read_sweep_file(sweep) if sweep is not None else None
    with _terminate_as_interrupt():
        script = ScriptRun(study_file, list(script_args or []), options,
                           _session_opener(study_file, options, argv), sweep=sweep)
        status = _run_script(script)
        if status is not None:
            return status
        study = study_from(script.as_study_file(), study_file, options.overrides(), sweep_read)
        return _run_study(RunSession(study, study_file, options, argv).open())


def _session_opener(study_file: Path, options: RunOptions, argv: list[str]) -> Any:
    """How a script's first ``optimize`` of a study opens the framework's run for it."""

    def open_session(study: Any, script_study: Any,
                     run_options: RunOptions | None = None) -> RunSession:
        """``run_options``: the options as the script's own settings complete them (a Tune
        script's ``FailureConfig(max_failures)`` as ``--max-retries``)."""
        return RunSession(study, study_file, run_options or options, argv,
                          attach=script_study.attach).open()

    return open_session


def _run_script(script: ScriptRun) -> int | None:
    """Execute the file; the exit status once a script ran its own searches, or ``None`` when
    the file defines a study to search."""
    status = "finished"
    try:
        script.run()
    except KeyboardInterrupt:
        status = "interrupted"
        if not script.searched:
            raise
        for session in script.answers.sessions:
            print(f"interrupted: finished trials are kept in {session.directory}; continue "
                  "with --resume", file=sys.stderr)
        return 130
    except SystemExit as ended:  # the script's own sys.exit (or its argparse's)
        return _exit_status(ended)
    except UserError as exc:
        if not script.searched:
            raise  # nothing written: exit 2, one line
        print(f"error: {exc}", file=sys.stderr)
        status = "failed"
        return 2 if isinstance(exc, CannotWrite) else 1  # a full disk is 2 wherever it comes
    finally:
        try:
            script.close(status)
        except CannotWrite:
            if status != "failed":
                raise  # else the disk was full already, and said so once
    elsewhere = [name for name, study in script.answers.studies.items() if study.ran_elsewhere]
    if elsewhere:
        print(f"error: {script.file}: study {elsewhere[0]!r} ran its trials outside "
              "study.optimize, in the script's own process (a loop of its own, or a tuner such "
              "as LightGBMTuner): nothing of them is recorded; tune through study.optimize",
              file=sys.stderr)
        return 1
    return 0 if script.answers.sessions else None


def _exit_status(ended: SystemExit) -> int:
    """A script's ``sys.exit(code)``: its code (a message is printed and is status 1)."""
    if ended.code is None or isinstance(ended.code, int):
        return int(ended.code or 0)
    print(ended.code, file=sys.stderr)
    return 1


def _run_study(session: RunSession) -> int:
    """Search a study file's study, then evaluate its best config once on the sealed test."""
    prep, pool = session.prep, session.pool
    directory, options = session.directory, session.options
    if prep is None or pool is None:
        raise RuntimeError("a study's run must be open before it searches")
    try:
        try:
            trials = session.search(trials=session.study.trials, timeout=session.study.timeout)
        except KeyboardInterrupt:
            session.end_search("interrupted")
            print(f"interrupted: finished trials are kept in {directory}; continue with "
                  "--resume", file=sys.stderr)
            return 130
        session.end_search("finished")
        if not any(t.state.name == "COMPLETE" for t in trials):
            print(f"error: {no_complete_trial(trials, directory)}", file=sys.stderr)
            update_record(directory, status="no complete trial")
            return EXIT_NO_TRIAL
        if prep.study.nested:
            _nested(prep, prep.study.nested, directory, pool, options)
        if options.final and prep.can_evaluate:
            record = _final(prep, directory, pool, options, trials)
            update_record(directory, status="finished")
            session.observers.final_evaluated(record)
        elif options.final:
            print("final: skipped (this study has no data or no way to fit a final model)")
        return 0
    finally:
        session.close()


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
    saver = None if prep.study.backend == "local" else _local_saver(prep, directory)
    record = final_evaluation(prep, trials, directory, pool, retries=options.retries(),
                              saver=saver)
    print_final(record, directory)
    return record


def _local_saver(prep: Prepared, directory: Path) -> Any:
    """A worker on this machine for the final model's save, when the run's workers may run
    on other machines (Ray): the model is saved into the results folder here."""

    @contextlib.contextmanager
    def saver() -> Iterator[WorkerPool]:
        placement = local_placement()
        pool = WorkerPool(placement, 1, prep.setup(directory, placement.threads(1))).start()
        try:
            yield pool
        finally:
            pool.close()

    return saver


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


def run_final(directory: Path, named: Path | None = None) -> int:
    """``python -m search final RESULTS/NAME [STUDY_FILE]``: the final evaluation alone. It runs
    the study file the user ``named``, or the one ``study.json`` names while its keyed digest
    verifies (a results folder alone cannot make ``final`` run code)."""
    if not (directory / STUDY_JSON).is_file():
        raise UserError(f"{directory}: not a study folder (no {STUDY_JSON})")
    stored = read_record(directory / STUDY_JSON)
    check_journal(directory, stored)  # a truncated or edited journal: exit 2, nothing opened
    pending_opening(directory)  # an evaluated final.json is refused here, an unscored one kept
    study_file = (named or Path(stored.get("study_file") or "")).resolve()  # checked as run
    check_study_file(stored, study_file, directory, named=named is not None)  # before it runs
    with run_lock(directory):
        study = load_study_file(study_file, seed=stored["seed"])
        prep = prepare(study, study_file, seed=stored["seed"], sampler=stored.get("sampler"))
        check_resume(stored, study_record(prep, backend="local", argv=[]), directory)
        if not prep.can_evaluate:
            raise UserError(f"{directory}: this study has no data or no way to fit a final model")
        log_to_file(directory)
        return _final_alone(prep, directory)


def _final_alone(prep: Prepared, directory: Path) -> int:
    opened = pending_opening(directory)  # killed after the opening: score the saved model
    placement = local_placement()
    pool = WorkerPool(placement, 1, prep.setup(directory, placement.threads(1)))
    observers = Observers(final_observers(directory))
    try:
        trials = stored_trials(directory, prep.study.name)
        if opened is not None:
            record = complete_final(prep, trials, directory, opened)
        else:
            pool.start()
            record = final_evaluation(prep, trials, directory, pool, retries=RunOptions().retries())
        print_final(record, directory)
        update_record(directory, status="finished")
        observers.final_evaluated(record)
    finally:
        pool.close()
        observers.run_ended()
    return 0
