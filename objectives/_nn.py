"""What the deep-learning objectives share, whatever the framework.

The holdout split (15 % of the whole data by default), K folds on request, the per-fold
preprocessing (fitted on the training rows only), the training settings read from a config,
early-stopping bookkeeping, the per-epoch history (JSON and a plot), the device decision, and
the sklearn-like wrapper that the engine scores on the sealed test. Nothing here imports torch
or tensorflow.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from objectives import _checks
from objectives._base import DevData
from objectives._errors import ObjectiveError
from objectives._metrics import Metric

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

#: the engine seals 15 % as the test part; 0.15 / 0.85 of the rest makes validation 15 % too
VALIDATION_SIZE = 0.15 / 0.85
FINALS = ("refit", "best_trial")
DEVICES = ("auto", "cpu", "cuda")
OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULERS = ("none", "plateau", "cosine", "step")
#: output kinds: one logit (binary), one logit a class, one value (scaled target)
Kind = Literal["binary", "multiclass", "regression"]

#: config keys that set up training; every other key is the model's
TRAIN_KEYS = frozenset({
    "optimizer", "lr", "weight_decay", "momentum", "nesterov", "batch_size",
    "scheduler", "factor", "plateau_patience", "step_size", "gamma", "epochs", "patience",
})
#: config keys of the ready-made networks (the torch MLP and the Keras dense network)
NETWORK_KEYS = frozenset({"layers", "width", "activation", "dropout", "batch_norm"})
ACTIVATIONS = ("relu", "gelu", "silu", "tanh", "elu", "leaky_relu")

# files a trial keeps in its artifact folder
CHECKPOINT = "checkpoint"
SUMMARY_JSON = "summary.json"
HISTORY_JSON = "history.json"
PREPROCESS_FILE = "preprocess.joblib"
TENSORBOARD_DIR = "tensorboard"


# --- arguments ----------------------------------------------------------------------------------


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


# --- splits -------------------------------------------------------------------------------------


def splits(data: DevData, folds: int | None, validation_size: float,
           seed: int | None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Training and validation row indices: one holdout pair, or ``folds`` pairs.

    The holdout follows the data's rule: whole groups, the last rows in time, stratified for
    classification, else shuffled; all seeded.
    """
    import numpy as np

    if folds is not None:
        from objectives._splits import cv_splitter

        yield from cv_splitter(data, folds, seed).split(data.X, np.asarray(data.y), data.groups)
        return
    n = len(data)
    index = np.arange(n)
    if data.time_ordered:
        n_valid = max(1, round(n * validation_size))
        yield index[: n - n_valid], index[n - n_valid:]
        return
    if data.groups is not None:
        from sklearn.model_selection import GroupShuffleSplit

        splitter = GroupShuffleSplit(1, test_size=validation_size, random_state=seed)
        yield next(splitter.split(data.X, data.y, data.groups))
        return
    from sklearn.model_selection import train_test_split

    stratify = np.asarray(data.y) if data.task == "classification" else None
    train, valid = train_test_split(index, test_size=validation_size, random_state=seed,
                                    stratify=stratify)
    yield np.sort(train), np.sort(valid)


# --- preprocessing and outputs ------------------------------------------------------------------


def output_kind(data_task: str, classes: Sequence[Any]) -> Kind:
    if data_task == "regression":
        return "regression"
    return "binary" if len(classes) == 2 else "multiclass"


def n_outputs(kind: Kind, classes: Sequence[Any]) -> int:
    return len(classes) if kind == "multiclass" else 1


def loss_name(kind: Kind, metric: Metric) -> str:
    """The training loss that matches the task and the metric."""
    if kind == "binary":
        return "binary_crossentropy"
    if kind == "multiclass":
        return "crossentropy"
    return "mae" if metric.name == "mae" else "mse"


def study_classes(data: DevData) -> tuple[Any, ...]:
    import numpy as np

    if data.task != "classification":
        return ()
    return tuple(data.classes) if data.classes else tuple(np.unique(np.asarray(data.y)).tolist())


