"""The engine: studies, data and the sealed test, backends, final evaluation, results, CLI.

Public names load on first use, so ``python -m search --help`` and ``import search`` stay fast
and never import torch, tensorflow, ray or mlflow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from search.core._data import BUNDLED, Data
    from search.core._errors import TestSetAlreadyOpened, UserError
    from search.core._pbt import PBT
    from search.core._sealed import Sealed
    from search.core._study import Study
    from search.core._studyfile import load_study_file
    from search.scripts._tune_trainable import Trainable
    from search.watching._load import load

__all__ = [
    "BUNDLED",
    "Data",
    "PBT",
    "Sealed",
    "Study",
    "TestSetAlreadyOpened",
    "Trainable",
    "UserError",
    "load",
    "load_study_file",
]

_WHERE = {
    "BUNDLED": "search.core._data",
    "Data": "search.core._data",
    "PBT": "search.core._pbt",
    "Sealed": "search.core._sealed",
    "Study": "search.core._study",
    "TestSetAlreadyOpened": "search.core._errors",
    "Trainable": "search.scripts._tune_trainable",
    "UserError": "search.core._errors",
    "load": "search.watching._load",
    "load_study_file": "search.core._studyfile",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'search' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
