"""Asking the study's sampler for the next trial and drawing its config, for the engine.

Plainly, a trial is asked when a worker is idle and sees every trial as the store holds it. In
a reproducible run (:mod:`search.core._reproducible`) the next trial's slot is known before it is
asked; its config is drawn, by a sampler seeded for that slot, as soon as the slots it may see
have finished, even while every worker is busy, so that a worker that frees finds it ready.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from search.core._reproducible import (
    SLOT,
    Reproducible,
    next_slot,
    seen_from,
    slot_of,
    slot_seed,
)

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

    from search.core._channel import TrialSnapshot

log = logging.getLogger(__name__)


class Asker:
    """Asks ``study`` for trials; reproducibly when ``reproducible`` is given, with a sampler
    that ``sampler_for(seed)`` builds for each slot."""

    def __init__(self, study: optuna.Study, reproducible: Reproducible | None,
                 sampler_for: Callable[[int], Any] | None) -> None:
        self.study = study
        self.reproducible = reproducible if hasattr(study._storage, "view") else None
        self._sampler_for = sampler_for
        self._next = next_slot(study.get_trials(deepcopy=False)) if self.reproducible else 0

    def slot(self) -> int | None:
        """The slot of the trial the next ``ask`` gives (``None``: not a reproducible run): an
        enqueued trial's own slot when it runs a slot again, else the next free one."""
        if self.reproducible is None:
            return None
        waiting = self.study._storage.get_all_trials(
            self.study._study_id, deepcopy=False, states=(waiting_state(),))
        if waiting:
            again = slot_of(waiting[0], self._trial_numbered)
            if again is not None:
                return again
        return self._next

    def _trial_numbered(self, number: int) -> FrozenTrial | None:
        """The study's trial ``number`` from the store, without walking the study."""
        storage = self.study._storage
        try:
            return storage.get_trial(
                storage.get_trial_id_from_study_id_trial_number(self.study._study_id, number))
        except KeyError:
            return None

    def ready(self, slot: int | None, unfinished: Iterator[int | None]) -> bool:
        """Whether every slot the trial in ``slot`` sees as finished has finished."""
        if slot is None or self.reproducible is None:
            return True
        horizon = slot - self.reproducible.lag
        return all(s is None or s >= horizon for s in unfinished)

    def ask(self, slot: int | None) -> optuna.Trial:
        """A new trial (the next enqueued one first), in ``slot`` when reproducible."""
        if slot is None or self.reproducible is None:
            return self.study.ask()
        if self._sampler_for is not None:
            self.study.sampler = self._sampler_for(slot_seed(self.reproducible.seed, slot))
        trial = self.study.ask()
        self.study._storage.set_trial_system_attr(trial._trial_id, SLOT, slot)
        self._next = max(self._next, slot + 1)
        return trial

    @contextlib.contextmanager
    def seen_by(self, slot: int | None) -> Iterator[None]:
        """The study as the trial in ``slot`` sees it, for the sampler and the pruner."""
        if slot is None or self.reproducible is None:
            yield
            return
        with seen_from(self.study, slot, self.reproducible.lag):
            yield


def trial_snapshot(trial: FrozenTrial) -> TrialSnapshot:
    """What the trial's Optuna API in the worker reads: the trial as it starts."""
    from optuna.distributions import distribution_to_json

    from search.core._channel import TrialSnapshot

    return TrialSnapshot(
        trial_id=trial._trial_id,
        params=dict(trial.params),
        distributions={k: distribution_to_json(d) for k, d in trial.distributions.items()},
        user_attrs=dict(trial.user_attrs),
        datetime_start=trial.datetime_start,
    )


def suggest(trial: optuna.Trial, name: str, distribution: Any) -> Any:
    """A parameter's value from the study's sampler, through Optuna's public ``suggest_*``."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if isinstance(distribution, FloatDistribution):
        return trial.suggest_float(name, distribution.low, distribution.high,
                                   step=distribution.step, log=distribution.log)
    if isinstance(distribution, IntDistribution):
        return trial.suggest_int(name, distribution.low, distribution.high,
                                 step=distribution.step, log=distribution.log)
    if isinstance(distribution, CategoricalDistribution):
        return trial.suggest_categorical(name, distribution.choices)
    raise TypeError(f"parameter {name!r}: no suggest_* draws a {type(distribution).__name__}")


def waiting_state() -> Any:
    """Optuna's WAITING state (imported when asked: ``import search`` stays light)."""
    from optuna.trial import TrialState

    return TrialState.WAITING


def log_finished(trial: FrozenTrial) -> None:
    """One line in ``search.log`` for a finished trial."""
    log.info(
        "trial %d %s values=%s params=%s", trial.number, trial.state.name, trial.values, trial.params
    )
