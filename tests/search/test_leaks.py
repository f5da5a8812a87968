"""Planted leaks: each is caught by name before the search, or prevented by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from search import Data
from search.core._data import SplitData, fingerprint, load_and_split
from search.core._sealed import Sealed
from search.integrity._leaks import check_leaks
from tests.conftest import run_cli


def leaks_of(split: SplitData, spec: Data):
    time = spec.time if isinstance(spec.time, str) else None
    return check_leaks(split.dev, split.test, groups=spec.groups, time=time, seed=0)


def findings(frame: pd.DataFrame, task: str = "classification", **data_args):
    spec = Data(frame, **data_args)
    split = load_and_split(spec, task=task, seed=0, base_dir=None)
    return {f.kind: f.message for f in leaks_of(split, spec)}


def clean_frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] + rng.normal(0, 1.0, n) > 0).astype(int)
    return pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "d": X[:, 3], "y": y})


def test_clean_data_raise_nothing():
    assert findings(clean_frame(), target="y") == {}


def test_duplicate_rows_across_the_split_are_named():
    frame = clean_frame()
    frame = pd.concat([frame, frame.iloc[:60]], ignore_index=True)  # 60 rows twice
    found = findings(frame, target="y")
    assert "duplicate_rows" in found
    assert "development rows are exact duplicates of test rows" in found["duplicate_rows"]


def test_a_feature_that_is_the_target_is_named():
    frame = clean_frame()
    frame["outcome_code"] = frame["y"] * 10 + 1
    found = findings(frame, target="y")
    assert "column 'outcome_code' alone predicts the target" in found["target_leak"]
    regression = clean_frame()
    regression["y"] = regression["a"] * 3.0
    regression["a_copy"] = regression["a"]
    found = findings(regression, task="regression", target="y")
    assert "'a_copy'" in found["target_leak"] and "rank correlation" in found["target_leak"]


def test_an_identifier_column_is_named():
    frame = clean_frame()
    frame.insert(0, "patient_id", np.arange(len(frame)) * 7 + 1000)
    found = findings(frame, target="y")
    assert "column 'patient_id' is unique on every row" in found["identifier"]


def test_time_order_violated_is_named():
    frame = clean_frame()
    stamps = pd.date_range("2024-01-01", periods=len(frame), freq="D").to_numpy()
    frame["when"] = np.random.default_rng(1).permutation(stamps)
    found = findings(frame, target="y", time=True)
    assert "column 'when' is not in increasing order" in found["time_order"]
    assert "identifier" not in found  # a time axis is unique by nature, not an identifier


def test_groups_shared_across_the_split_are_named():
    frame = clean_frame(100)
    groups = np.repeat(np.arange(20), 5)
    spec = Data(frame.assign(g=groups), target="y", groups="g")
    good = load_and_split(spec, task="classification", seed=0, base_dir=None)
    assert "shared_groups" not in {f.kind for f in leaks_of(good, spec)}
    # a split made elsewhere that put group 3 on both sides
    X = frame.drop(columns="y")
    y = frame["y"].to_numpy()
    dev_rows, test_rows = np.arange(0, 90), np.arange(88, 100)
    bad = SplitData(
        dev=good.dev.__class__(X=X.iloc[dev_rows].reset_index(drop=True), y=y[dev_rows],
                               task="classification", groups=groups[dev_rows], classes=(0, 1)),
        test=Sealed(X.iloc[test_rows], y[test_rows], fingerprint(X.iloc[test_rows], y[test_rows]),
                    groups=groups[test_rows]),
        dev_fingerprint=fingerprint(X.iloc[dev_rows], y[dev_rows]),
    )
    found = {f.kind: f.message for f in leaks_of(bad, spec)}
    assert "groups column 'g': 1 group ids are on both sides" in found["shared_groups"]


STUDY = """
import numpy as np, pandas as pd
from sklearn.linear_model import LogisticRegression
from objectives import SklearnObjective
from search import Data, Study
from spaces import Float, Space

