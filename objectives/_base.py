"""The contract between an objective and the engine that runs it.

An objective knows how to train on training folds and score on validation folds; it knows
nothing of Optuna, Ray or MLflow. The engine hands it a config, the development data (never the
sealed test part), a :class:`TrialHandle` and the study's metric, and gets back one validation
score; given a tuple of metrics (a multi-objective study), a mapping ``{name: value}``.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from objectives._errors import ObjectiveError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from objectives._measures import CostMeasure
    from objectives._metrics import Metric
    from spaces import Space

Task = Literal["classification", "regression"]


@dataclass(frozen=True, eq=False)
class DevData:
    """The development part of a study's data: what objectives may train and validate on.

    ``X`` is a DataFrame of features, ``y`` the target as a 1-d numpy array, ``groups`` the group
    label of each row (or ``None``), ``time_ordered`` says that rows are in time order and must be
    validated forward in time. ``task`` comes from the study's metric. ``from_arrays`` says the
    features were given as arrays, which have no column names: those of ``X`` (``x0``, ``x1``,
    ...) name positions, and the final model takes array rows too
    (:func:`objectives.accept_array_rows`).
    """

    X: pd.DataFrame
    y: np.ndarray
    task: Task
    groups: np.ndarray | None = None
    time_ordered: bool = False
    classes: tuple[Any, ...] = field(default=())
    from_arrays: bool = False

    def __len__(self) -> int:
        return len(self.X)

    def subset(self, rows: Any) -> DevData:
        """The same data restricted to the row positions ``rows`` (e.g. an outer CV fold)."""
        return DevData(
            X=self.X.iloc[rows].reset_index(drop=True),
            y=self.y[rows],
            task=self.task,
            groups=self.groups[rows] if self.groups is not None else None,
            time_ordered=self.time_ordered,
            classes=self.classes,
            from_arrays=self.from_arrays,
        )


@runtime_checkable
class TrialHandle(Protocol):
    """What an objective may do with the running trial.

    ``report`` records an intermediate validation score at a step (a fold or an epoch);
    ``should_prune`` asks the engine's pruner whether to stop; ``set_attr`` stores a JSON-able
    value with the trial (e.g. ``fold_scores``). ``seed`` is the study's seed (``None`` if unset).
    ``artifact_dir`` is a folder this trial may write files to (checkpoints, TensorBoard
    events), kept with the study's results; ``None`` when the engine keeps no artifacts.
    A handle may also keep checkpoints (:class:`CheckpointingTrial`).
    """

    seed: int | None

    @property
    def number(self) -> int: ...

    @property
    def artifact_dir(self) -> Path | None: ...

    def report(self, value: float, step: int) -> None: ...

    def should_prune(self) -> bool: ...

    def set_attr(self, key: str, value: Any) -> None: ...


@runtime_checkable
class CheckpointingTrial(TrialHandle, Protocol):
    """A trial handle that also keeps checkpoints (the engine's worker trial); optional: an
    objective checks ``getattr(trial, "checkpoint", None)`` before it uses them.

    ``checkpoint(source, step=...)`` saves a folder or file (copied) or any picklable state as
    the trial's checkpoint of ``step`` and returns where it is kept (older ones are removed: the
    last and the best by reported value stay); ``last_checkpoint()`` is the checkpoint the trial
    goes on from (a retry after its worker died, a resumed run): its folder (to read, not to
    write) or its state, ``None`` when the trial starts from scratch; ``last_checkpoint_step``
    is that checkpoint's step, or ``None``.
    """

    def checkpoint(self, source: Any, *, step: int | None = None) -> Path: ...

    def last_checkpoint(self) -> Any: ...

    @property
    def last_checkpoint_step(self) -> int | None: ...


class Objective(abc.ABC):
    """Base class of objectives: ``evaluate`` scores one config; ``fit_final`` fits the final model.

    Subclasses follow the estimator rules: ``__init__`` only stores its arguments.
    """

    @property
    def can_fit_final(self) -> bool:
        """Whether the objective can fit a final model (a plain function of the config cannot)."""
        return True

    def check(self, data: DevData | None, space: Space,  # noqa: B027
              metric: Metric | tuple[Metric | CostMeasure, ...]) -> None:
        """Raise :class:`ObjectiveError` when data, space and metric cannot work together."""

    @abc.abstractmethod
    def evaluate(
        self, config: dict[str, Any], data: DevData | None, trial: TrialHandle,
        metric: Metric | tuple[Metric | CostMeasure, ...],
    ) -> float | dict[str, float] | tuple[float, ...]:
        """Train on the training folds of ``data``; return the validation score for ``config``.

        Given a tuple of metrics (a multi-objective study): ``{name: value}``, one entry each.
        The user's own objective may return Optuna's tuple of values instead.
        """

    def fit_final(
        self,
        config: dict[str, Any],
        data: DevData,
        seed: int | None,
        trial_dir: Path | None = None,
    ) -> Any:
        """Fit the final model on all development data; it must have ``predict``.

        ``trial_dir`` is the best trial's ``artifact_dir`` (an objective that keeps
        checkpoints may reuse them), or ``None``.
        """
        raise ObjectiveError(f"{type(self).__name__} cannot fit a final model")

    def save_model(self, model: Any, directory: Path) -> list[Path]:
        """Write ``model`` under ``directory`` with joblib and return the files written."""
        import joblib

        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "model.joblib"
        joblib.dump(model, path)
        return [path]

    def describe(self) -> dict[str, Any]:
        """A JSON-able description recorded in ``study.json`` and compared on resume."""
        return {"type": type(self).__name__}
