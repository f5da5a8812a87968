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

Every message is plain data: the driver unpickles what workers send, so nothing here carries
code of the user's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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


@dataclass(frozen=True, slots=True)
class Fit:
    """Fit the final model of ``config`` on the development data (or its ``rows``)."""

    config: dict[str, Any]
    trial_dir: Path | None = None
    rows: Any = None


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


#: what an :class:`Attr` sets: a user attribute, a system attribute, or a constraint value
ATTR_KINDS = ("user", "system", "constraint")


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
