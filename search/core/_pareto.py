"""Several objectives: the Pareto front of a study's trials, and the one config it hands to the
final evaluation.

The front holds the study's own COMPLETE trials that meet every constraint and that no other
such trial dominates (at least as good on every objective, better on one). The final evaluation
opens the test once, so one point is chosen by a stated rule: by default the front's best on the
first objective; with ``pick="NAME where A <= x"``, the best on NAME among the trials that meet
the conditions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from search.core._trials import own

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

    from search.core._goals import Goals


def feasible(trials: Sequence[FrozenTrial]) -> list[FrozenTrial]:
    """The study's own COMPLETE trials that meet every constraint."""
    return [
        t for t in own(trials)
        if t.state.name == "COMPLETE" and all(v <= 0 for v in t.constraints.values())
    ]


def named_values(trial: FrozenTrial, goals: Goals) -> dict[str, float]:
    """Every named value of a complete trial: its objectives, and the measures beside them."""
    values = trial.values or []
    named = {name: float(v) for name, v in zip(goals.names, values, strict=False)}
    extra = trial.user_attrs.get("values")
    if isinstance(extra, dict):
        named.update({str(k): float(v) for k, v in extra.items() if k not in named})
    return named


def pareto_front(trials: Sequence[FrozenTrial], goals: Goals) -> list[FrozenTrial]:
    """The feasible trials no other feasible trial dominates, in trial order."""
    import numpy as np

    candidates = feasible(trials)
    if not candidates:
        return []
    signs = np.array([-1.0 if d == "maximize" else 1.0 for d in goals.directions.values()])
    points = np.array([t.values for t in candidates], dtype=float) * signs  # all minimized
    keep = []
    for i, point in enumerate(points):
        dominated = (points <= point).all(axis=1) & (points < point).any(axis=1)
        if not dominated.any():
            keep.append(candidates[i])
    return keep


def chosen(trials: Sequence[FrozenTrial], goals: Goals) -> tuple[FrozenTrial, str] | None:
    """The trial the final evaluation uses, and the rule that chose it (``None``: no trial
    is eligible)."""
    pick = goals.pick
    best = pick.best if pick else goals.names[0]
    direction = goals.directions.get(best, "maximize")
    if pick and pick.where:
        pool = [t for t in feasible(trials) if _meets(t, goals, pick.where)]
        rule = f"{pick} (among the feasible trials that meet it)"
    else:
        pool = pareto_front(trials, goals) if goals.multi else feasible(trials)
        rule = f"best {best} on the Pareto front" if goals.multi else f"best {best}"
    if not pool:
        return None
    sign = -1.0 if direction == "maximize" else 1.0
    top = min(pool, key=lambda t: (sign * named_values(t, goals)[best], t.number))
    return top, rule


def _meets(trial: FrozenTrial, goals: Goals, where: Sequence[Any]) -> bool:
    named = named_values(trial, goals)
    return all(c.name in named and c.violation(named[c.name]) <= 0 for c in where)
