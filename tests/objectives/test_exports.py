"""Exported final models are self-contained: each loads in a fresh interpreter with its own
framework only (never ``search``, ``objectives`` or ``spaces``) and gives what
``objectives.load_model`` gives: ``preprocess.joblib`` with joblib and scikit-learn,
``model.pt2`` with torch, ``model.keras`` with Keras, ``model.tflite`` with TensorFlow Lite."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from objectives import DevData, KerasObjective, SklearnObjective, TorchObjective, load_model

SMALL = {"layers": 1, "width": 8, "lr": 0.02, "batch_size": 32}

#: what every script starts with: the raw rows, and a network's preprocessing from joblib
PREAMBLE = """
import os
import sys
import joblib
import numpy as np
import pandas as pd

folder = sys.argv[1]
rows = pd.read_json(sys.argv[2], orient="split", dtype=False)
if os.path.exists(f"{folder}/preprocess.joblib"):  # a network's folder
    features = joblib.load(f"{folder}/preprocess.joblib").transform(rows)
"""

#: what every script ends with: nothing of ours was imported; the outputs for the test
EPILOGUE = """
ours = sorted({"search", "objectives", "spaces"} & set(sys.modules))
assert not ours, ours
np.save(sys.argv[3], np.asarray(out))
"""


def fresh(script: str, folder: Path, rows: pd.DataFrame, tmp: Path) -> np.ndarray:
    """Run ``script`` in an isolated interpreter (``-I``: no PYTHONPATH, no current folder)."""
    rows_path, out_path = tmp / f"rows_{folder.name}.json", tmp / f"out_{folder.name}.npy"
    rows.to_json(rows_path, orient="split", index=False, double_precision=15)
    code = PREAMBLE + textwrap.dedent(script) + EPILOGUE
    done = subprocess.run([sys.executable, "-I", "-c", code, str(folder), str(rows_path),
                           str(out_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return np.load(out_path)


def mixed_rows(n: int = 240) -> tuple[pd.DataFrame, np.ndarray]:
    """Numbers, a text category with missing values, three classes."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n),
                      "colour": rng.choice(["red", "green", None], size=n)})
    y = np.where(X["a"] > 0.5, "high", np.where(X["colour"] == "red", "red", "low"))
    return X, y


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A torch classifier and a scikit-learn pipeline on mixed rows; a Keras regressor."""
    root = tmp_path_factory.mktemp("exports")
    X, y = mixed_rows()
    classes = ("high", "low", "red")
    mixed = DevData(X, y, "classification", classes=classes)
    torch_objective = TorchObjective(epochs=2, threads=1)
    torch_objective.save_model(torch_objective.fit_final(dict(SMALL), mixed, 0), root / "torch")
    from sklearn.linear_model import LogisticRegression

    sk = SklearnObjective(LogisticRegression(max_iter=300))
    sk.save_model(sk.fit_final({}, mixed, 0), root / "sklearn")
    out: dict[str, Any] = {"root": root, "mixed": X}
    if _has("tensorflow"):
        from sklearn.datasets import load_diabetes

        Xd, yd = load_diabetes(return_X_y=True, as_frame=True)
        keras_objective = KerasObjective(epochs=2, threads=1)
        model = keras_objective.fit_final(dict(SMALL), DevData(Xd, yd.to_numpy(), "regression"), 0)
        keras_objective.save_model(model, root / "keras")
        out["diabetes"] = Xd.iloc[:30]
    return out


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def test_preprocess_joblib_is_a_public_scikit_learn_transformer(folders):
    import joblib

    prep = joblib.load(folders["root"] / "torch" / "preprocess.joblib")
    parts = [prep, *prep.get_params(deep=True).values()]
    modules = {type(p).__module__.split(".")[0] for p in parts if hasattr(p, "fit")}
    assert modules == {"sklearn"}
    assert all(not type(p).__name__.startswith("_") for p in parts if hasattr(p, "fit"))
    X = folders["mixed"]
    features = fresh("out = features", folders["root"] / "torch", X, folders["root"])
    assert features.dtype == np.float32 and features.shape[0] == len(X)
    loaded = load_model(folders["root"] / "torch")
    # JSON keeps 15 digits of the raw rows: float32 features agree to their own precision
    np.testing.assert_allclose(features, loaded.preprocessor_.features(X), rtol=1e-6)


def test_model_pt2_gives_class_probabilities_with_torch_alone(folders):
    X = folders["mixed"]
    script = """
    import torch
    program = torch.export.load(f"{folder}/model.pt2").module()
    with torch.no_grad():
        out = program(torch.from_numpy(features)).numpy()
    """
    probabilities = fresh(script, folders["root"] / "torch", X, folders["root"])
    expected = load_model(folders["root"] / "torch").predict_proba(X)
    np.testing.assert_allclose(probabilities, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)


def test_model_joblib_of_a_pipeline_loads_with_scikit_learn_alone(folders):
    X = folders["mixed"]
    script = "out = joblib.load(f'{folder}/model.joblib').predict_proba(rows)"
    probabilities = fresh(script, folders["root"] / "sklearn", X, folders["root"])
    np.testing.assert_allclose(probabilities,
                               load_model(folders["root"] / "sklearn").predict_proba(X))


@pytest.mark.slow
def test_model_keras_and_tflite_give_values_in_the_target_s_units(folders):
    if "diabetes" not in folders:
        pytest.skip("needs tensorflow")
    X = folders["diabetes"]
    expected = load_model(folders["root"] / "keras").predict(X)
    assert expected.std() > 1.0  # the target's units (diabetes: about 25 to 346), not z-scores
    script = """
    import keras
    out = keras.models.load_model(f"{folder}/model.keras").predict(features, verbose=0)
    """
    values = fresh(script, folders["root"] / "keras", X, folders["root"])
    np.testing.assert_allclose(values.reshape(-1), expected, rtol=1e-5)
    script = """
    import tensorflow as tf
    interpreter = tf.lite.Interpreter(model_path=f"{folder}/model.tflite")
    runner = interpreter.get_signature_runner()
    (name,) = runner.get_input_details()
    out = np.concatenate([next(iter(runner(**{name: features[i:i + 1]}).values()))
                          for i in range(len(features))])
    """
    values = fresh(script, folders["root"] / "keras", X, folders["root"])
    np.testing.assert_allclose(values.reshape(-1), expected, rtol=1e-4, atol=1e-3)
