"""What a network objective is given, checked: its arguments, the settings a config sets.

The shared constructor arguments of :class:`~objectives.TorchObjective` and
:class:`~objectives.KerasObjective` (in scikit-learn's words), the data and metric they can
validate with, the space of a ready-made network, the training settings (optimizer, schedule,
batches, epochs) and the ready-made network's settings read from a config, the network a
model factory built, and the device a trial runs on. Nothing here imports torch or tensorflow.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from objectives import _checks
from objectives._base import DevData
from objectives._errors import ObjectiveError, qualified_name
from objectives._metrics import Metric

#: the engine seals 15 % as the test part; 0.15 / 0.85 of the rest makes validation 15 % too
VALIDATION_SIZE = 0.15 / 0.85
FINALS = ("refit", "best_trial")
DEVICES = ("auto", "cpu", "cuda")
OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULERS = ("none", "plateau", "cosine", "step")

#: config keys that set up training; every other key is the model's
TRAIN_KEYS = frozenset({
    "optimizer", "lr", "weight_decay", "momentum", "nesterov", "batch_size",
    "scheduler", "factor", "plateau_patience", "step_size", "gamma", "epochs", "patience",
})
#: config keys of the ready-made networks (the torch MLP and the Keras dense network)
NETWORK_KEYS = frozenset({"layers", "width", "activation", "dropout", "batch_norm"})
ACTIVATIONS = ("relu", "gelu", "silu", "tanh", "elu", "leaky_relu")


# --- arguments and data -----------------------------------------------------------------------


def validate_arguments(obj: Any) -> None:
    """The shared constructor arguments of a deep-learning objective, in sklearn's words."""
    name = type(obj).__name__

    def bad(param: str, must: str) -> ObjectiveError:
        return ObjectiveError(f"The '{param}' parameter of {name} must be {must}. "
                              f"Got {getattr(obj, param)!r} instead.")

    for param in ("epochs", "patience"):
        value = getattr(obj, param)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise bad(param, "an int >= 1")
    folds = obj.folds
    if folds is not None and (isinstance(folds, bool) or not isinstance(folds, int) or folds < 2):
        raise bad("folds", "None (a holdout validation part) or an int >= 2")
    size = obj.validation_size
    if size is not None and (isinstance(size, bool) or not isinstance(size, (int, float))
                             or not 0 < size < 1):
        raise bad("validation_size", "None (15 % of the whole data) or a float in (0, 1)")
    if size is not None and folds is not None:
        raise ObjectiveError(f"validation_size={size!r} has no effect with folds={folds}: "
                             "each fold validates in turn; leave one of them unset")
    if obj.final not in FINALS:
        raise bad("final", "'refit' or 'best_trial'")
    if obj.final == "best_trial" and folds is not None:
        raise ObjectiveError(f"final='best_trial' keeps the one network a trial trained on its "
                             f"holdout part; with folds={folds} a trial trains {folds}. Use "
                             "folds=None or final='refit'.")
    if obj.device not in DEVICES:
        raise bad("device", "'auto', 'cpu' or 'cuda'")
    if not isinstance(obj.tensorboard, bool):
        raise bad("tensorboard", "a bool")
    threads = obj.threads
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                or threads < 1):
        raise bad("threads", "None (the framework's default) or an int >= 1")
    every = obj.checkpoint_every
    if every is not None and (isinstance(every, bool) or not isinstance(every, int) or every < 0):
        raise bad("checkpoint_every", "None (while saving costs little), an int >= 1 (every that "
                  "many epochs) or 0 (never)")
    delta = obj.min_delta
    if isinstance(delta, bool) or not isinstance(delta, (int, float)) or delta < 0:
        raise bad("min_delta", "a number >= 0")


