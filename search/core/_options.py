"""The run options, declared once: each field carries its flag, help, value rule and scope.

The command line builds its parser from these fields (:mod:`search.cli`), a study file sets the
defaults of those marked ``study=True`` (fields of :class:`~search.core._study.Study` of the
same name), and a flag given on the command line overrides the file. Options marked
``backends=("ray",)`` apply to that backend only; given for another, they are an error.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from search.core._errors import UserError

SAMPLERS = ("auto", "tpe", "random", "grid", "cmaes", "gp", "qmc", "nsga2")
PRUNERS = ("auto", "racing", "median", "successive_halving", "hyperband", "median_stopping", "none")
BACKENDS = ("local", "ray")
DEFAULT_MAX_RETRIES = 2


def bounded(kind: type, accept: Callable[[Any], bool], says: str) -> Callable[[str], Any]:
    """A parser of ``kind`` (int or float) from text that raises ``ValueError`` with one line."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            expected = "an integer" if kind is int else "a number"
            raise ValueError(f"expected {expected}, got {text!r}") from None
        if not accept(value):
            raise ValueError(f"must be {says}, got {text}")
        return value

    parse.__name__ = f"{kind.__name__} {says}"
    return parse


POSITIVE_INT = bounded(int, lambda v: v >= 1, ">= 1")
NON_NEGATIVE_INT = bounded(int, lambda v: v >= 0, ">= 0")
FOLDS = bounded(int, lambda v: v >= 2, ">= 2")
POSITIVE = bounded(float, lambda v: 0 < v < math.inf, "> 0")
NON_NEGATIVE = bounded(float, lambda v: 0 <= v < math.inf, "a number >= 0")


