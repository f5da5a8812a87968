"""The trial an objective receives in a worker: Optuna's whole ``Trial`` API over the channel.

Researchers' Optuna code and Optuna's integrations (pruning callbacks for LightGBM, XGBoost,
CatBoost, Keras, Lightning; ``OptunaSearchCV``) take a trial and call ``suggest_*``,
``report``, ``should_prune``, ``set_user_attr``, read ``params``, ``user_attrs`` and
``trial.study.direction``, and check ``isinstance(trial, optuna.trial.BaseTrial)``.
:class:`WorkerTrial` is such a trial, and also the framework's own
:class:`objectives.TrialHandle`. What only the driver knows (a parameter's value, whether to
prune) is asked over the channel; what the trial keeps (reports, attributes) is sent without
waiting. What it already knows (parameters suggested before, the trial as it started) it
answers itself. ``trial.study`` is a read-only view of the study as the driver last knew it:
changing the study from inside a trial (``optimize``, ``tell``, ``enqueue_trial``) is an error,
stopping it (``study.stop()``) is allowed, as in Optuna.
"""

from __future__ import annotations

import datetime
import json
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
    check_distribution_compatibility,
    distribution_to_json,
    json_to_distribution,
)
from optuna.study import StudyDirection
from optuna.trial import BaseTrial, FrozenTrial

from search.core._channel import (
    Answer,
    Ask,
    Attr,
    Report,
    StudySnapshot,
    StudyState,
    TrialSnapshot,
)
from search.core._checkpoints import TrialCheckpoints

#: system attribute keys the framework keeps for itself (a trial cannot set them)
_RESERVED = "search:"


