"""What a trial kept besides its value, read back the same way by ``search.load``, MLflow and the
report: the metrics it reported at each step, its latest checkpoint, its place in a Population
Based Training population.

A trial's per-step metrics are the mappings its objective reported (``trial.report_metrics``,
Ray Tune's ``tune.report``), kept in step order in its :data:`~search.core._trials.METRICS`
system attribute; a PBT segment carries its lineage in the ``pbt`` user attribute
(:mod:`search.core._pbt`) and its latest checkpoint in
:data:`~search.core._checkpoints.CHECKPOINT`. Nothing here writes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.core._checkpoints import CHECKPOINT
from search.core._folder import trial_dir
from search.core._trials import METRICS, PBT_ATTR, WARM

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

#: the key Ray Tune numbers a trial's steps by (1, 2, ...)
ITERATION = "training_iteration"


def step_metrics(trial: FrozenTrial) -> list[tuple[int, dict[str, Any]]]:
    """Each step's reported metrics, ``(step, metrics)`` in step order. The step is the
    mapping's ``training_iteration`` where it has one (Tune's, and what ``report_metrics``
    users pass), else the step of the intermediate value in the same place (one mapping a
    reported value), else its place counted from 1."""
    kept = trial.system_attrs.get(METRICS)
    if not isinstance(kept, list):
        return []
    reported = sorted(trial.intermediate_values)
    aligned = len(reported) == len(kept)
    found = []
    for i, metrics in enumerate(kept):
        if not isinstance(metrics, dict):
            continue
        step = metrics.get(ITERATION)
        if not isinstance(step, int) or isinstance(step, bool):
            step = reported[i] if aligned else i + 1
        found.append((int(step), dict(metrics)))
    return found


def numeric(metrics: dict[str, Any]) -> dict[str, float]:
    """The metrics that are numbers (not booleans), as floats: what MLflow can chart."""
    return {str(k): float(v) for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}


def checkpoint_folder(directory: Path, trial: FrozenTrial) -> Path | None:
    """The absolute folder of ``trial``'s latest checkpoint in the study folder
    ``directory``, or ``None`` when it saved none."""
    recorded = trial.system_attrs.get(CHECKPOINT)
    if not isinstance(recorded, dict) or "path" not in recorded:
        return None
    owner = recorded.get("trial", trial.number)
    return (trial_dir(directory, int(owner)) / str(recorded["path"])).resolve()


def pbt_place(trial: FrozenTrial) -> dict[str, Any] | None:
    """``trial``'s place in a PBT population (``member``, ``segment``, ``parent``,
    ``from_step``, ``exploited``), or ``None`` when it is no PBT segment."""
    place = trial.user_attrs.get(PBT_ATTR)
    return place if isinstance(place, dict) and "member" in place else None


def lineage(trials: Sequence[FrozenTrial]) -> dict[int, list[dict[str, Any]]] | None:
    """Each PBT member's segments in order, by the member's number (the trial that started
    it); ``None`` when no trial is a PBT segment. A segment: ``trial``, ``segment``, ``state``,
    ``from_step`` (the step of the checkpoint it continued from; 0 for a member's first),
    ``to_step`` (its last reported step; ``from_step`` while it reported none), ``value`` (its
    value once COMPLETE, else its last reported value; ``None`` before it reported), ``params`` (the hyperparameters it trained with), ``exploited`` (whether
    it took another member's checkpoint and hyperparameters) and ``parent`` (the trial it
    continued from; ``None`` for a member's first)."""
    members: dict[int, list[dict[str, Any]]] = {}
    found = False
    for trial in trials:
        place = pbt_place(trial)
        if place is None or WARM in trial.system_attrs:
            continue
        found = True
        members.setdefault(int(place["member"]), []).append(_segment(trial, place))
    if not found:
        return None
    return {m: sorted(s, key=lambda seg: (seg["segment"], seg["trial"]))
            for m, s in sorted(members.items())}


def _segment(trial: FrozenTrial, place: dict[str, Any]) -> dict[str, Any]:
    steps = trial.intermediate_values
    start = int(place.get("from_step", 0))
    last = max(steps) if steps else None
    value = steps[last] if last is not None else None
    if trial.state.name == "COMPLETE" and trial.values and len(trial.values) == 1:
        value = trial.values[0]
    parent = place.get("parent")
    return {
        "trial": trial.number,
        "segment": int(place.get("segment", 0)),
        "state": trial.state.name,
        "from_step": start,
        "to_step": last if last is not None else start,
        "value": float(value) if value is not None and math.isfinite(value) else value,
        "params": dict(trial.params),
        "exploited": bool(place.get("exploited", False)),
        "parent": int(parent) if isinstance(parent, int) else None,
    }
