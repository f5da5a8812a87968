"""The engine: studies, data and the sealed test, backends, final evaluation, results, CLI.

Public names load on first use, so ``python -m search --help`` and ``import search`` stay fast
and never import torch, tensorflow, ray or mlflow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from search._data import BUNDLED, Data
    from search._errors import TestSetAlreadyOpened, UserError
    from search._sealed import Sealed
    from search._study import Study
    from search._studyfile import load_study_file

__all__ = [
    "BUNDLED",
    "Data",
    "Sealed",
    "Study",
    "TestSetAlreadyOpened",
    "UserError",
    "load_study_file",
]

_WHERE = {
    "BUNDLED": "search._data",
    "Data": "search._data",
    "Sealed": "search._sealed",
    "Study": "search._study",
    "TestSetAlreadyOpened": "search._errors",
    "UserError": "search._errors",
    "load_study_file": "search._studyfile",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'search' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
