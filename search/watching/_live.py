"""A live progress bar for a terminal: done/total, running, pruned, failed, best so far, ETA.

Used when stdout is a terminal; elsewhere (CI, pipes, tests) :class:`ProgressPrinter` keeps
writing one line per trial. Only new bests and failures print a line above the bar, so a long
sweep stays readable.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from search.core._observers import RunContext, RunObserver, TrialsFn
from search.core._trials import best_trial, counts_toward_budget
from search.watching._progress import feasible

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial
    from rich.console import Console

_RECOUNT_S = 0.5  # count RUNNING trials in the store at most this often


class LiveProgress(RunObserver):
    """A rich progress bar that the engine advances as trials finish."""

    def __init__(self, console: Console | None = None) -> None:
        from rich.console import Console

        self.console = console or Console(highlight=False)
        self.direction = "minimize"
        self.multi = False
        self.best: tuple[float, int] | None = None
        self.counts = {"PRUNED": 0, "FAIL": 0}
        self._progress: Any = None
        self._task: Any = None
        self._running = 1
        self._recounted = 0.0
        self.workers = 1
        self.total: int | None = 0
        self.done = 0

    def search_started(self, context: RunContext, trials: Sequence[FrozenTrial]) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
        from rich.table import Column

        study = context.prep.study
        self.direction = context.prep.parts.direction
        self.multi = context.prep.parts.goals.multi
        best = None if self.multi else best_trial(trials, self.direction)
        if best is not None and best.value is not None:
            self.best = (best.value, best.number)
        for t in trials:
            if t.state.name in self.counts:
                self.counts[t.state.name] += 1
        self.workers, self.total, self.done = study.workers, study.trials, context.trials_done
        self._running = min(self.workers, self._remaining())
        if study.trials is not None and context.trials_done >= study.trials:
            self.console.print(
                f"search: the study already has {context.trials_done} of {study.trials} trials"
            )
        # at 80 columns the counts, the best value and the clock keep their room: the bar
        # shrinks first, then the name and the pruned/failed counts are cut
        room = self.console.width - 72  # what the name, bar, count, best and clock leave
        status = [TextColumn("{task.fields[status]}", table_column=Column(
            no_wrap=True, overflow="ellipsis", max_width=room))] if room >= 8 else []
        self._progress = Progress(
            TextColumn("[bold]{task.description}", table_column=Column(max_width=16, no_wrap=True)),
            BarColumn(bar_width=None, table_column=Column(min_width=6, ratio=1)),
            MofNCompleteColumn(table_column=Column(no_wrap=True)),
            TextColumn("{task.fields[best]}", table_column=Column(no_wrap=True)),
            *status,
            _Clock(),
            console=self.console,
            transient=False,
        )
        self._task = self._progress.add_task(
            study.name, total=study.trials, completed=context.trials_done, status=self._status(),
            best=self._best_text(),
        )
        self._progress.start()

    def trial_finished(self, trial: FrozenTrial, trials: TrialsFn | None = None) -> None:
        from rich.markup import escape

        if self._progress is None:
            return
        state = trial.state.name
        counted = counts_toward_budget(trial)  # a PBT member's later segments do not
        self.done += counted
        if state in self.counts:
            self.counts[state] += 1
        value = trial.values[0] if trial.values and not self.multi else None
        if value is not None and feasible(trial) and self._better(value):
            self.best = (value, trial.number)
            self.console.print(
                f"trial {trial.number:>4} new best {value:.6g}  {_params(trial)}", markup=False
            )
        elif state == "FAIL":
            error = escape(str(trial.user_attrs.get("error") or "failed"))
            self.console.print(f"trial {trial.number:>4} [red]FAIL[/] {error}")
        remaining = self._remaining()
        now = time.monotonic()
        if self.workers == 1 or trials is None:
            self._running = min(self.workers, remaining)
        elif now - self._recounted >= _RECOUNT_S:
            self._recounted = now
            self._running = sum(t.state.name == "RUNNING" for t in trials())
        self._progress.update(
            self._task, advance=int(counted), status=self._status(), best=self._best_text()
        )

    def budget_changed(self, total: int | None) -> None:
        self.total = total
        if self._progress is not None:
            self._progress.update(self._task, total=total)

    def _remaining(self) -> int:
        """Trials still to start (a study without a limit: as many as there are workers)."""
        return self.workers if self.total is None else max(self.total - self.done, 0)

    def search_ended(self, trials: Sequence[FrozenTrial], status: str) -> None:
        if self._progress is None:
            return
        self._running = 0
        self._progress.update(self._task, status=self._status())
        self._progress.stop()
        self._progress = None
        if status != "finished":
            self.console.print(f"search: {status}")

    def _best_text(self) -> str:
        if self.multi:
            return ""
        return f"best {self.best[0]:.6g} #{self.best[1]}" if self.best else "best -"

    def _status(self) -> str:
        return (
            f"{self._running} running {self.counts['PRUNED']} pruned {self.counts['FAIL']} failed"
        )

    def _better(self, value: float) -> bool:
        if self.best is None:
            return True
        return value > self.best[0] if self.direction == "maximize" else value < self.best[0]


def _clock_column() -> type:
    from rich.progress import ProgressColumn
    from rich.text import Text

    class Clock(ProgressColumn):
        """``0:12 ETA 0:20``: the time so far and the time left, in one short column."""

        def render(self, task: Any) -> Text:
            elapsed = _hms(task.finished_time if task.finished else task.elapsed)
            left = _hms(task.time_remaining) if task.time_remaining is not None else "-:--"
            return Text(f"{elapsed} ETA {left}", style="progress.elapsed")

    return Clock


def _Clock() -> Any:
    from rich.table import Column

    return _clock_column()(table_column=Column(no_wrap=True, min_width=14))


def _hms(seconds: float | None) -> str:
    """``1:02:03``, ``2:03`` or ``0:07``."""
    total = int(seconds or 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _params(trial: FrozenTrial) -> str:
    shown = ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial.params.items()
    )
    return shown if len(shown) <= 100 else shown[:97] + "..."
