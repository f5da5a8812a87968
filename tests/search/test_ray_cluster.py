"""A node of a real two-node Ray cluster dies in the middle of a study.

The cluster runs on this machine: a head (``ray start --head``, 1 CPU, label ``node=head``)
and a second node joined to it (``ray start --address``, 2 CPUs, label ``node=second``), each
``ray start --block`` in a process group of its own, with token authentication on. The study
runs three trial workers (one fits on the head, two on the second node). A trial on the head
waits until the second node is gone, so trials run there first; while two do (each past its
third checkpoint), the test SIGKILLs that node whole: its ``ray start``, its raylet and every
process the raylet started (the fault Ray's own release tests inject by killing raylets). The
run goes on with the head alone, past the moment Ray marks the node dead, and must end as if
nothing had happened: the two lost trials run again on the head from their last checkpoints,
no trial is lost, counted twice or given another's result, and the terminal stays quiet. The
test stops only the processes it started, never with ``ray stop``.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_port, stored_trials
from tests.search.test_ray import (
    RAY,
    _processes_mentioning,
    _stop_with_parent,
    assert_quiet,
    read_csv,
    write,
)

pytestmark = pytest.mark.slow

TRIALS = 8

STUDY = """
import json, os, time
from pathlib import Path
import ray
from search import Study
from spaces import Float, Space

HERE = Path(__file__).parent
RUNS = HERE / "runs.jsonl"
STEPS = 16
KILLED = HERE / "killed"

def note(trial, config, node, event, step=0):
    with open(RUNS, "a") as f:
        f.write(json.dumps({"number": trial.number, "x": config["x"], "y": config["y"],
                            "node": node, "pid": os.getpid(), "event": event, "step": step,
                            "t": time.time()}) + "\\n")

def second_node_dead():
    if not KILLED.exists():
        return False
    second = [n for n in ray.nodes() if n.get("Labels", {}).get("node") == "second"]
    return not any(n["Alive"] for n in second)

def objective(config, trial):
    node = ray.get_runtime_context().get_node_labels()["node"]
    begun = trial.last_checkpoint() or 0  # a retry goes on from its last checkpoint
    note(trial, config, node, "start", begun)
    # a trial on the head waits until the second node is killed and Ray has marked it dead:
    # until then trials run on the second node, and the run lasts past Ray's verdict
    deadline = time.time() + 90
    while node == "head" and not second_node_dead() and time.time() < deadline:
        time.sleep(0.2)
    for step in range(begun, STEPS):
        time.sleep(0.1)
        trial.checkpoint(step + 1, step=step)
        note(trial, config, node, "step", step + 1)
    note(trial, config, node, "end")
    return config["x"] - 2 * config["y"]

study = Study(name="nodes", space=Space({"x": Float(0, 1), "y": Float(0, 1)}),
              objective=objective, direction="minimize", trials={trials}, seed=3, pruner="none")
""".replace("{trials}", str(TRIALS))


@dataclass(frozen=True)
class TwoNodes:
    address: str
    env: dict[str, str]
    second: subprocess.Popen[bytes]  # the `ray start` of the second node


# --- processes ------------------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name, or ``None`` when it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _tree(root: int) -> list[tuple[int, str]]:
    """``root`` and every process below it, each as (pid, start time)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    pids = [root]
    for pid in pids:
        pids.extend(children.get(pid, []))
    return [(pid, fields[19]) for pid in pids if (fields := _stat(pid)) is not None]


def _running(processes: list[tuple[int, str]]) -> list[int]:
    """Those of ``processes`` still running (the same process: a pid may be reused)."""
    return [
        pid
        for pid, started in processes
        if (fields := _stat(pid)) is not None and fields[19] == started and fields[0] != "Z"
    ]


def _kill_node(node: subprocess.Popen[bytes]) -> list[tuple[int, str]]:
    """SIGKILL a node: its `ray start`, raylet and everything they started; what was killed.

    Ray puts each worker in a process group of its own, so the node's group alone would miss
    them: the group is stopped first (no process forks any more), then the whole tree killed.
    """
    os.killpg(node.pid, signal.SIGSTOP)
    processes = _tree(node.pid)
    for pid, _ in processes:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    node.wait(timeout=30)
    return processes


def _wait_for(condition: Callable[[], object], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds:g} s for {what}"
        time.sleep(0.05)


