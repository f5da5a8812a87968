"""Helpers of the Ray benchmarks: run a command, read trial times from a study's store.

A trial's cost "after start-up" is the steady-state time between trial completions, from
the completion that ends the first fifth of the trials to the last, which leaves out Ray's
start and the start-up of every worker process. Wall time is the whole command, start-up included.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def machine() -> str:
    """One line on where the figures come from."""
    load = os.getloadavg()
    return (
        f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, load average at start {load[0]:.2f}, "
        f"{datetime.now().isoformat(timespec='minutes')}"
    )


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    """Run ``cmd`` quietly; return its wall seconds (raise if it failed)."""
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


def search(study: Path, results: Path, *flags: str) -> float:
    """``python -m search STUDY --results RESULTS --no-tracking --no-final FLAGS``; wall s."""
    cmd = [sys.executable, "-m", "search", str(study), "--results", str(results)]
    return run([*cmd, "--no-tracking", "--no-final", *flags], cwd=ROOT)


def completions(folder: Path) -> list[float]:
    """Completion times (epoch seconds) of the finished trials in a study's store, sorted."""
    import optuna

    sys.path.insert(0, str(ROOT))
    from search.core._store import read_store

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = read_store(folder / "study.journal")
    name = storage.get_all_studies()[0].study_name
    trials = optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)
    return sorted(t.datetime_complete.timestamp() for t in trials if t.datetime_complete)


def after_startup(times: list[float], workers: int) -> tuple[int, float]:
    """Trials completed after start-up and the time they took: from the completion that
    ends the first fifth of the trials (every worker has started by then; a whole round of
    ``workers`` completions, so that a round is not split) to the last completion."""
    times = sorted(times)
    first = workers * max(1, len(times) // (5 * workers)) - 1
    return len(times) - 1 - first, times[-1] - times[first]


def steady(times: list[float], workers: int = 2) -> float:
    """Seconds per trial after start-up (see :func:`after_startup`)."""
    count, seconds = after_startup(times, workers)
    return seconds / count


def summary(values: list[float], unit: str = "s", digits: int = 3) -> str:
    """Median and the spread (min-max) of repeated measurements."""
    med = statistics.median(values)
    shown = ", ".join(f"{v:.{digits}f}" for v in values)
    return f"median {med:.{digits}f} {unit} (runs {shown})"
