"""Metrics: what a validation score means and which way is better.

A :class:`Metric` is a validated value object; the metric named in a study sets the study's
direction and task. Built-in metrics compute with scikit-learn's own functions (imported when a
score is computed, so ``get_metric`` stays cheap) and are listed in :data:`METRICS`.
:func:`get_metrics` reads the metrics of a multi-objective study: scoring metrics of one task,
and cost measures (:mod:`objectives._measures`) beside them.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from objectives._errors import ObjectiveError
from objectives._measures import MEASURES, CostMeasure

if TYPE_CHECKING:
    import numpy as np

Direction = Literal["maximize", "minimize"]
Needs = Literal["predict", "proba"]

_DIRECTIONS = ("maximize", "minimize")
_TASKS = ("classification", "regression")
_NEEDS = ("predict", "proba")

#: ``fn(y_true, y_pred, classes) -> float``; ``y_pred`` holds labels or values for
#: ``needs="predict"``, and class scores (one column a class of ``classes``) for ``"proba"``
ScoreFn = Callable[["np.ndarray", "np.ndarray", "Sequence[Any] | None"], float]


@dataclass(frozen=True)
class Metric:
    """A validation metric: its name, the better direction, the task it suits, what it needs.

    ``needs="predict"`` scores ``model.predict``; ``needs="proba"`` scores class probabilities
    (``predict_proba``, or ``decision_function`` where the metric allows it). Built-in metrics
    are found by name; a custom metric passes ``fn(y_true, y_pred, classes) -> float``.

    >>> get_metric("rmse").direction
    'minimize'
    """

    name: str
    direction: Direction
    task: Literal["classification", "regression"]
    needs: Needs = "predict"
    fn: ScoreFn | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ObjectiveError(f"The 'name' of a Metric must be a non-empty string. "
                                 f"Got {self.name!r} instead.")
        for attr, allowed in (("direction", _DIRECTIONS), ("task", _TASKS), ("needs", _NEEDS)):
            value = getattr(self, attr)
            if value not in allowed:
                raise ObjectiveError(f"The '{attr}' of metric {self.name!r} must be one of "
                                     f"{', '.join(allowed)}. Got {value!r} instead.")
        if self.fn is None and self.name not in _BUILTIN:
            raise ObjectiveError(f"metric {self.name!r} is not built in; pass fn(y_true, y_pred, "
                                 "classes) to define it")
        if self.fn is not None and not callable(self.fn):
            raise ObjectiveError(f"The 'fn' of metric {self.name!r} must be callable. "
                                 f"Got {type(self.fn).__name__} instead.")

    @property
    def greater_is_better(self) -> bool:
        return self.direction == "maximize"

    def score(self, model: Any, X: Any, y: Any, classes: Sequence[Any] | None = None) -> float:
        """Score a fitted ``model`` on ``(X, y)``.

        ``classes`` are all the study's classes, so that a fold which lacks one still scores
        with the same labels (probability columns are aligned to them).
        """
        predicted, labels = self.predictions(model, X, classes)
        return self.score_predictions(y, predicted, labels)

    def predictions(
        self, model: Any, X: Any, classes: Sequence[Any] | None = None
    ) -> tuple[Any, list[Any] | None]:
        """What this metric scores: labels/values, or class scores and their labels.

        Feed the result to :meth:`score_predictions`, e.g. to bootstrap over rows.
        """
        import numpy as np

        if self.needs == "predict":
            return np.asarray(model.predict(X)), list(classes) if classes is not None else None
        scores, labels = class_scores(model, X, classes, allow_decision=self._allows_decision)
        return scores, labels

    def score_predictions(
        self, y_true: Any, y_pred: Any, classes: Sequence[Any] | None = None
    ) -> float:
        """Score predictions (labels/values, or class scores for ``needs="proba"``)."""
        import numpy as np

        fn = self.fn if self.fn is not None else _BUILTIN[self.name]
        labels = list(classes) if classes is not None and len(classes) > 0 else None
        return float(fn(np.asarray(y_true), np.asarray(y_pred), labels))

    @property
    def _allows_decision(self) -> bool:
        return self.name not in _PROBA_ONLY


def class_scores(
    model: Any, X: Any, classes: Sequence[Any] | None, *, allow_decision: bool = True
) -> tuple[np.ndarray, list[Any]]:
    """Class scores of ``model`` on ``X``, one column a class of ``classes``.

    Uses ``predict_proba``; without it (and when allowed) a softmax of ``decision_function``,
    which keeps the ranking that ROC AUC needs. Classes the model never saw score 0.
    """
    import numpy as np

    name = type(model).__name__
    if not hasattr(model, "classes_"):
        raise ObjectiveError(f"this metric needs class scores, and {name} has no classes_")
    model_classes = list(model.classes_)
    labels = list(classes) if classes is not None and len(classes) > 0 else model_classes
    if hasattr(model, "predict_proba"):
        raw = np.asarray(model.predict_proba(X), dtype=float)
    elif allow_decision and hasattr(model, "decision_function"):
        raw = np.asarray(model.decision_function(X), dtype=float)
        if raw.ndim == 1:
            raw = np.column_stack([-raw, raw])
        raw = np.exp(raw - raw.max(axis=1, keepdims=True))
        raw /= raw.sum(axis=1, keepdims=True)
    else:
        needs = "predict_proba or decision_function" if allow_decision else "predict_proba"
        raise ObjectiveError(f"this metric needs {needs}, and {name} has none"
                             + (" (wrap it: CalibratedClassifierCV(SVC(), ensemble=False))"
                                if "SV" in name else ""))
    if model_classes == labels:
        return raw, labels
    out = np.zeros((raw.shape[0], len(labels)))
    for j, cls in enumerate(model_classes):
        if cls not in labels:
            raise ObjectiveError(f"{name} predicts class {cls!r}, which is not among the "
                                 f"study's classes {labels}")
        out[:, labels.index(cls)] = raw[:, j]
    return out, labels


# --- the built-in metrics ----------------------------------------------------------------------


def _labels(y_true: np.ndarray, y_pred: np.ndarray, classes: list[Any] | None) -> list[Any]:
    import numpy as np

    if classes is not None:
        return classes
    return list(np.unique(np.concatenate([y_true, y_pred])))


def _averaged(func_name: str) -> ScoreFn:
    """precision/recall/f1: binary (positive = the second class) for two classes, else macro."""

    def fn(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[Any] | None) -> float:
        import sklearn.metrics as skm

        labels = _labels(y_true, y_pred, list(classes) if classes is not None else None)
        func = getattr(skm, func_name)
        if len(labels) == 2:
            return float(func(y_true, y_pred, average="binary", pos_label=labels[1],
                              zero_division=0))
        return float(func(y_true, y_pred, average="macro", labels=labels, zero_division=0))

    fn.__name__ = func_name
    return fn


def _accuracy(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[Any] | None) -> float:
    from sklearn.metrics import accuracy_score

    return float(accuracy_score(y_true, y_pred))


def _balanced_accuracy(
    y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[Any] | None
) -> float:
    from sklearn.metrics import balanced_accuracy_score

    return float(balanced_accuracy_score(y_true, y_pred))


def _roc_auc(y_true: np.ndarray, y_score: np.ndarray, classes: Sequence[Any] | None) -> float:
    """Binary: the second class's score; multiclass: one-vs-rest over all ``classes``."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    labels = list(classes) if classes is not None else list(np.unique(y_true))
    if y_score.ndim == 1:
        return float(roc_auc_score(y_true == labels[-1], y_score))
    if len(labels) == 2:
        return float(roc_auc_score(y_true == labels[1], y_score[:, 1]))
    return float(roc_auc_score(y_true, y_score, multi_class="ovr", labels=labels))


