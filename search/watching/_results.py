"""The files under ``RESULTS/NAME/`` that people read: study.json, trials.csv, best.json.

``trials.csv`` and ``best.json`` are views of the study store, rewritten atomically (write a
temporary file, then rename) at most once per ``interval`` seconds while trials finish, and once
more at the end; the store stays the source of truth, so a crash loses no trial.
"""

from __future__ import annotations

import csv
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.core._folder import BEST_JSON, TRIALS_CSV, write_json
from search.core._observers import RunObserver, TrialsFn
from search.core._trials import best_trial, duration, spread
from search.integrity._ties import ALPHA as TIE_ALPHA
from search.integrity._ties import METHOD as TIE_METHOD
from search.integrity._ties import (
    Preference,
    comparable_trials,
    corrected_interval,
    fold_scores,
    selected_trial,
    tied_with,
)

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

    from spaces import Space

def best_record(
    trial: FrozenTrial,
    trials: Sequence[FrozenTrial],
    space: Space,
    direction: str,
    prefer: Preference | None = None,
) -> dict[str, Any]:
    """``best.json``: the best trial, the configs tied with it, and the one to evaluate."""
    scores = fold_scores(trial)
    record: dict[str, Any] = {
        "number": trial.number,
        "value": trial.value,
        "params": dict(trial.params),
        "config": space.config_from_params(trial.params),
        "validation_scores": scores,
        "spread": spread(scores) if scores else spread([float(trial.value or 0.0)]),
        "interval_95": corrected_interval(scores),
        "duration_s": duration(trial),
    }
    record["ties"] = _ties(trial, trials, space)
    chosen = selected_trial(trial, trials, space, prefer)
    rule = "best validation value"
    if prefer is not None:
        tied = len(record["ties"]["tied"])
        rule = f"prefer {prefer} among the best and {tied} tied configs"
    record["selected"] = {
        "number": chosen.number,
        "value": chosen.value,
        "config": space.config_from_params(chosen.params),
        "rule": rule,
    }
    return record


def _ties(best: FrozenTrial, trials: Sequence[FrozenTrial], space: Space) -> dict[str, Any]:
    scores = fold_scores(best)
    comparable = [o for o in comparable_trials(trials, best) if len(o[2]) == len(scores)]
    ties = tied_with(scores, comparable)
    by_number = {t.number: t for t in trials}
    note = None
    if len(scores) < 2:
        note = "no per-fold scores: ties cannot be assessed"
    return {
        "method": TIE_METHOD,
        "alpha": TIE_ALPHA,
        "compared": len(comparable) if len(scores) >= 2 else 0,
        "tied": [
            {
                "number": tie.number,
                "value": tie.value,
                "p_value": tie.p_value,
                "config": space.config_from_params(by_number[tie.number].params),
            }
            for tie in sorted(ties, key=lambda tie: tie.p_value, reverse=True)
        ],
        "note": note,
    }


class ResultsWriter(RunObserver):
    """Keeps ``trials.csv`` and ``best.json`` in step with the store, throttled."""

    #: the share of the run's time that rewriting the files may take, at most
    BUDGET = 0.02

    def __init__(
        self,
        directory: Path,
        space: Space,
        direction: str,
        interval: float = 1.0,
        prefer: Preference | None = None,
    ):
        self.directory = directory
        self.space = space
        self.direction = direction
        self.interval = interval
        self.prefer = prefer
        self._last = -math.inf
        self._wait = interval

    def due(self) -> bool:
        """Whether enough time passed since the last write (see :meth:`update`)."""
        return time.monotonic() - self._last >= self._wait

    def trial_finished(self, trial: FrozenTrial, trials: TrialsFn) -> None:
        if self.due():
            self.update(trials())

    def search_ended(self, trials: Sequence[FrozenTrial], status: str) -> None:
        self.update(trials)

    def update(self, trials: Sequence[FrozenTrial]) -> None:
        """Rewrite both files from ``trials`` now.

        The files grow with the study; the next rewrite waits ``interval`` seconds, or longer
        when this one was slow, so that they never cost more than ``BUDGET`` of the run.
        """
        start = time.monotonic()
        write_trials_csv(self.directory / TRIALS_CSV, trials, self.space, self.direction)
        best = best_trial(trials, self.direction)
        if best is not None:
            record = best_record(best, trials, self.space, self.direction, self.prefer)
            write_json(self.directory / BEST_JSON, record)
        self._last = time.monotonic()
        self._wait = max(self.interval, (self._last - start) / self.BUDGET)


def overfit_gap(trial: FrozenTrial, direction: str) -> float | None:
    """Training minus validation score, signed so that positive means memorising."""
    train = trial.user_attrs.get("train_score")
    if train is None or trial.value is None:
        return None
    gap = float(train) - float(trial.value)
    return gap if direction == "maximize" else -gap


def write_trials_csv(
    path: Path, trials: Sequence[FrozenTrial], space: Space, direction: str = "maximize"
) -> None:
    """One row a trial: number, state, value, duration, parameters, fold or step scores,
    the training score and the overfitting gap (positive: training beats validation)."""
    shown = list(trials)
    n_folds = max((len(fold_scores(t)) for t in shown), default=0)
    n_steps = 0 if n_folds else max((len(t.intermediate_values) for t in shown), default=0)
    params = space.paths()
    header = ["number", "state", "value", "duration_s"]
    header += [f"params_{p}" for p in params]
    header += [f"fold_{i}" for i in range(n_folds)] + [f"step_{i}" for i in range(n_steps)]
    header += ["train_score", "overfit_gap", "error"]
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for t in shown:
            scores = fold_scores(t)
            steps = [t.intermediate_values[s] for s in sorted(t.intermediate_values)][:n_steps]
            row: list[Any] = [t.number, t.state.name, _cell(t.value), _cell(duration(t))]
            row += [_cell(t.params.get(p)) for p in params]
            row += [_cell(s) for s in scores] + [""] * (n_folds - len(scores))
            row += [_cell(s) for s in steps] + [""] * (n_steps - len(steps))
            row += [_cell(t.user_attrs.get("train_score")), _cell(overfit_gap(t, direction))]
            row += [t.user_attrs.get("error", "")]
            writer.writerow(row)
    os.replace(tmp, path)


def _cell(value: Any) -> Any:
    return "" if value is None else value