rng = np.random.default_rng(0)
X = rng.normal(size=(200, 3))
y = (X[:, 0] > 0).astype(int)
frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "row_id": np.arange(200), "y": y})
study = Study(name="ids", data=Data(frame, target="y"), space=Space({"C": Float(0.1, 10)}),
              objective=SklearnObjective(LogisticRegression()), metric="accuracy", trials=2,
              seed=0)
"""


def test_leaks_warn_by_default_and_stop_a_strict_run(write_study, tmp_path):
    path = write_study(STUDY)
    strict = run_cli(path, "--results", tmp_path / "strict", "--strict", cwd=tmp_path)
    assert strict.returncode == 2
    assert strict.stderr.startswith("error: leak check (strict): column 'row_id' is unique")
    assert not (tmp_path / "strict").exists()  # nothing written
    warned = run_cli(path, "--results", tmp_path / "out", "--no-final", cwd=tmp_path)
    assert warned.returncode == 0, warned.stderr
    assert "warning: leak check: column 'row_id' is unique on every row" in warned.stderr
    import json

    study = json.loads((tmp_path / "out" / "ids" / "study.json").read_text())
    assert [f["kind"] for f in study["leak_checks"]] == ["identifier"]


@pytest.mark.parametrize("seed", [0])
def test_feature_selection_before_the_split_inflates_the_score_and_ours_does_not(seed):
    """Select features on all rows, then cross-validate: pure noise looks predictive."""
    from sklearn.feature_selection import SelectKBest, f_classif
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline

    from objectives import DevData, SklearnObjective, get_metric

    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(80, 2000))).add_prefix("f")
    y = rng.integers(0, 2, 80)
    cv = StratifiedKFold(5, shuffle=True, random_state=seed)
    chosen = SelectKBest(f_classif, k=20).fit(X, y).get_support()
    naive = cross_val_score(LogisticRegression(), X.loc[:, chosen], y, cv=cv).mean()
    pipeline = make_pipeline(SelectKBest(f_classif, k=20), LogisticRegression())
    data = DevData(X=X, y=y, task="classification", classes=(0, 1))
    ours = SklearnObjective(pipeline, class_weight=None).evaluate(
        {}, data, _Trial(seed), get_metric("accuracy"))
    assert naive > 0.8  # the leak: selection saw the validation rows
    assert abs(ours - 0.5) < 0.15  # in-fold selection: chance, as it should be


def test_smote_before_the_split_inflates_the_score_and_ours_does_not():
    """Oversample all rows, then cross-validate: synthetic copies of validation rows leak."""
    from imblearn.over_sampling import SMOTE
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    from objectives import DevData, SklearnObjective, get_metric

    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(400, 5))).add_prefix("f")
    y = (rng.random(400) < 0.1).astype(int)  # 10 % positives, unrelated to X
    X_over, y_over = SMOTE(random_state=0).fit_resample(X, y)
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    naive = cross_val_score(KNeighborsClassifier(1), X_over, y_over, cv=cv,
                            scoring="f1").mean()
    data = DevData(X=X, y=y, task="classification", classes=(0, 1))
    ours = SklearnObjective(KNeighborsClassifier(1), smote=True).evaluate(
        {}, data, _Trial(0), get_metric("f1"))
    assert naive > 0.6  # synthetic neighbours of validation positives sit in training
    assert ours < 0.3  # no signal exists, and in-fold SMOTE does not invent one


class _Trial:
    """A minimal trial handle (the engine is not needed to evaluate one config)."""

    def __init__(self, seed: int) -> None:
        self.number, self.seed, self.artifact_dir = 0, seed, None

    def report(self, value: float, step: int) -> None:
        pass

    def should_prune(self) -> bool:
        return False

    def set_attr(self, key: str, value: object) -> None:
        pass
