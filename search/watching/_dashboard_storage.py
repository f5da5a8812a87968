"""Every study journal under a results root, presented to optuna-dashboard as one Optuna storage.

optuna-dashboard serves one storage, and each study keeps its own journal
(``RESULTS/NAME/study.journal``). :class:`ResultsStorage` finds the studies anew each time the
page lists them (a study started after the dashboard appears), reads each journal incrementally
through :func:`~search.core._store.read_store`, which never writes, creates or repairs it, and
refuses every write. A study whose ``study.json`` or journal is corrupt is left out and named
once on stderr, so one broken folder does not take the dashboard down.
"""

from __future__ import annotations

import copy
import sys
import threading
from collections.abc import Container, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from optuna.storages import BaseStorage

from search.core._errors import UserError
from search.core._folder import STORE_FILE, STUDY_JSON, read_record
from search.core._store import read_store

if TYPE_CHECKING:
    from optuna.storages import JournalStorage
    from optuna.study import StudyDirection
    from optuna.study._frozen import FrozenStudy
    from optuna.trial import FrozenTrial, TrialState

#: a trial's id in the dashboard: study id * STRIDE + its id in its own journal
STRIDE = 1_000_000_000
METRIC_NAMES = "study:metric_names"  # Optuna's study attribute behind set_metric_names
REFUSAL = "the search dashboard only reads the study stores; change a study through its run"


class ReadOnlyError(RuntimeError):
    """The dashboard was asked to change a study; it only reads them."""


