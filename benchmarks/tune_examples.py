"""Ray Tune's own examples, unchanged, under raw Ray Tune and under ``python -m search``.

The examples ship inside the installed Ray wheel (``ray/tune/examples/``); each is copied into
an empty working folder of its own and run twice, alternating which runs first each round:

- **raw Tune**: ``python EXAMPLE -- ARGS`` with ``HOME`` set to the working folder (Tune's
  results go to ``~/ray_results``); its trial states are read back with
  ``ray.tune.ExperimentAnalysis`` (TERMINATED, ERROR; an early-stopped trial is TERMINATED).
- **the framework**: ``python -m search EXAMPLE --no-tracking [FLAGS] -- ARGS``; states are
  counted from ``results/**/trials.csv`` (COMPLETE, PRUNED, FAIL; a PBT study's segments
  are counted by member, the last segment's state).

Prints a Markdown table: example | raw Tune: trials and states, median seconds | ``python -m
search``: the same | ratio of the medians. ``--backend ray`` adds that flag to the framework's
runs. ``--rounds N`` repeats (medians quoted).

    .venv/bin/python benchmarks/tune_examples.py [--rounds 3] [--backend ray] [--only NAME]
"""

from __future__ import annotations

import argparse
import collections
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXAMPLES = {  # name -> the example's own arguments
    "tune_basic_example.py": ["--smoke-test"],
    "hyperband_function_example.py": ["--smoke-test"],
    "async_hyperband_example.py": ["--smoke-test"],
    "custom_func_checkpointing.py": ["--smoke-test"],
    "pbt_function.py": ["--smoke-test"],
    "optuna_example.py": ["--smoke-test"],
}

_RAW_STATES = """
import collections, sys
from pathlib import Path
from ray.tune import ExperimentAnalysis
states = collections.Counter()
for state in Path(sys.argv[1]).rglob("experiment_state-*.json"):
    for trial in ExperimentAnalysis(str(state.parent)).trials:
        states[trial.status] += 1
print(dict(states))
"""


def examples_folder() -> Path:
    import ray.tune.examples

    return Path(list(ray.tune.examples.__path__)[0])


def run(command: list[str], folder: Path, limit: float) -> tuple[int, float, str]:
    env = {**os.environ, "HOME": str(folder), "PYTHONDONTWRITEBYTECODE": "1",
           "MPLBACKEND": "Agg"}
    started = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True,
                              timeout=limit)
        code, err = done.returncode, done.stderr
    except subprocess.TimeoutExpired:
        code, err = 124, "timed out"
    lines = [line for line in err.splitlines() if line.strip()]
    return code, time.perf_counter() - started, lines[-1] if lines else ""


def raw_states(folder: Path) -> str:
    done = subprocess.run([sys.executable, "-c", _RAW_STATES, str(folder / "ray_results")],
                          capture_output=True, text=True, cwd=folder)
    return done.stdout.strip() or done.stderr.strip().splitlines()[-1]


def framework_states(folder: Path) -> str:
    states: collections.Counter[str] = collections.Counter()
    for path in (folder / "results").rglob("trials.csv"):
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        members: dict[str, str] = {}
        for row in rows:
            member = row.get("pbt_member") or row["number"]
            members[member] = row["state"]  # a PBT member's last segment
        states.update(members.values())
    return str(dict(states))


def one(name: str, args: list[str], raw: bool, flags: list[str]) -> tuple[int, float, str]:
    folder = Path(tempfile.mkdtemp(prefix="tune-ex-"))
    try:
        shutil.copy(examples_folder() / name, folder / name)
        if raw:
            code, seconds, last = run([sys.executable, name, *args], folder, 900)
            states = raw_states(folder) if code == 0 else last
        else:
            command = [sys.executable, "-m", "search", name, "--no-tracking", *flags, "--", *args]
            code, seconds, last = run(command, folder, 900)
            states = framework_states(folder) if code == 0 else last
        return code, seconds, states
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--backend", choices=("local", "ray"), default="local")
    parser.add_argument("--only", action="append", default=[])
    opts = parser.parse_args()
    flags = ["--backend", "ray"] if opts.backend == "ray" else []
    print("| example | raw Tune: states | s | `python -m search`: states | s | ratio |")
    print("|---|---|---|---|---|---|")
    for name, args in EXAMPLES.items():
        if opts.only and not any(o in name for o in opts.only):
            continue
        times: dict[bool, list[float]] = {True: [], False: []}
        states: dict[bool, str] = {}
        for round_ in range(opts.rounds):
            for raw in ((True, False) if round_ % 2 == 0 else (False, True)):
                code, seconds, said = one(name, args, raw, flags)
                times[raw].append(seconds)
                states[raw] = said if code == 0 else f"exit {code}: {said}"
        raw_s, ours_s = statistics.median(times[True]), statistics.median(times[False])
        print(f"| {name} | {states[True]} | {raw_s:.1f} | {states[False]} | {ours_s:.1f} | "
              f"{ours_s / raw_s:.2f} |", flush=True)


if __name__ == "__main__":
    main()
