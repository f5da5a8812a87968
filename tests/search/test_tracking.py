"""MLflow tracking through the real command line, read back through a real ``mlflow server``."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port, run_cli, stop_session

pytest.importorskip("mlflow")
#: MLflow's own SQLAlchemy models warn when the test reads the store with MlflowClient
pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy")

TRACKED_STUDY = """
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from objectives import FunctionObjective
from search import Data, Study
from spaces import Float, Space

def evaluate(config, data, trial):
    if trial.number == 2:
        raise ValueError("trial 2 fails on purpose")
    model = LogisticRegression(C=config["C"], max_iter=300)
    scores = [float(s) for s in cross_val_score(model, data.X, data.y, cv=3)]
    for fold, score in enumerate(scores):
        trial.report(score, fold)
    trial.set_attr("fold_scores", scores)
    return sum(scores) / len(scores)

def fit(config, data):
    return LogisticRegression(C=config["C"], max_iter=300).fit(data.X, data.y)

study = Study(
    name="tracked",
    data=Data("iris"),
    space=Space({"C": Float(1e-2, 1e2, log=True, default=1.0)}),
    objective=FunctionObjective(evaluate, fit=fit),
    metric="accuracy",
    trials=5,
    seed=0,
    pruner="none",
)
"""

PLAIN_STUDY = """
from search import Study
from spaces import Float, Space

def objective(config):
    return (config["x"] - 0.3) ** 2

study = Study(name="plain", space=Space({"x": Float(0.0, 1.0)}), objective=objective,
              direction="minimize", trials=3, seed=1)
"""


# -- a real MLflow server on 127.0.0.1 ---------------------------------------------------------


def wait_for(url: str, proc: subprocess.Popen[Any], timeout: float = 180) -> None:
    """Poll ``url`` until it answers 200; fail when the process dies or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited ({proc.returncode}) before answering {url}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


