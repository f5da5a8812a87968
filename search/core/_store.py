"""The study store: an Optuna journal file under ``RESULTS/NAME/``, embedded, with no server.

One process writes it: the run's driver, which holds the study's run lock (:func:`run_lock`)
from before anything is checked until the run ends. Trials run elsewhere and send what they
learn to the driver, so no other process ever opens the store for writing. The writer keeps the
log in memory and appends each batch to the file with one ``write`` (in the kernel's cache at
once, so a killed driver loses nothing it wrote); a tail left half-written by a machine crash is
cut, under the run lock, before the first trial.

Readers (``show``, ``report``, the dashboard) open the file with :func:`read_store`: they read
it as it grows, skip a last line still being written, and never write, create or repair it.
Both sides use Optuna's journal format, which ``optuna-dashboard`` and Optuna itself read.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from search.core._errors import UserError
from search.core._folder import STORE_FILE

if TYPE_CHECKING:
    from optuna.storages import JournalStorage


def open_store(directory: Path) -> JournalStorage:
    """The driver's store of the study in ``directory``; call it holding the run lock."""
    from search.core._store_index import StateIndexedJournal

    path = directory / STORE_FILE
    _repair_torn_tail(path)
    return StateIndexedJournal(_writer_backend(path))


def read_store(path: Path) -> JournalStorage:
    """A read-only view of the journal at ``path``; it follows the file as it grows."""
    from optuna.storages import JournalStorage

    return JournalStorage(_reader_backend(path))


class ReadOnlyStore(RuntimeError):
    """A reader of the store was asked to write."""


def _writer_backend(path: Path) -> Any:
    from contextlib import suppress

    from optuna.storages.journal import BaseJournalBackend

    from search.core._errors import writing

    class SingleWriterJournal(BaseJournalBackend):
        """The journal appended to the file with one write per batch. It holds in memory only
        the lines its storage has not read yet: the storage keeps the study itself, so a long
        run's memory does not hold every line twice."""

        def __init__(self) -> None:
            self._logs: list[dict[str, Any]] = list(_read_lines(path, 0)[0])
            self._first = 0  # the number of the first line in self._logs
            with writing(path):
                self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

        def read_logs(self, log_number_from: int) -> list[dict[str, Any]]:
            if log_number_from < self._first:
                raise RuntimeError(f"{path}: journal lines before {self._first} were read "
                                   "already; one storage reads this writer")
            del self._logs[:log_number_from - self._first]  # read, so applied: not kept
            self._first = log_number_from
            return list(self._logs)

        def append_logs(self, logs: list[dict[str, Any]]) -> None:
            """Append whole lines or nothing: a write the file system refuses part-way (a full
            disk, a quota, a read-only remount) is cut back to the length before it, then
            raised (:func:`~search.core._errors.writing`: one line naming the folder)."""
            text = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs)
            data = memoryview(text.encode("utf-8"))
            before = os.fstat(self._fd).st_size
            with writing(path):
                try:
                    while data:  # one write, unless the kernel takes less (a full disk raises)
                        data = data[os.write(self._fd, data):]
                except OSError:
                    with suppress(OSError):  # a read-only remount refuses this too: the
                        os.ftruncate(self._fd, before)  # torn tail is cut at the next open
                    raise
            self._logs.extend(logs)

        def _refuse(self, *_: Any) -> NoReturn:
            raise TypeError(
                f"{path}: the study store's writer cannot be pickled or copied: only the run's "
                "driver writes the store, and a copy would close its file when collected"
            )

        __reduce__ = __reduce_ex__ = __getstate__ = __copy__ = __deepcopy__ = _refuse  # type: ignore[assignment]

        def __del__(self) -> None:
            _close(getattr(self, "_fd", None))

    return SingleWriterJournal()


def _close(fd: int | None) -> None:
    """Flush and close the writer's file, if it was opened (never raises: a finaliser)."""
    if fd is not None:
        try:
            os.fsync(fd)
            os.close(fd)
        except OSError:
            pass


