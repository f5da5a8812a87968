"""Fixed cost of a run: raw Optuna, `python -m search --no-tracking` and the default (tracking
on), the same cheap trials, in the same invocation, the order alternated.

Each command runs as a fresh process over Branin (``benchmarks/cheap_study.py``) with the same
sampler and seed; raw Optuna is in memory. For each, the whole command's wall time, split into
the time before the first trial starts, the search phase (first trial's start to last trial's
end, read back from the store) and the time after it (report, MLflow, exit). Medians over
``--repeats``; the load average is printed with the figures (2 shared cores: timings are noisy).

    .venv/bin/python benchmarks/fixed_cost.py [--trials 200 1000] [--repeats 3] [--sampler tpe]

Run it with ``PYTHONPATH`` on another tree to measure that tree's code (the study file is read
from this script's folder, and imports ``search`` from the path).
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

import overhead  # this folder's raw-Optuna runner

HERE = Path(__file__).resolve().parent


def run_raw(trials: int, sampler: str) -> dict[str, float]:
    """Raw Optuna in memory, as ``overhead.py`` runs it; it has no before or after."""
    whole, search = overhead.run_raw(trials, sampler)
    return {"whole": whole, "search": search, "before": whole - search, "after": 0.0}


def run_ours(trials: int, sampler: str, tracking: bool) -> dict[str, float]:
    """``python -m search``, timed as ``overhead.py`` times it, split before / search / after."""
    return overhead.time_ours(trials, sampler, tracking)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, nargs="+", default=[200, 1000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sampler", default="tpe", choices=("tpe", "random"))
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}; PYTHONPATH={os.environ.get('PYTHONPATH')}")
    for trials in args.trials:
        found: dict[str, list[dict[str, float]]] = {"raw": [], "no-tracking": [], "tracking": []}
        arms = {
            "raw": lambda n=trials: run_raw(n, args.sampler),
            "no-tracking": lambda n=trials: run_ours(n, args.sampler, tracking=False),
            "tracking": lambda n=trials: run_ours(n, args.sampler, tracking=True),
        }
        for i in range(args.repeats):
            for name in list(arms) if i % 2 == 0 else list(reversed(arms)):
                found[name].append(arms[name]())
        print(f"\n{trials} trials, sampler {args.sampler}, {args.repeats} repeats, load average "
              f"now {os.getloadavg()[0]:.2f}")
        print("arm          whole s (runs)                 before s  search s  after s")
        for name, runs in found.items():
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            shown = ", ".join(f"{r['whole']:.2f}" for r in runs)
            print(f"{name:<12} {med['whole']:6.2f} ({shown:<22})  {med['before']:7.2f}  "
                  f"{med['search']:7.2f}  {med['after']:7.2f}")
        raw = statistics.median(r["whole"] for r in found["raw"])
        off = statistics.median(r["whole"] for r in found["no-tracking"])
        on = statistics.median(r["whole"] for r in found["tracking"])
        print(f"no-tracking - raw: {off - raw:+.2f} s; tracking / no-tracking: {on / off:.3f} "
              f"(tracking - no-tracking: {on - off:+.2f} s)")


if __name__ == "__main__":
    main()
