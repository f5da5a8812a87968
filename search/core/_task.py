"""What a trial worker receives: the objective, the development data, the metric. Nothing sealed.

The driver pickles the task once, with the study file's own functions and classes by value
(a worker cannot import the study file, which ran as a module of the driver's alone), and sends
the bytes to every worker it starts. Modules travel by name, whatever their class: a lazily
imported one (``optuna.integration``, whose module is its own class) is imported again in the
worker, not pickled. The sealed test part is not in it, and cannot be: a
:class:`~search.core._sealed.Sealed` refuses to be pickled.
"""

from __future__ import annotations

import importlib
import io
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cloudpickle

from search.core._errors import UserError
from search.core._folder import trial_dir
from search.core._studyfile import STUDY_MODULE

if TYPE_CHECKING:
    from objectives import DevData, Metric, Objective


@dataclass(frozen=True, eq=False)
class TrialTask:
    """Everything a worker needs to run trials and fit models, and nothing sealed."""

    objective: Objective
    data: DevData | None
    metric: Metric | None
    seed: int
    directory: Path | None = None  # the study folder; None: trials keep no files

    def trial_dir(self, number: int) -> Path | None:
        """Where trial ``number`` keeps its files, or ``None``."""
        return None if self.directory is None else trial_dir(self.directory, number)

    def pickled(self) -> bytes:
        """The task as bytes for the workers; an objective that cannot travel is the user's."""
        module = sys.modules.get(STUDY_MODULE)
        if module is not None:
            cloudpickle.register_pickle_by_value(module)
        buffer = io.BytesIO()
        try:
            _ModulesByName(buffer).dump(self)
            return buffer.getvalue()
        except Exception as exc:  # noqa: BLE001 - whatever pickling raises names the object
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise UserError(
                f"objective: it cannot be sent to the trial workers ({type(exc).__name__}: "
                f"{first}); keep unpicklable objects (open files, locks, connections) out of "
                "it, or create them inside the objective"
            ) from None


class _ModulesByName(cloudpickle.CloudPickler):  # type: ignore[misc]
    """cloudpickle, with every imported module by name (cloudpickle does so for plain modules
    only, and fails on a module of its own class)."""

    def reducer_override(self, obj: object) -> object:
        if isinstance(obj, types.ModuleType) and type(obj) is not types.ModuleType \
                and sys.modules.get(obj.__name__) is obj:
            return importlib.import_module, (obj.__name__,)
        return super().reducer_override(obj)
