"""The framework's network objectives checkpoint their training and go on from it.

Through the real command: a torch trial whose worker is SIGKILLed in its fourth epoch goes on
from its third epoch's checkpoint and trains the very network an uninterrupted trial trains; a
Keras trial goes on the same way. In process, with a trial handle that keeps checkpoints as
the engine's does: a restored run reports only the epochs after its checkpoint and leaves the
history, summary and best network of an uninterrupted run; how often a run saves; the
checkpoints a run does not go on from.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from objectives import DevData, ObjectiveError, Pruned, TorchObjective, _nn_resume, get_metric
from objectives._base import CheckpointingTrial
from objectives._nn_records import History
from tests.conftest import run_cli, stored_trials

torch = pytest.importorskip("torch")

STUDY = """
import dataclasses, os, signal
from pathlib import Path

from sklearn.datasets import load_digits

from objectives import OBJECTIVE
from search import Data, Study
from spaces import Categorical, Space

EPOCHS = Path(__file__).parent / "epochs.txt"
KILLED = Path(__file__).parent / "killed"


class KilledOnce(OBJECTIVE):
    \"\"\"Trial 1's first attempt dies (SIGKILL) in its epoch 3, before reporting it.\"\"\"

    def _training(self, config, settings, prep, metric, trial, history, part, artifact_dir):
        training = super()._training(config, settings, prep, metric, trial, history, part,
                                     artifact_dir)
        hook = training.on_epoch

        def on_epoch(epoch, score, last, write=None):
            with open(EPOCHS, "a") as f:
                f.write(f"{trial.number} {os.getpid()} {epoch} {trial.last_checkpoint_step}\\n")
            if trial.number == 1 and epoch == 3 and not KILLED.exists():
                KILLED.touch()
                os.kill(os.getpid(), signal.SIGKILL)
            hook(epoch, score, last, write)

        return dataclasses.replace(training, on_epoch=on_epoch)


X, y = load_digits(return_X_y=True)
study = Study(
    name="digits",
    data=Data((X, y)),
    # one config: every trial trains the same network
    space=Space({"layers": 1, "width": 32, "lr": 0.01, "batch_size": Categorical([64])}),
    objective=KilledOnce(epochs=10, patience=100, threads=1, checkpoint_every=1),
    metric="accuracy",
    sampler="random",
    trials=TRIALS,
    seed=0,
)
"""


def _run_killed_study(tmp_path: Path, objective: str, trials: int) -> tuple[list[Any], Path]:
    study = tmp_path / "study.py"
    study.write_text(STUDY.replace("OBJECTIVE", objective).replace("TRIALS", str(trials)))
    done = run_cli(study, "--no-tracking", "--no-final", "--pruner", "none", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "results" / "digits"
    trials_ = stored_trials(folder)
    assert [t.state.name for t in trials_] == ["COMPLETE"] * trials
    killed = trials_[1]
    (death,) = killed.user_attrs["worker_deaths"]
    assert "SIGKILL" in death
    assert sorted(killed.intermediate_values) == list(range(10))  # each epoch once
    assert killed.system_attrs["search:checkpoint"]["step"] == 9
    # the first attempt trained epochs 0-3 and died in 3; the retry went on from 2's checkpoint
    attempts: dict[str, list[tuple[int, str]]] = {}
    for line in (tmp_path / "epochs.txt").read_text().splitlines():
        number, pid, epoch, restored = line.split()
        if number == "1":
            attempts.setdefault(pid, []).append((int(epoch), restored))
    first, retry = attempts.values()
    assert first == [(0, "None"), (1, "None"), (2, "None"), (3, "None")]
    assert retry == [(epoch, "2") for epoch in range(3, 10)]
    return trials_, folder / "trials"


def _read(trial_dir: Path, name: str) -> Any:
    return json.loads((trial_dir / name).read_text())


def test_a_torch_trial_killed_in_its_fourth_epoch_goes_on_to_the_uninterrupted_network(
    tmp_path: Path,
):
    trials, folders = _run_killed_study(tmp_path, "TorchObjective", 3)
    whole, killed = trials[0], trials[1]
    assert killed.intermediate_values == whole.intermediate_values  # bit for bit, on the CPU
    assert killed.value == whole.value
    assert killed.user_attrs["best_epochs"] == whole.user_attrs["best_epochs"]
    for name in ("history.json", "summary.json"):
        assert _read(folders / "trial_00001", name) == _read(folders / "trial_00000", name)
    best = [torch.load(folders / f"trial_{n:05d}" / "checkpoint.pt", weights_only=True)
            for n in (0, 1)]
    assert all(torch.equal(best[0][key], best[1][key]) for key in best[0])


def test_a_keras_trial_killed_in_its_fourth_epoch_goes_on_from_its_third(tmp_path: Path):
    pytest.importorskip("tensorflow")
    trials, folders = _run_killed_study(tmp_path, "KerasObjective", 2)
    whole, killed = trials[0], trials[1]
    assert [killed.intermediate_values[s] for s in range(3)] == [
        whole.intermediate_values[s] for s in range(3)]
    history = _read(folders / "trial_00001", "history.json")["holdout"]["epochs"]
    assert [r["epoch"] for r in history] == list(range(10))
    assert history[:3] == _read(folders / "trial_00000", "history.json")["holdout"]["epochs"][:3]
    (run,) = _read(folders / "trial_00001", "summary.json")["runs"]
    assert run["epochs_trained"] == len(run["lrs"]) == 10
    assert killed.value == max(r["val_score"] for r in history)
    assert (folders / "trial_00001" / "checkpoint.weights.h5").is_file()


# --- in process -----------------------------------------------------------------------------


class Died(Exception):
    """The worker dying, as the trial handle's report raises it."""


