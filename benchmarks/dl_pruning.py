"""Pruning saves work: epochs trained and best validation score, with and without a pruner.

Runs ``examples/digits_torch.py`` (the ready-made MLP space, TPE, early stopping with patience
6 in every arm) through the real command line for each seed and arm, in alternating order:
``local/median`` (Optuna's MedianPruner) and ``local/none`` (no pruner) by default;
``ray/median`` (the same pruner, trials on Ray actors) on request. Epochs are counted from ``trials.csv`` (one
``step_`` column a reported epoch, COMPLETE, PRUNED and FAIL trials alike).

    .venv/bin/python benchmarks/dl_pruning.py [--seeds 0 1 2] [--trials 30] [--arms ...]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "digits_torch.py"


def run(backend: str, pruner: str, seed: int, trials: int, folder: Path) -> dict[str, float]:
    cmd = [sys.executable, "-m", "search", str(EXAMPLE), "--results", str(folder),
           "--seed", str(seed), "--trials", str(trials), "--pruner", pruner,
           "--backend", backend, "--no-final", "--no-tracking"]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    with open(folder / "digits_torch" / "trials.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    epochs = [sum(1 for k, v in row.items() if k.startswith("step_") and v) for row in rows]
    values = [float(row["value"]) for row in rows if row["state"] == "COMPLETE"]
    return {
        "epochs": sum(epochs),
        "median_epochs": statistics.median(epochs),
        "pruned": sum(row["state"] == "PRUNED" for row in rows),
        "best": max(values),
        "wall": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--arms", nargs="+", default=["local/median", "local/none"],
                        help="backend/pruner pairs, e.g. ray/median")
    args = parser.parse_args()
    arms = [tuple(arm.split("/", 1)) for arm in args.arms]
    results: dict[tuple[str, ...], list[dict[str, float]]] = {arm: [] for arm in arms}
    print("arm          seed  epochs  median/trial  pruned  best      wall s")
    with tempfile.TemporaryDirectory() as tmp:
        for i, seed in enumerate(args.seeds):
            for backend, pruner in (arms if i % 2 == 0 else arms[::-1]):
                folder = Path(tmp) / f"{backend}-{pruner}-{seed}"
                try:
                    r = run(backend, pruner, seed, args.trials, folder)
                except RuntimeError as exc:
                    print(f"{backend}/{pruner} seed {seed}: {exc}")
                    continue
                results[(backend, pruner)].append(r)
                print(f"{backend + '/' + pruner:<12} {seed:>4}  {r['epochs']:>6}  "
                      f"{r['median_epochs']:>12}  {r['pruned']:>6}  {r['best']:.6f}  "
                      f"{r['wall']:>6.1f}", flush=True)
    base = results.get(("local", "none"))
    if not base:
        return
    base_epochs = sum(r["epochs"] for r in base)
    base_best = [r["best"] for r in base]
    sd = statistics.stdev(base_best) if len(base_best) > 1 else 0.0
    print(f"\nlocal/none: best {statistics.mean(base_best):.4f} +- {sd:.4f} (sd over seeds)")
    for arm in (a for a in arms if a != ("local", "none")):
        runs = results[arm]
        if not runs or len(runs) != len(base):
            continue
        best = [r["best"] for r in runs]
        ratio = sum(r["epochs"] for r in runs) / base_epochs
        gap = statistics.mean(base_best) - statistics.mean(best)
        print(f"{arm[0]}/{arm[1]}: epochs {ratio:.3f} of unpruned (target <= 0.4); best "
              f"{statistics.mean(best):.4f}, {gap:+.4f} below unpruned "
              f"({'within' if gap <= sd else 'outside'} one sd)")


if __name__ == "__main__":
    main()