def check_data(data: DevData | None, metric: Metric | None, objective: Any) -> None:
    """Data and metric fit a deep-learning objective's validation."""
    name = type(objective).__name__
    if metric is None:
        raise ObjectiveError(f"{name} needs a metric")
    if data is None:
        raise ObjectiveError(f"{name} needs data: give the study a dataset")
    if data.task != metric.task:
        raise ObjectiveError(f"the data are for {data.task}, but metric {metric.name} is for "
                             f"{metric.task}")
    if data.groups is not None and data.time_ordered:
        raise ObjectiveError("the data are both grouped and time-ordered; choose one")
    _checks.check_finite(data.X)
    _checks.check_auto_dtypes(data.X)
    if objective.folds is not None:
        _checks.check_folds(data, objective.folds)
        return
    if len(data) < 4:
        raise ObjectiveError(f"{len(data)} development rows are too few for a training and a "
                             "validation part")
    if data.task == "classification" and data.groups is None and not data.time_ordered:
        import numpy as np

        labels, counts = np.unique(np.asarray(data.y), return_counts=True)
        if counts.min() < 2:
            label = labels[int(counts.argmin())]
            label = label.item() if hasattr(label, "item") else label
            raise ObjectiveError(f"the class {label!r} has a single development row; a "
                                 "stratified validation part needs at least 2 of each class")


