"""Compiling a space: define-by-run onto a trial, back from stored values, defaults, grids.

Duck-typed on Optuna's trial methods, so :mod:`spaces` imports no framework. The functions walk
the space depth-first in declaration order: a branch's chosen option is visited right after the
branch, and every value is suggested or read under its full path.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from spaces._errors import SpaceError
from spaces._params import Categorical, Constant, Float, Int, Param

if TYPE_CHECKING:
    from spaces._space import Space

#: The most combinations :func:`grid` hands to a grid sampler.
MAX_GRID = 100_000


class Suggester(Protocol):
    """What :meth:`Space.sample` needs of a trial: Optuna's three ``suggest_*`` methods."""

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = ..., log: bool = ...
    ) -> float: ...

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = ..., log: bool = ...
    ) -> int: ...

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any: ...


def walk(
    space: Space | Iterable[tuple[str, Param]], prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Param]]:
    """(path parts, parameter) for every parameter, all branches, depth-first."""
    items = space.items() if isinstance(space, Mapping) else space
    for name, param in items:
        parts = (*prefix, name)
        yield parts, param
        if isinstance(param, Categorical):
            for option, sub in param.branches.items():
                yield from walk(sub, (*parts, option))


def sample(space: Space, trial: Suggester) -> dict[str, Any]:
    """See :meth:`Space.sample`."""
    config: dict[str, Any] = {}
    _sample(space, (), trial, config)
    return config


def _sample(
    space: Space, prefix: tuple[str, ...], trial: Suggester, config: dict[str, Any]
) -> None:
    for name, param in space.items():
        parts = (*prefix, name)
        path = ".".join(parts)
        if isinstance(param, Constant):
            config[name] = param.value
        elif isinstance(param, Float):
            config[name] = trial.suggest_float(
                path, param.low, param.high, log=param.log, step=param.step
            )
        elif isinstance(param, Int):
            config[name] = trial.suggest_int(
                path, param.low, param.high, log=param.log, step=param.step
            )
        else:
            value = trial.suggest_categorical(path, list(param.options))
            config[name] = value
            if param.is_branch:
                option = str(value)  # an option name
                _sample(param.branches[option], (*parts, option), trial, config)


def config_from_params(space: Space, params: Mapping[str, Any]) -> dict[str, Any]:
    """See :meth:`Space.config_from_params`."""
    if not isinstance(params, Mapping):
        raise SpaceError(f"params must be a mapping of full path to value, but got {params!r}.")
    known = space.paths()
    known_set = set(known)
    for key in params:
        if key not in known_set:
            raise SpaceError(
                f"not a parameter of this space; its parameters are: {', '.join(known)}.",
                path=(str(key),),
            )
    config: dict[str, Any] = {}
    _read(space, (), params, config)
    return config


def _read(
    space: Space, prefix: tuple[str, ...], params: Mapping[str, Any], config: dict[str, Any]
) -> None:
    for name, param in space.items():
        parts = (*prefix, name)
        if isinstance(param, Constant):
            config[name] = param.value
            continue
        path = ".".join(parts)
        if path not in params:
            raise SpaceError("no value given; every active parameter needs one.", path=parts)
        try:
            value = param.check_value(params[path])
        except SpaceError as error:
            raise error.within(*parts) from None
        config[name] = value
        if isinstance(param, Categorical) and param.is_branch:
            option = str(value)  # an option name
            _read(param.branches[option], (*parts, option), params, config)


def default_params(space: Space, prefix: tuple[str, ...] = ()) -> dict[str, Any]:
    """See :meth:`Space.default_params`."""
    out: dict[str, Any] = {}
    for name, param in space.items():
        if isinstance(param, Constant) or not param.has_default:
            continue
        parts = (*prefix, name)
        out[".".join(parts)] = param.default
        if isinstance(param, Categorical) and param.is_branch:
            option = str(param.default)  # an option name
            out.update(default_params(param.branches[option], (*parts, option)))
    return out


def grid(space: Space) -> dict[str, list[Any]]:
    """See :meth:`Space.grid`."""
    sizes: dict[str, int] = {}
    suggested: list[tuple[str, Float | Int | Categorical]] = []
    for name, param in space.items():
        if isinstance(param, Constant):
            continue
        if isinstance(param, Categorical) and param.is_branch:
            raise SpaceError(
                "grid search does not support conditional spaces (a categorical whose options "
                "carry sub-spaces); use another sampler, or one study per option.",
                path=(name,),
            )
        size = param.grid_size()
        if size is None:
            raise SpaceError(
                "grid search needs a finite set of values: give this float a `step`, or use "
                "another sampler.",
                path=(name,),
            )
        sizes[name] = size
        suggested.append((name, param))
    total = math.prod(sizes.values())
    if total > MAX_GRID:
        largest = max(sizes, key=lambda name: sizes[name])
        raise SpaceError(
            f"the grid would have {total:,} combinations, more than the limit of {MAX_GRID:,} "
            f"(this parameter alone has {sizes[largest]:,} values); use fewer values (a larger "
            "`step`, fewer choices) or another sampler.",
            path=(largest,),
        )
    return {name: list(param.grid_values()) for name, param in suggested}
