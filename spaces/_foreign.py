"""Parameters written for other tools, turned into the file form of ours.

A Python mapping given to :class:`~spaces.Space` may hold, besides our own parameters:

==========================================  =============================================
foreign value                               our parameter
==========================================  =============================================
``tune.uniform(lo, hi)``                    ``Float(lo, hi)``
``tune.loguniform(lo, hi)``                 ``Float(lo, hi, log=True)``
``tune.quniform(lo, hi, q)``                ``Float(lo', hi', step=q)``: the multiples of
                                            ``q`` in ``[lo, hi]``, which Ray draws
``tune.randint(lo, hi)``                    ``Int(lo, hi - 1)`` (Ray excludes ``hi``)
``tune.lograndint(lo, hi)``                 ``Int(lo, hi - 1, log=True)``
``tune.qrandint(lo, hi, q)``                ``Int(lo', hi', step=q)``, the multiples of
                                            ``q`` in ``[lo, hi]``; ``q=1``:
                                            ``Int(lo, hi - 1)``
``tune.choice([...])``                      ``Categorical([...])``
``tune.grid_search([...])``                 ``Categorical([...], grid=True)``: every value
                                            in turn (:meth:`Space.grid_points`)
``tune.sample_from(fn)``, ``fn`` reading    ``Categorical(sorted values)`` of the at most
no other parameter                          64 values 2000 calls of ``fn`` draw
a list, tuple, range or 1-D numpy array     ``Categorical([...])`` (scikit-learn's grids)
the same in a Ray Tune ``param_space``      ``Constant(value)``: Tune hands it over as it
                                            is (also an empty dict ``{}``)
``scipy.stats.uniform(loc, scale)``         ``Float(loc, loc + scale)``
``scipy.stats.loguniform(a, b)``            ``Float(a, b, log=True)`` (also ``reciprocal``)
``scipy.stats.randint(low, high)``          ``Int(low, high - 1)``
a mapping of parameters without ``type``    a group: ``{"opt": {"lr": ...}}`` is
                                            ``opt__lr`` (:meth:`Space.nested` nests it)
==========================================  =============================================

A mapping is a Ray Tune ``param_space`` when it (or a group in it) holds a Ray domain. They are
recognised by duck typing (class name, module name, attributes), so nothing foreign is
imported. What draws values no parameter here can hold (a ``tune.sample_from`` of other
parameters or of many values, ``tune.randn``, ``scipy.stats.norm``, a log scale with a step) is
a :class:`SpaceError` saying why and what to write instead. Space *files* keep the explicit
form: :func:`check_file_form` refuses the shorthands there, where the JSON Schema describes
every parameter.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterator, Mapping
from typing import Any

from spaces._checks import NAME_RULE, dec, fail, is_name
from spaces._errors import SpaceError
from spaces._sample_from import sample_from

#: Joins a group's name and its parameter's name: scikit-learn's ``step__param``.
SEP = "__"

#: The keys of our parameters' file form: a mapping of only these is a parameter, not a group.
_FORM_KEYS = frozenset(
    {"type", "low", "high", "log", "step", "default", "choices", "value", "grid"}
)

_OUTSIDE = (
    "which a declarative space cannot hold; write it as a conditional branch or inside the "
    "objective."
)
_NO_LOG_STEP = (
    "a space cannot combine a log scale with a step (nor can Optuna); write "
    "{log} to keep the log scale, or {step} to keep the step."
)
_SCIPY_KINDS = "scipy.stats.uniform(loc, scale), loguniform(a, b) or randint(low, high)"


# -- recognising ------------------------------------------------------------------------------


def _class_names(obj: object) -> set[str]:
    return {cls.__name__ for cls in type(obj).__mro__}


def _module(obj: object) -> str:
    return type(obj).__module__ or ""


def is_ray_domain(value: object) -> bool:
    """Whether ``value`` is a Ray Tune sample domain (``tune.uniform(...)`` and the like)."""
    return _module(value).startswith("ray.tune") and "Domain" in _class_names(value)


def _is_ray_dict(value: object) -> bool:
    """``{"grid_search": [...]}`` or ``{"eval": "..."}``: Ray's two dict-shaped domains."""
    return (
        isinstance(value, Mapping)
        and len(value) == 1
        and next(iter(value))
        in (
            "grid_search",
            "eval",
        )
    )


def _is_scipy(value: object) -> bool:
    return _module(value).startswith("scipy.stats")


