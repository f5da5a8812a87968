"""The final model as a real MLflow model on the final run, and its registration.

A scikit-learn model (``model.joblib``) is logged in MLflow's ``sklearn`` flavor, serialized
with cloudpickle, as ``model.joblib`` is pickled (skops, MLflow's default, cannot store the
pandas methods the categorical preprocessing calls); a network
(``model.json``: torch or Keras) in the ``python_function`` flavor, a :class:`FolderModel` over
the whole model folder (the exported network with its head, ``preprocess.joblib``), tagged
with its framework. Either way ``mlflow.pyfunc.load_model("runs:/<final run>/model")`` takes
raw feature rows and predicts what ``objectives.load_model(RESULTS/NAME/model)`` predicts (the
network's pyfunc *is* that loader), with a signature and an input example: the raw rows the
final evaluation kept in ``model/input_example.json``.

Why here and not in ``objectives``: MLflow belongs to ``search`` (objectives never import it),
and what is logged is the saved folder, which any objective writes; the flavor follows from
the folder's files, not from the objective's class.

Requirements are given, not inferred: MLflow's inference loads the model in a new process,
seconds per run. A network's pyfunc needs this project's packages where it is served
(``mlflow models serve --env-manager local`` from the project's environment).
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
from pathlib import Path
from typing import Any

from search.core._final_model import verify_model_digests
from search.core._folder import FINAL_JSON, INPUT_EXAMPLE, MODEL_DIR, read_record

log = logging.getLogger(__name__)

#: the MLflow model's name on the final run (``runs:/<final run>/model``)
NAME = "model"
#: distributions a model needs, by the framework ``model.json`` names
_NEEDS = {"torch": ("torch",), "keras": ("keras", "tensorflow")}


def log_final_model(uri: str, experiment_id: str, run_id: str, directory: Path) -> str | None:
    """Log ``directory/model`` as the MLflow model ``model`` of ``run_id``; its model URI
    (``models:/<id>``), or ``None`` when the folder is neither a network nor ``model.joblib``.

    MLflow puts a logged model in the active experiment, not its run's: the experiment is set
    first (this process logs to this study only), else it lands in ``./mlruns/0``."""
    import mlflow
    from mlflow.models import Model, infer_signature

    from objectives import load_model

    folder = directory / MODEL_DIR
    info = _read_info(folder)
    if info is None and not (folder / "model.joblib").is_file():
        return None
    final = read_record(directory / FINAL_JSON)
    verify_model_digests(directory, final.get("model_digests"))  # before unpickling
    example = read_input_example(folder)
    loaded = load_model(folder)
    signature = None if example is None else infer_signature(example, loaded.predict(example))
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment(experiment_id=experiment_id)
    common: dict[str, Any] = {"artifact_path": None, "name": NAME, "run_id": run_id,
                              "signature": signature, "input_example": example}
    if info is None:
        import mlflow.sklearn

        logged = Model.log(flavor=mlflow.sklearn, sk_model=loaded,
                           serialization_format="cloudpickle",
                           pip_requirements=_requirements(("cloudpickle",)), **common)
    else:
        import mlflow.pyfunc

        framework = str(info.get("framework"))
        logged = Model.log(flavor=mlflow.pyfunc, python_model=folder_model(),
                           artifacts={"folder": str(folder)},
                           pip_requirements=_requirements(_NEEDS.get(framework, ())),
                           metadata={"framework": framework, "outputs": info.get("outputs")},
                           **common)
    return str(logged.model_uri)


def folder_model() -> Any:
    """A ``PythonModel``: raw feature rows in, ``objectives.load_model(folder).predict(rows)``
    out. The class is made here, when MLflow is imported, and cloudpickle stores it by value:
    loading it needs MLflow and ``objectives``, not ``search``."""
    from mlflow.pyfunc import PythonModel

    class FolderModel(PythonModel):  # type: ignore[misc]
        def load_context(self, context: Any) -> None:
            from objectives import load_model

            self.model_ = load_model(context.artifacts["folder"])

        def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
            return self.model_.predict(model_input)

    return FolderModel()


def register(client: Any, model_uri: str, name: str, run_id: str) -> str:
    """Register ``model_uri`` (the final run's model) as a new version of ``name`` in the model
    registry, creating ``name`` the first time; the version."""
    from mlflow.exceptions import MlflowException

    try:
        client.create_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    version = client.create_model_version(name, source=model_uri, run_id=run_id,
                                          model_id=model_uri.removeprefix("models:/"))
    return str(version.version)


def read_input_example(folder: Path) -> Any:
    """The raw rows the final evaluation kept, as a DataFrame; ``None`` without them."""
    import pandas as pd

    path = folder / INPUT_EXAMPLE
    if not path.is_file():
        return None
    return pd.read_json(path, orient="split", dtype=False)


def _read_info(folder: Path) -> dict[str, Any] | None:
    path = folder / "model.json"
    if not path.is_file():
        return None
    info = json.loads(path.read_text(encoding="utf-8"))
    return info if isinstance(info, dict) else None


def _requirements(frameworks: tuple[str, ...]) -> list[str]:
    """Pinned requirements: what every saved model needs, and its framework's."""
    pinned = []
    for name in ("mlflow", "scikit-learn", "pandas", "numpy", "joblib", *frameworks):
        try:
            pinned.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            log.warning("tracking: %s is not installed; the MLflow model does not pin it", name)
    return pinned