@contextlib.contextmanager
def mlflow_server(store_uri: str, workdir: Path) -> Iterator[str]:
    """``mlflow server`` on ``store_uri`` at a free port; its URL while the block runs."""
    port = free_port()
    log = open(workdir / f"mlflow-server-{port}.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            store_uri,
            "--artifacts-destination",
            str(workdir / "served-artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        # no job consumers: MLflow 3's server starts six huey processes for jobs we never queue
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true",
             "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(f"{url}/health", proc)
        yield url
    finally:
        stop_session(proc)
        log.close()


def api(url: str, endpoint: str, payload: dict[str, Any] | None = None, **query: Any) -> Any:
    """Call MLflow's REST API: GET with ``query``, or POST ``payload``."""
    full = f"{url}/api/2.0/mlflow/{endpoint}"
    if query:
        full += "?" + urllib.parse.urlencode(query)
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(full, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def runs_of(url: str, experiment: str) -> list[dict[str, Any]]:
    found = api(url, "experiments/get-by-name", experiment_name=experiment)
    experiment_id = found["experiment"]["experiment_id"]
    runs = api(url, "runs/search", {"experiment_ids": [experiment_id], "max_results": 1000})
    return runs.get("runs", [])


def pairs(run: dict[str, Any], field: str) -> dict[str, Any]:
    return {p["key"]: p["value"] for p in run["data"].get(field, [])}


def kind(run: dict[str, Any]) -> str:
    return pairs(run, "tags").get("search.kind", "")


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# -- one tracked run, read through the server ----------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A tracked run with a failing trial and a final evaluation, and a server on its store."""
    root = tmp_path_factory.mktemp("tracked")
    study = root / "study.py"
    study.write_text(textwrap.dedent(TRACKED_STUDY), encoding="utf-8")
    result = run_cli(study, "--results", root / "out", cwd=root)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "mlflow" not in result.stderr.lower()
    store = json.loads((root / "out" / "tracked" / "study.json").read_text())["tracking"]["uri"]
    assert store == f"sqlite:///{(root / 'out' / 'mlflow.db').resolve()}"
    with mlflow_server(store, root) as url:
        yield root / "out" / "tracked", url


@pytest.mark.slow
def test_the_parent_run_holds_the_study(served):
    folder, url = served
    runs = runs_of(url, "tracked")
    parents = [r for r in runs if kind(r) == "study"]
    assert len(parents) == 1
    parent = parents[0]
    record = json.loads((folder / "study.json").read_text())
    assert parent["info"]["run_id"] == record["tracking"]["parent_run_id"]
    assert parent["info"]["status"] == "FINISHED"
    params, tags = pairs(parent, "params"), pairs(parent, "tags")
    assert params["metric"] == "accuracy" and params["seed"] == "0"
    assert json.loads(params["space.C"]) == record["space"]["C"]
    fingerprints = record["fingerprints"]
    assert params["data.development.sha256"] == fingerprints["development"]["sha256"]
    assert params["data.test.shape"] == "23x4"
    assert tags["version.optuna"] == record["versions"]["optuna"]
    assert tags["sampler"] == "gp (auto)" and tags["trials"] == "5"  # one numeric parameter

    best = json.loads((folder / "best.json").read_text())
    history = api(
        url, "metrics/get-history", run_id=parent["info"]["run_id"], metric_key="best_value"
    )["metrics"]
    assert history[-1]["value"] == pytest.approx(best["value"])
    assert history[-1]["step"] == best["number"]
    assert [m["value"] for m in history] == sorted(m["value"] for m in history)  # it only rises
    metrics = pairs(parent, "metrics")
    assert metrics["trials_complete"] == 4 and metrics["trials_failed"] == 1
    final = json.loads((folder / "final.json").read_text())
    assert metrics["test_value"] == pytest.approx(final["test_value"])
    # the report attached is the one written after the final evaluation, as on disk
    files = api(url, "artifacts/list", run_id=parent["info"]["run_id"])["files"]
    sizes = {f["path"]: int(f.get("file_size", 0)) for f in files}
    assert sizes["report.html"] == (folder / "report.html").stat().st_size
    assert "study.json" in sizes


@pytest.mark.slow
def test_one_child_run_per_trial_with_params_metrics_state_and_reason(served):
    folder, url = served
    runs = runs_of(url, "tracked")
    parent_id = json.loads((folder / "study.json").read_text())["tracking"]["parent_run_id"]
    children = {int(pairs(r, "tags")["search.trial"]): r for r in runs if kind(r) == "trial"}
    rows = {int(r["number"]): r for r in read_csv(folder / "trials.csv")}
    assert sorted(children) == sorted(rows) == [0, 1, 2, 3, 4]
    for number, run in children.items():
        row, tags = rows[number], pairs(run, "tags")
        assert tags["mlflow.parentRunId"] == parent_id
        assert run["info"]["run_name"] == f"trial {number}"
        assert float(pairs(run, "params")["C"]) == pytest.approx(float(row["params_C"]))
        assert tags["state"] == row["state"]
        metrics = pairs(run, "metrics")
        assert metrics["duration_s"] == pytest.approx(float(row["duration_s"]), abs=0.01)
        if row["state"] == "COMPLETE":
            assert run["info"]["status"] == "FINISHED"
            assert metrics["value"] == pytest.approx(float(row["value"]))
            folds = api(
                url, "metrics/get-history", run_id=run["info"]["run_id"], metric_key="fold_score"
            )["metrics"]
            assert [m["step"] for m in folds] == [0, 1, 2]
            assert [m["value"] for m in folds] == pytest.approx(
                [float(row[f"fold_{i}"]) for i in range(3)]
            )
    failed = children[2]
    assert failed["info"]["status"] == "FAILED"
    assert pairs(failed, "tags")["error"] == "ValueError: trial 2 fails on purpose"
    assert "value" not in pairs(failed, "metrics")


@pytest.mark.slow
def test_the_final_run_holds_test_metrics_report_and_model(served):
    folder, url = served
    final = json.loads((folder / "final.json").read_text())
    runs = [r for r in runs_of(url, "tracked") if kind(r) == "final"]
    assert len(runs) == 1
    run = runs[0]
    assert run["info"]["status"] == "FINISHED"
    assert pairs(run, "tags")["search.trial"] == str(final["trial"])
    metrics = pairs(run, "metrics")
    assert metrics["test_accuracy"] == pytest.approx(final["test_metrics"]["accuracy"])
    assert metrics["validation_value"] == pytest.approx(final["validation_value"])
    assert metrics["generalization_gap"] == pytest.approx(final["generalization_gap"]["gap"])
    run_id = run["info"]["run_id"]
    top = {f["path"] for f in api(url, "artifacts/list", run_id=run_id)["files"]}
    assert {"final.json", "classification_report.json"} <= top
    # the model is an MLflow model logged by the run (MLflow 3's logged models), not files
    experiment = run["info"]["experiment_id"]
    found = api(url, "logged-models/search", {"experiment_ids": [experiment]})["models"]
    assert [(m["info"]["name"], m["info"]["source_run_id"]) for m in found] == [
        ("model", run_id)
    ]


@pytest.mark.slow
def test_a_tracking_uri_sends_the_runs_to_that_server(served, write_study, tmp_path):
    _, url = served
    result = run_cli(
        write_study(PLAIN_STUDY), "--results", tmp_path / "out", "--tracking-uri", url, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "out" / "mlflow.db").exists()
    record = json.loads((tmp_path / "out" / "plain" / "study.json").read_text())
    assert record["tracking"]["uri"] == url
    runs = runs_of(url, "plain")
    assert sorted(kind(r) for r in runs) == ["study", "trial", "trial", "trial"]


# -- without a server -------------------------------------------------------------------------


def client(results: Path) -> Any:
    os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")
    from mlflow import MlflowClient

    return MlflowClient(f"sqlite:///{(results / 'mlflow.db').resolve()}")


def active_runs(results: Path, experiment: str) -> list[Any]:
    c = client(results)
    found = c.get_experiment_by_name(experiment)
    return list(c.search_runs([found.experiment_id], max_results=1000))


@pytest.mark.slow
def test_a_resumed_study_continues_its_parent_run_and_writes_missing_trials(write_study, tmp_path):
    path = write_study(PLAIN_STUDY)
    out = tmp_path / "out"
    first = run_cli(path, "--results", out, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    parent_id = json.loads((out / "plain" / "study.json").read_text())["tracking"]["parent_run_id"]
    children = [r for r in active_runs(out, "plain") if r.data.tags["search.kind"] == "trial"]
    assert len(children) == 3
    lost = next(r for r in children if r.data.tags["search.trial"] == "1")
    client(out).delete_run(lost.info.run_id)  # as if the writer was killed before trial 1

    second = run_cli(path, "--results", out, "--resume", "--trials", "5", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    record = json.loads((out / "plain" / "study.json").read_text())
    assert record["tracking"]["parent_run_id"] == parent_id
    runs = active_runs(out, "plain")
    parents = [r for r in runs if r.data.tags["search.kind"] == "study"]
    assert [p.info.run_id for p in parents] == [parent_id]
    assert parents[0].info.status == "FINISHED"
    numbers = sorted(
        int(r.data.tags["search.trial"]) for r in runs if r.data.tags["search.kind"] == "trial"
    )
    assert numbers == [0, 1, 2, 3, 4]
    assert parents[0].data.metrics["trials_complete"] == 5


@pytest.mark.slow
def test_the_final_command_logs_its_run_under_the_studys_parent_run(write_study, tmp_path):
    path = write_study(TRACKED_STUDY)
    out = tmp_path / "out"
    searched = run_cli(path, "--results", out, "--trials", "2", "--no-final", cwd=tmp_path)
    assert searched.returncode == 0, searched.stderr
    assert "the test set is still sealed" in (out / "tracked" / "report.html").read_text()
    final = run_cli("final", out / "tracked", cwd=tmp_path)
    assert final.returncode == 0, final.stderr
    parent_id = json.loads((out / "tracked" / "study.json").read_text())["tracking"][
        "parent_run_id"
    ]
    runs = [r for r in active_runs(out, "tracked") if r.data.tags["search.kind"] == "final"]
    assert len(runs) == 1 and runs[0].data.tags["mlflow.parentRunId"] == parent_id
    (logged,) = client(out).search_logged_models([runs[0].info.experiment_id])
    assert (logged.name, logged.source_run_id) == ("model", runs[0].info.run_id)
    assert "MLmodel" in {a.path for a in client(out).list_logged_model_artifacts(logged.model_id)}
    page = (out / "tracked" / "report.html").read_text()
    record = json.loads((out / "tracked" / "final.json").read_text())
    assert "Classification report (test)" in page and record["opened_at"] in page


def test_no_tracking_writes_no_mlflow_store(write_study, tmp_path):
    result = run_cli(
        write_study(PLAIN_STUDY), "--results", tmp_path / "out", "--no-tracking", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert len([line for line in result.stdout.splitlines() if line.startswith("trial")]) == 3
    assert not (tmp_path / "out" / "mlflow.db").exists()
    assert "tracking" not in json.loads((tmp_path / "out" / "plain" / "study.json").read_text())


def test_an_unreachable_tracking_server_is_a_user_error_and_writes_nothing(write_study, tmp_path):
    uri = f"http://127.0.0.1:{free_port()}"
    result = run_cli(
        write_study(PLAIN_STUDY), "--results", tmp_path / "out", "--tracking-uri", uri, cwd=tmp_path
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"--tracking-uri {uri}: no MLflow server answers there" in result.stderr
    assert not (tmp_path / "out").exists()


def test_tracking_flags_exclude_each_other(write_study, tmp_path):
    result = run_cli(write_study(PLAIN_STUDY), "--no-tracking", "--tracking-uri", "x", cwd=tmp_path)
    assert result.returncode == 2 and "not allowed with" in result.stderr


def test_import_search_loads_no_mlflow_plotly_or_dashboard():
    code = (
        "import sys, search, search.cli._parse, search.cli._run, search.watching._tracking, search.watching._report; "
        "print(sorted(m for m in ('mlflow', 'plotly', 'optuna_dashboard') if m in sys.modules))"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "[]"


def test_no_watching_module_loads_mlflow_plotly_or_dashboard_on_import():
    code = (
        "import importlib, pkgutil, sys, search.watching as w; "
        "[importlib.import_module(f'search.watching.{m.name}') for m in pkgutil.iter_modules(w.__path__)]; "
        "print(sorted(m for m in ('mlflow', 'plotly', 'optuna_dashboard') if m in sys.modules))"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "[]"
