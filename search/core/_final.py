"""The final evaluation: refit the best config on all development data, open the test once.

The framework, not the objective, scores the final model on the sealed test part. The
opening is recorded in ``final.json`` before the test rows are handed out (see
:meth:`Sealed._open`), so a crash between opening and scoring still counts as an opening.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.core._errors import TestSetAlreadyOpened, UserError
from search.core._folder import FINAL_JSON, MODEL_DIR, now, read_json, trial_dir, write_json
from search.core._trials import best_trial, spread
from search.integrity._gap import generalization_gap, test_standard_error
from search.integrity._ties import fold_scores, selected_trial

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

    from objectives import Metric
    from search.core._prepare import Prepared


def final_evaluation(prep: Prepared, trials: list[FrozenTrial], directory: Path) -> dict[str, Any]:
    """Refit, open the sealed test, score, save the model; return what ``final.json`` holds."""
    from objectives import classification_report, regression_report

    parts = prep.parts
    metric = parts.metric
    if prep.split is None or metric is None:
        raise UserError("final: this study has no data, so it has no test set to evaluate on")
    if not parts.objective.can_fit_final:
        raise UserError(
            "final: the objective cannot fit a final model; give FunctionObjective(fit=...) "
            "or run with --no-final"
        )
    if (directory / FINAL_JSON).exists():
        raise TestSetAlreadyOpened.at(directory / FINAL_JSON)
    top = best_trial(trials, parts.direction)
    if top is None:
        raise UserError(f"{directory}: no trial completed, so there is no best config to evaluate")
    best = selected_trial(top, trials, parts.space, prep.prefer)
    config = parts.space.config_from_params(best.params)
    started = time.perf_counter()
    kept = trial_dir(directory, best.number)
    model = parts.objective.fit_final(
        config, prep.split.dev, prep.seed, trial_dir=kept if kept.is_dir() else None
    )
    fit_seconds = time.perf_counter() - started
    record: dict[str, Any] = {
        "trial": best.number,
        "best_trial": top.number,
        "selected_by": (
            "best validation value"
            if prep.prefer is None
            else f"prefer {prep.prefer} among the configs tied with the best"
        ),
        "params": dict(best.params),
        "config": config,
        "validation_value": best.value,
        "validation_spread": spread(fold_scores(best)),
        "metric": metric.name,
        "direction": parts.direction,
    }
    X_test, y_test = prep.split.test._open(directory / FINAL_JSON, record)
    classes = list(prep.split.dev.classes)
    test_value = metric.score(model, X_test, y_test, classes=classes)
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
    saved = parts.objective.save_model(model, directory / MODEL_DIR)
    record.update(
        {
            "status": "evaluated",
            "test_value": test_value,
            "test_metrics": report,
            "classification_report": per_class,
            "generalization_gap": gap,
            "test_fingerprint": prep.split.test.fingerprint.to_dict(),
            "test_rows": len(prep.split.test),
            "model_files": [str(p.relative_to(directory)) for p in saved],
            "fit_seconds": round(fit_seconds, 3),
            "evaluated_at": now(),
        }
    )
    opened_at = read_json(directory / FINAL_JSON).get("opened_at")
    write_json(directory / FINAL_JSON, {"opened_at": opened_at, **record})
    return record


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
