"""A network's training checkpointed after its epochs, and going on from the last checkpoint.

A trial handle that keeps checkpoints (``trial.checkpoint``, ``trial.last_checkpoint``: the
engine's worker trial) is given, after each epoch of a holdout run, the state that training
needs to go on exactly: the framework's files (the network's weights, the optimizer's state,
the learning-rate schedule's position, the best epoch's weights, the random state:
``_torch_state``, ``_keras_state``) beside :data:`STATE_JSON` (the epoch, the history so far,
early stopping's best score, best epoch and patience counter, the learning rates and train
scores, the training seconds, the config). A trial that runs again (its worker died and the
engine retries it; ``--resume`` continues a trial that was running) is handed its last
checkpoint: a folder holding that file, written by the same framework for the same part and
network, is restored and training goes on from the next epoch, which reports only the epochs
after the checkpoint's. With folds nothing is checkpointed: such a trial starts over.

An epoch is saved on the step it reported, after the pruner's word: every epoch while saving
has cost at most :data:`BUDGET` of the run's training time so far (``checkpoint_every=None``;
a small network's epochs may be shorter than a save, which then comes every few epochs), or
every ``checkpoint_every`` epochs; in either case the run's last epoch and the epoch the
pruner stops at (a Population Based Training segment goes on from it).
"""

from __future__ import annotations

import json
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from objectives import _nn_records, _nn_settings
from objectives._base import CheckpointingTrial, TrialHandle
from objectives._errors import Pruned

#: the share of the training time that saving checkpoints may take, unless told how often
BUDGET = 0.1
#: the file of a network checkpoint that says what it is, with the framework-free state
STATE_JSON = "training_state.json"
FORMAT = "search.network-checkpoint/1"

#: writes the framework's state into a folder; returns its JSON-able part (lrs, scores, ...)
Writer = Callable[[Path], dict[str, Any]]
#: after each epoch: (epoch, validation score, whether it is the run's last, the writer)
OnEpoch = Callable[[int, float, bool, Writer | None], None]


@dataclass(frozen=True)
class Restored:
    """A checkpoint to go on from: its folder, the epoch it ended, what the framework kept.

    ``finished``: that epoch was the run's last (its epochs done, or early stopping stopped);
    ``same_training``: the config's training settings are the saved ones (a Population Based
    Training segment may change them: the optimizer then takes the new ones)."""

    folder: Path
    epoch: int
    extra: dict[str, Any]
    finished: bool
    same_training: bool

    @property
    def start(self) -> int:
        """The first epoch still to train."""
        return self.epoch + 1


