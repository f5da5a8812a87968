"""The search space: an immutable, ordered mapping of parameter name to parameter.

A space knows no framework. It compiles itself define-by-run onto any object with Optuna's
``suggest_float``/``suggest_int``/``suggest_categorical`` methods (:meth:`Space.sample`), and
turns the values a study stored back into the config an objective receives
(:meth:`Space.config_from_params`). The work is done in :mod:`spaces._compile`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from spaces import _compile
from spaces._errors import SpaceError
from spaces._params import NAME_RULE, Categorical, Constant, Param, is_name, parse_param


class Space(Mapping[str, Param]):
    """An immutable search space: parameter name -> parameter, in declaration order.

    ``params`` maps names (Python identifiers; ``.`` separates the parts of a full path) to
    :class:`Float`, :class:`Int`, :class:`Categorical` or :class:`Constant` objects, or to their
    file form (a mapping with a ``type``, or a bare value for a constant). The mapping is copied;
    changing it later does not change the space.

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

    __slots__ = ("_items", "_index")

    _items: tuple[tuple[str, Param], ...]
    _index: dict[str, Param]

    def __init__(self, params: Mapping[str, Any] | None = None) -> None:
        items = _build(params if params is not None else {})
        object.__setattr__(self, "_items", items)
        object.__setattr__(self, "_index", dict(items))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Space:
        """The space of a file's content (as parsed from YAML or JSON); the inverse of
        :meth:`to_dict`. A top-level ``"$schema"`` string (for editors) is ignored."""
        if isinstance(data, Mapping) and isinstance(data.get("$schema"), str):
            data = {key: value for key, value in data.items() if key != "$schema"}
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
        return (Space, (dict(self._items),))

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

    def sample(self, trial: _compile.Suggester) -> dict[str, Any]:
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


def _build(params: Mapping[str, Any]) -> tuple[tuple[str, Param], ...]:
    """Validate names and parameters, and check that no two active names collide."""
    if not isinstance(params, Mapping):
        raise SpaceError(
            "a space must be a mapping of parameter name to parameter, but got "
            f"{params!r} of type {type(params).__name__}."
        )
    items = []
    for name, value in params.items():
        if not is_name(name):
            label = name if isinstance(name, str) else repr(name)
            raise SpaceError(f"a parameter name must be made of {NAME_RULE}.", path=(label,))
        try:
            param = parse_param(value)
        except SpaceError as error:
            raise error.within(name) from None
        items.append((name, param))
    _check_collisions(items)
    return tuple(items)


def _check_collisions(items: list[tuple[str, Param]]) -> None:
    """Two parameters that can be active together must have different short names.

    Paths alternate names and options: ``(model, svm, C)``. Two paths that first differ in an
    option are in sibling options of one branch and never active together; otherwise (they
    first differ in a name, or one lies under the other) they can be.
    """
    seen: dict[str, list[tuple[str, ...]]] = {}
    for parts, _ in _compile.walk(items):
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
