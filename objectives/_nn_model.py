"""The fitted network behind its preprocessing: what the engine scores, and how it is saved.

:class:`NetworkModel` (a regressor) and :class:`NetworkClassifier` give a trained network
scikit-learn's ``predict`` (and ``predict_proba``, ``classes_``); the framework says how to run
the network (``forward``) and how to make it loadable anywhere (``portable``), so a model fitted
in a worker on a GPU pickles to a driver without one. Nothing here imports torch or tensorflow.

A trial's networks give raw outputs (logits, or the standardized target), which the model turns
into probabilities and values. The final model's network carries its output head (``head=True``:
softmax or sigmoid, or the target's de-standardization, inside the network), so that the files it
is exported to (``model.pt2``, ``model.keras``, ``model.tflite``) give what ``predict_proba`` and
``predict`` give, with no code of ours; ``preprocess.joblib`` holds the feature preprocessing as
a scikit-learn Pipeline of public classes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from objectives._nn_data import Preprocessor, probabilities, values
from objectives._nn_records import HISTORY_JSON, PREPROCESS_FILE, plot_histories, write_json

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

#: what a network with its head outputs, by kind (``model.json``'s ``outputs``)
OUTPUTS = {"binary": "probabilities", "multiclass": "probabilities", "regression": "values"}


class NetworkModel:
    """A fitted network behind its preprocessing, with scikit-learn's ``predict``.

    ``forward(network, features) -> outputs`` runs the framework's network on float32
    features. ``portable(network)`` is the network as it is pickled (a torch network on the
    CPU); pickling leaves the model itself as it is. ``state(network)`` is its weights and
    state as numpy arrays (what the ``model_bytes`` cost measure weighs). ``head``: the network
    outputs class probabilities, or values in the target's units, itself.
    """

    _estimator_type = "regressor"

    def __init__(self, preprocessor: Preprocessor, network: Any,
                 forward: Callable[[Any, np.ndarray], np.ndarray], *,
                 framework: str, config: Mapping[str, Any], epochs: int,
                 histories: Mapping[str, Any] | None = None,
                 portable: Callable[[Any], Any] | None = None,
                 state: Callable[[Any], Any] | None = None, head: bool = False) -> None:
        self.preprocessor_ = preprocessor
        self.network_ = network
        self._forward = forward
        self._portable = portable
        self._state = state
        self.framework = framework
        self.config_ = dict(config)
        self.epochs_ = epochs
        self.histories_ = dict(histories or {})
        self.head_ = head

    def outputs(self, X: pd.DataFrame) -> np.ndarray:
        """The network's outputs for ``X``: with its head, probabilities or values in the
        target's units; without, logits or the standardized target."""
        return self._forward(self.network_, self.preprocessor_.features(X))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        import numpy as np

        if getattr(self, "head_", False):  # a model pickled before heads has none
            return np.asarray(self.outputs(X), dtype=np.float64).reshape(-1)
        return values(self.outputs(X), self.preprocessor_)

    def network_state(self) -> Any:
        """The network's weights and state as numpy arrays (without a ``state`` function: the
        network as it is pickled)."""
        state = getattr(self, "_state", None)  # a model pickled before there was one
        if state is not None:
            return state(self.network_)
        return self._portable(self.network_) if self._portable is not None else self.network_

    @property
    def n_features_in_(self) -> int:
        return len(self.preprocessor_.columns_.feature_names_in_)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        if self._portable is not None:
            state["network_"] = self._portable(self.network_)
        return state

    def describe(self) -> dict[str, Any]:
        described = {"framework": self.framework, "config": self.config_, "epochs": self.epochs_,
                     **self.preprocessor_.describe()}
        if getattr(self, "head_", False):
            described["outputs"] = OUTPUTS[self.preprocessor_.kind]
        return described


class NetworkClassifier(NetworkModel):
    """A fitted classifier network: ``predict``, ``predict_proba`` and ``classes_``."""

    _estimator_type = "classifier"

    @property
    def classes_(self) -> np.ndarray:
        import numpy as np

        return np.asarray(self.preprocessor_.classes)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        import numpy as np

        if getattr(self, "head_", False):
            return np.asarray(self.outputs(X), dtype=np.float64)
        return probabilities(self.outputs(X), self.preprocessor_.kind)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def wrap(preprocessor: Preprocessor, network: Any, forward: Callable[[Any, np.ndarray], Any],
         **kw: Any) -> NetworkModel:
    cls = NetworkModel if preprocessor.kind == "regression" else NetworkClassifier
    return cls(preprocessor, network, forward, **kw)


def save_common(model: NetworkModel, directory: Path, files: dict[str, str]) -> list[Path]:
    """The preprocessing (a scikit-learn Pipeline, joblib), ``model.json``, the histories as
    JSON and a PNG plot."""
    import joblib

    directory.mkdir(parents=True, exist_ok=True)
    written = [directory / PREPROCESS_FILE]
    joblib.dump(model.preprocessor_.transformer(), written[0])
    # the exported networks carry their head, whatever the model in memory does
    described = {**model.describe(), "outputs": OUTPUTS[model.preprocessor_.kind],
                 "files": files}
    written.append(write_json(directory / "model.json", described))
    if model.histories_:
        written.append(write_json(directory / HISTORY_JSON, model.histories_))
        written.append(plot_histories(model.histories_, directory / "history.png"))
    return written
