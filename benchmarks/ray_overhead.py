"""Per-trial overhead of a trivial trial (Branin) on this machine's CPUs, in one run:

- ``python -m search --backend ray --workers 2`` (our Ray backend, a local Ray);
- raw Ray Tune with its defaults (random search, a new process per trial), 2 at a time;
- raw Ray Tune set up as ours is (Optuna's TPE through OptunaSearch, reused processes, no
  result files) but with no study store and no results files: what our layer adds;
- ``python -m search`` on the local backend, 1 and 2 workers.

Each figure is seconds per trial after start-up (between the first and last completion),
with the command's whole wall time beside it. Runs alternate between the setups.

    .venv/bin/python benchmarks/ray_overhead.py [--trials 200] [--raw-trials 30] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from ray_common import HERE, ROOT, completions, machine, run, search, steady, summary

STUDY = HERE / "cheap_study.py"

RAW = """
import math, os, sys, time
os.environ.update({"RAY_AIR_NEW_OUTPUT": "0"})
tuned = sys.argv[2] == "tuned"
ENDS = sys.argv[4]  # a global: the trial runs in another process, with other arguments
if tuned:
    os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = "1"
import ray
from ray import tune
ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)

def branin(config):
    x1, x2 = config["x1"], config["x2"]
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    value = (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10
    with open(ENDS, "a") as f:  # the trial's end, as ours are timed in the store
        print(time.time(), file=f)
    tune.report({"value": value})

space = {"x1": tune.uniform(-5, 10), "x2": tune.uniform(0, 15)}
config = tune.TuneConfig(num_samples=int(sys.argv[1]), metric="value", mode="min")
if tuned:
    import optuna
    from ray.tune.search.optuna import OptunaSearch
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    config = tune.TuneConfig(
        num_samples=int(sys.argv[1]), reuse_actors=True, max_concurrent_trials=2,
        search_alg=OptunaSearch(space, metric="value", mode="min",
                                sampler=optuna.samplers.TPESampler(seed=0)),
    )
run_config = tune.RunConfig(storage_path=sys.argv[3], verbose=0 if tuned else None)
tuner = tune.Tuner(branin, param_space={} if tuned else space, tune_config=config,
                   run_config=run_config)
tuner.fit()
"""


def raw_tune(trials: int, mode: str, tmp: Path) -> tuple[float, float]:
    ends = tmp / f"raw-{mode}.txt"
    wall = run(
        [sys.executable, "-c", RAW, str(trials), mode, str(tmp / "tune"), str(ends)], cwd=tmp
    )
    return wall, steady([float(line) for line in ends.read_text().split()], workers=2)


def ours(trials: int, tmp: Path, *flags: str, workers: int = 2) -> tuple[float, float]:
    results = Path(tempfile.mkdtemp(dir=tmp))
    wall = search(STUDY, results, "--trials", str(trials), *flags)
    return wall, steady(completions(results / "cheap"), workers=workers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--raw-trials", type=int, default=30, help="for Tune's defaults (slow)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(machine())
    setups = {
        "search --backend ray --workers 2": lambda t: ours(
            args.trials, t, "--backend", "ray", "--workers", "2"
        ),
        "raw Ray Tune, defaults": lambda t: raw_tune(args.raw_trials, "defaults", t),
        "raw Ray Tune, OptunaSearch + reuse_actors": lambda t: raw_tune(args.trials, "tuned", t),
        "search, local backend, 1 worker": lambda t: ours(args.trials, t, workers=1),
        "search, local backend, --workers 2": lambda t: ours(args.trials, t, "--workers", "2"),
    }
    walls: dict[str, list[float]] = {name: [] for name in setups}
    per_trial: dict[str, list[float]] = {name: [] for name in setups}
    for i in range(args.repeats):
        order = list(setups) if i % 2 == 0 else list(reversed(setups))
        for name in order:
            with tempfile.TemporaryDirectory() as tmp:
                wall, each = setups[name](Path(tmp))
            walls[name].append(wall)
            per_trial[name].append(each)
            print(f"  [{i + 1}/{args.repeats}] {name}: {each:.4f} s/trial, wall {wall:.1f} s")
    print(f"trials: {args.trials} (Tune's defaults: {args.raw_trials}); repeats {args.repeats}")
    for name in setups:
        print(f"{name}: per trial after start-up {summary(per_trial[name], digits=4)}")
        print(f"{'':>4}wall {summary(walls[name], digits=1)}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
