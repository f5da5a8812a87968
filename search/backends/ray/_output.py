"""Ray's output, away from the terminal: its loggers, its C++ core's start-up messages and
what the trial processes print all go to one sink, held in memory until the study's folder
exists and then written to ``RESULTS/NAME/ray.log``.

Imported only where a run uses Ray.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO


class RayLog:
    """Where Ray's output goes: kept in memory until the study's folder exists, then ray.log."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._held: list[str] = []
        self._file: TextIO | None = None

    def write(self, text: str) -> int:
        with self._lock:
            if self._file is not None:
                self._file.write(text)
            else:
                self._held.append(text)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.flush()

    def fileno(self) -> int:
        """The terminal's stderr: ``ray.init`` points faulthandler's fatal-error dumps there."""
        return sys.__stderr__.fileno() if sys.__stderr__ is not None else 2

    def open(self, path: Path) -> None:
        with self._lock:
            self.close()
            self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()
            self._file.write("".join(self._held))
            self._file.flush()
            self._held = []

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def capture_ray_logging(sink: RayLog) -> None:
    """Send the ``ray`` loggers (Ray's, Tune's) to ``sink`` instead of the terminal."""
    handler = logging.StreamHandler(sink)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if name.startswith("ray.") and isinstance(logger, logging.Logger):
            for old in list(logger.handlers):
                logger.removeHandler(old)
            logger.propagate = True
    # Tune looks for the per-trial result files it was told not to write
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)
    root = logging.getLogger("ray")
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    root.propagate = False


def capture_worker_output(sink: RayLog) -> bool:
    """Print what trial processes write (stdout, stderr) and what Ray's error channel says
    (a node marked dead, a worker killed for memory) into ``sink``, not the terminal.

    Ray forwards the workers' output to the driver and prints it there; this swaps its
    printer for one that writes to ``sink``. Ray's error messages skip that printer: its
    listener thread calls ``print_to_stdstream`` by name, so that name is pointed at the sink
    too. False where this Ray has no such hook (then the workers' output stays in Ray's
    session logs).
    """
    try:
        import ray._private.worker as ray_worker
        from ray._private.ray_logging import global_worker_stdstream_dispatcher as dispatcher
        from ray._private.worker import print_worker_logs
    except ImportError:
        return False
    if not hasattr(dispatcher, "remove_handler") or not hasattr(dispatcher, "add_handler"):
        return False
    dispatcher.remove_handler("ray_print_logs")
    dispatcher.remove_handler("search_ray_log")
    plain = _Plain(sink)

    def to_sink(data: dict[str, Any], ignore_prefix: bool = False) -> None:
        print_worker_logs(data, plain, ignore_prefix)

    dispatcher.add_handler("search_ray_log", to_sink)
    if hasattr(ray_worker, "print_to_stdstream"):
        ray_worker.print_to_stdstream = to_sink
    return True


class _Plain:
    """Writes to a :class:`RayLog` without the terminal colours Ray puts on worker lines."""

    _ANSI = re.compile(r"\x1b\[[0-9;]*m")

    def __init__(self, sink: RayLog) -> None:
        self.sink = sink

    def write(self, text: str) -> int:
        return self.sink.write(self._ANSI.sub("", text))

    def flush(self) -> None:
        self.sink.flush()


class Started:
    """What Ray printed while it started: its C++ core writes to the process's stderr."""

    text = ""


@contextlib.contextmanager
def starting(sink: RayLog) -> Iterator[Started]:
    """Send all Ray prints while it starts to ``sink``, the C++ core's (fd 2) included.

    ``ray.init`` clears the handlers of Ray's loggers and its C++ core logs connection retries
    straight to stderr; none of it is for the terminal.
    """
    started = Started()
    sys.stdout.flush()
    sys.stderr.flush()
    with tempfile.TemporaryFile() as captured:
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):  # type: ignore[type-var]
                yield started
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            started.text = captured.read().decode("utf-8", errors="replace")
            sink.write(started.text)
