"""What reproducible parallel runs cost in parallel efficiency, with trial times that vary.

A reproducible run draws slot n's config only once the slots below n - lag have finished
(``search/core/_reproducible.py``), so a worker can wait. Here the engine runs trials of
``--mean`` seconds whose times vary (``uniform``: +-50 %; ``heavy``: log-uniform over 100x,
the same mean) on the local backend with the random sampler, reproducible (lag 2 x (workers -
1), the default) and not. Efficiency = busy worker-seconds / (workers x the span from the first
trial's start to the last one's end); medians of ``--repeats`` runs, alternated.

    .venv/bin/python benchmarks/reproducible_efficiency.py [--workers 4 8 16] [--trials 200]
        [--times uniform heavy] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from ray_common import ROOT, machine

sys.path.insert(0, str(ROOT))


def trial(config: dict[str, float]) -> float:
    """Sleep for a time drawn from the system's entropy (a trial's time is not seeded)."""
    import random
    import time

    rng = random.SystemRandom()
    mean = float(os.environ["EFF_MEAN"])
    if os.environ["EFF_TIMES"] == "heavy":
        time.sleep(mean * 10 ** rng.uniform(-1, 1) / 2.15)  # mean of 10**U(-1, 1) is 2.15
    else:
        time.sleep(mean * rng.uniform(0.5, 1.5))
    return config["x"]


def efficiency(lag: int, trials: int, workers: int) -> float:
    import optuna

    from objectives import FunctionObjective
    from search.backends import local_placement
    from search.core._channel import Setup
    from search.core._engine import Budget, Engine
    from search.core._pool import WorkerPool
    from search.core._reproducible import Reproducible
    from search.core._store import open_store
    from search.core._task import TrialTask
    from search.core._trials import duration, started
    from spaces import Float, Space

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_store(Path(tempfile.mkdtemp()))
    make = lambda seed: optuna.samplers.RandomSampler(seed=seed)  # noqa: E731
    study = optuna.create_study(storage=storage, sampler=make(0))
    task = TrialTask(objective=FunctionObjective(trial), data=None, metric=None, seed=0)
    placement = local_placement()
    setup = Setup(task=task.pickled(), threads=placement.threads(1), log_dir=None)
    pool = WorkerPool(placement, workers, setup).start()
    try:
        while len(pool.idle) < workers:
            pool.events(1.0)
        Engine(study, Space({"x": Float(0, 1)}), pool, Budget(trials=trials),
               reproducible=Reproducible(0, lag) if lag else None, sampler_for=make).run()
    finally:
        pool.close()
    done = study.trials
    busy = sum(duration(t) for t in done)
    span = (max(t.datetime_complete for t in done) - min(started(t) for t in done))
    return busy / (workers * span.total_seconds())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--mean", type=float, default=0.2)
    parser.add_argument("--times", nargs="+", default=["uniform"], choices=["uniform", "heavy"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ["EFF_MEAN"] = str(args.mean)
    print(machine())
    print(f"{args.trials} trials of {args.mean} s on average; efficiency, median of "
          f"{args.repeats}")
    for times in args.times:
        os.environ["EFF_TIMES"] = times
        for workers in args.workers:
            lags = [0, 2 * (workers - 1)]
            found: dict[int, list[float]] = {lag: [] for lag in lags}
            for rep in range(args.repeats):
                for lag in lags if rep % 2 == 0 else lags[::-1]:
                    found[lag].append(efficiency(lag, args.trials, workers))
            print(f"{times:>8}, {workers:>2} workers: not reproducible "
                  f"{statistics.median(found[0]):.3f}, reproducible (lag {lags[1]}) "
                  f"{statistics.median(found[lags[1]]):.3f}", flush=True)


if __name__ == "__main__":
    main()
