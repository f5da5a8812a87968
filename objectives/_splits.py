"""The cross-validation splitter the development data call for."""

from __future__ import annotations

from typing import Any

from objectives._base import DevData


def cv_splitter(data: DevData, folds: int, seed: int | None) -> Any:
    """Grouped, forward in time, stratified (classification) or plain shuffled K folds."""
    from sklearn.model_selection import (
        GroupKFold,
        KFold,
        StratifiedGroupKFold,
        StratifiedKFold,
        TimeSeriesSplit,
    )

    classification = data.task == "classification"
    if data.groups is not None:
        return StratifiedGroupKFold(folds) if classification else GroupKFold(folds)
    if data.time_ordered:
        return TimeSeriesSplit(folds)
    if classification:
        return StratifiedKFold(folds, shuffle=True, random_state=seed)
    return KFold(folds, shuffle=True, random_state=seed)
