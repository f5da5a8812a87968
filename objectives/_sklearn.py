"""The ready-made objective for scikit-learn estimators and Pipelines.

Cross-validation on the development data: per fold a fresh clone of the whole pipeline
(preprocessing, SMOTE, estimator) is fitted on the training rows only and scored on the
validation rows; the mean validation score is the trial's value. Given several metrics (a
multi-objective study), each is the mean over the folds, cost measures included: the fit's
seconds, the seconds to predict 1000 rows, the bytes of the pickled final estimator.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from objectives import _checks, _estimators
from objectives._base import DevData, Objective, TrialHandle
from objectives._errors import ObjectiveError, Pruned
from objectives._measures import CostMeasure
from objectives._metrics import Metric, get_metrics, leading, several
from objectives._splits import cv_splitter as _splitter

if TYPE_CHECKING:
    import numpy as np

_PREPROCESS = ("auto", None)


class SklearnObjective(Objective):
    """Cross-validate a scikit-learn estimator (or one of several) on the development data.

    Parameters
    ----------
    estimator
        An estimator or Pipeline instance, an estimator class, a ``"sklearn."`` or
        ``"imblearn."`` class path, or a mapping ``option -> estimator`` used with ``choice``.
    choice
        With a mapping: the name of the space's branch parameter whose value picks the estimator.
    preprocess
        ``"auto"``: wrap a bare estimator in per-fold imputation, scaling and one-hot encoding;
        ``None``: use the estimator as given. A Pipeline is always used as given.
    folds
        Number of cross-validation folds (at least 2).
    class_weight
        For classifiers with a ``class_weight`` parameter left at ``None`` and not in the config;
        ``None`` turns this off. Not applied with ``smote=True`` (classes are balanced already).
    smote
        Oversample the training folds with imbalanced-learn's SMOTE, after preprocessing.

    >>> from sklearn.svm import SVC
    >>> objective = SklearnObjective(SVC, folds=3)
    >>> objective.describe()["folds"]
    3
    """

    def __init__(self, estimator: Any, *, choice: str | None = None,
                 preprocess: str | None = "auto", folds: int = 5,
                 class_weight: Any = "balanced", smote: bool = False) -> None:
        self.estimator = estimator
        self.choice = choice
        self.preprocess = preprocess
        self.folds = folds
        self.class_weight = class_weight
        self.smote = smote

    # --- public -------------------------------------------------------------------------------

    def check(self, data: DevData | None, space: Any,
              metric: Metric | str | Sequence[Metric | CostMeasure | str] | None) -> None:
        """Check arguments, the space's parameters, the metrics' task and the data, once."""
        self._validate_arguments()
        if metric is None:
            raise ObjectiveError("SklearnObjective needs a metric")
        metrics = get_metrics(metric)
        lead = leading(metrics)
        templates = self._templates()
        for option, template in templates.items():
            for each in metrics:
                if isinstance(each, Metric):
                    self._check_task(template, each, option)
        if self.smote and lead.task != "classification":
            raise ObjectiveError(f"smote=True needs a classification metric, but {lead.name} "
                                 "is a regression metric")
        self._check_space(_checks.space_dict(space), templates)
        if data is None:
            raise ObjectiveError("SklearnObjective needs data: give the study a dataset")
        _check_data(data, lead, self.folds)
        _checks.check_finite(data.X)
        for template in templates.values():
            model, _ = self._assemble(template, None)
            if self.preprocess == "auto" and not _estimators.is_pipeline(template):
                _checks.check_auto_dtypes(data.X)
            else:
                _checks.check_raw_input(data.X, _checks.entry_step(model),
                                        type(_estimators.final_estimator(model)).__name__)

    def evaluate(self, config: dict[str, Any], data: DevData | None, trial: TrialHandle,
                 metric: Metric | str | Sequence[Metric | CostMeasure | str],
                 ) -> float | dict[str, float]:
        """Mean validation score over the folds; reports the running mean after each fold.

        Given a tuple of metrics: ``{name: mean over the folds}`` for each, cost measures
        included; the running mean of the first scoring metric is what is reported.
        """
        self._validate_arguments()
        if data is None:
            raise ObjectiveError("SklearnObjective needs data: give the study a dataset")
        metrics = get_metrics(metric)
        model = self._build(config, leading(metrics).task, trial.seed)
        values = _cross_validate(model, data, trial, metrics, self.folds, many=several(metric))
        if not several(metric):
            return _mean(values[leading(metrics).name])
        return {name: _mean(fold_values) for name, fold_values in values.items()}

    def fit_final(
        self,
        config: dict[str, Any],
        data: DevData,
        seed: int | None,
        trial_dir: Path | None = None,
    ) -> Any:
        """The same pipeline as in the trials, fitted on all development data."""
        self._validate_arguments()
        model = self._build(config, data.task, seed)
        return model.fit(data.X, data.y)

    def describe(self) -> dict[str, Any]:
        est = self.estimator
        if isinstance(est, Mapping):
            shown: Any = {str(k): _estimators.describe_spec(v) for k, v in est.items()}
        else:
            shown = _estimators.describe_spec(est)
        cw = self.class_weight
        return {
            "type": type(self).__name__,
            "estimator": shown,
            "choice": self.choice,
            "preprocess": self.preprocess,
            "folds": self.folds,
            "class_weight": {str(k): v for k, v in cw.items()} if isinstance(cw, Mapping) else cw,
            "smote": self.smote,
        }

    # --- private ------------------------------------------------------------------------------

    def _validate_arguments(self) -> None:
        name = type(self).__name__
        folds = self.folds
        if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
            raise ObjectiveError(f"The 'folds' parameter of {name} must be an int >= 2. "
                                 f"Got {folds!r} instead.")
        if self.preprocess not in _PREPROCESS:
            raise ObjectiveError(f"The 'preprocess' parameter of {name} must be 'auto' or None. "
                                 f"Got {self.preprocess!r} instead.")
        cw = self.class_weight
        if not (cw is None or cw == "balanced" or isinstance(cw, Mapping)):
            raise ObjectiveError(f"The 'class_weight' parameter of {name} must be 'balanced', "
                                 f"a mapping class -> weight, or None. Got {cw!r} instead.")
        if not isinstance(self.smote, bool):
            raise ObjectiveError(f"The 'smote' parameter of {name} must be a bool. "
                                 f"Got {self.smote!r} instead.")
        is_mapping = isinstance(self.estimator, Mapping)
        if is_mapping and not isinstance(self.choice, str):
            raise ObjectiveError(f"a mapping of estimators needs choice=<the space's branch "
                                 f"parameter that picks one>. Got choice={self.choice!r}.")
        if not is_mapping and self.choice is not None:
            raise ObjectiveError(f"choice={self.choice!r} needs a mapping option -> estimator "
                                 "as the estimator")
        if is_mapping and not self.estimator:
            raise ObjectiveError("the mapping of estimators is empty")

    def _templates(self) -> dict[Any, Any]:
        """Resolved estimators by option (the key ``None`` when there is no choice)."""
        if isinstance(self.estimator, Mapping):
            return {option: _estimators.resolve(spec, f"estimator for {self.choice}={option!r}")
                    for option, spec in self.estimator.items()}
        return {None: _estimators.resolve(self.estimator)}

    def _assemble(self, template: Any, seed: int | None) -> tuple[Any, str | None]:
        return _estimators.assemble(template, preprocess=self.preprocess, smote=self.smote,
                                    seed=seed)

    def _select(self, config: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
        """The template the config picks, and the config's parameters for it."""
        templates = self._templates()
        if self.choice is None:
            return templates[None], dict(config)
        if self.choice not in config:
            raise ObjectiveError(f"the config has no '{self.choice}' (the choice parameter); "
                                 f"it has: {', '.join(map(str, config))}")
        option = config[self.choice]
        template = _lookup(templates, option)
        if template is None:
            raise ObjectiveError(f"{self.choice}={option!r} names no estimator; options are: "
                                 + ", ".join(map(str, templates)))
        return template, {k: v for k, v in config.items() if k != self.choice}

    def _build(self, config: Mapping[str, Any], task: str, seed: int | None) -> Any:
        """The configured, unfitted model for ``config``; cloned per fold."""
        template, params = self._select(config)
        model, final_name = self._assemble(template, seed)
        return _estimators.configure(
            model, final_name, params, classification=task == "classification",
            class_weight=None if self.smote else self.class_weight, seed=seed,
        )

    def _check_task(self, template: Any, metric: Metric, option: Any) -> None:
        from sklearn.base import is_classifier, is_regressor

        name = type(_estimators.final_estimator(template)).__name__
        where = "" if option is None else f" ({self.choice}={option!r})"
        if metric.task == "classification" and is_regressor(template):
            raise ObjectiveError(f"metric {metric.name} is for classification, but {name}"
                                 f"{where} is a regressor; choose a regression metric")
        if metric.task == "regression" and is_classifier(template):
            raise ObjectiveError(f"metric {metric.name} is for regression, but {name}{where} "
                                 "is a classifier; choose a classification metric")

    def _check_space(self, tree: Mapping[str, Any], templates: dict[Any, Any]) -> None:
        params = list(_checks.walk_space(tree))
        if self.choice is not None:
            branch = next((p for p in params if p.name == self.choice), None)
            if branch is None:
                raise ObjectiveError(f"choice='{self.choice}' is not a parameter of the space; "
                                     "it has: " + ", ".join(p.path for p in params))
            options = _options(branch.spec)
            if options is None:
                raise ObjectiveError(f"{branch.path}: choice='{self.choice}' must name a "
                                     "categorical parameter whose options pick the estimator")
            if {str(o) for o in options} != {str(o) for o in templates}:
                raise ObjectiveError(
                    f"{branch.path}: its options ({', '.join(map(str, options))}) must match "
                    f"the estimators' keys ({', '.join(map(str, templates))})"
                )
        models = {option: self._assemble(t, None) for option, t in templates.items()}
        valid = {option: set(m.get_params(deep=True)) for option, (m, _) in models.items()}
        for param in params:
            if param.name == self.choice:
                continue
            chosen = [o for b, o in param.branches if b == self.choice]
            targets = [_lookup_key(models, chosen[-1])] if chosen else list(models)
            for option in targets:
                model, final_name = models[option]
                if _estimators.route(param.name, model, final_name, valid[option]) is None:
                    message = _estimators.unrouted_message(param.path, param.name, model,
                                                           final_name)
                    if option is not None and not chosen:
                        message += f" (with {self.choice}={option!r})"
                    elif self.choice is None and param.is_branch:
                        message += (f"; to choose between estimators, pass a mapping and "
                                    f"choice='{param.name}'")
                    raise ObjectiveError(message)


