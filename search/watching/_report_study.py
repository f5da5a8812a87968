"""The study as the report sees it: its records, its trials, and what each section may show.

One :class:`ReportStudy` is built per page from ``study.json``, ``best.json``, ``final.json`` and
the trials in the store. The sections and the plots ask it the same questions (the complete
trials best first, the trials that took each branch of a conditional parameter, why there is too
little to draw), so they agree with each other; it holds no HTML.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

#: at most this many trials a scatter draws: a page of 100,000 trials stays light and quick
POINTS = 5000
#: of which the best complete trials, always drawn
BEST_POINTS = 500


class ReportStudy:
    """The records and trials of one study, read once for one page."""

    def __init__(
        self,
        record: dict[str, Any],
        final: dict[str, Any] | None,
        trials: list[FrozenTrial],
        best: dict[str, Any] | None = None,
    ) -> None:
        self.record = record
        self.final = final
        self.best = best or {}
        self.trials = trials
        self.direction: str = record["direction"]
        self.directions: dict[str, str] = record.get("directions") or {}
        self.multi = bool(self.directions)  # several objectives: a Pareto front, no one best
        metric = record.get("metric")
        self.metric: str = (metric[0] if isinstance(metric, list) else metric) or "value"
        self.complete = [t for t in trials if t.state.name == "COMPLETE" and t.values]
        self._ranked: list[FrozenTrial] | None = None
        self._shown: list[FrozenTrial] | None = None

    def plot_key(self) -> tuple[Any, ...]:
        """What the plots are drawn from: equal keys, equal plots."""
        trials = tuple(
            (t.number, t.state.name, tuple(t.values or ()), t.datetime_complete,
             len(t.intermediate_values), len(t.params))
            for t in self.trials
        )
        return self.direction, tuple(self.directions.items()), self.metric, trials

    def ranked(self) -> list[FrozenTrial]:
        """The complete trials, best first (lowest number first on ties)."""
        if self._ranked is None:
            sign = -1.0 if self.direction == "maximize" else 1.0
            self._ranked = sorted(self.complete, key=lambda t: (sign * float(t.values[0]), t.number))
        return self._ranked

    def shown(self) -> list[FrozenTrial]:
        """The complete trials a scatter draws, in trial order: all of them up to
        :data:`POINTS`; beyond, the best :data:`BEST_POINTS` and an even sample of the rest
        (several objectives: an even sample; the front is added by the plot)."""
        if self._shown is None:
            if len(self.complete) <= POINTS:
                self._shown = list(self.complete)
            else:
                best = [] if self.multi else self.ranked()[:BEST_POINTS]
                kept = {t.number for t in best}
                rest = [t for t in self.complete if t.number not in kept]
                chosen = best + even_sample(rest, POINTS - len(best))
                self._shown = sorted(chosen, key=lambda t: t.number)
        return self._shown

    def sample_note(self) -> str:
        """What a scatter of :meth:`shown` leaves out, as a sentence; empty when nothing."""
        total = len(self.complete)
        if total <= POINTS:
            return ""
        how = "an even sample" if self.multi else (
            f"the best {BEST_POINTS:,} and an even sample of the rest")
        return f"Showing {len(self.shown()):,} of {total:,} complete trials: {how}."

    def need(self, n: int) -> str | None:
        """Why a section needing ``n`` complete trials has nothing to show, or ``None``."""
        have = len(self.complete)
        if have >= n:
            return None
        if not self.trials:
            return "no trials yet"
        what = "trial" if n == 1 else "trials"
        return f"needs {n} complete {what}; this study has {have}"

    def need_params(self) -> str | None:
        """Why a section about parameters has nothing to show, or ``None``."""
        if any(t.params for t in self.complete):
            return None
        return "the complete trials have no parameters"

    def param_paths(self) -> list[str]:
        """Every parameter a complete trial has, sorted."""
        return sorted({p for t in self.complete for p in t.params})

    def conditional_paths(self) -> list[str]:
        """The parameters some complete trials lack: those inside a conditional branch."""
        return [p for p in self.param_paths() if any(p not in t.params for t in self.complete)]

    def branch_groups(self) -> list[tuple[str, list[FrozenTrial]]]:
        """All complete trials, then those of each option of each branch parameter."""
        groups: list[tuple[str, list[FrozenTrial]]] = [("all trials", self.complete)]
        paths = self.param_paths()
        for path in paths:
            if not any(p.startswith(path + ".") for p in paths):
                continue
            options = sorted({str(t.params[path]) for t in self.complete if path in t.params})
            for option in options:
                members = [t for t in self.complete if str(t.params.get(path)) == option]
                groups.append((f"{path} = {option}", members))
        return groups


def even_sample(trials: Sequence[FrozenTrial], n: int) -> list[FrozenTrial]:
    """``n`` of ``trials`` spread evenly over them, in their order (all when they are fewer)."""
    if n >= len(trials):
        return list(trials)
    if n <= 0:
        return []
    step = len(trials) / n
    return [trials[int(i * step)] for i in range(n)]
