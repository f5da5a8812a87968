"""Compiling a space: define-by-run onto a trial, back from stored values, defaults, grids.

Duck-typed on Optuna's trial methods, so :mod:`spaces` imports no framework. The functions walk
a space depth-first in declaration order: a branch's chosen option is visited right after the
branch, and every value is suggested or read under its full path. They see a space as a mapping
of name to parameter and ask each parameter for its own part (:class:`Parameter`), so they need
neither :class:`~spaces.Space` nor :class:`~spaces.Categorical`, whose methods call them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, NoReturn, Protocol, TypeAlias, TypeVar

from spaces._errors import SpaceError
from spaces._foreign import SEP
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


def check_collisions(items: Iterable[tuple[str, Parameter | Constant]]) -> None:
    """Two parameters that can be active together must have different short names.

    Paths alternate names and options: ``(model, svm, C)``. Two paths that first differ in an
    option are in sibling options of one branch and never active together; otherwise (they
    first differ in a name, or one lies under the other) they can be.
    """
    seen: dict[str, list[tuple[str, ...]]] = {}
    for parts, _ in walk(items):
        name = parts[-1]
        for other in seen.get(name, []):
            first_difference = next(
                (i for i, (a, b) in enumerate(zip(parts, other, strict=False)) if a != b), None
            )
            if first_difference is None or first_difference % 2 == 0:
                raise SpaceError(
                    f"the name `{name}` is also used by `{{other}}`, and both can be active at "
                    "the same time; the config uses short names, so rename one of them.",
                    path=parts,
                    other=other,
                )
        seen.setdefault(name, []).append(parts)


def sample(space: Tree, trial: Suggester) -> dict[str, Any]:
    """See :meth:`Space.sample`."""
    config: dict[str, Any] = {}
    _sample(space, (), trial, config)
    return config


def _sample(space: Tree, prefix: tuple[str, ...], trial: Suggester, config: dict[str, Any]) -> None:
    for name, param in space.items():
        if isinstance(param, Constant):
            config[name] = param.fresh()
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
            config[name] = param.fresh()
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


def _grids(space: Tree) -> list[tuple[str, list[Any]]]:
    """(name, choices) of the grid parameters, at the top level (they are nowhere else)."""
    return [
        (name, list(param.grid_values()))
        for name, param in space.items()
        if not isinstance(param, Constant) and getattr(param, "grid", False) is True
    ]


def grid_size(space: Tree) -> int:
    """See :attr:`Space.grid_size`."""
    return math.prod(len(values) for _, values in _grids(space))


def grid_points(space: Tree, groups: Mapping[str, tuple[str, ...]]) -> list[dict[str, Any]]:
    """See :meth:`Space.grid_points`: Ray's ``BasicVariantGenerator`` sorts the grid variables
    by their path of keys and counts the first one up fastest, an odometer read backwards."""
    grids = _grids(space)
    if not grids:
        return []
    ray_order = sorted(grids, key=lambda grid: groups.get(grid[0], (grid[0],)))
    slowest_first = [values for _, values in reversed(ray_order)]
    names = [name for name, _ in reversed(ray_order)]
    points = []
    for combination in itertools.product(*slowest_first):
        point = dict(zip(names, combination, strict=True))
        points.append({name: point[name] for name, _ in grids})  # in declaration order
    return points


def nested(config: Mapping[str, Any], groups: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
    """See :meth:`Space.nested`."""
    if not isinstance(config, Mapping):
        raise SpaceError(f"a config must be a mapping of name to value, but got {config!r}.")
    out: dict[str, Any] = {}
    made: set[int] = set()  # the groups' dicts made here, as opposed to dict values
    for name, value in config.items():
        keys = groups.get(name, (name,))
        node = out
        for depth, key in enumerate(keys):
            there = node.get(key, _ABSENT)
            if depth == len(keys) - 1:
                if id(there) in made:
                    _clash(name, keys, depth)
                node[key] = value
            elif there is _ABSENT:
                node[key] = node = {}
                made.add(id(node))
            elif id(there) in made:
                node = there
            else:
                _clash(name, keys, depth)
    return out


_ABSENT = object()


def _clash(name: str, keys: tuple[str, ...], depth: int) -> NoReturn:
    raise SpaceError(
        f"the group `{SEP.join(keys[: depth + 1])}` cannot be nested: the config also has a "
        f"value named `{keys[depth]}` there; rename one of them.",
        path=(name,),
    )


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
