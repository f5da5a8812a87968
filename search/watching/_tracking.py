"""MLflow tracking: one parent run per study, one child run per trial, one final run.

The default store is ``sqlite:///RESULTS/mlflow.db``, with artifacts under
``RESULTS/mlartifacts/NAME``. MLflow 3 makes SQLite its default backend and refuses its old file
store (``./mlruns``, "maintenance mode") unless told otherwise; ``mlflow ui`` and
``mlflow server`` read the database directly (``--backend-store-uri sqlite:///...``) and serve the
artifacts from the paths the runs record.

MLflow's SQL store costs tens of milliseconds of CPU per run (SQLAlchemy, three transactions), and
importing MLflow and creating a fresh database take seconds. So the runs are written by a separate
process that the driver feeds through a queue: the driver pays one queue put per finished trial,
the writer works on another core while the search goes on, and at the end of the search the
driver waits for it to catch up (and says so when that takes a while). A killed run loses at most
the trials still queued: ``--resume`` finds the study's parent run again (its id is kept in
``study.json``) and writes every finished trial it lacks. The writer also logs the final run and
attaches the report, so a run's driver never imports MLflow; only ``python -m search final``,
which has no writer, logs its final run itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import logging
import math
import multiprocessing
import os
import queue
import signal
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.core._errors import UserError
from search.core._folder import (
    FINAL_JSON,
    MLFLOW_ARTIFACTS,
    MLFLOW_DB,
    MODEL_DIR,
    REPORT_HTML,
    STUDY_JSON,
    read_json,
)
from search.core._logging import log_helper_to_file
from search.core._observers import RunContext, RunObserver, TrialsFn
from search.core._trials import best_trial
from search.integrity._ties import fold_scores

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

log = logging.getLogger("search")

#: the key in ``study.json`` that remembers where the study's parent run is
RECORD_KEY = "tracking"
KIND = "search.kind"  # tag: study, trial or final
TRIAL = "search.trial"  # tag: the trial number of a child or final run
CREATED = "search.created_at"  # tag: study.json's created_at, the study's identity
PARENT = "mlflow.parentRunId"
_STATUS = {"COMPLETE": "FINISHED", "PRUNED": "KILLED", "FAIL": "FAILED"}
_MAX_PARAM = 6000  # MLflow's limits on a param value, a tag value and one log_batch
_MAX_TAG = 8000
_BATCH_PARAMS = 100
_BATCH_METRICS = 1000
_NOTICE_S = 3.0  # while the driver waits for the writer, say so after this long
_NOTICE_AGAIN_S = 15.0  # and again this often
_BATCH = 32  # trials the writer takes from the queue at a time (then reports progress)
_REFUSALS = 3  # trial runs MLflow refuses in a row before the writer gives up
_INTERRUPT_WAIT_S = 10.0


def default_uri(results: Path) -> str:
    """The embedded store under a results root: ``sqlite:////abs/RESULTS/mlflow.db``."""
    return f"sqlite:///{(results / MLFLOW_DB).resolve()}"


def ui_command(uri: str) -> str:
    """The command that opens the MLflow UI on ``uri``."""
    return f"mlflow ui --backend-store-uri {uri} --port 5000"


def check_tracking(uri: str) -> None:
    """Fail before anything is written when tracking to ``uri`` cannot work."""
    if importlib.util.find_spec("mlflow") is None:
        raise UserError(
            "tracking: MLflow is not installed; pip install 'search[tracking]', "
            "or pass --no-tracking"
        )
    if uri.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=5):
                pass
        except urllib.error.HTTPError:
            pass  # a server answered
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise UserError(
                f"--tracking-uri {uri}: no MLflow server answers there ({reason}); start it "
                "(mlflow server --host 127.0.0.1 --port PORT), or pass --no-tracking"
            ) from None


def trial_record(trial: FrozenTrial) -> dict[str, Any]:
    """What the writer needs of a finished trial: plain values, cheap to pickle."""
    return {
        "number": trial.number,
        "state": trial.state.name,
        "value": trial.value,
        "params": dict(trial.params),
        "steps": dict(trial.intermediate_values),
        "folds": fold_scores(trial),
        "train_score": trial.user_attrs.get("train_score"),
        "error": trial.user_attrs.get("error"),
        "start": _ms(trial.datetime_start),
        "end": _ms(trial.datetime_complete),
    }


def _ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


