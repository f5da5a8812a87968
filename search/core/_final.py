"""The final evaluation: refit the selected config on all development data, open the test once.

The model is fitted in a trial worker, like every trial, so the objective's code never runs
next to the sealed test part; it comes back to the driver, which alone scores it on the test
rows. The opening is recorded in ``final.json`` before the test rows are handed out (see
:meth:`Sealed._open`), so a crash between opening and scoring still counts as an opening.
A trial's saved files (a checkpoint to reuse) are handed to the fit only when each still has
the sha256 the store recorded when the trial wrote it.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.core._channel import Fit
from search.core._errors import RunError, TestSetAlreadyOpened, UserError
from search.core._folder import (
    FINAL_JSON,
    INPUT_EXAMPLE,
    MODEL_DIR,
    now,
    read_record,
    trial_dir,
    write_json,
)
from search.core._logging import native_output_logged
from search.core._pareto import chosen, named_values
from search.core._trials import FILES, best_trial, own, spread, trial_config
from search.core._worker import file_digests
from search.integrity._gap import generalization_gap, test_standard_error
from search.integrity._ties import fold_scores, selected_trial

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

    from objectives import Metric
    from search.core._pool import WorkerPool
    from search.core._prepare import Prepared


class FinalFitError(RunError):
    """The final model could not be fitted; the test set stays sealed."""


def final_evaluation(
    prep: Prepared, trials: list[FrozenTrial], directory: Path, pool: WorkerPool, retries: int
) -> dict[str, Any]:
    """Refit, open the sealed test, score, save the model; return what ``final.json`` holds."""
    _check_can_evaluate(prep, directory)
    top, best, rule = _selected(prep, trials, directory)
    config = trial_config(prep.parts.space, best.params)
    kept = verified_trial_dir(best, directory)
    fitted = pool.call(Fit(config, kept), retries)
    if fitted.error is not None or fitted.model is None:
        raise FinalFitError(
            f"final: fitting trial {best.number}'s config failed: {fitted.error}; the test set "
            "stays sealed (see search.log)"
        )
    record = _opening_record(prep, top, best, config, rule)
    with native_output_logged():  # loading, scoring and exporting a network (TensorFlow's C++)
        model = pickle.loads(fitted.model)  # noqa: S301 - pickled by our own worker
        return _open_and_score(prep, directory, model, best, record, fitted.seconds)


def _selected(
    prep: Prepared, trials: list[FrozenTrial], directory: Path
) -> tuple[FrozenTrial, FrozenTrial, str]:
    """The best trial, the one the final evaluation uses, and the rule that chose it."""
    goals = prep.parts.goals
    if goals.multi or goals.pick is not None:
        picked = chosen(trials, goals)
        if picked is None:
            raise FinalFitError(
                f"final: no complete trial meets the constraints and the pick rule "
                f"({goals.pick or 'Pareto front'}); the test set stays sealed"
            )
        return picked[0], picked[0], picked[1]
    top = best_trial(trials, prep.parts.direction)
    if top is None:
        raise FinalFitError(
            f"{directory}: no complete (and feasible) trial, so there is no config to evaluate"
        )
    config_of = lambda t: trial_config(prep.parts.space, t.params)  # noqa: E731
    best = selected_trial(top, own(trials), config_of, prep.prefer)
    rule = "best validation value"
    if prep.prefer is not None:
        rule = f"prefer {prep.prefer} among the configs tied with the best"
    return top, best, rule


def _check_can_evaluate(prep: Prepared, directory: Path) -> None:
    if prep.split is None or prep.parts.metric is None:
        raise UserError("final: this study has no data, so it has no test set to evaluate on")
    if not prep.parts.objective.can_fit_final:
        raise UserError(
            "final: the objective cannot fit a final model; give FunctionObjective(fit=...) "
            "or run with --no-final"
        )
    if (directory / FINAL_JSON).exists():
        raise TestSetAlreadyOpened.at(directory / FINAL_JSON)


def verified_trial_dir(trial: FrozenTrial, directory: Path) -> Path | None:
    """The trial's folder, if every file in it is the one the trial wrote; else ``None`` or an
    error naming the file that changed."""
    folder = trial_dir(directory, trial.number)
    if not folder.is_dir():
        return None
    recorded = trial.system_attrs.get(FILES)
    if not isinstance(recorded, dict):
        return None  # no digests recorded: the files are not used, the model is refitted
    found = file_digests(folder)
    for name in sorted(set(recorded) | set(found)):
        if recorded.get(name) != found.get(name):
            state = "is missing" if name not in found else (
                "was not written by the trial" if name not in recorded else "changed"
            )
            raise UserError(
                f"{folder / name}: {state} since trial {trial.number} finished (its sha256 is "
                "recorded in the store); the trial's files are not loaded. Restore the file or "
                "remove the trial's folder to refit from scratch"
            )
    return folder


def _opening_record(
    prep: Prepared, top: FrozenTrial, best: FrozenTrial, config: dict[str, Any], rule: str
) -> dict[str, Any]:
    goals = prep.parts.goals
    record = {
        "trial": best.number,
        "best_trial": top.number,
        "selected_by": rule,
        "params": dict(best.params),
        "config": config,
        "validation_value": best.values[0],
        "validation_spread": spread(fold_scores(best)),
        "metric": prep.parts.primary.name,  # type: ignore[union-attr]
        "direction": prep.parts.direction,
    }
    if len(prep.parts.metrics) > 1:
        record["validation_values"] = named_values(best, goals)
        record["objectives"] = dict(goals.directions)
    return record


def _open_and_score(
    prep: Prepared,
    directory: Path,
    model: Any,
    best: FrozenTrial,
    record: dict[str, Any],
    fit_seconds: float,
) -> dict[str, Any]:
    from objectives import accept_array_rows, classification_report, regression_report

    split, metric = prep.split, prep.parts.primary
    if split is None or metric is None:
        raise UserError("final: this study has no data, so it has no test set to evaluate on")
    model = accept_array_rows(prep.parts.objective, model, split.dev)  # scored as it is saved
    X_test, y_test = split.test._open(directory / FINAL_JSON, record)
    classes = list(split.dev.classes)
    test_value = metric.score(model, X_test, y_test, classes=classes)
    if len(prep.parts.metrics) > 1:
        record["test_values"] = _test_values(prep, model, X_test, y_test, classes, fit_seconds)
    gap = None
    if not prep.parts.goals.multi:
        gap = _gap(prep, metric, best, model, X_test, y_test, classes, test_value)
    per_class = None
    if metric.task == "classification":
        from sklearn.metrics import classification_report as per_class_report

        report = classification_report(model, X_test, y_test, classes=classes)
        per_class = per_class_report(
            y_test, model.predict(X_test), labels=classes, output_dict=True, zero_division=0
        )
    else:
        report = regression_report(model, X_test, y_test)
    saved = prep.parts.objective.save_model(model, directory / MODEL_DIR)
    saved.append(_input_example(split.dev.X, directory / MODEL_DIR))
    record.update(
        {
            "status": "evaluated",
            "test_value": test_value,
            "test_metrics": report,
            "classification_report": per_class,
            "generalization_gap": gap,
            "test_fingerprint": split.test.fingerprint.to_dict(),
            "test_rows": len(split.test),
            "model_files": [str(p.relative_to(directory)) for p in saved],
            "fit_seconds": round(fit_seconds, 3),
            "evaluated_at": now(),
        }
    )
    opened_at = read_record(directory / FINAL_JSON).get("opened_at")
    write_json(directory / FINAL_JSON, {"opened_at": opened_at, **record})
    return record


def _input_example(X: Any, folder: Path) -> Path:
    """Keep a few raw development rows beside the model: the MLflow model's input example
    and signature (never test rows)."""
    path = folder / INPUT_EXAMPLE
    X.head(5).to_json(path, orient="split", index=False, date_format="iso", double_precision=15)
    return path


def _test_values(
    prep: Prepared, model: Any, X: Any, y: Any, classes: list[Any], fit_seconds: float
) -> dict[str, float]:
    """Every metric and measure of the study on the test rows (the fit's own time for
    ``fit_seconds``)."""
    found = {}
    metric: Any
    for metric in prep.parts.metrics:
        if getattr(metric, "task", None):
            found[metric.name] = float(metric.score(model, X, y, classes=classes))
        else:
            found[metric.name] = float(metric.value(model, X, fit_seconds))
    return found


def _gap(
    prep: Prepared,
    metric: Metric,
    trial: FrozenTrial,
    model: Any,
    X_test: Any,
    y_test: Any,
    classes: list[Any],
    test_value: float,
) -> dict[str, Any]:
    """Validation-vs-test gap of the evaluated trial, with its expected noise."""
    import numpy as np

    predicted, labels = metric.predictions(model, X_test, classes)
    test_se = test_standard_error(metric, np.asarray(y_test), predicted, labels or [], prep.seed)
    return generalization_gap(
        direction=prep.parts.direction,
        validation_value=float(trial.value),  # type: ignore[arg-type]
        fold_scores=fold_scores(trial),
        test_value=test_value,
        test_se=test_se,
    )
