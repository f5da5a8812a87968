"""The MLflow writer process: one parent run per study, one child run per trial, from a queue.

Spawned by :class:`~search.watching._tracking_observer.MlflowTracker`, it imports MLflow, opens
(or finds again) the study's parent run, then takes the driver's messages in batches (a batch
of trial runs in one transaction on an embedded store: :mod:`~search.watching._tracking_bulk`):
``backfill`` (finished trials a resumed study lacks runs for), ``trial``, ``end``, ``final`` and
``close``. After each batch it tells the driver how many trials it wrote; a failure is told once
and ends the writer, never the search. It ends at once when the driver is gone, even killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import math
import os
import queue
import signal
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from search.core._folder import STUDY_JSON, read_record, trial_dir
from search.core._logging import log_helper_to_file
from search.watching._tracking_bulk import BulkRuns
from search.watching._tracking_client import (
    experiment,
    first_line,
    first_use_lock,
    log_batch,
    mlflow_client,
    ms,
    now_ms,
)
from search.watching._tracking_final import log_final, log_report
from search.watching._tracking_records import (
    CREATED,
    KIND,
    MAX_TAG,
    PARENT,
    TRIAL,
    epoch_metrics,
    param_values,
    pbt_tags,
    reported_metrics,
    user_attr_tags,
)

log = logging.getLogger(__name__)

_STATUS = {"COMPLETE": "FINISHED", "PRUNED": "KILLED", "FAIL": "FAILED"}
_BATCH = 32  # trials the writer takes from the queue at a time (then reports progress)
_LINGER_S = 0.5  # how long the writer waits to fill a batch of trials
_REFUSALS = 3  # trial runs MLflow refuses in a row before the writer gives up
_WATCH_S = 0.2  # how often the writer looks whether the driver is still its parent
_PR_SET_PDEATHSIG = 1  # Linux's prctl option: a signal for this process when its parent dies


def writer_main(config: dict[str, Any], inbox: Any, outbox: Any) -> None:
    """Entry point of the writer process: open the parent run, then write what arrives."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver decides when the writer stops
    _end_with_driver(config["driver"], kernel=config.get("pdeathsig", False))
    log_helper_to_file(Path(config["directory"]))
    logging.getLogger("alembic").setLevel(logging.WARNING)  # 80 lines creating a database
    try:
        writer = RunWriter(config)
    except Exception as exc:  # noqa: BLE001 - reported to the driver, which goes on
        log.exception("tracking: could not open the MLflow run")
        outbox.put(("error", first_line(exc)))
        return
    outbox.put(("parent", writer.experiment_id, writer.parent_id))
    while True:
        batch = _take(inbox, config["driver"])
        if batch is None:
            return  # the driver is gone: --resume writes what is missing
        try:
            if _handle(writer, batch, outbox):
                return
        except Exception as exc:  # noqa: BLE001 - reported to the driver, which goes on
            log.exception("tracking: writing to MLflow failed")
            outbox.put(("error", first_line(exc)))
            return


def _end_with_driver(driver: int, *, kernel: bool) -> None:
    """End this process the moment the driver is gone, however it went (a SIGKILL too): what
    is not written yet, a later ``--resume`` writes. ``kernel``: the driver started the writer
    from its main thread, so Linux may kill the writer when it dies (``PR_SET_PDEATHSIG``
    follows the thread that started it); a thread here also watches the parent, everywhere."""
    if kernel:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != driver:
        os._exit(0)  # gone before the request took hold

    def watch() -> None:
        while os.getppid() == driver:
            time.sleep(_WATCH_S)
        os._exit(0)

    threading.Thread(target=watch, name="search-driver-watch", daemon=True).start()


def _take(inbox: Any, driver: int) -> list[tuple[Any, ...]] | None:
    """The next messages, up to a batch; ``None`` once the driver is gone.

    After the first message the writer waits up to :data:`_LINGER_S` for more: fast trials are
    then written many to a transaction, not one each, and MLflow lags the search by no more.
    """
    while True:
        try:
            batch = [inbox.get(timeout=2.0)]
            break
        except queue.Empty:
            if os.getppid() != driver:
                return None
    until = time.monotonic() + _LINGER_S
    with contextlib.suppress(queue.Empty):
        while len(batch) < _BATCH and batch[-1][0] == "trial":
            batch.append(inbox.get(timeout=max(0.0, until - time.monotonic())))
    return batch


