"""Ray Tune's ``tune.sample_from(fn)``, read as the categorical of the few values ``fn`` draws.

A function of its own (``lambda _: 2 ** np.random.randint(2, 9)``) draws from a set that a
declarative space can hold when the set is small: it is called :data:`DRAWS` times with
Python's ``random`` and numpy's global generator seeded (both restored afterwards), and at most
:data:`MAX_VALUES` distinct JSON scalars make ``Categorical(sorted values)``. A function that
reads its argument (Ray hands it the config, or a spec with ``spec.config``) is a function of
other parameters: it is called with a stand-in whose every access raises, and refused, as is
anything else it draws, each with what to write instead. Nothing is imported: numpy is seeded
only when the program has already imported it.
"""

from __future__ import annotations

import math
import random
import sys
from typing import Any, NoReturn

from spaces._checks import fail, scalar_key
from spaces._errors import SpaceError

#: How many times the function is called.
DRAWS = 2000
#: The most distinct values read as a categorical.
MAX_VALUES = 64

_OF_OTHERS = (
    "tune.sample_from calls a function of other parameters (it reads its spec or config), "
    "which a declarative space cannot hold (its sampler must see the values); a value that "
    "depends on another parameter belongs in a conditional branch, or compute it in the "
    "objective."
)


class _ReadsSpec(BaseException):
    """Raised by :class:`_Spec` on any access: a ``BaseException``, so that the function's own
    ``except Exception`` does not swallow it."""


class _Spec:
    """What the function receives in place of Ray's spec or config: every read of it raises."""

    __slots__ = ()

    def __getattr__(self, name: str) -> NoReturn:
        raise _ReadsSpec

    def __getitem__(self, key: object) -> NoReturn:
        raise _ReadsSpec

    def __contains__(self, key: object) -> NoReturn:
        raise _ReadsSpec

    def __iter__(self) -> NoReturn:
        raise _ReadsSpec

    def __len__(self) -> NoReturn:
        raise _ReadsSpec


def sample_from(domain: Any) -> dict[str, Any]:
    """The file form of the categorical of the values a ``tune.sample_from`` domain draws."""
    draws = [_python(value) for value in _draw(domain)]
    for value in draws:
        if not _is_scalar(value):
            fail(
                f"tune.sample_from draws {value!r} of type {type(value).__name__}, which no "
                "parameter here draws (a choice is among finite JSON scalars: str, int, float, "
                "bool, None); draw a scalar with tune.choice([...]) and build the value from "
                "it in the objective."
            )
    distinct: dict[tuple[str, Any], Any] = {}
    for value in draws:
        distinct.setdefault(scalar_key(value), value)
    values = sorted(distinct.values(), key=_order)
    if len(values) > MAX_VALUES:
        fail(_too_many(values))
    return {"type": "categorical", "choices": values}


def _draw(domain: Any) -> list[Any]:
    """``DRAWS`` values of the function, with ``random`` and numpy's generator seeded."""
    func = domain.func
    takes_spec = getattr(domain, "pass_config", True)
    numpy = sys.modules.get("numpy")
    saved = random.getstate()
    saved_numpy = numpy.random.get_state() if numpy is not None else None
    try:
        random.seed(0)
        if numpy is not None:
            numpy.random.seed(0)
        return [func(_Spec()) if takes_spec else func() for _ in range(DRAWS)]
    except _ReadsSpec:
        raise SpaceError(_OF_OTHERS) from None
    except Exception as error:  # the user's function failed on its own
        reason = " ".join(str(error).split()) or "no message"
        raise SpaceError(
            f"tune.sample_from's function raised {type(error).__name__} ({reason}) when "
            "called without other parameters; write tune.choice([...]) of the values it "
            "draws, or compute the value in the objective."
        ) from None
    finally:
        random.setstate(saved)
        if numpy is not None:
            numpy.random.set_state(saved_numpy)


def _python(value: Any) -> Any:
    """A numpy scalar's Python value; anything else as it is."""
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        return value.item()
    return value


def _is_scalar(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, str | bool | int)


def _order(value: Any) -> tuple[int, Any]:
    """Sorts None, then bools, numbers and strings, each among its own kind."""
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, value)
    return (2, value) if isinstance(value, int | float) else (3, value)


def _too_many(values: list[Any]) -> str:
    """Why ``values`` (sorted, more than :data:`MAX_VALUES`) make no choice, and what to write."""
    many = f"{len(values):,} distinct"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        low, high = values[0], values[-1]
        return (
            f"tune.sample_from draws {many} ints in [{low}, {high}], more than the "
            f"{MAX_VALUES} a choice is read from; write tune.randint({low}, {high + 1}) or "
            f"tune.lograndint({max(low, 1)}, {high + 1}) for the range, or tune.choice([...]) "
            "of the values you mean."
        )
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return (
            f"tune.sample_from draws floats in [{values[0]:.3g}, {values[-1]:.3g}]: write "
            "tune.uniform(low, high) or tune.loguniform(low, high) over the range you mean."
        )
    shown = ", ".join(repr(v) for v in values[:3])
    return (
        f"tune.sample_from draws {many} values ({shown}, ...), more than the {MAX_VALUES} a "
        "choice is read from; write tune.choice([...]) of the values you mean."
    )
