"""Fixtures for the objectives tests: a recording trial handle, a stand-in space, real datasets.

The trial handle is a plain fake of :class:`objectives.TrialHandle`: the objectives package
never sees Optuna, so neither do its tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from objectives import DevData


class RecordingTrial:
    """A trial handle that records reports and attributes; prunes after ``prune_after`` reports.

    ``asked`` holds, for each ``should_prune()`` call, how many reports had been made by then.
    """

    def __init__(self, seed: int | None = 0, number: int = 0,
                 prune_after: int | None = None, artifact_dir: Path | None = None) -> None:
        self.number = number
        self.seed = seed
        self.artifact_dir = artifact_dir  # the per-trial folder the engine gives, if any
        self.prune_after = prune_after
        self.reports: list[tuple[int, float]] = []
        self.attrs: dict[str, Any] = {}
        self.asked: list[int] = []

    def report(self, value: float, step: int) -> None:
        self.reports.append((step, value))

    def should_prune(self) -> bool:
        self.asked.append(len(self.reports))
        return self.prune_after is not None and len(self.reports) >= self.prune_after

    def set_attr(self, key: str, value: Any) -> None:
        self.attrs[key] = value


class StandInSpace:
    """What objectives read of a ``spaces.Space``: its YAML-like ``to_dict()``."""

    def __init__(self, tree: dict[str, Any]) -> None:
        self.tree = tree

    def to_dict(self) -> dict[str, Any]:
        return self.tree


class SpyClassifier(ClassifierMixin, BaseEstimator):
    """A logistic regression that logs the arrays it is fitted on and predicts for."""

    log: list[tuple[str, Any, Any]] = []

    def __init__(self, C: float = 1.0, class_weight: Any = None,
                 random_state: int | None = None) -> None:
        self.C = C
        self.class_weight = class_weight
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> SpyClassifier:
        from sklearn.linear_model import LogisticRegression

        SpyClassifier.log.append(("fit", _copy(X), np.asarray(y).copy()))
        self.inner_ = LogisticRegression(C=self.C, class_weight=self.class_weight).fit(X, y)
        self.classes_ = self.inner_.classes_
        return self

    def predict(self, X: Any) -> Any:
        SpyClassifier.log.append(("predict", _copy(X), None))
        return self.inner_.predict(X)


#: the repository root: a fresh interpreter started there imports these packages
ROOT = Path(__file__).resolve().parents[2]

_LOAD_AND_PREDICT = textwrap.dedent("""
    import pickle, sys
    import numpy as np, pandas as pd
    folder = sys.argv[1]
    with open(f"{folder}/model.pkl", "rb") as file:
        model = pickle.load(file)
    X = pd.read_pickle(f"{folder}/X.pkl")
    out = {"predict": model.predict(X)}
    if hasattr(model, "predict_proba"):
        out["predict_proba"] = model.predict_proba(X)
    np.savez(f"{folder}/out.npz", **out)
""")


def predict_elsewhere(model: Any, X: pd.DataFrame, folder: Path) -> dict[str, np.ndarray]:
    """What ``model`` predicts for ``X`` after the trip from a worker to the driver.

    Pickled as the engine's worker sends it (cloudpickle), loaded with plain pickle in a
    fresh interpreter that sees no GPU; ``predict`` and, when the model has it,
    ``predict_proba``.
    """
    import cloudpickle

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.pkl").write_bytes(cloudpickle.dumps(model))
    X.to_pickle(folder / "X.pkl")
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", _LOAD_AND_PREDICT, str(folder)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    with np.load(folder / "out.npz", allow_pickle=True) as out:
        return {key: out[key] for key in out.files}


def _copy(X: Any) -> Any:
    return X.copy() if hasattr(X, "copy") else np.array(X)


@pytest.fixture
def spy() -> type[SpyClassifier]:
    SpyClassifier.log = []
    return SpyClassifier


def _frame(loader: Any) -> tuple[pd.DataFrame, np.ndarray]:
    X, y = loader(return_X_y=True, as_frame=True)
    return X, y.to_numpy()


def classification(X: pd.DataFrame, y: np.ndarray, **kw: Any) -> DevData:
    return DevData(X, y, "classification", classes=tuple(np.unique(y).tolist()), **kw)


@pytest.fixture(scope="session")
def iris() -> DevData:
    from sklearn.datasets import load_iris

    return classification(*_frame(load_iris))


@pytest.fixture(scope="session")
def wine() -> DevData:
    from sklearn.datasets import load_wine

    return classification(*_frame(load_wine))


@pytest.fixture(scope="session")
def cancer() -> DevData:
    from sklearn.datasets import load_breast_cancer

    return classification(*_frame(load_breast_cancer))


@pytest.fixture(scope="session")
def diabetes() -> DevData:
    from sklearn.datasets import load_diabetes

    X, y = _frame(load_diabetes)
    return DevData(X, y, "regression")


@pytest.fixture(scope="session")
def imbalanced() -> DevData:
    """Two classes, 9 to 1, a few informative features."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=300, n_features=6, n_informative=3, n_redundant=1,
                               weights=[0.9, 0.1], class_sep=0.7, random_state=3)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    return classification(frame, y)


@pytest.fixture
def make_trial() -> type[RecordingTrial]:
    """``make_trial(seed=0, prune_after=None)`` -> a fresh :class:`RecordingTrial`."""
    return RecordingTrial


@pytest.fixture
def make_space() -> type[StandInSpace]:
    """``make_space(tree)`` -> an object with ``to_dict()`` like ``spaces.Space``."""
    return StandInSpace


@pytest.fixture
def make_dev() -> Any:
    """``make_dev(X, y, **kw)`` -> classification :class:`DevData` with its classes."""
    return classification


def hparams_sessions(logdir: Path) -> dict[str, dict[str, Any]]:
    """The HParams sessions under ``logdir``, read as TensorBoard reads them (its event
    multiplexer and the hparams plugin's parser): by run, the config, status and scalars."""
    from tensorboard.backend.event_processing.plugin_event_multiplexer import EventMultiplexer
    from tensorboard.plugins.hparams import api_pb2, metadata
    from tensorboard.util import tensor_util

    mux = EventMultiplexer()
    mux.AddRunsFromDirectory(str(logdir))
    mux.Reload()
    sessions: dict[str, dict[str, Any]] = {}
    for run, tags in mux.PluginRunToTagToContent(metadata.PLUGIN_NAME).items():
        if metadata.SESSION_START_INFO_TAG not in tags:
            continue
        start = metadata.parse_session_start_info_plugin_data(
            tags[metadata.SESSION_START_INFO_TAG])
        end = metadata.parse_session_end_info_plugin_data(tags[metadata.SESSION_END_INFO_TAG])
        accumulator = mux.GetAccumulator(run)
        scalars = {tag: float(tensor_util.make_ndarray(accumulator.Tensors(tag)[-1].tensor_proto))
                   for tag in accumulator.Tags()["tensors"]
                   if not tag.startswith("_hparams_")}
        config = {key: getattr(value, value.WhichOneof("kind"))
                  for key, value in start.hparams.items()}
        sessions[run] = {"config": config, "status": api_pb2.Status.Name(end.status),
                         "scalars": scalars, "group": start.group_name}
    return sessions
