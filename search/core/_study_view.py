"""An Optuna study as a sampler reads it, holding only some of its trials.

Optuna's samplers read a study's history through the private ``Study._get_trials`` (TPE, GP,
and the search-space calculators they use), not the public ``get_trials``; a view that hands
a sampler fewer trials must answer that name. This is the one module that does: everything
else (``_storage``, ``_study_id``, ``directions``, ...) passes through to the study itself, so
what a sampler writes (TPE's and GP's relative parameters for running trials) lands in the
study's store as before.

Private names answered: ``optuna.study.Study._get_trials(deepcopy, states, use_cache)``.
"""

from __future__ import annotations

import copy
from collections.abc import Container, Sequence
from typing import Any

from optuna.trial import FrozenTrial, TrialState


class StudyView:
    """``study`` with only ``kept`` as its trials (in trial-number order); read-only."""

    def __init__(self, study: Any, kept: Sequence[FrozenTrial]) -> None:
        self._study = study
        self._kept = list(kept)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)

    def _get_trials(
        self,
        deepcopy: bool = True,
        states: Container[TrialState] | None = None,
        use_cache: bool = False,
    ) -> list[FrozenTrial]:
        """The kept trials in ``states``, as ``Study._get_trials`` answers (``use_cache``
        changes nothing: the view is built for one suggestion)."""
        found = self._kept if states is None else [t for t in self._kept if t.state in states]
        return copy.deepcopy(found) if deepcopy else list(found)

    def get_trials(
        self, deepcopy: bool = True, states: Container[TrialState] | None = None
    ) -> list[FrozenTrial]:
        return self._get_trials(deepcopy=deepcopy, states=states)

    @property
    def trials(self) -> list[FrozenTrial]:
        return self._get_trials(deepcopy=True)