def _log_loss(y_true: np.ndarray, y_proba: np.ndarray, classes: Sequence[Any] | None) -> float:
    from sklearn.metrics import log_loss

    labels = list(classes) if classes is not None else None
    return float(log_loss(y_true, y_proba, labels=labels))


def _regression(func_name: str) -> ScoreFn:
    def fn(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[Any] | None) -> float:
        import sklearn.metrics as skm

        return float(getattr(skm, func_name)(y_true, y_pred))

    fn.__name__ = func_name
    return fn


_BUILTIN: dict[str, ScoreFn] = {
    "accuracy": _accuracy,
    "balanced_accuracy": _balanced_accuracy,
    "precision": _averaged("precision_score"),
    "recall": _averaged("recall_score"),
    "f1": _averaged("f1_score"),
    "roc_auc": _roc_auc,
    "log_loss": _log_loss,
    "mse": _regression("mean_squared_error"),
    "rmse": _regression("root_mean_squared_error"),
    "mae": _regression("mean_absolute_error"),
    "r2": _regression("r2_score"),
}
_PROBA_ONLY = frozenset({"log_loss"})

_REGISTRY: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("accuracy", "maximize", "classification"),
        Metric("balanced_accuracy", "maximize", "classification"),
        Metric("precision", "maximize", "classification"),
        Metric("recall", "maximize", "classification"),
        Metric("f1", "maximize", "classification"),
        Metric("roc_auc", "maximize", "classification", "proba"),
        Metric("log_loss", "minimize", "classification", "proba"),
        Metric("mse", "minimize", "regression"),
        Metric("rmse", "minimize", "regression"),
        Metric("mae", "minimize", "regression"),
        Metric("r2", "maximize", "regression"),
    )
}

#: the names of the built-in metrics
METRICS: tuple[str, ...] = tuple(_REGISTRY)


