"""A script's Ray Tune ``Tuner`` (and ``ray.init``), answered by the framework.

While a script that imports ``ray.tune`` runs under ``python -m search``, ``tune.Tuner`` (also
as ``ray.tune.tuner.Tuner``) is :class:`ScriptTuner`: its ``fit()`` reads the trainable,
``param_space``, ``TuneConfig`` and ``RunConfig`` (:mod:`search.scripts._tune_config`), opens
the framework's run for the experiment as an Optuna script's first ``optimize`` does (a
:class:`TuneStudy` is a :class:`~search.scripts._optuna.ScriptStudy`: the run lock, every
check, then the results folder named after the experiment), runs the trials in the framework's
workers (local processes, or Ray actors with ``--backend ray``), and returns Tune's
``ResultGrid`` over the store (:mod:`search.scripts._tune_results`). Flags override what the
script set, and the start line says who set each. The script starts no Ray of its own:
``ray.init(...)`` is recorded (its ``num_cpus`` sizes the default workers, as Tune's cluster
would), not run, and ``ray.shutdown()`` does nothing; with ``--backend ray`` the framework's
Ray is the one used. ``tune.run`` is refused with one line saying to use ``Tuner``.

Ray is imported only for a script that imports ``ray.tune``: the answers are installed when
the script's source imports it, or when ``ray.tune`` is first imported while it runs.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.abc
import importlib.util
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from search.core._errors import UserError
from search.core._study import Study
from search.scripts._optuna import OptunaAnswers, ScriptStudy

WATCHED = "ray.tune"


def imports_tune(file: Path) -> bool:
    """Whether the script's own source imports ``ray.tune`` (in any of Python's forms)."""
    try:
        tree = ast.parse(file.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(
                a.name == WATCHED or a.name.startswith(WATCHED + ".") for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.module and (
                node.module == WATCHED or node.module.startswith(WATCHED + ".")
                or (node.module == "ray" and any(a.name == "tune" for a in node.names))):
            return True
    return False


class ScriptTuner:
    """Tune's ``Tuner``, as a script under ``python -m search`` gets it."""

    _answers: TuneAnswers  # set on the class installed for one run

    def __init__(self, trainable: Any = None, *, param_space: dict[str, Any] | None = None,
                 tune_config: Any = None, run_config: Any = None, **internal: Any) -> None:
        if trainable is None:
            raise UserError("tune.Tuner(): give the trainable (a function or a "
                            "tune.Trainable class)")
        self._given = (trainable, param_space, tune_config, run_config)
        self._grid: Any = None
        self._study: TuneStudy | None = None  # the experiment's study, once it is fitted

    def fit(self) -> Any:
        """Run the experiment on the framework's engine; Tune's ``ResultGrid`` of its trials."""
        self._grid = self._answers.fit(self, *self._given)
        return self._grid

    def get_results(self) -> Any:
        if self._grid is None:
            raise RuntimeError("Tuner.get_results: call Tuner.fit() first")
        return self._grid

    @classmethod
    def restore(cls, path: str, trainable: Any = None, **kwargs: Any) -> ScriptTuner:
        raise UserError(f"tune.Tuner.restore({path!r}): under python -m search an experiment "
                        "continues with --resume: run the same command again with --resume")

    @classmethod
    def can_restore(cls, path: Any, storage_filesystem: Any = None) -> bool:
        """Never: the framework continues an experiment with ``--resume`` instead."""
        return False


