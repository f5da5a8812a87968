"""Watching a sweep: ``python -m search dashboard`` (optuna-dashboard's HTTP API over live
study stores) and the progress bar a terminal gets."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import re
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, free_port, run_cli, stop_session

pytest.importorskip("optuna_dashboard")

SLOW_STUDY = """
import time
from search import Study
from spaces import Float, Space

def objective(config):
    time.sleep(0.4)
    return (config["x"] - 0.3) ** 2

study = Study(name="{name}", space=Space({{"x": Float(0.0, 1.0)}}), objective=objective,
              direction="minimize", trials={trials}, seed=2)
"""


def start(args: list[str | Path], cwd: Path, log: Path) -> subprocess.Popen[Any]:
    """``python -m search ARGS`` in the background, in its own session, output to ``log``."""
    return subprocess.Popen(
        [sys.executable, "-m", "search", *map(str, args)],
        cwd=cwd,
        stdout=open(log, "wb"),  # noqa: SIM115 - the child owns it
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"},
    )


def stop(proc: subprocess.Popen[Any]) -> None:
    stop_session(proc, signal.SIGINT)  # as Ctrl-C would


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def poll(check: Any, timeout: float, what: str) -> Any:
    """Call ``check`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError, KeyError):
            found = check()
            if found:
                return found
        time.sleep(0.3)
    raise TimeoutError(f"{what}: not seen within {timeout} s")


@pytest.mark.slow
def test_the_dashboard_lists_a_running_study_and_its_trials_as_they_finish(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    study = tmp_path / "slow.py"
    study.write_text(SLOW_STUDY.format(name="slow", trials=60), encoding="utf-8")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    dashboard = start(["dashboard", results, "--port", port], tmp_path, tmp_path / "dash.log")
    run = None
    try:
        poll(lambda: get(f"{base}/api/studies") == {"study_summaries": []}, 60, "empty list")
        run = start([study, "--results", results, "--no-tracking"], tmp_path, tmp_path / "run.log")
        summaries = poll(lambda: get(f"{base}/api/studies")["study_summaries"], 60, "the study")
        assert [(s["study_name"], s["directions"]) for s in summaries] == [("slow", ["minimize"])]
        study_id = summaries[0]["study_id"]

        def finished(at_least: int) -> list[dict[str, Any]]:
            trials = get(f"{base}/api/studies/{study_id}")["trials"]
            done = [t for t in trials if t["state"] == "Complete"]
            return trials if len(done) >= at_least else []

        early = poll(lambda: finished(2), 60, "two finished trials")
        assert run.poll() is None, "the study should still be running"
        later = poll(lambda: finished(len(early) + 3), 60, "more finished trials")
        assert run.poll() is None, "the study should still be running"
        assert len(later) > len(early)
        numbers = [t["number"] for t in later]
        assert numbers == list(range(len(later)))
        first = later[0]
        assert first["study_id"] == study_id and first["params"][0]["name"] == "x"
        assert isinstance(first["values"][0], float)
        one = get(f"{base}/api/studies/{study_id}")
        assert one["name"] == "slow" and one["union_search_space"][0]["name"] == "x"
    finally:
        if run is not None:
            stop(run)
        stop(dashboard)
    told = (tmp_path / "dash.log").read_text()
    assert f"dashboard: http://127.0.0.1:{port}/dashboard" in told
    assert "mlflow ui --backend-store-uri sqlite:///" in told


@pytest.mark.slow
def test_the_dashboard_reads_several_studies_and_never_writes(tmp_path):
    results = tmp_path / "results"
    for name in ("first", "second"):
        path = tmp_path / f"{name}.py"
        path.write_text(SLOW_STUDY.format(name=name, trials=2), encoding="utf-8")
        done = run_cli(path, "--results", results, "--no-tracking", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    before = {p: p.stat().st_size for p in results.glob("*/study.journal")}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    dashboard = start(["dashboard", results, "--port", port], tmp_path, tmp_path / "dash.log")
    try:
        summaries = poll(
            lambda: (
                len(get(f"{base}/api/studies")["study_summaries"]) == 2
                and get(f"{base}/api/studies")["study_summaries"]
            ),
            60,
            "two studies",
        )
        ids = {s["study_name"]: s["study_id"] for s in summaries}
        trial_ids = set()
        for name, study_id in ids.items():
            trials = get(f"{base}/api/studies/{study_id}")["trials"]
            assert [t["number"] for t in trials] == [0, 1], name
            trial_ids |= {t["trial_id"] for t in trials}
        assert len(trial_ids) == 4  # trial ids stay distinct across the studies' journals
        study_id, trial_id = ids["first"], min(trial_ids)
        writes = [
            ("POST", "/api/studies", {"study_name": "new", "directions": ["minimize"]}),
            ("PUT", f"/api/studies/{study_id}/note", {"version": 1, "body": "a note"}),
            ("PUT", f"/api/studies/{study_id}/{trial_id}/note", {"version": 1, "body": "x"}),
            ("POST", f"/api/studies/{study_id}/rename", {"study_name": "renamed"}),
            ("DELETE", f"/api/studies/{study_id}", None),
            ("POST", f"/api/trials/{trial_id}/tell", {"state": "Fail"}),
            ("POST", f"/api/trials/{trial_id}/user-attrs", {"user_attrs": {"a": 1}}),
            ("PATCH", f"/api/studies/{study_id}", {}),
        ]
        for method, path, payload in writes:
            assert refused(base + path, method, payload) == (
                f"{method} refused: the search dashboard only reads the study stores; "
                "change a study through its run"
            )
        assert [s["study_name"] for s in get(f"{base}/api/studies")["study_summaries"]] == [
            "first",
            "second",
        ]
    finally:
        stop(dashboard)
    assert {p: p.stat().st_size for p in results.glob("*/study.journal")} == before
    assert not (results / "new").exists()
    told = (tmp_path / "dash.log").read_text()
    assert "Traceback" not in told and "Error" not in told, told


def refused(url: str, method: str, payload: Any) -> str:
    """Send a write; it must be answered 405 with a one-line reason. The reason."""
    request = urllib.request.Request(
        url,
        data=None if payload is None else json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method=method,
    )
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=10)
    assert answer.value.code == 405, (method, url)
    assert answer.value.headers["Allow"] == "GET, HEAD"
    reason = json.load(answer.value)["reason"]
    assert "\n" not in reason
    return str(reason)


def test_a_missing_results_folder_is_a_user_error(tmp_path):
    result = run_cli("dashboard", tmp_path / "nowhere", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "nowhere: no such folder" in result.stderr


def test_a_busy_port_is_a_user_error(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("dashboard", tmp_path, "--port", port, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert f"--port {port}: 127.0.0.1:{port} is already in use" in result.stderr


QUICK_STUDY = """
from search import Study
from spaces import Float, Space

def objective(config, trial):
    if trial.number == 3:
        raise ValueError("no luck [this time]")
    return (config["x"] - 0.3) ** 2

study = Study(name="quick", space=Space({"x": Float(0.0, 1.0)}), objective=objective,
              direction="minimize", trials=6, seed=4)
"""


def test_a_terminal_gets_a_live_progress_bar(tmp_path):
    study = tmp_path / "quick.py"
    study.write_text(QUICK_STUDY, encoding="utf-8")
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "search",
            str(study),
            "--results",
            str(tmp_path / "out"),
            "--no-tracking",
        ],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=child,
        stderr=child,
        env={**os.environ, "TERM": "xterm-256color", "COLUMNS": "160", "LINES": "40"},
    )
    os.close(child)
    chunks = []
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 1.0)
            if ready:
                try:
                    data = os.read(main, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(main)
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode(errors="replace"))
    assert "quick" in shown and "6/6" in shown
    assert "1 failed" in shown and "best" in shown and "ETA" in shown
    assert "new best" in shown
    assert "trial    3 FAIL ValueError: no luck [this time]" in shown
    assert "COMPLETE" not in shown  # the line-per-trial format is for pipes
