"""The driver's cost per trial as the study grows: completion rate per tenth of a long run.

Runs ``python -m search`` on a study of zero-cost trials (two floats, a formula), with the
sampler and tracking given, and reads back from the journal when each trial completed. Prints
trials a second over each tenth of the run (by trial count), the last tenth against the first,
the driver's peak memory (its resident set, polled every 0.2 s), and raw Optuna in memory with
the same sampler over the same trials as the anchor.

    .venv/bin/python benchmarks/driver_scale.py [--trials 100000] [--workers 4]
        [--sampler random] [--tracking] [--raw]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ray_common import ROOT, completions, machine

STUDY = """
from search import Study
from spaces import Float, Space

def objective(config):
    return (config["x"] - 0.3) ** 2 + config["y"]

study = Study(name="zero", space=Space({"x": Float(0, 1), "y": Float(0, 1)}),
              objective=objective, direction="minimize", trials=1000, seed=0, pruner="none")
"""


def peak_rss(pid: int, stop: threading.Event, found: list[int]) -> None:
    """Poll ``pid``'s resident set (kB) until ``stop``; keep the largest in ``found``."""
    while not stop.wait(0.2):
        try:
            text = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return
        for line in text.splitlines():
            if line.startswith("VmRSS:"):
                found[0] = max(found[0], int(line.split()[1]))


def ours(trials: int, workers: int, sampler: str, tracking: bool,
         flags: list[str]) -> tuple[list[float], float, int]:
    """Completion times, wall seconds and the driver's peak RSS (MB) of one run."""
    with tempfile.TemporaryDirectory() as tmp:
        study = Path(tmp) / "zero.py"
        study.write_text(STUDY)
        cmd = [sys.executable, "-m", "search", str(study), "--results", str(Path(tmp) / "out"),
               "--trials", str(trials), "--workers", str(workers), "--sampler", sampler,
               "--no-final", *([] if tracking else ["--no-tracking"]), *flags]
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        found, stop = [0], threading.Event()
        poll = threading.Thread(target=peak_rss, args=(proc.pid, stop, found), daemon=True)
        poll.start()
        _, err = proc.communicate()
        wall = time.perf_counter() - start
        stop.set()
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-3000:]!r}")
        return completions(Path(tmp) / "out" / "zero"), wall, found[0] // 1024


def raw(trials: int, sampler: str) -> list[float]:
    """Completion times of raw Optuna in memory: ask, the same formula, tell."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    made = {"random": lambda: optuna.samplers.RandomSampler(seed=0),
            "tpe": lambda: optuna.samplers.TPESampler(seed=0)}
    study = optuna.create_study(sampler=made[sampler]())
    times = []
    for _ in range(trials):
        trial = study.ask()
        x, y = trial.suggest_float("x", 0, 1), trial.suggest_float("y", 0, 1)
        study.tell(trial, (x - 0.3) ** 2 + y)
        times.append(time.time())
    return times


def tenths(times: list[float]) -> list[float]:
    """Trials a second over each tenth of the trials, in completion order."""
    times = sorted(times)
    size = len(times) // 10
    rates = []
    for k in range(10):
        lo, hi = k * size, (k + 1) * size - 1
        start = times[lo - 1] if lo else times[0]
        count = hi - lo if not lo else hi - lo + 1
        rates.append(count / max(times[hi] - start, 1e-9))
    return rates


def show(name: str, rates: list[float], extra: str = "") -> None:
    cells = " ".join(f"{r:6.0f}" for r in rates)
    print(f"{name:>28}: {cells}  last/first {rates[-1] / rates[0]:.2f}{extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--sampler", default="random")
    parser.add_argument("--tracking", action="store_true")
    parser.add_argument("--raw", action="store_true", help="also raw Optuna in memory")
    parser.add_argument("--no-reproducible", action="store_true", help="pass --no-reproducible")
    args = parser.parse_args()
    print(machine())
    print(f"{args.trials} zero-cost trials, --workers {args.workers}, --sampler {args.sampler}, "
          f"tracking {'on' if args.tracking else 'off'}{' --no-reproducible' * args.no_reproducible}"
          "; trials a second per tenth of the run")
    flags = ["--no-reproducible"] if args.no_reproducible else []
    times, wall, rss = ours(args.trials, args.workers, args.sampler, args.tracking, flags)
    show("python -m search", tenths(times), f"  wall {wall:.1f} s, driver peak RSS {rss} MB")
    if args.raw:
        show("raw Optuna, in memory", tenths(raw(args.trials, args.sampler)))


if __name__ == "__main__":
    main()
