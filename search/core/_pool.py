"""The driver's trial workers: started where a placement puts them, fed jobs, watched for death.

A :class:`Placement` knows how to start one worker somewhere (a process on this machine, a Ray
actor on a cluster) and how to tell that it died; the pool does the rest the same way for every
placement: it sends each new worker the task, waits for it to say it is ready, hands it jobs,
collects what it sends back, and notices when it dies (its connection closes, its process
ends, its node goes away) and why.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any, Protocol

from search.core._channel import Answer, Done, Fitted, NotPlainData, Ready, Setup, Stop, receive
from search.core._errors import RunError

#: workers that die before they are ready, in a row, before the run gives up
START_FAILURES = 3


class EngineError(RunError):
    """The trial workers cannot run (they fail to start, or their placement is gone)."""


class Link(Protocol):
    """One worker, as its placement sees it."""

    def connection(self) -> Any:
        """The driver's end of the worker's channel, or ``None`` while it is not connected."""

    def waitables(self) -> list[Any]:
        """Objects that become ready when the worker sends something or dies."""

    def cause_of_death(self, wait: float) -> str | None:
        """Why the worker died (exit code, signal, lost node), or ``None`` if it lives."""

    def stop(self, hard: bool) -> None:
        """End the worker: close its channel and lifeline; ``hard``: kill it now."""


class Placement(Protocol):
    """Where workers run. A new placement is a class with these methods."""

    def threads(self, workers: int) -> int | None:
        """BLAS/OpenMP threads a worker may use (``None``: leave the environment's setting)."""

    def begin(self, directory: Path) -> None:
        """The run writes from now on: open the placement's own log under ``directory``."""

    def launch(self, index: int, setup: Setup) -> Link:
        """Start worker ``index`` and make sure it receives ``setup`` first."""

    def poll(self) -> None:
        """Do the placement's own work, without waiting (accept workers that connect)."""

    def waitables(self) -> list[Any]:
        """Objects that become ready when the placement has work for :meth:`poll`."""

    def close(self) -> None:
        """Release what the placement holds once every worker has stopped."""


@dataclass(frozen=True, slots=True)
class Died:
    """A worker died, or was stopped for what it sent: why, in one line; ``retry``: whether
    its trial may run again (not after it sent what no worker sends)."""

    cause: str
    retry: bool = True


@dataclass(eq=False)
class Worker:
    """The driver's view of one worker."""

    index: int
    link: Link
    state: str = "starting"  # starting, idle, busy, dead
    pid: int | None = None
    host: str | None = None
    launched: float = field(default_factory=time.monotonic)
    refused: str | None = None  # what it sent that is not a message: it is stopped for it


class WorkerPool:
    """``size`` workers on ``placement``, all given the same ``setup``."""

    def __init__(self, placement: Placement, size: int, setup: Setup) -> None:
        self.placement = placement
        self.size = size
        self._setup = setup
        self._workers: list[Worker] = []
        self._failed_starts = 0

    def start(self) -> WorkerPool:
        """Launch the workers; they load the task while the driver goes on."""
        for index in range(self.size):
            self._workers.append(self._launch(index))
        return self

    def _launch(self, index: int) -> Worker:
        return Worker(index=index, link=self.placement.launch(index, self._setup))

    @property
    def idle(self) -> list[Worker]:
        return [w for w in self._workers if w.state == "idle"]

    @property
    def alive(self) -> list[Worker]:
        return [w for w in self._workers if w.state != "dead"]

    def send(self, worker: Worker, job: Any) -> None:
        """Give an idle worker a job."""
        worker.link.connection().send(job)
        worker.state = "busy"

    def answer(self, worker: Worker, value: Any) -> None:
        """Reply to a worker's question."""
        worker.link.connection().send(Answer(value))

    def replace(self, worker: Worker) -> Worker:
        """A fresh worker in a dead one's place."""
        fresh = self._launch(worker.index)
        self._workers[self._workers.index(worker)] = fresh
        return fresh

    def events(self, timeout: float) -> list[tuple[Worker, Any]]:
        """What the workers sent or suffered within ``timeout`` seconds, in arrival order."""
        self.placement.poll()
        by_waitable = {obj: w for w in self.alive for obj in w.link.waitables()}
        ready = wait([*by_waitable, *self.placement.waitables()], timeout)
        events: list[tuple[Worker, Any]] = []
        dying: list[Worker] = []
        for obj in ready:
            worker = by_waitable.get(obj)
            if worker is None or worker in dying or worker.state == "dead":
                continue
            if not self._drain(worker, events):
                dying.append(worker)
        for worker in self.alive:  # a placement may learn of a death without a waitable
            if worker not in dying:  # a worker that died before it connected, too
                cause = worker.link.cause_of_death(0)
                if cause is not None:
                    self._drain(worker, events)
                    dying.append(worker)
        for worker in dying:
            events.append((worker, Died(self._bury(worker), retry=worker.refused is None)))
        return events

    def _drain(self, worker: Worker, events: list[tuple[Worker, Any]]) -> bool:
        """Take every message the worker sent; ``False`` when its channel closed."""
        conn = worker.link.connection()
        if conn is None:
            return True
        try:
            while conn.poll():
                message = receive(conn)
                if isinstance(message, Ready):
                    self._ready(worker, message)
                    continue
                if isinstance(message, (Done, Fitted)):
                    worker.state = "idle"
                events.append((worker, message))
        except (EOFError, OSError):
            return False
        except NotPlainData as exc:
            worker.refused = (f"it sent {exc}, which no worker sends: it was stopped and nothing "
                              "of it ran here")
            return False
        return True

    def _ready(self, worker: Worker, message: Ready) -> None:
        if message.error is not None:
            raise EngineError(f"a trial worker cannot load the task: {message.error}")
        worker.state, worker.pid, worker.host = "idle", message.pid, message.host
        self._failed_starts = 0

    def _bury(self, worker: Worker) -> str:
        cause = worker.refused or worker.link.cause_of_death(2.0) or "its channel closed"
        was_starting = worker.state == "starting"
        worker.state = "dead"
        worker.link.stop(hard=True)
        if was_starting:
            self._failed_starts += 1
            if self._failed_starts >= START_FAILURES:
                raise EngineError(
                    f"trial workers die as they start ({self._failed_starts} in a row; the "
                    f"last: {cause})"
                )
        return cause

    def call(self, job: Any, retries: int) -> Fitted:
        """Run one job (a fit) on a worker and wait for its result; a dead worker is replaced."""
        cause = ""
        for _ in range(retries + 1):
            worker = self._wait_idle()
            self.send(worker, job)
            while True:
                mine = [m for w, m in self.events(1.0) if w is worker]
                result = next((m for m in mine if isinstance(m, (Fitted, Died))), None)
                if isinstance(result, Fitted):
                    return result
                if isinstance(result, Died):
                    self.replace(worker)
                    cause = result.cause
                    if not result.retry:
                        return Fitted(error=f"refused: {cause}")
                    break
        return Fitted(error=f"its worker died: {cause}")

    def _wait_idle(self) -> Worker:
        while not self.idle:
            for worker, message in self.events(1.0):
                if isinstance(message, Died):
                    self.replace(worker)
            if not self.alive:
                raise EngineError("no trial worker is left")
        return self.idle[0]

    def restart(self, setup: Setup) -> None:
        """Stop every worker and start fresh ones with ``setup`` (another task), on the same
        placement."""
        self._stop_workers(wait_s=5.0)
        self._workers, self._setup, self._failed_starts = [], setup, 0
        self.start()

    def close(self, *, wait_s: float = 5.0) -> None:
        """Stop every worker: an idle one is asked to finish, a busy or starting one (after an
        interruption or an error) is killed; then the placement is released."""
        try:
            self._stop_workers(wait_s)
        finally:
            self.placement.close()

    def _stop_workers(self, wait_s: float) -> None:
        stopping = []
        for worker in self.idle:
            try:
                worker.link.connection().send(Stop())
                stopping.append(worker)
            except OSError:
                pass
        deadline = time.monotonic() + wait_s
        for worker in stopping:
            worker.link.cause_of_death(max(0.0, deadline - time.monotonic()))
        for worker in self._workers:
            worker.link.stop(hard=True)
            worker.state = "dead"