def _handle(writer: RunWriter, batch: list[tuple[Any, ...]], outbox: Any) -> bool:
    """Write one batch of messages; whether it closed the writer."""
    for message in batch:
        if message[0] == "backfill":
            writer.backfill(message[1])
    writer.trials([m[1] for m in batch if m[0] == "trial"])
    outbox.put(("done", writer.written))
    for message in batch:
        if message[0] == "end":
            writer.end(message[1], message[2])
        elif message[0] == "final":
            _final_or_say(writer, message[1], outbox)
        elif message[0] == "close":
            log_report(writer.config["uri"], writer.ids(), Path(writer.config["directory"]))
            return True
    return False


def _final_or_say(writer: RunWriter, record: dict[str, Any], outbox: Any) -> None:
    """Log the final run; a failure is said once and the writer goes on to close."""
    config = writer.config
    try:
        said = log_final(config["uri"], writer.ids(), Path(config["directory"]), record,
                         config.get("register"))
        if said:
            outbox.put(("registered", said))
    except Exception as exc:  # noqa: BLE001 - tracking never fails the final evaluation
        log.exception("tracking: the final run was not logged")
        outbox.put(("final_error", first_line(exc)))


class RunWriter:
    """Writes runs with ``MlflowClient``; lives in the writer process."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        with first_use_lock(config["uri"]):
            self.client = mlflow_client(config["uri"])
            self.experiment_id = experiment(
                self.client, config["name"], config["artifact_location"]
            )
        self.parent_id = self._parent()
        self.bulk = BulkRuns.open(self.client, config["uri"], self.experiment_id)
        self.maximize = config["direction"] == "maximize"
        self.best = config["best"]
        self.refused = 0  # trial runs MLflow refused in a row
        self.written = 0  # trials handed over with "trial" and written (or skipped)

    def ids(self) -> dict[str, str]:
        return {"experiment_id": self.experiment_id, "parent_run_id": self.parent_id}

    def _parent(self) -> str:
        """The study's parent run: the one ``study.json`` names, or found by tag, or new."""
        client, config = self.client, self.config
        run = self._stored_parent() or self._tagged_parent()
        tags = config["tags"]
        if run is None:
            started = ms(datetime.fromisoformat(config["created_at"]))
            run = client.create_run(
                self.experiment_id, start_time=started, run_name=config["name"], tags=tags
            )
            run_id = run.info.run_id
            log_batch(client, run_id, params=config["params"])
        else:
            run_id = run.info.run_id
            client.update_run(run_id, status="RUNNING")
            log_batch(client, run_id, tags=tags)
        study_json = Path(config["directory"]) / STUDY_JSON
        client.log_dict(run_id, read_record(study_json), STUDY_JSON)
        return str(run_id)

    def _stored_parent(self) -> Any:
        """The active parent run ``study.json`` remembers, or ``None``."""
        from mlflow.exceptions import MlflowException

        stored = self.config.get("stored") or {}
        if not stored.get("parent_run_id"):
            return None
        run = None
        with contextlib.suppress(MlflowException):
            run = self.client.get_run(stored["parent_run_id"])
        return run if run is not None and run.info.lifecycle_stage == "active" else None

    def _tagged_parent(self) -> Any:
        """The study's parent run found by its tags (``study.json`` lost it), or ``None``."""
        found = self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.`{KIND}` = 'study' and tags.`{CREATED}` = "
            f"'{self.config['created_at']}'",
            max_results=1,
        )
        return found[0] if found else None

    def trials(self, records: list[dict[str, Any]]) -> None:
        """One child run per trial, and the best value as it moves on the parent."""
        from mlflow.entities import Metric

        self._children(records)
        moves = []
        for record in records:
            value = record["value"]
            if record["state"] == "COMPLETE" and value is not None and self._better(value):
                self.best = (value, record["number"])
                moves.append(
                    Metric("best_value", value, record["end"] or now_ms(), record["number"])
                )
        self.written += len(records)
        if moves:
            self.client.log_batch(self.parent_id, metrics=moves)

    def _children(self, records: list[dict[str, Any]]) -> None:
        """Write the trials' runs: in one transaction where the store allows
        (:mod:`~search.watching._tracking_bulk`), else one by one through the client."""
        runs = [self._child_run(record) for record in records]
        if self.bulk is not None:
            plain = [run for run in runs if BulkRuns.accepts(run)]
            try:
                self.bulk.write(plain)
                runs = [run for run in runs if not BulkRuns.accepts(run)]
            except Exception:  # noqa: BLE001 - nothing was written: the client writes them
                log.warning("tracking: bulk write failed; runs written one by one",
                            exc_info=True)
                self.bulk = None
        for run in runs:
            self._child_or_skip(run)

    def _child_or_skip(self, run: dict[str, Any]) -> None:
        """Write one trial's run; a run MLflow refuses is skipped, several in a row stop us."""
        try:
            self._child(run)
            self.refused = 0
        except Exception:
            self.refused += 1
            if self.refused >= _REFUSALS:
                raise
            log.exception("tracking: trial %s not written to MLflow", run["tags"][TRIAL])

    def _better(self, value: float) -> bool:
        if self.best is None:
            return True
        return value > self.best[0] if self.maximize else value < self.best[0]

    def _child_run(self, record: dict[str, Any]) -> dict[str, Any]:
        """A trial's run as plain values: name, tags, params, metrics, times and status."""
        number, end = record["number"], record["end"] or now_ms()
        tags = {PARENT: self.parent_id, KIND: "trial", TRIAL: str(number), "state": record["state"]}
        if record["error"]:
            tags["error"] = str(record["error"])[:MAX_TAG]
        tags.update(user_attr_tags(record.get("user_attrs") or {}))
        tags.update(pbt_tags(record.get("pbt")))
        metrics = _trial_metrics(record, end) + reported_metrics(record, end)
        metrics += epoch_metrics(trial_dir(Path(self.config["directory"]), number), end)
        return {
            "name": f"trial {number}",
            "tags": tags,
            "params": param_values(record["params"]),
            "metrics": metrics,
            "start": record["start"] or end,
            "end": end,
            "status": _STATUS.get(record["state"], "FAILED"),
        }

    def _child(self, run: dict[str, Any]) -> None:
        """Write one run through the client: create, log, terminate."""
        created = self.client.create_run(
            self.experiment_id, start_time=run["start"], tags=run["tags"], run_name=run["name"]
        )
        run_id = created.info.run_id
        log_batch(self.client, run_id, params=run["params"], metrics=run["metrics"])
        self.client.set_terminated(run_id, status=run["status"], end_time=run["end"])

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
        self._children([r for r in records if str(r["number"]) not in logged])

    def end(self, status: str, counts: dict[str, int]) -> None:
        """Count the trials on the parent run and close it: finished, or killed."""
        from mlflow.entities import Metric

        now, step = now_ms(), sum(counts.values())
        metrics = [Metric(f"trials_{k}", v, now, step) for k, v in counts.items()]
        self.client.log_batch(self.parent_id, metrics=metrics)
        self.client.set_terminated(
            self.parent_id, status="FINISHED" if status == "finished" else "KILLED"
        )


def _trial_metrics(record: dict[str, Any], end: int) -> list[Any]:
    """A child run's metrics: value, fold or step scores, duration, training score."""
    from mlflow.entities import Metric

    metrics = []
    if record["value"] is not None and math.isfinite(record["value"]):
        metrics.append(Metric("value", record["value"], end, 0))
    for name, value in (record.get("values") or {}).items():  # several objectives
        metrics.append(Metric(f"value_{name}", float(value), end, 0))
    if record["folds"]:
        metrics += [Metric("fold_score", s, end, i) for i, s in enumerate(record["folds"])]
    elif record["steps"]:
        metrics += [Metric("step_score", v, end, int(s)) for s, v in record["steps"].items()]
    if record["start"] is not None and record["end"] is not None:
        metrics.append(Metric("duration_s", (record["end"] - record["start"]) / 1000, end, 0))
    if isinstance(record["train_score"], (int, float)):
        metrics.append(Metric("train_score", float(record["train_score"]), end, 0))
    return metrics