class WorkerTrial(BaseTrial):
    """A running trial, in the worker that runs it (see the module's docstring)."""

    def __init__(
        self,
        conn: Any,
        number: int,
        seed: int | None,
        folder: Path | None,
        trial: TrialSnapshot | None = None,
        study: StudySnapshot | None = None,
        *,
        restore: dict[str, Any] | None = None,
        keep_checkpoints: int | None = None,
    ) -> None:
        self._conn = conn
        self._number = number
        self.seed = seed
        self._folder = folder
        trial = trial or TrialSnapshot(trial_id=-1)
        self._trial_id = trial.trial_id
        self._params = dict(trial.params)
        self._distributions = {k: json_to_distribution(v) for k, v in trial.distributions.items()}
        self._user_attrs = dict(trial.user_attrs)
        self._system_attrs: dict[str, Any] = {}
        self._constraints: dict[str, float] = {}
        self._reported: dict[int, float] = {}
        self._datetime_start = trial.datetime_start
        self.study = StudyView(study or StudySnapshot(name="", directions=("minimize",)), self)
        self.storage = TrialStorage(self)
        maximize = self.study.directions[0] == StudyDirection.MAXIMIZE
        self._checkpoints = TrialCheckpoints(folder, restore, keep_checkpoints, maximize)

    # --- the framework's TrialHandle ------------------------------------------------------------

    @property
    def number(self) -> int:
        return self._number

    @property
    def artifact_dir(self) -> Path | None:
        """This trial's folder under ``RESULTS/NAME/trials/``, created on first use."""
        if self._folder is not None:
            self._folder.mkdir(parents=True, exist_ok=True)
        return self._folder

    def set_attr(self, key: str, value: Any) -> None:
        """Keep a JSON-able value with the trial (the framework's objectives' fold scores)."""
        self.set_user_attr(key, value)

    def report(self, value: float, step: int) -> None:
        """Record an intermediate value at ``step``, as Optuna checks and keeps it."""
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise TypeError(f"The `value` argument is of type '{type(value)}' but supposed to "
                            "be a float.") from None
        try:
            step = int(step)
        except (TypeError, ValueError):
            raise TypeError(f"The `step` argument is of type '{type(step)}' but supposed to "
                            "be an int.") from None
        if step < 0:
            raise ValueError(f"`step={step}` must be non-negative.")
        if step in self._reported:
            warnings.warn(f"The reported value is ignored because this `step={step}` is already "
                          "reported.", stacklevel=2)
            return
        self._reported[step] = value
        self._conn.send(Report(value, step))

    def should_prune(self) -> bool:
        return bool(self.ask("prune"))

    # --- checkpoints and per-step metrics -------------------------------------------------------

    def checkpoint(self, source: Any, *, step: int | None = None) -> Path:
        """Save a checkpoint: a folder or file (copied), or any picklable state. ``step``
        defaults to the last step reported. Returns the folder it was saved in."""
        if step is None:
            step = max(self._reported, default=self.last_checkpoint_step or 0)
        saved = self._checkpoints.save(source, int(step), self._reported)
        self._conn.send(Attr(str(step), saved, kind="checkpoint"))
        base = self._folder if self._folder is not None else Path(".")
        return base / saved["path"]

    def last_checkpoint(self) -> Any:
        """The checkpoint this trial continues from (a retry after its worker died, a resumed
        run, a Population Based Training segment): its folder (read it, do not write it) or
        its state; ``None`` when it starts from scratch."""
        return self._checkpoints.restored()

    @property
    def last_checkpoint_step(self) -> int | None:
        """The step of :meth:`last_checkpoint`, or ``None``."""
        return self._checkpoints.restored_step

    def report_metrics(self, step: int, metrics: dict[str, Any]) -> None:
        """Keep every metric reported at ``step`` (MLflow, ``search.load``, the report)."""
        self._conn.send(Attr(str(int(step)), _as_json(dict(metrics)), kind="metrics"))

    def ask(self, what: str, *args: Any) -> Any:
        """Ask the driver and wait for its answer (an error it sends back is raised here)."""
        self._conn.send(Ask(what, args))
        answer = self._conn.recv()
        if not isinstance(answer, Answer):
            raise RuntimeError(f"the driver answered {type(answer).__name__} to {what!r}")
        if isinstance(answer.value, BaseException):
            raise answer.value
        return answer.value

    # --- suggestions: answered by the driver's sampler, kept here -------------------------------

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None,
                      log: bool = False) -> float:
        return float(self._suggest(name, FloatDistribution(low, high, log=log, step=step)))

    def suggest_uniform(self, name: str, low: float, high: float) -> float:
        _deprecated("suggest_uniform", "")
        return self.suggest_float(name, low, high)

    def suggest_loguniform(self, name: str, low: float, high: float) -> float:
        _deprecated("suggest_loguniform", "(..., log=True)")
        return self.suggest_float(name, low, high, log=True)

    def suggest_discrete_uniform(self, name: str, low: float, high: float, q: float) -> float:
        _deprecated("suggest_discrete_uniform", "(..., step=...)")
        return self.suggest_float(name, low, high, step=q)

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1,
                    log: bool = False) -> int:
        return int(self._suggest(name, IntDistribution(low, high, log=log, step=step)))

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:  # type: ignore[override]
        return self._suggest(name, CategoricalDistribution(choices=choices))

    def _suggest(self, name: str, distribution: BaseDistribution) -> Any:
        """A parameter's value: the one this trial has, or the driver's sampler's (Optuna's
        own ``Trial._suggest`` name, which ``OptunaSearchCV`` calls)."""
        if name in self._params:
            check_distribution_compatibility(self._distributions[name], distribution)
            return self._params[name]
        value = self.ask("suggest", name, distribution_to_json(distribution))
        self._params[name] = value
        self._distributions[name] = distribution
        return value

    # --- attributes -----------------------------------------------------------------------------

    def set_user_attr(self, key: str, value: Any) -> None:
        value = _as_json(value)
        self._user_attrs[key] = value
        self._conn.send(Attr(key, value))

    def set_system_attr(self, key: str, value: Any) -> None:
        if str(key).startswith(_RESERVED):
            raise ValueError(f"system attribute {key!r}: keys starting {_RESERVED!r} are the "
                             "framework's")
        value = _as_json(value)
        self._system_attrs[key] = value
        self._conn.send(Attr(key, value, kind="system"))

    def set_constraint(self, key: str, value: float) -> None:
        value = float(value)
        if math.isnan(value):
            raise ValueError(f"constraint {key!r}: the value must not be NaN")
        self._constraints[key] = value
        self._conn.send(Attr(key, value, kind="constraint"))

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._params)

    @property
    def distributions(self) -> dict[str, BaseDistribution]:
        return dict(self._distributions)

    @property
    def user_attrs(self) -> dict[str, Any]:
        return dict(self._user_attrs)

    @property
    def system_attrs(self) -> dict[str, Any]:
        """The system attributes this trial set itself (read)."""
        return dict(self._system_attrs)

    @property
    def constraints(self) -> dict[str, float]:
        return dict(self._constraints)

    @property
    def datetime_start(self) -> datetime.datetime | None:
        return self._datetime_start


