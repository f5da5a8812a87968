"""A Keras run's state in its epoch checkpoints (``_nn_resume``): written after each epoch,
once every callback has seen it, and read back to go on from the next.

:data:`WEIGHTS` holds the network's weights (trainable or not: BatchNorm's moving statistics),
:data:`OPTIMIZER` the optimizer's variables (its step count, its learning rate as
ReduceLROnPlateau left it, its moments), :data:`BEST` EarlyStopping's best weights; the
checkpoint's JSON holds the learning rates and train scores so far and the counters of
EarlyStopping, ReduceLROnPlateau and ModelCheckpoint. Keras' shuffling of the batches is not
saved: the epochs after a restore see other batch orders than an uninterrupted run would
(seeded ``seed + epoch``: the same ones each time), so the network is close to, not the same
as, an uninterrupted run's.

:class:`EpochEnd` is the run's last callback: it puts the callbacks' state back when a run
starts from a checkpoint, and after each epoch calls the trial's hook (report, checkpoint,
prune).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

from objectives._errors import Pruned

if TYPE_CHECKING:
    from objectives._network import Training
    from objectives._nn_resume import Restored

WEIGHTS = "weights.npz"
OPTIMIZER = "optimizer.npz"
BEST = "best_weights.npz"
#: the counters each Keras callback keeps between epochs
_COUNTERS = {
    "EarlyStopping": ("wait", "stopped_epoch", "best", "best_epoch"),
    "ReduceLROnPlateau": ("wait", "cooldown_counter", "best"),
    "ModelCheckpoint": ("best",),
}


def restore(keras: Any, network: Any, training: Training,
            best_file: Path | None) -> Restored | None:
    """Put the run's last checkpoint back into the compiled ``network`` (weights, optimizer;
    the history and early stopping's state too), or ``None`` when the run starts afresh.
    ``best_file``: where ModelCheckpoint keeps the best epoch's weights; one an earlier attempt
    left is removed (it may hold an epoch after the checkpoint's)."""
    restored = training.resume.restore() if training.resume is not None else None
    if restored is None:
        return None
    network.set_weights(_arrays(restored.folder / WEIGHTS))
    optimizer = network.optimizer
    optimizer.build(network.trainable_variables)
    if restored.extra.get("optimizer") == type(optimizer).__name__:
        optimizer.load_own_variables({str(i): value for i, value in
                                      enumerate(_arrays(restored.folder / OPTIMIZER))})
    if not restored.same_training:  # a Population Based Training segment: its own settings
        optimizer.learning_rate = training.settings.lr
    if training.seed is not None:
        keras.utils.set_random_seed((training.seed + restored.start) % 2**32)
    if best_file is not None:
        best_file.unlink(missing_ok=True)
    return restored


def _arrays(path: Path) -> list[Any]:
    import numpy as np

    with np.load(path) as saved:
        return [saved[f"arr_{i}"] for i in range(len(saved.files))]


def _save_arrays(path: Path, arrays: list[Any]) -> None:
    import numpy as np

    np.savez(path, *arrays)


@functools.cache
def _epoch_end_class(keras: Any) -> type:
    """:class:`EpochEnd` as a ``keras.callbacks.Callback`` (Keras is imported late)."""
    return type("EpochEnd", (EpochEnd, keras.callbacks.Callback), {})


def epoch_end(keras: Any, training: Training, scorer: Any, callbacks: list[Any],
              restored: Restored | None) -> Any:
    return _epoch_end_class(keras)(training, scorer, callbacks, restored)


class EpochEnd:
    """The run's last callback (see the module's docstring); a pruning verdict stops
    training and is kept in :attr:`pruned`."""

    model: Any

    def __init__(self, training: Training, scorer: Any, callbacks: list[Any],
                 restored: Restored | None) -> None:
        super().__init__()
        self._training = training
        self._scorer = scorer
        self._callbacks = callbacks
        self._restored = restored
        self.pruned: Pruned | None = None

    def on_train_begin(self, logs: Any = None) -> None:
        restored = self._restored
        if restored is None:
            return
        saved = restored.extra.get("callbacks", {})
        for callback in self._callbacks:
            for key, value in saved.get(type(callback).__name__, {}).items():
                setattr(callback, key, value)
            if type(callback).__name__ == "EarlyStopping" and (restored.folder / BEST).is_file():
                callback.best_weights = _arrays(restored.folder / BEST)

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        training, scorer = self._training, self._scorer
        if scorer.valid is None or training.early is None or training.on_epoch is None:
            return
        last = scorer.diverged or training.early.stop or epoch + 1 == training.epochs
        try:
            training.on_epoch(epoch, float(scorer.val_score), last, self._write)
        except Pruned as pruned:
            self.pruned = pruned
            self.model.stop_training = True

    def _write(self, folder: Path) -> dict[str, Any]:
        """The state after this epoch, in ``folder``."""
        network, scorer = self.model, self._scorer
        _save_arrays(folder / WEIGHTS, list(network.get_weights()))
        store: dict[str, Any] = {}
        network.optimizer.save_own_variables(store)
        _save_arrays(folder / OPTIMIZER, [store[str(i)] for i in range(len(store))])
        counters: dict[str, dict[str, Any]] = {}
        for callback in self._callbacks:
            name = type(callback).__name__
            if name in _COUNTERS:
                counters[name] = {key: _plain(getattr(callback, key, None))
                                  for key in _COUNTERS[name]}
            if name == "EarlyStopping" and callback.best_weights is not None:
                _save_arrays(folder / BEST, list(callback.best_weights))
        return {"lrs": list(scorer.lrs), "train_scores": list(scorer.train_scores),
                "optimizer": type(network.optimizer).__name__, "callbacks": counters}


def _plain(value: Any) -> Any:
    """A callback's counter as JSON holds it (numpy and backend scalars as numbers)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return float(value)
