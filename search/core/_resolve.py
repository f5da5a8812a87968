"""A study's space, objective, metrics and goals, resolved from what the study file names.

Every mistake is a :class:`UserError` naming the field, found before anything is written.
A study without a space is allowed: its objective suggests its own parameters (Optuna's
define-by-run ``trial.suggest_*``), and those are recorded like declared ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.core._errors import UserError
from search.core._goals import Constraint, Goals, Pick, parse_constraints
from search.core._study import Study

if TYPE_CHECKING:
    from objectives import Metric, Objective
    from spaces import Space


@dataclass(frozen=True, eq=False)
class Components:
    """The resolved space, objective, metric(s) and goals of a study."""

    space: Space
    objective: Objective
    metric: Any  # a Metric, a tuple of metrics (several values), or None (a plain function)
    goals: Goals

    @property
    def direction(self) -> str:
        """The first objective's direction (the only one's, for one objective)."""
        return self.goals.direction

    @property
    def metrics(self) -> tuple[Metric, ...]:
        """Every metric the objective computes (none for a plain function)."""
        if self.metric is None:
            return ()
        return tuple(self.metric) if isinstance(self.metric, tuple) else (self.metric,)

    @property
    def task(self) -> str | None:
        """The task of the scoring metrics (classification or regression)."""
        return next((m.task for m in self.metrics if getattr(m, "task", None)), None)

    @property
    def primary(self) -> Metric | None:
        """The first scoring metric: what folds report, what the final score leads with."""
        return next((m for m in self.metrics if getattr(m, "task", None)), None)


def resolve(study: Study, base_dir: Path) -> Components:
    """Resolve space, objective, metric(s) and goals; raise :class:`UserError` naming the field."""
    import spaces
    from objectives import ObjectiveError, as_objective

    try:
        space = _resolve_space(study.space, base_dir, spaces)
    except spaces.SpaceError as exc:
        raise UserError(f"space: {exc}") from None
    constraints = parse_constraints(study.constraints)
    try:
        objective = as_objective(study.objective)
        metric = _metrics(study.metric, constraints)
        if callable(getattr(objective, "for_space", None)):  # a Ray Tune trainable: its config
            objective = objective.for_space(space)  # type: ignore[attr-defined]
    except ObjectiveError as exc:
        raise UserError(f"objective: {exc}") from None
    directions = _directions(study, metric, constraints, _declared_direction(objective))
    pick = Pick.parse(study.pick) if study.pick is not None else None
    goals = Goals(directions, constraints, pick)
    _check_names(goals, metric)
    _check_declared_return(objective, goals)
    return Components(space=space, objective=objective, metric=metric, goals=goals)


def _check_declared_return(objective: Any, goals: Goals) -> None:
    """A function whose return annotation says how many values it returns (``-> tuple[float,
    float]``, ``-> float``) must fit the study's objectives: found now, not after training."""
    import typing

    fn = getattr(objective, "fn", None)
    try:
        declared = typing.get_type_hints(fn).get("return") if callable(fn) else None
    except Exception:  # noqa: BLE001 - an annotation that cannot be read says nothing
        return
    if declared is None:
        return
    args = typing.get_args(declared)
    if typing.get_origin(declared) is tuple and args and Ellipsis not in args:
        count = len(args)
    elif declared in (float, int):
        count = 1
    else:
        return
    if count != len(goals.names):
        raise UserError(f"objective: {getattr(fn, '__qualname__', fn)} is declared to return "
                        f"{count} value{'s' if count > 1 else ''}, but {goals.mismatch_fix()}")


