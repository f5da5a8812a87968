"""Loading and splitting: the test part is split off first, by the rule the data call for."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from search import Data, UserError
from search.core._data import load_and_split


def split(spec: Data, task: str = "classification", seed: int = 0, base_dir=None):
    from pathlib import Path

    return load_and_split(spec, task=task, seed=seed, base_dir=base_dir or Path.cwd())


def test_bundled_dataset_is_stratified_with_the_default_fraction():
    parts = split(Data("breast_cancer"))
    total = len(parts.dev) + len(parts.test)
    assert total == 569
    assert len(parts.test) == int(np.ceil(0.15 * 569))
    dev_rate = parts.dev.y.mean()
    test_rate = parts.test._y.mean()
    assert abs(dev_rate - test_rate) < 0.01  # stratified: same class balance on both sides
    assert parts.dev.classes == (0, 1)


def test_grouped_split_keeps_each_group_on_one_side():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"g": np.repeat(np.arange(40), 5), "x": rng.normal(size=200), "y": rng.integers(0, 2, 200)}
    )
    parts = split(Data(frame, target="y", groups="g", test_size=0.2))
    assert "g" not in parts.dev.X.columns  # group ids are not a feature
    dev_groups = set(parts.dev.groups.tolist())
    test_rows = parts.test._X
    # recover test groups by x value (unique floats)
    test_groups = set(frame.loc[frame["x"].isin(test_rows["x"]), "g"].tolist())
    assert dev_groups and test_groups and not dev_groups & test_groups


def test_time_ordered_split_seals_the_last_rows():
    frame = pd.DataFrame({"t": np.arange(100)[::-1], "x": np.arange(100.0), "y": np.arange(100.0)})
    parts = split(Data(frame, target="y", time="t", test_size=0.1), task="regression")
    # sorted by t ascending, the last 10 rows are those with t = 90..99, i.e. x = 9..0
    assert sorted(parts.test._X["t"].tolist()) == list(range(90, 100))
    assert parts.dev.time_ordered
    assert parts.dev.X["t"].is_monotonic_increasing


def test_same_seed_same_split_and_fingerprints():
    a, b = split(Data("wine"), seed=3), split(Data("wine"), seed=3)
    assert a.fingerprints() == b.fingerprints()
    c = split(Data("wine"), seed=4)
    assert c.fingerprints()["test"]["sha256"] != a.fingerprints()["test"]["sha256"]
    assert a.fingerprints()["test"]["shape"] == [len(a.test), 13]


def test_csv_relative_to_the_study_folder(tmp_path):
    pd.DataFrame({"a": [1, 2, 3, 4, 5, 6, 7, 8], "y": [0, 1] * 4}).to_csv(
        tmp_path / "d.csv", index=False
    )
    parts = split(Data("d.csv", target="y", test_size=0.25), base_dir=tmp_path)
    assert len(parts.test) == 2


@pytest.mark.parametrize(
    ("spec", "task", "message"),
    [
        (lambda p: Data(str(p / "missing.csv"), target="y"), "classification", "file not found"),
        (
            lambda p: Data(p / "d.csv", target="label"),
            "classification",
            "target column 'label' not found; columns are: a, y",
        ),
        (lambda p: Data(p / "empty.csv", target="y"), "classification", "no rows"),
        (lambda p: Data(p / "one.csv", target="y"), "classification", "single class"),
        (lambda p: Data(p / "nan.csv", target="y"), "regression", "missing values"),
        (lambda p: Data(p / "text.csv", target="y"), "regression", "not numeric"),
        (lambda p: Data("no_such_dataset"), "classification", "neither a .csv/.parquet file"),
    ],
)
def test_bad_data_is_a_one_line_user_error(tmp_path, spec, task, message):
    pd.DataFrame({"a": range(10), "y": [0, 1] * 5}).to_csv(tmp_path / "d.csv", index=False)
    pd.DataFrame({"a": [], "y": []}).to_csv(tmp_path / "empty.csv", index=False)
    pd.DataFrame({"a": range(10), "y": [1] * 10}).to_csv(tmp_path / "one.csv", index=False)
    pd.DataFrame({"a": range(10), "y": [1.0, None] * 5}).to_csv(tmp_path / "nan.csv", index=False)
    pd.DataFrame({"a": range(10), "y": list("abcdeabcde")}).to_csv(
        tmp_path / "text.csv", index=False
    )
    with pytest.raises(UserError, match=message) as info:
        split(spec(tmp_path), task=task, base_dir=tmp_path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("fraction", [0, 1, 1.5, -0.1, True])
def test_test_fraction_outside_the_open_interval_is_refused(fraction):
    with pytest.raises(UserError, match=r"test_size must lie in \(0, 1\)"):
        Data("iris", test_size=fraction)