class TuneStudy(ScriptStudy):
    """The study of one Tune experiment: an Optuna script's study whose framework study is
    built from the ``Tuner``'s settings (:class:`~search.scripts._tune_config.TuneSetup`)."""

    def __init__(self, answers: TuneAnswers, name: str, setup: Any) -> None:
        given = {"sampler": None, "pruner": None, "storage": None, "direction": setup.mode}
        super().__init__(answers, name, [setup.direction], given)  # type: ignore[arg-type]
        self._tune = answers  # what ScriptStudy calls its answers, with Tune's own
        self.setup = setup
        self.trainable: Any = None
        self.run_options = answers.run_options(setup)

    def _spec(self, func: Any, trials: int | None, timeout: float | None, n_jobs: int) -> Study:
        """The framework's study for the experiment, flags applied, with its start lines."""
        from search.scripts._tune_config import cpus_available, default_workers, pbt_pruner
        from search.scripts._tune_config import resources as resources_of

        setup, answers = self.setup, self._tune
        options = answers.options
        cpus, gpus = resources_of(setup.fn)
        available = cpus_available(answers.init_args)
        workers = setup.workers or default_workers(available, cpus, self._target_preview(trials))
        if not setup.workers:
            source = "ray.init(num_cpus)" if answers.init_args and \
                answers.init_args.get("num_cpus") else "this machine"
            setup.who["workers"] = (f"as many as fit, as Tune runs them: {available} CPUs of "
                                    f"{source}, {cpus or 1:g} a trial")
        pruner = setup.pruner
        if pruner == "pbt" and options.pruner is None:
            pruner = pbt_pruner(setup.pbt, options.seed if options.seed is not None
                                else setup.seed)
        study = Study(
            name=self.study_name, space=setup.space, objective=func, direction=setup.direction,
            sampler=setup.sampler, pruner=pruner if pruner != "pbt" else "none",
            trials=self._target_preview(trials), timeout=timeout, workers=workers,
            cpus_per_trial=cpus or 1.0, gpus_per_trial=gpus or 0.0, seed=setup.seed)
        skip = ("trials", "timeout", "direction", "directions")
        final = study.with_overrides(
            **{k: v for k, v in options.overrides().items() if k not in skip})
        resumed = options.resume and bool(answers.recorded_targets(self.study_name))
        answers.say(final, setup, self._target_preview(trials) if resumed else trials, timeout,
                    resumed=resumed)
        return final


