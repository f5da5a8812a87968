"""The Ray backend end to end, on a real Ray: one head started for the session (``ray start
--head`` on 127.0.0.1 with 2 CPUs and 2 logical GPUs, token authentication on), the command
line connected to it with ``--address``, and the head stopped by its own process handle.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_port, stored_trials

pytest.importorskip("ray", reason="the Ray backend needs the ray extra")

RAY = Path(sys.executable).with_name("ray")


@dataclass(frozen=True)
class Cluster:
    address: str
    env: dict[str, str]


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            found.append(int(entry.name))
    return found


@pytest.fixture(scope="session")
def cluster() -> Cluster:
    """A Ray head for the whole session: started once here, stopped here alone."""
    base = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))  # short: Ray's socket paths
    token = base / "auth_token"
    token.write_text(secrets.token_hex(32))
    port = free_port()
    env = {
        **os.environ,
        "RAY_AUTH_MODE": "token",  # an explicit --address never turns token auth on by itself
        "RAY_AUTH_TOKEN_PATH": str(token),
        "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.pop("RAY_ADDRESS", None)
    log = open(base / "head.log", "w")  # noqa: SIM115 - closed at teardown
    head = subprocess.Popen(
        [
            str(RAY), "start", "--head", "--block", "--node-ip-address", "127.0.0.1",
            "--port", str(port), "--num-cpus", "2", "--num-gpus", "2",
            "--temp-dir", str(base / "t"), "--disable-usage-stats", "--include-dashboard", "false",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_stop_with_parent,  # a killed test session leaves no cluster behind
    )  # fmt: skip
    deadline = time.time() + 120
    while "block forever" not in (base / "head.log").read_text():
        assert head.poll() is None, (base / "head.log").read_text()
        assert time.time() < deadline, "the Ray head did not start"
        time.sleep(0.5)
    try:
        yield Cluster(address=f"127.0.0.1:{port}", env=env)
    finally:
        head.send_signal(signal.SIGTERM)  # this head only: never `ray stop`
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            head.kill()
            head.wait()
        log.close()
        deadline = time.time() + 30
        while _processes_mentioning(str(base / "t")) and time.time() < deadline:
            time.sleep(0.5)
        left = _processes_mentioning(str(base / "t"))
        assert not left, f"processes of the test cluster still running: {left}"
        shutil.rmtree(base, ignore_errors=True)


def _stop_with_parent() -> None:
    """In the head's process: get SIGTERM (a clean stop) when the test session dies."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def run_search(
    *args: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: float = 240
):
    return subprocess.run(
        [sys.executable, "-m", "search", *map(str, args)],
        cwd=cwd,
        env=env or {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write(path: Path, body: str) -> Path:
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def store_states(folder: Path) -> dict[int, str]:
    return {t.number: t.state.name for t in stored_trials(folder)}


def assert_quiet(result: subprocess.CompletedProcess[str]) -> None:
    """The terminal shows the framework's lines only; Ray's output is in ray.log."""
    for line in result.stdout.splitlines():
        assert line.startswith(("ray: ", "trial ", "final: ", "search: ", "tracking: ")), line
    for line in result.stderr.splitlines():
        assert line.startswith("warning: leak check"), line  # the framework's own warnings


# --- bad input ------------------------------------------------------------------------------

FN_STUDY = """
import time
from search import Study
from spaces import Float, Space

def objective(config):
    time.sleep({sleep})
    return (config["x"] - 1.0) ** 2

study = Study(name="fn", space=Space({{"x": Float(-5, 5)}}), objective=objective,
              direction="minimize", trials={trials}, seed=1, pruner="none")
"""


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--gpus-per-trial", "0.5"], "--gpus-per-trial: applies to --backend ray only"),
        (["--address", "auto"], "--address: applies to --backend ray only"),
        (["--backend", "ray", "--cpus-per-trial", "1.5"], "--cpus-per-trial: Ray takes a"),
        (["--backend", "ray", "--address", "127.0.0.1:{closed}"], "--address 127.0.0.1:"),
        (["--backend", "ray", "--gpus-per-trial", "1"], "--gpus-per-trial 1: this machine has 0"),
    ],
)
def test_bad_ray_flags_exit_2_with_one_line_and_write_nothing(flags, message, tmp_path):
    closed = free_port()
    study = write(tmp_path / "study.py", FN_STUDY.format(sleep=0, trials=2))
    args = [f.format(closed=closed) for f in flags]
    result = run_search(study, *args, "--results", tmp_path / "out", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()


def test_the_sealed_test_part_refuses_rays_serializer(tmp_path):
    from ray import cloudpickle

    from search import Data
    from search.core._data import load_and_split

    split = load_and_split(Data("iris"), task="classification", seed=0, base_dir=tmp_path)
    with pytest.raises(TypeError, match="cannot be pickled"):
        cloudpickle.dumps(split.test)
    assert len(cloudpickle.loads(cloudpickle.dumps(split.dev)).X) == len(split.dev.X)


# --- on the session's cluster -----------------------------------------------------------------

SPY_STUDY = """
import gc, json, os, sys, time
from pathlib import Path
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from objectives import FunctionObjective, Pruned
from search import Data, Study
from spaces import Float, Space

SEEN = Path(__file__).parent / "seen.jsonl"
frame = load_breast_cancer(as_frame=True).frame
frame.insert(0, "row_id", range(len(frame)))

def evaluate(config, data, trial):
    sealed = [o for o in gc.get_objects() if type(o).__name__ == "Sealed"]
    with open(SEEN, "a") as f:
        f.write(json.dumps({
            "pid": os.getpid(), "number": trial.number,
            "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "ids": data.X["row_id"].tolist(), "sealed_here": len(sealed),
        }) + "\\n")
    for step in range(3):
        time.sleep(0.1)
        trial.report(config["C"], step)
        if trial.should_prune():
            raise Pruned(f"pruned at step {step}")
    trial.set_attr("fold_scores", [config["C"]] * 2)
    return config["C"]

class WithoutRowId:
    def __init__(self, model):
        self.model = model
    def predict(self, X):
        return self.model.predict(X.drop(columns="row_id"))
    def predict_proba(self, X):
        return self.model.predict_proba(X.drop(columns="row_id"))

def fit(config, data):
    X = data.X.drop(columns="row_id")
    return WithoutRowId(LogisticRegression(C=config["C"], max_iter=200).fit(X, data.y))

study = Study(
    name="spy", data=Data(frame, target="target"), space=Space({"C": Float(0.01, 1.0)}),
    objective=FunctionObjective(evaluate, fit=fit), metric="accuracy", trials=10, seed=5,
    backend="ray", workers=2,
)
"""


def test_a_cluster_run_prunes_seals_and_evaluates_once(cluster, tmp_path):
    from sklearn.datasets import load_breast_cancer

    from search import Data
    from search.core._data import load_and_split

    study = write(tmp_path / "study.py", SPY_STUDY)
    out = tmp_path / "out"
    result = run_search(
        study, "--address", cluster.address, "--no-tracking", "--results", out,
        cwd=tmp_path, env=cluster.env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert_quiet(result)
    folder = out / "spy"
    assert (folder / "ray.log").stat().st_size > 0
    assert sum(line.startswith("trial ") for line in result.stdout.splitlines()) == 10

    rows = read_csv(folder / "trials.csv")
    assert len(rows) == 10  # reproducible: slot 9 sees 5 finished trials and is pruned
    states = {int(r["number"]): r["state"] for r in rows}
    assert "PRUNED" in states.values() and "COMPLETE" in states.values()
    assert store_states(folder) == states  # the store and trials.csv agree
    for r in rows:
        if r["state"] == "COMPLETE":
            assert float(r["value"]) == pytest.approx(float(r["params_C"]))
            assert float(r["fold_0"]) == pytest.approx(float(r["params_C"]))
    best = json.loads((folder / "best.json").read_text())
    complete = [r for r in rows if r["state"] == "COMPLETE"]
    assert best["number"] == int(max(complete, key=lambda r: float(r["value"]))["number"])

    frame = load_breast_cancer(as_frame=True).frame
    frame.insert(0, "row_id", range(len(frame)))
    split = load_and_split(
        Data(frame, target="target"), task="classification", seed=5, base_dir=tmp_path
    )
    test_ids, dev_ids = set(split.test._X["row_id"]), set(split.dev.X["row_id"])
    seen = [json.loads(line) for line in (tmp_path / "seen.jsonl").read_text().splitlines()]
    assert sorted(s["number"] for s in seen) == list(range(10))
    for s in seen:
        assert set(s["ids"]) == dev_ids and not set(s["ids"]) & test_ids
        assert s["sealed_here"] == 0  # no Sealed object in the trial's process
        assert s["cuda"] == ""  # a CPU-only trial sees no GPU on a node that has two
    assert len({s["pid"] for s in seen}) <= 4  # processes are reused between trials

    final = json.loads((folder / "final.json").read_text())
    assert final["trial"] == best["number"] and final["test_rows"] == len(test_ids)
    record = json.loads((folder / "study.json").read_text())
    assert record["backend"] == "ray" and record["status"] == "finished"


GPU_STUDY_TEMPLATE = """
import json, os, time
from pathlib import Path
from search import Study
from spaces import Float, Space

LOG = Path(__file__).parent / "gpus.jsonl"

def objective(config, trial):
    start = time.time()
    time.sleep({sleep})
    with open(LOG, "a") as f:
        f.write(json.dumps({"n": trial.number, "cuda": os.environ["CUDA_VISIBLE_DEVICES"],
                            "start": start, "end": time.time()}) + "\\n")
    return (config["x"] - 0.5) ** 2

study = Study(name="gpu", space=Space({"x": Float(0, 1)}), objective=objective,
              direction="minimize", trials={trials}, seed=0, pruner="none")
"""


GPU_STUDY = GPU_STUDY_TEMPLATE.replace("{sleep}", "2.5").replace("{trials}", "8")


def _running_at(records: list[dict], t: dict) -> list[dict]:
    """The trials running when trial ``t`` started (itself included)."""
    return [r for r in records if r["start"] <= t["start"] < r["end"]]


def _overlapping(records: list[dict]) -> int:
    """The most trials running at one time."""
    return max(len(_running_at(records, t)) for t in records)


def test_fractional_gpus_share_a_gpu_four_trials_at_once(cluster, tmp_path):
    study = write(tmp_path / "study.py", GPU_STUDY)
    result = run_search(
        study, "--backend", "ray", "--address", cluster.address, "--workers", "4",
        "--gpus-per-trial", "0.5", "--cpus-per-trial", "0.5", "--no-final", "--no-tracking",
        "--results", tmp_path / "out", cwd=tmp_path, env=cluster.env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in (tmp_path / "gpus.jsonl").read_text().splitlines()]
    assert len(records) == 8 and _overlapping(records) == 4  # four trials at once, two GPUs
    busiest = max((_running_at(records, t) for t in records), key=len)
    assert sorted(r["cuda"] for r in busiest) == ["0", "0", "1", "1"]  # half a GPU each


DYING_STUDY = """
import os, signal
from pathlib import Path
from search import Study
from spaces import Float, Space

MARKS = Path(__file__).parent

def objective(config, trial):
    mark = MARKS / f"attempt_{trial.number}"
    attempts = int(mark.read_text()) + 1 if mark.exists() else 1
    mark.write_text(str(attempts))
    if trial.number == 0 or attempts == 1:  # trial 0 always dies; the others die once
        os.kill(os.getpid(), signal.SIGKILL)
    return config["x"]

study = Study(name="dying", space=Space({"x": Float(0, 1)}), objective=objective,
              direction="minimize", trials=2, seed=0, pruner="none")
"""


def test_a_trial_whose_process_dies_is_retried_then_failed(cluster, tmp_path):
    study = write(tmp_path / "study.py", DYING_STUDY)
    env = {**cluster.env, "RAY_ADDRESS": cluster.address}  # what `--address auto` finds
    result = run_search(
        study, "--backend", "ray", "--address", "auto", "--max-retries", "1",
        "--no-tracking", "--results", tmp_path / "out", cwd=tmp_path, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = {int(r["number"]): r for r in read_csv(tmp_path / "out" / "dying" / "trials.csv")}
    assert rows[1]["state"] == "COMPLETE" and (tmp_path / "attempt_1").read_text() == "2"
    assert rows[0]["state"] == "FAIL" and (tmp_path / "attempt_0").read_text() == "2"
    assert rows[0]["error"].startswith("its worker died: ") and "(2 attempts)" in rows[0]["error"]


def test_a_killed_driver_resumes_with_no_trial_lost_or_run_twice(cluster, tmp_path):
    body = GPU_STUDY_TEMPLATE.replace("{sleep}", "0.4").replace("{trials}", "8")
    study = write(tmp_path / "study.py", body)
    command = [
        sys.executable, "-m", "search", str(study), "--backend", "ray", "--no-tracking",
        "--address", cluster.address, "--workers", "2", "--gpus-per-trial", "1",
        "--results", str(tmp_path),
    ]  # fmt: skip
    driver = subprocess.Popen(
        command, cwd=tmp_path, env=cluster.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    journal = tmp_path / "gpu" / "study.journal"
    deadline = time.time() + 120
    while time.time() < deadline and driver.poll() is None:
        if journal.exists() and journal.read_text().count('"state":1') >= 3:
            break
        time.sleep(0.05)
    driver.kill()  # SIGKILL: no clean-up of any kind
    driver.communicate(timeout=60)
    before = {int(r["number"]): r for r in _finished(tmp_path / "gpu")}
    assert len(before) >= 3

    result = run_search(*command[3:], "--resume", cwd=tmp_path, env=cluster.env)
    assert result.returncode == 0, result.stderr
    rows = read_csv(tmp_path / "gpu" / "trials.csv")
    counted = [r for r in rows if not r["error"].startswith("abandoned")]
    assert len(counted) == 8 and {r["state"] for r in counted} == {"COMPLETE"}
    assert sorted(int(r["number"]) for r in rows) == list(range(len(rows)))
    after = {int(r["number"]): r for r in _finished(tmp_path / "gpu")}
    for number, row in before.items():  # every trial finished before the kill is kept
        assert after[number] == row
    records = [json.loads(line) for line in (tmp_path / "gpus.jsonl").read_text().splitlines()]
    assert len(records) >= 8 and _overlapping(records) == 2
    for r in records:  # a trial sees the one GPU it was given; the one beside it the other
        beside = [o for o in records if o["start"] <= r["start"] < o["end"] and o is not r]
        assert r["cuda"] in ("0", "1") and all(o["cuda"] != r["cuda"] for o in beside)


def _finished(folder: Path) -> list[dict[str, str]]:
    """The finished trials in the store (trials.csv may lag behind a killed run)."""
    return [
        {"number": str(t.number), "state": t.state.name, "value": repr(t.value)}
        for t in stored_trials(folder)
        if t.state.is_finished()
    ]


# --- a local Ray, started and stopped by the command ------------------------------------------


def test_an_example_runs_on_a_local_ray_with_the_same_layout(tmp_path):
    example = Path(__file__).resolve().parents[2] / "examples" / "imbalanced_smote.py"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("RAY_ADDRESS", None)
    result = run_search(
        example, "--backend", "ray", "--workers", "2", "--trials", "2", "--no-tracking",
        "--results", tmp_path / "ray", cwd=tmp_path, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert_quiet(result)
    assert "a local Ray: 1 node(s), 2 CPUs" in result.stdout
    folder = tmp_path / "ray" / "imbalanced_smote"
    for name in ("study.json", "trials.csv", "best.json", "final.json", "study.journal"):
        assert (folder / name).is_file(), name
    assert (folder / "model").is_dir()
    rows = read_csv(folder / "trials.csv")
    assert len(rows) == 2 and rows[0]["params_C"] == "1.0"  # the default config first
    shown = run_search("show", folder, cwd=tmp_path, env=env)
    assert shown.returncode == 0 and "best: trial" in shown.stdout
