"""Issue 22 item 6, the driver's edges, each through the real command line: two runs of one study
started together (local and local, Ray and local); the Ray connect-back port under silent,
garbage, scanning and wrongly keyed connections; a driver killed between ``study.json`` and its
journal; resources per trial that no Ray node has; and what a killed driver leaves (MLflow's
writer, the local Ray it started). Two tests start a local Ray each (a run's own Ray is what they
test); nothing here touches a Ray this file did not start.
"""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from multiprocessing.connection import AuthenticationError, Client
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import stored_trials

HAS_RAY = importlib.util.find_spec("ray") is not None
HAS_MLFLOW = importlib.util.find_spec("mlflow") is not None
needs_ray = pytest.mark.skipif(not HAS_RAY, reason="the Ray backend needs the ray extra")

STUDY = """
import time
from search import Study
from spaces import Float, Space

def objective(config):
    time.sleep({sleep})
    return (config["x"] - 1.0) ** 2

study = Study(name="fn", space=Space({{"x": Float(-5, 5)}}), objective=objective,
              direction="minimize", trials={trials}, seed=1, pruner="none")
"""

#: ``python -m search ARGS`` once the framework is imported, at the instant ``argv[1]``: two
#: runs started with it take the run lock within a millisecond or so of each other
AT_ONCE = (
    "import runpy, sys, time; import search.cli._session; "
    "time.sleep(max(0.0, float(sys.argv[1]) - time.time())); "
    "sys.argv = ['search', *sys.argv[2:]]; runpy.run_module('search', run_name='__main__')"
)


def write(folder: Path, sleep: float, trials: int) -> Path:
    path = folder / "study.py"
    path.write_text(STUDY.format(sleep=sleep, trials=trials), encoding="utf-8")
    return path


