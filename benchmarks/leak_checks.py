"""Leak checks on planted data: what each check names, false alarms on clean data, run time.

A planted suite (undeclared groups, jittered copies at several noise levels, derived-target
columns, lagged and merely strong features) goes through the framework's own split and
``check_leaks``; each case prints the kinds of findings named, against the kinds expected.
Clean data (scikit-learn's five bundled datasets and two generated ones) should name nothing
new. Last, each check's run time on 100,000 rows x 100 columns.

    .venv/bin/python benchmarks/leak_checks.py [--seed 0] [--rows 100000] [--columns 100]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from search import Data
from search.core._data import load_and_split
from search.integrity import _leaks
from search.integrity._leaks import check_leaks

NEW = ("near_duplicates", "undeclared_groups", "target_leak")


def kinds(frame: pd.DataFrame, task: str, seed: int, **data_args: object) -> list[str]:
    spec = Data(frame, **data_args)  # type: ignore[arg-type]
    split = load_and_split(spec, task=task, seed=seed, base_dir=None)
    time_column = spec.time if isinstance(spec.time, str) else None
    found = check_leaks(split.dev, split.test, groups=spec.groups, time=time_column, seed=seed)
    return sorted({f.kind for f in found})


def patients(seed: int, *, with_id: bool, jitter: float = 0.0, n: int = 100) -> pd.DataFrame:
    """Ten rows a patient, a fingerprint pair of features, the label the patient's."""
    rng = np.random.default_rng(seed)
    patient = np.repeat(np.arange(n), 10)
    fingerprint = rng.normal(size=(n, 2))[patient] + rng.normal(0, jitter, (n * 10, 2))
    frame = pd.DataFrame(rng.normal(size=(n * 10, 3))).add_prefix("n")
    frame["fp1"], frame["fp2"] = fingerprint[:, 0], fingerprint[:, 1]
    if with_id:
        frame["patient"] = patient + 1000
    frame["y"] = rng.integers(0, 2, n)[patient]
    return frame


def copies(seed: int, jitter: float, n: int = 300) -> pd.DataFrame:
    """Every row copied four times with ``jitter`` (a share of each feature's spread)."""
    rng = np.random.default_rng(seed)
    X = np.repeat(rng.normal(size=(n, 5)), 4, axis=0)
    X += rng.normal(0, jitter, X.shape)
    return pd.DataFrame(X).add_prefix("x").assign(y=np.repeat(rng.integers(0, 2, n), 4))


def derived(seed: int, task: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(1000, 4))).add_prefix("x")
    if task == "classification":
        frame["y"] = (frame["x0"] + rng.normal(0, 1, 1000) > 0).astype(int)
        frame["outcome_code"] = frame["y"] * 10 + 1
    else:
        frame["y"] = frame["x0"] * 2 + rng.normal(0, 1, 1000)
        frame["y_exp"] = np.exp(frame["y"] / 4)  # a monotone function of the target
    return frame


def walk(seed: int, lag: int, rows: int = 20_000) -> pd.DataFrame:
    """A time-ordered random walk with a lagged measurement of it (legitimate)."""
    rng = np.random.default_rng(seed)
    y = np.cumsum(rng.normal(size=rows))
    return pd.DataFrame({"x_lag": np.r_[np.zeros(lag), y[:-lag]],
                         "x2": rng.normal(size=rows), "y": y})


def strong(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=1000)
    return pd.DataFrame({"x": x + rng.normal(0, 0.05, 1000), "y": x})  # R² about 0.997


