"""Trial runs written in bulk into an embedded store read back, through MLflow's own client,
exactly as the runs the client writes one by one."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from search.core._folder import trial_dir
from search.watching._tracking_writer import RunWriter

pytest.importorskip("mlflow")
pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy")

START = 1_790_000_000_000


def record(number: int, state: str, **extra: Any) -> dict[str, Any]:
    """A finished trial as the driver hands it to the writer."""
    return {
        "number": number,
        "state": state,
        "value": None,
        "values": {},
        "params": {"C": 0.5 + number, "kernel": "rbf", "model.depth": number},
        "steps": {},
        "folds": [],
        "train_score": None,
        "error": None,
        "start": START + 1000 * number,
        "end": START + 1000 * number + 700,
        **extra,
    }


RECORDS = [
    record(0, "COMPLETE", value=0.91, folds=[0.9, 0.92, 0.91], train_score=0.99),
    record(1, "PRUNED", steps={0: 0.5, 1: 0.6, 3: 0.55}),
    record(2, "FAIL", error="ValueError: trial 2 fails on purpose"),
    record(3, "COMPLETE", value=0.8, folds=[0.8, math.nan, 0.8]),  # a fold that failed
    record(4, "COMPLETE", values={"accuracy": 0.7, "seconds": 2.5}),  # two objectives
    record(5, "COMPLETE", value=0.85, end=None),  # no end time: now, as the writer says
    record(6, "COMPLETE", value=0.88),  # a network: its epochs, from history.json below
]

HISTORY = {  # trial 6's per-epoch history, as a network objective writes it
    "holdout": {
        "metric": "accuracy",
        "epochs": [
            {"epoch": 0, "loss": 1.2, "val_loss": 1.3, "score": 0.5, "val_score": 0.45, "lr": 0.01},
            {"epoch": 1, "loss": 0.7, "val_loss": math.inf, "score": 0.8, "lr": 0.005},
            {"epoch": 1, "loss": 0.7},  # the same point twice: kept once
        ],
    }
}


def writer(folder: Path, uri: str, name: str) -> RunWriter:
    study = folder / name
    trial_dir(study, 6).mkdir(parents=True)
    (trial_dir(study, 6) / "history.json").write_text(json.dumps(HISTORY))
    (study / "study.json").write_text(json.dumps(
        {"name": name, "metric": "accuracy", "direction": "maximize", "seed": 0, "space": {}}))
    return RunWriter({
        "uri": uri,
        "directory": str(study),
        "artifact_location": (folder / "artifacts" / name).as_uri(),
        "name": name,
        "created_at": "2026-12-02T00:00:00",
        "direction": "maximize",
        "params": {"seed": "0"},
        "tags": {"search.kind": "study"},
        "stored": None,
        "best": None,
    })


def children(w: RunWriter) -> dict[int, Any]:
    runs = w.client.search_runs([w.experiment_id], "tags.`search.kind` = 'trial'",
                                max_results=100)
    return {int(r.data.tags["search.trial"]): r for r in runs}


def readable(w: RunWriter, run: Any) -> dict[str, Any]:
    """All a user can read of a trial's run through MLflow's client, ids aside."""
    info, data = run.info, run.data
    tags = dict(data.tags)
    assert tags.pop("mlflow.parentRunId") == w.parent_id
    history = {
        key: sorted((m.step, m.timestamp, m.value) for m in
                    w.client.get_metric_history(info.run_id, key))
        for key in data.metrics
    }
    experiment = w.client.get_experiment(w.experiment_id).artifact_location
    assert info.artifact_uri == f"{experiment}/{info.run_id}/artifacts"
    return {
        "info": (info.status, info.start_time, info.end_time, info.lifecycle_stage,
                 info.run_name, info.user_id),
        "params": dict(data.params),
        "tags": tags,
        "metrics": dict(data.metrics),
        "history": history,
    }


def same(a: Any, b: Any) -> bool:
    """Equal, NaN equal to NaN."""
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def test_bulk_runs_read_back_as_the_clients_one_by_one_runs(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    bulk, one_by_one = writer(tmp_path, uri, "bulk"), writer(tmp_path, uri, "client")
    assert bulk.bulk is not None  # an embedded store: bulk
    one_by_one.bulk = None
    # trial 5 has no end: both writers must say the same "now"
    monkeypatch.setattr("search.watching._tracking_writer.now_ms", lambda: START + 99_000)
    bulk.trials(RECORDS)
    one_by_one.trials(RECORDS)
    monkeypatch.undo()
    assert bulk.bulk is not None  # still bulk: no write fell back to the client
    written, expected = children(bulk), children(one_by_one)
    assert sorted(written) == sorted(expected) == [r["number"] for r in RECORDS]
    for number in expected:
        ours, theirs = readable(bulk, written[number]), readable(one_by_one, expected[number])
        assert same(ours, theirs), (number, ours, theirs)
    assert set(readable(bulk, written[6])["metrics"]) >= {"train_loss", "val_loss",
                                                           "val_accuracy", "learning_rate"}
    assert bulk.written == one_by_one.written == len(RECORDS)


def test_a_bulk_write_that_fails_writes_nothing_and_the_client_writes_every_run(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    w = writer(tmp_path, uri, "study")
    def fail_after_inserting(runs: list[dict[str, Any]]) -> None:
        with w.bulk._session() as session:  # rows added, then an error
            session.add(w.bulk._models.SqlTag(key="x", value="y", run_uuid="nope"))
            raise RuntimeError("the database went away")

    w.bulk.write = fail_after_inserting
    w.trials(RECORDS[:3])
    assert w.bulk is None  # the rest of the run goes one by one
    assert sorted(children(w)) == [0, 1, 2]
    w.trials(RECORDS[3:])
    assert sorted(children(w)) == [r["number"] for r in RECORDS]


def test_a_server_uri_is_written_by_the_client():
    from search.watching._tracking_bulk import BulkRuns

    assert BulkRuns.open(object(), "http://127.0.0.1:5000", "1") is None


def test_only_the_mlflow_store_is_put_in_write_ahead_log_mode(tmp_path):
    import sqlite3

    import optuna
    from sqlalchemy import create_engine, text

    from search.watching._tracking_client import mlflow_client

    mlflow_client(f"sqlite:///{tmp_path / 'mlflow.db'}").search_experiments()
    with create_engine(f"sqlite:///{tmp_path / 'other.db'}").connect() as other:
        assert other.execute(text("PRAGMA journal_mode")).scalar() == "delete"
    optuna.create_study(storage=f"sqlite:///{tmp_path / 'optuna.db'}")  # a warm start's source
    for name, mode in (("mlflow.db", "wal"), ("optuna.db", "delete")):
        connection = sqlite3.connect(tmp_path / name)
        try:
            assert connection.execute("PRAGMA journal_mode").fetchone()[0] == mode, name
        finally:
            connection.close()