class KeepingTrial:
    """A trial handle that keeps checkpoints as the engine's worker trial does (copied under
    its folder, by step); it goes on from ``restore``; its report of step ``die_at`` dies."""

    def __init__(self, folder: Path, restore: Any = None, die_at: int | None = None,
                 prune_after: int | None = None) -> None:
        self.number, self.seed, self.artifact_dir = 1, 0, folder
        folder.mkdir(parents=True, exist_ok=True)
        self.restore, self.die_at, self.prune_after = restore, die_at, prune_after
        self.reports: list[tuple[int, float]] = []
        self.attrs: dict[str, Any] = {}
        self.saved: dict[int, Path] = {}

    def report(self, value: float, step: int) -> None:
        if step == self.die_at:
            raise Died
        self.reports.append((step, value))

    def should_prune(self) -> bool:
        return self.prune_after is not None and len(self.reports) >= self.prune_after

    def set_attr(self, key: str, value: Any) -> None:
        self.attrs[key] = value

    def checkpoint(self, source: Any, *, step: int | None = None) -> Path:
        assert step is not None
        path = self.artifact_dir / "checkpoints" / f"step-{step:06d}"
        shutil.rmtree(path, ignore_errors=True)
        shutil.copytree(source, path)
        self.saved[step] = path
        return path

    def last_checkpoint(self) -> Any:
        return self.restore

    @property
    def last_checkpoint_step(self) -> int | None:
        return None


@pytest.fixture(scope="module")
def wine() -> DevData:
    from sklearn.datasets import load_wine

    X, y = load_wine(return_X_y=True)
    return DevData(pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])]), y,
                   "classification", classes=(0, 1, 2))


#: dropout, batch norm, momentum and a schedule: every piece of state a restore puts back
CONFIG = {"layers": 2, "width": 16, "lr": 0.05, "batch_size": 32, "dropout": 0.2,
          "batch_norm": True, "optimizer": "sgd", "momentum": 0.9, "scheduler": "plateau",
          "plateau_patience": 1, "factor": 0.5}


def _evaluate(data: DevData, trial: KeepingTrial, config: dict[str, Any] = CONFIG,
              **kw: Any) -> float:
    kw = {"epochs": 10, "patience": 4, "threads": 1, "tensorboard": False,
          "checkpoint_every": 1, **kw}
    return TorchObjective(**kw).evaluate(config, data, trial,  # type: ignore[return-value]
                                         get_metric("log_loss"))


