"""What tracking logs for the final evaluation: one final run under the study's parent run.

The final run holds the test metrics, the validation value and the generalization gap, the
selected trial's params, ``final.json`` (with the per-class report apart) and the final model as
an MLflow model (``_tracking_model``), registered with ``--register NAME``;
the test value and gap also go on the parent run, and the study's ``report.html`` is attached to
it. Logged by the tracking writer process, or by the driver of ``python -m search final``, which
has none.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

from search.core._folder import BEST_JSON, FINAL_JSON, MODEL_DIR, REPORT_HTML, read_record
from search.watching._tracking_client import log_batch, mlflow_client, now_ms
from search.watching._tracking_model import log_final_model
from search.watching._tracking_model import register as register_model
from search.watching._tracking_records import KIND, MAX_TAG, PARENT, TRIAL, param_values

log = logging.getLogger(__name__)


def log_final(uri: str, parent: dict[str, str], directory: Path, record: dict[str, Any],
              register: str | None = None) -> str | None:
    """One run for the final evaluation: test metrics, classification report, the model as
    an MLflow model, registered as ``register`` when given: then a line for the terminal
    that says what was registered."""
    stored = read_record(directory / FINAL_JSON)  # a corrupt file stops here, before any run
    client = mlflow_client(uri)
    parent_id = parent["parent_run_id"]
    run = client.create_run(
        parent["experiment_id"],
        run_name=f"final (trial {record['trial']})",
        tags={PARENT: parent_id, KIND: "final", TRIAL: str(record["trial"])},
    )
    run_id = run.info.run_id
    metrics = _final_metrics(record)
    params = {**param_values(record.get("params") or {}), "trial": str(record["trial"])}
    log_batch(client, run_id, params=params, metrics=metrics)
    if record.get("classification_report"):
        per_class = stored.get("classification_report")
        client.log_dict(run_id, per_class, "classification_report.json")
    client.log_dict(run_id, stored, FINAL_JSON)
    model_uri = _log_model(client, uri, (parent["experiment_id"], run_id), directory)
    said = None
    if register and model_uri is not None:
        registered = f"{register} version {register_model(client, model_uri, register, run_id)}"
        client.set_tag(run_id, "search.registered_model", registered)
        said = f"registered the final model as {registered}"
    elif register:
        said = f"--register {register}: not registered, the final model is not an MLflow model"
        log.warning("tracking: %s", said)
    client.set_terminated(run_id, status="FINISHED")
    on_parent = [m for m in metrics if m.key in ("test_value", "generalization_gap")]
    log_batch(client, parent_id, metrics=on_parent)
    client.set_terminated(parent_id, status="FINISHED")
    return said


def _log_model(client: Any, uri: str, ids: tuple[str, str], directory: Path) -> str | None:
    """The model folder as the run's MLflow model (its URI); a folder MLflow cannot take as a
    model (the user's own files) is kept as plain artifacts under ``model_files``."""
    model = directory / MODEL_DIR
    if not model.is_dir():
        return None
    try:
        model_uri = log_final_model(uri, *ids, directory)
    except Exception:  # noqa: BLE001 - the files are kept as they are, and the log says why
        log.exception("tracking: the final model could not be logged as an MLflow model")
        model_uri = None
    if model_uri is None:
        client.log_artifacts(ids[1], str(model), "model_files")
    return model_uri


def _final_metrics(record: dict[str, Any]) -> list[Any]:
    """The final run's metrics: ``test_*``, validation and test value, the judged gap."""
    from mlflow.entities import Metric

    now = now_ms()
    metrics = []
    for name, value in (record.get("test_metrics") or {}).items():
        if isinstance(value, (int, float)) and math.isfinite(value):
            metrics.append(Metric(f"test_{name}", float(value), now, 0))
    validation_values = record.get("validation_values") or {}
    for name, value in (record.get("test_values") or {}).items():
        metrics.append(Metric(f"test_{name}", float(value), now, 0))
        if isinstance(validation_values.get(name), (int, float)):
            metrics.append(Metric(f"validation_{name}", float(validation_values[name]), now, 0))
    validation, test = record.get("validation_value"), record.get("test_value")
    if isinstance(validation, (int, float)):
        metrics.append(Metric("validation_value", float(validation), now, 0))
    if isinstance(test, (int, float)):
        metrics.append(Metric("test_value", float(test), now, 0))
    judged = record.get("generalization_gap") or {}
    for key in ("gap", "expected_noise"):
        if isinstance(judged.get(key), (int, float)):
            name = "generalization_gap" if key == "gap" else "gap_expected_noise"
            metrics.append(Metric(name, float(judged[key]), now, 0))
    return metrics


def log_report(uri: str, parent: dict[str, str], directory: Path) -> None:
    """Attach the study's ``report.html`` and ``best.json`` (with several objectives, its
    Pareto front), as the run ends them, to the parent run."""
    client = mlflow_client(uri)
    for name in (REPORT_HTML, BEST_JSON):
        if (directory / name).is_file():
            client.log_artifact(parent["parent_run_id"], str(directory / name))
    best = read_record(directory / BEST_JSON) if (directory / BEST_JSON).is_file() else {}
    if best.get("pareto"):
        numbers = ",".join(str(point["number"]) for point in best["pareto"])
        client.set_tag(parent["parent_run_id"], "search.pareto_trials", numbers[:MAX_TAG])
