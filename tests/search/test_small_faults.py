"""Issue 26 item 8, four small faults, each through the real command line: concurrent ``report``
commands, workers beyond the trial budget, a dead Ray actor's cause, and the dashboard's
``Host`` rule."""

from __future__ import annotations

import contextlib
import csv
import http.client
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, free_port, run_cli, stop_session

HAS_RAY = importlib.util.find_spec("ray") is not None
if HAS_RAY:
    from tests.search.test_ray import cluster  # noqa: F401 - the session's one Ray head

WORKER_COUNTING_STUDY = """
import os, time
from pathlib import Path
from search import Study
from spaces import Float, Space

def workers_of(driver):
    '''The driver's trial workers: spawned children that lead a process group of their own.'''
    found = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat[1]) == driver and int(stat[2]) == int(entry.name) and b"spawn_main" in cmdline:
            found += 1
    return found

def objective(config):
    seen, deadline = 0, time.monotonic() + {wait}
    while time.monotonic() < deadline:  # the other workers may still be starting
        seen = max(seen, workers_of(os.getppid()))
        time.sleep(0.1)
    with open(Path(__file__).parent / "seen.txt", "a") as f:
        f.write(f"{{seen}}\\n")
    return config["x"]

study = Study(name="{name}", space=Space({{"x": Float(0.0, 1.0)}}), objective=objective,
              direction="minimize", trials=5, seed=0, pruner="none")
"""


def _study(tmp_path: Path, name: str, wait: float) -> Path:
    path = tmp_path / f"{name}.py"
    path.write_text(WORKER_COUNTING_STUDY.format(name=name, wait=wait), encoding="utf-8")
    return path


# --- 1. concurrent `report` commands ----------------------------------------------------------


