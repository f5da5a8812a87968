"""A W&B sweep configuration as its users write it: the space, and what the other keys ask for.

:func:`spaces.from_wandb` reads a sweep's ``parameters:``; a sweep file says more, and a W&B
user expects every key of it to mean what it means to W&B, or to be refused aloud.
:func:`read_wandb_sweep` checks every top-level key W&B's sweep schema defines (its types as
W&B's schema has them) and returns a :class:`WandbSweep`, a framework-free value: the search
package turns it into a study's sampler, direction and pruner. The top-level keys:

=====================================  ==========================================================
W&B key                                here
=====================================  ==========================================================
``parameters``                         the space (:mod:`spaces._wandb` maps each distribution)
``method``                             ``grid``, ``random``, ``bayes`` kept; ``grid`` must give
                                       every parameter a finite set of values, as W&B's does.
                                       ``custom`` (an outside scheduler's engine) is refused
``metric``                             ``name`` and ``goal`` kept (W&B's default goal is
                                       ``minimize``). ``target`` (end the sweep when a run
                                       reaches it), ``impute`` and ``impute_while_running``
                                       (what W&B's bayes search assumes for failed or running
                                       runs) ask for what a study here does not do: refused
``early_terminate``                    ``type: hyperband`` with ``min_iter``, ``max_iter``,
                                       ``s``, ``eta`` (default 3), ``strict`` (default true),
                                       kept as a dict with those defaults filled in
``program``                            kept (the script W&B would run)
``metrics``, ``scheduler``             refused: several metrics and outside engines need W&B's
                                       ``method: custom``
``command``, ``entity``, ``project``,  accepted, their types checked, and ignored: they say how
``name``, ``description``,             and where W&B runs a sweep (the command line, the W&B
``run_cap``, ``controller``, ``job``,  project, the run cap, its controller, Launch), which
``image_uri``, ``apiVersion``,         here the study file and the command's flags say
``kind``
=====================================  ==========================================================

Hyperband: W&B stops a run whose metric at a band (``min_iter * eta**k``, or
``max_iter / eta**k`` for ``k`` up to ``s``) is outside the top ``1/eta``. Its ``strict: false``
compares the best value so far rather than the value at the band; Optuna's Hyperband, which a
study runs, compares the value at the band (``strict: true``), so ``strict: false`` is refused,
and so is an ``eta`` that is not an int (Optuna's reduction factor is an int >= 2). W&B uses
``max_iter`` with ``s`` when given and then ignores ``min_iter``, and ignores ``s`` without
``max_iter``: both are refused as settings that do nothing. ``metric`` and ``method`` may be
left out (W&B requires ``method``, and a metric for ``bayes`` and ``early_terminate``): the
study then gives its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from spaces._checks import is_number
from spaces._errors import SpaceError
from spaces._params import Constant
from spaces._space import Space
from spaces._wandb import from_wandb

Goal = Literal["maximize", "minimize"]
Method = Literal["grid", "random", "bayes"]

GOALS: tuple[Goal, ...] = ("maximize", "minimize")
METHODS: tuple[Method, ...] = ("grid", "random", "bayes")
HYPERBAND_KEYS = ("type", "min_iter", "max_iter", "s", "eta", "strict")

_REFUSED = {
    "metrics": "W&B's metrics (several objectives) need `method: custom` and an outside engine; "
    "give the study several objectives (directions=) and keep one `metric` here",
    "scheduler": "W&B's scheduler hands the search to an outside engine (optuna, ax); here the "
    "study's sampler searches: drop `scheduler`",
}
_METRIC_REFUSED = {
    "target": "W&B ends the sweep once a run reaches the target; a study here runs its trials "
    "(--trials, --timeout): drop `target`",
    "impute": "W&B's bayes search scores a failed run by `impute`; here a failed trial is "
    "recorded FAIL and the sampler leaves it out: drop `impute`",
    "impute_while_running": "W&B's bayes search scores running runs by it; here the sampler "
    "sees finished trials only: drop `impute_while_running`",
}


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_IGNORED: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "command": ("a list", lambda v: isinstance(v, list)),
    "entity": ("a string", lambda v: isinstance(v, str)),
    "project": ("a string", lambda v: isinstance(v, str)),
    "name": ("a string", lambda v: isinstance(v, str)),
    "description": ("a string", lambda v: isinstance(v, str)),
    "run_cap": ("an int > 0", lambda v: _is_int(v) and v > 0),
    "controller": (
        "a mapping with type: local or cloud",
        lambda v: isinstance(v, Mapping) and v.get("type") in ("local", "cloud"),
    ),
    "job": ("a string", lambda v: isinstance(v, str)),
    "image_uri": ("a string", lambda v: isinstance(v, str)),
    "apiVersion": ("a string", lambda v: isinstance(v, str)),
    "kind": ("sweep", lambda v: v == "sweep"),
}
KNOWN_KEYS = ("program", "method", "metric", "parameters", "early_terminate", *_REFUSED, *_IGNORED)


def _fail(path: tuple[str, ...], reason: str) -> SpaceError:
    return SpaceError(reason, path=path)


@dataclass(frozen=True)
class WandbSweep:
    """What a W&B sweep configuration asks for: the space, the metric and its goal, the search
    method, hyperband early termination and the program. ``None``: the file does not say.

    Built by :func:`read_wandb_sweep`; built by hand, every field is checked as a file's is.

    >>> sweep = WandbSweep(Space({"optimizer": ["adam", "sgd"]}), metric="val_loss")
    >>> sweep.goal is None, sweep.method is None
    (True, True)
    """

    space: Space
    metric: str | None = None
    goal: Goal | None = None
    method: Method | None = None
    early_terminate: dict[str, Any] | None = field(default=None, hash=False)
    program: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.space, Space):
            raise _fail((), f"`space` must be a Space, but got {type(self.space).__name__}.")
        if self.metric is not None and (not isinstance(self.metric, str) or not self.metric):
            raise _fail(("metric", "name"), f"must be a non-empty string, but got {self.metric!r}.")
        if self.goal is not None and self.goal not in GOALS:
            raise _fail(("metric", "goal"), f"must be maximize or minimize, but got {self.goal!r}.")
        if self.goal is not None and self.metric is None:
            raise _fail(("metric", "goal"), "a goal needs the metric's name.")
        if self.method is not None and self.method not in METHODS:
            raise _fail(("method",), _method_reason(self.method))
        if self.method == "grid":
            _check_grid(self.space)
        if self.program is not None and not isinstance(self.program, str):
            raise _fail(("program",), f"must be a string, but got {self.program!r}.")
        if self.early_terminate is not None:
            object.__setattr__(self, "early_terminate", _hyperband(self.early_terminate))


def read_wandb_sweep(config: Mapping[str, Any]) -> WandbSweep:
    """The :class:`WandbSweep` of a W&B sweep configuration (a mapping, as read from its YAML).

    Raise :class:`SpaceError` naming the key (``early_terminate.eta``) or the parameter for
    anything W&B would refuse or this package cannot honour, and for a key W&B does not define.

    >>> sweep = read_wandb_sweep({"method": "random", "metric": {"name": "loss"},
    ...                           "parameters": {"k": {"min": 1, "max": 9}}})
    >>> sweep.space, sweep.metric, sweep.goal, sweep.method
    (Space({'k': Int(1, 9)}), 'loss', None, 'random')
    """
    if not isinstance(config, Mapping):
        raise _fail((), f"a W&B sweep configuration is a mapping, but got {config!r}.")
    for key in config:
        if key not in KNOWN_KEYS:
            raise _fail(
                (str(key),),
                f"unknown top-level key of a W&B sweep; W&B's keys are: {', '.join(KNOWN_KEYS)}.",
            )
    for key, (what, ok) in _IGNORED.items():
        if key in config and not ok(config[key]):
            raise _fail((key,), f"W&B's {key} is {what}, but got {config[key]!r}.")
    for key, reason in _REFUSED.items():
        if key in config:
            raise _fail((key,), reason + ".")
    if not isinstance(config.get("parameters"), Mapping):
        raise _fail(
            ("parameters",),
            "a W&B sweep needs `parameters:`, a mapping of parameter name to parameter.",
        )
    metric, goal = _metric(config.get("metric"))
    return WandbSweep(
        space=from_wandb(config),
        metric=metric,
        goal=goal,
        method=config.get("method"),
        early_terminate=config.get("early_terminate"),
        program=config.get("program"),
    )


def is_wandb_sweep(data: object) -> bool:
    """Whether parsed file content is a W&B sweep rather than a space file: its top level has
    ``parameters:`` holding parameters (in a space file a parameter has a string ``type``)."""
    if not isinstance(data, Mapping):
        return False
    parameters = data.get("parameters")
    return isinstance(parameters, Mapping) and not isinstance(parameters.get("type"), str)


def _method_reason(method: object) -> str:
    if method == "custom":
        return (
            "W&B's custom method hands the search to an outside engine; here the study's "
            "sampler searches: use bayes, random or grid."
        )
    return f"must be bayes, random or grid, but got {method!r}."


def _check_grid(space: Space) -> None:
    for name, param in space.items():
        if not isinstance(param, Constant) and param.grid_size() is None:
            raise _fail(
                (name,),
                "W&B's grid method needs a finite set of values, but this parameter is a "
                "continuous range; use values, int_uniform or q_uniform, or method random or "
                "bayes.",
            )
    space.grid()  # the size limit


def _metric(metric: object) -> tuple[str | None, Any]:
    if metric is None:
        return None, None
    if not isinstance(metric, Mapping):
        raise _fail(("metric",), f"must be a mapping with name and goal, but got {metric!r}.")
    for key in metric:
        if key in _METRIC_REFUSED:
            raise _fail(("metric", key), _METRIC_REFUSED[key] + ".")
        if key not in ("name", "goal"):
            raise _fail(
                ("metric", str(key)),
                "unknown key of W&B's metric; its keys are: name, goal, target, impute, "
                "impute_while_running.",
            )
    if "name" not in metric:
        raise _fail(("metric", "name"), "W&B's metric needs a name (what the program logs).")
    return metric["name"], metric.get("goal")


def _hyperband(config: object) -> dict[str, Any]:
    """``early_terminate`` checked, with W&B's defaults (``eta: 3``, ``strict: true``)."""
    if not isinstance(config, Mapping):
        raise _fail(("early_terminate",), f"must be a mapping, but got {config!r}.")
    for key in config:
        if key not in HYPERBAND_KEYS:
            raise _fail(
                ("early_terminate", str(key)),
                f"unknown key of W&B's hyperband; its keys are: {', '.join(HYPERBAND_KEYS)}.",
            )
    if config.get("type") != "hyperband":
        raise _fail(
            ("early_terminate", "type"),
            f"W&B's early termination is `type: hyperband`, but got {config.get('type')!r}.",
        )
    out = dict(config)
    out.setdefault("eta", 3)
    out.setdefault("strict", True)
    for key in ("min_iter", "max_iter", "s"):
        if key in out and not (_is_int(out[key]) and out[key] >= 1):
            raise _fail(("early_terminate", key), f"must be an int >= 1, but got {out[key]!r}.")
    eta = out["eta"]
    if not (is_number(eta) and float(eta).is_integer() and eta >= 2):
        raise _fail(
            ("early_terminate", "eta"),
            f"must be an int >= 2 (Optuna's Hyperband keeps the top 1/eta at each band with "
            f"an int reduction factor; W&B allows any eta > 1), but got {eta!r}.",
        )
    if out["strict"] is not True:
        raise _fail(
            ("early_terminate", "strict"),
            "Optuna's Hyperband compares the value at each band, as W&B's `strict: true` "
            f"does, and cannot compare the best value so far; drop strict, but got "
            f"{out['strict']!r}.",
        )
    _check_bands(out)
    return out


