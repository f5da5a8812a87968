"""Trial checkpoints and Population Based Training, measured through ``python -m search``.

1. **Epochs saved by resuming after a kill.** A study of ``--trials`` trials of 10 epochs
   (0.1 s each; each epoch's state saved with ``trial.checkpoint``); the worker of every trial
   SIGKILLs itself once, after epoch ``--kill-at``. Run twice: the objective restores
   ``trial.last_checkpoint()`` on its retry, or ignores it (starts over, as before checkpoints).
   Prints epochs trained in all, and wall seconds (median of ``--rounds``, order alternated).
2. **PBT against successive halving and random search at equal training steps.** A problem
   whose best learning rate rises with the accuracy reached (0.001 at the start, 0.01 from
   accuracy 40 on; a fixed rate cannot follow it), 60 steps a member. PBT: 8 members,
   perturbation every 5 steps. Random search without pruning: 10 trials (600 steps). Optuna's
   successive halving: 150 trials (its steps are counted; it gets at least PBT's). Seeds
   ``0..--seeds-1``; prints each one's mean best accuracy, its standard error and the steps.

    .venv/bin/python benchmarks/checkpoints_pbt.py [--rounds 3] [--trials 4] [--kill-at 7]
        [--seeds 5]
"""

from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KILLED = """
import os, signal, time
from pathlib import Path
from search import Study
from spaces import Float, Space

def objective(config, trial):
    state = (trial.last_checkpoint() if {restore} else None) or {{"epoch": 0, "loss": 10.0}}
    marker = Path(__file__).parent / f"killed-{{trial.number}}"
    loss = state["loss"]
    for epoch in range(state["epoch"], 10):
        time.sleep(0.1)
        loss = loss * (0.5 + config["x"])
        with open(Path(__file__).parent / "epochs.txt", "a") as f:
            f.write("1\\n")
        trial.report(loss, epoch)
        trial.checkpoint({{"epoch": epoch + 1, "loss": loss}}, step=epoch)
        if epoch + 1 == {kill_at} and not marker.exists():
            marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
    return loss

study = Study(name="killed", space=Space({{"x": Float(0.0, 0.4)}}), objective=objective,
              direction="minimize", trials={trials}, seed=0, pruner="none", sampler="random")
"""

PBT_PROBLEM = """
import math, random
from objectives import Pruned
from search import Study
from search.core._pbt import PBT
from spaces import Float, Space

def best_lr(acc):
    return 0.001 * 10 ** min(acc / 40.0, 1.0)

def objective(config, trial):
    state = trial.last_checkpoint() or {{"acc": 0.0, "step": 0}}
    acc, step = state["acc"], state["step"]
    rng = random.Random(trial.number * 1000 + step)
    while step < 60:
        step += 1
        miss = abs(math.log(config["lr"] / best_lr(acc)))
        acc += math.exp(-2.0 * miss) * (0.5 + rng.random())
        trial.report(acc, step)
        if step % 5 == 0:
            trial.checkpoint({{"acc": acc, "step": step}}, step=step)
        if step < 60 and trial.should_prune():
            raise Pruned()
    return acc

study = Study(name="pbt", space=Space({{"lr": Float(1e-4, 0.05, log=True)}}), objective=objective,
              direction="maximize", trials=8, workers=2, seed={seed}, sampler="random",
              pruner=PBT(perturbation_interval=5, seed={seed},
                         hyperparam_mutations={{"lr": Float(1e-4, 0.05, log=True)}}))
"""


def search(folder: Path, *flags: str) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "search", "study.py", "--no-tracking",
                           "--no-final", *flags], cwd=folder, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{folder}: exit {done.returncode}: {done.stderr[-500:]}")
    return time.perf_counter() - started


def killed(restore: bool, trials: int, kill_at: int) -> tuple[int, float]:
    folder = Path(tempfile.mkdtemp(prefix="ck-bench-"))
    (folder / "study.py").write_text(KILLED.format(restore=restore, trials=trials,
                                                   kill_at=kill_at))
    seconds = search(folder)
    return len((folder / "epochs.txt").read_text().split()), seconds


def pbt_run(seed: int, *flags: str) -> tuple[float, int]:
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    folder = Path(tempfile.mkdtemp(prefix="pbt-bench-"))
    (folder / "study.py").write_text(PBT_PROBLEM.format(seed=seed))
    search(folder, *flags)
    journal = JournalStorage(JournalFileBackend(str(folder / "results/pbt/study.journal")))
    trials = optuna.load_study(study_name="pbt", storage=journal).get_trials(deepcopy=False)
    best = max(t.value for t in trials if t.state.name == "COMPLETE")
    steps = sum((t.last_step or 0) - (t.user_attrs.get("pbt") or {}).get("from_step", 0)
                for t in trials)
    return best, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--kill-at", type=int, default=7)
    parser.add_argument("--seeds", type=int, default=5)
    opts = parser.parse_args()
    runs: dict[bool, list[tuple[int, float]]] = {True: [], False: []}
    for round_ in range(opts.rounds):
        for restore in ((True, False) if round_ % 2 == 0 else (False, True)):
            runs[restore].append(killed(restore, opts.trials, opts.kill_at))
    print(f"{opts.trials} trials x 10 epochs of 0.1 s, each worker SIGKILLed once after epoch "
          f"{opts.kill_at}:")
    print("| retry | epochs trained | wall s (median) |\n|---|---|---|")
    for restore, label in ((False, "starts over"), (True, "from its last checkpoint")):
        epochs = statistics.median(e for e, _ in runs[restore])
        print(f"| {label} | {epochs:g} | {statistics.median(s for _, s in runs[restore]):.1f} |")
    configs = {"PBT (8 members)": (), "random, no pruning (10 trials)": ("--pruner", "none",
               "--trials", "10"), "successive halving (150 trials)": (
               "--pruner", "successive_halving", "--trials", "150")}
    print(f"\nbest accuracy over seeds 0..{opts.seeds - 1} (mean ± standard error), steps run:")
    print("| search | best accuracy | steps (mean) |\n|---|---|---|")
    for label, flags in configs.items():
        found = [pbt_run(seed, *flags) for seed in range(opts.seeds)]
        bests = [b for b, _ in found]
        se = statistics.stdev(bests) / math.sqrt(len(bests)) if len(bests) > 1 else 0.0
        print(f"| {label} | {statistics.mean(bests):.2f} ± {se:.2f} | "
              f"{statistics.mean(s for _, s in found):.0f} |", flush=True)


if __name__ == "__main__":
    main()
