"""Best validation minus sealed test, ours against a naive search that scales before splitting.

For each dataset and seed, two searches tune an RBF SVM (C, gamma) with the same sampler, folds
and split: ours (scaling fitted inside each training fold, test sealed first), and a naive one
whose StandardScaler was fitted on all rows, test rows included, before the split. Each opens
its test part once. Prints mean and standard deviation of (best validation - test) per dataset
and overall; ours should sit within one standard deviation of zero.

    .venv/bin/python benchmarks/integrity.py [--seeds 10] [--trials 15]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import tempfile
import time
from pathlib import Path

from search.cli._parse import main as search_main

DATASETS = ("breast_cancer", "wine", "digits")

OURS = """
from sklearn.svm import SVC
from objectives import SklearnObjective
from search import Data, Study
from spaces import Float, Space
study = Study(name="s", data=Data("{dataset}"), metric="accuracy", trials={trials}, seed={seed},
              space=Space({{"C": Float(1e-2, 1e3, log=True), "gamma": Float(1e-5, 1, log=True)}}),
              objective=SklearnObjective(SVC(), class_weight=None), pruner="none")
"""

NAIVE = """
from sklearn import datasets
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from objectives import SklearnObjective
from search import Data, Study
from spaces import Float, Space
frame = getattr(datasets, "load_{dataset}")(as_frame=True).frame
features = frame.columns.drop("target")
frame[features] = StandardScaler().fit_transform(frame[features])  # the leak: all rows
study = Study(name="s", data=Data(frame, target="target"), metric="accuracy", trials={trials},
              seed={seed},
              space=Space({{"C": Float(1e-2, 1e3, log=True), "gamma": Float(1e-5, 1, log=True)}}),
              objective=SklearnObjective(SVC(), preprocess=None, class_weight=None),
              pruner="none")
"""


def gap(template: str, dataset: str, seed: int, trials: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "study.py"
        path.write_text(template.format(dataset=dataset, seed=seed, trials=trials))
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            status = search_main([str(path), "--results", tmp])
        if status != 0:
            raise SystemExit(f"search failed for {dataset} seed {seed}")
        final = json.loads((Path(tmp) / "s" / "final.json").read_text())
        return float(final["validation_value"]) - float(final["test_value"])


def summary(values: list[float]) -> str:
    return f"mean {statistics.fmean(values):+.4f}  sd {statistics.stdev(values):.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--trials", type=int, default=15)
    args = parser.parse_args()
    started = time.perf_counter()
    all_ours, all_naive = [], []
    for dataset in DATASETS:
        ours = [gap(OURS, dataset, seed, args.trials) for seed in range(args.seeds)]
        naive = [gap(NAIVE, dataset, seed, args.trials) for seed in range(args.seeds)]
        all_ours += ours
        all_naive += naive
        print(f"{dataset:>14}: ours {summary(ours)} | naive {summary(naive)}", flush=True)
    print(f"{'all':>14}: ours {summary(all_ours)} | naive {summary(all_naive)}")
    mean, sd = statistics.fmean(all_ours), statistics.stdev(all_ours)
    print(f"ours within one sd of zero: {abs(mean) <= sd} ({len(all_ours)} searches, "
          f"{args.trials} trials each, {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
