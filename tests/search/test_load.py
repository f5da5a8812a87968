"""``search.load``: real studies run by the command line, read back in Python, nothing written."""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import joblib
import numpy as np
import pytest

import search
from search import UserError
from search.core._store import ReadOnlyStore
from tests.conftest import ROOT, run_cli, stop_session, stored_trials

IRIS_STUDY = """
from sklearn.linear_model import LogisticRegression
from objectives import SklearnObjective
from search import Data, Study
from spaces import Categorical, Float, Space

study = Study(
    name="iris",
    data=Data("iris"),
    space=Space({
        "C": Float(1e-2, 1e2, log=True, default=1.0),
        "fit_intercept": Categorical([True, False]),
    }),
    objective=SklearnObjective(LogisticRegression(max_iter=300), folds=3),
    metric="accuracy",
    trials=5,
    seed=0,
)
"""

SLOW_STUDY = """
import time
from search import Study
from spaces import Float, Space

def objective(config, trial):
    time.sleep(0.25)
    return (config["x"] - 1.0) ** 2

study = Study(name="slow", space=Space({"x": Float(-5, 5)}), objective=objective,
              direction="minimize", trials=200, seed=1, pruner="none")
"""


def _run_iris(root: Path, *flags: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "study.py"
    path.write_text(textwrap.dedent(IRIS_STUDY), encoding="utf-8")
    result = run_cli(path, "--results", root / "out", "--no-tracking", *flags, cwd=root)
    assert result.returncode == 0, result.stderr
    return root / "out" / "iris"


@pytest.fixture(scope="module")
def iris(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished study: 5 trials, 3 folds, the final evaluation done (read, never changed)."""
    return _run_iris(tmp_path_factory.mktemp("load"))


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _same_cell(cell: str, value: object) -> bool:
    """A trials.csv cell and the DataFrame's value for it."""
    if cell == "":
        return isinstance(value, float) and math.isnan(value)
    try:
        return float(cell) == float(value)  # type: ignore[arg-type]
    except ValueError:
        return cell == str(value)


def _assert_frame_is_csv(frame, path: Path) -> None:
    rows = _csv_rows(path)
    with open(path, newline="", encoding="utf-8") as f:
        header = next(csv.reader(f))
    assert list(frame.columns) == header
    assert len(frame) == len(rows)
    for row, record in zip(rows, frame.to_dict("records"), strict=True):
        for column in header:
            assert _same_cell(row[column], record[column]), (column, row[column], record[column])


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder``: a file's bytes, or ``None`` for a folder."""
    return {
        str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(folder.rglob("*"))
    }


def _iris_rows(n: int):
    from sklearn.datasets import load_iris

    return load_iris(as_frame=True).data.iloc[::15].head(n)


# --- a finished study -----------------------------------------------------------------------


def test_trials_is_trials_csv_as_a_dataframe(iris: Path) -> None:
    frame = search.load(iris).trials
    _assert_frame_is_csv(frame, iris / "trials.csv")
    assert list(frame["number"]) == [0, 1, 2, 3, 4]
    assert set(frame["state"]) == {"COMPLETE"}
    assert {"params_C", "params_fit_intercept", "fold_0", "fold_1", "fold_2"} <= set(frame)
    stored = {t.number: t.value for t in stored_trials(iris)}
    assert dict(zip(frame["number"], frame["value"], strict=True)) == pytest.approx(stored)


def test_best_final_and_record_are_their_files(iris: Path) -> None:
    study = search.load(iris)
    assert study.best == json.loads((iris / "best.json").read_text())
    assert study.final == json.loads((iris / "final.json").read_text())
    assert study.record == json.loads((iris / "study.json").read_text())
    assert study.final["status"] == "evaluated" and study.final["trial"] == study.best["number"]
    assert study.record["name"] == "iris" and study.multi_objective is False
    assert study.directory == iris


def test_model_predicts_like_the_saved_model(iris: Path) -> None:
    rows = _iris_rows(10)
    saved = joblib.load(iris / "model" / "model.joblib")
    model = search.load(iris).model()
    assert type(model) is type(saved)
    np.testing.assert_array_equal(model.predict(rows), saved.predict(rows))
    np.testing.assert_allclose(model.predict_proba(rows), saved.predict_proba(rows))


def test_optuna_study_is_the_journal_and_refuses_to_write(iris: Path) -> None:
    import optuna

    before = (iris / "study.journal").read_bytes()
    opt = search.load(iris).optuna_study()
    assert isinstance(opt, optuna.Study) and opt.study_name == "iris"
    assert opt.trials == stored_trials(iris)
    assert opt.best_trial.number == search.load(iris).best["number"]
    with pytest.raises(ReadOnlyStore, match="read-only"):
        opt.set_user_attr("note", "x")
    with pytest.raises(ReadOnlyStore):
        opt.ask()
    with pytest.raises(ReadOnlyStore):
        opt.optimize(lambda trial: trial.suggest_float("C", 0.1, 1.0), n_trials=1)
    assert (iris / "study.journal").read_bytes() == before
    assert len(search.load(iris).optuna_study().trials) == 5
    fig = optuna.visualization.plot_optimization_history(opt)
    assert len(fig.data[0].x) == 5


def test_loading_writes_nothing(iris: Path) -> None:
    before = _snapshot(iris)
    study = search.load(iris)
    repr(study)
    _ = study.trials, study.best, study.final, study.record
    study.model().predict(_iris_rows(3))
    assert len(study.optuna_study().trials) == 5
    with pytest.raises(UserError):
        _ = study.pareto
    assert _snapshot(iris) == before


def test_repr_names_the_study_its_states_best_and_test(iris: Path) -> None:
    study = search.load(iris)
    best, final = study.best, study.final
    text = repr(study)
    assert text.startswith(f"<StudyResults 'iris' at {iris}: 5 COMPLETE; ")
    assert f"best accuracy {best['value']:.6g} (trial {best['number']})" in text
    assert f"test opened: accuracy {final['test_value']:.6g}>" in text


def test_one_objective_has_no_pareto_front(iris: Path) -> None:
    with pytest.raises(UserError, match=r"one objective \(accuracy, maximize\).*use \.best$"):
        _ = search.load(iris).pareto


def test_a_folder_that_is_not_a_study_is_one_line_naming_it(iris: Path, tmp_path: Path) -> None:
    with pytest.raises(
        UserError, match=r"out: not a study folder \(no study.json\); the studies under it: iris$"
    ):
        search.load(iris.parent)
    with pytest.raises(UserError, match=r"model: not a study folder"):
        search.load(iris / "model")
    with pytest.raises(UserError, match=r"nowhere: no such folder"):
        search.load(tmp_path / "nowhere")
    with pytest.raises(UserError, match=r"study.json: a file, not a study folder"):
        search.load(iris / "study.json")


def test_nothing_is_read_until_asked_and_a_corrupt_file_is_named(iris: Path, tmp_path) -> None:
    copy = tmp_path / "iris"
    shutil.copytree(iris, copy)
    (copy / "best.json").write_text('{"number": 1, "val')
    study = search.load(copy)  # reads nothing yet
    assert study.final is not None
    with pytest.raises(UserError, match=r"best.json: not valid JSON .*truncated or corrupt$"):
        _ = study.best
    assert "unreadable: " in repr(study) and "best.json" in repr(study)


def test_a_sealed_study_has_no_final_and_no_model(iris: Path, tmp_path: Path) -> None:
    copy = tmp_path / "iris"
    shutil.copytree(iris, copy, ignore=shutil.ignore_patterns("final.json", "model"))
    study = search.load(copy)
    assert study.final is None and study.best is not None
    with pytest.raises(UserError, match=r"no final model yet: the test set is still sealed"):
        study.model()
    assert repr(study).endswith("; test sealed>")


def test_a_study_with_no_data_says_it_has_no_test_set(tmp_path: Path) -> None:
    """Branin, a plain function of the config: nothing to seal, so nothing is "sealed"."""
    done = run_cli(ROOT / "examples" / "branin.py", "--trials", "3", "--results", tmp_path,
                   "--no-tracking", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    study = search.load(tmp_path / "branin")
    assert study.record["data"] is None and study.final is None
    assert repr(study).startswith(f"<StudyResults 'branin' at {tmp_path / 'branin'}: 3 COMPLETE")
    assert repr(study).endswith("; no test set>")
    with pytest.raises(UserError, match="has no data, so it has no test set and no final model"):
        study.model()


def test_several_objectives_give_their_pareto_front(iris: Path, tmp_path: Path) -> None:
    """The layout a study with several objectives writes: ``directions`` and ``pareto``."""
    copy = tmp_path / "multi"
    shutil.copytree(iris, copy)
    record = json.loads((copy / "study.json").read_text())
    del record["direction"]
    record["directions"] = {"accuracy": "maximize", "fit_seconds": "minimize"}
    (copy / "study.json").write_text(json.dumps(record))
    front = [
        {"number": 1, "values": {"accuracy": 0.97, "fit_seconds": 0.02}, "params": {"C": 1.0},
         "config": {"C": 1.0}},
        {"number": 3, "values": {"accuracy": 0.95, "fit_seconds": 0.01}, "params": {"C": 0.1},
         "config": {"C": 0.1}},
    ]  # fmt: skip
    (copy / "best.json").write_text(json.dumps({"pareto": front, "selected": front[0]}))
    study = search.load(copy)
    assert study.multi_objective and study.pareto == front
    assert study.best["selected"] == front[0]
    assert "2 on the Pareto front of accuracy, fit_seconds" in repr(study)
    (copy / "best.json").unlink()
    assert study.pareto == [] and "no best yet" in repr(study)


# --- a study on the Ray backend -------------------------------------------------------------


def test_a_study_finished_on_ray_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ray", reason="the Ray backend needs the ray extra")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    folder = _run_iris(tmp_path, "--backend", "ray", "--workers", "2")
    assert json.loads((folder / "study.json").read_text())["backend"] == "ray"
    before = _snapshot(folder)
    study = search.load(folder)
    _assert_frame_is_csv(study.trials, folder / "trials.csv")
    assert len(study.trials) == 5 and study.best["number"] == study.final["trial"]
    assert study.optuna_study().trials == stored_trials(folder)
    rows = _iris_rows(10)
    saved = joblib.load(folder / "model" / "model.joblib")
    np.testing.assert_array_equal(study.model().predict(rows), saved.predict(rows))
    assert _snapshot(folder) == before


# --- a running study ------------------------------------------------------------------------


def test_a_running_study_loads_and_shows_a_prefix_of_its_trials(tmp_path: Path) -> None:
    path = tmp_path / "slow.py"
    path.write_text(textwrap.dedent(SLOW_STUDY), encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "search", str(path), "--results", str(tmp_path), "--no-tracking"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        start_new_session=True,
    )
    folder = tmp_path / "slow"
    try:
        _wait_for_rows(folder / "trials.csv", 3, proc)
        study = search.load(folder)
        frame = study.trials
        stored = study.optuna_study().trials  # read after trials.csv: at least as far along
        assert proc.poll() is None, "the run ended before it was loaded"
        assert study.record["status"] == "running"
        assert 3 <= len(frame) <= len(stored) < 200
        assert list(frame["number"]) == [t.number for t in stored[: len(frame)]]
        for row in frame.to_dict("records"):
            if row["state"] == "COMPLETE":
                assert stored[row["number"]].value == pytest.approx(row["value"])
        assert study.best is not None and study.final is None
        with pytest.raises(UserError, match="has no data, so it has no test set"):
            study.model()
        assert repr(study).startswith(f"<StudyResults 'slow' at {folder}: ")
        assert repr(study).endswith("; no test set>")
    finally:
        stop_session(proc, signal.SIGINT)
    assert proc.returncode == 130, proc.stderr.read() if proc.stderr else ""


def _wait_for_rows(path: Path, count: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if path.is_file() and len(_csv_rows(path)) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{path}: fewer than {count} rows after 60 s (run exit {proc.poll()})")
