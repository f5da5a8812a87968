"""Parameter types: validated, immutable value objects.

Each type checks every argument when it is built, so an object that exists is a valid parameter;
the loader rebuilds every parameter through these constructors, so a file is validated by the
same rules as Python code. A failed check raises :class:`SpaceError` with a reason in Optuna's
style (``"`low <= high` must hold, but got (low=3, high=1)."``); the enclosing space adds the
parameter's full path in front.
"""

from __future__ import annotations

import decimal
import enum
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any, Final, Literal, NoReturn, TypeAlias

from spaces._errors import SpaceError

if TYPE_CHECKING:
    from spaces._space import Space

#: A value a categorical can offer or a constant can hold: a JSON scalar.
Scalar: TypeAlias = str | int | float | bool | None

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
NAME_RULE = "letters, digits and _, not starting with a digit (a Python identifier)"


class _NoDefault(enum.Enum):
    NO_DEFAULT = "NO_DEFAULT"

    def __repr__(self) -> str:
        return "NO_DEFAULT"


#: The ``default`` of a parameter that has none. ``None`` cannot play this part: it is a
#: valid choice of a categorical (``max_depth: [null, 8, 16]`` with the default ``null``).
NO_DEFAULT: Final = _NoDefault.NO_DEFAULT
NoDefault: TypeAlias = Literal[_NoDefault.NO_DEFAULT]


def is_name(name: object) -> bool:
    """Whether ``name`` may name a parameter or a branch option (``.`` separates paths)."""
    return isinstance(name, str) and _NAME.fullmatch(name) is not None


def _fail(reason: str) -> NoReturn:
    raise SpaceError(reason)