def check_space_keys(space: Any, known: frozenset[str], model_name: str) -> None:
    """With a ready-made network every space parameter must be one the objective reads."""
    for param in _checks.walk_space(_checks.space_dict(space)):
        if param.name not in known:
            import difflib

            close = difflib.get_close_matches(param.name, sorted(known), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ObjectiveError(f"{param.path}: the ready-made {model_name} has no parameter "
                                 f"'{param.name}'{hint}; it reads: {', '.join(sorted(known))}")


# --- the device ---------------------------------------------------------------------------------


def choose_device(requested: str, cuda_available: bool, environ: Mapping[str, str]) -> str:
    """``"cuda"`` when the trial was given a GPU, else ``"cpu"``.

    A trial was given a GPU when CUDA is available and ``CUDA_VISIBLE_DEVICES`` does not hide
    every device: Ray sets it to the trial's GPUs, and to ``""`` for a trial without one;
    unset, the process sees every GPU of the machine (the local backend).

    >>> choose_device("auto", True, {"CUDA_VISIBLE_DEVICES": ""})
    'cpu'
    >>> choose_device("auto", True, {"CUDA_VISIBLE_DEVICES": "0"})
    'cuda'
    """
    if requested == "cpu":
        return "cpu"
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    hidden = visible is not None and visible.strip() in ("", "-1")
    given = cuda_available and not hidden
    if requested == "cuda" and not given:
        why = ("CUDA_VISIBLE_DEVICES hides every GPU" if hidden and cuda_available
               else "CUDA is not available")
        raise ObjectiveError(f"device='cuda', but {why}; use device='auto' or 'cpu'")
    return "cuda" if given else "cpu"


# --- training settings from the config ----------------------------------------------------------


@dataclass(frozen=True)
class TrainSettings:
    """How a network is trained: optimizer, schedule, batches and epochs, from the config.

    Keys missing from the config take these defaults; ``epochs`` and ``patience`` default to
    the objective's arguments.
    """

    epochs: int
    patience: int
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9
    nesterov: bool = False
    batch_size: int = 64
    scheduler: str = "none"
    factor: float = 0.5
    plateau_patience: int = 5
    step_size: int = 10
    gamma: float = 0.5

    def __post_init__(self) -> None:
        def bad(key: str, must: str) -> ObjectiveError:
            return ObjectiveError(f"config '{key}' must be {must}. "
                                  f"Got {getattr(self, key)!r} instead.")

        if self.optimizer not in OPTIMIZERS:
            raise bad("optimizer", "one of " + ", ".join(OPTIMIZERS))
        if self.scheduler not in SCHEDULERS:
            raise bad("scheduler", "one of " + ", ".join(SCHEDULERS))
        for key in ("epochs", "patience", "batch_size", "plateau_patience", "step_size"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise bad(key, "an int >= 1")
        for key, low, high, must in (
            ("lr", 0.0, math.inf, "a number > 0"),
            ("factor", 0.0, 1.0, "a number in (0, 1)"),
            ("gamma", 0.0, 1.0, "a number in (0, 1]"),
            ("weight_decay", 0.0, math.inf, "a number >= 0"),
            ("momentum", 0.0, 1.0, "a number in [0, 1)"),
        ):
            value = getattr(self, key)
            inside = isinstance(value, (int, float)) and not isinstance(value, bool) and (
                low < value < high if key in ("lr", "factor")
                else low < value <= high if key == "gamma"
                else low <= value < high
            )
            if not inside:
                raise bad(key, must)
        if not isinstance(self.nesterov, bool):
            raise bad("nesterov", "a bool")

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, epochs: int,
                    patience: int) -> TrainSettings:
        values: dict[str, Any] = {"epochs": epochs, "patience": patience}
        values.update({k: v for k, v in config.items() if k in TRAIN_KEYS})
        for key in ("lr", "weight_decay", "momentum", "factor", "gamma"):
            if isinstance(values.get(key), int) and not isinstance(values[key], bool):
                values[key] = float(values[key])
        return cls(**values)

    def scheduled_lr(self, epoch: int) -> float | None:
        """The learning rate of ``epoch`` for the cosine and step schedules (else ``None``)."""
        if self.scheduler == "cosine":
            return self.lr * 0.5 * (1 + math.cos(math.pi * epoch / self.epochs))
        if self.scheduler == "step":
            return self.lr * self.gamma ** (epoch // self.step_size)
        return None


def network_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The ready-made network's settings, with defaults, checked."""
    layers = config.get("layers", 2)
    width = config.get("width", 64)
    activation = config.get("activation", "relu")
    dropout = config.get("dropout", 0.0)
    batch_norm = config.get("batch_norm", False)
    for key, value in (("layers", layers), ("width", width)):
        if isinstance(value, bool) or not isinstance(value, int) or value < (key == "width"):
            raise ObjectiveError(f"config '{key}' must be an int >= {int(key == 'width')}. "
                                 f"Got {value!r} instead.")
    if activation not in ACTIVATIONS:
        raise ObjectiveError(f"config 'activation' must be one of {', '.join(ACTIVATIONS)}. "
                             f"Got {activation!r} instead.")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) \
            or not 0 <= dropout < 1:
        raise ObjectiveError(f"config 'dropout' must be a number in [0, 1). "
                             f"Got {dropout!r} instead.")
    if not isinstance(batch_norm, bool):
        raise ObjectiveError(f"config 'batch_norm' must be a bool. Got {batch_norm!r} instead.")
    return {"layers": layers, "width": width, "activation": activation,
            "dropout": float(dropout), "batch_norm": batch_norm}


def check_output_shape(shape: tuple[int, ...], expected: int, factory: Any) -> None:
    """The network's output for 2 rows must be ``(2, expected)`` (``(2,)`` for 1 output)."""
    ok = shape == (2, expected) or (expected == 1 and shape == (2,))
    if not ok:
        size = shape[-1] if len(shape) == 2 else shape
        need = ("1 (one logit for two classes)" if expected == 1 and shape and len(shape) == 2
                else str(expected))
        raise ObjectiveError(
            f"model factory {describe_factory(factory)} built a network whose output has "
            f"size {size} for each row (shape {tuple(shape)} for 2 rows), but this task needs "
            f"{need}: the last layer must have n_outputs units"
        )


def describe_factory(factory: Any) -> str:
    if isinstance(factory, str):
        return repr(factory)
    return qualified_name(factory)


def factory_error(factory: Any, exc: Exception) -> ObjectiveError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return ObjectiveError(f"model factory {describe_factory(factory)} raised "
                          f"{type(exc).__name__}: {first}")
