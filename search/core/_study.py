"""The :class:`Study` a study file defines: what to search, on which data, with what budget."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from typing import Any

from search.core._data import Data
from search.core._errors import UserError
from search.core._options import BACKENDS, PRUNERS, SAMPLERS

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True, eq=False)
class Study:
    """A hyperparameter search: space, objective, metric, data and budget.

    ``space`` is a :class:`spaces.Space`, a mapping in the space-file format, a path to a YAML
    or JSON space file (relative to the study file) or a ready-made space name. ``objective`` is
    an :class:`objectives.Objective`, a scikit-learn estimator, Pipeline, class or class path, or
    the user's own function. ``metric`` names the validation metric and so the direction; a
    study without data may give ``direction`` instead. Run options (``trials``, ``timeout``,
    ``sampler``, ``pruner``, ``backend``, ``workers``, per-trial resources, ``seed``) are
    defaults that command-line flags override. ``sampler`` and ``pruner`` are names, or Optuna
    sampler and pruner objects (``optuna.samplers.TPESampler(n_startup_trials=3)``,
    OptunaHub's samplers). ``trials=None`` sets no limit on trials (a ``timeout`` or
    ``study.stop()`` ends the search).

    Several objectives: ``directions`` maps each name an objective function returns to
    ``"maximize"`` or ``"minimize"``, or lists the directions in the order of the values the
    objective returns (Optuna's tuple; the values are named ``objective_0``, ``objective_1``,
    ...); a ready-made objective takes ``metric=[...]`` instead;
    ``constraints`` maps a returned name to ``("<=", bound)`` or ``(">=", bound)``; ``pick`` says
    which config the final evaluation opens the test for: ``"NAME"`` (the best on NAME among
    the Pareto front) or ``"NAME where A <= x, B >= y"``. ``warm_start`` is a results folder or
    an ``(Optuna storage URL, study name)`` pair whose finished trials join the history.

    Integrity options: ``prefer`` picks, among the configs statistically tied with the best,
    the one with the smallest (``"min:PARAM"``, or just ``"PARAM"``) or largest
    (``"max:PARAM"``) value of a parameter for the final evaluation; ``strict`` turns leak
    warnings into errors; ``stop_below_noise`` ends the search when the estimated room for
    improvement falls below the cross-validation noise; ``nested`` (k >= 2) adds an outer
    k-fold loop around the whole search for an unbiased estimate of the tuned pipeline.
    """

    name: str
    space: Any = None
    objective: Any = None
    metric: Any = None
    direction: str | None = None
    directions: dict[str, str] | list[str] | tuple[str, ...] | None = None
    constraints: dict[str, Any] | None = None
    pick: str | None = None
    data: Data | None = None
    trials: int | None = 50
    timeout: float | None = None
    sampler: Any = "auto"
    pruner: Any = "auto"
    backend: str = "local"
    workers: int = 1
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    seed: int | None = None
    prefer: str | None = None
    strict: bool = False
    stop_below_noise: bool = False
    nested: int | None = None
    warm_start: Any = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise UserError(
                f"study: name must be letters, digits, '_', '.', '-' (a folder name), "
                f"but got {self.name!r}"
            )
        if self.objective is None:
            raise UserError("study: give an objective (an estimator, an Objective or a function)")
        self._check_run_options()
        self._check_goals()
        self._check_integrity()

    def _check_run_options(self) -> None:
        if self.trials is not None:
            _check_int("trials", self.trials, low=1)
        _check_int("workers", self.workers, low=1)
        if self.seed is not None:
            _check_int("seed", self.seed, low=0)
        if self.timeout is not None:
            _check_number("timeout", self.timeout, positive=True)
        _check_number("cpus_per_trial", self.cpus_per_trial, positive=True)
        _check_number("gpus_per_trial", self.gpus_per_trial, positive=False)
        _check_strategy("sampler", self.sampler, SAMPLERS)
        _check_strategy("pruner", self.pruner, PRUNERS)
        _check_choice("backend", self.backend, BACKENDS)

    def _check_goals(self) -> None:
        from search.core._goals import DIRECTIONS, Pick, parse_constraints

        if self.direction is not None:
            _check_choice("direction", self.direction, DIRECTIONS)
        if self.directions is not None:
            if not isinstance(self.directions, dict | list | tuple) or not self.directions:
                raise UserError(
                    "study: directions must be a mapping name -> 'maximize'|'minimize', e.g. "
                    f"{{'accuracy': 'maximize', 'model_bytes': 'minimize'}}, or a list such as "
                    f"['minimize', 'maximize'], but got {self.directions!r}"
                )
            for name, direction in self.named_directions().items():
                _check_choice(f"directions[{name!r}]", direction, DIRECTIONS)
            if self.direction is not None:
                raise UserError("study: give direction (one objective) or directions, not both")
        if self.data is not None and not isinstance(self.data, Data):
            raise UserError(
                f"study: data must be a search.Data, but got {type(self.data).__name__}"
            )
        if self.data is not None and self.metric is None:
            raise UserError("study: a study with data needs a metric (e.g. metric='accuracy')")
        if self.metric is None and self.direction is None and self.directions is None \
                and getattr(self.objective, "direction", None) is None:  # a trainable's mode
            raise UserError("study: give a metric, or a direction (or directions) for a function")
        parse_constraints(self.constraints)
        if self.pick is not None:
            try:
                Pick.parse(self.pick)
            except ValueError as exc:
                raise UserError(f"study: {exc}") from None

    def _check_integrity(self) -> None:
        if self.prefer is not None:
            from search.integrity._ties import Preference

            try:
                Preference.parse(self.prefer)
            except ValueError as exc:
                raise UserError(f"study: {exc}") from None
        if self.nested is not None:
            _check_int("nested", self.nested, low=2)

    def named_directions(self) -> dict[str, str]:
        """``directions`` as a mapping: a list's directions named ``objective_0``, ..."""
        from search.core._goals import objective_names

        if isinstance(self.directions, dict):
            return dict(self.directions)
        listed = list(self.directions or ())
        return dict(zip(objective_names(len(listed)), listed, strict=True))

    def within_budget(self) -> Study:
        """This study with no more workers than its trials can keep busy: ``min(workers,
        trials)``; itself when ``trials`` is ``None`` (a timeout or ``study.stop()`` ends the
        search) or already covers the workers.

        Only for a study searched once, to ``trials`` (a study file's run, its nested searches
        and final fit): a script's later ``optimize`` may run more trials on the same workers.
        """
        if self.trials is None or self.workers <= self.trials:
            return self
        return replace(self, workers=self.trials)

    def with_overrides(self, **overrides: Any) -> Study:
        """A copy with the given run options replaced (``None`` values are ignored). A
        direction replaces the study's directions, and directions its direction."""
        known = {f.name for f in fields(self)}
        changes = {k: v for k, v in overrides.items() if v is not None and k in known}
        if "direction" in changes:
            changes.setdefault("directions", None)
        elif "directions" in changes:
            changes["direction"] = None
        return replace(self, **changes)


def _check_int(name: str, value: Any, *, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise UserError(f"study: {name} must be an integer >= {low}, but got {value!r}")


def _check_number(name: str, value: Any, *, positive: bool) -> None:
    ok = not isinstance(value, bool) and isinstance(value, (int, float))
    if not ok or (value <= 0 if positive else value < 0):
        bound = "> 0" if positive else ">= 0"
        raise UserError(f"study: {name} must be a number {bound}, but got {value!r}")


def _check_strategy(name: str, value: Any, choices: tuple[str, ...]) -> None:
    """A sampler or pruner: one of the names, or an object of Optuna's base class for it."""
    if isinstance(value, str):
        _check_choice(name, value, choices)
        return
    import optuna

    base, shown = ((optuna.samplers.BaseSampler, "optuna.samplers.BaseSampler")
                   if name == "sampler" else (optuna.pruners.BasePruner, "optuna.pruners.BasePruner"))
    if not isinstance(value, base):
        raise UserError(f"study: {name} must be one of {', '.join(choices)}, or an {shown} "
                        f"object (OptunaHub's included), but got {type(value).__name__}")


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise UserError(f"study: {name} must be one of {', '.join(choices)}, but got {value!r}")