def _resolve_space(value: Any, base_dir: Path, spaces: Any) -> Space:
    if value is None:
        return spaces.Space({})  # type: ignore[no-any-return]
    if isinstance(value, spaces.Space):
        return value  # type: ignore[no-any-return]
    if isinstance(value, dict):
        return spaces.Space(value)  # type: ignore[no-any-return]
    if isinstance(value, (str, Path)):
        text = str(value)
        if Path(text).suffix.lower() in (".yaml", ".yml", ".json"):
            path = Path(text) if Path(text).is_absolute() else base_dir / text
            return spaces.load(path)  # type: ignore[no-any-return]
        return spaces.load(text)  # type: ignore[no-any-return]
    raise UserError(
        "study: space must be a spaces.Space, a mapping, a YAML/JSON file or a ready-made "
        f"space name, but got {type(value).__name__}"
    )


def _metrics(value: Any, constraints: tuple[Constraint, ...]) -> Any:
    """One Metric, or a tuple when several values are computed (a list of metrics, or a metric
    and the measures its constraints name)."""
    import objectives

    if value is None:
        return None
    listed = list(value) if isinstance(value, Sequence) and not isinstance(value, str) else None
    named = [getattr(m, "name", m) for m in (listed or [value])]
    extra = [c.name for c in constraints if c.name not in named and _is_measure(c.name)]
    if listed is None and not extra:
        return objectives.get_metric(value)
    return objectives.get_metrics([*(listed or [value]), *extra])


def _is_measure(name: str) -> bool:
    from objectives import ObjectiveError, get_metric

    try:
        get_metric(name)
    except ObjectiveError:
        return False
    return True


def _declared_direction(objective: Any) -> str | None:
    """The direction an objective declares itself (a Ray Tune trainable's ``mode``), if any."""
    declared = getattr(objective, "direction", None)
    return declared if isinstance(declared, str) and declared in ("minimize", "maximize") else None


def _directions(study: Study, metric: Any, constraints: tuple[Constraint, ...],
                declared: str | None = None) -> dict[str, str]:
    optimized = _optimized(study.metric)
    if metric is not None:
        metrics = metric if isinstance(metric, tuple) else (metric,)
        found = {m.name: m.direction for m in metrics if m.name in optimized}
        for name, direction in study.named_directions().items():
            if found.get(name) != direction:
                raise UserError(
                    f"study: directions[{name!r}] is {direction!r}, but the metrics set "
                    f"{found}; drop directions (metrics set them)"
                )
        if study.direction not in (None, metrics[0].direction):
            raise UserError(
                f"study: metric {metrics[0].name} is to {metrics[0].direction}, but direction "
                f"is {study.direction!r}; drop direction"
            )
        return found
    if study.directions is not None:
        return study.named_directions()
    if declared is not None and study.direction not in (None, declared):
        raise UserError(f"study: the objective's mode is to {declared}, but direction is "
                        f"{study.direction!r}; drop direction (or change mode)")
    return {"value": str(study.direction or declared)}


def _optimized(value: Any) -> list[str]:
    """The names a study's ``metric`` optimizes (constraint-only measures are not among them)."""
    if value is None:
        return []
    listed = list(value) if isinstance(value, Sequence) and not isinstance(value, str) else [value]
    return [str(getattr(m, "name", m)) for m in listed]


def _check_names(goals: Goals, metric: Any) -> None:
    """Constraints and the pick rule must name values the study has."""
    if goals.pick is not None and goals.pick.best not in goals.names:
        raise UserError(
            f"study: pick names {goals.pick.best!r}, which is not an objective of this study "
            f"({', '.join(goals.names)}); the conditions after 'where' may name any value"
        )
    if metric is None:
        return  # a function returns what it returns: checked on each trial
    metrics = metric if isinstance(metric, tuple) else (metric,)
    known = {m.name for m in metrics}
    named = [c.name for c in goals.constraints]
    if goals.pick is not None:
        named += [goals.pick.best, *(c.name for c in goals.pick.where)]
    for name in named:
        if name not in known:
            raise UserError(
                f"study: {name!r} (in constraints or pick) is not a metric or measure of this "
                f"study ({', '.join(sorted(known))}); add it to metric=[...]"
            )
