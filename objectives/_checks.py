"""Checks that run once before a study: the space's parameters and the data against the model.

Each check raises :class:`ObjectiveError` with one line naming the parameter's full path or the
column, so that a bad study stops before its first trial.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from objectives._base import DevData
from objectives._errors import ObjectiveError
from objectives._estimators import CATEGORICAL_DTYPES, is_pipeline

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class SpaceParam:
    """One parameter of a space: its full path, short name, and the branches above it."""

    path: str
    name: str
    spec: Mapping[str, Any]
    #: ``(branch parameter name, option)`` for every conditional branch on the way down
    branches: tuple[tuple[str, Any], ...]

    @property
    def is_branch(self) -> bool:
        return isinstance(self.spec.get("choices"), Mapping)


def space_dict(space: Any) -> Mapping[str, Any]:
    """The YAML-like mapping of a ``spaces.Space`` (``to_dict()``), or a plain mapping as is."""
    to_dict = getattr(space, "to_dict", None)
    if callable(to_dict):
        result = to_dict()
        if isinstance(result, Mapping):
            return result
    if isinstance(space, Mapping):
        return space
    raise ObjectiveError(f"cannot read the parameters of space {type(space).__name__}")


def walk_space(tree: Mapping[str, Any], prefix: str = "",
               branches: tuple[tuple[str, Any], ...] = ()) -> Iterator[SpaceParam]:
    """Every parameter of a space tree, branch parameters included, depth first."""
    for name, spec in tree.items():
        if not isinstance(spec, Mapping):  # a shorthand (a bare constant or list of choices)
            spec = {"value": spec}
        path = f"{prefix}{name}"
        param = SpaceParam(path, str(name), spec, branches)
        yield param
        if param.is_branch:
            for option, sub in spec["choices"].items():
                if isinstance(sub, Mapping):
                    yield from walk_space(sub, f"{path}.{option}.",
                                          branches + ((str(name), option),))


# --- data ---------------------------------------------------------------------------------------


def check_finite(X: pd.DataFrame) -> None:
    """No numeric column may hold +/-inf: no imputer or estimator treats it as missing."""
    import numpy as np
    import pandas as pd

    for column in X.columns:
        series = X[column]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            values = series.to_numpy(dtype=float, na_value=np.nan)
            n_inf = int(np.isinf(values).sum())
            if n_inf:
                raise ObjectiveError(
                    f"column '{column}' has {n_inf} infinite values; replace them with NaN "
                    "(imputed inside each fold) or drop those rows"
                )


def check_auto_dtypes(X: pd.DataFrame) -> None:
    """The automatic preprocessing handles numeric and categorical columns, nothing else."""
    from sklearn.compose import make_column_selector

    picked = set(make_column_selector(dtype_include="number")(X))
    picked |= set(make_column_selector(dtype_include=CATEGORICAL_DTYPES)(X))
    for column in X.columns:
        if column not in picked:
            raise ObjectiveError(
                f"column '{column}' has dtype {X[column].dtype}, which preprocess='auto' does "
                "not handle (numeric and categorical columns only); convert or drop it"
            )


def check_raw_input(X: pd.DataFrame, entry: Any, model_name: str) -> None:
    """Without the automatic preprocessing, the model's first step sees the raw columns.

    Non-numeric columns need an entry step that takes them; NaN needs one that accepts NaN
    (scikit-learn's ``allow_nan`` tag). Steps that route columns themselves are trusted.
    """
    if entry is None or _routes_columns(entry):
        return
    from sklearn.utils import get_tags

    tags = get_tags(entry).input_tags
    entry_name = type(entry).__name__
    if entry_name != model_name:
        entry_name += f" (before {model_name})"
    for column in X.columns:
        series = X[column]
        if _is_numeric(series) or _is_bool(series):
            continue
        if _is_categorical(series) and _takes_categories(entry, tags, series):
            continue
        raise ObjectiveError(
            f"column '{column}' has dtype {series.dtype}, which {entry_name} cannot take; use "
            "preprocess='auto' (one-hot encodes inside each fold) or encode it yourself"
        )
    if tags.allow_nan:
        return
    for column in X.columns:
        n_missing = int(X[column].isna().sum())
        if n_missing:
            raise ObjectiveError(
                f"column '{column}' has {n_missing} missing values and {entry_name} does not "
                "accept NaN; use preprocess='auto' (imputes inside each fold) or an estimator "
                "that accepts NaN (e.g. HistGradientBoosting)"
            )


def check_folds(data: DevData, folds: int) -> None:
    """Enough rows, groups and members of each class for ``folds`` validation folds."""
    import numpy as np

    n = len(data)
    if data.time_ordered:
        if n <= folds:
            raise ObjectiveError(f"{n} development rows are too few for folds={folds} forward "
                                 f"in time (need more than {folds}); lower folds")
        return
    if n < folds:
        raise ObjectiveError(f"{n} development rows are fewer than folds={folds}; lower folds")
    if data.groups is not None:
        n_groups = len(np.unique(np.asarray(data.groups)))
        if n_groups < folds:
            raise ObjectiveError(f"the development data have {n_groups} groups, fewer than "
                                 f"folds={folds}; lower folds")
        return
    if data.task == "classification":
        labels, counts = np.unique(np.asarray(data.y), return_counts=True)
        smallest = int(np.argmin(counts))
        if counts[smallest] < folds:
            label = labels[smallest]
            label = label.item() if hasattr(label, "item") else label
            raise ObjectiveError(
                f"the smallest class {label!r} has {int(counts[smallest])} "
                f"development rows, fewer than folds={folds}; lower folds"
            )


def entry_step(model: Any) -> Any:
    """The step that first sees the data (``None`` for a passthrough)."""
    while is_pipeline(model):
        steps = [step for _, step in model.steps if step not in (None, "passthrough")]
        if not steps:
            return None
        model = steps[0]
    return model


def _routes_columns(step: Any) -> bool:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import FeatureUnion
    from sklearn.preprocessing import FunctionTransformer

    return isinstance(step, (ColumnTransformer, FeatureUnion, FunctionTransformer))


def _takes_categories(entry: Any, tags: Any, series: pd.Series) -> bool:
    import pandas as pd

    if tags.categorical or tags.string:
        return True
    if getattr(entry, "strategy", None) in ("most_frequent", "constant"):
        return True  # SimpleImputer fills categories
    return isinstance(series.dtype, pd.CategoricalDtype) and \
        getattr(entry, "categorical_features", None) == "from_dtype"


def _is_numeric(series: pd.Series) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series))


def _is_bool(series: pd.Series) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_bool_dtype(series))


def _is_categorical(series: pd.Series) -> bool:
    import pandas as pd

    dtype = series.dtype
    return bool(
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
        or pd.api.types.is_object_dtype(dtype)
    )