def planted(seed: int) -> list[tuple[str, Callable[[], list[str]], str]]:
    c, r = "classification", "regression"
    cases = [
        ("patients, id column left as a feature",
         lambda: kinds(patients(seed, with_id=True), c, seed, target="y"), "undeclared_groups"),
        ("patients, same id declared groups=",
         lambda: kinds(patients(seed, with_id=True), c, seed, target="y", groups="patient"), "-"),
        ("patients, no id, exact fingerprint",
         lambda: kinds(patients(seed, with_id=False), c, seed, target="y"), "undeclared_groups"),
        ("patients, no id, fingerprint 1 % jitter",
         lambda: kinds(patients(seed, with_id=False, jitter=0.01), c, seed, target="y"),
         "undeclared_groups"),
        ("patients, no id, fingerprint 5 % jitter",
         lambda: kinds(patients(seed, with_id=False, jitter=0.05), c, seed, target="y"),
         "undeclared_groups"),
    ]
    for jitter in (0.001, 0.01, 0.05, 0.2):
        cases.append((f"rows copied 4x, {jitter:.1%} jitter",
                      lambda j=jitter: kinds(copies(seed, j), c, seed, target="y"),
                      "near_duplicates"))
    cases += [
        ("derived: class code of the target", lambda: kinds(derived(seed, c), c, seed,
                                                            target="y"), "target_leak"),
        ("derived: exp of a regression target", lambda: kinds(derived(seed, r), r, seed,
                                                              target="y"), "target_leak"),
        ("merely strong feature (R² 0.997)", lambda: kinds(strong(seed), r, seed, target="y"),
         "-"),
        ("time-ordered walk, target lagged 1 row",
         lambda: kinds(walk(seed, 1), r, seed, target="y", time=True), "-"),
        ("time-ordered walk, target lagged 5 rows",
         lambda: kinds(walk(seed, 5), r, seed, target="y", time=True), "-"),
    ]
    return cases


def clean(seed: int) -> list[tuple[str, Callable[[], list[str]]]]:
    from sklearn import datasets

    def bundled(name: str) -> list[str]:
        frame = getattr(datasets, f"load_{name}")(as_frame=True).frame
        task = "regression" if name == "diabetes" else "classification"
        return kinds(frame, task, seed, target="target")

    def generated(task: str) -> list[str]:
        make = datasets.make_classification if task == "classification" else (
            datasets.make_regression)
        X, y = make(2000, 20, n_informative=8, random_state=seed)
        return kinds(pd.DataFrame(X).add_prefix("f").assign(y=y), task, seed, target="y")

    names = ("breast_cancer", "wine", "digits", "iris", "diabetes")
    cases = [(name, lambda n=name: bundled(n)) for name in names]
    cases += [(f"make_{t}(2000, 20)", lambda t=t: generated(t))
              for t in ("classification", "regression")]
    return cases


def timing(seed: int, rows: int, columns: int) -> None:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, columns))
    frame = pd.DataFrame(X).add_prefix("f")
    for i in range(columns // 10):  # a tenth of the columns small integers
        frame[f"f{i}"] = rng.integers(0, 50, rows)
    frame["y"] = (X[:, -1] + X[:, -2] + rng.normal(size=rows) > 0).astype(int)
    split = load_and_split(Data(frame, target="y"), task="classification", seed=seed,
                           base_dir=None)
    dev, test = split.dev, split.test
    checks: list[tuple[str, Callable[[], object]]] = [
        ("exact duplicates", lambda: _leaks._duplicates(dev.X, test)),
        ("near-duplicates", lambda: _leaks._near_duplicates(dev.X, test, seed)),
        ("single feature", lambda: _leaks._single_feature_leaks(dev.X, dev.y, dev.task, seed)),
        ("undeclared groups", lambda: _leaks._undeclared_groups(dev.X, dev.y, dev.task, seed)),
        ("identifiers", lambda: _leaks._identifiers(dev.X, None)),
        ("all (check_leaks)", lambda: check_leaks(dev, test, groups=None, time=None, seed=seed)),
    ]
    print(f"\nrun time, {len(dev.X):,} development + {len(test):,} test rows x {columns} columns")
    print(f"  {'check':<20} {'wall':>8} {'CPU':>8}  findings")
    for name, check in checks:
        start, cpu = time.perf_counter(), time.process_time()
        found = check()
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        print(f"  {name:<20} {wall:6.2f} s {cpu:6.2f} s  {len(found)}")  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--columns", type=int, default=100)
    args = parser.parse_args()
    print(f"{'planted case':<42} {'expected':<18} named")
    caught = 0
    cases = planted(args.seed)
    for name, run, expected in cases:
        named = run()
        ok = (expected == "-" and not set(named) & set(NEW)) or expected in named
        caught += ok
        print(f"{name:<42} {expected:<18} {', '.join(named) or '-'}{'' if ok else '  (MISSED)'}")
    print(f"as expected: {caught} of {len(cases)}")
    print(f"\n{'clean dataset':<42} named (new checks: {', '.join(NEW)})")
    alarms = 0
    for name, run in clean(args.seed):
        named = run()
        alarms += bool(set(named) & set(NEW))
        print(f"{name:<42} {', '.join(named) or '-'}")
    print(f"false alarms of the new checks: {alarms}")
    timing(args.seed, args.rows, args.columns)


if __name__ == "__main__":
    main()