class MlflowTracker(RunObserver):
    """Logs the study, its trials and the final evaluation to MLflow (see the module doc)."""

    def __init__(self, uri: str, directory: Path) -> None:
        self.uri = uri
        self.directory = directory
        self.parent: dict[str, str] | None = None  # experiment_id, parent_run_id
        self._proc: Any = None
        self._inbox: Any = None
        self._outbox: Any = None
        self._sent = 0
        self._done = 0
        self._failed: str | None = None
        self._status = "interrupted"  # how the search ended, once it has

    @classmethod
    def from_record(cls, directory: Path) -> MlflowTracker | None:
        """The tracker a study's last run used, from ``study.json`` (``None``: it had none)."""
        stored = read_json(directory / STUDY_JSON).get(RECORD_KEY)
        if not isinstance(stored, dict) or not stored.get("parent_run_id"):
            return None
        tracker = cls(stored["uri"], directory)
        tracker.parent = {
            "experiment_id": stored["experiment_id"],
            "parent_run_id": stored["parent_run_id"],
        }
        return tracker

    # -- the driver's side ------------------------------------------------------------------

    def search_started(self, context: RunContext, trials: Sequence[FrozenTrial]) -> None:
        record = read_json(self.directory / STUDY_JSON)
        best = best_trial(trials, context.prep.parts.direction)
        config = {
            "uri": self.uri,
            "directory": str(self.directory),
            "artifact_location": self._artifact_location(),
            "name": record["name"],
            "created_at": record["created_at"],
            "direction": record["direction"],
            "params": study_params(record, context.prep.parts.space),
            "tags": study_tags(record, self.directory),
            "stored": record.get(RECORD_KEY) if _same_uri(record, self.uri) else None,
            "best": None if best is None else (best.value, best.number),
            "driver": os.getpid(),
        }
        ctx = multiprocessing.get_context("spawn")
        self._inbox, self._outbox = ctx.Queue(), ctx.Queue()
        self._inbox.cancel_join_thread()  # never hang at exit on a writer that died
        self._proc = ctx.Process(
            target=_writer_main,
            args=(config, self._inbox, self._outbox),
            name="search-tracking",
            daemon=True,
        )
        self._proc.start()
        if context.resumed:
            self._inbox.put(
                ("backfill", [trial_record(t) for t in trials if t.state.is_finished()])
            )

    def trial_finished(self, trial: FrozenTrial, trials: TrialsFn) -> None:
        if self._failed is None and self._proc is not None:
            self._inbox.put(("trial", trial_record(trial)))
            self._sent += 1
            self._poll()

    def search_ended(self, trials: Sequence[FrozenTrial], status: str) -> None:
        if self._proc is None:
            return
        counts = {"complete": 0, "pruned": 0, "failed": 0}
        for t in trials:
            key = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed"}.get(t.state.name)
            if key:
                counts[key] += 1
        self._status = status
        if self._failed is None:
            self._inbox.put(("end", status, counts))

    def final_evaluated(self, record: dict[str, Any]) -> None:
        """The writer logs the final run; without one (the ``final`` command), the driver does."""
        if self._proc is not None and self._failed is None:
            self._inbox.put(("final", record))
            return
        if self.parent is None:
            return
        try:
            log_final(self.uri, self.parent, self.directory, record)
            log_report(self.uri, self.parent, self.directory)
        except Exception as exc:  # noqa: BLE001 - tracking never fails the final evaluation
            log.exception("tracking: the final run was not logged")
            print(
                f"tracking: the final run was not logged to MLflow ({_first_line(exc)}); "
                "see search.log",
                file=sys.stderr,
            )

    def run_ended(self) -> None:
        """Let the writer log the report and finish; wait for it (bounded after Ctrl-C)."""
        if self._proc is None:
            return
        if self._failed is None:
            self._inbox.put(("close",))
        self._wait(patience=None if self._status == "finished" else _INTERRUPT_WAIT_S)
        self._poll()
        self._proc = None

    def _artifact_location(self) -> str | None:
        if not self.uri.startswith("sqlite:///"):
            return None  # a server or a database elsewhere chooses its own artifact store
        db = Path(self.uri[len("sqlite:///") :])
        return (db.parent / MLFLOW_ARTIFACTS / self.directory.name).resolve().as_uri()

    def _poll(self) -> None:
        """Read what the writer said: its parent run, how far it got, or why it stopped."""
        while True:
            try:
                message = self._outbox.get_nowait()
            except queue.Empty:
                return
            except (OSError, EOFError, ValueError):
                return
            kind = message[0]
            if kind == "parent":
                self.parent = {"experiment_id": message[1], "parent_run_id": message[2]}
                self._remember(self.parent)
            elif kind == "done":
                self._done = message[1]
            elif kind == "final_error":
                print(
                    f"tracking: the final run was not logged to MLflow ({message[1]}); "
                    "see search.log",
                    file=sys.stderr,
                )
            elif kind == "error" and self._failed is None:
                self._failed = message[1]
                print(
                    f"tracking: MLflow logging stopped ({message[1]}); the search goes on; "
                    "see search.log",
                    file=sys.stderr,
                )

    def _remember(self, parent: dict[str, str]) -> None:
        """Keep the parent run in ``study.json``, for ``--resume`` and ``final``."""
        from search.core._record import update_record

        update_record(self.directory, **{RECORD_KEY: {"uri": self.uri, **parent}})

    def _wait(self, patience: float | None) -> None:
        """Wait for the writer to finish; ``patience`` bounds the wait (``None``: no bound).

        Ctrl-C stops the writer and the run goes on: the trials it had not written yet are
        written by a later ``--resume``.
        """
        started = time.monotonic()
        told, last_left, every = started, -1, _NOTICE_S
        try:
            while self._proc.is_alive():
                self._proc.join(timeout=0.2)
                self._poll()
                now = time.monotonic()
                left = max(self._sent - self._done, 0)
                due = now - told > every and left != last_left
                if left and self._proc.is_alive() and due:
                    told, last_left, every = now, left, _NOTICE_AGAIN_S
                    print(
                        f"tracking: {left} trial runs still to write to MLflow ({self.uri}); "
                        "Ctrl-C skips them (--resume writes them later)",
                        flush=True,
                    )
                if patience is not None and now - started > patience:
                    self._stop(left)
                    return
        except KeyboardInterrupt:
            self._stop(max(self._sent - self._done, 0))

    def _stop(self, left: int) -> None:
        self._proc.terminate()
        self._proc.join(timeout=5)
        print(
            f"tracking: stopped with {left} trial runs not written to MLflow; --resume writes them",
            file=sys.stderr,
        )