class TuneAnswers:
    """What ``tune.Tuner``, ``ray.init`` and ``ray.shutdown`` do while a script runs; also what
    a :class:`TuneStudy` asks of the script's answers (the same as an Optuna script's)."""

    def __init__(self, answers: OptunaAnswers, open_session: Callable[..., Any]) -> None:
        self.optuna = answers
        self.file, self.options, self.framework = answers.file, answers.options, answers.framework
        self._open_session = open_session
        self.inits: list[dict[str, Any]] = []
        self.studies: dict[str, TuneStudy] = {}
        self._patched: dict[tuple[Any, str], Any] = {}
        self._hook: _WhenImported | None = None

    # --- the script's calls ---------------------------------------------------------------------

    def fit(self, tuner: ScriptTuner, trainable: Any, param_space: Any, tune_config: Any,
            run_config: Any) -> Any:
        from search.scripts._tune_config import read_tuner
        from search.scripts._tune_trainable import Trainable

        setup = read_tuner(trainable, param_space, tune_config, run_config)
        if self.options.directions or self.options.direction not in (None, setup.direction):
            raise UserError(f"--direction/--directions: the Tune script's mode={setup.mode!r} "
                            f"gives the direction of {setup.metric!r}; drop the flag")
        study = self._study_for(tuner, setup)
        if study.trainable is None:  # one objective for the study: its workers keep it
            study.trainable = Trainable(setup.fn, metric=setup.metric, mode=setup.mode,
                                        stop=setup.stop, experiment=study.study_name)
        return _fit(study, setup)

    def ray_init(self, *args: Any, **kwargs: Any) -> _RecordedInit:
        """``ray.init(...)``: recorded, not run (the framework's workers run the trials)."""
        call = dict(kwargs, **({"address": args[0]} if args else {}))
        self.inits.append(call)
        shown = ", ".join(f"{k}={v!r}" for k, v in call.items())
        print(f"search: ray.init({shown}) recorded, not run: the trials run on the framework's "
              f"workers (--backend {self.options.backend or 'local'})")
        return _RecordedInit()

    def ray_shutdown(self, *args: Any, **kwargs: Any) -> None:
        """``ray.shutdown()``: nothing to stop (the script started no Ray)."""

    @property
    def init_args(self) -> dict[str, Any] | None:
        return self.inits[-1] if self.inits else None

    # --- what a ScriptStudy asks of its answers -------------------------------------------------

    def open(self, study: Study, script_study: TuneStudy) -> Any:
        session = self._open_session(study, script_study, script_study.run_options)
        self.optuna.sessions.append(session)
        return session

    def recorded_targets(self, name: str) -> list[int | None]:
        return self.optuna.recorded_targets(name)

    def record_target(self, name: str, call: int, target: int | None) -> None:
        self.optuna.record_target(name, call, target)

    def run_options(self, setup: Any) -> Any:
        """The run's options: ``FailureConfig(max_failures)`` as ``--max-retries`` and
        ``CheckpointConfig(num_to_keep)`` as ``--keep-checkpoints``, unless the flags give
        them."""
        options, changes = self.options, {}
        if options.max_retries is None and setup.max_failures > 0:
            changes["max_retries"] = setup.max_failures
        if options.keep_checkpoints is None and setup.keep_checkpoints is not None:
            changes["keep_checkpoints"] = setup.keep_checkpoints
        setup.who["retries"] = _by(options.max_retries, "--max-retries", (
            "FailureConfig(max_failures)" if "max_retries" in changes else "default"))
        return dataclasses.replace(options, **changes) if changes else options

    def _study_for(self, tuner: ScriptTuner, setup: Any) -> TuneStudy:
        """The study of this Tuner: the one it fitted before, else a new one named after the
        experiment (``RunConfig.name``; else the trainable, else the script)."""
        fitted = getattr(tuner, "_study", None)
        if isinstance(fitted, TuneStudy):
            return fitted
        from search.scripts._tune_config import trainable_name

        name = setup.name or _default_name(trainable_name(setup.fn), self.file)
        if name in self.studies:
            if setup.name:
                raise UserError(f"RunConfig(name={name!r}): two Tuners in {self.file.name} name "
                                "the same experiment; give each its own name")
            taken = sum(n == name or n.startswith(f"{name}_") for n in self.studies)
            name = f"{name}_{taken + 1}"
        study = TuneStudy(self, name, setup)
        self.studies[name] = tuner._study = study
        return study

    def say(self, study: Study, setup: Any, trials: int | None, timeout: float | None, *,
            resumed: bool = False) -> None:
        """The start lines: where the experiment goes, what it uses and who set each."""
        opts, who = self.options, setup.who
        drawn = "the total its first run recorded" if resumed else \
            f"num_samples {setup.samples}" + (f" x {setup.grid} grid points" if setup.grid > 1
                                              else "")
        parts = [
            f"{setup.metric} {setup.mode} ({who['direction']})",
            f"sampler {_label(study.sampler)} ({_by(opts.sampler, '--sampler', who['sampler'])})",
            f"pruner {_label(study.pruner)} ({_by(opts.pruner, '--pruner', who['pruner'])})",
            f"{'no trial limit' if trials is None else f'{trials} trial' + 's' * (trials > 1)} "
            f"({drawn if resumed else _by(opts.trials, '--trials', drawn)})",
            "no timeout" if timeout is None else
            f"timeout {timeout:g} s ({_by(opts.timeout, '--timeout', 'time_budget_s')})",
            f"{study.workers} worker{'s' if study.workers > 1 else ''} "
            f"({_by(opts.workers, '--workers', who['workers'])})",
            f"retries of a dead worker's trial: {self.run_options(setup).retries()} "
            f"({who['retries']})",
        ]
        print(f"search: {self.file.name} runs Tune experiment {study.name!r} in "
              f"{opts.results / study.name} on backend {study.backend}; the script loads its "
              "own data: no sealed test, no final evaluation")
        print(f"search: {'; '.join(parts)}")
        for note in setup.notes:
            print(f"search: {note}")

    # --- installing the answers -----------------------------------------------------------------

    def install(self, *, eager: bool = False) -> None:
        """Answer ``tune.Tuner`` and ``ray.init`` now if ``ray.tune`` is imported (or
        ``eager``: the script imports it), else once it is."""
        if eager and WATCHED not in sys.modules:
            importlib.import_module(WATCHED)
        if WATCHED in sys.modules:
            self._patch()
        elif self._hook is None:
            self._hook = _WhenImported(WATCHED, self._patch)
            sys.meta_path.insert(0, self._hook)

    def uninstall(self) -> None:
        if self._hook is not None:
            sys.meta_path.remove(self._hook)
            self._hook = None
        for (place, name), value in self._patched.items():
            setattr(place, name, value)
        self._patched = {}

    def _patch(self) -> None:
        # by sys.modules: called as ray.tune's import ends, before ``ray.tune`` is an attribute
        ray, tune = sys.modules["ray"], sys.modules[WATCHED]
        tuner_module = importlib.import_module(f"{WATCHED}.tuner")
        tune_module = importlib.import_module(f"{WATCHED}.tune")
        tuner = type("Tuner", (ScriptTuner,), {"_answers": self, "__module__": WATCHED})
        answers = {(tune, "Tuner"): tuner, (tuner_module, "Tuner"): tuner,
                   (ray, "init"): self.ray_init, (ray, "shutdown"): self.ray_shutdown,
                   (tune, "run"): _tune_run, (tune_module, "run"): _tune_run,
                   (tune, "run_experiments"): _tune_run}
        for (place, name), value in answers.items():
            self._patched.setdefault((place, name), getattr(place, name))
            setattr(place, name, value)


