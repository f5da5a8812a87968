"""The parameters without sub-spaces: :class:`Float`, :class:`Int` and :class:`Constant`.

Validated, immutable value objects: each type checks every argument when it is built
(:mod:`spaces._checks`), so an object that exists is a valid parameter, and the loader rebuilds
every parameter through these constructors, so a file is validated by the same rules as Python
code. A float or an int also knows how a trial suggests it and which values it takes
(:meth:`~Float.check_value`, :meth:`~Float.grid_values`), which is all the compilers ask.
The categorical, whose options may carry sub-spaces, lives with :class:`~spaces.Space`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field
from numbers import Integral
from types import MappingProxyType
from typing import Any, ClassVar

from spaces._checks import (
    dec,
    fail,
    finite,
    flag,
    fmt,
    integer,
    is_number,
    json_key,
    json_value,
    on_grid,
    param_repr,
    plain,
    steps,
)
from spaces._types import NO_DEFAULT, NoDefault, Suggester

_NO_BRANCHES: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, repr=False)
class Float:
    """A float in ``[low, high]``, on a log scale or on the grid ``low + k * step``.

    Rules: ``low`` and ``high`` are finite numbers with ``low <= high``; ``log=True`` needs
    ``low > 0`` and no ``step``; ``step > 0`` and ``high - low`` a multiple of it (Optuna would
    otherwise lower ``high`` quietly); ``default``, when given, lies in the range and on the grid.

    >>> Float(1e-3, 1e3, log=True, default=1.0)
    Float(0.001, 1000.0, log=True, default=1.0)
    """

    low: float
    high: float
    _: KW_ONLY
    log: bool = False
    step: float | None = None
    default: float | NoDefault | None = NO_DEFAULT
    #: a number opens no sub-spaces; only a categorical's options do
    branches: ClassVar[Mapping[str, Any]] = _NO_BRANCHES

    def __post_init__(self) -> None:
        low, high = finite("low", self.low), finite("high", self.high)
        log = flag("log", self.log)
        step = None if self.step is None else finite("step", self.step)
        if log and step is not None:
            fail(
                "The parameter `step` is not supported when `log` is true, but got "
                f"{fmt(('log', self.log), ('step', self.step))}."
            )
        if step is not None and step <= 0:
            fail(f"`step > 0` must hold, but got step={self.step!r}.")
        if low > high:
            fail(
                f"`low <= high` must hold, but got {fmt(('low', self.low), ('high', self.high))}."
            )
        if log and low <= 0:
            fail(
                "`low > 0` must hold for `log=True`, but got "
                f"{fmt(('low', self.low), ('high', self.high))}."
            )
        if step is not None and not on_grid(high, low, step):
            top = float(dec(low) + int(steps(high, low, step)) * dec(step))
            fail(
                "`high - low` must be a multiple of `step`, but got "
                f"{fmt(('low', self.low), ('high', self.high), ('step', self.step))}; "
                f"Optuna would quietly use high={top!r}."
            )
        default: float | NoDefault = NO_DEFAULT
        if self.default is not None and self.default is not NO_DEFAULT:
            default = finite("default", self.default)
            if not low <= default <= high:
                fail(
                    "`low <= default <= high` must hold, but got "
                    f"{fmt(('low', self.low), ('high', self.high), ('default', self.default))}."
                )
            if step is not None and not on_grid(default, low, step):
                fail(
                    "`default` must lie on the grid `low + k * step`, but got "
                    f"{fmt(('low', self.low), ('step', self.step), ('default', self.default))}."
                )
        for name, value in (("low", low), ("high", high), ("step", step), ("default", default)):
            object.__setattr__(self, name, value)

    @property
    def has_default(self) -> bool:
        """Whether a default was given (the first trial then uses it)."""
        return self.default is not NO_DEFAULT

    def suggest(self, trial: Suggester, path: str) -> float:
        """Suggest this float on ``trial`` under its full ``path``."""
        return trial.suggest_float(path, self.low, self.high, log=self.log, step=self.step)

    def to_dict(self) -> dict[str, Any]:
        """The explicit file form, e.g. ``{"type": "float", "low": 0.1, "high": 1.0}``."""
        out: dict[str, Any] = {"type": "float", "low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        if self.step is not None:
            out["step"] = self.step
        if self.has_default:
            out["default"] = self.default
        return out

    def __repr__(self) -> str:
        return param_repr(self, (self.low, self.high), log=False, step=None)

    def check_value(self, value: object) -> float:
        """``value`` as a float of this range; raise :class:`SpaceError` if it is not one."""
        if not is_number(value) or not math.isfinite(value):  # type: ignore[arg-type]
            fail(f"the value must be a finite number, but got {value!r}.")
        number = float(value)  # type: ignore[arg-type]
        if not self.low <= number <= self.high:
            fail(
                "`low <= value <= high` must hold, but got "
                f"{fmt(('low', self.low), ('high', self.high), ('value', value))}."
            )
        if self.step is not None and not on_grid(number, self.low, self.step):
            fail(
                "the value must lie on the grid `low + k * step`, but got "
                f"{fmt(('low', self.low), ('step', self.step), ('value', value))}."
            )
        return number

    def grid_size(self) -> int | None:
        """The number of values on the grid; ``None`` for a continuous range."""
        if self.low == self.high:
            return 1
        if self.step is None:
            return None
        return int(steps(self.high, self.low, self.step).to_integral_value()) + 1

    def grid_values(self) -> list[float]:
        """Every value of the grid, written as the user wrote ``low`` and ``step``."""
        size = self.grid_size()
        if size is None:
            fail("grid search needs a finite set of values: give this float a `step`.")
        if size == 1:
            return [self.low]
        step = dec(self.step)  # type: ignore[arg-type]
        values = [float(dec(self.low) + k * step) for k in range(size)]
        return [min(value, self.high) for value in values]


@dataclass(frozen=True, repr=False)
class Int:
    """An int in ``[low, high]``, on a log scale or on the grid ``low + k * step``.

    Rules: ``low`` and ``high`` are ints (not bools; ``2.0`` counts as 2, ``1.5`` does not) with
    ``low <= high``; ``log=True`` needs ``low >= 1`` and ``step == 1``; ``step >= 1`` and
    ``high - low`` a multiple of it; ``default``, when given, is an int in range on the grid.

    >>> Int(1, 50, default=5)
    Int(1, 50, default=5)
    """

    low: int
    high: int
    _: KW_ONLY
    log: bool = False
    step: int = 1
    default: int | NoDefault | None = NO_DEFAULT
    #: a number opens no sub-spaces; only a categorical's options do
    branches: ClassVar[Mapping[str, Any]] = _NO_BRANCHES

    def __post_init__(self) -> None:
        low, high = integer("low", self.low), integer("high", self.high)
        log = flag("log", self.log)
        step = integer("step", self.step)
        if step < 1:
            fail(f"`step >= 1` must hold, but got step={self.step!r}.")
        if log and step != 1:
            fail(
                "The parameter `step` must be 1 when `log` is true, but got "
                f"{fmt(('log', self.log), ('step', self.step))}."
            )
        if low > high:
            fail(
                f"`low <= high` must hold, but got {fmt(('low', self.low), ('high', self.high))}."
            )
        if log and low < 1:
            fail(
                "`low >= 1` must hold for `log=True`, but got "
                f"{fmt(('low', self.low), ('high', self.high))}."
            )
        if (high - low) % step:
            fail(
                "`high - low` must be a multiple of `step`, but got "
                f"{fmt(('low', self.low), ('high', self.high), ('step', self.step))}; "
                f"Optuna would quietly use high={high - (high - low) % step}."
            )
        default: int | NoDefault = NO_DEFAULT
        if self.default is not None and self.default is not NO_DEFAULT:
            default = integer("default", self.default)
            if not low <= default <= high:
                fail(
                    "`low <= default <= high` must hold, but got "
                    f"{fmt(('low', self.low), ('high', self.high), ('default', self.default))}."
                )
            if (default - low) % step:
                fail(
                    "`default` must lie on the grid `low + k * step`, but got "
                    f"{fmt(('low', self.low), ('step', self.step), ('default', self.default))}."
                )
        for name, value in (("low", low), ("high", high), ("step", step), ("default", default)):
            object.__setattr__(self, name, value)

    @property
    def has_default(self) -> bool:
        """Whether a default was given (the first trial then uses it)."""
        return self.default is not NO_DEFAULT

    def suggest(self, trial: Suggester, path: str) -> int:
        """Suggest this int on ``trial`` under its full ``path``."""
        return trial.suggest_int(path, self.low, self.high, log=self.log, step=self.step)

    def to_dict(self) -> dict[str, Any]:
        """The explicit file form, e.g. ``{"type": "int", "low": 1, "high": 50}``."""
        out: dict[str, Any] = {"type": "int", "low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        if self.step != 1:
            out["step"] = self.step
        if self.has_default:
            out["default"] = self.default
        return out

    def __repr__(self) -> str:
        return param_repr(self, (self.low, self.high), log=False, step=1)

    def check_value(self, value: object) -> int:
        """``value`` as an int of this range; raise :class:`SpaceError` if it is not one."""
        if not is_number(value) or not (
            isinstance(value, Integral) or (math.isfinite(value) and float(value).is_integer())  # type: ignore[arg-type]
        ):
            fail(f"the value must be an int, but got {value!r}.")
        number = int(value)  # type: ignore[call-overload]
        if not self.low <= number <= self.high:
            fail(
                "`low <= value <= high` must hold, but got "
                f"{fmt(('low', self.low), ('high', self.high), ('value', value))}."
            )
        if (number - self.low) % self.step:
            fail(
                "the value must lie on the grid `low + k * step`, but got "
                f"{fmt(('low', self.low), ('step', self.step), ('value', value))}."
            )
        return number

    def grid_size(self) -> int:
        """The number of values on the grid."""
        return (self.high - self.low) // self.step + 1

    def grid_values(self) -> list[int]:
        """Every value of the grid."""
        return list(range(self.low, self.high + 1, self.step))


@dataclass(frozen=True, repr=False)
class Constant:
    """A fixed value that appears in the config but is never suggested.

    ``value`` is any JSON value: a scalar (str, int, float, bool or None), or a list, tuple or
    str-keyed dict of JSON values (a Ray Tune ``param_space``'s ``"layers": [64, 32]``). It is
    copied when the constant is built, and each config gets its own copy (:meth:`fresh`), so a
    trial that changes its list leaves the space alone. In a file a bare scalar is shorthand for
    a constant (``penalty: l2``).

    >>> Constant("l2")
    Constant('l2')
    >>> Constant([64, 32]).to_dict()
    {'type': 'constant', 'value': [64, 32]}
    """

    value: Any = field(compare=False)
    _key: tuple[Any, ...] = field(init=False, repr=False, compare=True)

    def __post_init__(self) -> None:
        value = json_value("value", self.value)
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "_key", json_key(value))

    def fresh(self) -> Any:
        """The value for one config: a copy when it is a list or a dict."""
        if isinstance(self.value, list | tuple | dict):
            return copy.deepcopy(self.value)
        return self.value

    def to_dict(self) -> dict[str, Any]:
        """The explicit file form, ``{"type": "constant", "value": ...}`` (a tuple as a list)."""
        return {"type": "constant", "value": plain(self.value)}

    def __repr__(self) -> str:
        return f"Constant({self.value!r})"
