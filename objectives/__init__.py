"""Objectives: train on training folds, score on validation folds; and the metrics they use.

Names are loaded on first use (PEP 562), so ``import objectives`` imports neither scikit-learn
nor pandas; an objective imports what it needs when it is built or run.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from objectives._base import CheckpointingTrial, DevData, Objective, TrialHandle
    from objectives._errors import ObjectiveError, Pruned
    from objectives._function import FunctionObjective, as_objective
    from objectives._keras import KerasObjective
    from objectives._load import load_model
    from objectives._measures import MEASURES, CostMeasure
    from objectives._metrics import (
        METRICS,
        Metric,
        classification_report,
        get_metric,
        get_metrics,
        regression_report,
    )
    from objectives._rows import accept_array_rows
    from objectives._sklearn import SklearnObjective
    from objectives._splits import cv_splitter
    from objectives._torch import TorchObjective

_EXPORTS = {
    "DevData": "objectives._base",
    "Objective": "objectives._base",
    "ObjectiveError": "objectives._errors",
    "Pruned": "objectives._errors",
    "TrialHandle": "objectives._base",
    "CheckpointingTrial": "objectives._base",
    "METRICS": "objectives._metrics",
    "Metric": "objectives._metrics",
    "classification_report": "objectives._metrics",
    "get_metric": "objectives._metrics",
    "get_metrics": "objectives._metrics",
    "MEASURES": "objectives._measures",
    "CostMeasure": "objectives._measures",
    "regression_report": "objectives._metrics",
    "FunctionObjective": "objectives._function",
    "as_objective": "objectives._function",
    "SklearnObjective": "objectives._sklearn",
    "cv_splitter": "objectives._splits",
    "TorchObjective": "objectives._torch",
    "KerasObjective": "objectives._keras",
    "load_model": "objectives._load",
    "accept_array_rows": "objectives._rows",
}

__all__ = [
    "MEASURES",
    "METRICS",
    "CostMeasure",
    "DevData",
    "FunctionObjective",
    "Metric",
    "Objective",
    "ObjectiveError",
    "Pruned",
    "SklearnObjective",
    "TrialHandle",
    "CheckpointingTrial",
    "as_objective",
    "classification_report",
    "get_metric",
    "get_metrics",
    "regression_report",
    "cv_splitter",
    "KerasObjective",
    "TorchObjective",
    "load_model",
    "accept_array_rows",
]


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'objectives' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
