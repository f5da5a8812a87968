"""Run a study end to end: check, create or resume the store, search, evaluate once."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.backends._local import STOPPED_ATTR, Budget, run_workers, trial_loop
from search.backends.ray._backend import prepare_backend
from search.core._errors import TestSetAlreadyOpened, UserError
from search.core._folder import FINAL_JSON, STUDY_JSON, now, read_json, write_json
from search.core._logging import log_to_file
from search.core._observers import Observers, RunContext, RunObserver
from search.core._options import RunOptions
from search.core._prepare import Prepared, prepare
from search.core._record import check_resume, study_record, update_record
from search.core._store import open_store, run_lock
from search.core._strategies import make_sampler, sampler_seed
from search.core._studyfile import load_study_file
from search.core._trials import ABANDONED, counts_toward_budget
from search.integrity._stopping import NoiseStop
from search.watching._progress import ProgressPrinter
from search.watching._results import ResultsWriter

if TYPE_CHECKING:
    import optuna

log = logging.getLogger("search")


def run(study_file: Path, options: RunOptions, argv: list[str]) -> int:
    """Search, then evaluate the best config once on the sealed test; return the exit status."""
    study = load_study_file(study_file).with_overrides(**options.overrides())
    directory = options.results / study.name
    stored = _stored_record(directory, options.resume)
    prep = prepare(study, study_file, seed=stored["seed"] if stored else None)
    for finding in prep.leaks:
        print(f"warning: leak check: {finding.message}", file=sys.stderr)
    fresh = study_record(prep, backend=study.backend, argv=argv)
    if stored is not None:
        check_resume(stored, fresh, directory)
        if (directory / FINAL_JSON).exists():
            raise UserError(
                f"{directory / FINAL_JSON}: the test set was already opened, so this study is "
                "closed; searching on would tune against the test result"
            )
    if options.tracking:
        from search.watching._tracking import check_tracking

        check_tracking(mlflow_uri(options))  # MLflow missing, server down: nothing written
    prepare_backend(study, options)  # Ray starts or is reached here: errors write nothing
    directory.mkdir(parents=True, exist_ok=True)
    with run_lock(directory):
        log_to_file(directory)
        started = now()
        if stored is None:
            write_json(directory / STUDY_JSON, fresh)
        else:
            update_record(
                directory,
                trials=study.trials,
                workers=study.workers,
                sampler=study.sampler,
                pruner=study.pruner,
                backend=study.backend,  # a study may resume on the other backend
                status="running",
                command=fresh["command"],
            )
        observers = Observers(_observers_for(prep, directory, options))
        try:
            return _search_and_evaluate(prep, directory, observers, options, started, argv)
        finally:
            observers.run_ended()  # the report and MLflow helpers finish (or stop) here


def _search_and_evaluate(
    prep: Prepared,
    directory: Path,
    observers: Observers,
    options: RunOptions,
    started: str,
    argv: list[str],
) -> int:
    study = prep.study
    try:
        _search(prep, directory, resume=options.resume, observers=observers, options=options)
    except KeyboardInterrupt:
        update_record(directory, status="interrupted", **_run_entry(directory, started, argv))
        print(
            f"interrupted: finished trials are kept in {directory}; continue with --resume",
            file=sys.stderr,
        )
        return 130
    update_record(directory, status="searched", **_run_entry(directory, started, argv))
    if study.nested:
        _nested(prep, study.nested, directory)
    if options.final and _can_evaluate(prep):
        record = _final(prep, directory)
        update_record(directory, status="finished")
        observers.final_evaluated(record)
    elif options.final:
        print("final: skipped (this study has no data or no way to fit a final model)")
    return 0


def _observers_for(prep: Prepared, directory: Path, options: RunOptions) -> list[RunObserver]:
    """Who hears about this run: the terminal, the results files, the report, MLflow."""
    from search.watching._report import ReportWriter

    terminal: RunObserver
    if sys.stdout.isatty():
        from search.watching._live import LiveProgress

        terminal = LiveProgress()
    else:
        terminal = ProgressPrinter()  # CI, pipes, tests: one line per trial
    observers: list[RunObserver] = [
        terminal,
        ResultsWriter(directory, prep.parts.space, prep.parts.direction, prefer=prep.prefer),
        ReportWriter(directory),  # before the tracker: drawn while its writer catches up
    ]
    if options.tracking:
        from search.watching._tracking import MlflowTracker

        observers.append(MlflowTracker(mlflow_uri(options), directory))
    return observers


def _final_observers(directory: Path) -> list[RunObserver]:
    """Who hears about ``python -m search final``: the report, and MLflow if the run tracked."""
    from search.watching._report import ReportWriter
    from search.watching._tracking import MlflowTracker

    tracker = MlflowTracker.from_record(directory)
    return [ReportWriter(directory), *([tracker] if tracker is not None else [])]


def _stored_record(directory: Path, resume: bool) -> dict[str, Any] | None:
    exists = (directory / STUDY_JSON).exists()
    if exists and not resume:
        raise UserError(
            f"{directory}: a study of this name exists; pass --resume to continue it, "
            "or give another name or --results folder"
        )
    if resume and not exists:
        raise UserError(f"{directory}: no study to resume (no {STUDY_JSON}); drop --resume")
    return read_json(directory / STUDY_JSON) if exists else None


def _run_entry(directory: Path, started: str, argv: list[str]) -> dict[str, Any]:
    runs = read_json(directory / STUDY_JSON).get("runs", [])
    runs.append({"started_at": started, "ended_at": now(), "argv": argv})
    return {"runs": runs}


def _can_evaluate(prep: Prepared) -> bool:
    return prep.split is not None and prep.parts.objective.can_fit_final


def _open_study(prep: Prepared, directory: Path, *, shared: bool, resume: bool) -> optuna.Study:
    """Create the study in the store, or load it and fail the trials a crash left RUNNING."""
    import optuna

    study = prep.study
    storage = open_store(directory, shared=shared)
    sampler, pruner = prep.sampler, prep.pruner
    if not resume:
        opt = optuna.create_study(
            study_name=study.name,
            storage=storage,
            sampler=sampler,
            pruner=pruner,
            direction=prep.parts.direction,  # type: ignore[arg-type]
        )
        defaults = prep.parts.space.default_params()
        if defaults:
            opt.enqueue_trial(defaults, user_attrs={"enqueued": "default config"})
        return opt
    opt = optuna.load_study(study_name=study.name, storage=storage, sampler=sampler, pruner=pruner)
    prior = started_trials(opt)
    if prior:  # a fresh seed for the rest of the study: the first run's draws are used up
        opt.sampler = make_sampler(study.sampler, prep.parts.space, sampler_seed(prep.seed, prior=prior))
    for trial in opt.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        storage.set_trial_system_attr(trial._trial_id, ABANDONED, True)
        storage.set_trial_user_attr(trial._trial_id, "error", "abandoned: its run was killed")
        storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
    return opt


def started_trials(opt: optuna.Study) -> int:
    """Trials a study's earlier runs started (an enqueued trial still waiting is not one)."""
    import optuna

    waiting = optuna.trial.TrialState.WAITING
    return sum(t.state != waiting for t in opt.get_trials(deepcopy=False))


