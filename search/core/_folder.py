"""The files of a results folder, named in one place, and how JSON files there are read and written.

``RESULTS/NAME/`` holds one study; ``RESULTS/`` itself holds the MLflow store shared by the
studies under it. Every module that reads or writes one of these files takes its name from here.
A results file that cannot be read back (truncated, corrupt, not JSON) is a :class:`UserError`
naming the file: exit 2, one line, instead of a traceback.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from search.core._errors import UserError, writing

# --- RESULTS/NAME/ ------------------------------------------------------------------------------
STUDY_JSON = "study.json"  # what the study is; written at start, updated
TRIALS_CSV = "trials.csv"  # one row a trial, a view of the store
BEST_JSON = "best.json"  # the best trial, its ties and the config selected for the final
FINAL_JSON = "final.json"  # the final evaluation; its existence means the test was opened
NESTED_JSON = "nested.json"  # the nested cross-validation estimate (--nested)
MODEL_DIR = "model"  # the final model
INPUT_EXAMPLE = "input_example.json"  # in MODEL_DIR: raw development rows, for MLflow
STORE_FILE = "study.journal"  # the Optuna journal: the source of truth
LOG_FILE = "search.log"  # Optuna's and the framework's log
REPORT_HTML = "report.html"  # the report
TRIALS_DIR = "trials"  # files trials keep, one folder a trial
RAY_LOG = "ray.log"  # Ray's own output (--backend ray)

# --- RESULTS/ -----------------------------------------------------------------------------------
MLFLOW_DB = "mlflow.db"  # the embedded MLflow store of every study under RESULTS
MLFLOW_ARTIFACTS = "mlartifacts"  # its artifacts


def trial_dir(directory: Path, number: int) -> Path:
    """The folder of trial ``number``'s files in the study folder ``directory``."""
    return directory / TRIALS_DIR / f"trial_{number:05d}"


def now() -> str:
    """The current time, as results files record it (UTC, ISO 8601, seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_json(path: Path, payload: Any, *, exclusive: bool = False) -> None:
    """Write ``payload`` as JSON atomically (see :func:`replacing`)."""
    text = json.dumps(payload, indent=2, default=_jsonable) + "\n"
    with replacing(path, exclusive=exclusive, sync=exclusive) as f:
        f.write(text)


@contextmanager
def replacing(
    path: Path, *, exclusive: bool = False, sync: bool = False, newline: str | None = None
) -> Iterator[TextIO]:
    """A text file written beside ``path`` under a name of its own, then put in its place whole:
    renamed over it, or (``exclusive``) linked to its name, which fails with
    :class:`FileExistsError` when ``path`` exists, even across processes.

    A reader sees the old file or the new one, never a part; the temporary file is removed
    however the write ends; a full disk, quota or read-only file system is a one-line
    :class:`~search.core._errors.CannotWrite` naming the folder. ``sync`` makes the file
    durable (fsync) before it takes the name.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    with writing(path):
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as f:
                yield f
                f.flush()
                if sync:
                    os.fsync(f.fileno())
            if exclusive:
                _link(tmp, path)
            else:
                os.replace(tmp, path)
        finally:
            with suppress(OSError):
                tmp.unlink(missing_ok=True)
        if sync:
            _sync_folder(path.parent)


def _link(tmp: Path, path: Path) -> None:
    """Give ``tmp`` the name ``path`` only if no file has it. A file system without hard links
    (FAT, some network shares) gets an exclusive create and a copy: still exclusive, though a
    kill there could leave a partial file."""
    try:
        os.link(tmp, path)
        return
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS):
            raise
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(tmp.read_bytes())
        f.flush()
        os.fsync(f.fileno())


def _sync_folder(folder: Path) -> None:
    with suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def read_json(path: Path) -> Any:
    """The JSON in ``path``; a file that is not valid JSON is a :class:`UserError` naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a text file; it is corrupt") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        what = "empty" if not text.strip() else f"not valid JSON ({exc.msg}, line {exc.lineno})"
        raise UserError(f"{path}: {what}; the file is truncated or corrupt") from None


#: the keys without which a results file cannot be used
REQUIRED = {
    STUDY_JSON: ("name", "metric", "direction", "seed", "space"),
    BEST_JSON: ("number", "params"),
    FINAL_JSON: ("opened_at",),
}


def read_record(path: Path) -> dict[str, Any]:
    """A results file that holds one JSON object (study.json, best.json, final.json), with
    the keys it cannot do without."""
    value = read_json(path)
    if not isinstance(value, dict):
        raise UserError(
            f"{path}: holds a JSON {type(value).__name__}, not an object; the file is corrupt"
        )
    missing = [key for key in REQUIRED.get(path.name, ()) if key not in value]
    if missing:
        raise UserError(f"{path}: has no {', '.join(missing)}; the file is corrupt")
    return value


def unscored_final(final: dict[str, Any], directory: Path) -> str | None:
    """What to say of a ``final.json`` that records the opening but no scores (``None`` once it
    holds them): the final evaluation stopped after the opening, and a later ``final`` scores
    the model it saved before the opening (when the opening recorded that model's digests)."""
    if final.get("status") == "evaluated":
        return None
    if final.get("model_digests"):
        return (
            f"opened at {final.get('opened_at')}, not scored: run python -m search final "
            f"{directory} to score the saved model"
        )
    return f"opened at {final.get('opened_at')} but no result was recorded"


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
