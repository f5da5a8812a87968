"""One TPE or GP suggestion as the history grows, and the regret a bounded history gives.

``auto``'s TPE and every GP that ``make_sampler`` builds hand Optuna's sampler a bounded view
of the study once the history passes a size (``search/core/_bounded_sampler.py``). Two parts,
each with the old behaviour (Optuna's samplers as ``make_sampler`` built them before: the
whole history) and the new one (``make_sampler`` now) in the same run, in alternating order:

``time``: milliseconds of one suggestion (``study.ask()`` and every ``suggest_*``) against a
history of N finished trials (random points with the function's values, built with
``study.add_trials``), with 3 running trials, for TPE as ``auto`` sets it for several workers
(multivariate, constant liar) and for GP; the median over ``--reps`` suggestions, each told
FAIL so the history stays N. ``--fresh``: a new sampler every suggestion (as an engine that
rebuilds its sampler per trial does), else one sampler throughout (as the engine does now).

``regret``: best value found minus the optimum, on Branin (2-d) and Hartmann6 (6-d), raw
Optuna in memory (zero-cost trials), per arm: ``liar4`` (``auto`` with 4 workers: TPE,
multivariate, constant liar; 4 trials in flight, the oldest told before the next is asked),
``gp_first`` (``auto`` with one worker and more than 300 trials: GP for 100 trials, then
multivariate TPE), ``gp`` (GP alone, ``--sampler gp``; ``--gp-trials``). Mean, standard
error and median over seeds at each of ``--trials``; seeds below ``--long-seeds`` run to the
largest budget, the others to the smallest (the old behaviour is slow on long runs).

    .venv/bin/python benchmarks/sampler_scale.py time [--sizes 100 1000 3000 10000] [--fresh]
    .venv/bin/python benchmarks/sampler_scale.py regret [--trials 1000 5000] [--seeds 10]
        [--long-seeds 3] [--arms liar4 gp_first] [--jobs 2] [--which old new]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
import warnings
from collections import deque
from collections.abc import Callable
from multiprocessing import Pool
from typing import Any

import numpy as np
import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial
from ray_common import machine
from sampler_switch import PROBLEMS  # Branin and Hartmann6 minus their optima, as objectives

from search.core._strategies import GP_FIRST_TRIALS, gp_then, make_sampler
from spaces import Space

BOUNDS = {"branin": {"x1": (-5.0, 10.0), "x2": (0.0, 15.0)},
          "hartmann6": {f"x{i}": (0.0, 1.0) for i in range(6)}}
ARMS = {  # what auto chooses: (make_sampler's name, settings, workers)
    "liar4": ("tpe", {"multivariate": True, "constant_liar": True}, 4),
    "gp_first": ("tpe", {"multivariate": True, "gp_first": True}, 1),
    "gp": ("gp", {}, 1),
}


def sampler(arm: str, seed: int, which: str) -> optuna.samplers.BaseSampler:
    """The arm's sampler: ``new``, as ``make_sampler`` builds it now; ``old``, as it built it
    before (Optuna's TPE and GP over the whole history; GP's torch on one thread, set in
    :func:`quiet`)."""
    name, settings, _ = ARMS[arm]
    if which == "new":
        return make_sampler(name, Space({}), seed, settings=settings)
    gp = optuna.samplers.GPSampler(seed=seed)
    if name == "gp":
        return gp
    tpe = optuna.samplers.TPESampler(seed=seed, multivariate=True, group=False,
                                     constant_liar=settings.get("constant_liar", False))
    return gp_then(gp, tpe, GP_FIRST_TRIALS) if settings.get("gp_first") else tpe


def quiet() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore")
    import torch

    torch.set_num_threads(1)  # as the framework runs GP


# --- time -----------------------------------------------------------------------------------


def history(problem: str, size: int, rng: np.random.Generator) -> list[optuna.trial.FrozenTrial]:
    """``size`` finished trials at random points, with the function's values."""
    bounds = BOUNDS[problem]
    dists = {k: FloatDistribution(lo, hi) for k, (lo, hi) in bounds.items()}
    trials = []
    for _ in range(size):
        params = {k: float(rng.uniform(lo, hi)) for k, (lo, hi) in bounds.items()}
        value = PROBLEMS[problem](optuna.trial.FixedTrial(params))
        trials.append(create_trial(params=params, distributions=dists, value=value))
    return trials


def suggest_ms(problem: str, arm: str, which: str, size: int, reps: int, fresh: bool) -> float:
    """Median milliseconds of one suggestion against ``size`` finished and 3 running trials."""
    study = optuna.create_study(sampler=sampler(arm, 0, which))
    study.add_trials(history(problem, size, np.random.default_rng(size)))
    objective = PROBLEMS[problem]
    for _ in range(3):  # running trials: the constant liar's (and GP's) pending points
        objective(study.ask())
    times = []
    for rep in range(reps):
        if fresh:
            study.sampler = sampler(arm, rep + 1, which)
        start = time.perf_counter()
        trial = study.ask()
        objective(trial)  # its suggest_* calls; the function itself costs microseconds
        times.append(time.perf_counter() - start)
        study.tell(trial, state=TrialState.FAIL)
    return 1000 * statistics.median(times)


