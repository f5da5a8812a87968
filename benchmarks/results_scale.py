"""Results at scale: ``report``, ``show``, ``search.load`` and a dashboard page at 20,000 and
100,000 trials.

A study folder is made by a real small run (``--no-tracking``, a dozen trials of a cheap
objective shaped like a scikit-learn one: a conditional space, five folds reported one by one,
fold scores and a training score kept, some trials pruned or failed), then its journal is grown
to the size asked by appending the lines a run's driver writes for each trial (created, its
parameters, its worker, each fold's score and report, its end), generated from the real
trials' own parameters and distributions; ``study.json``'s journal record is brought up to
date and ``trials.csv``/``best.json`` rewritten from the store by the run's own writer. Then,
alternating, each command runs as a fresh process (imports included) and the figures are
medians of ``--repeats``:

- ``python -m search report FOLDER``: seconds and the size of ``report.html``;
- ``python -m search show FOLDER``: seconds to the last line;
- ``search.load(FOLDER)``: ``.trials`` (``trials.csv``) and ``.optuna_study().trials`` (the
  journal replayed), in one fresh process each;
- ``python -m search dashboard FOLDER``: the study list (the journal replayed), the
  dashboard's own importances, the study's first page of trials (``/api/studies/0?after=0``)
  and the next, seconds and bytes, on a warm server;
- with ``--run N``: a real run of N cheap trials, the seconds after its last trial (the
  results files and the report written at the end).

    .venv/bin/python benchmarks/results_scale.py [--trials 20000 100000] [--repeats 3]
    .venv/bin/python benchmarks/results_scale.py --shape plain   # 2 floats, nothing reported
    .venv/bin/python benchmarks/results_scale.py --run 20000 --trials   # a real run's end only
    .venv/bin/python benchmarks/results_scale.py --against /tmp/before  # alternated with a tree

``--against TREE`` times another tree (a copy of ``search/``, ``objectives/``, ``spaces/``) on the
same studies, its commands alternated with this tree's, so both see the same load.

Run it with ``PYTHONPATH`` on another tree to time that tree (the commands run there).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PAGE_PATH = "/api/studies/0?after={after}"  # the dashboard's page of a study: its trials

FOLDS_STUDY = '''
"""Cheap trials shaped like a scikit-learn study's: a conditional space, five folds reported,
fold scores and a training score kept, pruned and failed trials."""

import random

from objectives import Pruned
from search import Study
from spaces import Categorical, Float, Int, Space


def objective(config, trial):
    rng = random.Random(repr(sorted(config.items())))
    if rng.random() < 0.03:
        raise ValueError("diverged")
    scores = []
    for fold in range(5):
        scores.append(0.8 + 0.19 * rng.random())
        trial.set_attr("fold_scores", list(scores))
        trial.report(sum(scores) / len(scores), fold)
        if fold < 4 and trial.should_prune():
            raise Pruned()
    trial.set_attr("train_score", min(1.0, max(scores) + 0.01))
    return sum(scores) / len(scores)


study = Study(
    name="scale",
    space=Space({"model": Categorical({
        "lr": {"C": Float(1e-2, 1e2, log=True, default=1.0)},
        "knn": {"n_neighbors": Int(1, 30), "weights": Categorical(["uniform", "distance"]),
                "leaf_size": Int(10, 60, log=True)},
    }, default="lr"), "scale": Categorical(["none", "standard", "robust"])}),
    objective=objective,
    direction="maximize",
    trials=12,
    sampler="random",
    pruner="median",
    seed=0,
)
'''

PLAIN_STUDY = '''
"""Cheap trials of two floats, nothing reported (the shape of benchmarks/cheap_study.py)."""

from search import Study
from spaces import Float, Space


def objective(config):
    return (config["x1"] - 2.5) ** 2 + (config["x2"] - 7.5) ** 2


study = Study(name="scale", space=Space({"x1": Float(-5, 10), "x2": Float(0, 15)}),
              objective=objective, direction="minimize", trials=12, seed=0)
'''

SHAPES = {"folds": FOLDS_STUDY, "plain": PLAIN_STUDY}


def make_study(results: Path, trials: int, shape: str = "folds", cwd: Path = ROOT) -> Path:
    """A study folder of ``trials`` trials under ``results``: a real small run, grown."""
    results.mkdir(parents=True, exist_ok=True)
    study_file = results / f"scale_{shape}.py"
    study_file.write_text(SHAPES[shape], encoding="utf-8")
    subprocess.run([sys.executable, "-m", "search", str(study_file), "--no-tracking",
                    "--results", str(results)], check=True, capture_output=True, cwd=cwd)
    folder = results / "scale"
    grow(folder, trials)
    return folder


def grow(folder: Path, total: int, seed: int = 0) -> None:
    """Append trials to ``folder``'s journal until it holds ``total``, as a driver writes them;
    then bring ``study.json``'s record, ``trials.csv`` and ``best.json`` up to date."""
    record = json.loads((folder / "study.json").read_text(encoding="utf-8"))
    append_trials(folder, total - _created(folder / "study.journal"), seed)
    _update_record(folder, record, total)
    _rewrite_results(folder, record)


