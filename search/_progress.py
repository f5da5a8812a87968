"""One concise line per finished trial: number, state, value, best so far, duration, count."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial


class ProgressPrinter:
    """Prints ``trial 12 COMPLETE 0.9712  best 0.9781 (#7)  1.2s  [13/50]`` lines."""

    def __init__(
        self,
        total: int,
        direction: str,
        done: int = 0,
        best: tuple[float, int] | None = None,
        stream: TextIO | None = None,
    ):
        self.total = total
        self.direction = direction
        self.done = done
        self.best = best
        self.stream = stream or sys.stdout

    def trial_finished(self, trial: FrozenTrial) -> None:
        self.done += 1
        value = trial.value
        if trial.state.name == "COMPLETE" and value is not None and self._better(value):
            self.best = (value, trial.number)
        shown = f"{value:.6g}" if value is not None else "-"
        best = f"best {self.best[0]:.6g} (#{self.best[1]})" if self.best else "best -"
        seconds = ""
        if trial.datetime_start and trial.datetime_complete:
            seconds = f"{(trial.datetime_complete - trial.datetime_start).total_seconds():.2f}s"
        error = trial.user_attrs.get("error")
        tail = f"  {error}" if trial.state.name == "FAIL" and error else ""
        self.stream.write(
            f"trial {trial.number:>4} {trial.state.name:<8} {shown:>10}  {best}  {seconds:>7}"
            f"  [{self.done}/{self.total}]{tail}\n"
        )
        self.stream.flush()

    def _better(self, value: float) -> bool:
        if self.best is None:
            return True
        return value > self.best[0] if self.direction == "maximize" else value < self.best[0]
