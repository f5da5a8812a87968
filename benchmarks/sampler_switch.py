"""Would switching sampler as the study grows pay? GP for the first K trials, then TPE.

``auto`` gives a small numeric space GP for a modest budget and multivariate TPE (Optuna 5's
default TPE) for a large one (GP's cost grows with every trial: about 0.1 s a trial at 100
trials). This script measures the middle road on large budgets in raw Optuna, in memory: GP
for the first K trials, then ``study.sampler`` replaced by TPE (which then learns from every
trial, GP's included) up to the budget — a switch on the trial count, so a seeded run stays
reproducible. Median regret (best found minus the optimum) and median sampling seconds (the
objectives cost microseconds) over seeds, against TPE alone.

    .venv/bin/python benchmarks/sampler_switch.py [--seeds 5] [--trials 1000] [--switch 50 100]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
import warnings
from collections.abc import Callable

import numpy as np
import optuna
from sampler_20d import hartmann6_padded  # Hartmann6 minus its optimum, on x[:6]


def branin(trial: optuna.Trial) -> float:
    x1, x2 = trial.suggest_float("x1", -5, 10), trial.suggest_float("x2", 0, 15)
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    return ((x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10
            - 0.397887)


def hartmann6(trial: optuna.Trial) -> float:
    return hartmann6_padded(np.array([trial.suggest_float(f"x{i}", 0, 1) for i in range(6)]))


PROBLEMS: dict[str, Callable[[optuna.Trial], float]] = {"branin": branin, "hartmann6": hartmann6}


def run(problem: str, seed: int, trials: int, switch: int) -> tuple[float, float]:
    """Best value found (regret) and seconds; ``switch`` 0 is TPE alone."""
    study = optuna.create_study(direction="minimize")
    start = time.perf_counter()
    if switch:
        study.sampler = optuna.samplers.GPSampler(seed=seed)
        study.optimize(PROBLEMS[problem], n_trials=switch)
    study.sampler = optuna.samplers.TPESampler(seed=seed)
    study.optimize(PROBLEMS[problem], n_trials=trials - switch)
    return study.best_value, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--switch", type=int, nargs="+", default=[50, 100])
    parser.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=list(PROBLEMS))
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    import torch

    torch.set_num_threads(1)  # as the framework runs GP
    arms = [0, *args.switch]
    for problem in args.problems:
        found: dict[int, list[tuple[float, float]]] = {arm: [] for arm in arms}
        for seed in range(args.seeds):
            for arm in arms if seed % 2 == 0 else list(reversed(arms)):
                found[arm].append(run(problem, seed, args.trials, arm))
        print(f"\n{problem}, {args.trials} trials, {args.seeds} seeds")
        print("arm                 median regret   regrets                          median s")
        for arm, runs in found.items():
            name = "tpe" if arm == 0 else f"gp {arm} then tpe"
            regrets = " ".join(f"{r:.2g}" for r, _ in runs)
            print(f"{name:<19} {statistics.median(r for r, _ in runs):13.3g}   {regrets:<32} "
                  f"{statistics.median(s for _, s in runs):8.2f}")


if __name__ == "__main__":
    main()