def append_trials(folder: Path, count: int, seed: int = 0) -> None:
    """Append ``count`` trials to ``folder``'s journal as a driver writes them, each with the
    parameters (drawn anew) of one of the real run's complete trials. ``study.json`` and the
    results files are left as they are, as a run leaves them between two records."""
    journal = folder / "study.journal"
    real = _real_trials(journal)
    worker = json.loads(journal.read_text(encoding="utf-8").split("\n", 1)[0])["worker_id"]
    kinds = [t for t in real if t.state.name == "COMPLETE"]
    folds = max((len(t.intermediate_values) for t in real), default=0)
    start = max(t.datetime_complete for t in real if t.datetime_complete is not None)
    first = _created(journal)
    rng = random.Random(f"{seed}:{first}")
    with open(journal, "a", encoding="utf-8") as f:
        for number in range(first, first + count):
            when = start + datetime.timedelta(seconds=0.05 * (number - len(real) + 1))
            lines = _trial_lines(number, rng.choice(kinds), folds, when, rng)
            f.write("".join(_line(worker, op) for op in lines))


#: the trials of the real small run (its study file's budget), first in every journal here
REAL = 12
_CREATE = b'{"op_code":4,'  # how a line that creates a trial starts


def _created(journal: Path) -> int:
    """The trials created in ``journal``."""
    data = journal.read_bytes()
    return data.count(b"\n" + _CREATE) + data.startswith(_CREATE)


