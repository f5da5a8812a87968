"""TPE and GP samplers whose cost per suggestion stops growing with the study's history.

One TPE suggestion reads, splits and models every trial so far, and one GP fit is cubic in
them, so a long study samples slower and slower (4 workers, 3,000 zero-cost trials: 51
trials/s in the first tenth, 15 in the last). Past a history size these samplers hand Optuna's
own sampler a view of the study (:class:`~search.core._study_view.StudyView`) that holds every
unfinished trial, the best finished ones and the latest ones (and, for GP, a spread of the
rest), and nothing else: what they model is close to what the whole history gives (TPE's
"good" set is at most its best 25 trials, and it weighs old trials less), at a bounded cost
(``benchmarks/sampler_scale.py``).

The view is built for each trial (at the sampler's first call for it; its later calls for
that trial reuse it) from what the study's finished trials left in a few heaps, each trial
taken in once (:class:`_Taken`, kept with the study's store, so that a sampler rebuilt for
every slot of a reproducible run does not read the history again): a view costs the trials
still running, not the history. Below the bound the sampler is exactly Optuna's.
"""

from __future__ import annotations

import copy
import heapq
import math
import sys
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from search.core._study_view import StudyView

_UNFINISHED = (TrialState.RUNNING, TrialState.WAITING)  # TPE's and GP's running trials


@dataclass(frozen=True)
class HistoryBound:
    """Which trials a sampler is handed once more than ``best + recent + spread`` have
    finished: every unfinished trial, the ``best`` finished ones (COMPLETE by value, then
    PRUNED as TPE ranks them), the ``recent`` latest finished ones, and ``spread`` of the
    others, evenly by trial number; ``pruned`` false: COMPLETE trials are the finished ones
    (GP models no others). Several objectives: the whole history (which trials are
    best is a Pareto question there, and ``auto`` gives large budgets to NSGA-II)."""

    best: int
    recent: int
    spread: int = 0
    pruned: bool = True

    @property
    def size(self) -> int:
        """Finished trials handed over at most (once the history is larger)."""
        return self.best + self.recent + self.spread

    def view(self, study: Any) -> Any:
        """``study`` itself while the history is within the bound, else a bounded view."""
        if len(study.directions) > 1:
            return study
        trials = study.get_trials(deepcopy=False)  # states=None: the store's list, uncopied
        taken = _taken_for(study, self)
        taken.take(trials)
        if taken.modelled <= self.size:
            return study
        kept = taken.kept()
        kept += [t for t in (trials[i] for i in taken.pending) if t.state in _UNFINISHED]
        return StudyView(study, sorted(kept, key=lambda t: t.number))