def env_for() -> dict[str, str]:
    """The environment of a run: a local Ray, never a cluster ``RAY_ADDRESS`` names."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("RAY_ADDRESS", None)
    return env


def search(*args: Any, cwd: Path, **popen: Any) -> subprocess.Popen[str]:
    """``python -m search ARGS``, started."""
    return subprocess.Popen([sys.executable, "-m", "search", *map(str, args)], cwd=cwd,
                            env=env_for(), text=True, **popen)


def finished(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def rows(folder: Path) -> list[dict[str, str]]:
    with open(folder / "trials.csv", newline="") as f:
        return list(csv.DictReader(f))


def completed(folder: Path) -> int:
    log = folder / "search.log"
    return log.read_text().count(" COMPLETE ") if log.exists() else 0


def wait_for(check: Any, timeout: float, what: str, proc: Any = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        assert proc is None or proc.poll() is None, f"the run ended before {what}"
        time.sleep(0.05)
    raise AssertionError(f"no {what} within {timeout} s")


def descendants(pid: int) -> dict[int, str]:
    """The processes below ``pid``: pid -> start time (which tells it from a later one)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parents.setdefault(int(stat[1]), []).append(int(entry.name))
    found, todo = {}, [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            if started(child):
                found[child] = started(child)
                todo.append(child)
    return found


def started(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if stat[0] == "Z" else stat[19]


def running(processes: dict[int, str]) -> list[int]:
    return [pid for pid, at in processes.items() if started(pid) == at]


def gone_within(processes: dict[int, str], seconds: float) -> tuple[float, list[int]]:
    """Seconds until none of ``processes`` runs (or ``seconds``), and those still running."""
    start = time.monotonic()
    while running(processes) and time.monotonic() - start < seconds:
        time.sleep(0.05)
    return time.monotonic() - start, running(processes)


def end_all(processes: dict[int, str]) -> None:
    """Kill what a failed test leaves of the processes its own driver started."""
    for pid in running(processes):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


# --- 1, 2. two runs started together; the connect-back port ----------------------------------


def at_once(start: float, *args: Any, cwd: Path) -> subprocess.Popen[str]:
    """``python -m search ARGS`` released at the instant ``start``."""
    return subprocess.Popen([sys.executable, "-c", AT_ONCE, str(start), *map(str, args)],
                            cwd=cwd, env=env_for(), text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def first_exit(runs: list[subprocess.Popen[str]]) -> int:
    """The index of the run that exits first."""
    while True:
        for i, proc in enumerate(runs):
            if proc.poll() is not None:
                return i
        time.sleep(0.01)


def assert_lost(proc: subprocess.Popen[str]) -> None:
    """The run that lost the race: exit 2, one line, nothing else, no Ray started."""
    code, out, err = finished(proc)
    assert code == 2 and err.count("\n") == 1, err
    assert "this study is being run by another process" in err, err
    assert out == ""  # no "ray:" line: the loser never reached a backend
    if HAS_RAY:
        from ray._common.utils import get_default_ray_temp_dir

        started_ray = list(Path(get_default_ray_temp_dir()).glob(f"session_*_{proc.pid}"))
        assert not started_ray, started_ray  # a local Ray's session is named by its driver


def test_two_local_runs_of_one_study_started_together_give_one_run_and_one_exit_2(tmp_path):
    study = write(tmp_path, sleep=0.0, trials=3)
    start = time.time() + 1.5  # both import first, then take the lock at the same instant
    args = (study, "--no-tracking", "--results", tmp_path / "r")
    runs = [at_once(start, *args, cwd=tmp_path) for _ in range(2)]
    codes = [run.wait(timeout=120) for run in runs]
    assert sorted(codes) == [0, 2], [finished(run) for run in runs]
    assert_lost(runs[codes.index(2)])
    assert (tmp_path / "r" / "fn" / "study.journal").read_text().count('{"op_code":0,') == 1
    assert [row["state"] for row in rows(tmp_path / "r" / "fn")] == ["COMPLETE"] * 3


#: the trials of the Ray run whose connect-back port is probed
TRIALS = 240


@needs_ray
def test_a_ray_run_and_a_local_run_started_together_then_connections_that_are_not_our_actors(
    tmp_path,
):
    """A Ray run and a local run of one study released at one instant: one runs, the other is
    exit 2 at once (a Ray run that loses never starts Ray). Then, on the Ray run, connections to
    its connect-back port that are not this run's actors (silent, an HTTP request, a port scan,
    the protocol with a wrong key) are dropped and logged, and the trials keep their rate."""
    study = write(tmp_path, sleep=0.05, trials=TRIALS)  # 2 workers: 6 s at the very least
    start = time.time() + 1.5
    ray_args = ("--backend", "ray", "--workers", "2", "--no-tracking")
    runs = [at_once(start, study, *ray_args, "--results", tmp_path / "r", cwd=tmp_path),
            at_once(start, study, "--trials", "3", "--no-tracking", "--results", tmp_path / "r",
                    cwd=tmp_path)]
    try:
        first = first_exit(runs)
        assert_lost(runs[first])
        folder = tmp_path / "r" / "fn"
        if first == 0:  # the local run won; the Ray run to probe runs the study elsewhere
            runs.append(search(study, *ray_args, "--results", tmp_path / "r2", cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE))
            assert finished(runs[1])[0] == 0
            assert folder.joinpath("study.journal").read_text().count('{"op_code":0,') == 1
            assert [row["state"] for row in rows(folder)] == ["COMPLETE"] * 3
            folder = tmp_path / "r2" / "fn"
        probe_connect_back(runs[-1] if first == 0 else runs[0], folder)
    finally:
        for run in runs:  # a failed assertion leaves no run behind (a Ray run's guard ends its Ray)
            if run.poll() is None:
                run.kill()


def listener_address(folder: Path, run: Any) -> tuple[str, int]:
    log = folder / "ray.log"

    def address() -> Any:
        found = log.exists() and re.search(r"connect back to (\S+):(\d+)", log.read_text())
        return found and (found.group(1), int(found.group(2)))

    return wait_for(address, 60, "connect-back address in ray.log", run)


def garbage_then_close(address: tuple[str, int]) -> None:
    with socket.create_connection(address, timeout=5) as s:
        s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n" * 4)
        with contextlib.suppress(OSError):
            s.recv(1024)


def probe_connect_back(run: subprocess.Popen[str], folder: Path) -> None:
    try:
        address = listener_address(folder, run)
        wait_for(lambda: completed(folder) >= 3, 60, "trials", run)
        before = completed(folder)
        silent = socket.create_connection(address)  # says nothing
        garbage_then_close(address)  # an HTTP request, as a health check or a scanner sends
        socket.create_connection(address).close()  # a port scan: connect and go
        with pytest.raises((AuthenticationError, OSError, EOFError)):
            Client(address, authkey=b"not this run's key")  # the protocol, the wrong key
        time.sleep(2.0)
        during = completed(folder) - before  # the silent connection is still open
        silent.settimeout(8)
        with contextlib.suppress(OSError):
            while silent.recv(4096):  # the challenge, then the driver closes it
                pass
        silent.close()
        code, out, err = finished(run)
    finally:
        if run.poll() is None:
            run.kill()
    assert code == 0, err
    assert during >= 10, f"{during} trials finished in 2 s while a connection stayed silent"
    assert "Traceback" not in err and "Traceback" not in out
    assert [row["state"] for row in rows(folder)] == ["COMPLETE"] * TRIALS
    dropped = [line for line in (folder / "search.log").read_text().splitlines()
               if "connect-back: dropped a connection from" in line]
    assert len(dropped) == 4, dropped
    for said in ("no handshake within 5 s", "not the handshake", "failed the authentication",
                 "before authenticating"):
        assert sum(said in line for line in dropped) == 1, (said, dropped)


# --- 3. a driver killed after study.json, before its journal ---------------------------------


def test_a_driver_killed_as_study_json_appears_leaves_a_folder_the_next_command_continues(
    tmp_path,
):
    """SIGKILL as soon as ``study.json`` exists: the kill lands either before the study's
    start is committed (``study.json`` says ``starting``: no trial ran, the journal is absent
    or holds part of the study) or just after it. Either way ``--resume`` runs the whole
    study: a start that was not committed is taken over and started afresh, said in one line."""
    study = write(tmp_path, sleep=0.0, trials=3)
    folder = tmp_path / "r" / "fn"
    args = (study, "--no-tracking", "--results", tmp_path / "r")
    driver = search(*args, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not (folder / "study.json").exists() and time.monotonic() < deadline:
        pass  # as tight as it gets: the window is a few milliseconds
    driver.kill()
    assert driver.wait(timeout=30) == -signal.SIGKILL
    status = json.loads((folder / "study.json").read_text())["status"]
    assert status in ("starting", "running"), status

    code, out, err = finished(search(*args, "--resume", cwd=tmp_path, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE))
    assert code == 0, err
    assert ("starting it afresh" in out) == (status == "starting"), out
    assert [t.state.name for t in stored_trials(folder)] == ["COMPLETE"] * 3
    assert (folder / "study.journal").read_text().count('{"op_code":0,') == 1
    assert json.loads((folder / "study.json").read_text())["status"] == "searched"


# --- 4. resources per trial that no node has -------------------------------------------------


@needs_ray
def test_resources_per_trial_that_no_ray_node_has_are_exit_2_before_ray_starts(tmp_path):
    study = write(tmp_path, sleep=0.0, trials=2)
    cases = {  # flags -> what the one line says
        ("--cpus-per-trial", "1024"): "--cpus-per-trial 1024: this machine (a local Ray's one "
                                      "node) has",
        ("--gpus-per-trial", "1"): "--gpus-per-trial 1: this machine has 0 GPU(s)",
    }
    if Path("/dev/nvidia0").exists():
        del cases[("--gpus-per-trial", "1")]
    runs = [(flags, said, search(study, "--backend", "ray", *flags, "--no-tracking",
                                 "--results", tmp_path / f"out{i}", cwd=tmp_path,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE))
            for i, (flags, said) in enumerate(cases.items())]
    for flags, said, run in runs:
        code, out, err = finished(run)
        assert code == 2 and err.count("\n") == 1, (flags, err)
        assert said in err and "so no Ray node can run one trial" in err, err
        assert "ray:" not in out  # refused before a local Ray started
    assert not list(tmp_path.glob("out*")), "nothing is written"


# --- 5. helpers a killed driver leaves -------------------------------------------------------


def holds_open(pid: int, path: Path) -> bool:
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                if os.readlink(fd) == str(path):
                    return True
    return False


@needs_ray
@pytest.mark.skipif(not HAS_MLFLOW, reason="tracking needs MLflow")
def test_a_killed_driver_takes_its_tracking_writer_and_the_local_ray_it_started_along(tmp_path):
    """SIGKILL, mid-search, the driver of a tracked run on a local Ray: MLflow's writer goes
    within 2 s, the Ray processes the driver started (GCS, raylet, agents, actors) within 10 s;
    only this driver's own processes are looked at."""
    study = write(tmp_path, sleep=0.05, trials=100000)
    driver = search(study, "--backend", "ray", "--workers", "2", "--results", tmp_path / "r",
                    cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    below: dict[int, str] = {}
    try:
        db = (tmp_path / "r" / "mlflow.db").resolve()
        writer = wait_for(lambda: [p for p in descendants(driver.pid) if holds_open(p, db)],
                          120, "MLflow writer with mlflow.db open", driver)
        wait_for(lambda: completed(tmp_path / "r" / "fn") >= 5, 60, "trials", driver)
        below = descendants(driver.pid)
        names = " ".join(Path(f"/proc/{pid}/cmdline").read_text() for pid in running(below))
        assert "raylet" in names and "ray::DashboardAgent" in names, names
        driver.kill()
        driver.wait(timeout=30)
        writer_took, writer_left = gone_within({p: below[p] for p in writer}, 5.0)
        took, left = gone_within(below, 10.0)
    finally:
        end_all(below)  # only what this test's driver started
        if driver.poll() is None:
            driver.kill()
    assert not writer_left and writer_took < 2.0, f"the writer ran {writer_took:.1f} s on"
    assert not left, f"still running after {took:.1f} s: {left}"