def is_group(value: object) -> bool:
    """A non-empty mapping without ``type`` that is not a parameter missing its ``type``.

    A mapping whose keys are all keys of a parameter's file form (``{low: 0, high: 1}``) is
    such a parameter, unless one of its values is an object, which no file form holds
    (``{"step": tune.randint(1, 5)}`` is a group).
    """
    if not (
        isinstance(value, Mapping)
        and len(value) > 0
        and "type" not in value
        and not _is_ray_dict(value)
    ):
        return False
    plain = (str, int, float, bool, type(None), list, tuple, Mapping)
    return not set(value) <= _FORM_KEYS or any(not isinstance(v, plain) for v in value.values())


def mentions_ray(params: Mapping[Any, Any]) -> bool:
    """Whether ``params`` (or a group in it) holds a Ray Tune domain: it is a ``param_space``."""
    return any(
        is_ray_domain(value) or _is_ray_dict(value) or (is_group(value) and mentions_ray(value))
        for value in params.values()
    )


# -- groups -----------------------------------------------------------------------------------


def expand(params: Mapping[Any, Any]) -> list[tuple[Any, Any, tuple[Any, ...]]]:
    """``(name, value, keys)`` for every parameter, a group's under ``group__name``, in order;
    ``keys`` is where the value sat in ``params`` (``("opt", "lr")`` for ``opt__lr``)."""
    items = list(_expand(params, "", ()))
    seen: set[Any] = set()
    for name, _, _ in items:
        if isinstance(name, str) and name in seen:
            raise SpaceError(
                f"the name is given twice, once as `{name}` and once as a group's parameter "
                f"(a group `g` names its parameter `p` as g{SEP}p); rename one of them.",
                path=(name,),
            )
        seen.add(name)
    return items


def _expand(
    params: Mapping[Any, Any], prefix: str, keys: tuple[Any, ...]
) -> Iterator[tuple[Any, Any, tuple[Any, ...]]]:
    for name, value in params.items():
        if not prefix:
            full = name
        elif is_name(name):
            full = f"{prefix}{SEP}{name}"
        else:
            label = name if isinstance(name, str) else repr(name)
            raise SpaceError(
                f"a parameter name must be made of {NAME_RULE}.", path=(f"{prefix}{SEP}{label}",)
            )
        if is_group(value) and is_name(full):
            yield from _expand(value, full, (*keys, name))
        else:
            yield full, value, (*keys, name)


# -- one value ---------------------------------------------------------------------------------


def convert(value: Any, *, ray: bool = False) -> Any:
    """The file form of a foreign parameter, or ``value`` itself if it is not foreign.

    ``ray``: the mapping is a Ray Tune ``param_space``, where a list, a tuple, an array and an
    empty dict are one constant value (Tune hands them to the trainable as they are).
    """
    if is_ray_domain(value):
        return _ray_domain(value)
    if _is_ray_dict(value):
        if "eval" in value:
            fail(f"Ray's {{'eval': ...}} is code run on other parameters, {_OUTSIDE}")
        choices = _choices(value["grid_search"], "grid_search")
        return {"type": "categorical", "choices": choices, "grid": True}
    if _is_scipy(value):
        return _scipy(value)
    if ray and (_module(value) == "numpy" or isinstance(value, list | tuple | range | Mapping)):
        return _ray_constant(value)
    if _module(value) == "numpy" and getattr(value, "ndim", None) in (0, 1):
        value = value.tolist()  # an array's values, or a numpy scalar's Python value
    if isinstance(value, list | tuple | range):
        return {"type": "categorical", "choices": _choices(value, "list")}
    return value


def _ray_constant(value: Any) -> Any:
    """A list, tuple, array or empty dict of a ``param_space``: one constant, unless Ray would
    draw values inside it (it resolves domains nested in lists and dicts)."""
    if isinstance(value, Mapping) and value:
        return value  # a mapping that is not a group: a parameter's file form
    if isinstance(value, range):
        value = list(value)
    inside = _drawn_inside(value)
    if inside is not None:
        fail(
            f"in a Ray Tune param_space a list is one constant value, and this one holds "
            f"{inside}, which a space cannot draw inside a list; give each drawn value its own "
            "parameter and build the list in the objective."
        )
    return {"type": "constant", "value": value}


def _drawn_inside(value: Any, within: frozenset[int] = frozenset()) -> str | None:
    """What Ray would draw inside a list or dict (a domain, a grid_search), or ``None``."""
    if not isinstance(value, list | tuple | Mapping) or id(value) in within:
        return None  # a list that holds itself is refused as a constant
    for item in value.values() if isinstance(value, Mapping) else value:
        if is_ray_domain(item):
            return f"a Ray Tune {type(item).__name__} domain"
        if _is_ray_dict(item):
            return f"Ray's {{{next(iter(item))!r}: ...}}"
        found = _drawn_inside(item, within | {id(value)})
        if found is not None:
            return found
    return None