def _is_number(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _finite(name: str, value: object) -> float:
    if not _is_number(value) or not math.isfinite(value):  # type: ignore[arg-type]
        _fail(f"`{name}` must be a finite number, but got {name}={value!r}.")
    return float(value)  # type: ignore[arg-type]


def _integer(name: str, value: object) -> int:
    if _is_number(value):
        if isinstance(value, Integral):
            return int(value)
        if math.isfinite(value) and float(value).is_integer():  # type: ignore[arg-type]
            return int(value)  # type: ignore[call-overload]
    _fail(f"`{name}` must be an int, but got {name}={value!r}.")


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        _fail(f"`{name}` must be a bool (true or false), but got {name}={value!r}.")
    return value


def _scalar(name: str, value: object) -> Scalar:
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        if not math.isfinite(value):
            _fail(f"`{name}` must be finite, but got {name}={value!r}.")
        return float(value)
    _fail(
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


def _dec(value: float) -> decimal.Decimal:
    return decimal.Decimal(str(value))


def _steps(value: float, low: float, step: float) -> decimal.Decimal:
    """How many steps ``value`` lies above ``low``: exact in decimal, as the user wrote them."""
    return (_dec(value) - _dec(low)) / _dec(step)


def _on_grid(value: float, low: float, step: float) -> bool:
    k = _steps(value, low, step)
    return abs(k - k.to_integral_value()) <= decimal.Decimal("1e-8")


def _fmt(*pairs: tuple[str, object]) -> str:
    return "(" + ", ".join(f"{name}={value!r}" for name, value in pairs) + ")"


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

    def __post_init__(self) -> None:
        low, high = _finite("low", self.low), _finite("high", self.high)
        log = _flag("log", self.log)
        step = None if self.step is None else _finite("step", self.step)
        if log and step is not None:
            _fail(
                "The parameter `step` is not supported when `log` is true, but got "
                f"{_fmt(('log', self.log), ('step', self.step))}."
            )
        if step is not None and step <= 0:
            _fail(f"`step > 0` must hold, but got step={self.step!r}.")
        if low > high:
            _fail(
                f"`low <= high` must hold, but got {_fmt(('low', self.low), ('high', self.high))}."
            )
        if log and low <= 0:
            _fail(
                "`low > 0` must hold for `log=True`, but got "
                f"{_fmt(('low', self.low), ('high', self.high))}."
            )
        if step is not None and not _on_grid(high, low, step):
            top = float(_dec(low) + int(_steps(high, low, step)) * _dec(step))
            _fail(
                "`high - low` must be a multiple of `step`, but got "
                f"{_fmt(('low', self.low), ('high', self.high), ('step', self.step))}; "
                f"Optuna would quietly use high={top!r}."
            )
        default: float | NoDefault = NO_DEFAULT
        if self.default is not None and self.default is not NO_DEFAULT:
            default = _finite("default", self.default)
            if not low <= default <= high:
                _fail(
                    "`low <= default <= high` must hold, but got "
                    f"{_fmt(('low', self.low), ('high', self.high), ('default', self.default))}."
                )
            if step is not None and not _on_grid(default, low, step):
                _fail(
                    "`default` must lie on the grid `low + k * step`, but got "
                    f"{_fmt(('low', self.low), ('step', self.step), ('default', self.default))}."
                )
        for name, value in (("low", low), ("high", high), ("step", step), ("default", default)):
            object.__setattr__(self, name, value)

    @property
    def has_default(self) -> bool:
        """Whether a default was given (the first trial then uses it)."""
        return self.default is not NO_DEFAULT

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
        return _repr(self, (self.low, self.high), log=False, step=None)

    def check_value(self, value: object) -> float:
        """``value`` as a float of this range; raise :class:`SpaceError` if it is not one."""
        if not _is_number(value) or not math.isfinite(value):  # type: ignore[arg-type]
            _fail(f"the value must be a finite number, but got {value!r}.")
        number = float(value)  # type: ignore[arg-type]
        if not self.low <= number <= self.high:
            _fail(
                "`low <= value <= high` must hold, but got "
                f"{_fmt(('low', self.low), ('high', self.high), ('value', value))}."
            )
        if self.step is not None and not _on_grid(number, self.low, self.step):
            _fail(
                "the value must lie on the grid `low + k * step`, but got "
                f"{_fmt(('low', self.low), ('step', self.step), ('value', value))}."
            )
        return number

    def grid_size(self) -> int | None:
        """The number of values on the grid; ``None`` for a continuous range."""
        if self.low == self.high:
            return 1
        if self.step is None:
            return None
        return int(_steps(self.high, self.low, self.step).to_integral_value()) + 1

    def grid_values(self) -> list[float]:
        """Every value of the grid, written as the user wrote ``low`` and ``step``."""
        size = self.grid_size()
        if size is None:
            _fail("grid search needs a finite set of values: give this float a `step`.")
        if size == 1:
            return [self.low]
        step = _dec(self.step)  # type: ignore[arg-type]
        values = [float(_dec(self.low) + k * step) for k in range(size)]
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

    def __post_init__(self) -> None:
        low, high = _integer("low", self.low), _integer("high", self.high)
        log = _flag("log", self.log)
        step = _integer("step", self.step)
        if step < 1:
            _fail(f"`step >= 1` must hold, but got step={self.step!r}.")
        if log and step != 1:
            _fail(
                "The parameter `step` must be 1 when `log` is true, but got "
                f"{_fmt(('log', self.log), ('step', self.step))}."
            )
        if low > high:
            _fail(
                f"`low <= high` must hold, but got {_fmt(('low', self.low), ('high', self.high))}."
            )
        if log and low < 1:
            _fail(
                "`low >= 1` must hold for `log=True`, but got "
                f"{_fmt(('low', self.low), ('high', self.high))}."
            )
        if (high - low) % step:
            _fail(
                "`high - low` must be a multiple of `step`, but got "
                f"{_fmt(('low', self.low), ('high', self.high), ('step', self.step))}; "
                f"Optuna would quietly use high={high - (high - low) % step}."
            )
        default: int | NoDefault = NO_DEFAULT
        if self.default is not None and self.default is not NO_DEFAULT:
            default = _integer("default", self.default)
            if not low <= default <= high:
                _fail(
                    "`low <= default <= high` must hold, but got "
                    f"{_fmt(('low', self.low), ('high', self.high), ('default', self.default))}."
                )
            if (default - low) % step:
                _fail(
                    "`default` must lie on the grid `low + k * step`, but got "
                    f"{_fmt(('low', self.low), ('step', self.step), ('default', self.default))}."
                )
        for name, value in (("low", low), ("high", high), ("step", step), ("default", default)):
            object.__setattr__(self, name, value)

    @property
    def has_default(self) -> bool:
        """Whether a default was given (the first trial then uses it)."""
        return self.default is not NO_DEFAULT

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
        return _repr(self, (self.low, self.high), log=False, step=1)

    def check_value(self, value: object) -> int:
        """``value`` as an int of this range; raise :class:`SpaceError` if it is not one."""
        if not _is_number(value) or not (
            isinstance(value, Integral) or (math.isfinite(value) and float(value).is_integer())  # type: ignore[arg-type]
        ):
            _fail(f"the value must be an int, but got {value!r}.")
        number = int(value)  # type: ignore[call-overload]
        if not self.low <= number <= self.high:
            _fail(
                "`low <= value <= high` must hold, but got "
                f"{_fmt(('low', self.low), ('high', self.high), ('value', value))}."
            )
        if (number - self.low) % self.step:
            _fail(
                "the value must lie on the grid `low + k * step`, but got "
                f"{_fmt(('low', self.low), ('step', self.step), ('value', value))}."
            )
        return number

    def grid_size(self) -> int:
        """The number of values on the grid."""
        return (self.high - self.low) // self.step + 1

    def grid_values(self) -> list[int]:
        """Every value of the grid."""
        return list(range(self.low, self.high + 1, self.step))


class Branches(Mapping[str, "Space"]):
    """The options of a conditional branch: an immutable mapping of option name to sub-space."""

    __slots__ = ("_items", "_index")

    _items: tuple[tuple[str, Space], ...]
    _index: dict[str, Space]

    def __init__(self, items: Sequence[tuple[str, Space]]) -> None:
        object.__setattr__(self, "_items", tuple(items))
        object.__setattr__(self, "_index", dict(self._items))

    def __getitem__(self, option: str) -> Space:
        return self._index[option]

    def __iter__(self) -> Iterator[str]:
        return (option for option, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Branches):
            return NotImplemented
        return self._items == other._items

    def __hash__(self) -> int:
        return hash(self._items)

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{option!r}: {space!r}" for option, space in self._items) + "}"

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        return (Branches, (self._items,))


@dataclass(frozen=True, repr=False)
class Categorical:
    """One of a list of values, or a conditional branch.

    ``choices`` is either a non-empty sequence of distinct JSON scalars (str, int, float, bool,
    None; ``1`` and ``1.0`` are the same value, ``True`` and ``1`` are not), or a non-empty
    mapping of option name to sub-space (a :class:`Space` or a mapping accepted by it): a
    *conditional branch*, whose option's parameters exist only when that option is chosen.
    ``default`` must be one of the choices (an option name, for a branch). ``default=None``
    means no default unless ``None`` is one of the choices.

    >>> Categorical(["uniform", "distance"], default="uniform")
    Categorical(['uniform', 'distance'], default='uniform')
    >>> Categorical({"linear": {}, "rbf": {"gamma": Float(1e-4, 10.0, log=True)}}).options
    ('linear', 'rbf')
    """

    choices: Sequence[Scalar] | Mapping[str, Any] = field(compare=False)
    _: KW_ONLY
    default: Scalar | NoDefault = field(default=NO_DEFAULT, compare=False)
    _key: tuple[Any, ...] = field(init=False, repr=False, compare=True)

    def __post_init__(self) -> None:
        choices = self.choices
        normal: tuple[Scalar, ...] | Branches
        if isinstance(choices, Mapping):
            normal = _branches(choices)
            values: tuple[Scalar, ...] = tuple(normal)
        elif isinstance(choices, Sequence) and not isinstance(choices, str | bytes):
            normal = values = tuple(_scalar("choices", choice) for choice in choices)
            seen: set[tuple[str, Scalar]] = set()
            for value in values:
                if scalar_key(value) in seen:
                    _fail(f"`choices` must not repeat a value, but got {value!r} twice.")
                seen.add(scalar_key(value))
        else:
            _fail(
                "`choices` must be a list of values or a mapping of option name to sub-space, "
                f"but got {choices!r} of type {type(choices).__name__}."
            )
        if not values:
            _fail("`choices` must contain one or more elements.")
        default = self.default
        if default is not NO_DEFAULT:
            match = [value for value in values if scalar_key(value) == scalar_key(default)]
            if match:
                default = match[0]
            elif default is None:
                default = NO_DEFAULT
            else:
                what = "options" if isinstance(normal, Branches) else "choices"
                _fail(
                    f"`default` must be one of the {what} {list(values)!r}, "
                    f"but got default={default!r}."
                )
        key = normal if isinstance(normal, Branches) else tuple(scalar_key(v) for v in values)
        default_key = default if default is NO_DEFAULT else scalar_key(default)
        object.__setattr__(self, "choices", normal)
        object.__setattr__(self, "default", default)
        object.__setattr__(self, "_key", (key, default_key))

    @property
    def is_branch(self) -> bool:
        """Whether this is a conditional branch (its options carry sub-spaces)."""
        return isinstance(self.choices, Branches)

    @property
    def options(self) -> tuple[Scalar, ...]:
        """What a trial chooses from: the choices, or a branch's option names."""
        return tuple(self.choices)

    @property
    def branches(self) -> Mapping[str, Space]:
        """Option name -> sub-space for a branch; empty for a plain categorical."""
        return self.choices if isinstance(self.choices, Branches) else Branches(())

    @property
    def has_default(self) -> bool:
        """Whether a default was given (the first trial then uses it)."""
        return self.default is not NO_DEFAULT

    def to_dict(self) -> dict[str, Any]:
        """The explicit file form; a branch's options become nested space mappings."""
        choices: Any
        if isinstance(self.choices, Branches):
            choices = {option: space.to_dict() for option, space in self.choices.items()}
        else:
            choices = list(self.choices)
        out: dict[str, Any] = {"type": "categorical", "choices": choices}
        if self.has_default:
            out["default"] = self.default
        return out

    def __repr__(self) -> str:
        choices = self.choices if isinstance(self.choices, Branches) else list(self.choices)
        return _repr(self, (choices,))

    def check_value(self, value: object) -> Scalar:
        """The choice equal to ``value``; raise :class:`SpaceError` if there is none."""
        try:
            key = scalar_key(_scalar("value", value))
        except SpaceError:
            key = ("none of them", None)
        for choice in self.options:
            if scalar_key(choice) == key:
                return choice
        what = "options" if self.is_branch else "choices"
        _fail(f"the value must be one of the {what} {list(self.options)!r}, but got {value!r}.")

    def grid_size(self) -> int:
        """The number of choices."""
        return len(self.options)

    def grid_values(self) -> list[Scalar]:
        """Every choice."""
        return list(self.options)


def _branches(choices: Mapping[Any, Any]) -> Branches:
    from spaces._space import Space

    items = []
    for option, sub in choices.items():
        label = option if isinstance(option, str) else repr(option)
        if not is_name(option):
            raise SpaceError(f"an option name must be made of {NAME_RULE}.", path=(label,))
        if isinstance(sub, Space):
            space = sub
        elif isinstance(sub, Mapping):
            try:
                space = Space(sub)
            except SpaceError as error:
                raise error.within(option) from None
        else:
            raise SpaceError(
                "an option's sub-space must be a mapping of parameter name to parameter "
                f"(an empty one for no parameters), but got {sub!r}.",
                path=(option,),
            )
        items.append((option, space))
    return Branches(items)


@dataclass(frozen=True, repr=False)
class Constant:
    """A fixed value that appears in the config but is never suggested.

    ``value`` is a JSON scalar (str, int, float, bool or None); in a file a bare value is
    shorthand for a constant (``penalty: l2``).

    >>> Constant("l2")
    Constant('l2')
    """

    value: Scalar = field(compare=False)
    _key: tuple[str, Scalar] = field(init=False, repr=False, compare=True)

    def __post_init__(self) -> None:
        value = _scalar("value", self.value)
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "_key", scalar_key(value))

    def to_dict(self) -> dict[str, Any]:
        """The explicit file form, ``{"type": "constant", "value": ...}``."""
        return {"type": "constant", "value": self.value}

    def __repr__(self) -> str:
        return f"Constant({self.value!r})"


