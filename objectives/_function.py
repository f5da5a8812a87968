"""The user's own objective: a function of the config that returns the validation score.

It may also take the development data and the trial handle (to report intermediate scores and
be pruned); a ``fit`` function lets it take part in the final evaluation. For a
multi-objective study it returns a mapping of named values, e.g. ``{"accuracy": 0.93,
"model_bytes": 2048}``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from objectives import _estimators
from objectives._base import DevData, Objective, TrialHandle
from objectives._errors import ObjectiveError, qualified_name
from objectives._measures import CostMeasure
from objectives._metrics import Metric
from objectives._sklearn import SklearnObjective

_FN_NAMES = ("config", "data", "trial")
_FIT_NAMES = ("config", "data", "seed")


def calling_convention(fn: Any, names: tuple[str, ...], role: str) -> tuple[str, ...] | int:
    """How to call ``fn``: a tuple of keyword names, or the number of positional arguments.

    Parameters with a default that are not among ``names`` keep their default
    (``functools.partial(objective, offset=3)``, ``def objective(trial, X=X)``). By name when
    every other parameter is one of ``names`` and the first of them (the config) or ``trial``
    (Optuna's ``objective(trial)``, which suggests its own parameters) is among them; otherwise
    by arity, the first ``arity`` of ``names`` in order (see :meth:`FunctionObjective.evaluate`
    for what one positional parameter receives).
    """
    if not callable(fn):
        raise ObjectiveError(f"{role} must be callable, but got {type(fn).__name__}")
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return len(names)
    kinds = inspect.Parameter
    params = [p for p in signature.parameters.values()
              if p.kind not in (kinds.VAR_POSITIONAL, kinds.VAR_KEYWORD)
              and (p.default is p.empty or p.name in names)]
    named = [p.name for p in params if p.kind != kinds.POSITIONAL_ONLY]
    if params and len(named) == len(params) and set(named) <= set(names):
        if names[0] not in named and "trial" not in named:
            raise ObjectiveError(f"{role} {qualified_name(fn)} takes "
                                 f"{', '.join(named)} but not '{names[0]}', which it needs")
        return tuple(named)
    positional = [p for p in params if p.kind in (kinds.POSITIONAL_ONLY,
                                                  kinds.POSITIONAL_OR_KEYWORD)]
    if any(p.kind == kinds.KEYWORD_ONLY for p in params) \
            or not 1 <= len(positional) <= len(names):
        shown = ", ".join(p.name for p in signature.parameters.values())
        raise ObjectiveError(
            f"{role} {qualified_name(fn)}({shown}) must take its parameters by the names "
            f"{', '.join(names)}, or 1 to {len(names)} positional ones in that order"
        )
    return len(positional)


def call(fn: Any, convention: tuple[str, ...] | int, values: dict[str, Any],
         orders: Mapping[int, tuple[str, ...]]) -> Any:
    """Call ``fn`` by keyword names, or positionally in the order ``orders[arity]``; a
    parameter with a default keeps it where there is no value to give (no data)."""
    if isinstance(convention, int):
        return fn(*[values[name] for name in orders[convention]])
    given = {name: values[name] for name in convention}
    if any(value is None for value in given.values()):
        defaults = {p.name for p in inspect.signature(fn).parameters.values()
                    if p.default is not p.empty}
        given = {k: v for k, v in given.items() if v is not None or k not in defaults}
    return fn(**given)


#: positional orders by arity: fn(config), fn(config, trial), fn(config, data, trial)
_FN_ORDERS = {1: ("config",), 2: ("config", "trial"), 3: _FN_NAMES}
#: fit(config), fit(config, data), fit(config, data, seed)
_FIT_ORDERS = {1: ("config",), 2: ("config", "data"), 3: _FIT_NAMES}


class FunctionObjective(Objective):
    """The user's own objective: ``fn(config[, data][, trial]) -> validation score``.

    For a multi-objective study ``fn`` returns a mapping ``{name: number}``, or Optuna's tuple
    of numbers (one an objective, in the order of the study's directions).

    ``fn`` is called by its parameter names when they are among ``config``, ``data`` and
    ``trial`` (Optuna's ``objective(trial)``, which calls ``trial.suggest_*`` itself, included);
    its other parameters with a default keep it. Otherwise by position: ``fn(x)`` receives the
    trial when the study declares no parameters (an Optuna objective, whatever its parameter's
    name: ``objective(t)``, a callable object) and the config when it does; ``fn(config,
    trial)`` and ``fn(config, data, trial)``. ``fit(config, data)`` returns the final model
    (with ``predict``); ``save(model, directory)`` writes it (joblib by default).

    >>> objective = FunctionObjective(lambda config: (config["x"] - 2) ** 2)
    >>> objective.can_fit_final
    False
    """

    def __init__(self, fn: Callable[..., Any], *, fit: Callable[..., Any] | None = None,
                 save: Callable[..., Any] | None = None) -> None:
        self.fn = fn
        self.fit = fit
        self.save = save

    @property
    def can_fit_final(self) -> bool:
        """Only with a ``fit`` function can there be a final model."""
        return self.fit is not None

    def check(self, data: DevData | None, space: Any,
              metric: Metric | tuple[Metric | CostMeasure, ...] | None) -> None:
        """Check that ``fn``, ``fit`` and ``save`` can be called as documented."""
        _fn_convention(self.fn)
        if self.fit is not None:
            calling_convention(self.fit, _FIT_NAMES, "fit")
        if self.save is not None and not callable(self.save):
            raise ObjectiveError(f"save must be callable, but got {type(self.save).__name__}")

    def evaluate(self, config: dict[str, Any], data: DevData | None, trial: TrialHandle,
                 metric: Metric | tuple[Metric | CostMeasure, ...] | None,
                 ) -> float | dict[str, float] | tuple[float, ...]:
        """Call ``fn`` and return its score as a float (a mapping or a tuple: each value as a
        float)."""
        values = {"config": config, "data": data, "trial": trial}
        orders = _FN_ORDERS if config else {**_FN_ORDERS, 1: ("trial",)}
        return as_value(call(self.fn, _fn_convention(self.fn), values, orders), self.fn)

    def fit_final(
        self,
        config: dict[str, Any],
        data: DevData,
        seed: int | None,
        trial_dir: Path | None = None,
    ) -> Any:
        """The model ``fit`` returns for ``config``, trained on all development data."""
        if self.fit is None:
            raise ObjectiveError(f"{qualified_name(self.fn)} has no fit function; pass "
                                 "FunctionObjective(fn, fit=...) to fit a final model")
        convention = calling_convention(self.fit, _FIT_NAMES, "fit")
        values = {"config": config, "data": data, "seed": seed}
        model = call(self.fit, convention, values, _FIT_ORDERS)
        if not hasattr(model, "predict"):
            raise ObjectiveError(f"fit {qualified_name(self.fit)} returned "
                                 f"{type(model).__name__}, which has no predict method")
        return model

    def save_model(self, model: Any, directory: Path) -> list[Path]:
        """Write the model with ``save`` (or joblib) and return the files written."""
        if self.save is None:
            return super().save_model(model, directory)
        directory.mkdir(parents=True, exist_ok=True)
        written = self.save(model, directory)
        if written is None:
            return sorted(p for p in directory.rglob("*") if p.is_file())
        if isinstance(written, (str, Path)):
            return [Path(written)]
        return [Path(p) for p in written]

    def describe(self) -> dict[str, Any]:
        return {
            "type": type(self).__name__,
            "function": qualified_name(self.fn),
            "fit": qualified_name(self.fit) if self.fit is not None else None,
            "save": qualified_name(self.save) if self.save is not None else None,
        }


def _fn_convention(fn: Any) -> tuple[str, ...] | int:
    return calling_convention(fn, _FN_NAMES, "objective")


def as_value(value: Any, fn: Any) -> float | dict[str, float] | tuple[float, ...]:
    """What ``fn`` returned as a float, a mapping of named values as ``{name: float}``, or
    Optuna's tuple of values as a tuple of floats; else an error naming the function (and the
    key or position) at fault. How many values the study needs is the engine's to check."""
    if isinstance(value, Mapping):
        return as_named_values(value, fn)
    if isinstance(value, tuple | list):
        numbers = tuple(_number(v) for v in value)
        bad = next((i for i, n in enumerate(numbers) if n is None), None)
        if bad is not None or not numbers:
            shown = f"{type(value[bad]).__name__} at position {bad}" if bad is not None else "nothing"
            raise ObjectiveError(f"objective {qualified_name(fn)} returned a "
                                 f"{type(value).__name__} with {shown}; return numbers, one an "
                                 "objective")
        return numbers  # type: ignore[return-value]
    return as_score(value, fn)


def as_score(value: Any, fn: Any) -> float:
    """``value`` as a float, or an error naming the function that returned it."""
    number = _number(value)
    if number is None:
        raise ObjectiveError(f"objective {qualified_name(fn)} returned {type(value).__name__} "
                             f"({value!r:.60}), not a number; return the validation score")
    return number


def as_named_values(values: Mapping[Any, Any], fn: Any) -> dict[str, float]:
    """``{name: float}`` from a mapping ``fn`` returned; an error names the key at fault."""
    if not values:
        raise ObjectiveError(f"objective {qualified_name(fn)} returned an empty mapping; return "
                             "a mapping of named values, e.g. {'accuracy': ..., 'model_bytes': ...}")
    out: dict[str, float] = {}
    for key, value in values.items():
        if not isinstance(key, str):
            raise ObjectiveError(f"objective {qualified_name(fn)} returned a mapping with the key "
                                 f"{key!r} ({type(key).__name__}); name each value with a string")
        number = _number(value)
        if number is None:
            raise ObjectiveError(f"objective {qualified_name(fn)} returned "
                                 f"{type(value).__name__} ({value!r:.60}) for {key!r}, not a "
                                 "number; return a number for each name")
        out[key] = number
    return out


def _number(value: Any) -> float | None:
    """``value`` as a float when it is a number (a bool or a string is not), else ``None``."""
    if isinstance(value, (str, bytes, bool)) or type(value).__name__ == "bool_" \
            or not hasattr(value, "__float__"):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def as_objective(obj: Any) -> Objective:
    """An :class:`Objective` from what a study names.

    An Objective passes through; a scikit-learn estimator, Pipeline, class or class path becomes
    a :class:`SklearnObjective`; any other callable a :class:`FunctionObjective`.
    """
    if isinstance(obj, Objective):
        return obj
    if isinstance(obj, Mapping):
        raise ObjectiveError("a mapping of estimators needs SklearnObjective(mapping, "
                             "choice=<the branch parameter that picks one>)")
    if _estimators.is_estimator_spec(obj):
        if isinstance(obj, str):
            _estimators.resolve(obj)  # a bad class path is an error now, not at the first trial
        return SklearnObjective(obj)
    if callable(obj):
        return FunctionObjective(obj)
    raise ObjectiveError(
        "the objective must be an Objective, a scikit-learn estimator, Pipeline, class or class "
        f"path, or a function of the config, but got {type(obj).__name__}"
    )
