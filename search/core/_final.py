"""The final evaluation: refit the selected config on all development data, open the test once.

The model is fitted in a trial worker, like every trial, and saved whole (``model/``) by a
worker on the driver's machine, so the objective's code never runs next to the sealed test part
before the opening; only then is the test opened: ``final.json`` records the opening and the
saved model's keyed digests (see :meth:`Sealed._open`) before the test rows are handed out and
the model is loaded in the driver to score them, and it is rewritten whole with the scores. So
the test is never used up without a result: a model that cannot be saved keeps the test sealed,
and an evaluation killed after the opening is completed by a later ``final``, which scores the
model saved before the opening once its digests verify. A trial's saved files (a checkpoint to
reuse) are handed to the fit only when each still has the keyed digest the driver recorded.
"""

from __future__ import annotations

import pickle
import shutil
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.core._channel import Fit, Fitted, Save
from search.core._errors import CannotWrite, RunError, TestSetAlreadyOpened, UserError
from search.core._faults import fault_point
from search.core._final_model import (
    install_model,
    load_saved_model,
    model_folder,
    verify_model_digests,
)
from search.core._folder import FINAL_JSON, MODEL_DIR, now, read_record, trial_dir, write_json
from search.core._logging import native_output_logged
from search.core._pareto import chosen, named_values
from search.core._pbt import schedule_of
from search.core._trials import FILES, best_trial, own, spread, trial_config
from search.core._worker import file_digests
from search.integrity._gap import generalization_gap, test_standard_error
from search.integrity._ties import fold_scores, selected_trial

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

    from objectives import Metric
    from search.core._pool import WorkerPool
    from search.core._prepare import Prepared


#: a worker pool on the driver's machine, opened for the model's save and closed after it
Saver = Callable[[], "AbstractContextManager[WorkerPool]"]


class FinalFitError(RunError):
    """The final model could not be fitted; the test set stays sealed."""


#: what ``final.json`` says a PBT study's final model is
PBT_REFIT = ("the winning member's last hyperparameters, refitted from scratch; the schedule "
             "it trained with is recorded, not replayed")
#: what ``final.json`` says of a result written by a later ``final`` after a killed evaluation
COMPLETED = "by a later final, scoring the model saved before the opening"


def final_evaluation(
    prep: Prepared, trials: list[FrozenTrial], directory: Path, pool: WorkerPool, retries: int,
    *, saver: Saver | None = None,
) -> dict[str, Any]:
    """Refit and save the model in workers, open the sealed test, score; return what
    ``final.json`` holds. ``saver``: a worker on this machine to save the model, when ``pool``'s
    workers run elsewhere (``None``: they run here and save it as they fit it)."""
    _check_can_evaluate(prep, directory)
    top, best, rule = _selected(prep, trials, directory)
    config = trial_config(prep.parts.space, best.params)
    kept = verified_trial_dir(best, directory)
    fitted, digests = _fit_and_save(best.number, config, kept, directory, pool, retries, saver)
    fault_point("final:after-save")
    record = _opening_record(prep, top, best, config, rule)
    schedule = schedule_of(best, trials)
    if schedule:  # Population Based Training: say what the refit is, and what it is not
        record["pbt"] = {"schedule": schedule, "evaluated": PBT_REFIT}
    record.update(model_files=[f"{MODEL_DIR}/{name}" for name in fitted.files],
                  model_digests=digests, fit_seconds=round(fitted.seconds, 3))
    split = prep.split
    if split is None or fitted.model is None:
        raise UserError("final: this study has no data, so it has no test set to evaluate on")
    X_test, y_test = split.test._open(directory / FINAL_JSON, record)
    fault_point("final:after-open")
    with native_output_logged():  # loading, scoring and exporting a network (TensorFlow's C++)
        # the user's model meets the test rows here, once, after the opening was recorded
        model = pickle.loads(fitted.model)  # noqa: S301 - pickled by our own worker
        return _score_and_record(prep, directory, model, best, X_test, y_test)


def _fit_and_save(
    number: int, config: dict[str, Any], kept: Path | None, directory: Path, pool: WorkerPool,
    retries: int, saver: Saver | None,
) -> tuple[Fitted, dict[str, str]]:
    """Fit in a worker and save the model whole into ``model/`` from a worker on this machine,
    before the test is opened; the fitted model and its files' keyed digests."""
    folder = model_folder(directory)
    try:
        fitted = pool.call(Fit(config, kept, save_to=folder if saver is None else None), retries)
        _check_fitted(fitted, f"fitting trial {number}'s config failed")
        fault_point("final:after-fit")
        if saver is not None:
            with saver() as local:
                saved = local.call(Save(fitted.model, folder), retries)  # type: ignore[arg-type]
            _check_fitted(saved, "saving the final model failed")
            fitted = Fitted(saved.model, None, None, None, fitted.seconds, saved.files)
        fault_point("final:in-save")
        return fitted, install_model(folder, directory)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _check_fitted(fitted: Fitted, what: str) -> None:
    if fitted.cannot_write:
        raise CannotWrite(f"{fitted.error}; the test set stays sealed")
    if fitted.error is not None or fitted.model is None:
        error = fitted.error or "no model came back"
        shown = error if error.startswith("saving") else f"{what}: {error}"
        raise FinalFitError(f"final: {shown}; the test set stays sealed (see search.log)")


