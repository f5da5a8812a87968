"""The steps of a run that the run command strings together: records, the store, who listens,
and the lines the terminal prints."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.core._checkpoints import CHECKPOINT, RESTORE_FROM
from search.core._errors import UserError
from search.core._faults import fault_point
from search.core._folder import (
    FINAL_JSON,
    LOG_FILE,
    STORE_FILE,
    STUDY_JSON,
    read_record,
    write_json,
)
from search.core._journal_check import STARTING
from search.core._options import RunOptions
from search.core._prepare import Prepared
from search.core._record import update_record
from search.core._reproducible import SLOT, Reproducible, record_of, reproducible_for
from search.core._store import open_store, read_store
from search.core._strategies import sampler_seed
from search.core._trials import ABANDONED, PBT_ATTR, counts_toward_budget

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

    from search.core._observers import RunObserver
    from search.core._warm import WarmStart


def stored_record(directory: Path, *, resume: bool) -> dict[str, Any] | None:
    """The study's ``study.json`` when resuming; refuse a name that exists without --resume.

    A study whose ``study.json`` still says ``starting`` was never created in its journal (its
    run was killed while starting, before any trial): a run, resumed or not, takes it over and
    starts it afresh (``None``, as for a new study; :func:`begin_study` says so).
    """
    exists = (directory / STUDY_JSON).exists()
    record = read_record(directory / STUDY_JSON) if exists else None
    if record is not None and record.get("status") == STARTING:
        return None
    if exists and not resume:
        raise UserError(
            f"{directory}: a study of this name exists; pass --resume to continue it, "
            "or give another name or --results folder"
        )
    if resume and not exists:
        raise UserError(f"{directory}: no study to resume (no {STUDY_JSON}); drop --resume")
    if not exists and (directory / STORE_FILE).exists():
        raise UserError(
            f"{directory / STORE_FILE}: a study store without {STUDY_JSON}; move it away, and "
            "to build on its trials give it as Study(warm_start=...)"
        )
    return record


def begin_study(directory: Path, fresh: dict[str, Any]) -> None:
    """Write a new study's ``study.json``, saying ``starting`` until the study is created in the
    journal; a start that a kill left unfinished is taken over, and said so."""
    if (directory / STUDY_JSON).exists():  # stored_record let it through: it says "starting"
        print(f"search: {directory}: a run killed while creating this study left it unfinished "
              "(no trial ran); starting it afresh")
        (directory / STORE_FILE).unlink(missing_ok=True)
        fault_point("start:after-takeover")
    write_json(directory / STUDY_JSON, {**fresh, "status": STARTING})


def open_study(
    prep: Prepared, directory: Path, *, resume: bool, warm: WarmStart | None = None,
    attach: Callable[[Any, Prepared, bool], optuna.Study] | None = None,
) -> optuna.Study:
    """Create the study in the store (with a warm start's trials), or load it and abandon the
    trials a crash left RUNNING. ``attach``: a script's own study object, which becomes the
    study on this store (and brings the trials the script enqueued)."""
    import optuna

    study = prep.study
    storage = open_store(directory)
    sampler, pruner = prep.sampler, prep.pruner
    if not resume:
        goals = prep.parts.goals
        opt = optuna.create_study(
            study_name=study.name,
            storage=storage,
            sampler=sampler,
            pruner=pruner,
            directions=list(goals.directions.values()),  # type: ignore[arg-type]
        )
        fault_point("start:in-journal")
        if goals.names != ["value"]:
            opt.set_metric_names(goals.names)  # optuna-dashboard's axes
        if warm is not None:
            opt.add_trials(warm.trials)
        defaults = prep.parts.space.default_params()
        if defaults:
            opt.enqueue_trial(defaults, user_attrs={"enqueued": "default config"})
        return opt if attach is None else attach(storage, prep, False)
    try:
        opt = optuna.load_study(study_name=study.name, storage=storage, sampler=sampler,
                                pruner=pruner)
    except KeyError:
        raise UserError(f"{directory / STORE_FILE}: holds no study named {study.name!r}; the "
                        "journal was replaced or emptied; restore it, or move the study folder "
                        "away") from None
    if attach is not None:
        opt = attach(storage, prep, True)
    prior = sum(t.state.name != "WAITING" for t in opt.get_trials(deepcopy=False))
    if prior:  # a fresh seed for the rest of the study: the first run's draws are used up
        seed = sampler_seed(prep.seed, prior=prior)
        opt.sampler = prep.make_sampler(seed)
    for trial in opt.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        storage.set_trial_system_attr(trial._trial_id, ABANDONED, True)
        storage.set_trial_user_attr(trial._trial_id, "error", "abandoned: its run was killed")
        storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
        if CHECKPOINT in trial.system_attrs or SLOT in trial.system_attrs:
            # it runs again first: from its last checkpoint; in its slot, with its config
            opt.enqueue_trial(trial.params, user_attrs={RESTORE_FROM: trial.number,
                                                        **_carried(trial)})
    return opt


def _carried(trial: Any) -> dict[str, Any]:
    """What a continued trial keeps of the one it continues (a PBT member's lineage)."""
    return {key: trial.user_attrs[key] for key in (PBT_ATTR,) if key in trial.user_attrs}


def say_sampler(prep: Prepared) -> None:
    """Say which sampler ``auto`` chose and why (a named sampler needs no word)."""
    choice = prep.choice
    if choice is not None and choice.requested == "auto":
        print(choice.line())


def small_budget(opt: optuna.Study, trials: int | None) -> None:
    """Say so when the study ends before the sampler models anything: a random search. The
    trials the store already holds (a warm start's, a resumed run's) count: the sampler
    models them too."""
    from search.core._strategies import random_start

    start = random_start(opt.sampler)
    if start is None or trials is None:
        return
    name, count = start
    held = opt.get_trials(deepcopy=False)
    history = sum(t.state.is_finished() for t in held)
    to_run = trials - sum(t.state.is_finished() and counts_toward_budget(t) for t in held)
    if history + max(to_run, 0) <= count:
        shown = f"{trials} trials" if not history else \
            f"the {history} trials the study holds and {max(to_run, 0)} more"
        print(
            f"search: {shown} do not exceed {name}'s {count} random start-up trials, so "
            f"this search samples at random (give --trials above {count}, or --sampler random "
            "to say so)"
        )


def stored_trials(directory: Path, name: str) -> list[FrozenTrial]:
    """The trials in a study's store, read only."""
    import optuna

    storage = read_store(directory / STORE_FILE)
    return optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)


def tracking_uri(options: RunOptions) -> str:
    """Where MLflow runs go: ``--tracking-uri``, or the embedded store under RESULTS."""
    from search.watching._tracking import default_uri

    return options.tracking_uri or default_uri(options.results)


def observers_for(prep: Prepared, directory: Path, options: RunOptions) -> list[RunObserver]:
    """Who hears about this run: the terminal, the results files, the report, MLflow."""
    from search.watching._progress import ProgressPrinter
    from search.watching._report import ReportWriter
    from search.watching._results import ResultsWriter

    terminal: RunObserver
    if sys.stdout.isatty():
        from search.watching._live import LiveProgress

        terminal = LiveProgress()
    else:
        terminal = ProgressPrinter()  # CI, pipes, tests: one line per trial
    observers: list[RunObserver] = [
        terminal,
        ResultsWriter(directory, prep.parts.space, prep.parts.goals, prefer=prep.prefer),
        ReportWriter(directory),  # before the tracker: drawn while its writer catches up
    ]
    if options.tracking:
        from search.watching._tracking import MlflowTracker

        observers.append(MlflowTracker(tracking_uri(options), directory, options.register))
    return observers


def final_observers(directory: Path) -> list[RunObserver]:
    """Who hears about ``python -m search final``: the report, and MLflow if the run tracked."""
    from search.watching._report import ReportWriter
    from search.watching._tracking import MlflowTracker

    tracker = MlflowTracker.from_record(directory)
    return [ReportWriter(directory), *([tracker] if tracker is not None else [])]


def no_complete_trial(trials: list[FrozenTrial], directory: Path) -> str:
    """One line on why a search ended without a complete trial."""
    counts: dict[str, int] = {}
    for trial in trials:
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    shown = ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "no trials"
    errors = [t.user_attrs.get("error") for t in trials if t.state.name == "FAIL"]
    first = next((e for e in errors if e), None)
    why = f"; the first failure: {first}" if first else ""
    return f"no trial completed ({shown}){why}; see {directory / LOG_FILE}"


def print_stop(stop: dict[str, Any]) -> None:
    print(
        f"search: stopped after {stop['trials']} complete trials: the regret bound "
        f"{stop['regret_bound']:.4g} is within the CV noise {stop['cv_error']:.4g} "
        "(Makarova et al. 2022)"
    )


def print_nested(record: dict[str, Any]) -> None:
    interval = record["outer_interval_95"]
    shown = f", 95% CI [{interval[0]:.4g}, {interval[1]:.4g}]" if interval else ""
    print(
        f"nested: {record['k']}-fold estimate of the tuned pipeline {record['metric']} "
        f"{record['outer_mean']:.6g} ± {record['outer_std']:.4g}{shown}; inner best mean "
        f"{record['inner_best_mean']:.6g} (optimism {record['optimism']:+.4g})"
    )


def print_final(record: dict[str, Any], directory: Path) -> None:
    spread = record.get("validation_spread") or {}
    std = f" ± {spread['std']:.4g}" if spread.get("std") is not None else ""
    later = f" at {record['opened_at']}, scored now from the model saved before it" \
        if record.get("completed") else ""  # an evaluation stopped after its opening
    print(
        f"final: trial {record['trial']}: validation {record['metric']} "
        f"{record['validation_value']:.6g}{std}, test {record['test_value']:.6g} "
        f"({record['test_rows']} sealed rows, opened once{later}) -> {directory / FINAL_JSON}"
    )


def reproducible_run(prep: Prepared, options: RunOptions, directory: Path, workers: int,
                     pbt: bool) -> Reproducible | None:
    """Whether this run reproduces for its seed (recorded in ``study.json``), and how."""
    recorded = read_record(directory / STUDY_JSON).get("reproducible")
    settings, why = reproducible_for(prep.study.sampler, pbt, prep.seed, workers,
                                     options.reproducible, recorded)
    update_record(directory, reproducible=record_of(settings, why))
    return settings
