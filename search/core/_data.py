"""Load a study's data, split off the sealed test part first, and fingerprint both parts.

The test part is split before anything else looks at the data: stratified for
classification, by group when groups are declared, the last rows when the data are
time-ordered. What remains is the development data that objectives see.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.core._errors import UserError
from search.core._sealed import Fingerprint, Sealed
from search.core._timecol import time_order

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from objectives import DevData

#: scikit-learn's bundled datasets (shipped with the package, no download)
BUNDLED = ("breast_cancer", "diabetes", "digits", "iris", "wine")


@dataclass(frozen=True, eq=False)
class Data:
    """Where a study's data come from and how the test part is split off.

    ``source`` is a CSV or Parquet path (relative to the study file), the name of a bundled
    scikit-learn dataset (one of :data:`BUNDLED`), a pandas DataFrame, or an ``(X, y)`` pair of
    arrays. ``target`` names the target column (not needed for bundled datasets and arrays).
    ``test_size`` is the fraction sealed away. ``groups`` names a column of group ids: whole
    groups go to one side of every split and the column is not a feature. ``time`` names a
    column to order rows by (or ``True`` when rows are already in time order): the test part is
    then the last rows and validation moves forward in time.
    """

    source: Any
    target: str | None = None
    test_size: float = 0.15
    groups: str | None = None
    time: str | bool | None = None

    def __post_init__(self) -> None:
        ts = self.test_size
        if isinstance(ts, bool) or not isinstance(ts, (int, float)) or not 0.0 < ts < 1.0:
            raise UserError(f"data: test_size must lie in (0, 1), but got {ts!r}")
        if self.groups is not None and self.time not in (None, False):
            raise UserError("data: give either groups or time, not both")
        if self.target is not None and not isinstance(self.target, str):
            raise UserError(f"data: target must be a column name, but got {self.target!r}")

    def describe(self) -> dict[str, Any]:
        """A JSON-able description for ``study.json``."""
        source = self.source
        if isinstance(source, (str, Path)):
            shown: Any = str(source)
        elif isinstance(source, tuple):
            shown = "arrays"
        else:
            shown = type(source).__name__
        return {
            "source": shown,
            "target": self.target,
            "test_size": self.test_size,
            "groups": self.groups,
            "time": self.time,
        }


@dataclass(frozen=True, eq=False)
class SplitData:
    """The development data, the sealed test part and the fingerprints of both."""

    dev: DevData
    test: Sealed
    dev_fingerprint: Fingerprint

    def fingerprints(self) -> dict[str, Any]:
        return {
            "development": self.dev_fingerprint.to_dict(),
            "test": self.test.fingerprint.to_dict(),
        }


def load_and_split(spec: Data, *, task: str, seed: int, base_dir: Path) -> SplitData:
    """Load ``spec``, check it, split off the test part and return both parts."""
    frame, target = _load_frame(spec, base_dir)
    X, y, groups = _features_target_groups(frame, target, spec, task)
    return _split(X, y, groups, spec, task, seed)


def _load_frame(spec: Data, base_dir: Path) -> tuple[pd.DataFrame, str]:
    import numpy as np
    import pandas as pd

    source = spec.source
    if isinstance(source, pd.DataFrame):
        return source, _require_target(spec, "the DataFrame")
    if isinstance(source, tuple) and len(source) == 2:
        X, y = source
        frame = pd.DataFrame(X).copy()
        if _from_arrays(source):
            frame.columns = [f"x{i}" for i in range(frame.shape[1])]
        name = spec.target or "target"
        if name in frame.columns:
            raise UserError(
                f"data: the target name '{name}' is also a feature column; pass target="
            )
        frame[name] = np.asarray(y)
        return frame, name
    if not isinstance(source, (str, Path)):
        raise UserError(
            "data: source must be a CSV/Parquet path, a bundled dataset name "
            f"({', '.join(BUNDLED)}), a DataFrame or an (X, y) pair, but got {type(source).__name__}"
        )
    text = str(source)
    suffix = Path(text).suffix.lower()
    if suffix in (".csv", ".parquet", ".pq"):
        path = Path(text).expanduser()
        if not path.is_absolute():
            path = base_dir / path
        if not path.is_file():
            raise UserError(f"data: file not found: {path}")
        try:
            frame = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
        except Exception as exc:  # noqa: BLE001 - any reader failure is bad input
            raise UserError(
                f"{path}: cannot be read as {suffix[1:]}: {exc}".splitlines()[0]
            ) from None
        return frame, _require_target(spec, str(path))
    if text in BUNDLED:
        from sklearn import datasets

        bunch = getattr(datasets, f"load_{text}")(as_frame=True)
        frame = bunch.frame
        return frame, spec.target or "target"
    raise UserError(
        f"data: '{text}' is neither a .csv/.parquet file nor a bundled dataset "
        f"({', '.join(BUNDLED)})"
    )


def _require_target(spec: Data, where: str) -> str:
    if spec.target is None:
        raise UserError(f"data: {where} needs target= naming the target column")
    return spec.target


def _features_target_groups(
    frame: pd.DataFrame, target: str, spec: Data, task: str
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray | None]:
    where = spec.describe()["source"]
    if frame.shape[0] == 0:
        raise UserError(f"{where}: the data have no rows")
    columns = [str(c) for c in frame.columns]
    frame = frame.set_axis(columns, axis=1)
    for name, role in (
        (target, "target"),
        (spec.groups, "groups"),
        (spec.time if isinstance(spec.time, str) else None, "time"),
    ):
        if name is not None and name not in frame.columns:
            shown = ", ".join(columns[:20]) + (", …" if len(columns) > 20 else "")
            raise UserError(f"{where}: {role} column '{name}' not found; columns are: {shown}")
    if isinstance(spec.time, str):
        # parsed into an orderable key (day-first text does not sort as text); the column
        # itself stays as it was, a feature like any other
        order = time_order(frame[spec.time], name=spec.time, where=where)
        frame = frame.iloc[order].reset_index(drop=True)
    y = _check_target(frame[target], target, task, where)
    drop = [target] + ([spec.groups] if spec.groups else [])
    X = frame.drop(columns=drop)
    if X.shape[1] == 0:
        raise UserError(f"{where}: no feature columns besides the target '{target}'")
    groups = frame[spec.groups].to_numpy() if spec.groups else None
    return X, y, groups


def _check_target(y_series: pd.Series, target: str, task: str, where: str) -> np.ndarray:
    """The target as an array: no missing values, two classes or numbers as the task needs."""
    import pandas as pd

    if y_series.isna().any():
        raise UserError(
            f"{where}: target column '{target}' has {int(y_series.isna().sum())} "
            "missing values; drop those rows first"
        )
    if task == "classification":
        if y_series.nunique() < 2:
            raise UserError(
                f"{where}: target column '{target}' has a single class "
                f"({y_series.iloc[0]!r}); classification needs at least two"
            )
    elif not pd.api.types.is_numeric_dtype(y_series):
        raise UserError(
            f"{where}: target column '{target}' is not numeric but the metric is "
            "a regression metric; choose a classification metric"
        )
    return y_series.to_numpy()


def _split(
    X: pd.DataFrame, y: np.ndarray, groups: np.ndarray | None, spec: Data, task: str, seed: int
) -> SplitData:
    import numpy as np

    from objectives import DevData

    where = spec.describe()["source"]
    dev_idx, test_idx = _test_rows(y, groups, spec, task, seed)
    X_dev = X.iloc[dev_idx].reset_index(drop=True)
    X_test = X.iloc[test_idx].reset_index(drop=True)
    y_dev, y_test = y[dev_idx], y[test_idx]
    classes: tuple[Any, ...] = ()
    if task == "classification":
        classes = tuple(np.unique(y).tolist())
        if len(np.unique(y_dev)) < 2:
            raise UserError(
                f"{where}: the development part has a single class; "
                "more data or a smaller test_size is needed"
            )
    dev = DevData(
        X=X_dev,
        y=y_dev,
        task=task,  # type: ignore[arg-type]
        groups=groups[dev_idx] if groups is not None else None,
        time_ordered=spec.time not in (None, False),
        classes=classes,
        from_arrays=_from_arrays(spec.source),
    )
    return SplitData(
        dev=dev,
        test=Sealed(
            X_test,
            y_test,
            fingerprint(X_test, y_test),
            groups=groups[test_idx] if groups is not None else None,
        ),
        dev_fingerprint=fingerprint(X_dev, y_dev),
    )


def _from_arrays(source: Any) -> bool:
    """Whether the features came as arrays, whose columns :func:`_load_frame` named by position."""
    import pandas as pd

    return isinstance(source, tuple) and not isinstance(source[0], pd.DataFrame)


def _test_rows(
    y: np.ndarray, groups: np.ndarray | None, spec: Data, task: str, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Development and test row positions: the last rows, whole groups, or stratified."""
    import numpy as np
    from sklearn.model_selection import GroupShuffleSplit, train_test_split

    n = len(y)
    where = spec.describe()["source"]
    n_test = int(np.ceil(spec.test_size * n))
    if n_test < 1 or n - n_test < 2:
        raise UserError(f"{where}: {n} rows are too few to seal a test part of {spec.test_size}")
    index = np.arange(n)
    if spec.time not in (None, False):
        return index[: n - n_test], index[n - n_test :]
    if groups is not None:
        if len(np.unique(groups)) < 2:
            raise UserError(
                f"{where}: groups column '{spec.groups}' has a single group; "
                "a grouped split needs at least two"
            )
        splitter = GroupShuffleSplit(n_splits=1, test_size=spec.test_size, random_state=seed)
        dev_idx, test_idx = next(splitter.split(index, y, groups))
        return dev_idx, test_idx
    stratify = y if task == "classification" else None
    try:
        dev_idx, test_idx = train_test_split(
            index, test_size=spec.test_size, random_state=seed, stratify=stratify
        )
    except ValueError as exc:
        raise UserError(f"{where}: cannot split off a stratified test part: {exc}") from None
    return np.sort(dev_idx), np.sort(test_idx)


def fingerprint(X: pd.DataFrame, y: np.ndarray) -> Fingerprint:
    """sha256 over the column names, every cell and the target, in row order."""
    import numpy as np
    import pandas as pd

    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, X.columns)).encode())
    digest.update(pd.util.hash_pandas_object(X, index=False).to_numpy().tobytes())
    digest.update(
        pd.util.hash_pandas_object(pd.Series(np.asarray(y)), index=False).to_numpy().tobytes()
    )
    return Fingerprint(sha256=digest.hexdigest(), rows=int(X.shape[0]), columns=int(X.shape[1]))
