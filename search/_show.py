"""``python -m search show RESULTS/NAME``: leaderboard and best trial in the terminal."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from search._errors import UserError
from search._results import BEST_JSON, FINAL_JSON, STUDY_JSON, TRIALS_CSV, read_json

TOP = 10


def show(directory: Path) -> int:
    """Print the study's state counts, its top trials and its best trial."""
    from rich.console import Console
    from rich.table import Table

    if not (directory / STUDY_JSON).is_file():
        raise UserError(f"{directory}: not a study folder (no {STUDY_JSON})")
    record = read_json(directory / STUDY_JSON)
    rows = _read_rows(directory / TRIALS_CSV)
    console = Console(highlight=False)
    states: dict[str, int] = {}
    for row in rows:
        states[row["state"]] = states.get(row["state"], 0) + 1
    counts = ", ".join(f"{n} {s}" for s, n in sorted(states.items())) or "no trials"
    console.print(
        f"[bold]{record['name']}[/]  metric {record['metric'] or '-'} ({record['direction']}), "
        f"sampler {record['sampler']}, pruner {record['pruner']}, seed {record['seed']}: {counts}"
    )
    done = [r for r in rows if r["state"] == "COMPLETE" and r["value"] != ""]
    done.sort(key=lambda r: float(r["value"]), reverse=record["direction"] == "maximize")
    params = [c for c in (rows[0].keys() if rows else []) if c.startswith("params_")]
    table = Table(title=f"top {min(TOP, len(done))} of {len(done)} complete trials")
    for column in ["#", "value", "duration_s", *[p[len("params_") :] for p in params]]:
        table.add_column(column, justify="right" if column != "#" else "left")
    for row in done[:TOP]:
        table.add_row(
            row["number"],
            _fmt(row["value"]),
            _fmt(row["duration_s"]),
            *[_fmt(row[p]) for p in params],
        )
    console.print(table)
    if (directory / BEST_JSON).is_file():
        best = read_json(directory / BEST_JSON)
        spread = best.get("spread") or {}
        console.print(
            f"best: trial {best['number']} value {_fmt(best['value'])}"
            + (
                f" ± {_fmt(spread['std'])} over {spread['n']} folds"
                if spread.get("n", 0) > 1
                else ""
            )
            + f"  config {best['config']}"
        )
    if (directory / FINAL_JSON).is_file():
        final = read_json(directory / FINAL_JSON)
        if final.get("status") == "evaluated":
            console.print(
                f"final: test {final['metric']} {_fmt(final['test_value'])} "
                f"(validation {_fmt(final['validation_value'])}), trial {final['trial']}, "
                f"opened {final['opened_at']}"
            )
        else:
            console.print(
                f"final: the test set was opened at {final.get('opened_at')} "
                "but no result was recorded"
            )
    else:
        console.print("final: the test set is still sealed")
    return 0


def _read_rows(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _fmt(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return f"{number:.6g}"
