"""Per-trial overhead of `python -m search` against raw in-memory Optuna, same sampler.

Both run as fresh processes (imports included) with the same cheap objective, the same TPE
sampler and seed; ours persists every trial to the journal store and writes trials.csv and
best.json. Prints wall seconds for each and the ratio ours / raw, alternating the order.

    .venv/bin/python benchmarks/overhead.py [--trials 1000] [--repeats 3] [--sampler tpe]
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

RAW = """
import math, sys, optuna
optuna.logging.set_verbosity(optuna.logging.WARNING)
def branin(trial):
    x1 = trial.suggest_float("x1", -5, 10); x2 = trial.suggest_float("x2", 0, 15)
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10
sampler = {"tpe": optuna.samplers.TPESampler, "random": optuna.samplers.RandomSampler}[sys.argv[2]]
study = optuna.create_study(sampler=sampler(seed=0), direction="minimize")
study.optimize(branin, n_trials=int(sys.argv[1]))
"""


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sampler", default="tpe", choices=("tpe", "random"))
    args = parser.parse_args()
    raw, ours = [], []
    for i in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            raw_cmd = [sys.executable, "-c", RAW, str(args.trials), args.sampler]
            our_cmd = [
                sys.executable,
                "-m",
                "search",
                str(HERE / "cheap_study.py"),
                "--trials",
                str(args.trials),
                "--sampler",
                args.sampler,
                "--results",
                tmp,
            ]
            if i % 2:
                ours.append(timed(our_cmd))
                raw.append(timed(raw_cmd))
            else:
                raw.append(timed(raw_cmd))
                ours.append(timed(our_cmd))
    r, o = statistics.median(raw), statistics.median(ours)
    print(f"trials={args.trials} sampler={args.sampler} repeats={args.repeats}")
    print(f"raw optuna (in-memory): median {r:.2f} s  runs {[round(x, 2) for x in raw]}")
    print(
        f"python -m search (journal store, results files): median {o:.2f} s  "
        f"runs {[round(x, 2) for x in ours]}"
    )
    print(f"ratio ours/raw: {o / r:.3f}")


if __name__ == "__main__":
    main()
