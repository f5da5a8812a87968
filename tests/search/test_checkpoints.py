"""Trial checkpoints through the real command: a trial whose worker is SIGKILLed goes on from
its last checkpoint, a run whose driver is SIGKILLed goes on from them with ``--resume``, a
checkpoint changed on disk is not loaded, and old ones are removed as new ones come."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli, stored_trials

STUDY = """
import os, signal, time
from pathlib import Path

import pytest
from search import Study
from spaces import Float, Space

STARTS = Path(__file__).parent / "starts.txt"

def objective(config, trial):
    state = trial.last_checkpoint() or {{"epoch": 0, "loss": 10.0}}
    with open(STARTS, "a") as f:
        f.write(f"{{trial.number}} {{state['epoch']}} {{trial.user_attrs.get('restore_from')}}\\n")
    loss = state["loss"]
    for epoch in range(state["epoch"], 10):
        time.sleep({sleep})
        loss = loss * (0.5 + config["x"])
        trial.report(loss, epoch)
        trial.checkpoint({{"epoch": epoch + 1, "loss": loss}}, step=epoch)
        if epoch + 1 == 3 and trial.number == {kill} and state["epoch"] == 0:
            os.kill(os.getpid(), signal.SIGKILL)
    return loss

study = Study(name="ck", space=Space({{"x": Float(0.0, 0.4)}}), objective=objective,
              direction="minimize", trials={trials}, seed=0, pruner="none", sampler="random")
"""


def _starts(folder: Path) -> list[tuple[int, int, str]]:
    lines = (folder / "starts.txt").read_text().split("\n")
    return [(int(n), int(e), r) for n, e, r in (line.split() for line in lines if line)]


def _write(tmp_path: Path, **values: object) -> Path:
    path = tmp_path / "study.py"
    path.write_text(STUDY.format(**{"sleep": 0, "kill": -1, "trials": 3, **values}))
    return path


def test_a_killed_worker_s_trial_goes_on_from_its_last_checkpoint(tmp_path):
    study = _write(tmp_path, kill=1)
    done = run_cli(study, "--no-tracking", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert _starts(tmp_path) == [(0, 0, "None"), (1, 0, "None"), (1, 3, "None"), (2, 0, "None")]
    trials = stored_trials(tmp_path / "results" / "ck")
    assert [t.state.name for t in trials] == ["COMPLETE"] * 3
    killed = trials[1]
    assert len(killed.user_attrs["worker_deaths"]) == 1
    assert "SIGKILL" in killed.user_attrs["worker_deaths"][0]
    assert sorted(killed.intermediate_values) == list(range(10))  # each epoch once
    recorded = killed.system_attrs["search:checkpoint"]
    assert recorded["step"] == 9 and recorded["kind"] == "state" and recorded["trial"] == 1
    # the value is the uninterrupted run's: the loss kept shrinking from the restored one
    assert killed.value == pytest.approx(10.0 * (0.5 + killed.params["x"]) ** 10)


def test_a_changed_checkpoint_is_not_loaded(tmp_path):
    """Trial 1's checkpoint is rewritten between its death and its retry (the test's own
    objective does it): the retry starts from scratch, and search.log says why."""
    study = _write(tmp_path, kill=1)
    text = study.read_text().replace(
        "            os.kill(os.getpid(), signal.SIGKILL)",
        "            import pickle\n"
        "            saved = trial.artifact_dir / 'checkpoints' / 'step-000002' / 'state.pkl'\n"
        "            marker = Path(__file__).parent / 'tampered'\n"
        "            if not marker.exists():  # the first attempt only: the retry finds it changed\n"
        "                marker.touch()\n"
        "                saved.write_bytes(pickle.dumps({'epoch': 9, 'loss': 0.0}))\n"
        "                os.kill(os.getpid(), signal.SIGKILL)")
    study.write_text(text)
    done = run_cli(study, "--no-tracking", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (1, 0, "None") in _starts(tmp_path) and (1, 9, "None") not in _starts(tmp_path)
    assert _starts(tmp_path).count((1, 0, "None")) == 2
    log = (tmp_path / "results" / "ck" / "search.log").read_text()
    assert "does not verify" in log


def test_keep_checkpoints_keeps_the_last_n_and_the_best(tmp_path):
    study = _write(tmp_path, trials=1)
    done = run_cli(study, "--no-tracking", "--keep-checkpoints", "3", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    kept = sorted(p.name for p in
                  (tmp_path / "results" / "ck" / "trials" / "trial_00000" / "checkpoints").iterdir())
    assert kept == ["step-000007", "step-000008", "step-000009"]  # the best is the last here


def test_resume_after_a_killed_driver_goes_on_from_the_checkpoints(tmp_path):
    study = _write(tmp_path, sleep=0.3, trials=2)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    driver = subprocess.Popen([sys.executable, "-m", "search", str(study), "--no-tracking"],
                              cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # trial 1 has saved a few epochs
            trials = (stored_trials(tmp_path / "results" / "ck")
                      if (tmp_path / "results" / "ck" / "study.journal").exists() else [])
            if len(trials) == 2 and trials[1].system_attrs.get("search:checkpoint", {}).get(
                    "step", -1) >= 2:
                break
            time.sleep(0.1)
        os.killpg(driver.pid, signal.SIGKILL)
    finally:
        driver.wait(timeout=30)
    resumed = run_cli(study, "--no-tracking", "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    starts = _starts(tmp_path)
    assert starts[:2] == [(0, 0, "None"), (1, 0, "None")]
    (number, epoch, source), = starts[2:]
    assert (number, source) == (2, "1") and epoch >= 3  # trial 2 continues trial 1's training
    trials = stored_trials(tmp_path / "results" / "ck")
    assert [t.state.name for t in trials] == ["COMPLETE", "FAIL", "COMPLETE"]
    assert trials[2].params == trials[1].params
    assert trials[2].value == pytest.approx(10.0 * (0.5 + trials[1].params["x"]) ** 10)
