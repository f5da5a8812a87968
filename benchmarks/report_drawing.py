"""Time to draw ``report.html``: the ``report`` command, and a page drawn in a warm process.

A study folder of cheap trials (``benchmarks/cheap_study.py``, ``--no-tracking``) is made once per
size; then, alternating, (a) ``python -m search report FOLDER`` as a fresh process (what a user
runs: imports included) and (b) in one fresh process, the page drawn twice in a row (the first
drawing loads what drawing needs; the second is the cost of drawing alone). Medians over
``--repeats``.

    .venv/bin/python benchmarks/report_drawing.py [--trials 200 1000] [--repeats 5]

Run it with ``PYTHONPATH`` on another tree to time that tree's report (the commands run there).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import overhead  # search_tree()

HERE = Path(__file__).resolve().parent

WARM = """
import sys, time
from pathlib import Path
from search.watching._report_file import write_report
folder = Path(sys.argv[1])
t0 = time.perf_counter(); write_report(folder)
t1 = time.perf_counter(); write_report(folder)
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def make_study(trials: int, results: Path) -> Path:
    subprocess.run([sys.executable, "-m", "search", str(HERE / "cheap_study.py"), "--trials",
                    str(trials), "--no-tracking", "--results", str(results)],
                   check=True, capture_output=True, cwd=overhead.search_tree())
    return results / "cheap"


def command(folder: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "search", "report", str(folder)], check=True,
                   capture_output=True, cwd=overhead.search_tree())
    return time.perf_counter() - start


def in_process(folder: Path) -> tuple[float, float]:
    done = subprocess.run([sys.executable, "-c", WARM, str(folder)], check=True,
                          capture_output=True, text=True, cwd=overhead.search_tree())
    first, again = (float(x) for x in done.stdout.split())
    return first, again


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, nargs="+", default=[200, 1000])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"tree {overhead.search_tree()}, load average at start {os.getloadavg()}")
    print("trials  `report` command s (runs)            first page s  page again s")
    for trials in args.trials:
        with tempfile.TemporaryDirectory() as tmp:
            folder = make_study(trials, Path(tmp))
            commands, firsts, agains = [], [], []
            for i in range(args.repeats):
                if i % 2 == 0:
                    commands.append(command(folder))
                    first, again = in_process(folder)
                else:
                    first, again = in_process(folder)
                    commands.append(command(folder))
                firsts.append(first)
                agains.append(again)
            runs = ", ".join(f"{c:.2f}" for c in commands)
            print(f"{trials:>6}  {statistics.median(commands):6.2f} ({runs:<28}) "
                  f"{statistics.median(firsts):12.3f}  {statistics.median(agains):12.3f}")
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
