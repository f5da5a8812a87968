"""Ray Tune's bookkeeping benchmark, scaled down: many short trials on many workers.

Ray Tune's release test ``bookkeeping_overhead`` runs 10,000 one-second trials on 16 CPUs and
publishes the run's time against its minimum (10,000 x 1 s / 16). Here trials sleep 0.1 s (two
floats, the config does not change the time) and ``--workers 16`` run them, so the minimum
is ``trials x 0.1 / 16``: 12.5 s for 2,000 trials, 62.5 s for 10,000. Each figure is the
span from the first trial's start to the last trial's end, read from the study's store (Ray's
start-up left out, the workers' own start included), against the minimum; the steady state
after start-up (from the end of the first fifth of the trials to the last, as
``ray_common.after_startup``) against its own minimum; and the command's whole wall time:

- ``python -m search`` on the local backend and on ``--backend ray`` (a local Ray with 16
  logical CPUs), with ``--sampler random`` and with the default sampler (``auto``: TPE,
  multivariate, with the constant liar for several workers, its history bounded);
- raw Ray Tune with the same trial function (``tune.Tuner``, random search, 16 at a time,
  ``reuse_actors``), timed the same way (each trial writes its start and end).

Runs alternate between the setups; figures are medians of ``--repeats``.

    .venv/bin/python benchmarks/bookkeeping.py [--trials 2000] [--repeats 3]
        [--setups local-random local-auto ray-random ray-auto tune]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from ray_common import ROOT, after_startup, machine, run

SLEEP = 0.1
WORKERS = 16

STUDY = f"""
import time
from search import Study
from spaces import Float, Space

def objective(config):
    time.sleep({SLEEP})
    return (config["x"] - 0.3) ** 2 + config["y"]

study = Study(name="book", space=Space({{"x": Float(0, 1), "y": Float(0, 1)}}),
              objective=objective, direction="minimize", trials=100, seed=0, pruner="none")
"""

TUNE = f"""
import os, sys, time
os.environ.update({{"RAY_AIR_NEW_OUTPUT": "0", "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1"}})
import ray
from ray import tune
ray.init(address="local", num_cpus={WORKERS}, include_dashboard=False, log_to_driver=False)
SPANS = sys.argv[3]

def trainable(config):
    start = time.time()
    time.sleep({SLEEP})
    with open(SPANS, "a") as f:
        print(start, time.time(), file=f)
    tune.report({{"value": (config["x"] - 0.3) ** 2 + config["y"]}})

space = {{"x": tune.uniform(0, 1), "y": tune.uniform(0, 1)}}
config = tune.TuneConfig(num_samples=int(sys.argv[1]), metric="value", mode="min",
                         max_concurrent_trials={WORKERS}, reuse_actors=True)
tune.Tuner(tune.with_resources(trainable, {{"cpu": 1}}), param_space=space, tune_config=config,
           run_config=tune.RunConfig(storage_path=sys.argv[2], verbose=0)).fit()
"""


def span_of_store(folder: Path) -> tuple[float, list[float]]:
    """First trial start to last trial end, and the trials' ends, from the study's journal."""
    import optuna

    sys.path.insert(0, str(ROOT))
    from search.core._store import read_store

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = read_store(folder / "study.journal")
    name = storage.get_all_studies()[0].study_name
    trials = optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)
    starts = [t.datetime_start.timestamp() for t in trials if t.datetime_start]
    ends = [t.datetime_complete.timestamp() for t in trials if t.datetime_complete]
    return max(ends) - min(starts), ends


def steady_ratio(ends: list[float]) -> float:
    """Seconds per trial after start-up against the minimum, ``SLEEP / WORKERS``."""
    count, seconds = after_startup(ends, WORKERS)
    return seconds / count / (SLEEP / WORKERS)


def ours(trials: int, backend: str, sampler: str, tmp: Path) -> tuple[float, float, float]:
    study = tmp / "book.py"
    study.write_text(STUDY)
    cmd = [sys.executable, "-m", "search", str(study), "--results", str(tmp / "out"),
           "--trials", str(trials), "--workers", str(WORKERS), "--sampler", sampler,
           "--backend", backend, "--no-tracking", "--no-final"]
    wall = run(cmd, cwd=ROOT)
    span, ends = span_of_store(tmp / "out" / "book")
    return wall, span, steady_ratio(ends)


def tune_raw(trials: int, tmp: Path) -> tuple[float, float, float]:
    spans = tmp / "spans.txt"
    wall = run([sys.executable, "-c", TUNE, str(trials), str(tmp / "tune"), str(spans)], cwd=tmp)
    pairs = [tuple(map(float, line.split())) for line in spans.read_text().splitlines()]
    ends = [end for _, end in pairs]
    return wall, max(ends) - min(start for start, _ in pairs), steady_ratio(ends)


SETUPS = {
    "local-random": lambda n, t: ours(n, "local", "random", t),
    "local-auto": lambda n, t: ours(n, "local", "auto", t),
    "ray-random": lambda n, t: ours(n, "ray", "random", t),
    "ray-auto": lambda n, t: ours(n, "ray", "auto", t),
    "tune": tune_raw,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--setups", nargs="+", default=list(SETUPS), choices=list(SETUPS))
    args = parser.parse_args()
    minimum = args.trials * SLEEP / WORKERS
    print(machine())
    print(f"{args.trials} trials of {SLEEP} s, {WORKERS} workers: minimum {minimum:.1f} s")
    spans: dict[str, list[float]] = {name: [] for name in args.setups}
    walls: dict[str, list[float]] = {name: [] for name in args.setups}
    steadies: dict[str, list[float]] = {name: [] for name in args.setups}
    for i in range(args.repeats):
        for name in args.setups if i % 2 == 0 else list(reversed(args.setups)):
            with tempfile.TemporaryDirectory() as tmp:
                wall, span, steady = SETUPS[name](args.trials, Path(tmp))
            spans[name].append(span)
            walls[name].append(wall)
            steadies[name].append(steady)
            print(f"  [{i + 1}/{args.repeats}] {name}: span {span:.1f} s "
                  f"({span / minimum:.2f}x the minimum), steady {steady:.2f}x, wall {wall:.1f} s",
                  flush=True)
    print(f"\n{'setup':>14} {'span s':>8} {'/ minimum':>10} {'steady':>7} {'wall s':>8}   spans")
    for name in args.setups:
        span = statistics.median(spans[name])
        print(f"{name:>14} {span:8.1f} {span / minimum:10.2f} "
              f"{statistics.median(steadies[name]):7.2f} {statistics.median(walls[name]):8.1f}"
              f"   {' '.join(f'{s:.1f}' for s in spans[name])}")


if __name__ == "__main__":
    main()
