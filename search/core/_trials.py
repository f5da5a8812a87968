"""Reading finished trials the same way everywhere: the best, the budget, the abandoned.

A trial a run left unfinished (killed, interrupted) is marked abandoned: it is FAIL in the store
but does not count toward ``--trials``, so a resumed run runs its slot again.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from search.core._checkpoints import RESTORE_FROM

if TYPE_CHECKING:
    import datetime

    from optuna.trial import FrozenTrial

    from spaces import Space

#: system attribute of a trial its run left unfinished
ABANDONED = "search:abandoned"
#: system attribute holding the keyed digest (:mod:`search.core._keyed`) of each file a trial
#: kept, by path in its folder
FILES = "search:files"
#: system attribute naming the worker that ran the trial (``host:pid``)
WORKER = "search:worker"
#: system attribute holding every metric a trial reported, one mapping a step (Ray Tune's
#: ``tune.report``), in step order
METRICS = "search:metrics"
#: user attribute of a Population Based Training segment: its member, segment, parent, the step
#: it started from, whether it exploited another member (:mod:`search.core._pbt`)
PBT_ATTR = "pbt"
#: system attribute of a PBT segment that ended for its member to train on in the next one
SEGMENT_ENDED = "search:segment_ended"
#: system attribute of a trial drawn ahead (a reproducible run): when a worker started it, as
#: ISO 8601; Optuna's ``datetime_start`` is when it was drawn
STARTED = "search:started"


#: system attribute of a trial taken from another study's history (``warm_start``)
WARM = "search:warm_start"

#: user attributes the framework itself keeps with a trial; every other one is the user's own
#: (``trial.set_user_attr``), shown as ``user_attrs_<key>`` as Optuna names them
OWN_USER_ATTRS = frozenset({
    "fold_scores", "fold_values", "train_score", "best_epochs", "epochs_trained", "error",
    "values", "worker_deaths", "enqueued", "warm_start", RESTORE_FROM, PBT_ATTR,
})


def user_attrs(trial: FrozenTrial) -> dict[str, Any]:
    """The attributes the user's code set on ``trial`` (not the framework's own)."""
    return {k: v for k, v in trial.user_attrs.items() if k not in OWN_USER_ATTRS}


def counts_toward_budget(trial: FrozenTrial) -> bool:
    """Every trial counts except those a run abandoned (their slots run again), those a
    warm start took from another study, and a PBT member's segments after its first."""
    segment = (trial.user_attrs.get(PBT_ATTR) or {}).get("segment", 0)
    return ABANDONED not in trial.system_attrs and WARM not in trial.system_attrs \
        and not segment


def own(trials: Sequence[FrozenTrial]) -> list[FrozenTrial]:
    """The trials this study ran (not those a warm start took from another)."""
    return [t for t in trials if WARM not in t.system_attrs]


def trial_config(space: Space, params: dict[str, Any]) -> dict[str, Any]:
    """The config a trial ran with: declared parameters by their short names, and the ones the
    objective suggested itself (define-by-run) by their own names."""
    declared = set(space.paths())
    config = space.config_from_params({k: v for k, v in params.items() if k in declared})
    config.update({k: v for k, v in params.items() if k not in declared})
    return config


def best_trial(trials: Sequence[FrozenTrial], direction: str) -> FrozenTrial | None:
    """The study's own COMPLETE, feasible trial with the best value (lowest number on ties),
    or ``None``. Under Population Based Training, a segment whose member trained on is not a
    candidate while a member's last segment is: the best is a trained member, as in Ray Tune."""
    done = [t for t in own(trials) if t.state.name == "COMPLETE" and len(t.values or []) == 1]
    done = [t for t in done if all(v <= 0 for v in t.constraints.values())]
    done = [t for t in done if SEGMENT_ENDED not in t.system_attrs] or done
    if not done:
        return None
    sign = -1.0 if direction == "maximize" else 1.0
    return min(done, key=lambda t: (sign * float(t.value), t.number))  # type: ignore[arg-type]


def spread(values: Sequence[float]) -> dict[str, Any]:
    """Mean, standard deviation, min and max of validation scores."""
    if not values:
        return {}
    return {
        "n": len(values),
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
    }


def duration(trial: FrozenTrial) -> float | None:
    """Seconds from the trial's start on a worker to its end, or ``None`` while it runs."""
    start = started(trial)
    if start is None or trial.datetime_complete is None:
        return None
    return round((trial.datetime_complete - start).total_seconds(), 4)


def started(trial: FrozenTrial) -> datetime.datetime | None:
    """When a worker started the trial: Optuna's ``datetime_start``, unless it was drawn ahead
    of its start (:data:`STARTED`)."""
    import datetime

    on_worker = trial.system_attrs.get(STARTED)
    return datetime.datetime.fromisoformat(on_worker) if on_worker else trial.datetime_start