class Preprocessor:
    """Features to float32 (impute, scale, one-hot) and the target to what the network learns.

    Fitted on the training rows only: the column statistics, and for regression the target's
    mean and standard deviation (the network learns the standardized target).
    """

    def __init__(self, kind: Kind, classes: Sequence[Any]) -> None:
        self.kind = kind
        self.classes = tuple(classes)

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> Preprocessor:
        import numpy as np

        from objectives._estimators import make_preprocessor

        self.columns_ = make_preprocessor().fit(X)
        self.feature_names_ = [str(n) for n in self.columns_.get_feature_names_out()]
        self.n_features_ = len(self.feature_names_)
        if self.kind == "regression":
            values = np.asarray(y, dtype=float)
            self.y_mean_ = float(values.mean())
            std = float(values.std())
            self.y_std_ = std if std > 0 else 1.0
        else:
            self.y_mean_, self.y_std_ = 0.0, 1.0
        return self

    def features(self, X: pd.DataFrame) -> np.ndarray:
        import numpy as np

        return np.ascontiguousarray(self.columns_.transform(X), dtype=np.float32)

    def target(self, y: np.ndarray) -> np.ndarray:
        """Class indices (int64; 0/1 as float32 for two classes) or the standardized target."""
        import numpy as np
        import pandas as pd

        if self.kind == "regression":
            return ((np.asarray(y, dtype=float) - self.y_mean_) / self.y_std_).astype(np.float32)
        codes = pd.Index(list(self.classes)).get_indexer(np.asarray(y).tolist())
        if (codes < 0).any():
            unknown = np.asarray(y)[codes < 0][0]
            raise ObjectiveError(f"target value {unknown!r} is not among the study's classes "
                                 f"{list(self.classes)}")
        return codes.astype(np.float32 if self.kind == "binary" else np.int64)

    def describe(self) -> dict[str, Any]:
        return {
            "features": self.feature_names_,
            "kind": self.kind,
            "classes": [_jsonable(c) for c in self.classes],
            "target_mean": self.y_mean_,
            "target_std": self.y_std_,
        }