#: Any parameter of a space.
Param: TypeAlias = Float | Int | Categorical | Constant

#: Per type: (allowed keys, required keys) of its file form.
_KEYS: Final[dict[str, tuple[type[Any], frozenset[str], frozenset[str]]]] = {
    "float": (
        Float,
        frozenset({"type", "low", "high", "log", "step", "default"}),
        frozenset({"type", "low", "high"}),
    ),
    "int": (
        Int,
        frozenset({"type", "low", "high", "log", "step", "default"}),
        frozenset({"type", "low", "high"}),
    ),
    "categorical": (
        Categorical,
        frozenset({"type", "choices", "default"}),
        frozenset({"type", "choices"}),
    ),
    "constant": (Constant, frozenset({"type", "value"}), frozenset({"type", "value"})),
}


def _keys(keys: frozenset[str]) -> str:
    return ", ".join(sorted(keys))


def parse_param(obj: object) -> Param:
    """A parameter from its file form: a mapping with a ``type``, or a bare constant value.

    Only the keys of the type's allow-list are accepted, and the parameter is rebuilt through
    its constructor, so loading validates again. Parameter objects are returned as they are.
    """
    if isinstance(obj, Float | Int | Categorical | Constant):
        return obj
    if isinstance(obj, Mapping):
        if "type" not in obj:
            _fail(
                "missing key `type`: a parameter is a mapping with type float, int, categorical "
                "or constant, or a bare value for a constant."
            )
        kind = obj["type"]
        if not isinstance(kind, str) or kind not in _KEYS:
            _fail(f"unknown type {kind!r}; the types are: {_keys(frozenset(_KEYS))}.")
        cls, allowed, required = _KEYS[kind]
        unknown = [key for key in obj if key not in allowed]
        if unknown:
            _fail(
                f"unknown key {unknown[0]!r} for type {kind}; the allowed keys are: "
                f"{_keys(allowed)}."
            )
        missing = sorted(required - set(obj))
        if missing:
            _fail(f"missing key {missing[0]!r} for type {kind}; it needs: {_keys(required)}.")
        kwargs = {key: value for key, value in obj.items() if key != "type"}
        param: Param = cls(**kwargs)
        return param
    if obj is None or isinstance(obj, str | bool | int | float):
        return Constant(obj)
    if isinstance(obj, Sequence):
        _fail(
            "a parameter must be a mapping with a `type`, or a bare value for a constant, but got "
            f"a list {obj!r}; for a choice write {{type: categorical, choices: {list(obj)!r}}}."
        )
    _fail(
        "a parameter must be a mapping with a `type`, or a bare value for a constant, but got "
        f"{obj!r} of type {type(obj).__name__}."
    )


def _repr(param: Any, positional: tuple[Any, ...], **quiet: Any) -> str:
    """``Type(pos, ..., key=value)``, leaving out keywords at their defaults."""
    args = [repr(value) for value in positional]
    for name, usual in quiet.items():
        value = getattr(param, name)
        if value != usual:
            args.append(f"{name}={value!r}")
    if param.has_default:
        args.append(f"default={param.default!r}")
    return f"{type(param).__name__}({', '.join(args)})"
