"""The shapes every module of :mod:`spaces` names: JSON scalars, "no default", and a trial.

They sit at the bottom so that the parameter types, the compilers and the space can all use
them: :data:`Scalar` is what a categorical offers or a constant holds, :data:`NO_DEFAULT` marks
a parameter without a default, and :class:`Suggester` is what a space needs of a trial to
compile onto it (Optuna's three ``suggest_*`` methods, so no framework is imported).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any, Final, Literal, Protocol, TypeAlias

#: A value a categorical can offer or a constant can hold: a JSON scalar.
Scalar: TypeAlias = str | int | float | bool | None


class _NoDefault(enum.Enum):
    NO_DEFAULT = "NO_DEFAULT"

    def __repr__(self) -> str:
        return "NO_DEFAULT"


#: The ``default`` of a parameter that has none. ``None`` cannot play this part: it is a
#: valid choice of a categorical (``max_depth: [null, 8, 16]`` with the default ``null``).
NO_DEFAULT: Final = _NoDefault.NO_DEFAULT
NoDefault: TypeAlias = Literal[_NoDefault.NO_DEFAULT]


class Suggester(Protocol):
    """What :meth:`Space.sample` needs of a trial: Optuna's three ``suggest_*`` methods."""

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = ..., log: bool = ...
    ) -> float: ...

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = ..., log: bool = ...
    ) -> int: ...

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any: ...
