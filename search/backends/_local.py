"""The local placement: trial workers as processes on this machine.

Each worker is a fresh interpreter (``spawn``): it inherits nothing of the driver's memory, so
the sealed test part is not there to find. It talks to the driver over a pipe, and holds the
read end of a second pipe, its lifeline, whose write end only the driver holds: when the driver
dies, however it dies, the lifeline closes and the worker exits. On Linux the kernel also kills
a worker whose parent died (``PR_SET_PDEATHSIG``), even while the worker is busy in C code.
Each worker leads a process group of its own, so the processes a trial's code starts (joblib's
reusable workers for ``n_jobs=-1``, data loaders) are stopped with it instead of outliving the
run and holding its output open.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import threading
from pathlib import Path
from typing import Any

from search.core._channel import Setup


class LocalPlacement:
    """Starts workers as spawned processes."""

    name = "local"

    def __init__(self) -> None:
        self._context = multiprocessing.get_context("spawn")

    def launch(self, index: int, setup: Setup) -> ProcessLink:
        conn, child_conn = self._context.Pipe()
        lifeline_r, lifeline_w = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=_worker_main,
            args=(child_conn, lifeline_r),
            name=f"search-worker-{index}",
        )
        process.start()
        child_conn.close()
        lifeline_r.close()
        # the task may be large (the development data): the pipe holds 64 KiB, so sending it
        # here would wait for the worker to start; workers start side by side instead
        threading.Thread(target=_send, args=(conn, setup), daemon=True).start()
        return ProcessLink(process, conn, lifeline_w)

    def threads(self, workers: int) -> int:
        """BLAS/OpenMP threads per worker: the machine's CPUs shared among the workers."""
        return max(1, (os.cpu_count() or 1) // workers)

    def begin(self, directory: Path) -> None:
        """Nothing to open: a worker logs to the study's ``search.log`` itself."""

    def poll(self) -> None:
        pass

    def waitables(self) -> list[Any]:
        return []

    def close(self) -> None:
        pass


class ProcessLink:
    """One worker process: its channel, its lifeline and its process sentinel."""

    def __init__(self, process: Any, conn: Any, lifeline: Any) -> None:
        self._process = process
        self._conn = conn
        self._lifeline = lifeline

    def connection(self) -> Any:
        return self._conn

    def waitables(self) -> list[Any]:
        return [self._conn, self._process.sentinel]

    def cause_of_death(self, wait: float) -> str | None:
        self._process.join(wait)
        code = self._process.exitcode
        if code is None:
            return None
        return exit_cause(code)

    def stop(self, hard: bool) -> None:
        for end in (self._conn, self._lifeline):
            end.close()  # the worker's lifeline closes: it exits
        if hard and self._process.is_alive():
            self._process.kill()
        self._process.join(5)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signal.SIGKILL)  # what its trials started


def _send(conn: Any, setup: Setup) -> None:
    try:
        conn.send(setup)
    except OSError:  # the worker died before it read its task: the pool notices that
        pass


def exit_cause(code: int) -> str:
    """``exit code 3`` or ``killed by signal 9 (SIGKILL)``, from a process's exit code."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "unknown"
        return f"killed by signal {-code} ({name})"
    return f"exit code {code}"


def _worker_main(conn: Any, lifeline: Any) -> None:
    """A spawned worker's entry point."""
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)  # a group of its own: see the module's docstring
    _die_with_parent()
    from search.core._worker import serve

    serve(conn, lifeline)


def _die_with_parent() -> None:
    """Ask the kernel to kill this process when its parent dies (Linux; elsewhere, a no-op)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