def probabilities(outputs: np.ndarray, kind: Kind) -> np.ndarray:
    """Class probabilities from the network's logits."""
    import numpy as np

    outputs = np.asarray(outputs, dtype=np.float64)
    if kind == "binary":
        p = 1.0 / (1.0 + np.exp(-outputs.reshape(-1)))
        return np.column_stack([1.0 - p, p])
    shifted = np.exp(outputs - outputs.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def values(outputs: np.ndarray, prep: Preprocessor) -> np.ndarray:
    """Regression predictions in the target's own units."""
    import numpy as np

    return np.asarray(outputs, dtype=np.float64).reshape(-1) * prep.y_std_ + prep.y_mean_


def score_outputs(metric: Metric, y_true: np.ndarray, outputs: np.ndarray,
                  prep: Preprocessor, codes: np.ndarray | None = None) -> float:
    """The study metric of the network's raw outputs against the true targets.

    Called twice an epoch (train and validation), so the simplest built-in metrics are
    computed here in numpy (the same numbers as scikit-learn's, without its input checks);
    ``codes``, the class indices of ``y_true`` (:meth:`Preprocessor.target`), spare the
    lookup of labels.
    """
    import numpy as np

    fast = _FAST.get(metric.name) if metric.fn is None else None
    if prep.kind == "regression":
        predicted = values(outputs, prep)
        if fast is not None:
            return fast(np.asarray(y_true, dtype=np.float64), predicted)
        return metric.score_predictions(y_true, predicted)
    if fast is not None and metric.needs == "predict":
        if codes is None:
            codes = prep.target(y_true)
        outputs = np.asarray(outputs)
        predicted = (outputs.reshape(-1) > 0 if prep.kind == "binary"
                     else outputs.argmax(axis=1))
        return fast(np.asarray(codes).astype(np.int64), predicted.astype(np.int64))
    proba = probabilities(outputs, prep.kind)
    classes = list(prep.classes)
    if metric.needs == "proba":
        return metric.score_predictions(y_true, proba, classes)
    labels = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
    if np.asarray(y_true).dtype != object:
        labels = labels.astype(np.asarray(y_true).dtype)
    return metric.score_predictions(y_true, labels, classes)


def _accuracy(y: np.ndarray, p: np.ndarray) -> float:
    return float((y == p).mean())


def _mse(y: np.ndarray, p: np.ndarray) -> float:
    return float(((y - p) ** 2).mean())


def _rmse(y: np.ndarray, p: np.ndarray) -> float:
    return math.sqrt(_mse(y, p))


def _mae(y: np.ndarray, p: np.ndarray) -> float:
    return float(abs(y - p).mean())


def _r2(y: np.ndarray, p: np.ndarray) -> float:
    residual = float(((y - p) ** 2).sum())
    total = float(((y - y.mean()) ** 2).sum())
    if total == 0:  # scikit-learn's force_finite
        return 1.0 if residual == 0 else 0.0
    return 1.0 - residual / total


#: built-in metrics computed in numpy per epoch (tests check they match scikit-learn's)
_FAST: dict[str, Callable[[Any, Any], float]] = {
    "accuracy": _accuracy, "mse": _mse, "rmse": _rmse, "mae": _mae, "r2": _r2,
}


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
    from objectives._function import qualified_name

    return qualified_name(factory)


def factory_error(factory: Any, exc: Exception) -> ObjectiveError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return ObjectiveError(f"model factory {describe_factory(factory)} raised "
                          f"{type(exc).__name__}: {first}")


# --- early stopping and history -----------------------------------------------------------------


@dataclass
class EarlyStopping:
    """Keeps the best validation score and says when ``patience`` epochs brought none better.

    The same rule as Keras: an epoch improves when it beats the best by more than
    ``min_delta``; training stops after ``patience`` epochs without improvement.
    """

    direction: str
    patience: int
    min_delta: float = 0.0
    best: float = math.nan
    best_epoch: int = -1
    wait: int = 0

    def update(self, score: float, epoch: int) -> bool:
        """Record ``score`` of ``epoch``; whether it is the new best."""
        sign = 1.0 if self.direction == "maximize" else -1.0
        improved = math.isfinite(score) and (
            self.best_epoch < 0 or sign * (score - self.best) > self.min_delta
        )
        if improved:
            self.best, self.best_epoch, self.wait = score, epoch, 0
        else:
            self.wait += 1
        return improved

    @property
    def stop(self) -> bool:
        return self.wait >= self.patience


@dataclass
class History:
    """Per-epoch records: ``loss``, ``score`` (train) and ``val_loss``, ``val_score``, ``lr``."""

    metric: str
    records: list[dict[str, float]] = field(default_factory=list)

    def add(self, epoch: int, **values: float | None) -> dict[str, float]:
        record = {"epoch": float(epoch)}
        record.update({k: float(v) for k, v in values.items() if v is not None})
        self.records.append(record)
        return record

    def column(self, key: str) -> list[float]:
        return [r[key] for r in self.records if key in r]

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "epochs": [
            {k: (int(v) if k == "epoch" else _finite(v)) for k, v in r.items()}
            for r in self.records
        ]}


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _jsonable(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def write_json(path: Path, payload: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=_jsonable) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def plot_histories(histories: Mapping[str, Mapping[str, Any]], path: Path) -> Path:
    """Loss and score per epoch, train and validation, one column a run; a PNG.

    ``histories`` maps a title to :meth:`History.to_dict` output.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    runs = [(title, h) for title, h in histories.items() if h.get("epochs")]
    fig = Figure(figsize=(5 * max(1, len(runs)), 6.5), layout="constrained")
    axes = fig.subplots(2, max(1, len(runs)), squeeze=False)
    for col, (title, hist) in enumerate(runs):
        epochs = hist["epochs"]
        for row, (key, label) in enumerate((("loss", "loss"), ("score", hist["metric"]))):
            ax = axes[row][col]
            for prefix, name in (("", "train"), ("val_", "validation")):
                points = [(r["epoch"] + 1, r[prefix + key]) for r in epochs
                          if r.get(prefix + key) is not None]
                if points:
                    xs, ys = zip(*points, strict=True)
                    ax.plot(xs, ys, label=name, marker="." if len(xs) < 40 else None)
            ax.set_xlabel("epoch")
            ax.set_ylabel(label)
            if row == 0:
                ax.set_title(title)
            if ax.get_legend_handles_labels()[0]:
                ax.legend()
            ax.grid(alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    return path


# --- what a trial leaves for the final model ----------------------------------------------------


def read_summary(trial_dir: Path | None) -> dict[str, Any] | None:
    if trial_dir is None:
        return None
    path = trial_dir / SUMMARY_JSON
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


def refit_plan(runs: Sequence[Mapping[str, Any]]) -> tuple[int, list[float]]:
    """Epochs and per-epoch learning rates for the refit, from the trial's runs.

    The epochs are the (rounded mean) number that early stopping chose; the learning rates
    are the schedule those runs followed (element-wise median over folds), so a plateau
    schedule is replayed without a validation part to watch.
    """
    import numpy as np

    epochs = max(1, round(float(np.mean([r["best_epoch"] + 1 for r in runs]))))
    table = []
    for run in runs:
        lrs = list(run["lrs"])[:epochs] or [math.nan]
        table.append(lrs + [lrs[-1]] * (epochs - len(lrs)))
    return epochs, [float(v) for v in np.median(np.asarray(table, dtype=float), axis=0)]


# --- the final model ----------------------------------------------------------------------------


class NetworkModel:
    """A fitted network behind its preprocessing, with scikit-learn's ``predict``.

    ``forward(features) -> outputs`` runs the framework's network on float32 features.
    """

    _estimator_type = "regressor"

    def __init__(self, preprocessor: Preprocessor, network: Any,
                 forward: Callable[[Any, np.ndarray], np.ndarray], *,
                 framework: str, config: Mapping[str, Any], epochs: int,
                 histories: Mapping[str, Any] | None = None) -> None:
        self.preprocessor_ = preprocessor
        self.network_ = network
        self._forward = forward
        self.framework = framework
        self.config_ = dict(config)
        self.epochs_ = epochs
        self.histories_ = dict(histories or {})

    def outputs(self, X: pd.DataFrame) -> np.ndarray:
        """The network's raw outputs (logits, or the standardized target) for ``X``."""
        return self._forward(self.network_, self.preprocessor_.features(X))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return values(self.outputs(X), self.preprocessor_)

    @property
    def n_features_in_(self) -> int:
        return len(self.preprocessor_.columns_.feature_names_in_)

    def describe(self) -> dict[str, Any]:
        return {"framework": self.framework, "config": self.config_, "epochs": self.epochs_,
                **self.preprocessor_.describe()}


class NetworkClassifier(NetworkModel):
    """A fitted classifier network: ``predict``, ``predict_proba`` and ``classes_``."""

    _estimator_type = "classifier"

    @property
    def classes_(self) -> np.ndarray:
        import numpy as np

        return np.asarray(self.preprocessor_.classes)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return probabilities(self.outputs(X), self.preprocessor_.kind)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def wrap(preprocessor: Preprocessor, network: Any, forward: Callable[[Any, np.ndarray], Any],
         **kw: Any) -> NetworkModel:
    cls = NetworkModel if preprocessor.kind == "regression" else NetworkClassifier
    return cls(preprocessor, network, forward, **kw)


def save_common(model: NetworkModel, directory: Path, files: dict[str, str]) -> list[Path]:
    """The preprocessing (joblib), ``model.json``, the histories as JSON and a PNG plot."""
    import joblib

    directory.mkdir(parents=True, exist_ok=True)
    written = [directory / PREPROCESS_FILE]
    joblib.dump(model.preprocessor_, written[0])
    written.append(write_json(directory / "model.json", {**model.describe(), "files": files}))
    if model.histories_:
        written.append(write_json(directory / HISTORY_JSON, model.histories_))
        written.append(plot_histories(model.histories_, directory / "history.png"))
    return written