def _choices(values: Any, what: str) -> list[Any]:
    if not isinstance(values, list | tuple | range):
        fail(f"a {what} must hold a list of values, but got {values!r}.")
    if len(values) == 0:
        fail(f"an empty {what} offers nothing to choose; give one or more values.")
    return list(values)


# -- Ray Tune ---------------------------------------------------------------------------------


def _ray_domain(domain: Any) -> dict[str, Any]:
    kind = type(domain).__name__
    if kind == "Function":
        return sample_from(domain)
    if kind == "Categorical":
        is_grid = getattr(domain, "is_grid", None)
        choices = _choices(domain.categories, "tune.choice")
        grid = {"grid": True} if callable(is_grid) and is_grid() is True else {}
        return {"type": "categorical", "choices": choices, **grid}
    sampler: Any = getattr(domain, "sampler", None)
    q = None
    if "Quantized" in _class_names(sampler):
        q, sampler = sampler.q, sampler.sampler
    scale = _scale(sampler)
    if kind == "Float":
        return _ray_float(domain.lower, domain.upper, scale, q)
    if kind == "Integer":
        return _ray_int(domain.lower, domain.upper, scale, q)
    fail(
        f"a Ray Tune domain {kind} with sampler {scale}, which has no equivalent here; use "
        "tune.uniform, loguniform, quniform, randint, lograndint, qrandint or choice."
    )


def _scale(sampler: Any) -> str:
    """How a Ray sampler draws: ``uniform`` (also Ray's default, no sampler), ``log``, ..."""
    names = _class_names(sampler)
    if sampler is None or "Uniform" in names:
        return "uniform"
    if "LogUniform" in names:
        return "log"
    if "Normal" in names:
        return "normal"
    return type(sampler).__name__


def _ray_float(low: Any, high: Any, scale: str, q: Any) -> dict[str, Any]:
    if scale == "normal":
        name = "tune.randn" if q is None else "tune.qrandn"
        fail(
            f"{name} draws from a normal distribution, which has no bounds, and a space's "
            "numbers lie between low and high; write tune.uniform(low, high) or "
            "tune.loguniform(low, high) over the range you mean."
        )
    if scale == "log" and q is not None:
        fail(
            f"tune.qloguniform({low!r}, {high!r}, {q!r}) draws on a log scale and rounds to "
            "multiples of q; "
            + _NO_LOG_STEP.format(
                log=f"tune.loguniform({low!r}, {high!r})",
                step=f"tune.quniform({low!r}, {high!r}, {q!r})",
            )
        )
    if scale not in ("uniform", "log"):
        fail(f"a Ray Tune float with sampler {scale} has no equivalent here.")
    if q is None:
        return {
            "type": "float",
            "low": low,
            "high": high,
            **({"log": True} if scale == "log" else {}),
        }
    lo, hi = _multiples(low, high, q, f"tune.quniform({low!r}, {high!r}, {q!r})")
    return {"type": "float", "low": lo, "high": hi, "step": q}


def _ray_int(low: Any, high: Any, scale: str, q: Any) -> dict[str, Any]:
    if scale not in ("uniform", "log"):
        fail(f"a Ray Tune int with sampler {scale} has no equivalent here.")
    log = scale == "log"
    name = (
        ("tune.lograndint" if log else "tune.randint")
        if q is None
        else ("tune.qlograndint" if log else "tune.qrandint")
    )
    call = f"{name}({low!r}, {high!r}" + ("" if q is None else f", {q!r}") + ")"
    if q is None or q == 1:  # Ray draws from [low, high): its upper bound is exclusive
        if high - 1 < low:
            fail(f"{call} excludes its upper bound {high!r}, so it holds no value.")
        return {"type": "int", "low": low, "high": high - 1, **({"log": True} if log else {})}
    if log:
        fail(
            f"{call} draws on a log scale and keeps multiples of q; "
            + _NO_LOG_STEP.format(
                log=f"tune.lograndint({low!r}, {high!r})",
                step=f"tune.qrandint({low!r}, {high!r}, {q!r})",
            )
        )
    lo, hi = _multiples(low, high, q, call)
    return {"type": "int", "low": lo, "high": hi, "step": q}


