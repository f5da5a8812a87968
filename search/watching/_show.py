"""``python -m search show RESULTS/NAME``: leaderboard and best trial in the terminal.

It reads ``study.json``, ``trials.csv``, ``best.json`` and ``final.json`` and writes nothing; a
results file that is corrupt is a one-line :class:`UserError` naming it (exit 2), before any
output.
"""

from __future__ import annotations

import csv
import heapq
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from search.core._auto import sampler_label
from search.core._errors import UserError
from search.core._folder import (
    BEST_JSON,
    FINAL_JSON,
    STUDY_JSON,
    TRIALS_CSV,
    read_record,
    unscored_final,
)
from search.core._journal_check import check_journal
from search.core._record import has_test_set
from search.core._strategies import strategy_label

TOP = 10


def show(directory: Path) -> int:
    """Print the study's state counts, its top trials and its best trial."""
    from rich.console import Console

    if not (directory / STUDY_JSON).is_file():
        raise UserError(f"{directory}: not a study folder (no {STUDY_JSON})")
    record = read_record(directory / STUDY_JSON)
    check_journal(directory, record)  # a truncated or edited journal: exit 2 naming it
    best = _optional_record(directory / BEST_JSON)
    final = _optional_record(directory / FINAL_JSON)
    rows = _read_rows(directory / TRIALS_CSV, record.get("direction") == "maximize")
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    console.print(_heading(record, rows.states))
    if record.get("directions"):
        console.print(_pareto_table(record, best))
    else:
        console.print(_leaderboard(rows, best))
        if best is not None:
            _print_best(console, best)
    _print_outcomes(console, record)
    _print_final(console, final, has_test_set(record), directory)
    return 0


def _heading(record: dict[str, Any], states: dict[str, int]) -> str:
    counts = ", ".join(f"{n} {s}" for s, n in sorted(states.items())) or "no trials"
    return (
        f"[bold]{record['name']}[/]  metric {record['metric'] or '-'} ({record['direction']}), "
        f"sampler {sampler_label(record['sampler'])}, pruner {strategy_label(record['pruner'])}, seed {record['seed']}: {counts}"
    )


def _leaderboard(rows: _Rows, best: dict[str, Any] | None) -> Any:
    """The top complete trials: ``*`` the best, ``=`` tied with it."""
    from rich.table import Table

    done = rows.top
    params = [c for c in rows.columns if c.startswith("params_")]
    tied = {t["number"] for t in best["ties"]["tied"]} if best and best.get("ties") else set()
    has_train = rows.has_train
    table = Table(
        title=f"top {len(done)} of {rows.complete} complete trials (= tied with the best)"
    )
    columns = ["#", "value", *(["train", "overfit gap"] if has_train else []), "duration_s"]
    for column in [*columns, *[_short(p[len("params_") :]) for p in params]]:
        table.add_column(column, justify="right" if column != "#" else "left")
    for row in done:
        mark = "=" if int(row["number"]) in tied else " "
        if best and int(row["number"]) == best["number"]:
            mark = "*"
        train = [_fmt(row["train_score"]), _fmt(row["overfit_gap"])] if has_train else []
        table.add_row(
            f"{mark}{row['number']}",
            _fmt(row["value"]),
            *train,
            _fmt(row["duration_s"]),
            *[_fmt(row[p]) for p in params],
        )
    return table


def _pareto_table(record: dict[str, Any], best: dict[str, Any] | None) -> Any:
    """The Pareto front of a study with several objectives: ``*`` the point evaluated."""
    from rich.table import Table

    directions = record["directions"]
    front = (best or {}).get("pareto") or []
    selected = (best or {}).get("selected") or {}
    rule = f"; * {selected['rule']}" if selected else ""
    table = Table(title=f"Pareto front: {len(front)} configs{rule}")
    table.add_column("#", justify="left")
    for name, direction in directions.items():
        table.add_column(f"{name} ({direction[:3]})", justify="right")
    table.add_column("config", justify="left")
    for point in front:
        mark = "*" if point["number"] == selected.get("number") else " "
        values = [_fmt(point["values"].get(name)) for name in directions]
        table.add_row(f"{mark}{point['number']}", *values, str(point["config"]))
    return table


def _print_best(console: Any, best: dict[str, Any]) -> None:
    spread = best.get("spread") or {}
    interval = best.get("interval_95")
    console.print(
        f"best: trial {best['number']} value {_fmt(best['value'])}"
        + (f" ± {_fmt(spread['std'])} over {spread['n']} folds" if spread.get("n", 0) > 1 else "")
        + (f", 95% CI [{_fmt(interval[0])}, {_fmt(interval[1])}]" if interval else "")
        + f"  config {best['config']}"
    )
    _print_ties(console, best)