def _start_node(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``ray start ARGS --block`` in a session of its own; returns once it runs."""
    with open(log, "w") as out:
        node = subprocess.Popen(
            [str(RAY), "start", "--block", "--disable-usage-stats", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_stop_with_parent,  # a killed test session leaves no cluster behind
        )

    def started() -> bool:
        assert node.poll() is None, log.read_text()
        return "block forever" in log.read_text()

    _wait_for(started, 120, f"`ray start` to run ({log.name})")
    return node


def _stop_node(node: subprocess.Popen[bytes]) -> list[tuple[int, str]]:
    """Stop a node by its own process handle (never `ray stop`); what it had running."""
    processes = _tree(node.pid)
    if node.poll() is None:
        node.send_signal(signal.SIGTERM)
        try:
            node.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(node.pid, signal.SIGKILL)
            node.wait()
    return processes


@pytest.fixture
def two_nodes() -> Iterator[TwoNodes]:
    """A head with 1 CPU and a second node with 2, on 127.0.0.1, stopped here alone."""
    base = Path(tempfile.mkdtemp(prefix="rc", dir="/tmp"))  # short: Ray's socket paths
    token = base / "auth_token"
    token.write_text(secrets.token_hex(32))
    env = {
        **os.environ,
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN_PATH": str(token),
        "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.pop("RAY_ADDRESS", None)
    address = f"127.0.0.1:{free_port()}"
    temp = ["--temp-dir", str(base / "t"), "--node-ip-address", "127.0.0.1"]
    nodes: list[subprocess.Popen[bytes]] = []
    try:
        nodes.append(_start_node(
            ["--head", "--port", address.rsplit(":", 1)[1], "--num-cpus", "1",
             "--labels", "node=head", "--include-dashboard", "false",
             "--dashboard-port", str(free_port()), *temp],  # 8265 may be another head's
            base / "head.log", env,
        ))  # fmt: skip
        nodes.append(_start_node(
            ["--address", address, "--num-cpus", "2", "--labels", "node=second", *temp],
            base / "second.log", env,
        ))  # fmt: skip
        yield TwoNodes(address=address, env=env, second=nodes[1])
    finally:
        left = [p for node in reversed(nodes) for p in _stop_node(node)]
        _wait_for(
            lambda: not _running(left) and not _processes_mentioning(str(base / "t")),
            30,
            "the test cluster's processes to end",
        )
        shutil.rmtree(base, ignore_errors=True)


# --- the test -------------------------------------------------------------------------------


def _runs(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


def _running_on(records: list[dict], node: str, since: float = math.inf) -> set[int]:
    """Trials that started on ``node`` (less than ``since`` seconds ago) and have not ended."""
    now = time.time()
    started = {
        r["number"]
        for r in records
        if r["node"] == node and r["event"] == "start" and now - r["t"] < since
    }
    ended = {r["number"] for r in records if r["node"] == node and r["event"] == "end"}
    return started - ended


def _two_fresh_trials_on_the_second_node(driver: subprocess.Popen[bytes], runs: Path) -> bool:
    """Two trials run there, each far from its end (16 steps of 0.1 s) and past its third
    checkpoint: none ends, and no new one is handed out there, in the moment between this look
    and the kill."""
    assert driver.poll() is None, "the run ended before the second node ran two trials"
    records = _runs(runs)
    running = _running_on(records, "second", since=1.2)
    steps = {r["number"]: r["step"] for r in records if r["event"] == "step"}
    return len(running) == 2 and all(steps.get(n, 0) >= 3 for n in running)


def test_a_node_killed_mid_study_loses_no_trial(two_nodes, tmp_path):
    study = write(tmp_path / "study.py", STUDY)
    runs = tmp_path / "runs.jsonl"
    out, err = open(tmp_path / "stdout", "w"), open(tmp_path / "stderr", "w")  # noqa: SIM115
    driver = subprocess.Popen(
        [sys.executable, "-m", "search", str(study), "--backend", "ray", "--workers", "3",
         "--address", two_nodes.address, "--no-tracking", "--no-final",
         "--results", str(tmp_path / "out")],
        cwd=tmp_path, env=two_nodes.env, stdout=out, stderr=err, start_new_session=True,
    )  # fmt: skip
    try:
        _wait_for(
            lambda: _two_fresh_trials_on_the_second_node(driver, runs),
            120,
            "two trials running on the second node",
        )
        killed = _kill_node(two_nodes.second)
        (tmp_path / "killed").touch()  # the head's trials go on
        lost = _running_on(_runs(runs), "second")
        driver.wait(timeout=120)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
            driver.wait()
        out.close()
        err.close()
    stdout, stderr = (tmp_path / "stdout").read_text(), (tmp_path / "stderr").read_text()
    assert driver.returncode == 0, stderr
    assert_quiet(subprocess.CompletedProcess(driver.args, 0, stdout, stderr))  # Ray's: ray.log
    assert sum(line.startswith("trial ") for line in stdout.splitlines()) == TRIALS

    folder = tmp_path / "out" / "nodes"
    trials = stored_trials(folder)
    counted = [t for t in trials if "search:abandoned" not in t.system_attrs]
    assert len(counted) == TRIALS and {t.state.name for t in counted} == {"COMPLETE"}
    assert [t.number for t in trials] == list(range(len(trials)))
    assert not [t.number for t in trials if t.state.name == "RUNNING"]
    for t in trials:  # each value is its own trial's: no result went to another trial
        assert t.value == pytest.approx(t.params["x"] - 2 * t.params["y"])

    records = _runs(runs)
    ends = {r["number"]: r for r in records if r["event"] == "end"}  # each trial's last
    assert len(lost) == 2
    ran_there = {r["pid"] for r in records if r["node"] == "second"}
    assert ran_there <= {pid for pid, _ in killed}  # the kill took the trials' processes
    for t in trials:
        deaths = t.user_attrs.get("worker_deaths", [])
        where = ends[t.number]
        assert (where["x"], where["y"]) == (t.params["x"], t.params["y"])  # its own config
        assert t.system_attrs["search:worker"].endswith(f":{where['pid']}")
        if t.number in lost:  # it ran again, on the head, after its node died, from its
            assert len(deaths) == 1 and deaths[0].startswith("attempt 1 on "), deaths
            assert where["node"] == "head"  # last checkpoint (steps 1-2 were surely recorded)
            again = [r for r in records if r["number"] == t.number and r["event"] == "start"]
            assert [r["node"] for r in again] == ["second", "head"]
            assert again[0]["step"] == 0 and again[1]["step"] >= 2, again
        else:
            assert deaths == [], (t.number, deaths)

    rows = {int(r["number"]): r for r in read_csv(folder / "trials.csv")}
    assert {n: (r["state"], float(r["value"])) for n, r in rows.items()} == {
        t.number: (t.state.name, t.value) for t in trials
    }
    _wait_for(lambda: not _running(killed), 30, "the killed node's processes to be gone")
    assert not _running(killed)