class _Taken:
    """What a bound keeps of one study's finished trials, each taken in once.

    A call hands the study's trial list (in number order; positions stay, new trials come at
    the end); the trials not finished at the last look are kept as positions (``pending``) and
    looked at again, the new ones at the end are read once. So a call costs the new and the
    still running trials, not the history: the best trials are kept in heaps, the latest in a
    heap by number, and the finished ones in the order they were taken in (for GP's spread:
    even in that order, close to even by number). A list that is not the one seen before (its
    trials moved) is taken in again from the start.
    """

    def __init__(self, bound: HistoryBound, sign: float) -> None:
        self.bound, self.sign = bound, sign
        self._reset()

    def _reset(self) -> None:
        self.modelled = 0  # the finished trials the sampler would model
        self.pending: list[int] = []  # positions of trials not finished at the last look
        self._numbers: list[int] = []  # their numbers, to check the list is the same
        self._seen = 0  # positions looked at
        self._last = -1  # the number at position _seen - 1
        self._complete: list[tuple[Any, ...]] = []  # (-value, -number, trial): worst on top
        self._pruned: list[tuple[Any, ...]] = []  # ((depth, -value), -number, trial): idem
        self._latest: list[tuple[int, FrozenTrial]] = []  # the oldest on top
        self._finished: list[FrozenTrial] = []  # the modelled ones, as taken in

    def take(self, trials: Sequence[FrozenTrial]) -> None:
        """Take in the trials of ``trials`` that finished since the last call."""
        moved = self._seen > len(trials) or (
            self._seen > 0 and trials[self._seen - 1].number != self._last
        ) or any(trials[i].number != n for i, n in zip(self.pending, self._numbers, strict=True))
        if moved:
            self._reset()
        still = [i for i in self.pending if not self._took(trials[i])]
        still += [i for i in range(self._seen, len(trials)) if not self._took(trials[i])]
        self.pending, self._numbers = still, [trials[i].number for i in still]
        self._seen = len(trials)
        self._last = trials[-1].number if trials else -1

    def _took(self, trial: FrozenTrial) -> bool:
        """Take ``trial`` in if it is finished; whether it was."""
        state = trial.state
        if not state.is_finished():
            return False
        bound = self.bound
        if state is TrialState.COMPLETE:
            key: tuple[Any, ...] = (-self.sign * trial.values[0], -trial.number)
            heap = self._complete
        elif state is TrialState.PRUNED and bound.pruned:
            rank = _pruned_rank(trial, self.sign)
            key, heap = ((-rank[0], -rank[1]), -trial.number), self._pruned
        else:
            return True  # failed, or pruned for a sampler that models COMPLETE trials only
        self.modelled += 1
        trial = _lean(trial)
        _keep_best(heap, (*key, trial), bound.best)
        _keep_best(self._latest, (trial.number, trial), bound.recent)
        if bound.spread:
            self._finished.append(trial)
        return True

    def kept(self) -> list[FrozenTrial]:
        """The finished trials kept: the best (COMPLETE by value, ties to the lower number;
        then PRUNED as TPE ranks them), the latest, then the spread of the rest."""
        best = [entry[-1] for entry in sorted(self._complete, reverse=True)][: self.bound.best]
        if len(best) < self.bound.best:
            pruned = [entry[-1] for entry in sorted(self._pruned, reverse=True)]
            best += pruned[: self.bound.best - len(best)]
        chosen = {t.number: t for t in best}
        chosen.update((number, t) for number, t in self._latest)
        if self.bound.spread:  # every step-th of the rest, in the order taken in
            step = max(1, (len(self._finished) - len(chosen)) // self.bound.spread)
            spread = [t for t in self._finished[::step] if t.number not in chosen]
            chosen.update((t.number, t) for t in spread[: self.bound.spread])
        return list(chosen.values())


def _lean(trial: FrozenTrial) -> FrozenTrial:
    """``trial`` without the system attributes a sampler does not read of a finished trial
    (the slot, when a worker took it, the constant liar's shared parameters): TPE reads every
    kept trial's system attributes for constraints at each suggestion."""
    attrs = trial.system_attrs
    if all(key.startswith(_CONSTRAINTS) for key in attrs):
        return trial
    lean = copy.copy(trial)
    lean.system_attrs = {k: v for k, v in attrs.items() if k.startswith(_CONSTRAINTS)}
    return lean


_CONSTRAINTS = "constraints"  # Optuna's key (and prefix) of a trial's constraint values


def _keep_best(heap: list[Any], entry: tuple[Any, ...], size: int) -> None:
    """Keep the ``size`` largest entries in ``heap`` (a min-heap: the smallest on top)."""
    if len(heap) < size:
        heapq.heappush(heap, entry)
    elif size and entry[:2] > heap[0][:2]:
        heapq.heapreplace(heap, entry)


#: each storage's taken-in histories, by study and bound: samplers are rebuilt for each trial
#: of a reproducible run, and what they take in outlives them
_TAKEN: weakref.WeakKeyDictionary[Any, dict[tuple[int, HistoryBound], _Taken]] = (
    weakref.WeakKeyDictionary())


def _taken_for(study: Any, bound: HistoryBound) -> _Taken:
    """The taken-in history of ``study`` under ``bound`` (made at first use)."""
    storage = study._storage  # the study's store, what a Study and a view of it share
    kept = _TAKEN.setdefault(storage, {})
    key = (study._study_id, bound)
    if key not in kept:
        kept[key] = _Taken(bound, -1.0 if study.direction == StudyDirection.MAXIMIZE else 1.0)
    return kept[key]


def _pruned_rank(trial: FrozenTrial, sign: float) -> tuple[float, float]:
    """A pruned trial's place (smaller is better): deeper first, then its last value."""
    if not trial.intermediate_values:
        return 1.0, 0.0
    step, value = max(trial.intermediate_values.items())
    return -step, (math.inf if math.isnan(value) else sign * value)


#: TPE's "good" set is its best min(ceil(0.1 n), 25) trials: keeping the best 25 and at least
#: 250 others hands it the same good set as the whole history
TPE_BOUND = HistoryBound(best=25, recent=500)
#: GP: the best, the latest and a spread over the rest (its fit is cubic in the trials)
GP_BOUND = HistoryBound(best=100, recent=100, spread=100, pruned=False)


class _PerTrial:
    """The bounded view for the trial being sampled: built at the sampler's first call for a
    trial and reused by its later calls for it (the search space, the relative sample, the
    independent ones), so that the history is scanned once a trial."""

    def __init__(self, bound: HistoryBound) -> None:
        self.bound = bound
        self._last: tuple[Any, int, Any] | None = None

    def __getstate__(self) -> dict[str, Any]:  # a copied or pickled sampler keeps no study
        return {"bound": self.bound, "_last": None}

    def __call__(self, study: Any, trial: FrozenTrial) -> Any:
        last = self._last
        if last is None or last[0] is not study or last[1] != trial.number:
            last = (study, trial.number, self.bound.view(study))
            self._last = last
        return last[2]


class BoundedTPESampler(optuna.samplers.TPESampler):
    """Optuna's TPE handed a bounded history (``bound``); its arguments otherwise.

    ``declared``: the parameters of a declared space without conditional branches, which every
    trial suggests with the same distributions. Multivariate TPE's search space is then the
    distributions of the latest complete trial when it has exactly those (what Optuna's
    intersection of every complete trial's distributions gives, read from one trial: a sampler
    rebuilt for each slot of a reproducible run has no cache of that intersection).
    """

    def __init__(self, *, bound: HistoryBound | None = None,
                 declared: frozenset[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._view = _PerTrial(bound or TPE_BOUND)
        self._declared = declared

    def infer_relative_search_space(self, study: Any, trial: FrozenTrial) -> Any:
        view = self._view(study, trial)
        if self._declared and self._multivariate and not self._group:
            latest = _latest_complete(view)
            if latest is not None and latest.distributions.keys() == self._declared:
                return {name: d for name, d in sorted(latest.distributions.items())
                        if not d.single()}
        return super().infer_relative_search_space(view, trial)

    def sample_relative(self, study: Any, trial: FrozenTrial, search_space: Any) -> Any:
        return super().sample_relative(self._view(study, trial), trial, search_space)

    def sample_independent(self, study: Any, trial: FrozenTrial, name: str, dist: Any) -> Any:
        return super().sample_independent(self._view(study, trial), trial, name, dist)


def _latest_complete(study: Any) -> FrozenTrial | None:
    """The complete trial with the highest number that ``study`` holds."""
    trials = study._get_trials(deepcopy=False, states=(TrialState.COMPLETE,), use_cache=True)
    return trials[-1] if trials else None


class BoundedGPSampler(optuna.samplers.GPSampler):
    """Optuna's GP sampler handed a bounded history (``bound``), its torch on one thread.

    Its matrices stay small, and torch's threads fight the trials' processes for the cores:
    on 2 busy cores 60 trials took 80-88 s with torch's default threads and 21-38 s with one
    (``benchmarks/RESULTS.md``). The thread count is set once the sampler has imported torch,
    so a study that never models never does.
    """

    def __init__(self, *, bound: HistoryBound | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._view = _PerTrial(bound or GP_BOUND)

    def infer_relative_search_space(self, study: Any, trial: FrozenTrial) -> Any:
        return super().infer_relative_search_space(self._view(study, trial), trial)

    def sample_relative(self, study: Any, trial: FrozenTrial, search_space: Any) -> Any:
        torch = sys.modules.get("torch")
        if torch is not None and torch.get_num_threads() != 1:
            torch.set_num_threads(1)
        return super().sample_relative(self._view(study, trial), trial, search_space)

    def sample_independent(self, study: Any, trial: FrozenTrial, name: str, dist: Any) -> Any:
        return super().sample_independent(self._view(study, trial), trial, name, dist)
