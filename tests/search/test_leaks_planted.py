"""The leaks researchers miss most, planted: undeclared groups and near-duplicates are named,
a lagged or merely strong feature is not called the target, and clean data raise nothing."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from search import Data
from search.core._data import load_and_split
from search.core._sealed import Sealed
from search.integrity._leaks import check_leaks
from tests.conftest import run_cli

NEW_CHECKS = {"near_duplicates", "undeclared_groups", "target_leak"}


def findings(frame: pd.DataFrame, task: str = "classification", **data_args) -> dict[str, str]:
    spec = Data(frame, **data_args)
    split = load_and_split(spec, task=task, seed=0, base_dir=None)
    time = spec.time if isinstance(spec.time, str) else None
    found = check_leaks(split.dev, split.test, groups=spec.groups, time=time, seed=0)
    return {f.kind: f.message for f in found}


def patients(n: int = 100, rows: int = 10, jitter: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """Ten rows a patient, a fingerprint pair of features, the label the patient's."""
    rng = np.random.default_rng(seed)
    patient = np.repeat(np.arange(n), rows)
    fingerprint = rng.normal(size=(n, 2))[patient] + rng.normal(0, jitter, (n * rows, 2))
    noise = rng.normal(size=(n * rows, 3))
    return pd.DataFrame({
        "patient": patient + 1000, "fp1": fingerprint[:, 0], "fp2": fingerprint[:, 1],
        "n1": noise[:, 0], "n2": noise[:, 1], "n3": noise[:, 2],
        "y": rng.integers(0, 2, n)[patient],
    })


def augmented(n: int = 300, copies: int = 4, jitter: float = 0.01, seed: int = 0) -> pd.DataFrame:
    """Every row copied four times with 1 % jitter; labels random per original row."""
    rng = np.random.default_rng(seed)
    X = np.repeat(rng.normal(size=(n, 5)), copies, axis=0)
    X += rng.normal(0, jitter, X.shape)
    frame = pd.DataFrame(X).add_prefix("x")
    frame["y"] = np.repeat(rng.integers(0, 2, n), copies)
    return frame


def test_an_undeclared_patient_id_is_named_with_its_evidence_and_the_fix():
    found = findings(patients(), target="y")
    message = found["undeclared_groups"]
    assert message.startswith("column 'patient' looks like an undeclared entity id: 100 ids")
    assert "accuracy 1.00 from the id's other rows" in message
    assert "rows of one id are alike in 'fp1', 'fp2'" in message
    assert 'Data(..., groups="patient")' in message
    declared = findings(patients(), target="y", groups="patient")
    assert "undeclared_groups" not in declared


def test_fingerprint_features_without_an_id_column_are_named():
    frame = patients(jitter=0.01).drop(columns="patient")
    message = findings(frame, target="y")["undeclared_groups"]
    assert "'fp1' and 'fp2' repeat per entity like a fingerprint" in message
    assert 'groups="patient"' in message


def test_a_per_row_label_on_repeated_values_is_not_a_group():
    frame = patients()
    frame["y"] = np.random.default_rng(1).integers(0, 2, len(frame))  # the label is the row's
    assert "undeclared_groups" not in findings(frame, target="y")


def test_jittered_copies_across_the_split_are_named_with_how_close():
    message = findings(augmented(), target="y")["near_duplicates"]
    assert "of 180 test rows have a development row far closer than rows usually are" in message
    assert "nearest at a median 0.0" in message and "expected by chance" in message
    assert "near_duplicates" not in findings(augmented(copies=1), target="y")


def test_the_near_duplicate_check_does_not_open_the_test(monkeypatch, tmp_path):
    def refuse(*_):
        raise AssertionError("a leak check opened the sealed test part")

    spec = Data(augmented(), target="y")
    split = load_and_split(spec, task="classification", seed=0, base_dir=None)
    with monkeypatch.context() as patch:
        patch.setattr(Sealed, "_open", refuse)
        found = check_leaks(split.dev, split.test, groups=None, time=None, seed=0)
    assert [f.kind for f in found] == ["near_duplicates"]
    with pytest.raises(TypeError, match="only through the framework's Sketch"):
        split.test.neighbour_distances(object())  # type: ignore[arg-type]
    ledger = tmp_path / "final.json"  # the first and only opening is still the final one
    X, _ = split.test._open(ledger, {"trial": 0})
    assert len(X) == 180 and json.loads(ledger.read_text())["status"] == "opened"


