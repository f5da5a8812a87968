"""Which sampler for more than 10 numeric dimensions: raw Optuna's TPE, CMA-ES and random.

``auto`` gives a numeric space of more than 10 dimensions to multivariate TPE (Optuna 5's
default TPE). CMA-ES was a lead on the 20-d sphere; this script checks it on 20-d functions of
two kinds: every dimension matters (sphere, Rosenbrock, Ackley, Levy, Rastrigin), and a few of 20
matter (Branin and Hartmann6 padded with irrelevant dimensions — the usual case in
hyperparameter search, Bergstra & Bengio 2012). Raw Optuna in memory, 100 trials, one process;
median best value (the optimum is 0 for every function) and median search seconds over seeds.

    .venv/bin/python benchmarks/sampler_20d.py [--seeds 5] [--samplers tpe cmaes random gp]
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

D = 20
_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8],
               [17, 8, 0.05, 10, 0.1, 14]])
_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                      [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])
_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def sphere(x: np.ndarray) -> float:
    return float(np.sum((x - 0.1 * np.arange(D)) ** 2))


def rosenbrock(x: np.ndarray) -> float:
    return float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))


def ackley(x: np.ndarray) -> float:
    return float(-20 * np.exp(-0.2 * np.sqrt(np.mean(x**2))) - np.exp(np.mean(np.cos(2 * np.pi * x)))
                 + 20 + math.e)


def levy(x: np.ndarray) -> float:
    w = 1 + (x - 1) / 4
    return float(np.sin(np.pi * w[0]) ** 2
                 + np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(np.pi * w[:-1] + 1) ** 2))
                 + (w[-1] - 1) ** 2 * (1 + np.sin(2 * np.pi * w[-1]) ** 2))


def rastrigin(x: np.ndarray) -> float:
    return float(10 * D + np.sum(x**2 - 10 * np.cos(2 * np.pi * x)))


def branin_padded(x: np.ndarray) -> float:
    """Branin on the first two of 20 dimensions ([-5, 5] mapped to Branin's box), minus its
    optimum."""
    x1, x2 = x[0] * 1.5 + 2.5, x[1] * 1.5 + 7.5
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    return ((x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10
            - 0.397887)


def hartmann6_padded(x: np.ndarray) -> float:
    """Hartmann6 on the first six of 20 dimensions, minus its optimum."""
    z = x[:6]
    return float(-np.sum(_ALPHA * np.exp(-np.sum(_A * (z - _P) ** 2, axis=1)))) + 3.32237


#: name: (function, low, high) — every dimension in [low, high]
FUNCTIONS: dict[str, tuple[Callable[[np.ndarray], float], float, float]] = {
    "sphere": (sphere, -5, 5),
    "rosenbrock": (rosenbrock, -2, 2),
    "ackley": (ackley, -5, 5),
    "levy": (levy, -10, 10),
    "rastrigin": (rastrigin, -5.12, 5.12),
    "branin_padded": (branin_padded, -5, 5),
    "hartmann6_padded": (hartmann6_padded, 0, 1),
}


def make(name: str, seed: int) -> optuna.samplers.BaseSampler:
    samplers = optuna.samplers
    if name == "tpe":
        return samplers.TPESampler(seed=seed)
    if name == "cmaes":
        return samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    if name == "gp":
        return samplers.GPSampler(seed=seed)
    return samplers.RandomSampler(seed=seed)


def run(function: str, sampler: str, seed: int, trials: int) -> tuple[float, float]:
    fn, low, high = FUNCTIONS[function]
    study = optuna.create_study(sampler=make(sampler, seed))
    start = time.perf_counter()
    study.optimize(
        lambda t: fn(np.array([t.suggest_float(f"x{i}", low, high) for i in range(D)])),
        n_trials=trials,
    )
    return study.best_value, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--samplers", nargs="+", default=["tpe", "cmaes", "random"],
                        choices=["tpe", "cmaes", "random", "gp"])
    parser.add_argument("--functions", nargs="+", default=list(FUNCTIONS), choices=list(FUNCTIONS))
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    print(f"optuna {optuna.__version__}, {args.trials} trials, {args.seeds} seeds")
    print("function           sampler  median best  (per seed)                              s")
    for function in args.functions:
        for sampler in args.samplers:
            runs = [run(function, sampler, seed, args.trials) for seed in range(args.seeds)]
            shown = ", ".join(f"{v:.3g}" for v, _ in runs)
            print(f"{function:<18} {sampler:<8} {statistics.median(v for v, _ in runs):11.4g}  "
                  f"({shown:<38}) {statistics.median(s for _, s in runs):5.2f}", flush=True)


if __name__ == "__main__":
    main()