def _reader_backend(path: Path) -> Any:
    from optuna.storages.journal import BaseJournalBackend

    class ReadOnlyJournal(BaseJournalBackend):
        """Reads complete lines as the file grows; refuses to write."""

        def __init__(self) -> None:
            self._logs: list[dict[str, Any]] = []  # read from the file, not yet by the storage
            self._first = 0  # the number of the first line in self._logs
            self._offset = 0

        def read_logs(self, log_number_from: int) -> list[dict[str, Any]]:
            if log_number_from < self._first:
                raise RuntimeError(f"{path}: journal lines before {self._first} were read "
                                   "already; one storage reads this reader")
            new, self._offset = _read_lines(path, self._offset)
            del self._logs[:log_number_from - self._first]
            self._first = log_number_from
            self._logs.extend(new)
            return list(self._logs)

        def append_logs(self, logs: list[dict[str, Any]]) -> None:
            raise ReadOnlyStore(f"{path}: opened read-only; only the run's driver writes it")

    return ReadOnlyJournal()


def _read_lines(path: Path, offset: int) -> tuple[list[dict[str, Any]], int]:
    """The complete lines of ``path`` from byte ``offset``, and the offset after the last one.

    A last line without its newline is still being written (or was torn by a crash): it is
    left for the next read. Any other line that is not JSON is a corrupt store.
    """
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n") + 1
    logs = []
    for number, line in enumerate(data[:end].splitlines(), start=1):
        try:
            logs.append(json.loads(line))
        except json.JSONDecodeError:
            raise UserError(
                f"{path}: line {number} after byte {offset} is not a journal entry; the store "
                "is corrupt"
            ) from None
    return logs, offset + end


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
    """Hold the study's run lock: one run of a study at a time, across processes.

    The lock is the study folder itself (``flock`` on the directory), so taking it writes no
    file: a run that loses the race, or stops at a check, leaves nothing behind. The folder is
    created when missing (with its missing parents), and removed again on the way out if this
    run created it and nothing was written in it: while the lock is still held, so a run that
    takes the lock next finds the folder gone and makes its own (a run checks, once it holds the
    lock, that the path still names the folder it locked). A run that loses never removes
    anything. A folder that cannot be made or used is a :class:`UserError`.
    """
    fd, created = _locked_folder(directory)
    try:
        yield
    finally:
        try:
            for folder in created:
                try:
                    folder.rmdir()  # only when nothing was written in it; still locked
                except OSError:
                    break
        finally:
            os.close(fd)


#: how often a run makes the folder again when the one it locked was removed under it
_LOCK_TRIES = 20


def _locked_folder(directory: Path) -> tuple[int, list[Path]]:
    """Make ``directory`` (when missing) and lock it; the descriptor, and the folders this
    run created, deepest first. The lock is held on the folder the path names."""
    for _ in range(_LOCK_TRIES):
        created = _make_folder(directory)
        try:
            fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            continue  # removed by the run that held it, between making and opening: again
        except OSError as exc:
            raise UserError(
                f"{directory}: cannot be opened as a results folder ({_why(exc)})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UserError(
                f"{directory}: this study is being run by another process; wait for it to "
                "finish or give another --results folder"
            ) from None
        if _same_folder(fd, directory):
            return fd, created
        os.close(fd)  # the run that held it removed it (or it was replaced): lock the new one
    raise UserError(f"{directory}: the results folder keeps being removed while this run "
                    "takes its lock; is another program cleaning it?")


def _same_folder(fd: int, directory: Path) -> bool:
    """Whether ``directory`` still names the folder open as ``fd``."""
    held = os.fstat(fd)
    try:
        now = os.stat(directory)
    except OSError:
        return False
    return (held.st_dev, held.st_ino) == (now.st_dev, now.st_ino)


def _make_folder(directory: Path) -> list[Path]:
    """Create ``directory`` and its missing parents; the ones this call created, deepest first
    (a folder another process made at the same moment is not counted)."""
    missing = []
    for folder in [directory, *directory.parents]:
        if folder.exists():
            break
        missing.append(folder)
    created = []
    for folder in reversed(missing):
        try:
            folder.mkdir()
            created.append(folder)
        except FileExistsError:
            pass  # made by another run at the same moment (a file is found below)
        except OSError as exc:
            raise UserError(
                f"{directory}: cannot create the results folder ({_why(exc)})") from None
    if not directory.is_dir():
        raise UserError(f"{directory}: cannot create the results folder (a file of that name "
                        "exists)")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise UserError(f"{directory}: the results folder is not writable")
    return created[::-1]


def _why(exc: OSError) -> str:
    if exc.errno == errno.ENOTDIR:
        return "a file stands where a folder is needed"
    if exc.errno == errno.EEXIST:
        return "a file of that name exists"
    return exc.strerror or type(exc).__name__