def test_a_restored_run_reports_the_epochs_after_its_checkpoint_and_ends_as_a_whole_one(
    wine: DevData, tmp_path: Path,
):
    whole = KeepingTrial(tmp_path / "whole")
    assert isinstance(whole, CheckpointingTrial)
    value = _evaluate(wine, whole)
    dead = KeepingTrial(tmp_path / "dead", die_at=4)
    with pytest.raises(Died):
        _evaluate(wine, dead)
    # in another trial's folder, as --resume continues a trial that was running
    resumed = KeepingTrial(tmp_path / "resumed", restore=dead.saved[3])
    assert _evaluate(wine, resumed) == value
    assert dead.reports + resumed.reports == whole.reports
    assert [step for step, _ in resumed.reports] == list(range(4, len(whole.reports)))
    assert resumed.attrs == whole.attrs
    for name in ("history.json", "summary.json"):
        assert _read(resumed.artifact_dir, name) == _read(whole.artifact_dir, name)
    best = [torch.load(t.artifact_dir / "checkpoint.pt", weights_only=True)
            for t in (whole, resumed)]
    assert all(torch.equal(best[0][key], best[1][key]) for key in best[0])
    # from the run's last checkpoint: nothing left to train, the same result
    done = KeepingTrial(tmp_path / "done", restore=whole.saved[max(whole.saved)])
    assert _evaluate(wine, done) == value and done.reports == []
    assert _read(done.artifact_dir, "summary.json") == _read(whole.artifact_dir, "summary.json")


@pytest.mark.parametrize(("kw", "prune_after", "saved"), [
    ({"checkpoint_every": 3}, None, [2, 5, 8, 9]),  # and the run's last epoch
    ({"checkpoint_every": 100}, 5, [4]),  # the epoch the pruner stops at
    ({"checkpoint_every": 0}, None, []),
    ({"checkpoint_every": 1, "folds": 2}, None, []),  # folds: not checkpointed
])
def test_how_often_a_run_saves(wine: DevData, tmp_path: Path, kw: dict[str, Any],
                               prune_after: int | None, saved: list[int]):
    trial = KeepingTrial(tmp_path, prune_after=prune_after)
    with pytest.raises(Pruned) if prune_after else contextlib.nullcontext():
        _evaluate(wine, trial, patience=100, **kw)
    assert sorted(trial.saved) == saved


def test_by_default_a_run_saves_while_saving_takes_a_tenth_of_its_time_and_its_last_epoch(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
):
    clock = [0.0]
    monkeypatch.setattr(_nn_resume.time, "perf_counter", lambda: clock[0])
    trial = KeepingTrial(tmp_path)
    checkpoints = _nn_resume.Checkpoints(trial, "torch", "holdout", {}, History("x"), None)

    def write(folder: Path) -> dict[str, Any]:
        clock[0] += 0.05  # a save takes half an epoch
        return {}

    for epoch in range(30):
        clock[0] += 0.1
        if checkpoints.due(epoch, epoch == 29):
            checkpoints.save(epoch, epoch == 29, write, epoch)
    saved = sorted(trial.saved)
    assert saved[0] == 0 and saved[-1] == 29  # the first epoch, and the last
    assert all(4 <= b - a <= 6 for a, b in zip(saved[:-2], saved[1:-1], strict=True))
    assert checkpoints.save_seconds <= 0.1 * 3.0 + 0.05  # a tenth of the training, and the last


@pytest.mark.parametrize("restore", ["state", "empty folder", "other network", "other lr"])
def test_a_checkpoint_of_another_network_is_not_gone_on_from(
    wine: DevData, tmp_path: Path, restore: str,
):
    dead = KeepingTrial(tmp_path / "dead", die_at=4)
    with pytest.raises(Died):
        _evaluate(wine, dead, config={**CONFIG, "scheduler": "none"})
    (tmp_path / "empty").mkdir()
    config = {**CONFIG, "scheduler": "none"}
    handed: Any = {"state": {"epoch": 3}, "empty folder": tmp_path / "empty"}.get(
        restore, dead.saved[3])
    if restore == "other network":
        config["width"] = 8
    elif restore == "other lr":  # a Population Based Training segment: its own lr from now on
        config["lr"] = 0.01
    trial = KeepingTrial(tmp_path / "again", restore=handed)
    _evaluate(wine, trial, config=config)
    first = 4 if restore == "other lr" else 0
    assert trial.reports[0][0] == first
    history = _read(trial.artifact_dir, "history.json")["holdout"]["epochs"]
    assert [r["epoch"] for r in history][:5] == [0, 1, 2, 3, 4]
    assert np.allclose([r["lr"] for r in history[first:]], config["lr"])


@pytest.mark.parametrize("every", [-1, 1.5, True, "epoch"])
def test_checkpoint_every_is_checked(every: Any):
    with pytest.raises(ObjectiveError, match="'checkpoint_every' parameter of TorchObjective"):
        TorchObjective(checkpoint_every=every).check(None, {}, None)
