"""The study store: an Optuna journal file under ``RESULTS/NAME/``, embedded, with no server.

Optuna's own journal backend locks, re-reads and fsyncs the file on every operation, which
roughly doubles the cost of a cheap trial. A run with one process is the only writer (the run
lock guarantees it), so :class:`_SingleWriterBackend` keeps the log in memory and appends each
batch to the file with one ``write`` (in the kernel's cache at once, so a killed process loses
nothing it wrote). Several worker processes share the file through Optuna's locked backend.
Both write the same format, which ``optuna-dashboard`` and a resumed run read.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.core._errors import UserError
from search.core._folder import STORE_FILE

if TYPE_CHECKING:
    from optuna.storages import BaseStorage


RUN_LOCK = ".run.lock"
SLOT_LOCK = ".slot.lock"


def open_store(directory: Path, *, shared: bool) -> BaseStorage:
    """The journal storage of the study in ``directory``; ``shared`` for several processes."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    path = directory / STORE_FILE
    _repair_torn_tail(path)
    if shared:
        backend: Any = JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path)))
    else:
        backend = _single_writer_backend(path)
    return JournalStorage(backend)


def _single_writer_backend(path: Path) -> Any:
    from optuna.storages.journal import BaseJournalBackend, JournalFileBackend

    class _SingleWriterBackend(BaseJournalBackend):
        """Journal log held in memory, appended to the file with one write per batch."""

        def __init__(self) -> None:
            self._logs: list[dict[str, Any]] = (
                list(JournalFileBackend(str(path)).read_logs(0)) if path.exists() else []
            )
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

        def read_logs(self, log_number_from: int) -> list[dict[str, Any]]:
            return self._logs[log_number_from:]

        def append_logs(self, logs: list[dict[str, Any]]) -> None:
            text = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs)
            os.write(self._fd, text.encode("utf-8"))
            self._logs.extend(logs)

        def __del__(self) -> None:
            fd = getattr(self, "_fd", None)
            if fd is not None:
                try:
                    os.fsync(fd)
                    os.close(fd)
                except OSError:
                    pass

    return _SingleWriterBackend()


def _repair_torn_tail(path: Path) -> None:
    """Cut a last line left half-written by a machine crash, so appends stay well-formed."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, "rb+") as f:
        f.seek(-1, os.SEEK_END)
        if f.read(1) == b"\n":
            return
        f.seek(0)
        f.truncate(f.read().rfind(b"\n") + 1)


@contextmanager
def run_lock(directory: Path) -> Iterator[None]:
    """Hold the study's run lock: one run of a study at a time, across processes."""
    path = directory / RUN_LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise UserError(
                f"{directory}: this study is being run by another process (pid {holder}); "
                "wait for it to finish"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)


@contextmanager
def slot_lock(directory: Path) -> Iterator[None]:
    """Serialise 'count the trials, then start one' across worker processes."""
    fd = os.open(directory / SLOT_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
