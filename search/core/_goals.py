"""What a study optimizes: one value or several named ones, their directions, the bounds some
values must keep, and the rule that picks the one config the final evaluation opens the test for.

A trial returns one number (one objective), a mapping of named numbers, or Optuna's tuple of
numbers (one an objective, in order). The names in ``directions`` are optimized; any other name a trial returns is a *measure*, kept with the trial
and usable in a constraint (``model_bytes <= 1e6``) or in the pick rule. A trial that breaks a
constraint is recorded, and kept off the Pareto front and out of the final evaluation.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from search.core._errors import UserError

DIRECTIONS = ("maximize", "minimize")
_OPS = ("<=", ">=")
_CONDITION = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(<=|>=)\s*(\S+)\s*$")


@dataclass(frozen=True)
class Constraint:
    """``name <= bound`` or ``name >= bound``."""

    name: str
    op: str
    bound: float

    def violation(self, value: float) -> float:
        """How far ``value`` breaks the bound (Optuna's convention: feasible when <= 0)."""
        return value - self.bound if self.op == "<=" else self.bound - value

    def __str__(self) -> str:
        return f"{self.name} {self.op} {self.bound:g}"


@dataclass(frozen=True)
class Pick:
    """The final evaluation's choice: the best ``best`` among the feasible trials that meet
    ``where`` (and, with several objectives, among the Pareto front when ``where`` is empty)."""

    best: str
    where: tuple[Constraint, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Pick:
        """``"accuracy"`` or ``"accuracy where model_bytes <= 1e6, fit_seconds <= 2"``."""
        head, _, tail = str(text).partition(" where ")
        best = head.strip()
        if not re.fullmatch(r"[A-Za-z_][\w.]*", best):
            raise ValueError(f"pick must be 'NAME' or 'NAME where A <= x, B >= y', but got {text!r}")
        conditions = [c for c in tail.split(",") if c.strip()] if tail else []
        return cls(best=best, where=tuple(_condition(c, text) for c in conditions))

    def __str__(self) -> str:
        where = f" where {', '.join(map(str, self.where))}" if self.where else ""
        return f"best {self.best}{where}"


def _condition(text: str, whole: str) -> Constraint:
    found = _CONDITION.match(text)
    if found is None:
        raise ValueError(f"pick: {text.strip()!r} in {whole!r} is not 'NAME <= number' or 'NAME >= number'")
    return Constraint(found[1], found[2], _number(found[3], f"pick: {text.strip()!r}"))


def _number(value: Any, where: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: the bound must be a number, but got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{where}: the bound must be finite, but got {value!r}")
    return number


def parse_constraints(value: Any) -> tuple[Constraint, ...]:
    """``{"model_bytes": ("<=", 1e6)}`` as constraints; a :class:`UserError` naming the bad one."""
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise UserError(
            "study: constraints must be a mapping name -> (op, bound), e.g. "
            f"{{'model_bytes': ('<=', 1e6)}}, but got {type(value).__name__}"
        )
    found = []
    for name, rule in value.items():
        where = f"study: constraints[{name!r}]"
        if not isinstance(rule, Sequence) or isinstance(rule, str) or len(rule) != 2:
            raise UserError(f"{where} must be (op, bound) with op '<=' or '>=', but got {rule!r}")
        op, bound = rule
        if op not in _OPS:
            raise UserError(f"{where}: op must be '<=' or '>=', but got {op!r}")
        try:
            found.append(Constraint(str(name), op, _number(bound, where)))
        except ValueError as exc:
            raise UserError(str(exc)) from None
    return tuple(found)


class ShapeMismatch(ValueError):
    """A trial returned a number of values that does not fit the study's objectives: every
    trial would fail alike, so the search stops (see :class:`~search.core._engine.Engine`)."""


def objective_names(count: int) -> list[str]:
    """Optuna's names for unnamed objectives: ``objective_0``, ``objective_1``, ..."""
    return [f"objective_{i}" for i in range(count)]


@dataclass(frozen=True)
class Goals:
    """The objectives (name -> direction, in order), the constraints and the pick rule."""

    directions: dict[str, str]
    constraints: tuple[Constraint, ...] = ()
    pick: Pick | None = None
    measures: tuple[str, ...] = field(default=())  # names the objective is asked to compute

    @property
    def names(self) -> list[str]:
        return list(self.directions)

    @property
    def multi(self) -> bool:
        return len(self.directions) > 1

    @property
    def direction(self) -> str:
        """The direction of the first objective (the only one, for a single objective)."""
        return next(iter(self.directions.values()))

    def tell_values(self, trial: Any, value: Any) -> Any:
        """The value(s) to tell for a complete trial, with its measures and constraints set
        on it; or why it fails (text)."""
        read = self.read(value)
        if isinstance(read, str):
            return read
        values, named = read
        if set(named) != set(self.names):
            trial.set_user_attr("values", named)  # the measures beside the objectives
        for name, violation in self.violations(named).items():
            trial.set_constraint(name, violation)
        return values if self.multi else values[0]

    def read(self, returned: Any) -> tuple[list[float], dict[str, float]] | str:
        """A trial's objective values in order and every named value it returned; or why they
        cannot be used. Raise :class:`ShapeMismatch` when their number cannot fit the study."""
        if isinstance(returned, Mapping):
            named = {str(k): float(v) for k, v in returned.items()}
        elif isinstance(returned, Sequence) and not isinstance(returned, str):
            if len(returned) != len(self.names):
                raise ShapeMismatch(self._mismatch(f"{len(returned)} values"))
            named = {name: float(v) for name, v in zip(self.names, returned, strict=True)}
        elif isinstance(returned, (int, float)):
            if self.multi:
                raise ShapeMismatch(self._mismatch("one number"))
            named = {self.names[0]: float(returned)}
        else:
            return f"objective returned {type(returned).__name__}; return a mapping of {self.names}"
        wanted = [*self.names, *(c.name for c in self.constraints)]
        missing = [name for name in dict.fromkeys(wanted) if name not in named]
        if missing:
            return f"objective returned no {', '.join(map(repr, missing))} (it returned {sorted(named)})"
        bad = [name for name, v in named.items() if not math.isfinite(v)]
        if bad:
            return f"objective returned {named[bad[0]]} for {bad[0]!r}"
        return [named[name] for name in self.names], named

    def _mismatch(self, returned: str) -> str:
        return f"the objective returned {returned}, but {self.mismatch_fix()}"

    def mismatch_fix(self) -> str:
        """What the study has, and how to make a number of values fit it."""
        if self.multi:
            return (f"the study has {len(self.names)} objectives ({', '.join(self.names)}); "
                    "return one number an objective, in that order, or a mapping of those names")
        return (f"the study has one objective ({self.direction}); give a direction an "
                "objective: Study(directions=['minimize', 'maximize']) or --directions "
                "minimize maximize")

    def violations(self, named: Mapping[str, float]) -> dict[str, float]:
        """Each constraint's violation (<= 0: met), by its text."""
        return {str(c): c.violation(named[c.name]) for c in self.constraints}

    def describe(self) -> dict[str, Any]:
        """For ``study.json``."""
        return {
            "directions": dict(self.directions),
            "constraints": [str(c) for c in self.constraints],
            "pick": str(self.pick) if self.pick else None,
        }