def _as_json(value: Any) -> Any:
    """``value`` as the store keeps it (JSON), numpy arrays and numbers as lists and numbers;
    anything else JSON cannot hold fails here, in the objective, as Optuna's stores fail."""

    def plain(obj: Any) -> Any:
        if hasattr(obj, "tolist"):  # numpy arrays and scalars
            return obj.tolist()
        raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")

    return json.loads(json.dumps(value, default=plain))


def _deprecated(name: str, use: str) -> None:
    warnings.warn(f"{name} has been deprecated in Optuna v3.0.0; use suggest_float{use} "
                  "instead.", FutureWarning, stacklevel=3)


class _ReadOnly(AttributeError):
    """What ``trial.study`` cannot do inside a trial."""


class StudyView:
    """``trial.study`` inside a worker: the study's name, directions and metric names; its user
    attributes and best trial as the driver knows them when read (asked for then, so a trial
    that never reads them costs nothing); ``stop()`` asks the driver to start no new trial.
    Anything that would change the study raises one line saying why."""

    def __init__(self, snapshot: StudySnapshot, trial: WorkerTrial) -> None:
        self._snapshot = snapshot
        self._trial = trial

    @property
    def study_name(self) -> str:
        return self._snapshot.name

    @property
    def directions(self) -> list[StudyDirection]:
        return [StudyDirection[d.upper()] for d in self._snapshot.directions]

    @property
    def direction(self) -> StudyDirection:
        if len(self._snapshot.directions) > 1:
            raise RuntimeError("A single direction cannot be retrieved from a multi-objective "
                               "study. Consider using Study.directions to retrieve a list "
                               "containing all directions.")
        return self.directions[0]

    @property
    def metric_names(self) -> list[str] | None:
        names = self._snapshot.metric_names
        return list(names) if names is not None else None

    def _state(self) -> StudyState:
        state = self._trial.ask("study")
        if not isinstance(state, StudyState):
            raise RuntimeError(f"the driver answered {type(state).__name__} for the study")
        return state

    @property
    def user_attrs(self) -> dict[str, Any]:
        return dict(self._state().user_attrs)

    @property
    def system_attrs(self) -> dict[str, Any]:
        return {}

    @property
    def best_trial(self) -> FrozenTrial:
        if len(self._snapshot.directions) > 1:
            raise RuntimeError("A single best trial cannot be retrieved from a multi-objective "
                               "study. Consider using Study.best_trials to retrieve a list "
                               "containing the best trials.")
        best = self._state().best
        if best is None:
            raise ValueError("No trials are completed yet.")
        return best  # type: ignore[no-any-return]

    @property
    def best_value(self) -> float:
        return float(self.best_trial.value)  # type: ignore[arg-type]

    @property
    def best_params(self) -> dict[str, Any]:
        return dict(self.best_trial.params)

    def stop(self) -> None:
        """Start no new trial once this one ends (trials already running finish)."""
        self._trial.ask("stop")

    def _is_multi_objective(self) -> bool:
        return len(self._snapshot.directions) > 1

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise _ReadOnly(
            f"trial.study.{name}: inside a trial the study is a read-only view (name, "
            "directions, user attributes, best trial, stop()); the driver runs optimize, ask, "
            "tell, enqueue_trial and add_trial, and holds the trials"
        )

    def __repr__(self) -> str:
        return f"<study {self._snapshot.name!r} as seen from trial {self._trial.number}>"


class TrialStorage:
    """``trial.storage`` for code that writes its own trial's attributes through it (Optuna's
    ``report_cross_validation_scores``): those writes go to the driver like the trial's own;
    anything else about the store is the driver's."""

    def __init__(self, trial: WorkerTrial) -> None:
        self._trial = trial

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._own(trial_id)
        self._trial.set_system_attr(key, value)

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._own(trial_id)
        self._trial.set_user_attr(key, value)

    def get_trial_system_attrs(self, trial_id: int) -> dict[str, Any]:
        self._own(trial_id)
        return self._trial.system_attrs

    def get_trial_user_attrs(self, trial_id: int) -> dict[str, Any]:
        self._own(trial_id)
        return self._trial.user_attrs

    def _own(self, trial_id: int) -> None:
        if trial_id != self._trial._trial_id:
            raise ValueError(f"trial.storage: a trial may write only its own attributes (trial "
                             f"id {self._trial._trial_id}), not trial id {trial_id}'s")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise _ReadOnly(f"trial.storage.{name}: inside a trial only this trial's attributes can "
                        "be set through the storage; the driver holds the study's store")

