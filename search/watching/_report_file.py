"""Reads a study folder and writes its ``report.html``; the only writer of that file.

The results files are read through :func:`~search.core._folder.read_record` (a corrupt one is a
one-line :class:`UserError` naming it, before anything is written) and the journal through
:func:`~search.core._store.read_store`, which never writes, creates or repairs it. The page is
written to a temporary file and renamed, so a reader never sees half a report, and a full disk
leaves no temporary file behind (a one-line error naming the folder).
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.core._folder import (
    BEST_JSON,
    FINAL_JSON,
    REPORT_HTML,
    STORE_FILE,
    STUDY_JSON,
    read_record,
    replacing,
)
from search.watching._report_page import render_page
from search.watching._report_study import ReportStudy

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial


def write_report(
    directory: Path,
    status: str | None = None,
    drawn: dict[str, Any] | None = None,
    stored: StoredTrials | None = None,
) -> Path:
    """Write ``directory/report.html`` from ``study.json``, the store and ``final.json``.

    ``status`` replaces the one in ``study.json``, which a run updates only after its observers;
    ``drawn`` keeps the plots for the run's next page (:func:`render_page`); ``stored`` is the
    store as the run's helper has followed it (read anew when not given).
    """
    record = read_record(directory / STUDY_JSON)
    if status is not None:
        record["status"] = status
    final = _optional_record(directory / FINAL_JSON)
    best = _optional_record(directory / BEST_JSON)
    with _quiet():
        trials = (stored or StoredTrials(directory)).trials()
        text = render_page(ReportStudy(record, final, trials, best), drawn)
    path = directory / REPORT_HTML
    with replacing(path) as f:
        f.write(text)
    return path


class StoredTrials:
    """The trials of the study in ``directory``'s journal, followed: the journal is replayed
    once, then each call takes in only the lines appended since the last.

    Replaying a journal costs one to four seconds per 10,000 trials (more for trials that
    report many steps), most of a big report; the run's report helper follows the journal
    while the search runs (:meth:`follow`), so the report at the end replays only the last
    trials.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._study: optuna.Study | None = None

    def trials(self) -> list[FrozenTrial]:
        """Every trial in the journal now; none before the study is in it."""
        if self._study is None:
            name = read_record(self.directory / STUDY_JSON)["name"]
            self._study = load_stored_study(self.directory, name)
            if self._study is None:
                return []
        return list(self._study.get_trials(deepcopy=False))

    def follow(self) -> float:
        """Take in what the journal gained since the last call; the seconds it took."""
        start = time.monotonic()
        with _quiet():
            self.trials()
        return time.monotonic() - start


def load_stored_study(directory: Path, name: str) -> optuna.Study | None:
    """The study in ``directory``'s journal, read only; ``None`` when there is none yet."""
    import optuna

    from search.core._store import read_store

    path = directory / STORE_FILE
    if not path.is_file() or path.stat().st_size == 0:
        return None

    class _ReadOnlyStudy(optuna.Study):
        """The report only reads trials, so they need no defensive deep copies."""

        def get_trials(self, deepcopy: bool = True, states: Any = None) -> list[FrozenTrial]:
            return super().get_trials(deepcopy=False, states=states)

    try:
        return _ReadOnlyStudy(study_name=name, storage=read_store(path))
    except KeyError:
        return None


def _optional_record(path: Path) -> dict[str, Any] | None:
    return read_record(path) if path.is_file() else None


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Keep Optuna's info lines and experimental warnings out of the terminal and the log."""
    import optuna

    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        optuna.logging.set_verbosity(before)