class ResultsStorage(BaseStorage):
    """The study journals under a results root, as one read-only Optuna storage."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._by_path: dict[Path, tuple[int, int]] = {}  # journal -> (inode, study id)
        self._studies: dict[int, tuple[JournalStorage, int]] = {}  # id -> (store, its own id)
        self._named: dict[int, dict[str, Any]] = {}  # id -> the metric's name, for the axes
        self._told: set[str] = set()  # the corrupt files already named on stderr
        self._next = 0
        # each trial as the dashboard numbers it, kept while the journal's trial is unchanged:
        # (study id, its own trial id) -> (the journal's trial, the renumbered copy)
        self._shown: dict[tuple[int, int], tuple[FrozenTrial, FrozenTrial]] = {}

    def journals(self) -> list[Path]:
        """The study journals under the root (or the root's own, for a study folder)."""
        found = sorted(self.root.glob(f"*/{STORE_FILE}"))
        if (self.root / STORE_FILE).is_file():
            found.insert(0, self.root / STORE_FILE)
        return found

    def _scan(self) -> None:
        """Pick up new, replaced and removed journals."""
        with self._lock:
            present = set()
            for path in self.journals():
                try:
                    stat = path.stat()
                except OSError:
                    continue
                present.add(path)
                known = self._by_path.get(path)
                if known is not None and known[0] == stat.st_ino:
                    continue
                if known is not None:  # the study folder was replaced
                    self._forget(known[1])
                    del self._by_path[path]
                if stat.st_size > 0:
                    self._add(path, stat.st_ino)
            for path in set(self._by_path) - present:
                self._forget(self._by_path.pop(path)[1])

    def _forget(self, study_id: int) -> None:
        """Drop a study whose folder went away or was replaced, and its renumbered trials."""
        self._studies.pop(study_id, None)
        self._shown = {key: kept for key, kept in self._shown.items() if key[0] != study_id}

    def _add(self, path: Path, inode: int) -> None:
        """Register the study in journal ``path``; a corrupt one is skipped and named once."""
        try:
            named = _metric_names(path.parent)
            store = read_store(path)
            own = store.get_all_studies()
        except UserError as exc:
            if str(exc) not in self._told:
                self._told.add(str(exc))
                print(f"dashboard: study left out: {exc}", file=sys.stderr, flush=True)
            return
        if not own:
            return  # created, not yet written: next time
        self._by_path[path] = (inode, self._next)
        self._studies[self._next] = (store, own[0]._study_id)
        self._named[self._next] = named
        self._next += 1

    def _store(self, study_id: int) -> tuple[JournalStorage, int]:
        with self._lock:
            found = self._studies.get(study_id)
        if found is None:
            raise KeyError(f"no study with id {study_id}")
        return found

    # -- reading ---------------------------------------------------------------------------

    def get_all_studies(self) -> list[FrozenStudy]:
        self._scan()
        with self._lock:
            entries = sorted(self._studies.items())
        studies = []
        for study_id, (store, own) in entries:
            for study in store.get_all_studies():
                if study._study_id == own:
                    shown = copy.copy(study)
                    shown._study_id = study_id
                    shown.system_attrs = {**self._named.get(study_id, {}), **study.system_attrs}
                    studies.append(shown)
        return studies

    def get_study_id_from_name(self, study_name: str) -> int:
        for study in self.get_all_studies():
            if study.study_name == study_name:
                return study._study_id
        raise KeyError(f"no study named {study_name!r}")

    def get_study_name_from_id(self, study_id: int) -> str:
        store, own = self._store(study_id)
        return store.get_study_name_from_id(own)

    def get_study_directions(self, study_id: int) -> list[StudyDirection]:
        store, own = self._store(study_id)
        return store.get_study_directions(own)

    def get_study_user_attrs(self, study_id: int) -> dict[str, Any]:
        store, own = self._store(study_id)
        return store.get_study_user_attrs(own)

    def get_study_system_attrs(self, study_id: int) -> dict[str, Any]:
        store, own = self._store(study_id)
        return {**self._named.get(study_id, {}), **store.get_study_system_attrs(own)}

    def get_all_trials(
        self,
        study_id: int,
        deepcopy: bool = True,
        states: Container[TrialState] | None = None,
    ) -> list[FrozenTrial]:
        store, own = self._store(study_id)
        trials = store.get_all_trials(own, deepcopy=deepcopy, states=states)
        if deepcopy:  # copies of their own, asked for: none is kept
            return [_renumbered(t, study_id) for t in trials]
        return [self._renumbered(t, study_id) for t in trials]

    def trials_page(self, study_id: int, after: int, count: int) -> list[FrozenTrial]:
        """The study's trials ``after`` to ``after + count`` (by number), as the dashboard
        numbers them: one page of a study's trial list."""
        store, own = self._store(study_id)
        trials = store.get_all_trials(own, deepcopy=False)
        return [self._renumbered(t, study_id) for t in trials[after : after + count]]

    def get_best_trial(self, study_id: int) -> FrozenTrial:
        """The best trial, found among the journal's trials and renumbered alone (Optuna's
        default would renumber every complete trial first)."""
        store, own = self._store(study_id)
        return self._renumbered(store.get_best_trial(own), study_id)

    def get_trial(self, trial_id: int) -> FrozenTrial:
        study_id, own_trial = divmod(trial_id, STRIDE)
        store, _ = self._store(study_id)
        return self._renumbered(store.get_trial(own_trial), study_id)

    def _renumbered(self, trial: FrozenTrial, study_id: int) -> FrozenTrial:
        """``trial`` with the dashboard's id; the copy made last time while the journal still
        holds the same trial object (a study's page asks for 100,000 trials every few
        seconds, and most of them no longer change)."""
        key = (study_id, trial._trial_id)
        kept = self._shown.get(key)
        if kept is not None and kept[0] is trial:
            return kept[1]
        shown = _renumbered(trial, study_id)
        self._shown[key] = (trial, shown)
        return shown

    # -- writing: refused -------------------------------------------------------------------

    def create_new_study(
        self, directions: Sequence[StudyDirection], study_name: str | None = None
    ) -> int:
        _refuse()

    def delete_study(self, study_id: int) -> None:
        _refuse()

    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        _refuse()

    def set_study_system_attr(self, study_id: int, key: str, value: Any) -> None:
        _refuse()

    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        _refuse()

    def set_trial_param(
        self, trial_id: int, param_name: str, param_value_internal: float, distribution: Any
    ) -> None:
        _refuse()

    def set_trial_state_values(
        self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
    ) -> bool:
        _refuse()

    def set_trial_intermediate_value(
        self, trial_id: int, step: int, intermediate_value: float
    ) -> None:
        _refuse()

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        _refuse()

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        _refuse()


def _metric_names(folder: Path) -> dict[str, Any]:
    """Optuna's metric-names attribute from the study's ``study.json``, so axes say roc_auc.

    A missing or unreadable ``study.json`` gives no names; a corrupt one is a
    :class:`UserError` naming it.
    """
    try:
        metric = read_record(folder / STUDY_JSON).get("metric")
    except OSError:
        return {}
    return {METRIC_NAMES: [metric]} if isinstance(metric, str) else {}


def _renumbered(trial: FrozenTrial, study_id: int) -> FrozenTrial:
    shown = copy.copy(trial)
    shown._trial_id = study_id * STRIDE + trial._trial_id
    return shown


def _refuse() -> NoReturn:
    raise ReadOnlyError(REFUSAL)