def _search(
    prep: Prepared, directory: Path, *, resume: bool, observers: Observers, options: RunOptions
) -> None:
    """Run the study's trials on its backend, telling ``observers`` as trials finish."""
    study = prep.study
    shared = study.workers > 1 and study.backend == "local"  # Ray: the driver alone writes
    opt = _open_study(prep, directory, shared=shared, resume=resume)
    trials = opt.get_trials(deepcopy=False)
    done = sum(t.state.is_finished() and counts_toward_budget(t) for t in trials)
    observers.search_started(RunContext(prep, directory, resume, done), trials)
    deadline = time.time() + study.timeout if study.timeout else None
    stop_rule = NoiseStop(seed=prep.seed) if study.stop_below_noise else None
    budget = Budget(trials=study.trials, deadline=deadline, stop_rule=stop_rule)
    status = "interrupted"
    try:
        _run_backend(prep, directory, opt, budget, observers, options)
        status = "finished"
    finally:
        final = opt.get_trials(deepcopy=False) if not shared else _reload(directory, study.name)
        observers.search_ended(final, status)
    _report_early_stop(opt if not shared else _reload_study(directory, study.name), directory)


def _nested(prep: Prepared, k: int, directory: Path) -> None:
    from search.integrity._nested import nested_cv

    record = nested_cv(prep, k, directory)
    interval = record["outer_interval_95"]
    shown = f", 95% CI [{interval[0]:.4g}, {interval[1]:.4g}]" if interval else ""
    print(
        f"nested: {k}-fold estimate of the tuned pipeline {record['metric']} "
        f"{record['outer_mean']:.6g} ± {record['outer_std']:.4g}{shown}; inner best mean "
        f"{record['inner_best_mean']:.6g} (optimism {record['optimism']:+.4g})"
    )
    update_record(
        directory,
        nested={
            k: record[k]
            for k in (
                "k",
                "outer_mean",
                "outer_std",
                "outer_interval_95",
                "inner_best_mean",
                "optimism",
            )
        },
    )


