"""The search space, and the categorical whose options may carry sub-spaces.

A :class:`Space` is an immutable, ordered mapping of parameter name to parameter; a
:class:`Categorical` whose choices map option names to sub-spaces is a conditional branch. The
two are defined together because each holds the other: a space parses its parameters
(:func:`parse_param`), and a branch builds a space for each option. The number types and the
constant come from :mod:`spaces._params`; compiling a space onto a trial is done in
:mod:`spaces._compile`, which asks each parameter for its own part and so needs neither class.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from types import MappingProxyType
from typing import Any, Final, TypeAlias

from spaces import _compile, _foreign
from spaces._branches import Branches
from spaces._checks import NAME_RULE, fail, flag, is_name, param_repr, scalar, scalar_key
from spaces._errors import SpaceError
from spaces._params import Constant, Float, Int
from spaces._types import NO_DEFAULT, NoDefault, Scalar, Suggester


@dataclass(frozen=True, repr=False)
class Categorical:
    """One of a list of values, or a conditional branch.

    ``choices`` is either a non-empty sequence of distinct JSON scalars (str, int, float, bool,
    None; ``1`` and ``1.0`` are the same value, ``True`` and ``1`` are not), or a non-empty
    mapping of option name to sub-space (a :class:`Space` or a mapping accepted by it): a
    *conditional branch*, whose option's parameters exist only when that option is chosen.
    ``default`` must be one of the choices (an option name, for a branch). ``default=None``
    means no default unless ``None`` is one of the choices. ``grid=True`` marks a grid (Ray
    Tune's ``tune.grid_search``): every trial still suggests it as a categorical, and
    :meth:`Space.grid_points` lists the combinations the engine runs in turn. A grid's choices
    are values, and it lies at the top level of a space, not inside a branch.

    >>> Categorical(["uniform", "distance"], default="uniform")
    Categorical(['uniform', 'distance'], default='uniform')
    >>> Categorical({"linear": {}, "rbf": {"gamma": Float(1e-4, 10.0, log=True)}}).options
    ('linear', 'rbf')
    """

    choices: Sequence[Scalar] | Mapping[str, Any] = field(compare=False)
    _: KW_ONLY
    default: Scalar | NoDefault = field(default=NO_DEFAULT, compare=False)
    grid: bool = field(default=False, compare=False)
    _key: tuple[Any, ...] = field(init=False, repr=False, compare=True)

    def __post_init__(self) -> None:
        choices = self.choices
        normal: tuple[Scalar, ...] | Branches
        grid = flag("grid", self.grid)
        if isinstance(choices, Mapping):
            if grid:
                fail("a grid's choices are values, not options carrying sub-spaces.")
            normal = _branches(choices)
            values: tuple[Scalar, ...] = tuple(normal)
        elif isinstance(choices, Sequence) and not isinstance(choices, str | bytes):
            normal = values = tuple(scalar("choices", choice) for choice in choices)
            seen: set[tuple[str, Scalar]] = set()
            for value in values:
                if scalar_key(value) in seen:
                    fail(f"`choices` must not repeat a value, but got {value!r} twice.")
                seen.add(scalar_key(value))
        else:
            fail(
                "`choices` must be a list of values or a mapping of option name to sub-space, "
                f"but got {choices!r} of type {type(choices).__name__}."
            )
        if not values:
            fail("`choices` must contain one or more elements.")
        default = self.default
        if default is not NO_DEFAULT:
            match = [value for value in values if scalar_key(value) == scalar_key(default)]
            if match:
                default = match[0]
            elif default is None:
                default = NO_DEFAULT
            else:
                what = "options" if isinstance(normal, Branches) else "choices"
                fail(
                    f"`default` must be one of the {what} {list(values)!r}, "
                    f"but got default={default!r}."
                )
        key = normal if isinstance(normal, Branches) else tuple(scalar_key(v) for v in values)
        default_key = default if default is NO_DEFAULT else scalar_key(default)
        object.__setattr__(self, "choices", normal)
        object.__setattr__(self, "default", default)
        object.__setattr__(self, "_key", (key, default_key, grid))

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
        return self.choices if isinstance(self.choices, Branches) else Branches[Space](())

    @property
    def has_default(self) -> bool:
        """Whether a default was given (the first trial then uses it)."""
        return self.default is not NO_DEFAULT

    def suggest(self, trial: Suggester, path: str) -> Scalar:
        """Suggest one of the choices (a branch: an option name) on ``trial`` under ``path``."""
        value: Scalar = trial.suggest_categorical(path, list(self.options))
        return value

    def to_dict(self) -> dict[str, Any]:
        """The explicit file form; a branch's options become nested space mappings."""
        choices: Any
        if isinstance(self.choices, Branches):
            choices = {option: space.to_dict() for option, space in self.choices.items()}
        else:
            choices = list(self.choices)
        out: dict[str, Any] = {"type": "categorical", "choices": choices}
        if self.grid:
            out["grid"] = True
        if self.has_default:
            out["default"] = self.default
        return out

    def __repr__(self) -> str:
        choices = self.choices if isinstance(self.choices, Branches) else list(self.choices)
        return param_repr(self, (choices,), grid=False)

    def check_value(self, value: object) -> Scalar:
        """The choice equal to ``value``; raise :class:`SpaceError` if there is none."""
        try:
            key = scalar_key(scalar("value", value))
        except SpaceError:
            key = ("none of them", None)
        for choice in self.options:
            if scalar_key(choice) == key:
                return choice
        what = "options" if self.is_branch else "choices"
        fail(f"the value must be one of the {what} {list(self.options)!r}, but got {value!r}.")

    def grid_size(self) -> int:
        """The number of choices."""
        return len(self.options)

    def grid_values(self) -> list[Scalar]:
        """Every choice."""
        return list(self.options)


def _branches(choices: Mapping[Any, Any]) -> Branches:
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
        for name, param in space.items():
            if isinstance(param, Categorical) and param.grid:
                raise SpaceError(
                    "grids are top level only: a grid (tune.grid_search) cannot lie inside a "
                    "conditional branch; move it to the top level, or make it a plain "
                    "categorical.",
                    path=(option, name),
                )
        items.append((option, space))
    return Branches(items)


#: Any parameter of a space.
Param: TypeAlias = Float | Int | Categorical | Constant


class Space(Mapping[str, Param]):
    """An immutable search space: parameter name -> parameter, in declaration order.

    ``params`` maps names (Python identifiers; ``.`` separates the parts of a full path) to
    :class:`Float`, :class:`Int`, :class:`Categorical` or :class:`Constant` objects, or to their
    file form (a mapping with a ``type``, or a bare value for a constant). The mapping is copied;
    changing it later does not change the space.

    It may also hold what other tools write, converted once here (see :mod:`spaces._foreign`):
    Ray Tune's sample domains, ``grid_search`` (a grid, :meth:`grid_points`) and
    ``sample_from`` of a function of its own, a list (a choice, as in scikit-learn's
    ``param_grid``; one constant in a Ray Tune ``param_space``), frozen ``scipy.stats``
    distributions, and groups: a nested mapping of parameters without ``type``, whose parameter
    ``p`` in group ``g`` is named ``g__p`` (:meth:`nested` nests a config again). The groups
    are remembered, not part of equality nor of the file form, whose names carry them flat.

    Each parameter has a *full path*: a top-level ``C`` is ``C``; ``C`` in the option ``svm`` of
    the branch ``model`` is ``model.svm.C``. Optuna stores values under full paths; the config an
    objective receives uses short names, so two parameters that can be active at the same time
    must not share a short name (the same name in sibling options is fine).

    >>> space = Space({"model": {"type": "categorical", "default": "svm", "choices": {
    ...     "svm": {"C": {"type": "float", "low": 0.01, "high": 100, "log": True}},
    ...     "knn": {"n_neighbors": {"type": "int", "low": 1, "high": 50}}}}})
    >>> space.paths()
    ['model', 'model.svm.C', 'model.knn.n_neighbors']
    >>> space.config_from_params({"model": "knn", "model.knn.n_neighbors": 7})
    {'model': 'knn', 'n_neighbors': 7}
    """

    __slots__ = ("_items", "_index", "_groups")

    _items: tuple[tuple[str, Param], ...]
    _index: dict[str, Param]
    #: name -> where it sat in the mapping, for a group's parameter: ``opt__lr`` -> (opt, lr)
    _groups: Mapping[str, tuple[str, ...]]

    def __init__(self, params: Mapping[str, Any] | None = None) -> None:
        items, groups = _build(params if params is not None else {})
        if isinstance(params, Space):
            groups = dict(params._groups)
        object.__setattr__(self, "_items", items)
        object.__setattr__(self, "_index", dict(items))
        object.__setattr__(self, "_groups", MappingProxyType(dict(groups)))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Space:
        """The space of a file's content (as parsed from YAML or JSON); the inverse of
        :meth:`to_dict`. A top-level ``"$schema"`` string (for editors) is ignored.

        A file writes every parameter in the explicit form: the shorthands a Python mapping may
        use (a list for a choice, a group without ``type``) are errors here.
        """
        if isinstance(data, Mapping) and isinstance(data.get("$schema"), str):
            data = {key: value for key, value in data.items() if key != "$schema"}
        if isinstance(data, Mapping):
            _foreign.check_file_form(data)
        return cls(data)

    def to_dict(self) -> dict[str, Any]:
        """The explicit file form: plain dicts, lists and scalars, ready for JSON or YAML."""
        return {name: param.to_dict() for name, param in self._items}

    # -- the mapping ---------------------------------------------------------------------

    def __getitem__(self, name: str) -> Param:
        return self._index[name]

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Space):
            return NotImplemented
        return self._items == other._items

    def __hash__(self) -> int:
        return hash(self._items)

    def __repr__(self) -> str:
        inner = ", ".join(f"{name!r}: {param!r}" for name, param in self._items)
        return f"Space({{{inner}}})"

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Space is immutable; build a new one")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Space is immutable; build a new one")

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (dict(self._items), dict(self._groups)))

    # -- the parameters by full path ------------------------------------------------------

    def paths(self) -> list[str]:
        """Every parameter's full path, constants left out, depth-first in declaration order.

        All branches are included, active or not; these are the columns of a trials table.
        """
        return list(self.flatten())

    def flatten(self) -> dict[str, Param]:
        """Full path -> parameter for every parameter but the constants (as :meth:`paths`)."""
        return {
            ".".join(parts): param
            for parts, param in _compile.walk(self)
            if not isinstance(param, Constant)
        }

    @property
    def is_conditional(self) -> bool:
        """Whether the space has a conditional branch."""
        return any(isinstance(p, Categorical) and p.is_branch for _, p in _compile.walk(self))

    # -- compiling -------------------------------------------------------------------------

    def sample(self, trial: Suggester) -> dict[str, Any]:
        """Suggest every active parameter on ``trial`` and return the config.

        Define-by-run: ``trial`` is anything with Optuna's ``suggest_float``, ``suggest_int``
        and ``suggest_categorical`` (an ``optuna.Trial``). Each parameter is suggested under
        its full path, a branch's parameters only when its option is chosen. The config maps
        short names to values, for every active parameter and every active constant; a branch
        maps to the chosen option's name.
        """
        return _compile.sample(self, trial)

    def config_from_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The config :meth:`sample` returned, rebuilt from full path -> value.

        ``params`` is what Optuna stores (``trial.params``). Values of inactive branches are
        ignored; a missing or out-of-range active value, or a key that is not a path of this
        space, is a :class:`SpaceError` naming the path.
        """
        return _compile.config_from_params(self, params)

    def default_params(self) -> dict[str, Any]:
        """Full path -> default of every parameter with a default on the default branch.

        A branch without a default contributes none of its parameters. Enqueue the result as
        the first trial (``study.enqueue_trial``) to start from the library defaults.
        """
        return _compile.default_params(self)

    def grid(self) -> dict[str, list[Any]]:
        """Full path -> every value, for a grid sampler (``optuna.samplers.GridSampler``).

        Raises :class:`SpaceError` for a float without ``step``, for a conditional branch, and
        for a grid of more than 100,000 combinations.
        """
        return _compile.grid(self)

    # -- Ray Tune ------------------------------------------------------------------------------

    def grid_points(self) -> list[dict[str, Any]]:
        """Every combination of the grid parameters' values (``Categorical(..., grid=True)``,
        Ray Tune's ``tune.grid_search``), each as full path -> value; ``[]`` without a grid.

        In Ray Tune's order: the grid parameters sorted by where they sit in the mapping the
        space was built from (a group's ``opt__lr`` at ``("opt", "lr")``), the first varying
        fastest. The engine runs one trial per point, the other parameters sampled.
        """
        return _compile.grid_points(self, self._groups)

    @property
    def grid_size(self) -> int:
        """How many :meth:`grid_points` there are; 1 without a grid (the space runs once)."""
        return _compile.grid_size(self)

    def nested(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """``config`` with the groups of the mapping the space was built from nested again, as
        a Ray Tune trainable receives it: ``{"opt__lr": 0.1, "steps": 5}`` becomes
        ``{"opt": {"lr": 0.1}, "steps": 5}``. A name written flat stays flat, as do all names
        of a space read from a file (its names carry no groups)."""
        return _compile.nested(config, self._all_groups())

    def _all_groups(self) -> dict[str, tuple[str, ...]]:
        """The groups of this space and of its options' sub-spaces, by short name."""
        groups = dict(self._groups)
        for _, param in self._items:
            if isinstance(param, Categorical):
                for sub in param.branches.values():
                    for name, keys in sub._all_groups().items():
                        groups.setdefault(name, keys)
        return groups


def _restore(params: dict[str, Param], groups: dict[str, tuple[str, ...]]) -> Space:
    """A pickled space again, with the groups it was built from."""
    space = Space(params)
    object.__setattr__(space, "_groups", MappingProxyType(groups))
    return space


def _build(
    params: Mapping[str, Any],
) -> tuple[tuple[tuple[str, Param], ...], dict[str, tuple[str, ...]]]:
    """Validate names and parameters, and check that no two active names collide; return the
    parameters and the groups' (name -> keys in ``params``)."""
    if not isinstance(params, Mapping):
        raise SpaceError(
            "a space must be a mapping of parameter name to parameter, but got "
            f"{params!r} of type {type(params).__name__}."
        )
    items = []
    groups = {}
    ray = _foreign.mentions_ray(params)
    for name, value, keys in _foreign.expand(params):
        if not is_name(name):
            label = name if isinstance(name, str) else repr(name)
            raise SpaceError(f"a parameter name must be made of {NAME_RULE}.", path=(label,))
        try:
            param = parse_param(_foreign.convert(value, ray=ray))
        except SpaceError as error:
            raise error.within(name) from None
        items.append((name, param))
        if len(keys) > 1:
            groups[name] = keys
    _compile.check_collisions(items)
    return tuple(items), groups


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
        frozenset({"type", "choices", "default", "grid"}),
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
            fail(
                "missing key `type`: a parameter is a mapping with type float, int, categorical "
                "or constant, or a bare value for a constant."
            )
        kind = obj["type"]
        if not isinstance(kind, str) or kind not in _KEYS:
            fail(f"unknown type {kind!r}; the types are: {_keys(frozenset(_KEYS))}.")
        cls, allowed, required = _KEYS[kind]
        unknown = [key for key in obj if key not in allowed]
        if unknown:
            fail(
                f"unknown key {unknown[0]!r} for type {kind}; the allowed keys are: "
                f"{_keys(allowed)}."
            )
        missing = sorted(required - set(obj))
        if missing:
            fail(f"missing key {missing[0]!r} for type {kind}; it needs: {_keys(required)}.")
        kwargs = {key: value for key, value in obj.items() if key != "type"}
        param: Param = cls(**kwargs)
        return param
    if obj is None or isinstance(obj, str | bool | int | float):
        return Constant(obj)
    fail(
        "a parameter must be a mapping with a `type`, or a bare value for a constant, but got "
        f"{obj!r} of type {type(obj).__name__}."
    )
