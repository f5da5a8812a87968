"""The argument checks every parameter type shares, and the one format of their messages.

A failed check raises :class:`SpaceError` with a reason in Optuna's style
(``"`low <= high` must hold, but got (low=3, high=1)."``); the enclosing space adds the
parameter's full path in front. Grid arithmetic is done in decimal, as the user wrote the
numbers, so that ``0.1 + 2 * 0.1`` lies on the grid of ``low=0.1, step=0.1``.
"""

from __future__ import annotations

import decimal
import math
import re
from numbers import Integral, Real
from typing import Any, NoReturn

from spaces._errors import SpaceError
from spaces._types import Scalar

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
NAME_RULE = "letters, digits and _, not starting with a digit (a Python identifier)"


def is_name(name: object) -> bool:
    """Whether ``name`` may name a parameter or a branch option (``.`` separates paths)."""
    return isinstance(name, str) and _NAME.fullmatch(name) is not None


def fail(reason: str) -> NoReturn:
    raise SpaceError(reason)


def is_number(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def finite(name: str, value: object) -> float:
    if not is_number(value) or not math.isfinite(value):  # type: ignore[arg-type]
        fail(f"`{name}` must be a finite number, but got {name}={value!r}.")
    return float(value)  # type: ignore[arg-type]


def integer(name: str, value: object) -> int:
    if is_number(value):
        if isinstance(value, Integral):
            return int(value)
        if math.isfinite(value) and float(value).is_integer():  # type: ignore[arg-type]
            return int(value)  # type: ignore[call-overload]
    fail(f"`{name}` must be an int, but got {name}={value!r}.")


def flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        fail(f"`{name}` must be a bool (true or false), but got {name}={value!r}.")
    return value


def scalar(name: str, value: object) -> Scalar:
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        if not math.isfinite(value):
            fail(f"`{name}` must be finite, but got {name}={value!r}.")
        return float(value)
    fail(
        f"`{name}` must be a str, int, float, bool or None, but got {name}={value!r} "
        f"of type {type(value).__name__}."
    )


def scalar_key(value: Scalar) -> tuple[str, Scalar]:
    """A key under which equal JSON values meet: ``1 == 1.0``, but ``True`` is not ``1``."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", value)
    if value is None:
        return ("null", None)
    return ("str", value)


def dec(value: float) -> decimal.Decimal:
    return decimal.Decimal(str(value))


def steps(value: float, low: float, step: float) -> decimal.Decimal:
    """How many steps ``value`` lies above ``low``: exact in decimal, as the user wrote them."""
    return (dec(value) - dec(low)) / dec(step)


def on_grid(value: float, low: float, step: float) -> bool:
    k = steps(value, low, step)
    return abs(k - k.to_integral_value()) <= decimal.Decimal("1e-8")


def fmt(*pairs: tuple[str, object]) -> str:
    return "(" + ", ".join(f"{name}={value!r}" for name, value in pairs) + ")"


def param_repr(param: Any, positional: tuple[Any, ...], **quiet: Any) -> str:
    """``Type(pos, ..., key=value)``, leaving out keywords at their defaults."""
    args = [repr(value) for value in positional]
    for name, usual in quiet.items():
        value = getattr(param, name)
        if value != usual:
            args.append(f"{name}={value!r}")
    if param.has_default:
        args.append(f"default={param.default!r}")
    return f"{type(param).__name__}({', '.join(args)})"
