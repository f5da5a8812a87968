"""Observers of a run: what the terminal, the results files and trackers hear about trials.

The engine calls them; they never change the search. Each gets every finished trial as it is
reported by the backend (whatever process ran it), and the whole trial list on demand, so an
observer that only needs it now and then (the results files, a dashboard feed) pays only then.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

    from search.core._prepare import Prepared

TrialsFn = Callable[[], Sequence["FrozenTrial"]]


@dataclass(frozen=True, eq=False)
class RunContext:
    """What observers know about the run when it starts."""

    prep: Prepared
    directory: Path
    resumed: bool
    trials_done: int  # finished trials that count toward the budget, before this run


class RunObserver:
    """Base class: every hook does nothing."""

    def search_started(self, context: RunContext, trials: Sequence[FrozenTrial]) -> None:
        """Called once before the first trial of this run."""

    def budget_changed(self, total: int | None) -> None:
        """Called when a script's next ``optimize`` sets a new total of trials (``None``: no
        limit) after the search started."""

    def trial_finished(self, trial: FrozenTrial, trials: TrialsFn) -> None:
        """Called for each trial that reaches COMPLETE, PRUNED or FAIL."""

    def search_ended(self, trials: Sequence[FrozenTrial], status: str) -> None:
        """Called once at the end of the search (``finished`` or ``interrupted``)."""

    def final_evaluated(self, record: dict[str, Any]) -> None:
        """Called after the final evaluation wrote ``final.json``."""

    def run_ended(self) -> None:
        """Called once as the command ends, however it ends: finish or stop helper processes."""


class Observers(RunObserver):
    """Fans each call out to several observers, in order."""

    def __init__(self, observers: Sequence[RunObserver]) -> None:
        self.observers = list(observers)

    def search_started(self, context: RunContext, trials: Sequence[FrozenTrial]) -> None:
        for o in self.observers:
            o.search_started(context, trials)

    def budget_changed(self, total: int | None) -> None:
        for o in self.observers:
            o.budget_changed(total)

    def trial_finished(self, trial: FrozenTrial, trials: TrialsFn) -> None:
        for o in self.observers:
            o.trial_finished(trial, trials)

    def search_ended(self, trials: Sequence[FrozenTrial], status: str) -> None:
        for o in self.observers:
            o.search_ended(trials, status)

    def final_evaluated(self, record: dict[str, Any]) -> None:
        for o in self.observers:
            o.final_evaluated(record)

    def run_ended(self) -> None:
        for o in self.observers:
            o.run_ended()