def _print_ties(console: Any, best: dict[str, Any]) -> None:
    ties = best.get("ties") or {}
    if ties.get("note"):
        console.print(f"ties: {ties['note']}")
    elif ties:
        numbers = ", ".join(f"#{t['number']}" for t in ties["tied"][:10])
        more = f" (+{len(ties['tied']) - 10})" if len(ties["tied"]) > 10 else ""
        console.print(
            f"ties: {len(ties['tied'])} of {ties['compared']} other configs are statistically "
            f"tied with the best (alpha {ties['alpha']}, {ties['method']})"
            + (f": {numbers}{more}" if numbers else "")
        )
    selected = best.get("selected")
    if selected and selected["number"] != best["number"]:
        console.print(
            f"selected for the final evaluation: trial {selected['number']} "
            f"({selected['rule']})  config {selected['config']}"
        )


def _print_outcomes(console: Any, record: dict[str, Any]) -> None:
    """The nested cross-validation estimate and an early stop, when the study has them."""
    nested = record.get("nested")
    if nested:
        console.print(
            f"nested: {nested['k']}-fold estimate of the tuned pipeline "
            f"{_fmt(nested['outer_mean'])} ± {_fmt(nested['outer_std'])} (inner best mean "
            f"{_fmt(nested['inner_best_mean'])}, optimism {_fmt(nested['optimism'])})"
        )
    if record.get("stopped_early"):
        stop = record["stopped_early"]
        console.print(
            f"stopped early after {stop['trials']} complete trials: regret bound "
            f"{_fmt(stop['regret_bound'])} <= CV noise {_fmt(stop['cv_error'])}"
        )


def _print_final(
    console: Any, final: dict[str, Any] | None, has_test: bool, directory: Path
) -> None:
    if final is None:
        console.print("final: the test set is still sealed" if has_test else
                      "final: no test set (the study has no data)")
        return
    unscored = unscored_final(final, directory)
    if unscored is not None:
        console.print(f"final: the test set was {unscored}")
        return
    console.print(
        f"final: test {final['metric']} {_fmt(final['test_value'])} "
        f"(validation {_fmt(final['validation_value'])}), trial {final['trial']}, "
        f"opened {final['opened_at']}"
    )
    if final.get("completed"):
        console.print(f"final: completed {final['completed']}")
    if final.get("test_values"):
        validation = final.get("validation_values") or {}
        shown = ", ".join(
            f"{name} {_fmt(value)} (validation {_fmt(validation.get(name))})"
            for name, value in final["test_values"].items()
        )
        console.print(f"final: on the test set: {shown}; chosen by {final['selected_by']}")
    gap = final.get("generalization_gap") or {}
    if gap:
        noise = gap.get("expected_noise")
        console.print(
            f"gap: validation - test {_fmt(gap['gap'])}"
            + (f" (expected noise ± {_fmt(noise)})" if noise else "")
            + f": {gap['note']}"
        )


def _optional_record(path: Path) -> dict[str, Any] | None:
    return read_record(path) if path.is_file() else None


def _short(path: str) -> str:
    """``model.svm.C`` -> ``svm.C``: the option and the name, enough to tell columns apart."""
    return ".".join(path.split(".")[-2:])


@dataclass
class _Rows:
    """What ``show`` needs of ``trials.csv``: its columns, the trials by state, the number of
    complete ones and the best :data:`TOP` of them, best first (lowest number on ties)."""

    columns: list[str] = field(default_factory=list)
    states: dict[str, int] = field(default_factory=dict)
    complete: int = 0
    top: list[dict[str, str]] = field(default_factory=list)
    has_train: bool = False  # whether a complete trial has a training score


def _read_rows(path: Path, maximize: bool) -> _Rows:
    """Read ``trials.csv`` once, keeping only the best rows: 100,000 trials take a moment."""
    found = _Rows()
    if not path.is_file():
        return found
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        found.columns = next(reader, [])
        at = {name: i for i, name in enumerate(found.columns)}
        state, value, train = at.get("state"), at.get("value"), at.get("train_score")
        sign = -1.0 if maximize else 1.0
        kept: list[tuple[float, int, list[str]]] = []  # (-(sign * value), -row), the worst first
        for n, row in enumerate(reader):
            if state is None or state >= len(row):
                continue
            found.states[row[state]] = found.states.get(row[state], 0) + 1
            if row[state] != "COMPLETE" or value is None or len(row) != len(found.columns) \
                    or row[value] == "":
                continue
            found.complete += 1
            found.has_train = found.has_train or (train is not None and row[train] != "")
            item = (-sign * float(row[value]), -n, row)
            if len(kept) < TOP:
                heapq.heappush(kept, item)
            elif item[:2] > kept[0][:2]:
                heapq.heapreplace(kept, item)
    found.top = [dict(zip(found.columns, row, strict=True)) for *_, row in sorted(kept, reverse=True)]
    return found


def _fmt(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return f"{number:.6g}"