def time_part(args: argparse.Namespace) -> None:
    kept = "a fresh sampler each" if args.fresh else "one sampler"
    print(f"ms per suggestion (median of {args.reps}, GP {args.gp_reps}), {kept}; history: "
          "finished trials, plus 3 running")
    for arm, sizes, limit in (("liar4", args.sizes, math.inf), ("gp", args.sizes, args.gp_max)):
        label = {"liar4": "TPE (multivariate, constant liar)", "gp": "GP"}[arm]
        for problem in args.problems:
            print(f"\n{label}, {problem}\n{'history':>8} {'old ms':>9} {'new ms':>9}  new/old")
            for size in sizes:
                order = ("old", "new") if size % 2 == 0 else ("new", "old")
                found = {w: (suggest_ms(problem, arm, w, size, args.reps if arm != "gp" else
                                        args.gp_reps, args.fresh)
                             if w == "new" or size <= limit else math.nan) for w in order}
                ratio = found["new"] / found["old"]
                print(f"{size:>8} {found['old']:9.1f} {found['new']:9.1f}  {ratio:7.2f}",
                      flush=True)


# --- regret ---------------------------------------------------------------------------------


def run(job: tuple[str, str, int, str, tuple[int, ...]]) -> tuple[Any, ...]:
    """One seeded search; the regret at each budget in ``budgets``, and its seconds."""
    problem, arm, seed, which, budgets = job
    quiet()
    objective: Callable[[optuna.Trial], float] = PROBLEMS[problem]
    workers = ARMS[arm][2]
    study = optuna.create_study(sampler=sampler(arm, seed, which))
    flying: deque[tuple[optuna.Trial, float]] = deque()
    best, found = math.inf, []
    start = time.perf_counter()
    for told in range(1, max(budgets) + 1):
        while len(flying) < workers:  # the free workers ask; the oldest trial ends first
            trial = study.ask()
            flying.append((trial, objective(trial)))
        trial, value = flying.popleft()
        study.tell(trial, value)
        best = min(best, value)
        if told in budgets:
            found.append(best)
    return problem, arm, seed, which, found, time.perf_counter() - start


def summary(values: list[float]) -> str:
    mean = statistics.fmean(values)
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else math.nan
    return f"{mean:10.3g} ± {se:<9.2g} {statistics.median(values):10.3g}"


def regret_part(args: argparse.Namespace) -> None:
    jobs = []
    for problem in args.problems:
        for arm in args.arms:
            budgets = tuple(args.gp_trials) if arm == "gp" else tuple(args.trials)
            for seed in range(args.seeds):
                runs_to = budgets if seed < args.long_seeds else budgets[:1]
                order = args.which if seed % 2 == 0 else list(reversed(args.which))
                jobs += [(problem, arm, seed, which, runs_to) for which in order]
    jobs.sort(key=lambda job: -max(job[4]))  # the long runs first
    with Pool(args.jobs) as pool:
        results = pool.map(run, jobs, chunksize=1)
    print("regret: mean ± standard error, median, over seeds; seconds: median per run "
          f"({args.jobs} runs at a time)")
    for problem in args.problems:
        for arm in args.arms:
            budgets = args.gp_trials if arm == "gp" else args.trials
            print(f"\n{problem}, {arm}\n{'trials':>6} {'behaviour':>9} {'seeds':>5} "
                  f"{'mean':>10}   {'se':<9} {'median':>10} {'seconds':>8}   by seed")
            for k, budget in enumerate(budgets):
                for which in args.which:
                    mine = [r for r in results if r[:2] == (problem, arm) and r[3] == which
                            and len(r[4]) > k]
                    seconds = statistics.median(r[5] for r in mine)
                    regrets = [r[4][k] for r in sorted(mine, key=lambda r: r[2])]
                    print(f"{budget:>6} {which:>9} {len(mine):>5} {summary(regrets)} "
                          f"{seconds:8.1f}   {' '.join(f'{r:.2g}' for r in regrets)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parts = parser.add_subparsers(dest="part", required=True)
    timing = parts.add_parser("time")
    timing.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 3000, 10000])
    timing.add_argument("--gp-max", type=int, default=1000, help="old GP's largest history")
    timing.add_argument("--reps", type=int, default=15)
    timing.add_argument("--gp-reps", type=int, default=3)
    timing.add_argument("--fresh", action="store_true")
    regret = parts.add_parser("regret")
    regret.add_argument("--trials", type=int, nargs="+", default=[1000, 5000])
    regret.add_argument("--gp-trials", type=int, nargs="+", default=[300, 500])
    regret.add_argument("--seeds", type=int, default=10)
    regret.add_argument("--long-seeds", type=int, default=3)
    regret.add_argument("--arms", nargs="+", default=["liar4", "gp_first"], choices=list(ARMS))
    regret.add_argument("--jobs", type=int, default=2)
    for part in (timing, regret):
        part.add_argument("--problems", nargs="+", default=list(BOUNDS), choices=list(BOUNDS))
    regret.add_argument("--which", nargs="+", default=["old", "new"], choices=["old", "new"])
    args = parser.parse_args()
    quiet()
    print(machine())
    time_part(args) if args.part == "time" else regret_part(args)


if __name__ == "__main__":
    main()
