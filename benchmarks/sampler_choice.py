"""The default sampler (``auto``) against Optuna's TPE, GP and random, through ``python -m search``.

Every run is a fresh ``python -m search STUDY --no-tracking`` over a function with a known
optimum; the default arm passes no ``--sampler``. For each arm: the median regret (best found
minus the optimum) over the seeds, and the median search time read back from the store (first
trial's start to the last trial's end: sampling plus the engine, the functions cost nothing).

Problems (``--problems``): ``branin`` and ``hartmann6`` (100 trials), ``conditional`` (a branch
between a shifted 2-d Branin and a 3-d quadratic, 100 trials), ``sphere20`` (a shifted 20-d
sphere, 100 trials), ``branin1000`` and ``hartmann6_1000`` (1000 trials; the GP arm is left out there, its
cost per trial grows with the trials so far; and from ``conditional``, where one run took 118 s
of search against TPE's 5 s, on a loaded machine).

    .venv/bin/python benchmarks/sampler_choice.py [--seeds 5] [--problems branin hartmann6]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from overhead import search_tree  # this folder's: the tree PYTHONPATH selects

FUNCTIONS = '''
import math
import numpy as np

def branin(x1, x2):
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10

A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8],
              [17, 8, 0.05, 10, 0.1, 14]])
P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                     [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])
ALPHA = np.array([1.0, 1.2, 3.0, 3.2])

def hartmann6(config):
    x = np.array([config[f"x{i}"] for i in range(6)])
    return float(-np.sum(ALPHA * np.exp(-np.sum(A * (x - P) ** 2, axis=1))))
'''

PROBLEMS: dict[str, dict[str, object]] = {
    "branin": {
        "space": 'Space({"x1": Float(-5, 10), "x2": Float(0, 15)})',
        "objective": "lambda c: branin(c['x1'], c['x2'])",
        "optimum": 0.397887, "trials": 100, "arms": ("auto", "tpe", "gp", "random"),
    },
    "hartmann6": {
        "space": 'Space({f"x{i}": Float(0, 1) for i in range(6)})',
        "objective": "hartmann6", "optimum": -3.32237, "trials": 100,
        "arms": ("auto", "tpe", "gp", "random"),
    },
    "conditional": {
        "space": ('Space({"kind": Categorical({"branin": {"x1": Float(-5, 10), '
                  '"x2": Float(0, 15)}, "bowl": {"y0": Float(-3, 3), "y1": Float(-3, 3), '
                  '"y2": Float(-3, 3)}})})'),
        "objective": ("lambda c: branin(c['x1'], c['x2']) - 0.397887 if c['kind'] == 'branin' "
                      "else 0.5 + (c['y0'] - 1) ** 2 + (c['y1'] + 1) ** 2 + c['y2'] ** 2"),
        "optimum": 0.0, "trials": 100, "arms": ("auto", "tpe"),  # GP: see RESULTS.md
    },
    "sphere20": {
        "space": 'Space({f"x{i}": Float(-5, 5) for i in range(20)})',
        "objective": "lambda c: sum((c[f'x{i}'] - 0.1 * i) ** 2 for i in range(20))",
        "optimum": 0.0, "trials": 100, "arms": ("auto", "tpe", "gp"),
    },
    "branin1000": {
        "space": 'Space({"x1": Float(-5, 10), "x2": Float(0, 15)})',
        "objective": "lambda c: branin(c['x1'], c['x2'])",
        "optimum": 0.397887, "trials": 1000, "arms": ("auto", "tpe"),
    },
    "hartmann6_1000": {
        "space": 'Space({f"x{i}": Float(0, 1) for i in range(6)})',
        "objective": "hartmann6", "optimum": -3.32237, "trials": 1000, "arms": ("auto", "tpe"),
    },
}

STUDY = '''
from search import Study
from spaces import Categorical, Float, Space
{functions}
study = Study(name="bench", space={space}, objective={objective}, direction="minimize",
              trials={trials}, pruner="none")
'''


def run_arm(study_file: Path, arm: str, seed: int, trials: int) -> tuple[float, float]:
    """One run: (best value, search seconds read back from the store)."""
    import optuna

    from search.core._store import read_store

    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "search", str(study_file), "--results", tmp, "--seed",
               str(seed), "--trials", str(trials), "--no-tracking",
               *([] if arm == "auto" else ["--sampler", arm])]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=search_tree())
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr.strip()[-400:]}")
        best = json.loads((Path(tmp) / "bench" / "best.json").read_text())["value"]
        storage = read_store(Path(tmp) / "bench" / "study.journal")
        trials_ = optuna.load_study(study_name="bench", storage=storage).trials
        first = min(t.datetime_start for t in trials_ if t.datetime_start)
        last = max(t.datetime_complete for t in trials_ if t.datetime_complete)
        return float(best), (last - first).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=list(PROBLEMS))
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}; PYTHONPATH={os.environ.get('PYTHONPATH')}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.problems:
            problem = PROBLEMS[name]
            path = Path(tmp) / f"{name}.py"
            path.write_text(STUDY.format(functions=FUNCTIONS, **problem))
            arms: tuple[str, ...] = problem["arms"]  # type: ignore[assignment]
            found: dict[str, list[tuple[float, float]]] = {arm: [] for arm in arms}
            start = time.perf_counter()
            for seed in range(args.seeds):
                for arm in arms if seed % 2 == 0 else tuple(reversed(arms)):
                    found[arm].append(run_arm(path, arm, seed, int(problem["trials"])))  # type: ignore[call-overload]
            print(f"\n{name}: {problem['trials']} trials, {args.seeds} seeds, "
                  f"{time.perf_counter() - start:.0f} s, load average {os.getloadavg()[0]:.2f}")
            print("arm      median regret  (per seed)                          median search s")
            for arm, runs in found.items():
                regrets = [value - float(problem["optimum"]) for value, _ in runs]  # type: ignore[arg-type]
                shown = ", ".join(f"{r:.4f}" for r in regrets)
                search = statistics.median(s for _, s in runs)
                print(f"{arm:<8} {statistics.median(regrets):12.5f}  ({shown:<36})  {search:7.2f}")


if __name__ == "__main__":
    main()
