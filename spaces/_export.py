"""A space in another tool's format, as text: a W&B sweep configuration (YAML), a Ray Tune
``param_space`` (Python code), or this package's own JSON.

Ray Tune, from ours:

==================================  =====================================================
ours                                Ray Tune
==================================  =====================================================
``Float(lo, hi)``                   ``tune.uniform(lo, hi)``
``Float(lo, hi, log=True)``         ``tune.loguniform(lo, hi)``
``Float(lo, hi, step=q)``           ``tune.quniform(lo, hi, q)`` (``lo`` a multiple of
                                    ``q``)
``Int(lo, hi)``                     ``tune.randint(lo, hi + 1)`` (Ray excludes the upper
                                    bound)
``Int(lo, hi, log=True)``           ``tune.lograndint(lo, hi + 1)``
``Int(lo, hi, step=q)``             ``tune.qrandint(lo, hi, q)`` (``lo`` a multiple of
                                    ``q``)
``Categorical([...])``              ``tune.choice([...])``
``Categorical([...], grid=True)``   ``tune.grid_search([...])``
``Constant(v)``                     ``v``, a list or dict too (Tune hands it over as it is)
==================================  =====================================================

Ray draws a quantized value as a multiple of ``q``, so a stepped range whose ``low`` is not one
is refused; so are conditional branches (Ray's only way, ``tune.sample_from``, is a function a
searcher cannot see). Parameter names stay as they are: a group's ``g__p`` stays flat, the
config the objective here receives. These are pure functions: nothing is imported from Ray.
"""

from __future__ import annotations

import json
from typing import Any, Final

from spaces._checks import fail, on_grid
from spaces._compile import refuse_conditional
from spaces._errors import SpaceError
from spaces._io import _yaml_classes, dumps
from spaces._params import Constant, Float
from spaces._space import Categorical, Param, Space
from spaces._wandb import to_wandb

#: The formats :func:`export` writes.
FORMATS: Final = ("wandb", "ray", "json")


def export(space: Space, to: str, *, metric: str | None = None, goal: str | None = None) -> str:
    """The text of ``space`` in the format ``to``: ``"wandb"`` (a sweep configuration in YAML;
    ``metric`` and ``goal`` fill its ``metric:``), ``"ray"`` (Python code defining
    ``param_space``) or ``"json"`` (as :func:`spaces.dumps`).

    Raise :class:`SpaceError` naming the parameter when the format cannot hold it.
    """
    if to == "json":
        return dumps(space, "json")
    if to == "ray":
        return to_ray(space)
    if to == "wandb":
        return _wandb_text(space, metric, goal)
    raise SpaceError(f"unknown format {to!r}; the formats are: {', '.join(FORMATS)}.")


def _defaults_note(space: Space) -> list[str]:
    shown = [
        f"{name}={param.default!r}"
        for name, param in space.items()
        if not isinstance(param, Constant) and param.has_default
    ]
    if not shown:
        return []
    return [
        f"# Defaults (a first trial's values) have no place here, left out: {', '.join(shown)}."
    ]


def _wandb_text(space: Space, metric: str | None, goal: str | None) -> str:
    import yaml

    config = to_wandb(space, metric=metric, goal=goal)
    lines = [
        "# W&B sweep configuration, written by `python -m search space --to wandb`.",
        "# Add `program: <your training script>` to start it with `wandb sweep`.",
    ]
    if metric is None:
        lines.append(
            "# W&B's bayes method needs a metric: add `metric: {name: <what your script logs>, "
            f"goal: {goal or 'maximize|minimize'}}}`."
        )
    lines += _defaults_note(space)
    _, base = _yaml_classes()

    class Dumper(base):  # type: ignore[misc, valid-type]
        """Block mappings, as W&B's documentation writes them; lists of values on one line."""

    Dumper.add_representer(
        list, lambda dumper, data: dumper.represent_sequence("tag:yaml.org,2002:seq", data, True)
    )
    body: str = yaml.dump(
        config, Dumper=Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True
    )
    return "\n".join(lines) + "\n" + body


def to_ray(space: Space) -> str:
    """Python code that defines ``param_space``, a Ray Tune search space drawing the values of
    ``space``; raise :class:`SpaceError` naming a parameter Ray cannot draw alike."""
    refuse_conditional(space, "Ray Tune's param_space")
    entries = []
    for name, param in space.items():
        try:
            code, note = _ray_call(param)
        except SpaceError as error:
            raise error.within(name) from None
        entries.append(f"    {_literal(name)}: {code},{note}")
    lines = [
        "# Ray Tune param_space, written by `python -m search space --to ray`.",
        *_defaults_note(space),
        "from ray import tune",
        "",
        "param_space = {",
        *entries,
        "}",
    ]
    return "\n".join(lines) + "\n"


def _ray_call(param: Param) -> tuple[str, str]:
    """The Ray Tune code of ``param``, and a comment to write after it (or ``""``)."""
    if isinstance(param, Constant):
        return _literal(param.value), ""
    if isinstance(param, Categorical):  # a branch here has only empty options
        call = "tune.grid_search" if param.grid else "tune.choice"
        return f"{call}([{', '.join(_literal(v) for v in param.options)}])", ""
    low, high = _literal(param.low), _literal(param.high)
    step = param.step if isinstance(param, Float) or param.step != 1 else None
    if step is not None and not on_grid(param.low, 0, step):
        what = "tune.quniform" if isinstance(param, Float) else "tune.qrandint"
        fail(
            f"Ray's {what} draws multiples of q, but low={param.low!r} is not a multiple of "
            f"step={step!r}; move low onto a multiple of the step."
        )
    if isinstance(param, Float):
        if param.log:
            return f"tune.loguniform({low}, {high})", ""
        if step is not None:
            return f"tune.quniform({low}, {high}, {_literal(step)})", ""
        return f"tune.uniform({low}, {high})", ""
    exclusive = f"  # {low}..{high}: Ray's upper bound is exclusive"
    if param.log:
        return f"tune.lograndint({low}, {param.high + 1})", exclusive
    if step is not None:
        return f"tune.qrandint({low}, {high}, {step})", ""
    return f"tune.randint({low}, {param.high + 1})", exclusive


def _literal(value: Any) -> str:
    """``value`` as Python source: strings in double quotes, numbers and None as ``repr``,
    lists, tuples and dicts of them as displays."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return f"[{', '.join(_literal(item) for item in value)}]"
    if isinstance(value, tuple):
        items = [_literal(item) for item in value]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in value.items()) + "}"
    return repr(value)
