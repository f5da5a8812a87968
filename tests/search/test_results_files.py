"""Reading a study folder: ``show``, ``report`` and the dashboard only read, and a corrupt
results file (study.json, best.json, final.json) is one line naming it, never a traceback."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, free_port, run_cli, stop_session

STUDY = """
from sklearn.linear_model import LogisticRegression
from objectives import SklearnObjective
from search import Data, Study
from spaces import Float, Space

study = Study(
    name="iris",
    data=Data("iris"),
    space=Space({"C": Float(1e-2, 1e2, log=True)}),
    objective=SklearnObjective(LogisticRegression(max_iter=300), folds=3),
    metric="accuracy",
    trials=4,
    seed=0,
)
"""

RECORDS = ["study.json", "best.json", "final.json"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A study folder after a real run: search, final evaluation, report."""
    root = tmp_path_factory.mktemp("finished")
    study = root / "study.py"
    study.write_text(STUDY, encoding="utf-8")
    done = run_cli(study, "--results", root / "results", "--no-tracking", cwd=root)
    assert done.returncode == 0, done.stderr
    folder = root / "results" / "iris"
    assert {"study.journal", "report.html", *RECORDS} <= {p.name for p in folder.iterdir()}
    return folder


@pytest.fixture
def folder(finished: Path, tmp_path: Path) -> Path:
    """A copy of the finished study folder, for this test alone, without its report."""
    copy = tmp_path / "results" / "iris"
    shutil.copytree(finished, copy)
    (copy / "report.html").unlink()
    return copy


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` and the sha256 of its bytes."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def truncate(path: Path) -> None:
    """Cut a file in half, as a full disk or a killed copy would."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_show_and_report_only_read_the_study(folder, tmp_path):
    before = snapshot(folder)
    journal = (folder / "study.journal").read_bytes()

    shown = run_cli("show", folder, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "best: trial" in shown.stdout
    assert snapshot(folder) == before

    written = run_cli("report", folder, cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    assert written.stdout.strip() == f"report: {folder / 'report.html'}"
    after = snapshot(folder)
    assert set(after) - set(before) == {"report.html"}
    assert {k: v for k, v in after.items() if k != "report.html"} == before
    assert (folder / "study.journal").read_bytes() == journal
    assert set(tmp_path.iterdir()) == {tmp_path / "results"}  # nothing in the working folder


def test_show_of_a_study_with_no_data_says_it_has_no_test_set(tmp_path):
    done = run_cli(ROOT / "examples" / "branin.py", "--trials", "3", "--results", tmp_path,
                   "--no-tracking", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    shown = run_cli("show", tmp_path / "branin", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[-1] == "final: no test set (the study has no data)"
    assert "sealed" not in shown.stdout


def test_report_of_a_study_without_a_journal_creates_none(folder, tmp_path):
    (folder / "study.journal").unlink()
    written = run_cli("report", folder, cwd=tmp_path)
    assert written.returncode == 2, written.stderr  # study.json records trials it no longer has
    assert f"{folder / 'study.journal'}: is missing" in written.stderr
    assert not (folder / "study.journal").exists()
    assert not (folder / "report.html").exists()


@pytest.mark.parametrize("command", ["show", "report"])
@pytest.mark.parametrize("name", RECORDS)
def test_a_truncated_results_file_is_one_line_naming_it(folder, tmp_path, command, name):
    truncate(folder / name)
    before = snapshot(folder)
    result = run_cli(command, folder, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert f"{folder / name}: not valid JSON" in result.stderr
    assert "truncated or corrupt" in result.stderr
    assert result.stdout == ""
    assert snapshot(folder) == before  # nothing written: no report.html, no temporary file


@pytest.mark.parametrize("name", ["study.json", "best.json"])
def test_a_results_file_that_is_not_an_object_is_one_line_naming_it(folder, tmp_path, name):
    (folder / name).write_text("[1, 2]\n", encoding="utf-8")
    for command in ("show", "report"):
        result = run_cli(command, folder, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1
        assert f"{folder / name}: holds a JSON list, not an object" in result.stderr
    assert not (folder / "report.html").exists()


@pytest.mark.parametrize("name, key", [("study.json", "direction"), ("best.json", "params")])
def test_a_results_file_without_a_key_it_needs_is_one_line_naming_it(folder, tmp_path, name, key):
    record = json.loads((folder / name).read_text(encoding="utf-8"))
    del record[key]
    (folder / name).write_text(json.dumps(record), encoding="utf-8")
    for command in ("show", "report"):
        result = run_cli(command, folder, cwd=tmp_path)
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
        assert f"{folder / name}: has no {key}; the file is corrupt" in result.stderr


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


@pytest.mark.slow
def test_the_dashboard_leaves_out_a_study_whose_study_json_is_corrupt(finished, tmp_path):
    pytest.importorskip("optuna_dashboard")
    results = tmp_path / "results"
    shutil.copytree(finished, results / "good")
    shutil.copytree(finished, results / "broken")
    truncate(results / "broken" / "study.json")
    before = snapshot(results)
    port = free_port()
    log = tmp_path / "dash.log"
    dashboard = subprocess.Popen(
        [sys.executable, "-m", "search", "dashboard", str(results), "--port", str(port)],
        cwd=tmp_path,
        stdout=open(log, "wb"),  # noqa: SIM115 - the child owns it
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_served(base, timeout=60)
        for _ in range(3):  # every listing looks again; the broken study is named once
            listed = get(f"{base}/api/studies")["study_summaries"]  # never a 500
            assert [s["study_name"] for s in listed] == ["iris"]
        trials = get(f"{base}/api/studies/{listed[0]['study_id']}")["trials"]
        assert len(trials) == 4
    finally:
        stop_session(dashboard, signal.SIGINT)  # as Ctrl-C would
    told = [
        line
        for line in log.read_text().splitlines()
        if not line.startswith(("dashboard: http", "dashboard: stopped", "MLflow UI: "))
    ]
    broken = results / "broken" / "study.json"
    assert len(told) == 1, told  # one line, said once, and no traceback
    assert told[0].startswith(f"dashboard: study left out: {broken}: not valid JSON")
    assert told[0].endswith("the file is truncated or corrupt")
    assert snapshot(results) == before


def wait_until_served(base: str, timeout: float) -> None:
    """Wait until the dashboard answers (it says 503 while it starts); any other error fails."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/api/meta", timeout=10):
                return
        except urllib.error.HTTPError as exc:
            if exc.code != 503:
                raise
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{base}: not served within {timeout} s")