def _real_trials(journal: Path) -> list[Any]:
    """The real run's trials, replayed by Optuna from the journal's first lines only."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import BaseJournalBackend

    logs: list[dict[str, Any]] = []
    with open(journal, "rb") as f:
        created = 0
        for line in f:
            created += line.startswith(_CREATE)
            if created > REAL:
                break
            logs.append(json.loads(line))

    class _Head(BaseJournalBackend):
        def read_logs(self, log_number_from: int) -> list[dict[str, Any]]:
            return logs[log_number_from:]

        def append_logs(self, logs: list[dict[str, Any]]) -> None:
            raise RuntimeError("read only")

    storage = JournalStorage(_Head())
    study_id = storage.get_all_studies()[0]._study_id
    return storage.get_all_trials(study_id, deepcopy=False)


def _trial_lines(number: int, like: Any, folds: int, when: datetime.datetime,
                 rng: random.Random) -> list[dict[str, Any]]:
    """The journal operations of one trial with ``like``'s parameters, drawn anew."""
    ops: list[dict[str, Any]] = [{"op_code": 4, "study_id": 0, "datetime_start": _iso(when)}]
    quality = 0.0
    names = list(like.distributions)
    for name, dist in like.distributions.items():
        branch = any(other.startswith(name + ".") for other in names)  # keep like's branch
        internal = dist.to_internal_repr(like.params[name]) if branch else _draw(dist, rng)
        if hasattr(dist, "low"):
            low, high = float(dist.low), float(dist.high)
            quality += (internal - low) / (high - low) if high > low else 0.5
        ops.append({"op_code": 5, "trial_id": number, "param_name": name,
                    "param_value_internal": internal,
                    "distribution": optuna_json(dist)})
    ops.append({"op_code": 9, "trial_id": number, "system_attr": {"search:worker": "vm:1"}})
    end = _iso(when + datetime.timedelta(seconds=0.01))
    fate = rng.random()
    if fate < 0.03:
        ops.append({"op_code": 8, "trial_id": number, "user_attr": {"error": "ValueError: diverged"}})
        return [*ops, {"op_code": 6, "trial_id": number, "state": 3, "values": None,
                       "datetime_complete": end}]
    base = 0.8 + 0.05 * min(quality, 2.0)
    if not folds:
        value = (quality - 0.5) ** 2 * 40 + rng.random()
        return [*ops, {"op_code": 6, "trial_id": number, "state": 1, "values": [value],
                       "datetime_complete": end}]
    pruned_at = rng.randrange(1, folds) if fate < 0.18 else folds
    scores: list[float] = []
    for fold in range(pruned_at):
        scores.append(base + 0.09 * rng.random())
        ops.append({"op_code": 8, "trial_id": number, "user_attr": {"fold_scores": list(scores)}})
        ops.append({"op_code": 7, "trial_id": number, "step": fold,
                    "intermediate_value": sum(scores) / len(scores)})
    mean = sum(scores) / len(scores)
    if pruned_at < folds:
        return [*ops, {"op_code": 6, "trial_id": number, "state": 2, "values": [mean],
                       "datetime_complete": end}]
    ops.append({"op_code": 8, "trial_id": number, "user_attr": {"train_score": max(scores) + 0.01}})
    return [*ops, {"op_code": 6, "trial_id": number, "state": 1, "values": [mean],
                   "datetime_complete": end}]


def _draw(dist: Any, rng: random.Random) -> float:
    """A value of ``dist`` in Optuna's internal representation (a choice's index)."""
    import math

    if hasattr(dist, "choices"):
        return rng.randrange(len(dist.choices))
    low, high = float(dist.low), float(dist.high)
    if getattr(dist, "log", False):
        value = math.exp(rng.uniform(math.log(low), math.log(high)))
    else:
        value = rng.uniform(low, high)
    return float(round(value)) if type(dist).__name__ == "IntDistribution" else value


def optuna_json(dist: Any) -> str:
    from optuna.distributions import distribution_to_json

    return distribution_to_json(dist)


def _line(worker: str, op: dict[str, Any]) -> str:
    op = {"op_code": op["op_code"], "worker_id": worker,
          **{k: v for k, v in op.items() if k != "op_code"}}
    return json.dumps(op, separators=(",", ":")) + "\n"


def _iso(when: datetime.datetime) -> str:
    return when.isoformat(timespec="microseconds")


def _update_record(folder: Path, record: dict[str, Any], total: int) -> None:
    """``study.json`` as the run would leave it: the budget and the journal's record."""
    from search.core._journal_check import Ledger

    record["trials"] = total
    record["journal"] = Ledger(folder / "study.journal").advance()
    (folder / "study.json").write_text(json.dumps(record, indent=2), encoding="utf-8")


def _rewrite_results(folder: Path, record: dict[str, Any]) -> None:
    """``trials.csv`` and ``best.json`` from the grown store, by the run's writer."""
    import optuna

    from search.core._goals import Goals
    from search.core._store import read_store
    from search.watching._results import ResultsWriter
    from spaces import Space

    trials = optuna.load_study(study_name=record["name"],
                               storage=read_store(folder / "study.journal")).get_trials(deepcopy=False)
    goals = Goals({record.get("metric") or "value": record["direction"]})
    ResultsWriter(folder, Space.from_dict(record["space"]), goals).update(trials)


