"""The files under ``RESULTS/NAME/`` that people read: study.json, trials.csv, best.json.

``trials.csv`` and ``best.json`` are views of the study store, rewritten atomically (write a
temporary file, then rename) at most once per ``interval`` seconds while trials finish, and once
more at the end; the store stays the source of truth, so a crash loses no trial.
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.core._folder import BEST_JSON, TRIALS_CSV, replacing, write_json
from search.core._goals import Goals
from search.core._observers import RunObserver, TrialsFn
from search.core._pareto import chosen, named_values, pareto_front
from search.core._trials import (
    WARM,
    best_trial,
    duration,
    own,
    spread,
    trial_config,
    user_attrs,
)
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
from search.watching._trial_history import pbt_place

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

    from spaces import Space

def best_record(
    trial: FrozenTrial,
    trials: Sequence[FrozenTrial],
    space: Space,
    goals: Goals,
    prefer: Preference | None = None,
) -> dict[str, Any]:
    """``best.json`` of one objective: the best trial, the configs tied with it, the one to
    evaluate."""
    scores = fold_scores(trial)
    trials = own(trials)
    record: dict[str, Any] = {
        "number": trial.number,
        "value": trial.value,
        "params": dict(trial.params),
        "config": trial_config(space, trial.params),
        "validation_scores": scores,
        "spread": spread(scores) if scores else spread([float(trial.value or 0.0)]),
        "interval_95": corrected_interval(scores),
        "duration_s": duration(trial),
    }
    record["ties"] = _ties(trial, trials, space)
    chosen_trial = selected_trial(trial, trials, lambda t: trial_config(space, t.params), prefer)
    rule = "best validation value"
    if prefer is not None:
        tied = len(record["ties"]["tied"])
        rule = f"prefer {prefer} among the best and {tied} tied configs"
    record["selected"] = {
        "number": chosen_trial.number,
        "value": chosen_trial.value,
        "config": trial_config(space, chosen_trial.params),
        "rule": rule,
    }
    return record


def pareto_record(
    trials: Sequence[FrozenTrial], space: Space, goals: Goals
) -> dict[str, Any] | None:
    """``best.json`` of several objectives: the Pareto front and the point the final evaluation
    uses (``None`` before a feasible trial completed)."""
    picked = chosen(trials, goals)
    if picked is None:
        return None
    trial, rule = picked

    def point(t: FrozenTrial) -> dict[str, Any]:
        return {
            "number": t.number,
            "values": named_values(t, goals),
            "params": dict(t.params),
            "config": trial_config(space, t.params),
            "duration_s": duration(t),
        }

    selected = {**point(trial), "rule": rule}
    front = [point(t) for t in pareto_front(trials, goals)]
    return {
        "objectives": dict(goals.directions),
        "constraints": [str(c) for c in goals.constraints],
        "number": trial.number,
        "values": selected["values"],
        "params": selected["params"],
        "config": selected["config"],
        "pareto": front,
        "selected": selected,
    }


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
                "config": trial_config(space, by_number[tie.number].params),
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
        goals: Goals,
        interval: float = 1.0,
        prefer: Preference | None = None,
    ):
        self.directory = directory
        self.space = space
        self.goals = goals
        self.interval = interval
        self.prefer = prefer
        self._last = -math.inf
        self._wait = interval
        self._rows = RowCache()

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
        write_trials_csv(self.directory / TRIALS_CSV, trials, self.space, self.goals, self._rows)
        record = best_of(trials, self.space, self.goals, self.prefer)
        if record is not None:
            write_json(self.directory / BEST_JSON, record)
        self._last = time.monotonic()
        self._wait = max(self.interval, (self._last - start) / self.BUDGET)


def best_of(
    trials: Sequence[FrozenTrial], space: Space, goals: Goals, prefer: Preference | None = None
) -> dict[str, Any] | None:
    """What ``best.json`` holds now, or ``None`` before a trial it could name completed."""
    if goals.multi or goals.pick is not None:
        return pareto_record(trials, space, goals)
    best = best_trial(trials, goals.direction)
    return None if best is None else best_record(best, trials, space, goals, prefer)


def overfit_gap(trial: FrozenTrial, direction: str) -> float | None:
    """Training minus validation score, signed so that positive means memorising."""
    train = trial.user_attrs.get("train_score")
    if train is None or not trial.values:
        return None
    gap = float(train) - float(trial.values[0])
    return gap if direction == "maximize" else -gap


def write_trials_csv(
    path: Path,
    trials: Sequence[FrozenTrial],
    space: Space,
    goals: Goals,
    kept: RowCache | None = None,
) -> None:
    """One row a trial: number, state, value (one column an objective), duration, parameters
    (declared ones first, then those the objective suggested itself), fold or step scores, the
    training score and the overfitting gap (positive: training beats validation), the error;
    ``feasible`` with constraints, ``warm_start`` for trials taken from another study,
    ``pbt_member`` and ``pbt_segment`` for a Population Based Training study; then
    one ``user_attrs_<key>`` column an attribute the user's code set (values that are not
    text or numbers as JSON). ``kept`` holds the rows of the last rewrite (see
    :class:`RowCache`)."""
    shown = list(trials)
    kept = kept if kept is not None else RowCache()
    facts = [kept.facts(t) for t in shown]
    n_folds = max((f.folds for f in facts), default=0)
    n_steps = 0 if n_folds else max((f.steps for f in facts), default=0)
    declared = space.paths()
    params = declared + sorted({p for f in facts for p in f.params} - set(declared))
    values = [f"value_{name}" for name in goals.names] if goals.multi else ["value"]
    pbt = any(f.pbt for f in facts)
    extra = (["feasible"] if goals.constraints else []) + (
        ["warm_start"] if any(f.warm for f in facts) else []
    ) + (["pbt_member", "pbt_segment"] if pbt else [])
    header = ["number", "state", *values, "duration_s", *(f"params_{p}" for p in params)]
    header += [f"fold_{i}" for i in range(n_folds)] + [f"step_{i}" for i in range(n_steps)]
    attrs = sorted({k for f in facts for k in f.attrs})
    header += ["train_score", "overfit_gap", "error", *extra, *(f"user_attrs_{k}" for k in attrs)]

    def row(t: FrozenTrial) -> list[Any]:
        cells = _row(t, goals, params, n_folds, n_steps)
        if goals.constraints:
            cells.append(_cell(_feasible(t)))
        if "warm_start" in extra:
            cells.append(t.user_attrs.get("warm_start", ""))
        if pbt:
            place = pbt_place(t) or {}
            cells += [_cell(place.get("member")), _cell(place.get("segment"))]
        return cells + [_attr_cell(t.user_attrs.get(k)) for k in attrs]

    kept.columns(header)
    with replacing(path, newline="") as f:
        csv.writer(f).writerow(header)
        f.write("".join(kept.line(t, row) for t in shown))


@dataclass(frozen=True)
class _Facts:
    """What a trial adds to the columns of ``trials.csv``."""

    folds: int
    steps: int
    params: tuple[str, ...]
    attrs: tuple[str, ...]
    pbt: bool
    warm: bool


class RowCache:
    """The rows of ``trials.csv`` as written at the last rewrite, each kept while its trial is
    the same object (the store replaces a trial it changes) and the columns are the same: a
    study of 100,000 trials is rewritten without making its finished trials' rows again."""

    def __init__(self) -> None:
        self._facts: dict[int, tuple[FrozenTrial, _Facts]] = {}
        self._lines: dict[int, tuple[FrozenTrial, str]] = {}
        self._header: list[str] | None = None
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer)

    def facts(self, t: FrozenTrial) -> _Facts:
        kept = self._facts.get(t.number)
        if kept is not None and kept[0] is t:
            return kept[1]
        found = _Facts(len(fold_scores(t)), len(t.intermediate_values), tuple(t.params),
                       tuple(user_attrs(t)), bool(pbt_place(t)), WARM in t.system_attrs)
        self._facts[t.number] = (t, found)
        return found

    def columns(self, header: list[str]) -> None:
        """Forget the rows made for other columns."""
        if header != self._header:
            self._header = header
            self._lines = {}

    def line(self, t: FrozenTrial, row: Callable[[FrozenTrial], list[Any]]) -> str:
        """``t``'s row as CSV text: kept, or made by ``row``."""
        kept = self._lines.get(t.number)
        if kept is not None and kept[0] is t:
            return kept[1]
        self._writer.writerow(row(t))
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        self._lines[t.number] = (t, text)
        return text


