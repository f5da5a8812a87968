"""The messages between the driver and a trial worker, and the trial handle built on them.

A worker holds one connection to the driver (a pipe on this machine, a socket from a Ray
actor). The driver sends the task once (:class:`Setup`), then jobs: a trial to run
(:class:`Run`), or a model to fit (:class:`Fit`, :class:`FitScore`). While a trial runs, its
handle sends what the objective reports (:class:`Report`, :class:`Attr`) without waiting, and
asks the driver what only the driver knows (:class:`Ask`: whether to prune; the value of a
parameter, for objectives that suggest their own) and waits for the :class:`Answer`. The
driver alone asks the pruner and the sampler and writes the store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
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
class Run:
    """Run trial ``number`` on ``config``; ``rows``: a subset of the development data."""

    number: int
    config: dict[str, Any]
    attempt: int = 1
    rows: Any = None


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


@dataclass(frozen=True, slots=True)
class Attr:
    """A JSON-able value the objective keeps with its trial (fold scores, training score)."""

    key: str
    value: Any


@dataclass(frozen=True, slots=True)
class Ask:
    """A question only the driver can answer: ``"prune"``, or ``"suggest"`` with arguments."""

    what: str
    args: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class Done:
    """A trial ended: its outcome, and the sha256 of each file it kept (relative paths)."""

    state: str
    value: float | dict[str, float] | None
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


class ChannelTrialHandle:
    """A running trial, seen through :class:`objectives.TrialHandle`, over the channel."""

    __slots__ = ("_conn", "number", "seed", "_folder")

    def __init__(self, conn: Any, number: int, seed: int | None, folder: Path | None) -> None:
        self._conn = conn
        self.number = number
        self.seed = seed
        self._folder = folder

    @property
    def artifact_dir(self) -> Path | None:
        """This trial's folder under ``RESULTS/NAME/trials/``, created on first use."""
        if self._folder is not None:
            self._folder.mkdir(parents=True, exist_ok=True)
        return self._folder

    def report(self, value: float, step: int) -> None:
        self._conn.send(Report(float(value), int(step)))

    def should_prune(self) -> bool:
        return bool(self.ask("prune"))

    def set_attr(self, key: str, value: Any) -> None:
        json.dumps(value)  # the store keeps JSON: fail in the objective, as Optuna would
        self._conn.send(Attr(key, value))

    # Optuna's define-by-run API: the driver's sampler answers, and the store records it.

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float:
        from optuna.distributions import FloatDistribution

        return float(self._suggest(name, FloatDistribution(low, high, log=log, step=step)))

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int:
        from optuna.distributions import IntDistribution

        return int(self._suggest(name, IntDistribution(low, high, log=log, step=step)))

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        from optuna.distributions import CategoricalDistribution

        return self._suggest(name, CategoricalDistribution(choices))

    def _suggest(self, name: str, distribution: Any) -> Any:
        from optuna.distributions import distribution_to_json

        return self.ask("suggest", name, distribution_to_json(distribution))

    def ask(self, what: str, *args: Any) -> Any:
        """Ask the driver and wait for its answer."""
        self._conn.send(Ask(what, args))
        answer = self._conn.recv()
        if not isinstance(answer, Answer):
            raise RuntimeError(f"the driver answered {type(answer).__name__} to {what!r}")
        if isinstance(answer.value, BaseException):
            raise answer.value
        return answer.value
