"""The messages between the driver and a trial worker, and the trial handle built on them.

A worker holds one connection to the driver (a pipe on this machine, a socket from a Ray
actor). The driver sends the task once (:class:`Setup`), then jobs: a trial to run
(:class:`Run`, with what the trial and its study look like in the store as it starts), or a
model to fit (:class:`Fit`, :class:`FitScore`). While a trial runs, its handle
(:mod:`search.core._worker_trial`) sends what the objective reports (:class:`Report`,
:class:`Attr`) without waiting, and asks the driver what only the driver knows (:class:`Ask`:
whether to prune; the value of a parameter, for objectives that suggest their own; to stop the
study) and waits for the :class:`Answer`. The driver alone asks the pruner and the sampler and
writes the store.

Every message is plain data. What a worker sends is decoded by :func:`receive`, which admits
the worker's message types and plain values (numbers, text, bytes, lists, tuples, dicts) and
nothing else: a pickle that names any other class or function (a ``__reduce__`` of a trial's
making) is refused before anything of it runs, so a trial cannot run code in the driver, which
holds the sealed test part.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

# --- driver -> worker ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Setup:
    """The first message to a new worker: the task (pickled once by the driver) and its limits."""

    task: bytes
    threads: int | None
    log_dir: Path | None


@dataclass(frozen=True, slots=True)
class TrialSnapshot:
    """A trial as the store holds it when it starts: what Optuna's ``Trial`` reads."""

    trial_id: int
    params: dict[str, Any] = field(default_factory=dict)
    distributions: dict[str, str] = field(default_factory=dict)  # name -> Optuna's JSON
    user_attrs: dict[str, Any] = field(default_factory=dict)
    datetime_start: datetime | None = None


@dataclass(frozen=True, slots=True)
class StudySnapshot:
    """What ``trial.study`` knows inside a trial without asking: what never changes. Its user
    attributes and best trial are asked for when read (:class:`Ask` ``"study"``)."""

    name: str
    directions: tuple[str, ...]  # "maximize" or "minimize", one an objective
    metric_names: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class StudyState:
    """The study's user attributes and best trial as the driver knows them now."""

    user_attrs: dict[str, Any] = field(default_factory=dict)
    best: Any = None  # the best own COMPLETE trial (an Optuna FrozenTrial), one objective only


@dataclass(frozen=True, slots=True)
class Run:
    """Run trial ``number`` on ``config``; ``rows``: a subset of the development data."""

    number: int
    config: dict[str, Any]
    attempt: int = 1
    rows: Any = None
    trial: TrialSnapshot | None = None
    study: StudySnapshot | None = None
    restore: dict[str, Any] | None = None  # the checkpoint it continues from (_checkpoints)
    keep_checkpoints: int | None = None  # the last N (and the best) stay; None: the last


@dataclass(frozen=True, slots=True)
class Fit:
    """Fit the final model of ``config`` on the development data (or its ``rows``); with
    ``save_to`` (a worker on the driver's machine), save it there too, as :class:`Save` does."""

    config: dict[str, Any]
    trial_dir: Path | None = None
    rows: Any = None
    save_to: Path | None = None


@dataclass(frozen=True, slots=True)
class Save:
    """Save the final ``model`` (pickled by the worker that fitted it) into ``folder``, with
    the objective's own ``save_model``: the user's code runs in a worker, not in the driver,
    until the test is opened."""

    model: bytes
    folder: Path


@dataclass(frozen=True, slots=True)
class FitScore:
    """Fit ``config`` on the ``train`` rows and score it on the ``held`` rows (nested CV)."""

    config: dict[str, Any]
    train: Any
    held: Any


@dataclass(frozen=True, slots=True)
class Answer:
    """The driver's reply to an :class:`Ask`."""

    value: Any


@dataclass(frozen=True, slots=True)
class Stop:
    """Finish: the worker returns from its loop and exits."""