# -- timing ----------------------------------------------------------------------------------

LOAD = """
import sys, time
t0 = time.perf_counter()
import search
study = search.load(sys.argv[1])
frame = study.trials
t1 = time.perf_counter()
text = repr(study)
t2 = time.perf_counter()
trials = study.optuna_study().get_trials(deepcopy=False)
t3 = time.perf_counter()
study.metrics(len(trials) - 1)
t4 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2, t4 - t3, len(frame), len(trials))
"""


def timed(args: list[str], tree: Path) -> tuple[float, str]:
    """Seconds a fresh ``python ARGS`` takes in ``tree``, and what it printed."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *args], check=True, capture_output=True, text=True,
                          cwd=tree)
    return time.perf_counter() - start, done.stdout


def measure_commands(folder: Path, tree: Path, repeats: int) -> dict[str, list[float]]:
    """``report`` (s, MB), ``show`` (s) and ``search.load`` (s), ``repeats`` times each."""
    found: dict[str, list[float]] = {}
    for _ in range(repeats):
        seconds, _ = timed(["-m", "search", "report", str(folder)], tree)
        found.setdefault("report s", []).append(seconds)
        found.setdefault("report MB", []).append((folder / "report.html").stat().st_size / 1e6)
        seconds, _ = timed(["-m", "search", "show", str(folder)], tree)
        found.setdefault("show s", []).append(seconds)
        seconds, out = timed(["-c", LOAD, str(folder)], tree)
        frame, text, study, metrics = (float(x) for x in out.split()[:4])
        found.setdefault("load: import + .trials s", []).append(frame)
        found.setdefault("load: repr s", []).append(text)
        found.setdefault("load: optuna_study() trials s", []).append(study)
        found.setdefault("load: metrics(n) after s", []).append(metrics)
        found.setdefault("load process s", []).append(seconds)
    return found


def measure_dashboard(folder: Path, tree: Path, repeats: int) -> dict[str, list[float]]:
    """A warm dashboard over ``folder``: its study list (the journal replayed once), then the
    study's first page and the next, ``repeats`` times: seconds and MB."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "search", "dashboard", str(folder),
                               "--port", str(port)], cwd=tree, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    found: dict[str, list[float]] = {}
    try:
        assert server.stdout is not None
        server.stdout.readline()  # it listens
        seconds, _ = _get(port, "/api/studies")
        found["dashboard: study list (replay) s"] = [seconds]
        seconds, _ = _get(port, "/api/studies/0/param_importances")
        found["dashboard: its importances, first s"] = [seconds]
        for _ in range(repeats):
            for label, after in (("first page", 0), ("next page", 5000)):
                seconds, body = _get(port, PAGE_PATH.format(after=after))
                found.setdefault(f"dashboard: {label} s", []).append(seconds)
                found.setdefault(f"dashboard: {label} MB", []).append(len(body) / 1e6)
                found.setdefault(f"dashboard: {label} trials", []).append(
                    len(json.loads(body)["trials"]))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    return found


def _get(port: int, path: str) -> tuple[float, bytes]:
    start = time.perf_counter()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=600) as answer:
        body = answer.read()
    return time.perf_counter() - start, body