def _same_uri(record: dict[str, Any], uri: str) -> bool:
    stored = record.get(RECORD_KEY)
    return isinstance(stored, dict) and stored.get("uri") == uri


def study_params(record: dict[str, Any], space: Any) -> dict[str, str]:
    """The parent run's params: what a resume may not change (metric, seed, space, data)."""
    params: dict[str, Any] = {
        "metric": record.get("metric") or "-",
        "direction": record["direction"],
        "seed": record["seed"],
        "objective": _compact(record.get("objective")),
    }
    for path, param in space.flatten().items():
        described = param.to_dict()
        if isinstance(described.get("choices"), dict):  # a branch: its options, not sub-spaces
            described["choices"] = list(described["choices"])
        params[f"space.{path}"] = _compact(described)
    for key, value in (record.get("data") or {}).items():
        if value is not None:
            params[f"data.{key}"] = value
    for part, fingerprint in (record.get("fingerprints") or {}).items():
        params[f"data.{part}.sha256"] = fingerprint.get("sha256")
        params[f"data.{part}.shape"] = "x".join(str(n) for n in fingerprint.get("shape", []))
    return {k: str(v)[:_MAX_PARAM] for k, v in params.items()}


def study_tags(record: dict[str, Any], directory: Path) -> dict[str, str]:
    """The parent run's tags: what may change between runs of a study (budget, versions)."""
    tags: dict[str, Any] = {
        KIND: "study",
        CREATED: record["created_at"],
        "search.study": record["name"],
        "search.folder": str(directory.resolve()),
        "sampler": record.get("sampler"),
        "pruner": record.get("pruner"),
        "backend": record.get("backend"),
        "workers": record.get("workers"),
        "trials": record.get("trials"),
        "timeout": record.get("timeout"),
        "study_file": record.get("study_file"),
        "command": " ".join(record.get("command") or []),
    }
    for name, version in (record.get("versions") or {}).items():
        tags[f"version.{name}"] = version
    return {k: str(v)[:_MAX_TAG] for k, v in tags.items() if v is not None}


