"""One concise line per finished trial: number, state, value, best so far, duration, count."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from search.core._observers import RunContext, RunObserver, TrialsFn
from search.core._trials import PBT_ATTR, best_trial, counts_toward_budget

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial


class ProgressPrinter(RunObserver):
    """Prints ``trial 12 COMPLETE 0.9712  best 0.9781 (#7)  1.2s  [13/50]`` lines."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.total: int | None = 0
        self.direction = "minimize"
        self.multi = False
        self.done = 0
        self.best: tuple[float, int] | None = None

    def search_started(self, context: RunContext, trials: Sequence[FrozenTrial]) -> None:
        self.total = context.prep.study.trials
        self.direction = context.prep.parts.direction
        self.multi = context.prep.parts.goals.multi
        self.done = context.trials_done
        best = None if self.multi else best_trial(trials, self.direction)
        if best is not None and best.value is not None:
            self.best = (best.value, best.number)
        if self.total is not None and self.done >= self.total:
            self.stream.write(f"search: the study already has {self.done} of {self.total} trials\n")

    def budget_changed(self, total: int | None) -> None:
        self.total = total

    def trial_finished(self, trial: FrozenTrial, trials: TrialsFn | None = None) -> None:
        self.done += counts_toward_budget(trial)  # a PBT member's later segments do not
        values = trial.values or []
        if not self.multi and values and feasible(trial) and self._better(values[0]):
            self.best = (values[0], trial.number)
        shown = ", ".join(f"{v:.6g}" for v in values) if values else "-"
        if not feasible(trial):
            shown += " (infeasible)"
        best = "" if self.multi else (
            f"  best {self.best[0]:.6g} (#{self.best[1]})" if self.best else "  best -"
        )
        seconds = ""
        if trial.datetime_start and trial.datetime_complete:
            seconds = f"{(trial.datetime_complete - trial.datetime_start).total_seconds():.2f}s"
        error = trial.user_attrs.get("error")
        tail = f"  {error}" if trial.state.name == "FAIL" and error else ""
        place = trial.user_attrs.get(PBT_ATTR)
        if place and place.get("segment"):
            came = f", from #{place['parent']}" if place.get("exploited") else ""
            tail += f"  (member #{place['member']}, segment {place['segment']}{came})"
        self.stream.write(
            f"trial {trial.number:>4} {trial.state.name:<8} {shown:>10}{best}  {seconds:>7}"
            f"  [{self.done}{'' if self.total is None else f'/{self.total}'}]{tail}\n"
        )
        self.stream.flush()

    def _better(self, value: float) -> bool:
        if self.best is None:
            return True
        return value > self.best[0] if self.direction == "maximize" else value < self.best[0]


def feasible(trial: FrozenTrial) -> bool:
    """Whether a trial meets every constraint it was given (one without any does)."""
    return all(v <= 0 for v in trial.constraints.values())
