"""The data as a network sees them: its splits, its preprocessing, its outputs scored.

The training and validation rows (a holdout part, 15 % of the whole data by default, or K
folds), the preprocessing fitted on the training rows only (features to float32, the target to
what the network learns), the kind and number of outputs and the loss that suits them, and the
study metric of the network's raw outputs. Nothing here imports torch or tensorflow.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from objectives._base import DevData
from objectives._errors import ObjectiveError
from objectives._estimators import make_preprocessor
from objectives._metrics import Metric
from objectives._nn_records import jsonable
from objectives._splits import cv_splitter

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

#: output kinds: one logit (binary), one logit a class, one value (scaled target)
Kind = Literal["binary", "multiclass", "regression"]


# --- splits -------------------------------------------------------------------------------------


def splits(data: DevData, folds: int | None, validation_size: float,
           seed: int | None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Training and validation row indices: one holdout pair, or ``folds`` pairs.

    The holdout follows the data's rule: whole groups, the last rows in time, stratified for
    classification, else shuffled; all seeded.
    """
    import numpy as np

    if folds is not None:
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

    @classmethod
    def from_export(cls, transformer: Any, info: Mapping[str, Any]) -> Preprocessor:
        """The preprocessing a model folder saved: :meth:`transformer`'s pipeline and what
        ``model.json`` says of the outputs (:meth:`describe`)."""
        prep = cls(info["kind"], info.get("classes") or ())
        prep.columns_ = transformer.named_steps["columns"]
        prep.feature_names_ = list(info.get("features") or [])
        prep.n_features_ = len(prep.feature_names_)
        prep.y_mean_ = float(info.get("target_mean", 0.0))
        prep.y_std_ = float(info.get("target_std", 1.0))
        return prep

    def features(self, X: pd.DataFrame) -> np.ndarray:
        import numpy as np

        return np.ascontiguousarray(self.columns_.transform(X), dtype=np.float32)

    def transformer(self) -> Any:
        """The fitted feature preprocessing as a scikit-learn Pipeline of public classes:
        ``.transform(raw rows)`` gives exactly :meth:`features` (float32, C order), and it
        loads with joblib and scikit-learn alone (what ``preprocess.joblib`` holds)."""
        import numpy as np
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import FunctionTransformer

        as_float32 = FunctionTransformer(np.ascontiguousarray, kw_args={"dtype": np.float32},
                                         feature_names_out="one-to-one")
        # fitted on no rows: it learns nothing, and is marked fitted for transform
        as_float32.fit(np.zeros((1, self.n_features_), dtype=np.float32))
        return Pipeline([("columns", self.columns_), ("float32", as_float32)])

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
            "classes": [jsonable(c) for c in self.classes],
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
