"""Fold pruning at equal compute: the racing pruner against Optuna's median pruner and none.

In one process, for speed: the demo's space (an RBF SVM or a random forest, each with its own
parameters, ``examples/breast_cancer.py``) on scikit-learn's bundled datasets, 5-fold CV on
the development part (75 %, stratified), grouped multivariate TPE (``auto``'s choice for this
conditional space). Fold scores are reported as the objectives report them (the running mean
after each fold), and each arm may fit ``--folds-budget`` folds in all: equal compute, counted
in fold fits. Then the best config is refit on the development part and scored once on the
test part (accuracy). Printed: the mean test accuracy and trials run per arm and dataset, and
how many trials were pruned.

    .venv/bin/python benchmarks/fold_pruning.py [--seeds 10] [--folds-budget 100]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

import numpy as np
import optuna
from sklearn import datasets
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from search.core._strategies import make_pruner

DATASETS = {"breast_cancer": datasets.load_breast_cancer, "wine": datasets.load_wine,
            "digits": datasets.load_digits}
ARMS = ("racing", "median", "none")
FOLDS = 5


def model(trial: optuna.Trial, seed: int):  # type: ignore[no-untyped-def]
    if trial.suggest_categorical("model", ["svm", "forest"]) == "svm":
        return make_pipeline(StandardScaler(), SVC(
            C=trial.suggest_float("svm.C", 1e-2, 1e3, log=True),
            gamma=trial.suggest_float("svm.gamma", 1e-5, 1e-1, log=True)))
    return RandomForestClassifier(
        n_estimators=trial.suggest_int("forest.n_estimators", 20, 200, log=True),
        max_depth=trial.suggest_int("forest.max_depth", 2, 16),
        max_features=trial.suggest_categorical("forest.max_features", ["sqrt", "log2"]),
        n_jobs=1, random_state=seed)


def search(x: np.ndarray, y: np.ndarray, pruner: str, seed: int, budget: int):  # type: ignore[no-untyped-def]
    sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True)
    study = optuna.create_study(direction="maximize", sampler=sampler,
                                pruner=make_pruner(pruner, "folds"))
    study.enqueue_trial({"model": "svm", "svm.C": 1.0, "svm.gamma": 1e-2})  # the default config
    folds = list(StratifiedKFold(FOLDS, shuffle=True, random_state=seed).split(x, y))
    used = 0
    while used < budget:
        trial = study.ask()
        estimator, scores, pruned = model(trial, seed), [], False
        for step, (train, held) in enumerate(folds):
            if used >= budget:
                break
            fitted = clone(estimator).fit(x[train], y[train])
            used += 1
            scores.append(float((fitted.predict(x[held]) == y[held]).mean()))
            trial.report(statistics.fmean(scores), step)
            if step < FOLDS - 1 and trial.should_prune():
                pruned = True
                break
        if len(scores) < FOLDS and not pruned:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)  # the budget ran out
            break
        study.tell(trial, None if pruned else statistics.fmean(scores),
                   state=optuna.trial.TrialState.PRUNED if pruned else None)
    return study


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--folds-budget", type=int, default=100)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore")
    print(f"load average at start: {os.getloadavg()}; {args.seeds} seeds, "
          f"{args.folds_budget} fold fits an arm")
    start = time.perf_counter()
    for name, load in DATASETS.items():
        x, y = load(return_X_y=True)
        found: dict[str, list[tuple[float, int, int]]] = {arm: [] for arm in ARMS}
        for seed in range(args.seeds):
            dev_x, test_x, dev_y, test_y = train_test_split(
                x, y, test_size=0.25, stratify=y, random_state=seed)
            for arm in ARMS if seed % 2 == 0 else ARMS[::-1]:
                study = search(dev_x, dev_y, arm, seed, args.folds_budget)
                best = study.best_trial
                final = clone(model(optuna.trial.FixedTrial(best.params), seed))
                test = float((final.fit(dev_x, dev_y).predict(test_x) == test_y).mean())
                states = [t.state.name for t in study.trials]
                found[arm].append((test, states.count("COMPLETE") + states.count("PRUNED"),
                                   states.count("PRUNED")))
        print(f"\n{name} ({len(y)} rows), {time.perf_counter() - start:.0f} s so far")
        print("arm      test accuracy mean (sd)   trials a seed   pruned a seed")
        for arm, runs in found.items():
            tests = [r[0] for r in runs]
            print(f"{arm:<8} {statistics.fmean(tests):.4f} ({statistics.stdev(tests):.4f})"
                  f"          {statistics.fmean(r[1] for r in runs):6.1f}"
                  f"          {statistics.fmean(r[2] for r in runs):6.1f}")


if __name__ == "__main__":
    main()
