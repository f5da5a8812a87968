"""Per-trial cost on ``--backend ray`` with a 10 MB development set against a 1 GB one.

The development data go into Ray's object store once; each trial reads them from there
(zero-copy for numeric columns), so a trial's cost should not grow with the data. The trial
touches the data (its shape) and returns at once. Figures are seconds per trial after
start-up; start-up (loading, splitting, fingerprinting, the object store put) is reported
apart as the wall time.

    .venv/bin/python benchmarks/ray_data.py [--trials 60] [--repeats 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from ray_common import ROOT, completions, machine, search, steady, summary

STUDY = """
import numpy as np
import pandas as pd
from search import Data, Study
from spaces import Float, Space

rows = {rows}
rng = np.random.default_rng(0)
X = pd.DataFrame(rng.standard_normal((rows, 32)), columns=[f"f{{i}}" for i in range(32)])
y = rng.standard_normal(rows)

def evaluate(config, data):
    return float(config["x"]) + 0.0 * data.X.shape[0]

study = Study(name="data", data=Data((X, y), test_size=0.15), space=Space({{"x": Float(0, 1)}}),
              objective=evaluate, metric="mse", trials=1000, seed=0, pruner="none")
"""
#: development rows (85 % of all) giving about 10 MB and 1 GB of float64 features
SIZES = {"10 MB": 10 * 2**20 // (32 * 8) * 100 // 85, "1 GB": 2**30 // (32 * 8) * 100 // 85}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    print(machine())
    per_trial: dict[str, list[float]] = {name: [] for name in SIZES}
    walls: dict[str, list[float]] = {name: [] for name in SIZES}
    for i in range(args.repeats):
        for name, rows in SIZES.items():
            with tempfile.TemporaryDirectory() as tmp:
                study = Path(tmp) / "data.py"
                study.write_text(STUDY.format(rows=rows))
                flags = ["--backend", "ray", "--workers", "2", "--trials", str(args.trials)]
                walls[name].append(search(study, Path(tmp) / "out", *flags))
                per_trial[name].append(steady(completions(Path(tmp) / "out" / "data")))
            print(f"  [{i + 1}/{args.repeats}] {name}: {per_trial[name][-1]:.4f} s/trial")
    print(f"trials: {args.trials}, 2 workers, repeats {args.repeats}")
    for name in SIZES:
        print(f"{name} development set: per trial {summary(per_trial[name], digits=4)}")
        print(f"{'':>4}wall {summary(walls[name], digits=1)}")
    big, small = (statistics.median(per_trial[n]) for n in ("1 GB", "10 MB"))
    print(f"ratio 1 GB / 10 MB per trial: {big / small:.3f}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
