"""The files under ``RESULTS/NAME/`` that people read: study.json, trials.csv, best.json.

``trials.csv`` and ``best.json`` are views of the study store, rewritten atomically (write a
temporary file, then rename) at most once per ``interval`` seconds while trials finish, and once
more at the end; the store stays the source of truth, so a crash loses no trial.
"""

from __future__ import annotations

import csv
import json
import math
import os
import statistics
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search._observers import RunObserver, TrialsFn
from search._ties import ALPHA as TIE_ALPHA
from search._ties import METHOD as TIE_METHOD
from search._ties import Preference, corrected_interval, tied_with

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

    from spaces import Space

STUDY_JSON = "study.json"
TRIALS_CSV = "trials.csv"
BEST_JSON = "best.json"
FINAL_JSON = "final.json"
MODEL_DIR = "model"
ABANDONED = "search:abandoned"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_json(path: Path, payload: Any) -> None:
    """Write ``payload`` as JSON atomically."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=_jsonable) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def state_name(trial: FrozenTrial) -> str:
    return trial.state.name


def counts_toward_budget(trial: FrozenTrial) -> bool:
    """Every trial counts except those a crash abandoned: their slots run again."""
    return ABANDONED not in trial.system_attrs


def fold_scores(trial: FrozenTrial) -> list[float]:
    scores = trial.user_attrs.get("fold_scores")
    return [float(s) for s in scores] if isinstance(scores, list) else []


def best_trial(trials: Sequence[FrozenTrial], direction: str) -> FrozenTrial | None:
    """The COMPLETE trial with the best value (lowest number on ties), or ``None``."""
    done = [t for t in trials if t.state.name == "COMPLETE" and t.value is not None]
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
        "duration_s": _duration(trial),
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
    others = [
        (t.number, float(t.value), fold_scores(t))
        for t in trials
        if t.state.name == "COMPLETE" and t.value is not None and t.number != best.number
    ]
    comparable = [o for o in others if len(o[2]) == len(scores)]
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


def selected_trial(
    best: FrozenTrial,
    trials: Sequence[FrozenTrial],
    space: Space,
    prefer: Preference | None,
) -> FrozenTrial:
    """The trial the final evaluation uses: the best, or the preferred among the tied."""
    if prefer is None:
        return best
    scores = fold_scores(best)
    by_number = {t.number: t for t in trials}
    comparable = [
        (t.number, float(t.value), fold_scores(t))
        for t in trials
        if t.state.name == "COMPLETE" and t.value is not None and t.number != best.number
    ]
    candidates = [best] + [by_number[tie.number] for tie in tied_with(scores, comparable)]
    return min(
        candidates,
        key=lambda t: (*prefer.key(space.config_from_params(t.params)), t.number != best.number),
    )


def _duration(trial: FrozenTrial) -> float | None:
    if trial.datetime_start is None or trial.datetime_complete is None:
        return None
    return round((trial.datetime_complete - trial.datetime_start).total_seconds(), 4)


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
            row: list[Any] = [t.number, t.state.name, _cell(t.value), _cell(_duration(t))]
            row += [_cell(t.params.get(p)) for p in params]
            row += [_cell(s) for s in scores] + [""] * (n_folds - len(scores))
            row += [_cell(s) for s in steps] + [""] * (n_steps - len(steps))
            row += [_cell(t.user_attrs.get("train_score")), _cell(overfit_gap(t, direction))]
            row += [t.user_attrs.get("error", "")]
            writer.writerow(row)
    os.replace(tmp, path)


def _cell(value: Any) -> Any:
    return "" if value is None else value