def after_last_trial(trials: int, tree: Path) -> tuple[float, float]:
    """A real run of ``benchmarks/cheap_study.py`` (random sampler, ``--no-tracking``): its
    whole time and the seconds from its last trial's line to its end (the results files and
    the report written at the end)."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.monotonic()
        run = subprocess.Popen(
            [sys.executable, "-m", "search", str(HERE / "cheap_study.py"), "--trials",
             str(trials), "--sampler", "random", "--no-tracking", "--results", tmp],
            cwd=tree, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert run.stdout is not None
        last = start
        for line in run.stdout:
            if line.startswith("trial "):
                last = time.monotonic()
        if run.wait() != 0:
            raise RuntimeError(f"the run of {trials} trials failed")
        end = time.monotonic()
    return end - start, end - last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, nargs="*", default=[20000, 100000])
    parser.add_argument("--shape", choices=sorted(SHAPES), nargs="+", default=["folds"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="build the studies here and keep them")
    parser.add_argument("--run", type=int, nargs="*", default=[],
                        help="also time real runs of this many cheap trials after their last")
    parser.add_argument("--against", type=Path,
                        help="another tree (a copy of search/, objectives/, spaces/) to time "
                             "alike, its runs alternated with this tree's")
    args = parser.parse_args()
    import search

    trees = [Path(search.__file__).resolve().parents[1], *([args.against] if args.against else [])]
    print(f"{datetime.datetime.now().isoformat(timespec='minutes')} on {platform.node()} "
          f"({os.cpu_count()} cores, Python {platform.python_version()}), trees "
          f"{', '.join(map(str, trees))}, load average at start {os.getloadavg()}; "
          f"medians of {args.repeats}, runs in brackets")
    for trials in args.run:
        runs: dict[Path, list[tuple[float, float]]] = {tree: [] for tree in trees}
        for i in range(args.repeats):
            for tree in trees[:: 1 if i % 2 == 0 else -1]:
                runs[tree].append(after_last_trial(trials, tree))
        for tree, found in runs.items():
            print(f"{tree}: a run of {trials} trials: whole "
                  f"{statistics.median(w for w, _ in found):.1f} s, after its last trial "
                  f"{statistics.median(a for _, a in found):.2f} s "
                  f"({', '.join(f'{a:.2f}' for _, a in found)})")
    for shape in args.shape:
        for trials in args.trials:
            with tempfile.TemporaryDirectory() as tmp:
                folder = _study(args.keep or Path(tmp), shape, trials, trees[0])
                _report(folder, shape, trials, _measure(folder, trees, args.repeats))


def _study(root: Path, shape: str, trials: int, tree: Path) -> Path:
    """The study folder of ``shape`` and ``trials`` under ``root``: made unless kept there."""
    where = root / f"{shape}_{trials}"
    if not (where / "scale" / "study.json").is_file():
        start = time.perf_counter()
        make_study(where, trials, shape, cwd=tree)
        print(f"{shape} {trials}: built in {time.perf_counter() - start:.0f} s")
    return where / "scale"


def _measure(folder: Path, trees: list[Path], repeats: int) -> dict[Path, dict[str, list[float]]]:
    """Every figure for each tree: the commands alternated between the trees, then each
    tree's dashboard."""
    found: dict[Path, dict[str, list[float]]] = {tree: {} for tree in trees}
    for i in range(repeats):
        for tree in trees[:: 1 if i % 2 == 0 else -1]:
            for name, values in measure_commands(folder, tree, 1).items():
                found[tree].setdefault(name, []).extend(values)
    for tree in trees:
        found[tree].update(measure_dashboard(folder, tree, repeats))
    return found


def _report(folder: Path, shape: str, trials: int,
            found: dict[Path, dict[str, list[float]]]) -> None:
    journal = (folder / "study.journal").stat().st_size / 1e6
    print(f"{shape}, {trials} trials (journal {journal:.0f} MB):")
    trees = list(found)
    print(f"  {'':36s} " + " | ".join(f"{str(tree):>30s}" for tree in trees))
    for name in found[trees[0]]:
        digits = 0 if name.endswith("trials") else 2
        cells = []
        for tree in trees:
            values = found[tree].get(name, [])
            runs = ", ".join(f"{v:.{digits}f}" for v in values)
            cells.append(f"{statistics.median(values):8.{digits}f} ({runs})" if values else "-")
        print(f"  {name:36s} " + " | ".join(f"{c:>30s}" for c in cells))


if __name__ == "__main__":
    main()
