"""Compiling a space: define-by-run onto a trial, back from stored values, defaults, grids.

Duck-typed on Optuna's trial methods, so :mod:`spaces` imports no framework. The functions walk
a space depth-first in declaration order: a branch's chosen option is visited right after the
branch, and every value is suggested or read under its full path. They see a space as a mapping
of name to parameter and ask each parameter for its own part (:class:`Parameter`), so they need
neither :class:`~spaces.Space` nor :class:`~spaces.Categorical`, whose methods call them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeAlias, TypeVar

from spaces._errors import SpaceError
from spaces._params import Constant
from spaces._types import Suggester

#: The most combinations :func:`grid` hands to a grid sampler.
MAX_GRID = 100_000


class Parameter(Protocol):
    """What compiling asks of a parameter that is not a constant (a float, int, categorical)."""

    @property
    def default(self) -> Any: ...

    @property
    def has_default(self) -> bool: ...

    @property
    def branches(self) -> Mapping[str, Mapping[str, Any]]:
        """Option name -> sub-space, for the options that carry one."""

    def suggest(self, trial: Suggester, path: str) -> Any: ...

    def check_value(self, value: object) -> Any: ...

    def grid_size(self) -> int | None: ...

    def grid_values(self) -> Sequence[Any]: ...


#: A space, or an option's sub-space, as the compilers see it.
Tree: TypeAlias = Mapping[str, "Parameter | Constant"]
P = TypeVar("P", bound="Parameter | Constant")


def walk(
    space: Mapping[str, P] | Iterable[tuple[str, P]], prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], P]]:
    """(path parts, parameter) for every parameter, all branches, depth-first."""
    items = space.items() if isinstance(space, Mapping) else space
    for name, param in items:
        parts = (*prefix, name)
        yield parts, param
        if not isinstance(param, Constant):
            for option, sub in param.branches.items():
                yield from walk(sub, (*parts, option))


def sample(space: Tree, trial: Suggester) -> dict[str, Any]:
    """See :meth:`Space.sample`."""
    config: dict[str, Any] = {}
    _sample(space, (), trial, config)
    return config


def _sample(space: Tree, prefix: tuple[str, ...], trial: Suggester, config: dict[str, Any]) -> None:
    for name, param in space.items():
        if isinstance(param, Constant):
            config[name] = param.value
            continue
        parts = (*prefix, name)
        value = config[name] = param.suggest(trial, ".".join(parts))
        option = str(value)  # an option name, when the value opens a branch
        if option in param.branches:
            _sample(param.branches[option], (*parts, option), trial, config)


def config_from_params(space: Tree, params: Mapping[str, Any]) -> dict[str, Any]:
    """See :meth:`Space.config_from_params`."""
    if not isinstance(params, Mapping):
        raise SpaceError(f"params must be a mapping of full path to value, but got {params!r}.")
    known = [".".join(parts) for parts, p in walk(space) if not isinstance(p, Constant)]
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
    space: Tree, prefix: tuple[str, ...], params: Mapping[str, Any], config: dict[str, Any]
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
        option = str(value)  # an option name, when the value opens a branch
        if option in param.branches:
            _read(param.branches[option], (*parts, option), params, config)


def default_params(space: Tree, prefix: tuple[str, ...] = ()) -> dict[str, Any]:
    """See :meth:`Space.default_params`."""
    out: dict[str, Any] = {}
    for name, param in space.items():
        if isinstance(param, Constant) or not param.has_default:
            continue
        parts = (*prefix, name)
        out[".".join(parts)] = param.default
        option = str(param.default)  # an option name, when the default opens a branch
        if option in param.branches:
            out.update(default_params(param.branches[option], (*parts, option)))
    return out


def grid(space: Tree) -> dict[str, list[Any]]:
    """See :meth:`Space.grid`."""
    sizes: dict[str, int] = {}
    suggested: list[tuple[str, Parameter]] = []
    for name, param in space.items():
        if isinstance(param, Constant):
            continue
        if param.branches:
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


def refuse_conditional(space: Tree, tool: str) -> None:
    """Raise :class:`SpaceError` naming the first parameter that exists only on a branch option,
    for an export to ``tool``, which has no conditional branches."""
    for parts, _ in walk(space):
        if len(parts) > 1:
            condition = " and ".join(
                f"{'.'.join(parts[: i + 1])}={parts[i + 1]}" for i in range(0, len(parts) - 1, 2)
            )
            raise SpaceError(
                f"{tool} cannot express conditional branches: `{'.'.join(parts)}` exists only "
                f"when {condition}; export one space per option instead."
            )