def _row(t: FrozenTrial, goals: Goals, params: list[str], n_folds: int, n_steps: int) -> list[Any]:
    scores = fold_scores(t)
    steps = [t.intermediate_values[s] for s in sorted(t.intermediate_values)][:n_steps]
    values = t.values if goals.multi else [t.value]
    row: list[Any] = [t.number, t.state.name]
    row += [_cell(v) for v in values] if values else [""] * len(goals.names)
    row += [_cell(duration(t)), *(_cell(t.params.get(p)) for p in params)]
    row += [_cell(s) for s in scores] + [""] * (n_folds - len(scores))
    row += [_cell(s) for s in steps] + [""] * (n_steps - len(steps))
    row += [_cell(t.user_attrs.get("train_score")), _cell(overfit_gap(t, goals.direction))]
    row += [t.user_attrs.get("error", "")]
    return row


def _feasible(trial: FrozenTrial) -> bool | None:
    if trial.state.name != "COMPLETE":
        return None
    return all(v <= 0 for v in trial.constraints.values())


def _cell(value: Any) -> Any:
    return "" if value is None else value


def _attr_cell(value: Any) -> Any:
    """A user attribute in a cell: text and numbers as they are, anything else as JSON."""
    import json

    if value is None or isinstance(value, str | int | float | bool):
        return _cell(value)
    return json.dumps(value, separators=(",", ":"), default=str)
