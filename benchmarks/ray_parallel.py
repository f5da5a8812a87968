"""Parallel efficiency of ``--backend ray --workers 2`` with 1-second trials on 2 CPUs.

Each trial sleeps for one second (the framework's own cost is what is measured, not CPU
contention between the trials and the driver). After start-up, two workers should finish
two trials a second: efficiency = (trials finished after the first fifth) x 1 s /
(2 workers x the time from the completion that ends the first fifth to the last). The local backend with
``--workers 2`` is measured alike, in the same run.

    .venv/bin/python benchmarks/ray_parallel.py [--trials 40] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from ray_common import ROOT, after_startup, completions, machine, search, summary

STUDY = """
import time
from search import Study
from spaces import Float, Space

def objective(config):
    time.sleep(1.0)
    return config["x"]

study = Study(name="second", space=Space({"x": Float(0, 1)}), objective=objective,
              direction="minimize", trials=1000, seed=0, pruner="none")
"""
WORKERS = 2


def efficiency(times: list[float]) -> float:
    """Busy fraction of the workers after start-up (see ``ray_common.after_startup``)."""
    count, seconds = after_startup(times, WORKERS)
    return count * 1.0 / (WORKERS * seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(machine())
    setups = {
        "search --backend ray --workers 2": ["--backend", "ray"],
        "search, local backend, --workers 2": [],
    }
    found: dict[str, list[float]] = {name: [] for name in setups}
    for i in range(args.repeats):
        for name, flags in setups.items():
            with tempfile.TemporaryDirectory() as tmp:
                study = Path(tmp) / "second.py"
                study.write_text(STUDY)
                flags = [*flags, "--workers", str(WORKERS), "--trials", str(args.trials)]
                search(study, Path(tmp) / "out", *flags)
                found[name].append(efficiency(completions(Path(tmp) / "out" / "second")))
            print(f"  [{i + 1}/{args.repeats}] {name}: efficiency {found[name][-1]:.3f}")
    print(f"{args.trials} one-second trials, {WORKERS} workers, repeats {args.repeats}")
    for name in setups:
        print(f"{name}: parallel efficiency {summary(found[name], unit='')}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