def get_metric(name_or_metric: str | Metric | CostMeasure) -> Metric | CostMeasure:
    """The :class:`Metric` or :class:`CostMeasure` named ``name_or_metric`` (either passes
    through).

    >>> get_metric("f1").task
    'classification'
    >>> get_metric("model_bytes").direction
    'minimize'
    """
    if isinstance(name_or_metric, Metric | CostMeasure):
        return name_or_metric
    if isinstance(name_or_metric, str):
        key = name_or_metric.strip().lower()
        if key in _REGISTRY:
            return _REGISTRY[key]
        if key in MEASURES:
            return CostMeasure(key)
        choices = METRICS + MEASURES
        close = difflib.get_close_matches(key, choices, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ObjectiveError(f"unknown metric '{name_or_metric}'{hint}; choose one of: "
                             + ", ".join(choices))
    raise ObjectiveError(f"a metric must be a name or a Metric, but got "
                         f"{type(name_or_metric).__name__}")


def get_metrics(
    spec: str | Metric | CostMeasure | Sequence[str | Metric | CostMeasure],
) -> tuple[Metric | CostMeasure, ...]:
    """The metrics a study names: one, or a list of scoring metrics and cost measures.

    Names are unique; at least one is a scoring metric, and the scoring metrics are all of one
    task. The first scoring metric leads (pruning, early stopping, ``fold_scores``).

    >>> [m.name for m in get_metrics(["accuracy", "model_bytes"])]
    ['accuracy', 'model_bytes']
    """
    if isinstance(spec, str | Metric | CostMeasure):
        items: list[Any] = [spec]
    elif isinstance(spec, list | tuple):
        items = list(spec)
    else:
        raise ObjectiveError(f"metrics must be a name, a Metric, or a list of them. "
                             f"Got {type(spec).__name__} instead.")
    if not items:
        raise ObjectiveError("the list of metrics is empty; name at least one scoring metric, "
                             "e.g. ['accuracy']")
    metrics = tuple(get_metric(item) for item in items)
    seen: set[str] = set()
    for metric in metrics:
        if metric.name in seen:
            raise ObjectiveError(f"metric '{metric.name}' is named twice; name each metric once")
        seen.add(metric.name)
    scoring = [m for m in metrics if isinstance(m, Metric)]
    if not scoring:
        names = ", ".join(m.name for m in metrics)
        raise ObjectiveError(f"cost measures alone ({names}) have no task; add a "
                             "scoring metric, e.g. ['accuracy', 'model_bytes']")
    for metric in scoring[1:]:
        if metric.task != scoring[0].task:
            first = scoring[0]
            raise ObjectiveError(f"metrics '{first.name}' ({first.task}) and '{metric.name}' "
                                 f"({metric.task}) are for different tasks; score one task")
    return metrics


def several(spec: Any) -> bool:
    """Whether ``spec`` names the metrics of a multi-objective study (a list or tuple), whose
    objectives return ``{name: value}``, rather than one metric, whose return a score."""
    return isinstance(spec, list | tuple)


def leading(metrics: Sequence[Metric | CostMeasure]) -> Metric:
    """The first scoring metric of ``metrics`` (:func:`get_metrics` ensures there is one)."""
    return next(m for m in metrics if isinstance(m, Metric))


def scoring_metric(name_or_metric: str | Metric | CostMeasure) -> Metric:
    """The scoring :class:`Metric` named ``name_or_metric``; a cost measure alone is an error."""
    return leading(get_metrics(name_or_metric))


def classification_report(
    model: Any, X: Any, y: Any, classes: Sequence[Any] | None = None
) -> dict[str, float]:
    """Every classification metric the model supports, scored on ``(X, y)``.

    Label metrics always; ``roc_auc`` when the model has ``predict_proba`` or
    ``decision_function``; ``log_loss`` only with ``predict_proba``.
    """
    import numpy as np

    y = np.asarray(y)
    predicted = np.asarray(model.predict(X))
    if classes:
        labels = list(classes)
    elif hasattr(model, "classes_"):
        labels = list(model.classes_)
    else:
        labels = np.unique(np.concatenate([y, predicted])).tolist()
    report: dict[str, float] = {}
    for name, metric in _REGISTRY.items():
        if metric.task == "classification" and metric.needs == "predict":
            report[name] = metric.score_predictions(y, predicted, labels)
    for name in ("roc_auc", "log_loss"):
        metric = _REGISTRY[name]
        try:
            scores, score_labels = class_scores(model, X, labels,
                                                allow_decision=metric._allows_decision)
            report[name] = metric.score_predictions(y, scores, score_labels)
        except (ObjectiveError, ValueError):
            continue  # the model cannot give such scores, or y has a single class
    return report


def regression_report(model: Any, X: Any, y: Any) -> dict[str, float]:
    """Every regression metric, scored on ``(X, y)``."""
    predicted = model.predict(X)
    return {
        name: metric.score_predictions(y, predicted)
        for name, metric in _REGISTRY.items()
        if metric.task == "regression"
    }
