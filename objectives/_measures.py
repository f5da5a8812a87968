"""Cost measures: what a model costs to fit, to predict with and to keep.

A :class:`CostMeasure` stands beside the scoring metrics of a multi-objective study: it has a
name and a direction (always ``"minimize"``) like a :class:`~objectives.Metric`, but no task,
for it suits every model. Each is computed the same way, from the fitted model, the rows it
predicts and the seconds its fit took: :meth:`CostMeasure.value`. The built-in measures are
listed in :data:`MEASURES`; :func:`~objectives.get_metric` finds them by name.
"""

from __future__ import annotations

import math
import pickle
import time
from dataclasses import dataclass
from typing import Any, Literal

from objectives._errors import ObjectiveError

#: rows the prediction time is given for
ROWS = 1000
#: prediction is timed up to this many times (the fastest run counts) ...
_REPEATS = 3
#: ... and no more once the runs together took this many seconds
_ENOUGH_SECONDS = 0.2

_UNITS = {
    "fit_seconds": "seconds",
    "predict_seconds": f"seconds per {ROWS} rows",
    "model_bytes": "bytes",
}

#: the names of the built-in cost measures
MEASURES: tuple[str, ...] = tuple(_UNITS)


@dataclass(frozen=True)
class CostMeasure:
    """A cost to keep low beside the scores: ``fit_seconds``, ``predict_seconds``, ``model_bytes``.

    ``fit_seconds`` is the time the fit took; ``predict_seconds`` the time ``model.predict``
    takes for :data:`ROWS` rows (measured on the rows given and scaled; the fastest of a few
    runs); ``model_bytes`` the size of the pickled final estimator (a Pipeline's last step, a
    network's weights and state).

    >>> CostMeasure("model_bytes").direction
    'minimize'
    """

    name: str
    direction: Literal["minimize"] = "minimize"

    def __post_init__(self) -> None:
        if self.name not in _UNITS:
            raise ObjectiveError(f"The 'name' of a CostMeasure must be one of "
                                 f"{', '.join(MEASURES)}. Got {self.name!r} instead.")
        if self.direction != "minimize":
            raise ObjectiveError(f"The 'direction' of cost measure {self.name!r} must be "
                                 f"minimize (less is better). Got {self.direction!r} instead.")

    @property
    def task(self) -> None:
        """A cost measure suits every task."""
        return None

    @property
    def greater_is_better(self) -> bool:
        return False

    @property
    def unit(self) -> str:
        return _UNITS[self.name]

    def value(self, model: Any, X: Any, fit_seconds: float | None) -> float:
        """This measure of a fitted ``model``; ``X`` are rows it predicts (the validation
        part), ``fit_seconds`` the time its fit took."""
        if self.name == "fit_seconds":
            return _seconds(fit_seconds)
        if self.name == "predict_seconds":
            return predict_seconds(model, X)
        return float(model_bytes(model))


def predict_seconds(model: Any, X: Any) -> float:
    """Seconds ``model.predict`` takes for :data:`ROWS` rows, timed on ``X`` and scaled."""
    n = len(X)
    if n == 0:
        raise ObjectiveError("predict_seconds needs at least one row to time predict on")
    fastest, spent = math.inf, 0.0
    for _ in range(_REPEATS):
        start = time.perf_counter()
        model.predict(X)
        took = time.perf_counter() - start
        fastest, spent = min(fastest, took), spent + took
        if spent >= _ENOUGH_SECONDS:
            break
    return fastest * ROWS / n


def model_bytes(model: Any) -> int:
    """Bytes of the final estimator of ``model`` (see :func:`final_estimator`), pickled with
    ``pickle.dumps`` and its default protocol."""
    part = final_estimator(model)
    try:
        return len(pickle.dumps(part))
    except Exception as exc:  # noqa: BLE001 - any object may refuse pickling its own way
        raise ObjectiveError(f"model_bytes cannot pickle {type(part).__name__}: "
                             f"{type(exc).__name__}: {exc}") from exc


def final_estimator(model: Any) -> Any:
    """What ``model_bytes`` weighs: a Pipeline's last step, a network's weights and state
    (``network_state()``), else the model itself."""
    steps = getattr(model, "steps", None)
    if isinstance(steps, list) and steps and isinstance(steps[-1], tuple):
        return final_estimator(steps[-1][-1])
    state = getattr(model, "network_state", None)
    if callable(state):
        return state()
    return model


def _seconds(fit_seconds: Any) -> float:
    if isinstance(fit_seconds, bool) or not isinstance(fit_seconds, int | float) \
            or not math.isfinite(fit_seconds) or fit_seconds < 0:
        raise ObjectiveError(f"fit_seconds needs the seconds the fit took, a number >= 0. "
                             f"Got {fit_seconds!r} instead.")
    return float(fit_seconds)