def _options(spec: Mapping[str, Any]) -> list[Any] | None:
    if spec.get("type") != "categorical":
        return None
    choices = spec.get("choices")
    if isinstance(choices, Mapping):
        return list(choices)
    if isinstance(choices, (list, tuple)):
        return list(choices)
    return None


def _lookup(table: Mapping[Any, Any], option: Any) -> Any:
    key = _lookup_key(table, option)
    return None if key is _MISSING else table[key]


_MISSING = object()


def _lookup_key(table: Mapping[Any, Any], option: Any) -> Any:
    """The key of ``table`` equal to ``option``, or the one spelled alike (YAML keys)."""
    if option in table:
        return option
    return next((k for k in table if str(k) == str(option)), _MISSING)


def _check_data(data: DevData, metric: Metric, folds: int) -> None:
    if data.task != metric.task:
        raise ObjectiveError(f"the data are for {data.task}, but metric {metric.name} is for "
                             f"{metric.task}")
    if data.groups is not None and data.time_ordered:
        raise ObjectiveError("the data are both grouped and time-ordered; choose one")
    _checks.check_folds(data, folds)


def _cross_validate(model: Any, data: DevData, trial: TrialHandle,
                    metrics: tuple[Metric | CostMeasure, ...], folds: int, *,
                    many: bool) -> dict[str, list[float]]:
    """Fit a clone of ``model`` per training fold; measure it on the fold's validation rows.

    After each fold: ``fold_scores`` (the first scoring metric's), ``train_score`` and, with
    ``many``, ``fold_values`` (every metric's) are stored, the running mean of the first
    scoring metric is reported, and :class:`Pruned` is raised if the trial handle says so.
    After the last fold the handle is not asked: the trial has scored every fold, and is
    complete. Returns each metric's value per fold.
    """
    import numpy as np
    from sklearn.base import clone

    X, y = data.X, np.asarray(data.y)
    classes = list(data.classes) or None
    lead = leading(metrics)
    values: dict[str, list[float]] = {m.name: [] for m in metrics}
    train_scores: list[float] = []
    splitter = _splitter(data, folds, trial.seed)
    last = splitter.get_n_splits(X, y, data.groups) - 1
    for step, (train, valid) in enumerate(splitter.split(X, y, data.groups)):
        start = time.perf_counter()
        fitted = clone(model).fit(X.iloc[train], y[train])
        fit_seconds = time.perf_counter() - start
        measured = _measure(metrics, fitted, X.iloc[valid], y[valid], classes, fit_seconds)
        for name, value in measured.items():
            values[name].append(value)
        train_scores.append(lead.score(fitted, X.iloc[train], y[train], classes))
        trial.set_attr("fold_scores", list(values[lead.name]))
        trial.set_attr("train_score", _mean(train_scores))
        if many:
            trial.set_attr("fold_values", {name: list(v) for name, v in values.items()})
        trial.report(_mean(values[lead.name]), step)
        if step < last and trial.should_prune():
            raise Pruned(f"pruned after fold {step + 1} of {folds}")
    return values


def _measure(metrics: tuple[Metric | CostMeasure, ...], fitted: Any, X: Any, y: Any,
             classes: list[Any] | None, fit_seconds: float) -> dict[str, float]:
    """Every metric of a fitted fold on its validation rows: the scoring metrics first (one
    prediction for all that need the same kind), then the cost measures."""
    predictions: dict[tuple[str, bool], tuple[Any, list[Any] | None]] = {}
    out: dict[str, float] = {}
    for metric in metrics:
        if isinstance(metric, Metric):
            kind = (metric.needs, metric._allows_decision)
            if kind not in predictions:
                predictions[kind] = metric.predictions(fitted, X, classes)
            out[metric.name] = metric.score_predictions(y, *predictions[kind])
    for metric in metrics:
        if isinstance(metric, CostMeasure):
            out[metric.name] = metric.value(fitted, X, fit_seconds)
    return out


def _mean(values: list[float] | np.ndarray) -> float:
    return float(sum(values) / len(values))