class _RecordedInit:
    """What a recorded ``ray.init`` returns in place of Ray's context (``with ray.init():``
    works; there is no dashboard)."""

    dashboard_url = None
    address_info: dict[str, Any] = {}

    def __enter__(self) -> _RecordedInit:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None


def _fit(study: TuneStudy, setup: Any) -> Any:
    """Run the experiment's trials (``points_to_evaluate`` first) and read its results."""
    from search.core._trials import ABANDONED, own
    from search.scripts._tune_results import result_grid

    if study._session is None:
        for point in setup.points:
            study.enqueue_trial(_params(point, setup.space))
    before = len(study.get_trials(deepcopy=False)) if study._session is not None else 0
    callbacks = [_stop_at_failure] if setup.fail_fast else []
    study.optimize(study.trainable, n_trials=setup.trials, timeout=setup.timeout,
                   n_jobs=setup.workers or 0, callbacks=callbacks)
    trials = [t for t in own(study.get_trials(deepcopy=False))[before:]
              if ABANDONED not in t.system_attrs]
    grid = result_grid(trials, study._session.directory, setup.space, setup.metric, setup.mode)
    if setup.fail_fast == "raise" and grid.errors:
        raise grid.errors[0]
    return grid


def _stop_at_failure(study: Any, trial: Any) -> None:
    """``FailureConfig(fail_fast=True)``: the first failed trial ends the experiment."""
    if trial.state.name == "FAIL":
        study.stop()


def _params(point: dict[str, Any], space: Any) -> dict[str, Any]:
    """A Tune config to evaluate (nested mappings) as the study's parameters."""
    flat: dict[str, Any] = {}

    def walk(mapping: dict[str, Any], prefix: str) -> None:
        for key, value in mapping.items():
            if isinstance(value, dict) and f"{prefix}{key}" not in space.paths():
                walk(value, f"{prefix}{key}__")
            else:
                flat[f"{prefix}{key}"] = value

    walk(point, "")
    params = space.flatten()
    out = {}
    for name, value in flat.items():
        if name in params:
            try:
                out[name] = params[name].check_value(value)
            except Exception as exc:  # noqa: BLE001 - a SpaceError: the point is the user's
                raise UserError(f"points_to_evaluate: {name}: {exc}") from None
    return out


def _default_name(trainable: str, file: Path) -> str:
    """The trainable's name, else the script's stem, as a folder name."""
    for name in (trainable, file.stem):
        cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", str(name)).lstrip("_.-")
        if cleaned and cleaned != "lambda":
            return cleaned
    return "experiment"


def _by(flag_value: Any, flag: str, script: str) -> str:
    """Who set a run option: the flag, else the script (or Tune's default)."""
    return flag if flag_value is not None else script


def _label(strategy: Any) -> str:
    return strategy if isinstance(strategy, str) else type(strategy).__name__


def _tune_run(*args: Any, **kwargs: Any) -> Any:
    raise UserError("tune.run: under python -m search a Tune experiment runs through "
                    "tune.Tuner(trainable, param_space=..., tune_config=tune.TuneConfig(...), "
                    "run_config=tune.RunConfig(...)).fit(); write it so")


class _WhenImported(importlib.abc.MetaPathFinder):
    """Calls ``then()`` once the module ``name`` has been imported (first on ``sys.meta_path``:
    the other finders find it, and its loader is wrapped)."""

    def __init__(self, name: str, then: Callable[[], None]) -> None:
        self.name, self.then = name, then

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec = find(fullname, path, target) if finder is not self and find else None
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None:
            spec.loader = _ThenLoader(spec.loader, self.then)
        return spec


class _ThenLoader(importlib.abc.Loader):
    def __init__(self, loader: Any, then: Callable[[], None]) -> None:
        self._loader, self._then = loader, then

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._loader.exec_module(module)
        self._then()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)
