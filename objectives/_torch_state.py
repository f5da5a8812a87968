"""A PyTorch run's state in its epoch checkpoints (``_nn_resume``): written after each epoch,
read back to go on from the next.

:data:`STATE_FILE` holds the network's ``state_dict``, the optimizer's and the learning-rate
scheduler's, the best epoch's weights, the batch generator's state and torch's random state
(dropout); the learning rates so far and the train scores go in the checkpoint's JSON. A run
that goes on from it trains the same batches with the same dropout masks: on the CPU, the
same network as an uninterrupted run. The torch objective hands its functions the ``torch``
module (torch is imported in the objective's own module only).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from objectives._network import Training
    from objectives._nn_settings import TrainSettings

STATE_FILE = "torch_state.pt"


@dataclass
class Loop:
    """What the epoch loop carries from epoch to epoch besides the network and optimizer."""

    lrs: list[float] = field(default_factory=list)
    best_state: dict[str, Any] | None = None
    train_score: float | None = None
    best_train_score: float | None = None
    start: int = 0  #: the first epoch to train


def begin(torch: Any, training: Training, network: Any, optimizer: Any, scheduler: Any,
          generator: Any, device: Any) -> Loop:
    """A fresh loop, or the one the run's last checkpoint holds: the network, optimizer,
    schedule and random state are put back (the history and early stopping's state too)."""
    restored = training.resume.restore() if training.resume is not None else None
    if restored is None:
        return Loop()
    saved = torch.load(restored.folder / STATE_FILE, map_location="cpu", weights_only=True)
    network.load_state_dict(saved["network"])
    extra = restored.extra
    if extra.get("optimizer") == type(optimizer).__name__:
        optimizer.load_state_dict(saved["optimizer"])
    if not restored.same_training:  # a Population Based Training segment: its own settings
        _take_settings(optimizer, scheduler, training.settings)
    elif scheduler is not None and saved["scheduler"] is not None:
        scheduler.load_state_dict(saved["scheduler"])
    generator.set_state(saved["generator"])
    if training.seed is not None:  # inside the run's fork_rng: the global state is restored
        torch.set_rng_state(saved["rng"])
        if device.type == "cuda" and saved["cuda_rng"] is not None:
            torch.cuda.set_rng_state(saved["cuda_rng"], device)
    return Loop(lrs=[float(v) for v in extra["lrs"]], best_state=saved["best"],
                train_score=extra["train_score"], best_train_score=extra["best_train_score"],
                start=training.epochs if restored.finished else restored.start)


def writer(torch: Any, loop: Loop, network: Any, optimizer: Any, scheduler: Any,
           generator: Any, device: Any) -> Callable[[Path], dict[str, Any]]:
    """What writes the state after an epoch into a checkpoint's folder."""

    def write(folder: Path) -> dict[str, Any]:
        torch.save({
            "network": network.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "best": loop.best_state,
            "generator": generator.get_state(),
            "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
        }, folder / STATE_FILE)
        return {"lrs": loop.lrs, "train_score": loop.train_score,
                "best_train_score": loop.best_train_score,
                "optimizer": type(optimizer).__name__}

    return write


def _take_settings(optimizer: Any, scheduler: Any, settings: TrainSettings) -> None:
    """The config's learning rate, weight decay and momentum, kept by the optimizer and the
    schedule from now on."""
    for group in optimizer.param_groups:
        group["lr"] = group["initial_lr"] = settings.lr
        group["weight_decay"] = settings.weight_decay
        if "momentum" in group:
            group["momentum"] = settings.momentum
    if scheduler is not None and hasattr(scheduler, "base_lrs"):
        scheduler.base_lrs = [settings.lr for _ in optimizer.param_groups]
