"""The engine's own cost a trial: ask, hand the config to a worker process, get the outcome, tell.

Three loops over the same cheap trials (Branin), the same sampler and seed, in one process:

- raw Optuna: ``study.ask()``, the objective, ``study.tell()``, in memory;
- the engine, in-memory study: the same, with the objective in a worker process (one pipe
  round trip a trial, plus the worker's share of the bookkeeping);
- the engine on the journal store, as a run uses it (every ask, tell and attribute appended).

The random sampler keeps the sampler's own cost small, so that what differs is the design's.
Microseconds a trial, the median of ``--repeats`` runs, the order alternated.

    .venv/bin/python benchmarks/engine_overhead.py [--trials 3000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def branin(config: dict[str, float]) -> float:
    x1, x2 = config["x1"], config["x2"]
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10


def raw(trials: int) -> float:
    import optuna

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    start = time.perf_counter()
    for _ in range(trials):
        trial = study.ask()
        config = {"x1": trial.suggest_float("x1", -5, 10), "x2": trial.suggest_float("x2", 0, 15)}
        study.tell(trial, branin(config))
    return time.perf_counter() - start


def engine(trials: int, storage: Any) -> float:
    import optuna

    from objectives import FunctionObjective
    from search.backends import local_placement
    from search.core._engine import Budget, Engine
    from search.core._pool import WorkerPool
    from search.core._task import TrialTask
    from spaces import Float, Space

    space = Space({"x1": Float(-5, 10), "x2": Float(0, 15)})
    study = optuna.create_study(storage=storage, sampler=optuna.samplers.RandomSampler(seed=0))
    task = TrialTask(objective=FunctionObjective(branin), data=None, metric=None, seed=0)
    placement = local_placement()
    pool = WorkerPool(placement, 1, _setup(task, placement)).start()
    try:
        while not pool.idle:
            pool.events(1.0)
        start = time.perf_counter()
        Engine(study, space, pool, Budget(trials=trials)).run()
        return time.perf_counter() - start
    finally:
        pool.close()


def _setup(task: Any, placement: Any) -> Any:
    from search.core._channel import Setup

    return Setup(task=task.pickled(), threads=placement.threads(1), log_dir=None)


def main() -> None:
    import optuna

    from search.core._store import open_store

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    found: dict[str, list[float]] = {"raw Optuna": [], "engine, in memory": [],
                                     "engine, journal store": []}
    for i in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            runs = {
                "raw Optuna": lambda: raw(args.trials),
                "engine, in memory": lambda: engine(args.trials, None),
                "engine, journal store": lambda: engine(args.trials, open_store(Path(tmp))),
            }
            order = list(runs) if i % 2 == 0 else list(reversed(runs))
            for name in order:
                found[name].append(runs[name]() / args.trials * 1e6)
    base = statistics.median(found["raw Optuna"])
    print(f"{args.trials} Branin trials, random sampler, 1 worker, {args.repeats} repeats")
    for name, values in found.items():
        med = statistics.median(values)
        shown = ", ".join(f"{v:.0f}" for v in values)
        print(f"{name:>22}: {med:7.0f} us a trial  (+{med - base:5.0f} us; runs {shown})")


if __name__ == "__main__":
    main()
