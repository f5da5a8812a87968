"""Reproducible parallel search: the same trials for a seed, whatever the trials' durations.

With several workers, which trials have finished when the sampler draws the next config depends
on how long each trial took, so a seeded parallel run drifts from the first trial that finished
out of order. Here each new trial takes a *slot* (0, 1, 2, ... in the order trials start), and
the config and pruning answers of the trial in slot ``s`` depend only on

- the seed: its sampler is built afresh with :func:`slot_seed` ``(seed, s)``;
- the trials in slots below ``s - lag``, finished and as they ended (the driver waits for them
  before it draws slot ``s``);
- the configs of the slots from ``s - lag`` to ``s - 1``, shown as running (no values), as a
  parallel sampler's constant liar sees them.

Slots above ``s`` are hidden. Trials without a slot (a warm start, a run before this one) count
as they are once finished. A trial abandoned by a killed run gives its slot to the trial that
runs it again (its config is enqueued unchanged on ``--resume``), so a resumed run goes on as the
run that was never killed. ``lag`` is the number of workers.
"""

from __future__ import annotations

import bisect
import copy
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from search.core._checkpoints import RESTORE_FROM
from search.core._trials import ABANDONED

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

#: system attribute: a trial's slot in a reproducible run
SLOT = "search:slot"


def slot_seed(seed: int, slot: int) -> int:
    """The seed of the sampler that draws the trial in ``slot``: a function of both alone
    (SplitMix64's mixing of the pair, 32 bits, as NumPy's seeds take; a microsecond)."""
    mask = (1 << 64) - 1
    z = (seed * 0x9E3779B97F4A7C15 + (slot + 1) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return (z ^ (z >> 31)) >> 32


@dataclass(frozen=True)
class Reproducible:
    """A reproducible run's settings: its seed and how many slots back a trial cannot see."""

    seed: int
    lag: int

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "lag": self.lag}


def slot_of(trial: FrozenTrial,
            by_number: Callable[[int], FrozenTrial | None]) -> int | None:
    """A trial's slot: its own, or that of the trial it runs again (``restore_from``), looked
    up by number alone (``by_number``: ``None`` for a number the study does not hold)."""
    slot = trial.system_attrs.get(SLOT)
    if slot is not None:
        return int(slot)
    source = trial.user_attrs.get(RESTORE_FROM)
    earlier = by_number(source) if isinstance(source, int) and source >= 0 else None
    slot = earlier.system_attrs.get(SLOT) if earlier is not None else None
    return None if slot is None else int(slot)


def next_slot(trials: Sequence[FrozenTrial]) -> int:
    """The first slot no trial holds or will hold again."""
    return 1 + max((int(t.system_attrs[SLOT]) for t in trials if SLOT in t.system_attrs),
                   default=-1)


def as_seen_from(trials: Sequence[FrozenTrial], slot: int, lag: int) -> list[FrozenTrial]:
    """``trials`` as the trial in ``slot`` sees them (see the module's docstring)."""
    seen = []
    for trial in trials:
        own = trial.system_attrs.get(SLOT)
        if ABANDONED in trial.system_attrs:
            continue  # a killed run's: its slot is run again
        if own is None:
            if trial.state.is_finished():
                seen.append(trial)
        elif own == slot or own < slot - lag:
            seen.append(trial)
        elif own < slot:
            seen.append(_running(trial))
    return seen


