"""Per-trial overhead of `python -m search` against raw in-memory Optuna, same sampler.

Both run as fresh processes with the same cheap objective (Branin), the same sampler and seed;
ours persists every trial to the journal store, writes trials.csv and best.json as trials
finish, and report.html (and MLflow runs, unless --no-tracking) at the end. Two figures:

- search phase: from the first trial's start to the last trial's end (ours: read back from the
  store; raw: the time of `study.optimize`): the per-trial overhead the target is about;
- whole command: wall time of the process, imports, report and tracking included.

Each is the median over --repeats runs, alternating the order of ours and raw; the ratio of the
fastest runs is printed too (on a shared 2-core machine single runs vary by ±20 %).

    .venv/bin/python benchmarks/overhead.py [--trials 1000] [--repeats 3] [--sampler tpe]
        [--no-tracking]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def search_tree() -> Path:
    """The tree whose ``search`` this script imports (``PYTHONPATH`` may name another): the
    commands run there, as ``python -m search`` puts its working folder first on the path."""
    import search

    return Path(search.__file__).resolve().parents[1]


RAW = """
import math, sys, time, optuna
optuna.logging.set_verbosity(optuna.logging.WARNING)
def branin(trial):
    x1 = trial.suggest_float("x1", -5, 10); x2 = trial.suggest_float("x2", 0, 15)
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10
sampler = {"tpe": optuna.samplers.TPESampler, "random": optuna.samplers.RandomSampler}[sys.argv[2]]
study = optuna.create_study(sampler=sampler(seed=0), direction="minimize")
start = time.perf_counter()
study.optimize(branin, n_trials=int(sys.argv[1]))
print(time.perf_counter() - start)
"""


def run_raw(trials: int, sampler: str) -> tuple[float, float]:
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", RAW, str(trials), sampler], check=True,
                         capture_output=True, text=True).stdout
    return time.perf_counter() - start, float(out.strip().splitlines()[-1])


def run_ours(trials: int, sampler: str, tracking: bool) -> tuple[float, float]:
    """``python -m search`` on the cheap study: whole command and search phase, seconds."""
    timed = time_ours(trials, sampler, tracking)
    return timed["whole"], timed["search"]


def time_ours(trials: int, sampler: str, tracking: bool) -> dict[str, float]:
    """``python -m search`` on the cheap study, timed whole and split at the first trial's
    start and the last trial's end (read from the store): before / search / after."""
    from datetime import datetime

    import optuna

    from search.core._store import read_store

    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "search", str(HERE / "cheap_study.py"), "--trials",
               str(trials), "--sampler", sampler, "--results", tmp,
               *([] if tracking else ["--no-tracking"])]
        launched = datetime.now()
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       cwd=search_tree())
        whole = time.perf_counter() - start
        storage = read_store(Path(tmp) / "cheap" / "study.journal")
        done = optuna.load_study(study_name="cheap", storage=storage).trials
        first = min(t.datetime_start for t in done if t.datetime_start)
        last = max(t.datetime_complete for t in done if t.datetime_complete)
        before = (first - launched).total_seconds()
        search = (last - first).total_seconds()
        return {"whole": whole, "search": search, "before": before,
                "after": whole - before - search}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sampler", default="tpe", choices=("tpe", "random"))
    parser.add_argument("--no-tracking", action="store_true",
                        help="run ours with --no-tracking (no MLflow)")
    args = parser.parse_args()
    raw, ours = [], []
    for i in range(args.repeats):
        pair = [lambda: raw.append(run_raw(args.trials, args.sampler)),
                lambda: ours.append(run_ours(args.trials, args.sampler, not args.no_tracking))]
        for run in pair if i % 2 == 0 else reversed(pair):
            run()
    tracking = "off" if args.no_tracking else "on (embedded MLflow store)"
    print(f"trials={args.trials} sampler={args.sampler} repeats={args.repeats} "
          f"tracking={tracking}")
    for label, index in (("search phase", 1), ("whole command", 0)):
        r = statistics.median(x[index] for x in raw)
        o = statistics.median(x[index] for x in ours)
        best = min(x[index] for x in ours) / min(x[index] for x in raw)
        print(f"{label:>13}: raw {r:6.2f} s  ours {o:6.2f} s  ratio {o / r:.3f} of medians, "
              f"{best:.3f} of fastest runs  (raw runs {[round(x[index], 2) for x in raw]}, "
              f"ours {[round(x[index], 2) for x in ours]})")


if __name__ == "__main__":
    main()