class Checkpoints:
    """One holdout run's checkpoints through its trial handle (see the module's docstring)."""

    def __init__(self, trial: CheckpointingTrial, framework: str, part: str,
                 config: Mapping[str, Any], history: _nn_records.History,
                 early: _nn_records.EarlyStopping | None, every: int | None = None) -> None:
        self._trial = trial
        self._every = every
        self._framework = framework
        self._part = part
        self._config = _config_key(config)
        self._history = history
        self._early = early
        self._started = time.perf_counter()
        self.seconds_before = 0.0  #: the training seconds of the attempts before this one
        self.save_seconds = 0.0  #: the seconds this run spent saving checkpoints

    @classmethod
    def of(cls, trial: TrialHandle, framework: str, part: tuple[int, int, str],
           config: Mapping[str, Any], history: _nn_records.History,
           early: _nn_records.EarlyStopping | None,
           every: int | None = None) -> Checkpoints | None:
        """The run's checkpoints, when the handle keeps them, the run is the holdout's and
        ``every`` (see :meth:`due`) is not 0."""
        if part[1] != 1 or every == 0 or not callable(getattr(trial, "checkpoint", None)):
            return None
        return cls(trial, framework, part[2], config, history,  # type: ignore[arg-type]
                   early, every)

    def due(self, epoch: int, last: bool) -> bool:
        """Whether to save the state after ``epoch`` (``last``: the run ends with it)."""
        if last:
            return True
        if self._every is not None:
            return (epoch + 1) % self._every == 0
        training = time.perf_counter() - self._started - self.save_seconds
        return self.save_seconds <= BUDGET * training

    def restore(self) -> Restored | None:
        """The trial's last checkpoint, if this objective wrote it for this run: the history
        and early stopping's state are put back; ``None``: train from the first epoch."""
        found = self._read()
        if found is None:
            return None
        folder, state = found
        self._history.records[:] = [dict(r) for r in state["history"]]
        early = state["early"]
        if self._early is not None and early is not None:
            self._early.best = float(early["best"])
            self._early.best_epoch = int(early["best_epoch"])
            self._early.wait = int(early["wait"])
        self.seconds_before = float(state["seconds"])
        self._started, self.save_seconds = time.perf_counter(), 0.0
        return Restored(folder, int(state["epoch"]), dict(state["extra"]),
                        bool(state["finished"]),
                        state["config"]["training"] == self._config["training"])

    def save(self, epoch: int, last: bool, write: Writer, step: int) -> None:
        """Save the state after ``epoch`` (the run's ``last``) as the trial's ``step``."""
        began = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="search-epoch-") as tmp:
            folder = Path(tmp)
            extra = write(folder)
            early = self._early
            state = json.dumps({
                "format": FORMAT, "framework": self._framework, "part": self._part,
                "epoch": epoch, "finished": last, "config": self._config,
                "seconds": self.seconds_before + began - self._started,
                "history": self._history.records,
                "early": {"best": early.best, "best_epoch": early.best_epoch,
                          "wait": early.wait} if early is not None else None,
                "extra": extra,
            }, default=_nn_records.jsonable)
            (folder / STATE_JSON).write_text(state, encoding="utf-8")
            self._trial.checkpoint(folder, step=step)
        self.save_seconds += time.perf_counter() - began

    def _read(self) -> tuple[Path, dict[str, Any]] | None:
        """The checkpoint's folder and saved state, when the trial's last checkpoint is this
        run's."""
        last = getattr(self._trial, "last_checkpoint", None)
        try:
            folder = last() if callable(last) else None
            if not isinstance(folder, Path) or not (folder / STATE_JSON).is_file():
                return None
            state = json.loads((folder / STATE_JSON).read_text(encoding="utf-8"))
        except Exception as exc:  # noqa: BLE001 - the run starts over; say why
            warnings.warn(f"trial {self._trial.number}: its last checkpoint does not load "
                          f"({type(exc).__name__}: {exc}); training starts from the first epoch",
                          stacklevel=3)
            return None
        if not (isinstance(state, dict) and state.get("format") == FORMAT
                and state.get("framework") == self._framework
                and state.get("part") == self._part
                and state.get("config", {}).get("network") == self._config["network"]):
            return None
        return folder, state


def _config_key(config: Mapping[str, Any]) -> dict[str, str]:
    """The config as compared on restore: the network's part must be the saved one; the
    training settings may change (a Population Based Training segment)."""

    def plain(value: Any) -> Any:
        return value.item() if hasattr(value, "item") else repr(value)

    def text(keys: Any) -> str:
        return json.dumps({k: config[k] for k in sorted(keys)}, default=plain)

    training = set(config) & _nn_settings.TRAIN_KEYS
    return {"network": text(set(config) - training), "training": text(training)}


def epoch_hook(trial: TrialHandle, offset: int, fold: int, n_folds: int,
               checkpoints: Checkpoints | None) -> OnEpoch:
    """Report each epoch's validation score at step ``offset + epoch``, ask the pruner, save
    the epoch's checkpoint on that step when it is due, and stop if the pruner said so.

    The trial's last step (the last epoch of its last part) is reported, but the pruner is not
    asked: the trial has trained all it will, and pruning it then throws its result away.
    """

    def on_epoch(epoch: int, score: float, last: bool, write: Writer | None = None) -> None:
        trial.report(score, offset + epoch)
        pruned = not (last and fold == n_folds - 1) and trial.should_prune()
        if (checkpoints is not None and write is not None
                and checkpoints.due(epoch, last or pruned)):
            checkpoints.save(epoch, last, write, offset + epoch)
        if pruned:
            where = f" of fold {fold + 1}/{n_folds}" if n_folds > 1 else ""
            raise Pruned(f"pruned after epoch {epoch + 1}{where}")

    return on_epoch
