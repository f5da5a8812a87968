"""Per-epoch overhead of TorchObjective against a bare PyTorch training loop, same model.

Both train the same MLP (the ``mlp`` space's default: 2 x 64 ReLU, Adam 1e-3, batches of 64)
on the same standardized digits holdout split (70/15 of the data), on one thread. The bare
loop is what a practitioner writes: shuffled mini-batches, then per epoch a validation pass
(loss and accuracy) and a copy of the best state. The objective does that plus the study
metric on the training batches and on validation, history, TensorBoard events, early-stopping
bookkeeping, and the report to a real Optuna trial with the median pruner on the CLI's journal
store, and the pruning question.

The machine is shared, so the two are interleaved epoch by epoch: the trial handle's
``report`` runs one epoch of the bare loop (timed, and not counted as the objective's). An
epoch of the objective is the time from one report to the next, plus the report itself. CPU
time of this process is the headline; wall time also counts other people's work. What a trial
costs once (preprocessing, building the network, the checkpoint and files at the end) is
printed apart.

    .venv/bin/python benchmarks/dl_overhead.py [--runs 5] [--epochs 40] [--width 64]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


class BareLoop:
    """The loop a practitioner writes, one epoch at a time, seeded the same way."""

    def __init__(self, X: np.ndarray, y: np.ndarray, Xv: np.ndarray, yv: np.ndarray,
                 width: int) -> None:
        import torch

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            self.net = torch.nn.Sequential(
                torch.nn.Linear(X.shape[1], width), torch.nn.ReLU(),
                torch.nn.Linear(width, width), torch.nn.ReLU(), torch.nn.Linear(width, 10))
        self.generator = torch.Generator().manual_seed(0)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=1e-3)
        self.loss_fn = torch.nn.CrossEntropyLoss()
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y)
        self.Xv, self.yv = torch.from_numpy(Xv), torch.from_numpy(yv)
        self.best, self.best_state = -1.0, None

    def epoch(self) -> None:
        import torch

        net, opt, loss_fn = self.net, self.opt, self.loss_fn
        net.train()
        order = torch.randperm(len(self.X), generator=self.generator)
        for start in range(0, len(self.X), 64):
            rows = order[start:start + 64]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(self.X[rows]), self.y[rows])
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            out = net(self.Xv)
            float(loss_fn(out, self.yv))
            accuracy = float((out.argmax(1) == self.yv).float().mean())
        if accuracy > self.best:
            self.best, self.best_state = accuracy, copy.deepcopy(net.state_dict())


class InterleavingHandle:
    """An Optuna trial handle that runs (and times) one bare epoch after each epoch's report.

    ``ours``: from the end of one bare epoch to the next report (the objective's epoch), plus
    the report and the pruning question; ``bare``: the bare epochs.
    """

    def __init__(self, inner: Any, bare: BareLoop) -> None:
        self._inner, self._bare = inner, bare
        self.number, self.seed, self.artifact_dir = inner.number, inner.seed, inner.artifact_dir
        self.ours: dict[str, list[float]] = {k: [] for k in CLOCKS}
        self.bare: dict[str, list[float]] = {k: [] for k in CLOCKS}
        self.total: dict[str, float] = {}
        self._left: dict[str, float] | None = None
        self._epoch: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        return {k: clock() for k, clock in CLOCKS.items()}

    def report(self, value: float, step: int) -> None:
        now = self._now()
        self._epoch = {k: now[k] - self._left[k] for k in CLOCKS} if self._left else {}
        self._inner.report(value, step)
        self._add(now)

    def should_prune(self) -> bool:
        now = self._now()
        verdict = self._inner.should_prune()
        self._add(now)
        for k in self._epoch:
            self.ours[k].append(self._epoch[k])
        now = self._now()
        self._bare.epoch()
        for k, clock in CLOCKS.items():
            self.bare[k].append(clock() - now[k])
        self._left = self._now()
        return bool(verdict)

    def _add(self, since: dict[str, float]) -> None:
        for k in self._epoch:
            self._epoch[k] += CLOCKS[k]() - since[k]

    def set_attr(self, key: str, value: Any) -> None:
        self._inner.set_attr(key, value)


class StoreHandle:
    """The trial handle with the engine's per-report work done in this process: the report
    and the prune question go to the study's store and pruner (a worker sends them to the
    driver instead, about 0.2 ms a round trip; see ``benchmarks/engine_overhead.py``)."""

    def __init__(self, trial: Any, folder: Path) -> None:
        self._trial, self.number, self.seed, self.artifact_dir = trial, trial.number, 0, folder
        folder.mkdir(parents=True, exist_ok=True)

    def report(self, value: float, step: int) -> None:
        self._trial.report(float(value), step)

    def should_prune(self) -> bool:
        return bool(self._trial.should_prune())

    def set_attr(self, key: str, value: Any) -> None:
        self._trial.set_user_attr(key, value)


def one_run(data: Any, arrays: tuple[np.ndarray, ...], epochs: int, width: int,
            folder: Path) -> InterleavingHandle:
    import optuna

    from objectives import TorchObjective, get_metric
    from search.core._store import open_store
    from search.core._strategies import make_pruner

    study = optuna.create_study(storage=open_store(folder), direction="maximize",
                                pruner=make_pruner("median"))
    trial = study.ask()
    handle = InterleavingHandle(StoreHandle(trial, folder / "trials" / "trial_00000"),
                                BareLoop(*arrays, width))
    objective = TorchObjective(epochs=epochs, patience=10**6, threads=1)
    config = {"layers": 2, "width": width, "lr": 1e-3, "batch_size": 64}
    start = {k: clock() for k, clock in CLOCKS.items()}
    value = objective.evaluate(config, data, handle, get_metric("accuracy"))
    total = {k: clock() - start[k] for k, clock in CLOCKS.items()}
    study.tell(trial, value)
    handle.total = total
    return handle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--width", type=int, default=64)
    args = parser.parse_args()

    import optuna
    import torch
    from sklearn.datasets import load_digits

    from objectives import DevData, _nn_data, _nn_settings

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(1)
    Xf, y = load_digits(return_X_y=True, as_frame=True)
    data = DevData(Xf, y.to_numpy(), "classification", classes=tuple(range(10)))
    ((train, valid),) = _nn_data.splits(data, None, _nn_settings.VALIDATION_SIZE, 0)
    prep = _nn_data.Preprocessor("multiclass", data.classes).fit(Xf.iloc[train], data.y[train])
    arrays = (prep.features(Xf.iloc[train]), prep.target(data.y[train]),
              prep.features(Xf.iloc[valid]), prep.target(data.y[valid]))

    handles = []
    with tempfile.TemporaryDirectory() as tmp:
        one_run(data, arrays, 2, args.width, Path(tempfile.mkdtemp(dir=tmp)))  # warm up
        for _ in range(args.runs):
            handles.append(one_run(data, arrays, args.epochs, args.width,
                                   Path(tempfile.mkdtemp(dir=tmp))))

    print(f"torch {torch.__version__}, 1 thread, digits {len(arrays[0])} training rows, "
          f"MLP 2 x {args.width}, {args.runs} runs of {args.epochs} epochs, interleaved")
    for k in CLOCKS:
        ours = [t for h in handles for t in h.ours[k]]
        bare = [t for h in handles for t in h.bare[k]]
        per_run = [sum(h.ours[k]) / len(h.ours[k]) / (sum(h.bare[k][1:]) / len(h.bare[k][1:]))
                   for h in handles]
        # the first epoch has no report before it: count it at the run's median epoch
        fixed = statistics.median(
            h.total[k] - sum(h.bare[k]) - sum(h.ours[k]) - statistics.median(h.ours[k])
            for h in handles
        )
        print(f"{k}: per epoch bare {statistics.median(bare) * 1e3:.2f} ms, ours "
              f"{statistics.median(ours) * 1e3:.2f} ms; ratio of medians "
              f"{statistics.median(ours) / statistics.median(bare):.3f}, of means per run "
              f"{min(per_run):.3f}-{max(per_run):.3f} (median {statistics.median(per_run):.3f})"
              f"; once a trial: {fixed:.2f} s")


if __name__ == "__main__":
    main()