def test_concurrent_report_commands_each_write_a_whole_page_and_leave_no_temporary_file(tmp_path):
    study = _study(tmp_path, "reported", wait=0)
    done = run_cli(study, "--trials", "3", "--no-tracking", "--results", tmp_path / "out",
                   cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "out" / "reported"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    for _ in range(2):  # rounds of four commands at once on one folder
        commands = [
            subprocess.Popen([sys.executable, "-m", "search", "report", str(folder)], cwd=tmp_path,
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(4)
        ]
        for command in commands:
            out, err = command.communicate(timeout=300)
            assert command.returncode == 0, err
        page = (folder / "report.html").read_text(encoding="utf-8")
        assert page.rstrip().endswith("</html>")
        left = [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]
        assert not left, left


# --- 2. no more workers than the budget can use ------------------------------------------------


def test_a_budget_of_one_trial_starts_one_worker_whatever_workers_says(tmp_path):
    study = _study(tmp_path, "one", wait=3)
    done = run_cli(study, "--workers", "8", "--trials", "1", "--no-tracking",
                   "--results", tmp_path / "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "seen.txt").read_text().split() == ["1"]
    record = json.loads((tmp_path / "out" / "one" / "study.json").read_text())
    assert record["workers"] == 1 and record["trials"] == 1
    assert "--workers" in record["command"]  # what was asked stays on record


def test_workers_within_the_budget_all_start(tmp_path):
    study = _study(tmp_path, "two", wait=3)
    done = run_cli(study, "--workers", "2", "--trials", "2", "--no-tracking",
                   "--results", tmp_path / "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "seen.txt").read_text().split() == ["2", "2"]  # the count sees them


def test_a_study_without_a_trial_limit_keeps_its_workers():
    from search import Study

    study = Study(name="n", objective=lambda config: 0.0, direction="minimize", workers=4,
                  trials=None)
    assert study.within_budget() is study
    assert Study(name="n", objective=abs, direction="minimize", workers=4,
                 trials=9).within_budget().workers == 4
    assert Study(name="n", objective=abs, direction="minimize", workers=4,
                 trials=3).within_budget().workers == 3


# --- 3. a dead Ray actor's cause ----------------------------------------------------------------

DYING_ON_RAY = """
import os, signal, sys
from search import Study
from spaces import Float, Space

def objective(config):
    {body}

study = Study(name="{name}", space=Space({{"x": Float(0, 1)}}), objective=objective,
              direction="minimize", trials=1, seed=0, pruner="none")
"""


def _ray_error(cluster: Any, tmp_path: Path, name: str, body: str) -> str:
    study = tmp_path / f"{name}.py"
    study.write_text(DYING_ON_RAY.format(name=name, body=body), encoding="utf-8")
    env = {**cluster.env, "RAY_ADDRESS": cluster.address}
    result = subprocess.run(
        [sys.executable, "-m", "search", str(study), "--backend", "ray", "--address", "auto",
         "--max-retries", "0", "--no-tracking", "--results", str(tmp_path / "out")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr  # no complete trial
    with open(tmp_path / "out" / name / "trials.csv", newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert row["state"] == "FAIL"
    return row["error"]


@pytest.mark.skipif(not HAS_RAY, reason="the Ray backend needs the ray extra")
def test_a_ray_trial_killed_by_a_signal_says_so_and_that_ray_records_no_more(cluster, tmp_path):  # noqa: F811
    error = _ray_error(cluster, tmp_path, "killed", "os.kill(os.getpid(), signal.SIGKILL)")
    assert error.startswith("its worker died: killed by a signal or os._exit (pid "), error
    assert "Ray records neither the signal nor the exit code" in error


@pytest.mark.skipif(not HAS_RAY, reason="the Ray backend needs the ray extra")
def test_a_ray_trial_that_exits_names_its_exit_code(cluster, tmp_path):  # noqa: F811
    error = _ray_error(cluster, tmp_path, "exits", "sys.exit(3)")
    assert error.startswith("its worker died: exit code 3 (pid "), error


# --- 4. the dashboard answers its own address only ---------------------------------------------


def _ask(port: int, host: str | None) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest("GET", "/api/studies", skip_host=True)
        if host is not None:
            conn.putheader("Host", host)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def test_the_dashboard_refuses_a_request_for_another_host(tmp_path):
    pytest.importorskip("optuna_dashboard")
    results = tmp_path / "results"
    results.mkdir()
    port = free_port()
    log = tmp_path / "dash.log"
    dashboard = subprocess.Popen(
        [sys.executable, "-m", "search", "dashboard", str(results), "--port", str(port)],
        cwd=tmp_path, stdout=open(log, "wb"), stderr=subprocess.STDOUT,  # noqa: SIM115
        start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError):
                if _ask(port, f"127.0.0.1:{port}")[0] == 200:
                    break
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}"):
            status, body = _ask(port, host)
            assert status == 200 and json.loads(body) == {"study_summaries": []}, (host, body)
        for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1:{port + 1}",
                     f"localhost.evil.example:{port}", None):
            status, body = _ask(port, host)
            assert status == 421, (host, status, body)
            assert body.startswith("dashboard: refused: the request names ") and \
                f"http://127.0.0.1:{port}/dashboard" in body, body
            assert "study_summaries" not in body
    finally:
        stop_session(dashboard, signal.SIGINT)


def test_the_host_gate_passes_the_local_names_only():
    from search.watching._dashboard import addressed_here

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [b"studies"]

    gate = addressed_here(app, 8080)
    seen: list[str] = []

    def ask(host: str) -> bytes:
        return b"".join(gate({"HTTP_HOST": host}, lambda status, headers: seen.append(status)))

    assert ask("[::1]:8080") == b"studies" and seen.pop() == "200 OK"
    assert ask("127.0.0.1:8080") == b"studies" and seen.pop() == "200 OK"
    assert ask("127.0.0.1") != b"studies" and seen.pop().startswith("421")
    assert ask("attacker.test:8080") != b"studies" and seen.pop().startswith("421")