class SettledPrefix:
    """:func:`as_seen_from` without walking the whole study at each call.

    The trials come in number order, and a trial that every slot from ``f + lag`` on sees as it
    is (finished without a slot, or in a slot below ``f``) stays so: its outcome is final and
    slots only grow. This keeps how far the list is *settled* so, with the running maximum of
    the slots in it; a call for slot ``s`` takes the longest settled prefix whose slots are all
    below ``s - lag`` (a binary search: a running trial's pruning question asks for an earlier
    slot than the sampler's), copies it, and walks only the rest. Abandoned trials inside the
    prefix are left out by their index. The trials are the store's current objects at each call.
    """

    def __init__(self) -> None:
        self._top: list[int] = []  # the largest slot among the settled trials 0..i (-1: none)
        self._abandoned: list[int] = []  # their indexes, in order

    def seen(self, trials: Sequence[FrozenTrial], slot: int, lag: int) -> list[FrozenTrial]:
        """``as_seen_from(trials, slot, lag)``, the same list."""
        self._settle(trials, slot - lag)
        usable = bisect.bisect_left(self._top, slot - lag)  # prefix whose slots are all lower
        head = trials[:usable]
        head = head if isinstance(head, list) else list(head)  # a list's slice is a copy
        for index in reversed(self._abandoned[: bisect.bisect_left(self._abandoned, usable)]):
            del head[index]
        head.extend(as_seen_from(trials[usable:], slot, lag))
        return head

    def _settle(self, trials: Sequence[FrozenTrial], frontier: int) -> None:
        """Extend the settled prefix over the trials every slot from ``frontier + lag`` on sees
        as they are (or never sees: abandoned)."""
        top = self._top[-1] if self._top else -1
        for index in range(len(self._top), len(trials)):
            trial = trials[index]
            attrs = trial.system_attrs
            own = attrs.get(SLOT)
            if ABANDONED in attrs:
                self._abandoned.append(index)
            elif own is None:
                if not trial.state.is_finished():
                    return  # it may yet take a slot
            elif own >= frontier:
                return
            else:
                top = max(top, int(own))
            self._top.append(top)


def _running(trial: FrozenTrial) -> FrozenTrial:
    """A finished trial shown as still running: its config, no outcome."""
    from optuna.trial import TrialState

    if trial.state == TrialState.RUNNING:
        return trial
    shown = copy.copy(trial)
    shown.state = TrialState.RUNNING
    shown.values = None
    shown.intermediate_values = {}
    shown.datetime_complete = None
    return shown


def reproducible_for(sampler: Any, pbt: bool, seed: int, workers: int, wanted: bool,
                     recorded: Any) -> tuple[Reproducible | None, str]:
    """A run's settings, or ``None`` and why it does not reproduce. ``lag`` is twice the other
    workers: with trial times that vary by +-50 % the run keeps its parallel efficiency (see
    benchmarks/RESULTS.md); a resumed run keeps the lag it recorded."""
    if not wanted:
        return None, "--no-reproducible"
    if not isinstance(sampler, str):
        return None, "a sampler object cannot be seeded for each trial"
    if pbt:
        return None, "Population Based Training draws its exploits as trials end"
    if sampler == "grid":  # a grid sampler rebuilt for each slot was seen to repeat a point
        return None, "the grid sampler keeps its own record of the points it visited"
    lag = recorded.get("lag") if isinstance(recorded, dict) and "lag" in recorded else None
    return Reproducible(seed, int(lag) if lag is not None else 2 * (workers - 1)), ""


def record_of(settings: Reproducible | None, why: str) -> dict[str, Any]:
    """What ``study.json`` says under ``reproducible``."""
    if settings is None:
        return {"reproducible": False, "why": why}
    return {"reproducible": True, **settings.to_dict(),
            "rule": "trial n's config and pruning depend only on the seed, the trials before "
                    "slot n - lag, and the configs from there to n - 1"}


@contextmanager
def seen_from(study: Any, slot: int, lag: int) -> Iterator[None]:
    """The study's trials as the trial in ``slot`` sees them, for the sampler and the pruner,
    while the block runs. The study's per-trial cache of its trials is cleared on the way in
    and out (Optuna's ``Study`` keeps one between ``ask`` and ``tell``; a private name, here
    alone)."""
    storage = study._storage
    study._thread_local.cached_all_trials = None
    prefix = getattr(storage, "settled", None)
    if not isinstance(prefix, SettledPrefix):
        prefix = storage.settled = SettledPrefix()
    storage.view = lambda trials: prefix.seen(trials, slot, lag)
    try:
        yield
    finally:
        storage.view = None
        study._thread_local.cached_all_trials = None