def pending_opening(directory: Path) -> dict[str, Any] | None:
    """``final.json`` when it records an opening that was never scored (the evaluation was
    killed, or the disk filled, after the opening): the model saved before it can still be
    scored. ``None`` while the test set is sealed; an evaluated ``final.json``, or one that
    records no saved model, is :class:`TestSetAlreadyOpened`."""
    ledger = directory / FINAL_JSON
    if not ledger.exists():
        return None
    record = read_record(ledger)
    if record.get("status") == "opened" and record.get("model_digests"):
        return record
    raise TestSetAlreadyOpened.at(ledger)


def complete_final(
    prep: Prepared, trials: list[FrozenTrial], directory: Path, opened: dict[str, Any]
) -> dict[str, Any]:
    """Score the model an opening recorded but never scored, once its files verify against the
    keyed digests recorded at the opening; the test rows are handed out for that model only."""
    split = prep.split
    if split is None:
        raise UserError("final: this study has no data, so it has no test set to evaluate on")
    verify_model_digests(directory, opened.get("model_digests"))
    best = next((t for t in trials if t.number == opened.get("trial")), None)
    if best is None:
        raise UserError(
            f"{directory / FINAL_JSON}: records trial {opened.get('trial')}, which the store "
            "does not hold; the saved model is not scored"
        )
    with native_output_logged():
        model = load_saved_model(directory)
        X_test, y_test = split.test._reopen(directory / FINAL_JSON, opened)
        return _score_and_record(prep, directory, model, best, X_test, y_test, COMPLETED)


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
    """The trial's folder, if every file in it is the one the trial wrote (its digest under this
    user's key, recorded by the driver, verifies); else ``None`` (no folder) or an error naming
    the first file that does not. A digest the folder alone could forge is never trusted."""
    from search.core._keyed import matches, trial_file_context

    folder = trial_dir(directory, trial.number)
    if not folder.is_dir():
        return None
    recorded = trial.system_attrs.get(FILES)
    found = file_digests(folder)
    if not isinstance(recorded, dict):
        if not found:
            return None  # the trial kept no files: the model is refitted
        recorded = {}
    for name in sorted(set(recorded) | set(found)):
        if name in found and matches(trial_file_context(trial.number, name), found[name],
                                     recorded.get(name)):
            continue
        state = "is missing" if name not in found else (
            "was not written by the trial" if name not in recorded else
            "changed since trial {n} finished, or its digest in the store was written by "
            "another user or key, or edited")
        raise UserError(
            f"{folder / name}: {state.format(n=trial.number)}; the trial's files are not "
            "loaded. Restore the file or remove the trial's folder to refit from scratch"
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


def _score_and_record(
    prep: Prepared,
    directory: Path,
    model: Any,
    best: FrozenTrial,
    X_test: Any,
    y_test: Any,
    completed: str | None = None,
) -> dict[str, Any]:
    """Score ``model`` on the opened test rows and rewrite ``final.json`` whole with it."""
    ledger = directory / FINAL_JSON
    opened = read_record(ledger)
    scores = _scores(prep, model, best, X_test, y_test, float(opened.get("fit_seconds") or 0))
    record = {**opened, **scores, "status": "evaluated", "evaluated_at": now()}
    if completed:
        record["completed"] = completed
    fault_point("final:after-score")
    try:
        write_json(ledger, record)
    except CannotWrite as exc:
        raise CannotWrite(
            f"{exc}; the test set was opened and the model saved before it: once the folder "
            f"takes writes, `python -m search final {directory}` scores that model"
        ) from None
    return record


def _scores(
    prep: Prepared, model: Any, best: FrozenTrial, X_test: Any, y_test: Any, fit_seconds: float
) -> dict[str, Any]:
    """The test metrics of ``model``: what ``final.json`` adds to the opening."""
    from objectives import classification_report, regression_report

    split, metric = prep.split, prep.parts.primary
    if split is None or metric is None:
        raise UserError("final: this study has no data, so it has no test set to evaluate on")
    classes = list(split.dev.classes)
    test_value = metric.score(model, X_test, y_test, classes=classes)
    found: dict[str, Any] = {"test_value": test_value}
    if len(prep.parts.metrics) > 1:
        found["test_values"] = _test_values(prep, model, X_test, y_test, classes, fit_seconds)
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
    found.update(test_metrics=report, classification_report=per_class, generalization_gap=gap)
    return found


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
