"""The driver's journal store, indexed by trial state, so that no per-trial call scans the study.

Optuna's ``Study.ask()`` looks for an enqueued trial with ``get_all_trials(states=(WAITING,))``
at every ask; the journal answers by walking every trial of the study, so a run's cost per trial
grew with its length (issue 22: 486 trials/s at the start of a 20,000-trial run, 37/s at the
end). The driver is the store's only writer (:mod:`search.core._store`), so every state change
passes through this class: it keeps each study's trial ids per state and answers a query by state
from them. A query without states, or one that would return most of the study, is Optuna's own.
Everything else is Optuna's ``JournalStorage``, through its public storage interface.

A reproducible run (:mod:`search.core._reproducible`) sets :attr:`view` while a trial samples or
asks whether to stop: trial lists then come back as that trial sees them. The query for enqueued
trials (``study.ask()`` taking the next one) always sees the store as it is.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Container, Sequence
from typing import TYPE_CHECKING, Any

from optuna.storages import JournalStorage
from optuna.trial import TrialState

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial


class StateIndexedJournal(JournalStorage):
    """A ``JournalStorage`` that answers ``get_all_trials(states=...)`` from an index, and
    ``get_all_trials()`` from a list of the study's trials that it keeps up to date (the
    journal replaces a trial's object at each change; Optuna's answer walks every trial id)."""

    def __init__(self, backend: Any) -> None:
        super().__init__(backend)
        self._by_state: dict[int, dict[TrialState, dict[int, None]]] = {}
        self._lists: dict[int, list[FrozenTrial]] = {}  # study id -> its trials, by number
        self._places: dict[int, tuple[int, int]] = {}  # trial id -> (study id, place in list)
        self.view: Callable[[list[FrozenTrial]], list[FrozenTrial]] | None = None

    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        trial_id = super().create_new_trial(study_id, template_trial)
        trial = self.get_trial(trial_id)
        if study_id in self._by_state:
            self._by_state[study_id][trial.state][trial_id] = None
        listed = self._lists.get(study_id)
        if listed is not None:
            self._places[trial_id] = (study_id, len(listed))
            listed.append(trial)
        return trial_id

    def set_trial_state_values(
        self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
    ) -> bool:
        before = self.get_trial(trial_id).state
        changed = super().set_trial_state_values(trial_id, state, values)
        if changed:
            for index in self._by_state.values():  # the study that holds the trial, if indexed
                if index[before].pop(trial_id, False) is None:
                    index[state][trial_id] = None
        self._changed(trial_id)
        return changed

    def set_trial_param(self, trial_id: int, param_name: str, param_value_internal: float,
                        distribution: Any) -> None:
        super().set_trial_param(trial_id, param_name, param_value_internal, distribution)
        self._changed(trial_id)

    def set_trial_intermediate_value(self, trial_id: int, step: int,
                                     intermediate_value: float) -> None:
        super().set_trial_intermediate_value(trial_id, step, intermediate_value)
        self._changed(trial_id)

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        super().set_trial_user_attr(trial_id, key, value)
        self._changed(trial_id)

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        super().set_trial_system_attr(trial_id, key, value)
        self._changed(trial_id)

    def _changed(self, trial_id: int) -> None:
        """Put the journal's new object for ``trial_id`` in its study's list."""
        place = self._places.get(trial_id)
        if place is not None:
            self._lists[place[0]][place[1]] = self.get_trial(trial_id)

    def _listed(self, study_id: int) -> list[FrozenTrial]:
        """The study's trials, by number: the kept list, made from one walk at first use."""
        listed = self._lists.get(study_id)
        if listed is None:
            listed = list(super().get_all_trials(study_id, deepcopy=False))
            self._places.update((t._trial_id, (study_id, i)) for i, t in enumerate(listed))
            self._lists[study_id] = listed
        return listed

    def get_all_trials(
        self, study_id: int, deepcopy: bool = True, states: Container[TrialState] | None = None
    ) -> list[FrozenTrial]:
        waiting_only = states is not None and not any(
            s in states for s in TrialState if s != TrialState.WAITING)
        if self.view is not None and not waiting_only:
            seen = self.view(self._listed(study_id))
            if states is not None:
                seen = [t for t in seen if t.state in states]
            return copy.deepcopy(seen) if deepcopy else seen
        if states is None:
            listed = self._listed(study_id)
            return copy.deepcopy(listed) if deepcopy else list(listed)
        index = self._index(study_id)
        ids = [i for state in TrialState if state in states for i in index[state]]
        if 2 * len(ids) > sum(len(ids_) for ids_ in index.values()):
            return super().get_all_trials(study_id, deepcopy=deepcopy, states=states)
        trials = [self.get_trial(i) for i in sorted(ids)]
        return copy.deepcopy(trials) if deepcopy else trials

    def _index(self, study_id: int) -> dict[TrialState, dict[int, None]]:
        """The study's trial ids per state, built from one walk of its trials at first use."""
        index = self._by_state.get(study_id)
        if index is None:
            index = {state: {} for state in TrialState}
            for trial in super().get_all_trials(study_id, deepcopy=False):
                index[trial.state][trial._trial_id] = None
            self._by_state[study_id] = index
        return index