def _check_bands(config: dict[str, Any]) -> None:
    """Which of W&B's two ways the bands are given: ``min_iter``, or ``max_iter`` with ``s``."""
    where = ("early_terminate",)
    if "s" in config and "max_iter" not in config:
        raise _fail(
            (*where, "s"),
            "W&B counts s bands down from max_iter, and there is none; add max_iter or drop s.",
        )
    if "s" in config and "min_iter" in config:
        raise _fail(
            (*where, "min_iter"),
            "with max_iter and s, W&B derives the bands from them and "
            "ignores min_iter; give min_iter, or max_iter with s, not both.",
        )
    if "min_iter" not in config and "s" not in config:
        raise _fail(where, "W&B's hyperband needs min_iter, or max_iter with s.")
    if "s" in config and config["max_iter"] < config["eta"]:
        raise _fail(
            (*where, "max_iter"),
            f"max_iter={config['max_iter']!r} below eta={config['eta']!r} leaves no band; "
            "raise max_iter or lower eta.",
        )
    if "min_iter" in config and config.get("max_iter", config["min_iter"]) < config["min_iter"]:
        raise _fail(
            (*where, "max_iter"),
            f"`min_iter <= max_iter` must hold, but got (min_iter={config['min_iter']!r}, "
            f"max_iter={config['max_iter']!r}).",
        )