# --- worker -> driver ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ready:
    """The worker has loaded the task and waits for jobs; or could not (``error``)."""

    pid: int
    host: str
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Report:
    """An intermediate validation score at a step (a fold, an epoch)."""

    value: float
    step: int


#: what an :class:`Attr` sets: a user attribute, a system attribute, a constraint value, a
#: checkpoint saved (its path and files' sha256), or the metrics reported at a step
ATTR_KINDS = ("user", "system", "constraint", "checkpoint", "metrics")


@dataclass(frozen=True, slots=True)
class Attr:
    """A JSON-able value the objective keeps with its trial (fold scores, training score, its
    own ``set_user_attr``), or a constraint's value (``kind``, one of :data:`ATTR_KINDS`)."""

    key: str
    value: Any
    kind: str = "user"


@dataclass(frozen=True, slots=True)
class Ask:
    """A question only the driver can answer: ``"prune"``; ``"suggest"`` with a parameter's
    name and distribution (Optuna's JSON); ``"study"`` (its :class:`StudyState`); ``"stop"``
    (the study, as ``study.stop()``)."""

    what: str
    args: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class Done:
    """A trial ended: its outcome, and the sha256 of each file it kept (relative paths)."""

    state: str
    value: float | dict[str, float] | tuple[float, ...] | None
    error: str | None
    detail: str | None
    files: dict[str, str]


@dataclass(frozen=True, slots=True)
class Fitted:
    """A fitted model (pickled by the worker), a score, or why fitting failed."""

    model: bytes | None = None
    score: float | None = None
    error: str | None = None
    detail: str | None = None
    seconds: float = 0.0
    files: tuple[str, ...] = ()  # a saved model's files, as the objective listed them
    cannot_write: bool = False  # ``error`` is a full disk's, quota's or read-only mount's


# --- decoding what a worker sends -----------------------------------------------------------------

#: what a worker may send, and nothing else
WORKER_MESSAGES: tuple[type, ...] = (Ready, Report, Attr, Ask, Done, Fitted)
_ADMITTED = {(cls.__module__, cls.__qualname__): cls for cls in WORKER_MESSAGES}
_PLAIN = (str, int, float, bool, bytes, type(None))


class NotPlainData(Exception):
    """A worker sent something other than one of its messages made of plain values."""


class _ChannelUnpickler(pickle.Unpickler):
    """Finds the worker messages' classes and no other global: nothing to call, so nothing
    of the sender's runs."""

    def find_class(self, module: str, name: str) -> Any:
        found = _ADMITTED.get((module, name))
        if found is None:
            raise NotPlainData(f"a pickle of {module}.{name}")
        return found


def decode(data: bytes, admitted: tuple[type, ...] = WORKER_MESSAGES) -> Any:
    """A message from a worker's bytes, or :class:`NotPlainData` saying what it held."""
    try:
        message = _ChannelUnpickler(io.BytesIO(data)).load()
    except NotPlainData:
        raise
    except Exception as exc:  # noqa: BLE001 - any malformed pickle is refused alike
        raise NotPlainData(f"bytes that are not a message ({type(exc).__name__})") from None
    if not isinstance(message, admitted):
        raise NotPlainData(f"a {type(message).__name__}, not one of its messages")
    values = [message]
    if is_dataclass(message):
        values = [getattr(message, f.name) for f in fields(message)]
    for value in values:
        _check_plain(value, depth=0)
    return message


def _check_plain(value: Any, depth: int) -> None:
    if depth > 32:
        raise NotPlainData("values nested too deep")
    if isinstance(value, _PLAIN):
        return
    if isinstance(value, (list, tuple)):
        for item in value:
            _check_plain(item, depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            _check_plain(key, depth + 1)
            _check_plain(item, depth + 1)
        return
    raise NotPlainData(f"a {type(value).__name__} inside a message")


def receive(conn: Any, admitted: tuple[type, ...] = WORKER_MESSAGES) -> Any:
    """The next message a worker sent on ``conn``, decoded by :func:`decode`."""
    return decode(conn.recv_bytes(), admitted)
