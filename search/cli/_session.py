"""One study's run, in the contract's order, held open for one or more searches.

Opening takes the study's run lock, checks everything (study, data, space, objective, flags,
tracking, the backend), and only then writes: ``study.json``, the store, the workers, the
observers. A run that stops at a check leaves nothing behind. Then each :meth:`search` runs
trials on the engine (a study file searches once; a script may call ``optimize`` several
times), and :meth:`close` ends the search, the workers and the observers, however the run
ends.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.backends import placement_for
from search.cli._steps import (
    begin_study,
    observers_for,
    open_study,
    print_stop,
    reproducible_run,
    say_sampler,
    small_budget,
    stored_record,
    tracking_uri,
)
from search.core._engine import Budget, Engine
from search.core._errors import RunError, UserError
from search.core._faults import fault_point
from search.core._folder import (
    FINAL_JSON,
    STORE_FILE,
    STUDY_JSON,
    now,
    read_record,
    unscored_final,
)
from search.core._journal_check import CHECKPOINT_S, JOURNAL_KEY, Ledger, check_journal
from search.core._logging import log_to_file
from search.core._observers import Observers, RunContext
from search.core._options import RunOptions
from search.core._pbt import PBT
from search.core._pool import WorkerPool
from search.core._prepare import Prepared, prepare
from search.core._record import (
    STUDY_FILE_KEYS,
    check_resume,
    check_study_file,
    study_record,
    update_record,
)
from search.core._reproducible import Reproducible
from search.core._store import run_lock
from search.core._strategies import strategy_record
from search.core._study import Study
from search.core._trials import counts_toward_budget
from search.core._warm import WarmStart, warm_start

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

#: a script's own study, given the store, the prepared study and whether it resumes: it
#: becomes the study the trials run on (see :func:`search.cli._steps.open_study`)
Attach = Callable[[Any, Prepared, bool], "optuna.Study"]


class RunSession:
    """The run of ``study`` from ``study_file``: open it, search, close it."""

    def __init__(self, study: Study, study_file: Path, options: RunOptions, argv: list[str],
                 *, attach: Attach | None = None) -> None:
        self.study_file, self.options, self.argv = study_file, options, argv
        self.study = study if attach else study.within_budget()  # a script may optimize again
        self.directory = options.results / study.name
        self.attach = attach  # a script's study: trials run on it, not on a new one
        self._stack = contextlib.ExitStack()
        self.prep: Prepared | None = None
        self.opt: optuna.Study | None = None
        self.pool: WorkerPool | None = None
        self.observers = Observers([])
        self.written = False
        self._searches = 0
        self._reproducible: Reproducible | None = None
        self._ended = False
        self._started = now()
        self.ledger = Ledger(self._journal)  # what the run wrote to the journal
        self._checked_at = 0.0

    # --- opening: check everything, then write --------------------------------------------------

    def open(self) -> RunSession:
        """Take the run lock and check everything, then write and start the workers."""
        self.options.check_backend(self.study.backend)
        _check_register(self.options)
        self._stack.enter_context(run_lock(self.directory))
        try:
            checked = self._check()
            self._write(*checked)
        except BaseException:
            self._stack.close()
            raise
        return self

    def _check(self) -> tuple[Prepared, dict[str, Any] | None, dict[str, Any], Any, Any]:
        options, directory = self.options, self.directory
        stored = stored_record(directory, resume=options.resume)
        self.resumed = stored is not None  # --resume of a start a kill cut short starts afresh
        fault_point("start:after-lock")
        # the journal holds what the run recorded (resume); a new study starts an empty one
        self.ledger = check_journal(directory, stored) if stored else Ledger(self._journal)
        prep = prepare(self.study, self.study_file, seed=stored["seed"] if stored else None,
                       sampler=stored.get("sampler") if stored else None)
        fresh = study_record(prep, backend=self.study.backend, argv=self.argv)
        if stored is not None:
            check_resume(stored, fresh, directory)  # names what differs, where it can
            check_study_file(stored, self.study_file, directory)
            if (directory / FINAL_JSON).exists():
                unscored = unscored_final(read_record(directory / FINAL_JSON), directory)
                left = f" ({unscored})" if unscored else ""
                raise UserError(
                    f"{directory / FINAL_JSON}: the test set was already opened{left}, so this "
                    "study is closed; searching on would tune against the test result"
                )
        warm = self._warm_start(prep) if stored is None else None
        for finding in prep.leaks:
            print(f"warning: leak check: {finding.message}", file=sys.stderr)
        if options.tracking:
            from search.watching._tracking import check_tracking

            check_tracking(tracking_uri(options))  # MLflow missing, server down: nothing written
        placement = placement_for(self.study, options)  # Ray starts or is reached
        try:
            setup = prep.setup(directory, placement.threads(self.study.workers))
        except UserError:
            placement.close()
            raise
        return prep, stored, fresh, warm, (placement, setup)

    def _warm_start(self, prep: Prepared) -> WarmStart | None:
        """The trials a fresh study takes from ``warm_start`` (read before anything is written)."""
        if prep.study.warm_start is None:
            return None
        warm = warm_start(prep.study.warm_start, prep.parts.space, prep.parts.goals,
                          self.study_file.parent)
        print(warm.line())
        return warm

    def _write(self, prep: Prepared, stored: dict[str, Any] | None, fresh: dict[str, Any],
               warm: WarmStart | None, workers: tuple[Any, Any]) -> None:
        """Every check passed: from here on the run writes. The study is created (or loaded)
        in the journal first, then ``study.json`` records it with the journal's ledger: the
        commit of the start (a kill before it leaves ``starting``, which a fresh run takes over;
        a kill after it, a study that ``--resume`` continues)."""
        study, directory = prep.study, self.directory
        placement, setup = workers
        try:
            log_to_file(directory)
            if stored is None:
                begin_study(directory, fresh)
                fault_point("start:after-study-json")
            self.opt = open_study(prep, directory, resume=self.resumed, warm=warm,
                                  attach=self.attach)
            fault_point("start:after-journal")
            again = {} if stored is None else dict(
                trials=study.trials, workers=study.workers, sampler=fresh["sampler"],
                pruner=strategy_record(study.pruner), backend=study.backend,
                command=fresh["command"],  # and the file the user named, signed by them now
                **{key: fresh.get(key) for key in STUDY_FILE_KEYS})
            update_record(directory, status="running", **again, **self._checkpoint())
        except BaseException:
            placement.close()
            raise
        self.written = True
        fault_point("start:after-commit")
        placement.begin(directory)
        self._stack.callback(self._observers_ended)  # last: after the workers stopped
        self.pool = WorkerPool(placement, study.workers, setup).start()
        self._stack.callback(self.pool.close)
        self.observers = Observers(observers_for(prep, directory, self.options))
        self.prep = prep

    @property
    def _journal(self) -> Path:
        return self.directory / STORE_FILE

    def _checkpoint(self) -> dict[str, Any]:
        """The journal's ledger as ``study.json`` records it, brought up to date."""
        self._checked_at = time.monotonic()
        return {JOURNAL_KEY: self.ledger.advance()}

    def _observers_ended(self) -> None:
        self.observers.run_ended()  # the report and MLflow helpers finish (or stop) here

    # --- searching ------------------------------------------------------------------------------

    def search(self, *, trials: int | None, timeout: float | None,
               callbacks: Sequence[Callable[..., Any]] = (),
               stop_requested: Callable[[], bool] | None = None) -> list[FrozenTrial]:
        """Run trials until the study counts ``trials`` (``None``: no limit), ``timeout``
        seconds pass, or the study is told to stop; return every trial."""
        prep, opt, pool = self.prep, self.opt, self.pool
        if prep is None or opt is None or pool is None:
            raise RuntimeError("RunSession.search before open()")
        if self._searches == 0:
            say_sampler(prep)
            small_budget(opt, trials)
            done = sum(t.state.is_finished() and counts_toward_budget(t)
                       for t in opt.get_trials(deepcopy=False))
            context = RunContext(prep, self.directory, self.resumed, done)
            self.observers.search_started(context, opt.get_trials(deepcopy=False))
            self._reproducible = reproducible_run(prep, self.options, self.directory, pool.size,
                                                  isinstance(opt.pruner, PBT))
        else:
            self.observers.budget_changed(trials)
        self._searches += 1
        deadline = time.time() + timeout if timeout else None
        budget = Budget(trials=trials, deadline=deadline, stop_rule=prep.stop_rule())
        engine = Engine(opt, prep.parts.space, pool, budget,
                        on_finished=self._finished(callbacks), retries=self.options.retries(),
                        goals=prep.parts.goals, stop_requested=stop_requested,
                        directory=self.directory, keep_checkpoints=self.options.keep_checkpoints,
                        reproducible=self._reproducible, sampler_for=prep.make_sampler)
        stop = engine.run()
        if engine.mismatch is not None:
            raise RunError(f"{engine.mismatch}; see {self.directory / 'search.log'}")
        if stop is not None:
            print_stop(stop)
            update_record(self.directory, stopped_early=stop)
        elif engine.ended_by == "timeout":
            print(f"search: the timeout of {timeout:g} s ended the search: no trial started "
                  "after it")
        return opt.get_trials(deepcopy=False)

    def use_objective(self, fn: Any) -> None:
        """A script's later ``optimize`` with another objective: its trials run it, on fresh
        workers (a worker holds the task it was started with)."""
        import dataclasses

        from objectives import FunctionObjective

        prep, pool = self.prep, self.pool
        if prep is None or pool is None:
            raise RuntimeError("RunSession.use_objective before open()")
        parts = dataclasses.replace(prep.parts, objective=FunctionObjective(fn))
        self.prep = dataclasses.replace(prep, parts=parts)
        pool.restart(self.prep.setup(self.directory, pool.placement.threads(pool.size)))

    def _finished(self, callbacks: Sequence[Callable[..., Any]]) -> Callable[..., None]:
        """What runs in the driver after each trial: the observers, then a script's callbacks
        (Optuna's ``callbacks=``, called with the study and the finished trial)."""

        def finished(trial: FrozenTrial, trials: Any) -> None:
            self.observers.trial_finished(trial, trials)
            if time.monotonic() - self._checked_at >= CHECKPOINT_S:
                update_record(self.directory, **self._checkpoint())
            for callback in callbacks:
                callback(self.opt, trial)

        return finished

    # --- closing --------------------------------------------------------------------------------

    def end_search(self, status: str) -> None:
        """Tell the observers the search ended (``finished`` or ``interrupted``) and record it;
        once, and only if a search ran."""
        if self._ended or not self._searches or self.opt is None:
            return
        self._ended = True
        self.observers.search_ended(self.opt.get_trials(deepcopy=False), status)
        runs = read_record(self.directory / STUDY_JSON).get("runs", [])
        runs.append({"started_at": self._started, "ended_at": now(), "argv": self.argv})
        update_record(self.directory, runs=runs,
                      status="searched" if status == "finished" else status, **self._checkpoint())

    def close(self, status: str = "finished") -> None:
        """End the search (if one ran), stop the workers and the observers, release the lock."""
        try:
            self.end_search(status)
        finally:
            self._stack.close()


def _check_register(options: RunOptions) -> None:
    """``--register`` needs MLflow and a final model: refuse it where it would do nothing."""
    if options.register is None:
        return
    if not options.tracking or not options.final:
        flag = "--no-tracking" if not options.tracking else "--no-final"
        raise UserError(f"--register {options.register}: registers the final model in MLflow, "
                        f"which {flag} leaves out; drop one of them")
