"""The progress bar a terminal shows: at 80 columns it keeps done/total, the best and the ETA."""

from __future__ import annotations

import io
import re
from types import SimpleNamespace

import optuna
import pytest
from rich.console import Console

from search.core._goals import Goals
from search.watching._live import LiveProgress


def rendered(width: int, finished: int = 150, total: int = 300) -> str:
    """The bar's line after ``finished`` trials, as a terminal ``width`` columns wide shows it."""
    live = LiveProgress(console=Console(width=width, file=io.StringIO(), color_system=None))
    study = SimpleNamespace(name="branin_with_a_long_name", trials=total, workers=2)
    parts = SimpleNamespace(direction="minimize", goals=Goals({"value": "minimize"}))
    live.search_started(SimpleNamespace(prep=SimpleNamespace(study=study, parts=parts),
                                        trials_done=0), [])  # fmt: skip
    for number in range(finished):
        trial = optuna.trial.create_trial(value=0.123456 + 1 / (number + 1), params={},
                                          distributions={})  # fmt: skip
        trial.number = number
        live.trial_finished(trial, lambda: [])
    live._progress.stop()
    out = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    out.print(live._progress.make_tasks_table(live._progress.tasks))
    return out.export_text()


@pytest.mark.parametrize("width", [80, 100, 160])
def test_the_bar_keeps_count_best_and_eta_at_any_width(width):
    text = rendered(width)
    line = text.rstrip("\n")
    assert "\n" not in line and len(line) <= width
    assert "150/300" in line and "best 0.130123 #149" in line
    assert re.search(r"\d+:\d\d ETA \d+:\d\d", line), line
    if width >= 100:
        assert "0 pruned 0 failed" in line