def _report_early_stop(opt: optuna.Study, directory: Path) -> None:
    stop = opt.user_attrs.get(STOPPED_ATTR)
    if stop:
        print(
            f"search: stopped after {stop['trials']} complete trials: the regret bound "
            f"{stop['regret_bound']:.4g} is within the CV noise {stop['cv_error']:.4g} "
            "(Makarova et al. 2022)"
        )
        update_record(directory, stopped_early=stop)


def _run_backend(
    prep: Prepared,
    directory: Path,
    opt: optuna.Study,
    budget: Budget,
    observers: Observers,
    options: RunOptions,
) -> None:
    """Run the trials on the study's backend until the budget is spent."""
    study = prep.study
    if study.backend == "ray":
        from search.backends.ray._backend import run_ray

        run_ray(prep, directory, opt, budget, observers.trial_finished, options)
    elif study.workers > 1:
        run_workers(
            workers=study.workers,
            directory=directory,
            study_name=study.name,
            worker_args={
                "study_file": str(prep.study_file),
                "overrides": _worker_overrides(prep),
                "prior": started_trials(opt),
            },
            task=prep.task(directory),
            budget=budget,
            on_finished=observers.trial_finished,
        )
    else:
        trial_loop(
            opt, prep.task(directory), budget, lock_dir=None, on_finished=observers.trial_finished
        )


def _worker_overrides(prep: Prepared) -> dict[str, Any]:
    s = prep.study
    return {
        "trials": s.trials,
        "timeout": s.timeout,
        "sampler": s.sampler,
        "pruner": s.pruner,
        "workers": s.workers,
        "seed": prep.seed,
    }


def _reload_study(directory: Path, name: str) -> optuna.Study:
    import optuna

    return optuna.load_study(study_name=name, storage=open_store(directory, shared=True))


def _reload(directory: Path, name: str) -> list[Any]:
    return _reload_study(directory, name).get_trials(deepcopy=False)


def _final(prep: Prepared, directory: Path) -> dict[str, Any]:
    from search.core._final import final_evaluation

    trials = _reload(directory, prep.study.name)
    record = final_evaluation(prep, trials, directory)
    spread = record.get("validation_spread") or {}
    std = f" ± {spread['std']:.4g}" if spread.get("std") is not None else ""
    print(
        f"final: trial {record['trial']}: validation {record['metric']} "
        f"{record['validation_value']:.6g}{std}, test {record['test_value']:.6g} "
        f"({record['test_rows']} sealed rows, opened once) -> {directory / FINAL_JSON}"
    )
    return record


def run_final(directory: Path) -> int:
    """``python -m search final RESULTS/NAME``: the final evaluation alone."""
    if not (directory / STUDY_JSON).is_file():
        raise UserError(f"{directory}: not a study folder (no {STUDY_JSON})")
    stored = read_json(directory / STUDY_JSON)
    if (directory / FINAL_JSON).exists():
        raise TestSetAlreadyOpened.at(directory / FINAL_JSON)
    study_file = Path(stored.get("study_file") or "")
    study = load_study_file(study_file).with_overrides(seed=stored["seed"])
    prep = prepare(study, study_file, seed=stored["seed"])
    fresh = study_record(prep, backend=stored.get("backend", "local"), argv=[])
    check_resume(stored, fresh, directory)
    with run_lock(directory):
        log_to_file(directory)
        if not _can_evaluate(prep):
            raise UserError(f"{directory}: this study has no data or no way to fit a final model")
        record = _final(prep, directory)
        update_record(directory, status="finished")
        observers = Observers(_final_observers(directory))
        try:
            observers.final_evaluated(record)
        finally:
            observers.run_ended()
    return 0


def mlflow_uri(options: RunOptions) -> str:
    """Where MLflow runs go: ``--tracking-uri``, or the embedded store under RESULTS."""
    from search.watching._tracking import default_uri

    return options.tracking_uri or default_uri(options.results)
