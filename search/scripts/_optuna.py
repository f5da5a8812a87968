"""A script's ``optuna.create_study`` / ``optuna.load_study``, answered by the framework.

While a script runs under ``python -m search``, creating or loading a study gives it a
:class:`ScriptStudy`: Optuna's own ``Study`` class, so everything the script does with it
after ``optimize`` (``best_params``, ``trials_dataframe()``, plots, callbacks) reads the real
results. Until the first ``optimize`` the study lives in memory and nothing is written
(``enqueue_trial``, ``add_trial``, ``set_user_attr``, ``set_metric_names`` are kept); its
first ``optimize`` opens the framework's run for it (the run lock, every check, then the
results folder named after the study), moves what the script enqueued into the store, and
runs the trials in the framework's workers. ``study.stop()`` and callbacks work as in Optuna.
The script's sampler, pruner, directions, ``n_trials``, ``timeout`` and ``n_jobs`` are used
unless a flag overrides them.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
from optuna.study import StudyDirection
from optuna.trial import TrialState

from search.core._engine import trials_used
from search.core._errors import UserError
from search.core._options import RunOptions
from search.core._study import Study

if TYPE_CHECKING:
    from search.core._prepare import Prepared

#: opens the framework's run for a study the script built: (study, the script's study) -> session
OpenSession = Callable[[Study, "ScriptStudy"], Any]


class ScriptStudy(optuna.Study):
    """The study a script created (see the module's docstring)."""

    def __init__(self, answers: OptunaAnswers, name: str, directions: list[str],
                 given: dict[str, Any]) -> None:
        memory = optuna.storages.InMemoryStorage()
        with _quiet():  # Optuna would log a study "created in memory": the script's is not
            memory.create_new_study([StudyDirection[d.upper()] for d in directions], name)
        sampler = given["sampler"] if given["sampler"] is not None else \
            optuna.samplers.RandomSampler()  # until optimize: the study's own comes then
        super().__init__(study_name=name, storage=memory, sampler=sampler, pruner=given["pruner"])
        self._answers = answers
        self._given = given  # what the script passed: direction(s), sampler, pruner, storage
        self._session: Any = None
        self._objective: Any = None
        self._calls = 0
        self._stop_asked = False
        self._in_optimize = False
        self._added = 0  # trials the script added (add_trial), not run

    # --- what the script calls ------------------------------------------------------------------

    def optimize(self, func: Any, n_trials: int | None = None, timeout: float | None = None,
                 n_jobs: int = 1, catch: Any = (), callbacks: Iterable[Any] | None = None,
                 gc_after_trial: bool = False, show_progress_bar: bool = False) -> None:
        """Run trials of ``func`` in the framework's workers (``catch``, ``gc_after_trial`` and
        ``show_progress_bar`` change nothing: a failing trial is always FAIL and the search goes
        on, workers are fresh processes, and the terminal shows the framework's progress)."""
        with self._answers.framework():
            trials, timeout = self._budget(n_trials, timeout)
            if self._session is None:
                self._session = self._answers.open(self._spec(func, trials, timeout, n_jobs), self)
            elif func is not self._objective:
                self._session.use_objective(func)
            self._objective = func
            self._calls += 1
            self._stop_asked, self._in_optimize = False, True
            try:
                self._session.search(trials=self._target(trials), timeout=timeout,
                                     callbacks=list(callbacks or ()),
                                     stop_requested=lambda: self._stop_asked)
            finally:
                self._in_optimize = False

    def add_trial(self, trial: Any) -> None:
        super().add_trial(trial)
        if self._session is None:
            self._added += 1

    @property
    def ran_elsewhere(self) -> bool:
        """Whether trials ran on this study outside its ``optimize`` before it opened a run:
        in the script's own process (a tuner's loop over a study of its own making, such as
        LightGBMTuner's), so nothing of them is recorded."""
        if self._session is not None:
            return False
        finished = [t for t in self.get_trials(deepcopy=False) if t.state != TrialState.WAITING]
        return len(finished) > self._added

    def stop(self) -> None:
        if not self._in_optimize:
            raise RuntimeError("`Study.stop` is supposed to be invoked inside an objective "
                               "function or a callback.")
        self._stop_asked = True

    def ask(self, fixed_distributions: Any = None) -> optuna.Trial:
        if not self._in_optimize:
            raise RuntimeError(_ASK_TELL.format(call="ask"))
        return super().ask(fixed_distributions)

    def tell(self, *args: Any, **kwargs: Any) -> Any:
        if not self._in_optimize:
            raise RuntimeError(_ASK_TELL.format(call="tell"))
        return super().tell(*args, **kwargs)

    # --- the framework's side -------------------------------------------------------------------

    def attach(self, storage: Any, prep: Prepared, resume: bool) -> ScriptStudy:
        """Become the study on the framework's ``storage``, bringing what the script enqueued,
        added and set (on resume, enqueued trials already there are not enqueued again, and
        added ones are not added again)."""
        kept = self.get_trials(deepcopy=False)
        attrs = self.user_attrs
        optuna.Study.__init__(self, study_name=self.study_name, storage=storage,
                              sampler=prep.sampler, pruner=prep.pruner)
        for trial in kept:
            if trial.state == TrialState.WAITING:
                params = trial.system_attrs.get("fixed_params", trial.params)
                self.enqueue_trial(params, user_attrs=trial.user_attrs, skip_if_exists=resume)
            elif not resume:
                self.add_trial(trial)
        for key, value in attrs.items():
            self.set_user_attr(key, value)
        return self

    def _budget(self, n_trials: int | None, timeout: float | None) -> tuple[int | None, Any]:
        """This call's trials and timeout: the script's, unless a flag gives them."""
        options = self._answers.options
        trials = options.trials if options.trials is not None else n_trials
        return trials, options.timeout if options.timeout is not None else timeout

    def _target(self, trials: int | None) -> int | None:
        """The total of trials this call runs the study to (the ``k``-th call of a resumed
        script completes the total its first run recorded for that call)."""
        recorded = self._answers.recorded_targets(self.study_name)
        if self._answers.options.resume and self._calls <= len(recorded):
            return recorded[self._calls - 1]  # type: ignore[no-any-return]
        target = None if trials is None else trials_used(self) + trials
        self._answers.record_target(self.study_name, self._calls, target)
        return target

    def _spec(self, func: Any, trials: int | None, timeout: float | None, n_jobs: int) -> Study:
        """The framework's study for this script study, flags applied, with its start line."""
        from objectives import FunctionObjective

        options, given = self._answers.options, self._given
        directions = [d.name.lower() for d in self.directions]
        names = self.metric_names
        workers = (os.cpu_count() or 1) if n_jobs == -1 else max(1, int(n_jobs))
        goals: dict[str, Any] = {"direction": directions[0]} if len(directions) == 1 else \
            {"directions": directions}
        if names:  # set_metric_names: the values keep the script's names
            goals = {"directions": dict(zip(names, directions, strict=True))}
        study = Study(
            name=self.study_name, objective=FunctionObjective(func), **goals,
            sampler=given["sampler"] if given["sampler"] is not None else "auto",
            pruner=given["pruner"] if given["pruner"] is not None else "auto",
            trials=self._target_preview(trials), timeout=timeout, workers=workers,
            warm_start=self._answers.warm_source(given["storage"], self.study_name),
        )
        overrides = {k: v for k, v in options.overrides().items() if k not in ("trials", "timeout")}
        final = study.with_overrides(**overrides)
        self._answers.say(final, given, n_jobs, trials, timeout)
        return final

    def _target_preview(self, trials: int | None) -> int | None:
        """The first call's total, for the record and the terminal (before the store opens)."""
        recorded = self._answers.recorded_targets(self.study_name)
        if self._answers.options.resume and recorded:
            return recorded[0]  # type: ignore[no-any-return]
        return None if trials is None else trials_used(self) + trials


_ASK_TELL = ("study.{call}: under `python -m search` trials run in the framework's workers "
             "through study.optimize; an ask-and-tell loop would run the objective in the "
             "script's own process: call study.optimize, or run the script with plain python")


class OptunaAnswers:
    """What ``optuna.create_study`` and ``optuna.load_study`` do while a script runs."""

    def __init__(self, file: Path, options: RunOptions, open_session: OpenSession,
                 framework: Callable[[], Any], *, sweep: Path | None = None) -> None:
        self.file, self.options, self.sweep = file, options, sweep
        self._open_session = open_session
        self.framework = framework  # a context: the framework works, the script waits
        self.studies: dict[str, ScriptStudy] = {}
        self.sessions: list[Any] = []
        self._targets: dict[str, list[int | None]] = {}

    def create_study(self, *, storage: Any = None, sampler: Any = None, pruner: Any = None,
                     study_name: str | None = None, direction: Any = None,
                     load_if_exists: bool = False, directions: Sequence[Any] | None = None,
                     ) -> ScriptStudy:
        if self.sweep is not None:
            raise UserError(f"{self.file} creates its own Optuna study, and {self.sweep} gives "
                            "the space: run the script without the sweep, or tune an "
                            "objective of the config with it")
        name = study_name if study_name is not None else self._default_name()
        if name in self.studies:
            return self.studies[name]
        if direction is not None and directions is not None:
            raise ValueError("Specify only one of `direction` and `directions`.")
        listed = [direction or "minimize"] if directions is None else list(directions)
        names = [d.name.lower() if isinstance(d, StudyDirection) else str(d) for d in listed]
        given = {"sampler": sampler, "pruner": pruner, "storage": storage,
                 "direction": direction if directions is None else directions}
        study = ScriptStudy(self, name, names, given)
        self.studies[name] = study
        return study

    def load_study(self, *, study_name: str | None, storage: Any, sampler: Any = None,
                   pruner: Any = None) -> ScriptStudy:
        if study_name is not None and study_name in self.studies:
            return self.studies[study_name]
        with self.framework():
            names = optuna.get_all_study_names(storage) if study_name is None else [study_name]
            if len(names) != 1:
                raise ValueError(f"Could not determine the study name since the storage "
                                 f"{storage} does not contain exactly 1 study. Specify "
                                 "`study_name`.")
            directions = optuna.load_study(study_name=names[0], storage=storage).directions
        return self.create_study(storage=storage, sampler=sampler, pruner=pruner,
                                 study_name=names[0], directions=directions)

    def open(self, study: Study, script_study: ScriptStudy) -> Any:
        session = self._open_session(study, script_study)
        self.sessions.append(session)
        return session

    def _default_name(self) -> str:
        stem = re.sub(r"[^A-Za-z0-9_.-]", "_", self.file.stem).lstrip("_.-") or "study"
        taken = sum(name == stem or name.startswith(f"{stem}_") for name in self.studies)
        return stem if not taken else f"{stem}_{taken + 1}"

    # --- budgets a resumed script completes -----------------------------------------------------

    def recorded_targets(self, name: str) -> list[int | None]:
        """The trial totals the study's first run recorded for each ``optimize`` call."""
        if name not in self._targets:
            from search.core._folder import STUDY_JSON, read_record

            path = self.options.results / name / STUDY_JSON
            stored = read_record(path).get("optimize_calls", []) if path.is_file() else []
            self._targets[name] = list(stored) if self.options.resume else []
        return self._targets[name]

    def record_target(self, name: str, call: int, target: int | None) -> None:
        from search.core._record import update_record

        targets = self._targets.setdefault(name, [])
        targets[call - 1:] = [target]
        update_record(self.options.results / name, optimize_calls=targets)

    # --- the storage a script named ---------------------------------------------------------------

    def warm_source(self, storage: Any, name: str) -> Any:
        """A warm start from the script's own ``storage`` when it holds the study; else say
        that the framework's store is used instead (never silently)."""
        if storage is None:
            return None
        shown = storage if isinstance(storage, str) else type(storage).__name__
        if _holds(storage, name):
            return (storage, name)
        print(f"search: storage {shown} holds no study {name!r} to warm-start from; the trials "
              f"go to {self.options.results / name}/study.journal, not to that storage")
        return None

    def say(self, study: Study, given: dict[str, Any], n_jobs: int, trials: int | None,
            timeout: float | None) -> None:
        """The start lines: where the study goes, what it uses, and who set each (the script,
        a flag, or the default)."""
        opts = self.options
        directions = ", ".join(f"{n} {d}" for n, d in study.named_directions().items())
        directions = directions or str(study.direction)
        parts = [
            f"{directions} ({_who(opts.direction or opts.directions, '--direction', given['direction'])})",
            f"sampler {_label(study.sampler)} ({_who(opts.sampler, '--sampler', given['sampler'])})",
            f"pruner {_label(study.pruner)} ({_who(opts.pruner, '--pruner', given['pruner'])})",
            f"{'no trial limit' if trials is None else f'{trials} trials'} "
            f"({_who(opts.trials, '--trials', trials)})",
            f"{'no timeout' if timeout is None else f'timeout {timeout:g} s'}",
            f"{study.workers} worker{'s' if study.workers > 1 else ''} "
            f"({_who(opts.workers, '--workers', n_jobs if n_jobs != 1 else None)})",
        ]
        print(f"search: {self.file.name} runs study {study.name!r} in "
              f"{opts.results / study.name}; the script loads its own data: no sealed test, "
              "no final evaluation")
        print(f"search: {'; '.join(parts)}")


def _who(flag_value: Any, flag: str, script_value: Any) -> str:
    """Who set a run option: the flag, the script, or nobody (the default)."""
    if flag_value is not None:
        return flag
    return "the script's" if script_value is not None else "default"


def _holds(storage: Any, name: str) -> bool:
    """Whether ``storage`` (a URL or an Optuna storage) holds a study ``name``; a sqlite URL to
    a file that does not exist holds nothing (and no file is made to find out)."""
    if isinstance(storage, str) and storage.startswith("sqlite:///") \
            and not Path(storage.removeprefix("sqlite:///")).is_file():
        return False
    try:
        return name in optuna.get_all_study_names(storage)
    except Exception as exc:  # noqa: BLE001 - a storage that cannot be read is the user's input
        raise UserError(f"storage {storage!r}: cannot be read ({type(exc).__name__}: "
                        f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''})"
                        ) from None


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(level)


def _label(strategy: Any) -> str:
    return strategy if isinstance(strategy, str) else type(strategy).__name__