def option(
    flag: str,
    help: str,  # noqa: A002 - argparse's own word
    *,
    parse: Callable[[str], Any] | None = None,
    choices: tuple[str, ...] | None = None,
    metavar: str | None = None,
    study: bool = False,
    backends: tuple[str, ...] | None = None,
    switch: Any = None,
    group: str | None = None,
    default: Any = None,
    many: bool = False,
) -> Any:
    """A run option's field.

    ``switch`` is the value a flag without argument sets; options of one ``group`` exclude
    each other; ``many`` takes one or more values (a list).
    """
    meta = {
        "flag": flag,
        "help": help,
        "parse": parse,
        "choices": choices,
        "metavar": metavar,
        "study": study,
        "backends": backends,
        "switch": switch,
        "group": group,
        "many": many,
    }
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class RunOptions:
    """What a run is told on the command line (``None``: keep the study file's value)."""

    trials: int | None = option(
        "--trials", "the study's total number of trials", parse=POSITIVE_INT, metavar="N",
        study=True,
    )
    timeout: float | None = option(
        "--timeout", "start no new trial after this long", parse=POSITIVE,
        metavar="SECONDS", study=True,
    )
    backend: str | None = option(
        "--backend", "local: this machine's processes; ray: Ray actors (default local)",
        choices=BACKENDS, study=True,
    )
    workers: int | None = option(
        "--workers", "trials run at the same time", parse=POSITIVE_INT, metavar="N",
        study=True,
    )
    cpus_per_trial: float | None = option(
        "--cpus-per-trial", "Ray: CPUs per trial", parse=POSITIVE, metavar="F",
        study=True, backends=("ray",),
    )
    gpus_per_trial: float | None = option(
        "--gpus-per-trial", "Ray: GPUs per trial; fractions share a GPU", parse=NON_NEGATIVE,
        metavar="F", study=True, backends=("ray",),
    )
    address: str | None = option(
        "--address", "Ray: a running cluster to use (auto or host:port)", metavar="ADDR",
        backends=("ray",),
    )
    max_retries: int | None = option(
        "--max-retries",
        f"runs again a trial whose process died, up to N times (default {DEFAULT_MAX_RETRIES})",
        parse=NON_NEGATIVE_INT, metavar="N",
    )
    keep_checkpoints: int | None = option(
        "--keep-checkpoints",
        "a trial keeps its last N checkpoints, and its best (default: the last and the best)",
        parse=POSITIVE_INT, metavar="N",
    )
    reproducible: bool = option(
        "--no-reproducible", "with several workers, let each trial see every trial finished "
        "when it starts (the run no longer reproduces; see README)", switch=False, default=True
    )
    sampler: str | None = option(
        "--sampler", "Optuna sampler (default auto: chosen for the study, see README)", choices=SAMPLERS, study=True
    )
    direction: str | None = option(
        "--direction", "for a study without a metric (a plain Optuna script): the direction",
        choices=("maximize", "minimize"), study=True, group="direction",
    )
    directions: list[str] | None = option(
        "--directions", "several objectives, in the order the objective returns them "
        "(Optuna's tuple): minimize or maximize each", choices=("maximize", "minimize"),
        study=True, group="direction", many=True, metavar="DIRECTION",
    )
    pruner: str | None = option(
        "--pruner", "early stopping on folds or epochs (default auto: racing on folds, "
        "successive halving on epochs)", choices=PRUNERS,
        study=True,
    )
    results: Path = option(
        "--results", "output root (default ./results)", parse=Path, metavar="DIR",
        default=Path("results"),
    )
    seed: int | None = option(
        "--seed", "one seed for splits, sampler and training", parse=NON_NEGATIVE_INT,
        study=True,
    )
    resume: bool = option(
        "--resume", "continue the existing study", switch=True, default=False
    )
    final: bool = option(
        "--no-final", "do not open the test set", switch=False, default=True
    )
    tracking_uri: str | None = option(
        "--tracking-uri", "MLflow tracking server or store (default sqlite:///RESULTS/mlflow.db)",
        metavar="URI", group="tracking",
    )
    tracking: bool = option(
        "--no-tracking", "do not log to MLflow", switch=False, group="tracking", default=True
    )
    register: str | None = option(
        "--register", "register the final model in MLflow's model registry as NAME",
        metavar="NAME",
    )
    prefer: str | None = option(
        "--prefer", "among configs tied with the best, evaluate the one with the smallest "
        "PARAM (min:PARAM, the default) or the largest (max:PARAM)", metavar="PARAM",
        study=True,
    )
    strict: bool | None = option(
        "--strict", "leak checks stop the run (exit 2) instead of warning", switch=True,
        study=True,
    )
    stop_below_noise: bool | None = option(
        "--stop-below-noise", "end the search once the room for improvement is below the CV "
        "noise", switch=True, study=True,
    )
    nested: int | None = option(
        "--nested", "also estimate the tuned pipeline by K-fold nested cross-validation",
        parse=FOLDS, metavar="K", study=True,
    )

    def overrides(self) -> dict[str, Any]:
        """The options that override the study file's fields, where given."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.metadata["study"] and getattr(self, f.name) is not None
        }

    def retries(self) -> int:
        """How often a trial whose process died runs again."""
        return DEFAULT_MAX_RETRIES if self.max_retries is None else self.max_retries

    def check_backend(self, backend: str) -> None:
        """Refuse options given for a backend they do not apply to, naming the flag."""
        for f in fields(self):
            scope = f.metadata["backends"]
            if scope and backend not in scope and getattr(self, f.name) is not None:
                flag = f.metadata["flag"]
                raise UserError(
                    f"{flag}: applies to --backend {' or '.join(scope)} only, but this run's "
                    f"backend is {backend}; add --backend {scope[0]} or drop {flag}"
                )

    def flag_of(self, name: str) -> str:
        """How the user set the study field ``name``: its flag, or the study file's field."""
        if getattr(self, name, None) is not None:
            return str(next(f for f in fields(self) if f.name == name).metadata["flag"])
        return f"study: {name}"