def test_a_derived_target_column_is_named_and_a_merely_strong_one_is_not():
    rng = np.random.default_rng(0)
    x = rng.normal(size=1000)
    frame = pd.DataFrame({"x": x + rng.normal(0, 0.05, 1000), "y": x})  # R² about 0.997
    assert "target_leak" not in findings(frame, task="regression", target="y")
    frame["y_log"] = np.log1p(np.exp(frame["y"]))  # a monotone function of the target
    found = findings(frame, task="regression", target="y")
    assert "column 'y_log' alone predicts the target" in found["target_leak"]
    assert "the target is a function of it" in found["target_leak"]


def test_a_lagged_target_on_time_ordered_data_is_legitimate():
    rng = np.random.default_rng(0)
    walk = np.cumsum(rng.normal(size=20_000))
    frame = pd.DataFrame({"x1": np.r_[0.0, walk[:-1]], "x2": rng.normal(size=20_000), "y": walk})
    assert "target_leak" not in findings(frame, task="regression", target="y", time=True)
    frame["y_scaled"] = frame["y"] * 2.0 + 1.0  # the same row's target: a leak
    found = findings(frame, task="regression", target="y", time=True)
    assert "column 'y_scaled' alone predicts the target" in found["target_leak"]
    assert "'x1'" not in found["target_leak"]


@pytest.mark.parametrize("name", ["breast_cancer", "wine", "digits", "iris", "diabetes"])
def test_bundled_datasets_raise_no_new_warning(name):
    from sklearn import datasets

    frame = getattr(datasets, f"load_{name}")(as_frame=True).frame
    task = "regression" if name == "diabetes" else "classification"
    assert not NEW_CHECKS & set(findings(frame, task=task, target="target"))


def test_generated_clean_datasets_raise_no_warning():
    from sklearn.datasets import make_classification, make_regression

    X, y = make_classification(2000, 20, n_informative=8, random_state=0)
    assert findings(pd.DataFrame(X).add_prefix("f").assign(y=y), target="y") == {}
    X, y = make_regression(2000, 20, n_informative=8, noise=5.0, random_state=0)
    frame = pd.DataFrame(X).add_prefix("f").assign(y=y)
    assert findings(frame, task="regression", target="y") == {}


STUDY = """
import numpy as np, pandas as pd
from sklearn.linear_model import LogisticRegression
from objectives import SklearnObjective
from search import Data, Study
from spaces import Float, Space

rng = np.random.default_rng(0)
X = np.repeat(rng.normal(size=(300, 5)), 4, axis=0)
X += rng.normal(0, 0.01, X.shape)
frame = pd.DataFrame(X).add_prefix("x").assign(y=np.repeat(rng.integers(0, 2, 300), 4))
study = Study(name="copies", data=Data(frame, target="y"), space=Space({"C": Float(0.1, 10)}),
              objective=SklearnObjective(LogisticRegression()), metric="accuracy", seed=0)
"""


def test_near_duplicates_warn_through_the_cli_and_stop_a_strict_run(write_study, tmp_path):
    path = write_study(STUDY)
    strict = run_cli(path, "--results", tmp_path / "strict", "--strict", "--no-tracking",
                     "--trials", "2", cwd=tmp_path)
    assert strict.returncode == 2
    assert re.match(r"error: leak check \(strict\): \d+ of 180 test rows have a development "
                    "row far closer than rows usually are", strict.stderr)
    assert len(strict.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "strict").exists()  # nothing written
    warned = run_cli(path, "--results", tmp_path / "out", "--no-final", "--no-tracking",
                     "--trials", "2", cwd=tmp_path)
    assert warned.returncode == 0, warned.stderr
    assert re.search(r"warning: leak check: \d+ of 180 test rows have a development row",
                     warned.stderr)
    folder = tmp_path / "out" / "copies"
    record = json.loads((folder / "study.json").read_text())
    assert [f["kind"] for f in record["leak_checks"]] == ["near_duplicates"]
    assert not (folder / "final.json").exists()  # the test set was not opened