def _compact(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")


# -- the writer process ---------------------------------------------------------------------


def _writer_main(config: dict[str, Any], inbox: Any, outbox: Any) -> None:
    """Entry point of the writer process: open the parent run, then write what arrives."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver decides when the writer stops
    log_helper_to_file(Path(config["directory"]))
    logging.getLogger("alembic").setLevel(logging.WARNING)  # 80 lines creating a database
    try:
        writer = _Writer(config)
    except Exception as exc:  # noqa: BLE001 - reported to the driver, which goes on
        log.exception("tracking: could not open the MLflow run")
        outbox.put(("error", _first_line(exc)))
        return
    outbox.put(("parent", writer.experiment_id, writer.parent_id))
    done = 0
    while True:
        try:
            batch = [inbox.get(timeout=2.0)]
        except queue.Empty:
            if os.getppid() != config["driver"]:
                return  # the driver is gone: --resume writes what is missing
            continue
        with contextlib.suppress(queue.Empty):
            while len(batch) < _BATCH:
                batch.append(inbox.get_nowait())
        try:
            for message in batch:
                if message[0] == "backfill":
                    writer.backfill(message[1])
            trials = [m[1] for m in batch if m[0] == "trial"]
            writer.trials(trials)
            done += len(trials)
            outbox.put(("done", done))
            for message in batch:
                if message[0] == "end":
                    writer.end(message[1], message[2])
                elif message[0] == "final":
                    _final_or_say(writer, message[1], config, outbox)
                elif message[0] == "close":
                    log_report(config["uri"], writer.ids(), Path(config["directory"]))
                    return
        except Exception as exc:  # noqa: BLE001 - reported to the driver, which goes on
            log.exception("tracking: writing to MLflow failed")
            outbox.put(("error", _first_line(exc)))
            return


def _final_or_say(
    writer: _Writer, record: dict[str, Any], config: dict[str, Any], outbox: Any
) -> None:
    """Log the final run; a failure is said once and the writer goes on to close."""
    try:
        log_final(config["uri"], writer.ids(), Path(config["directory"]), record)
    except Exception as exc:  # noqa: BLE001 - tracking never fails the final evaluation
        log.exception("tracking: the final run was not logged")
        outbox.put(("final_error", _first_line(exc)))


def _client(uri: str) -> Any:
    os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")  # keep MLflow off the terminal
    if uri.startswith("sqlite:"):
        _sqlite_write_ahead_log()
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


_WAL_ON = False


def _sqlite_write_ahead_log() -> None:
    """Open SQLite stores in write-ahead-log mode with ``synchronous=NORMAL``.

    MLflow commits several transactions per run; in SQLite's default rollback-journal mode each
    one syncs the file twice. WAL syncs at checkpoints only, halving the time per child run
    (48 -> 27 ms here), lets ``mlflow ui`` read while the writer writes, and loses nothing on a
    crash of the process (only a power cut may drop the last transactions).
    """
    global _WAL_ON
    if _WAL_ON:
        return
    import sqlite3

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _wal(connection: Any, _record: Any) -> None:
        if isinstance(connection, sqlite3.Connection):
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    _WAL_ON = True


@contextlib.contextmanager
def _first_use_lock(uri: str) -> Iterator[None]:
    """Serialise the creation of an embedded database by studies that start together."""
    if not uri.startswith("sqlite:///"):
        yield
        return
    path = Path(uri[len("sqlite:///") :])
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.parent / f".{path.name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class _Writer:
    """Writes runs with ``MlflowClient``; lives in the writer process."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        with _first_use_lock(config["uri"]):
            self.client = _client(config["uri"])
            self.experiment_id = _experiment(
                self.client, config["name"], config["artifact_location"]
            )
        self.parent_id = self._parent()
        self.maximize = config["direction"] == "maximize"
        self.best = config["best"]
        self.refused = 0  # trial runs MLflow refused in a row

    def ids(self) -> dict[str, str]:
        return {"experiment_id": self.experiment_id, "parent_run_id": self.parent_id}

    def _parent(self) -> str:
        """The study's parent run: the one ``study.json`` names, or found by tag, or new."""
        from mlflow.exceptions import MlflowException

        client, config = self.client, self.config
        run = None
        stored = config.get("stored") or {}
        if stored.get("parent_run_id"):
            with contextlib.suppress(MlflowException):
                run = client.get_run(stored["parent_run_id"])
            if run is not None and run.info.lifecycle_stage != "active":
                run = None
        if run is None:
            found = client.search_runs(
                [self.experiment_id],
                filter_string=f"tags.`{KIND}` = 'study' and tags.`{CREATED}` = "
                f"'{config['created_at']}'",
                max_results=1,
            )
            run = found[0] if found else None
        tags = config["tags"]
        if run is None:
            started = _ms(datetime.fromisoformat(config["created_at"]))
            run = client.create_run(
                self.experiment_id, start_time=started, run_name=config["name"], tags=tags
            )
            run_id = run.info.run_id
            _log_batch(client, run_id, params=config["params"])
        else:
            run_id = run.info.run_id
            client.update_run(run_id, status="RUNNING")
            _log_batch(client, run_id, tags=tags)
        study_json = Path(config["directory"]) / STUDY_JSON
        client.log_dict(run_id, read_json(study_json), STUDY_JSON)
        return str(run_id)

    def trials(self, records: list[dict[str, Any]]) -> None:
        """One child run per trial, and the best value as it moves on the parent."""
        from mlflow.entities import Metric

        moves = []
        for record in records:
            self._child_or_skip(record)
            value = record["value"]
            if record["state"] == "COMPLETE" and value is not None and self._better(value):
                self.best = (value, record["number"])
                moves.append(Metric("best_value", value, record["end"] or _now(), record["number"]))
        if moves:
            self.client.log_batch(self.parent_id, metrics=moves)

    def _child_or_skip(self, record: dict[str, Any]) -> None:
        """Write one trial's run; a run MLflow refuses is skipped, several in a row stop us."""
        try:
            self._child(record)
            self.refused = 0
        except Exception:
            self.refused += 1
            if self.refused >= _REFUSALS:
                raise
            log.exception("tracking: trial %d not written to MLflow", record["number"])

    def _better(self, value: float) -> bool:
        if self.best is None:
            return True
        return value > self.best[0] if self.maximize else value < self.best[0]

    def _child(self, record: dict[str, Any]) -> None:
        from mlflow.entities import Metric

        number, end = record["number"], record["end"] or _now()
        tags = {
            PARENT: self.parent_id,
            KIND: "trial",
            TRIAL: str(number),
            "state": record["state"],
        }
        if record["error"]:
            tags["error"] = str(record["error"])[:_MAX_TAG]
        run = self.client.create_run(
            self.experiment_id,
            start_time=record["start"] or end,
            tags=tags,
            run_name=f"trial {number}",
        )
        metrics = []
        if record["value"] is not None and math.isfinite(record["value"]):
            metrics.append(Metric("value", record["value"], end, 0))
        if record["folds"]:
            metrics += [Metric("fold_score", s, end, i) for i, s in enumerate(record["folds"])]
        elif record["steps"]:
            metrics += [Metric("step_score", v, end, int(s)) for s, v in record["steps"].items()]
        if record["start"] is not None and record["end"] is not None:
            metrics.append(Metric("duration_s", (record["end"] - record["start"]) / 1000, end, 0))
        if isinstance(record["train_score"], (int, float)):
            metrics.append(Metric("train_score", float(record["train_score"]), end, 0))
        params = {k: str(v)[:_MAX_PARAM] for k, v in record["params"].items()}
        _log_batch(self.client, run.info.run_id, params=params, metrics=metrics)
        self.client.set_terminated(
            run.info.run_id, status=_STATUS.get(record["state"], "FAILED"), end_time=end
        )

    def backfill(self, records: list[dict[str, Any]]) -> None:
        """Write the finished trials that have no child run yet (a killed run's last ones)."""
        logged: set[str] = set()
        stale: list[str] = []
        token = None
        while True:
            page = self.client.search_runs(
                [self.experiment_id],
                filter_string=f"tags.`{PARENT}` = '{self.parent_id}' and tags.`{KIND}` = 'trial'",
                max_results=1000,
                page_token=token,
            )
            for run in page:
                if run.info.status == "RUNNING":  # cut short by a killed writer: write anew
                    stale.append(run.info.run_id)
                else:
                    logged.add(run.data.tags.get(TRIAL, ""))
            token = page.token
            if not token:
                break
        for run_id in stale:
            self.client.delete_run(run_id)
        for record in records:
            if str(record["number"]) not in logged:
                self._child_or_skip(record)

    def end(self, status: str, counts: dict[str, int]) -> None:
        from mlflow.entities import Metric

        now, step = _now(), sum(counts.values())
        metrics = [Metric(f"trials_{k}", v, now, step) for k, v in counts.items()]
        self.client.log_batch(self.parent_id, metrics=metrics)
        self.client.set_terminated(
            self.parent_id, status="FINISHED" if status == "finished" else "KILLED"
        )


def _experiment(client: Any, name: str, artifact_location: str | None) -> str:
    """The experiment named after the study, created (or restored) when needed."""
    found = client.get_experiment_by_name(name)
    if found is None:
        return str(client.create_experiment(name, artifact_location=artifact_location))
    if found.lifecycle_stage != "active":
        client.restore_experiment(found.experiment_id)
    return str(found.experiment_id)


def _log_batch(
    client: Any,
    run_id: str,
    *,
    params: dict[str, str] | None = None,
    tags: dict[str, str] | None = None,
    metrics: list[Any] | None = None,
) -> None:
    """``log_batch`` within MLflow's limits per call (100 params or tags, 1000 metrics)."""
    from mlflow.entities import Param, RunTag

    param_list = [Param(k, v) for k, v in (params or {}).items()]
    tag_list = [RunTag(k, v) for k, v in (tags or {}).items()]
    metric_list = list(metrics or [])
    while param_list or tag_list or metric_list:
        p, param_list = param_list[:_BATCH_PARAMS], param_list[_BATCH_PARAMS:]
        t, tag_list = tag_list[: _BATCH_PARAMS - len(p)], tag_list[_BATCH_PARAMS - len(p) :]
        room = _BATCH_METRICS - len(p) - len(t)
        m, metric_list = metric_list[:room], metric_list[room:]
        client.log_batch(run_id, metrics=m, params=p, tags=t)


def _now() -> int:
    return int(time.time() * 1000)


# -- the final run: logged by the writer, or by the driver of the `final` command --------


def log_final(uri: str, parent: dict[str, str], directory: Path, record: dict[str, Any]) -> str:
    """One run for the final evaluation: test metrics, classification report, the model."""
    from mlflow.entities import Metric

    client = _client(uri)
    parent_id, now = parent["parent_run_id"], _now()
    run = client.create_run(
        parent["experiment_id"],
        run_name=f"final (trial {record['trial']})",
        tags={PARENT: parent_id, KIND: "final", TRIAL: str(record["trial"])},
    )
    run_id = run.info.run_id
    metrics = []
    for name, value in (record.get("test_metrics") or {}).items():
        if isinstance(value, (int, float)) and math.isfinite(value):
            metrics.append(Metric(f"test_{name}", float(value), now, 0))
    validation, test = record.get("validation_value"), record.get("test_value")
    if isinstance(validation, (int, float)):
        metrics.append(Metric("validation_value", float(validation), now, 0))
    if isinstance(test, (int, float)):
        metrics.append(Metric("test_value", float(test), now, 0))
    judged = record.get("generalization_gap") or {}
    for key in ("gap", "expected_noise"):
        if isinstance(judged.get(key), (int, float)):
            name = "generalization_gap" if key == "gap" else "gap_expected_noise"
            metrics.append(Metric(name, float(judged[key]), now, 0))
    params = {k: str(v)[:_MAX_PARAM] for k, v in (record.get("params") or {}).items()}
    params["trial"] = str(record["trial"])
    _log_batch(client, run_id, params=params, metrics=metrics)
    if record.get("classification_report"):
        per_class = read_json(directory / FINAL_JSON).get("classification_report")
        client.log_dict(run_id, per_class, "classification_report.json")
    client.log_dict(run_id, read_json(directory / FINAL_JSON), FINAL_JSON)
    model = directory / MODEL_DIR
    if model.is_dir():
        client.log_artifacts(run_id, str(model), MODEL_DIR)
    client.set_terminated(run_id, status="FINISHED")
    on_parent = [m for m in metrics if m.key in ("test_value", "generalization_gap")]
    _log_batch(client, parent_id, metrics=on_parent)
    client.set_terminated(parent_id, status="FINISHED")
    return str(run_id)


def log_report(uri: str, parent: dict[str, str], directory: Path) -> None:
    """Attach the study's ``report.html``, as the run ends it, to the parent run."""
    report = directory / REPORT_HTML
    if report.is_file():
        _client(uri).log_artifact(parent["parent_run_id"], str(report))
