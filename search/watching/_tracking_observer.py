"""The run's MLflow observer: the driver's side of tracking, which never imports MLflow.

:class:`MlflowTracker` spawns the writer process (:mod:`search.watching._tracking_writer`) as the
search starts and feeds it through a queue: one put per finished trial, so the driver does not
wait on MLflow's SQL store. It reads what the writer says back (the parent run, which it keeps in
``study.json`` for ``--resume`` and ``final``; how many trials are written; why it stopped),
and as the command ends waits for the writer to catch up, saying so when that takes a while.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.core._folder import MLFLOW_ARTIFACTS, STUDY_JSON, read_record
from search.core._observers import RunContext, RunObserver, TrialsFn
from search.core._trials import best_trial
from search.watching._tracking_client import first_line
from search.watching._tracking_final import log_final, log_report
from search.watching._tracking_records import RECORD_KEY, study_params, study_tags, trial_record
from search.watching._tracking_writer import writer_main

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

log = logging.getLogger(__name__)

_NOTICE_S = 3.0  # while the driver waits for the writer, say so after this long
_NOTICE_AGAIN_S = 15.0  # and again this often
_INTERRUPT_WAIT_S = 10.0  # the longest wait for the writer after an interrupted search


class MlflowTracker(RunObserver):
    """Logs the study, its trials and the final evaluation to MLflow (see the module doc)."""

    def __init__(self, uri: str, directory: Path, register: str | None = None) -> None:
        self.uri = uri
        self.directory = directory
        self.register = register  # the registered model's name (--register), if any
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
        stored = read_record(directory / STUDY_JSON).get(RECORD_KEY)
        if not isinstance(stored, dict) or not stored.get("parent_run_id"):
            return None
        tracker = cls(stored["uri"], directory)
        tracker.parent = {
            "experiment_id": stored["experiment_id"],
            "parent_run_id": stored["parent_run_id"],
        }
        return tracker

    def search_started(self, context: RunContext, trials: Sequence[FrozenTrial]) -> None:
        self.names = context.prep.parts.goals.names
        ctx = multiprocessing.get_context("spawn")
        self._inbox, self._outbox = ctx.Queue(), ctx.Queue()
        self._inbox.cancel_join_thread()  # never hang at exit on a writer that died
        self._proc = ctx.Process(
            target=writer_main,
            args=(self._writer_config(context, trials), self._inbox, self._outbox),
            name="search-tracking",
            daemon=True,
        )
        self._proc.start()
        if context.resumed:
            self._inbox.put(
                ("backfill", [trial_record(t, self.names) for t in trials if t.state.is_finished()])
            )

    def trial_finished(self, trial: FrozenTrial, trials: TrialsFn) -> None:
        if self._failed is None and self._proc is not None:
            self._inbox.put(("trial", trial_record(trial, self.names)))
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
            said = log_final(self.uri, self.parent, self.directory, record, self.register)
            if said:
                print(f"tracking: {said}")
            log_report(self.uri, self.parent, self.directory)
        except Exception as exc:  # noqa: BLE001 - tracking never fails the final evaluation
            log.exception("tracking: the final run was not logged")
            print(
                f"tracking: the final run was not logged to MLflow ({first_line(exc)}); "
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

    def _writer_config(self, context: RunContext, trials: Sequence[FrozenTrial]) -> dict[str, Any]:
        """What the writer process needs to know, as plain values."""
        record = read_record(self.directory / STUDY_JSON)
        best = best_trial(trials, context.prep.parts.direction)
        stored = record.get(RECORD_KEY)
        same_uri = isinstance(stored, dict) and stored.get("uri") == self.uri
        return {
            "uri": self.uri,
            "directory": str(self.directory),
            "artifact_location": self._artifact_location(),
            "name": record["name"],
            "created_at": record["created_at"],
            "direction": record["direction"],
            "params": study_params(record, context.prep.parts.space),
            "tags": study_tags(record, self.directory),
            "stored": stored if same_uri else None,
            "best": None if best is None else (best.value, best.number),
            "driver": os.getpid(),
            "pdeathsig": threading.current_thread() is threading.main_thread(),
            "register": self.register,
        }

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
            elif kind == "registered":
                print(f"tracking: {message[1]}", flush=True)
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