def _multiples(low: Any, high: Any, q: Any, call: str) -> tuple[Any, Any]:
    """The first and last multiple of ``q`` in ``[low, high]``, as Ray's quantization finds
    them: a bound within rounding noise of a multiple counts as that multiple."""
    try:
        first, last = _index(low, q, decimal.ROUND_CEILING), _index(high, q, decimal.ROUND_FLOOR)
    except (decimal.InvalidOperation, ZeroDivisionError, TypeError, ValueError):
        fail(f"{call} needs finite bounds and q > 0.")
    if first > last:
        fail(f"{call} has no multiple of q between its bounds, so it holds no value.")
    exact = all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high, q))
    step = dec(q)
    if exact:
        return int(first * step), int(last * step)
    return float(first * step), float(last * step)


def _index(bound: Any, q: Any, rounding: str) -> decimal.Decimal:
    if dec(q) <= 0:
        raise ValueError
    k = dec(bound) / dec(q)
    nearest = k.to_integral_value()
    if abs(k - nearest) <= decimal.Decimal("1e-9"):
        return nearest
    return k.to_integral_value(rounding=rounding)


# -- scipy.stats ------------------------------------------------------------------------------


def _scipy(value: Any) -> dict[str, Any]:
    if not all(hasattr(value, attr) for attr in ("dist", "args", "kwds")):
        name = getattr(value, "name", type(value).__name__)
        fail(
            f"scipy.stats.{name} is a family of distributions, not one; freeze it with its "
            f"arguments, e.g. {_SCIPY_KINDS}."
        )
    dist = value.dist
    name = getattr(dist, "name", type(dist).__name__)
    shapes = [s.strip() for s in (getattr(dist, "shapes", None) or "").split(",") if s.strip()]
    discrete = "rv_discrete" in _class_names(dist)
    names = [*shapes, "loc", *([] if discrete else ["scale"])]
    given = {**dict(zip(names, value.args, strict=False)), **value.kwds}
    defaults = {"loc": 0, **({} if discrete else {"scale": 1})}
    args = {
        key: given.get(key, defaults.get(key)) for key in names if key in given or key in defaults
    }
    args.update({key: v for key, v in given.items() if key not in args})
    call = f"scipy.stats.{name}(" + ", ".join(f"{k}={v!r}" for k, v in args.items()) + ")"
    try:
        return _scipy_param(name, args, call)
    except KeyError as missing:
        fail(f"{call} lacks its argument {missing}.")


def _scipy_param(name: str, args: dict[str, Any], call: str) -> dict[str, Any]:
    if name == "uniform":
        if not args["scale"] > 0:
            fail(f"{call} needs scale > 0.")
        return {
            "type": "float",
            "low": args["loc"],
            "high": float(dec(args["loc"]) + dec(args["scale"])),
        }
    if name in ("loguniform", "reciprocal"):
        if args["loc"] != 0:
            fail(f"{call} is shifted by loc, which makes it no longer log-uniform; use loc=0.")
        scale = dec(args["scale"])
        low, high = float(dec(args["a"]) * scale), float(dec(args["b"]) * scale)
        return {"type": "float", "low": low, "high": high, "log": True}
    if name == "randint":
        low, high = args["low"] + args["loc"], args["high"] + args["loc"]
        if high - 1 < low:
            fail(f"{call} excludes its upper bound, so it holds no value.")
        return {"type": "int", "low": low, "high": high - 1}
    fail(
        f"{call} has no equivalent here: a space's numbers are uniform or log-uniform between "
        f"low and high; use {_SCIPY_KINDS}, or spaces.Float / spaces.Int."
    )


# -- files ------------------------------------------------------------------------------------


def check_file_form(data: Mapping[Any, Any], prefix: tuple[str, ...] = ()) -> None:
    """In a file every parameter is written out: a mapping with a ``type``, or a bare value.

    The shorthands of :func:`convert` (a list for a choice, a group without ``type``) belong to
    Python mappings; a file keeps the one explicit form its JSON Schema describes.
    """
    for name, value in data.items():
        path = (*prefix, name if isinstance(name, str) else repr(name))
        if isinstance(value, Mapping):
            if "type" not in value:
                raise SpaceError(
                    "missing key `type`: a parameter is a mapping with type float, int, "
                    "categorical or constant, or a bare value for a constant.",
                    path=path,
                )
            choices = value.get("choices")
            if value.get("type") == "categorical" and isinstance(choices, Mapping):
                for option, sub in choices.items():
                    if isinstance(sub, Mapping):
                        check_file_form(sub, (*path, str(option)))
        elif isinstance(value, list | tuple):
            raise SpaceError(
                "a parameter must be a mapping with a `type`, or a bare value for a constant, "
                f"but got a list {list(value)!r}; for a choice write "
                f"{{type: categorical, choices: {list(value)!r}}}.",
                path=path,
            )
