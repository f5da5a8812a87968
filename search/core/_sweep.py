"""A W&B sweep file's settings for a study: what its keys set on a :class:`~search.Study`.

W&B users keep a sweep in one YAML file: the space, but also how to search (``method``), what
to optimize (``metric``) and when to stop a run early (``early_terminate``). :mod:`spaces`
reads and checks the file without any framework (:class:`spaces.WandbSweep`); the settings
need Optuna (the pruner), so they are made here, in the only package that imports it.

========================================  =====================================================
W&B                                       study
========================================  =====================================================
``method: grid`` / ``random`` / ``bayes``  ``sampler="grid"`` / ``"random"`` / ``"auto"``
                                          (``auto`` chooses the model-based sampler for the
                                          space, as W&B's bayes models the metric; no method:
                                          ``"auto"`` too)
``metric.name``                           ``metric_name``
``metric.goal``                           ``direction``; W&B's default goal is ``minimize``
                                          (no metric: ``None``, the study's own metric decides)
``early_terminate: {type: hyperband}``    ``optuna.pruners.HyperbandPruner(min_resource=
                                          min_iter, max_resource=max_iter or "auto",
                                          reduction_factor=eta)``; with ``max_iter`` and ``s``
                                          instead of ``min_iter``, ``min_resource`` is W&B's
                                          first band, ``max_iter / eta**s`` (rounded down)
========================================  =====================================================

A band counts what the objective reports: W&B's ``min_iter: 3`` stops runs after their third
logged value; Optuna's pruner first looks at a trial once it reports step 3.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.core._errors import UserError

if TYPE_CHECKING:
    import optuna

    from search.core._study import Study
    from spaces import WandbSweep

#: W&B's method -> the study's sampler.
SAMPLERS = {"grid": "grid", "random": "random", "bayes": "auto", None: "auto"}


def sweep_settings(sweep: WandbSweep) -> dict[str, Any]:
    """What ``sweep`` sets on a study: ``space``, ``direction``, ``metric_name``, ``sampler``
    and ``pruner`` (an Optuna ``HyperbandPruner``, or ``None`` without ``early_terminate``).

    ``direction`` and ``metric_name`` are ``None`` when the sweep names no metric.
    """
    direction = None if sweep.metric is None else sweep.goal or "minimize"
    return {
        "space": sweep.space,
        "direction": direction,
        "metric_name": sweep.metric,
        "sampler": SAMPLERS[sweep.method],
        "pruner": None if sweep.early_terminate is None else _hyperband(sweep.early_terminate),
    }


def _hyperband(early_terminate: dict[str, Any]) -> optuna.pruners.HyperbandPruner:
    """Optuna's Hyperband for W&B's checked ``early_terminate`` (:class:`spaces.WandbSweep`
    has filled in ``eta``)."""
    import optuna

    eta = int(early_terminate["eta"])
    max_iter: int | None = early_terminate.get("max_iter")
    min_iter: int | None = early_terminate.get("min_iter")
    if min_iter is None:  # W&B's bands: max_iter / eta**k for k = 1..s, while at least 1
        min_iter = _first_band(early_terminate["max_iter"], early_terminate["s"], eta)
    return optuna.pruners.HyperbandPruner(
        min_resource=min_iter,
        max_resource="auto" if max_iter is None else max_iter,
        reduction_factor=eta,
    )


def _first_band(max_iter: int, s: int, eta: int) -> int:
    """The smallest band W&B's hyperband derives from ``max_iter`` and ``s``."""
    band, smallest = float(max_iter), max_iter
    for _ in range(s):
        band /= eta
        if band < 1:
            break
        smallest = int(band)
    return smallest


def with_sweep(study: Study, sweep: WandbSweep, file: Path) -> Study:
    """``study`` with what ``sweep`` sets where the study leaves it open: the space (the study
    must have none), the sampler and the pruner where the study keeps ``auto``, and the
    metric's direction; a metric the study names otherwise is an error naming both."""
    import dataclasses

    settings = sweep_settings(sweep)
    if study.space is not None:
        raise UserError(f"{file}: the study has a space, and the sweep gives one too; drop the "
                        "study's space (or run it without the sweep)")
    changes: dict[str, Any] = {"space": settings["space"]}
    if isinstance(study.sampler, str) and study.sampler == "auto":
        changes["sampler"] = settings["sampler"]
    if isinstance(study.pruner, str) and study.pruner == "auto" and settings["pruner"] is not None:
        changes["pruner"] = settings["pruner"]
    name, direction = settings["metric_name"], settings["direction"]
    if name is not None and study.metric is None:
        named = study.named_directions() or {name: study.direction or direction}
        if name not in named:
            raise UserError(f"{file}: the sweep's metric {name!r} is not among the study's "
                            f"objectives ({', '.join(named)}); make them agree")
        if named[name] != direction:
            raise UserError(f"{file}: the study says {name!r} is to {named[name]}, the "
                            f"sweep's metric goal is {direction}; make them agree")
        changes.update(direction=None, directions=named)
    elif name is not None and name not in _metric_names(study.metric):
        raise UserError(f"{file}: the sweep's metric is {name!r}, the study's "
                        f"{_metric_names(study.metric)}; make them agree")
    return dataclasses.replace(study, **changes)


def _metric_names(metric: Any) -> list[str]:
    listed = metric if isinstance(metric, list | tuple) else [metric]
    return [str(getattr(m, "name", m)) for m in listed]


def read_sweep_file(path: Path) -> WandbSweep:
    """The W&B sweep in the YAML or JSON file at ``path``.

    Raise :class:`UserError`, one line naming the file and what is wrong, for a missing file,
    bad YAML or JSON, a file that is not a W&B sweep, and anything the sweep asks that cannot
    be honoured (the parameter's or key's path in the line).
    """
    import spaces

    try:
        return spaces.load_wandb_sweep(path)
    except spaces.SpaceError as error:
        raise UserError(" ".join(str(error).split())) from None
