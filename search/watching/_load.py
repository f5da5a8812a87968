"""``search.load("RESULTS/NAME")``: a study's results in Python, read-only and lazy.

:class:`StudyResults` is a view of a study folder. Making one only checks that the folder holds
a ``study.json``; each attribute reads its file when asked, every time it is asked, so a view of
a running study follows the run. Nothing is ever written: the results files are read with
:func:`~search.core._folder.read_record` / :func:`~search.core._folder.read_json` (a corrupt one
is a one-line :class:`UserError` naming it) and the journal with
:func:`~search.core._store.read_store`, which refuses to write.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.core._errors import UserError
from search.core._folder import (
    BEST_JSON,
    FINAL_JSON,
    MODEL_DIR,
    REQUIRED,
    STORE_FILE,
    STUDY_JSON,
    TRIALS_CSV,
    read_json,
    read_record,
    trial_dir,
    unscored_final,
)
from search.core._record import has_test_set
from search.watching._trial_history import checkpoint_folder, lineage, step_metrics

if TYPE_CHECKING:
    import optuna
    import pandas as pd

#: the columns of an empty ``trials.csv`` (before the run wrote its first one)
BASE_COLUMNS = ("number", "state", "value", "duration_s")
#: the columns of :meth:`StudyResults.metrics_frame` before the metrics
_FRAME_KEYS = ("number", "step", "value")


def load(path: str | os.PathLike[str]) -> StudyResults:
    """A read-only, lazy view of the study folder ``path`` (``RESULTS/NAME``).

    Nothing is read until an attribute asks for it, and nothing is ever written, so it is safe
    on a study that is running. A folder that is not a study is a :class:`UserError`.

    >>> study = search.load("results/breast_cancer")  # doctest: +SKIP
    >>> study.trials.sort_values("value", ascending=False).head()  # doctest: +SKIP
    """
    return StudyResults(path)


class StudyResults:
    """The results of one study, read from its folder on demand; see :func:`load`.

    Attributes read their file at each access (``trials.csv``, ``best.json``, ``final.json``,
    ``study.json``); keep the value in a variable to reuse it. What the results files do not
    hold is read from the store at each call: each trial's per-step metrics
    (:meth:`metrics`, :meth:`metrics_frame`), its latest checkpoint (:meth:`checkpoint`,
    :meth:`load_checkpoint`) and a Population Based Training study's :attr:`lineage`. A view
    replays the journal once (about a second per 10,000 trials that report nothing, several
    for trials that report folds or epochs) and then reads only what the run appended.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        directory = Path(path)
        if not (directory / STUDY_JSON).is_file():
            raise UserError(_not_a_study(directory))
        self._directory = directory
        self._store: tuple[Any, int, Any] | None = None  # (device, inode), size, storage
        self._checked: tuple[Any, Any] | None = None  # journal stat and ledger last checked

    @property
    def directory(self) -> Path:
        """The study folder."""
        return self._directory

    @property
    def record(self) -> dict[str, Any]:
        """``study.json``: name, metric, direction (or ``directions``), space, seed, backend,
        data fingerprints, versions, command, times, status."""
        return _study_record(self._directory / STUDY_JSON)

    @property
    def multi_objective(self) -> bool:
        """Whether the study has several objectives (``study.json`` holds ``directions``)."""
        return _is_multi(self.record)

    @property
    def trials(self) -> pd.DataFrame:
        """``trials.csv`` as a DataFrame: one row a trial, the file's columns (``number``,
        ``state``, ``value``, ``duration_s``, ``params_<path>``, ``fold_<i>`` or ``step_<i>``,
        ``train_score``, ``overfit_gap``, ``error``); empty cells are NaN.

        A run rewrites ``trials.csv`` from its store as trials finish, at most once a second
        (less often when the study is large) and once more at the end: the view of a running
        study lags the store by up to that interval. :meth:`optuna_study` reads the store itself.
        Before the first rewrite the frame is empty, with the columns ``number``, ``state``,
        ``value``, ``duration_s``.
        """
        return _read_trials(self._directory / TRIALS_CSV)

    @property
    def best(self) -> dict[str, Any] | None:
        """``best.json``, or ``None`` before any trial completed.

        One objective: ``number``, ``value``, ``params``, ``config``, the fold scores, their
        spread and interval, the tied configs and the config ``selected`` for the final
        evaluation. Several objectives: ``pareto`` and ``selected`` (see :attr:`pareto`).
        Like :attr:`trials`, it is rewritten as trials finish and lags a running study.
        """
        path = self._directory / BEST_JSON
        if not path.is_file():
            return None
        if self.multi_objective:
            return _checked(path, read_json(path), ("pareto",))
        return read_record(path)

    @property
    def pareto(self) -> list[dict[str, Any]]:
        """The Pareto front of a study with several objectives: a list of dicts, one a
        non-dominated trial, each with ``number``, ``values`` (objective name → value),
        ``params`` and ``config``; an empty list before any trial completed.

        ``pandas.json_normalize(study.pareto)`` makes it a table. A study with one objective
        has no front: asking for one is a :class:`UserError` (use :attr:`best`).
        """
        record = self.record
        if not _is_multi(record):
            raise UserError(
                f"{self._directory}: the study has one objective ({record.get('metric')}, "
                f"{record.get('direction')}), so it has no Pareto front; use .best"
            )
        best = self.best
        return [] if best is None else list(best["pareto"])

    @property
    def final(self) -> dict[str, Any] | None:
        """``final.json``, or ``None`` while the test set is sealed.

        Its existence means the test set was opened; ``status`` is ``"evaluated"`` once the
        test metrics were recorded (``test_value``, ``test_metrics``, ``generalization_gap``).
        """
        path = self._directory / FINAL_JSON
        return read_record(path) if path.is_file() else None

    def optuna_study(self) -> optuna.Study:
        """The study in the journal (``study.journal``) as an :class:`optuna.Study`, read-only,
        for :mod:`optuna.visualization` and Optuna's own analysis.

        It reads the store as it grows (a running study's newest trials included). Anything
        that would write (``optimize``, ``ask``, ``tell``, ``set_user_attr``) raises
        :class:`~search.core._store.ReadOnlyStore`: only the run's driver writes the store.
        One view replays the journal once and then reads only what was appended: a second
        call, or :meth:`metrics` after it, costs little even for 100,000 trials.
        """
        import optuna

        path = self._directory / STORE_FILE
        name = self.record["name"]
        storage = self._journal(self.record)  # truncated or edited: a UserError naming it
        if storage is None:
            raise UserError(f"{path}: missing; the study has no store yet (no trial has started)")
        try:
            return optuna.load_study(study_name=name, storage=storage)
        except KeyError:
            raise UserError(f"{path}: holds no study named {name!r} yet") from None

    def metrics(self, number: int) -> list[dict[str, Any]]:
        """The metrics trial ``number`` reported at each step (``trial.report_metrics``, Ray
        Tune's ``tune.report``), in step order: one dict a step, ``step`` first, then what was
        reported (``training_iteration`` among them for Tune). An empty list for a trial that
        reported none. Read from the store, like :meth:`optuna_study`; an unknown trial is a
        :class:`UserError`."""
        trial = self._trial(number)
        return [{"step": step, **{k: v for k, v in found.items() if k != "step"}}
                for step, found in step_metrics(trial)]

    def metrics_frame(self) -> pd.DataFrame:
        """Every trial's steps as one DataFrame: a row a trial and step, the columns
        ``number``, ``step``, ``value`` (the intermediate value reported at that step, the
        study's metric; NaN where none) and each metric a trial reported at a step (NaN where
        it did not), for ``frame.pivot(index="step", columns="number", values=...)`` or a
        ``groupby("number")``. A reported metric named ``number``, ``step`` or ``value`` is
        left out here (:meth:`metrics` has it). Empty (those three columns) when no trial
        reported a step."""
        import pandas as pd

        rows = []
        for trial in self._stored_trials():
            reported = step_metrics(trial)
            by_step = dict(reported)
            steps = sorted(set(trial.intermediate_values) | set(by_step))
            for step in steps:
                found = {k: v for k, v in by_step.get(step, {}).items() if k not in _FRAME_KEYS}
                rows.append({"number": trial.number, "step": step,
                             "value": trial.intermediate_values.get(step), **found})
        return pd.DataFrame(rows, columns=None if rows else list(_FRAME_KEYS))

    def checkpoint(self, number: int) -> Path | None:
        """The folder (absolute) of trial ``number``'s latest checkpoint
        (``trials/trial_NNNNN/checkpoints/step-SSSSSS``), or ``None`` when it saved none; a
        checkpoint saved as a state holds it pickled in ``state.pkl``: read it with
        :meth:`load_checkpoint`, which checks it first. A PBT segment that saved none before it
        ended continues from its parent's (see :attr:`lineage`)."""
        return checkpoint_folder(self._directory, self._trial(number))

    def load_checkpoint(self, number: int) -> Any:
        """Trial ``number``'s latest checkpoint: its state (a checkpoint saved as a state) or
        its folder, once every file verifies against the digests the run recorded under your
        key, as a trial continuing from it would; a checkpoint changed, removed or recorded
        under another key, or none, is a :class:`UserError` and nothing is unpickled."""
        from search.core._checkpoints import CHECKPOINT, CheckpointError, load, restore_from

        recorded = self._trial(number).system_attrs.get(CHECKPOINT)
        if not isinstance(recorded, dict):
            raise UserError(f"{self._directory}: trial {number} saved no checkpoint")
        owner = int(recorded.get("trial", number))
        restore = restore_from(recorded, trial_dir(self._directory, owner))
        if restore is None:
            folder = trial_dir(self._directory, owner) / str(recorded.get("path"))
            raise UserError(
                f"{folder}: trial {number}'s checkpoint does not verify against the digests "
                "its run recorded under your key (changed, removed, or recorded with another "
                "key); not loaded"
            )
        try:
            return load(restore)
        except CheckpointError as exc:
            raise UserError(str(exc)) from None

    @property
    def lineage(self) -> dict[int, list[dict[str, Any]]] | None:
        """A Population Based Training study's members, each the list of its segments (one
        trial each) in order, by the member's number (the trial that started it); ``None`` for
        a study without PBT, ``{}`` for one that has not started a trial.

        A segment is a dict: ``trial``, ``segment`` (0, 1, ...), ``state``, ``from_step`` (the
        step it started at: that of the checkpoint it continued from, 0 for a member's first),
        ``to_step`` (its last reported step; ``from_step`` while it reported none), ``value``
        (its value once COMPLETE: a segment's last reported value, or a member's final value;
        else its last reported value, ``None`` before it reported), ``params`` (the hyperparameters it trained with), ``exploited``
        (whether it took another member's checkpoint and hyperparameters, perturbed) and
        ``parent`` (the trial it continued from: the member's previous segment, or the one it
        exploited; ``None`` for a member's first). ``pandas.json_normalize`` of a member's list
        makes it a table. Read from the store, like :meth:`optuna_study`.
        """
        found = lineage(self._stored_trials())
        if found is None and _is_pbt(self.record):
            return {}
        return found

    def _stored_trials(self) -> list[Any]:
        """The trials in the store; none before the run wrote its first."""
        import optuna

        record = self.record
        storage = self._journal(record)  # truncated or edited: a UserError naming it
        if storage is None:
            return []
        try:
            study = optuna.load_study(study_name=record["name"], storage=storage)
        except KeyError:
            return []
        return list(study.get_trials(deepcopy=False))

    def _journal(self, record: dict[str, Any]) -> Any:
        """The journal's read-only storage, checked against ``record``'s ledger; ``None`` when
        there is no journal yet or it is empty.

        The view keeps one storage while the journal is the same file (its device and inode)
        and has not shrunk, so each call replays only the lines appended since the last; the
        ledger check runs again whenever the file or the record changed since it passed.
        """
        from search.core._journal_check import check_journal
        from search.core._store import read_store

        path = self._directory / STORE_FILE
        try:
            stat: os.stat_result | None = path.stat()
        except FileNotFoundError:
            stat = None
        seen = None if stat is None else (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if (seen, record.get("journal")) != self._checked:
            check_journal(self._directory, record)
            self._checked = (seen, record.get("journal"))
        if stat is None or stat.st_size == 0:
            self._store = None
            return None
        file = (stat.st_dev, stat.st_ino)
        if self._store is None or self._store[0] != file or stat.st_size < self._store[1]:
            self._store = (file, stat.st_size, read_store(path))
        else:
            self._store = (file, stat.st_size, self._store[2])
        return self._store[2]

    def _trial(self, number: int) -> Any:
        trials = self._stored_trials()
        if isinstance(number, bool) or not isinstance(number, int) \
                or not 0 <= number < len(trials):
            raise UserError(
                f"{self._directory}: no trial {number!r}; the study has {len(trials)} trials "
                f"(numbers 0 to {len(trials) - 1})" if trials else
                f"{self._directory}: no trial {number!r}; the study has no trials yet"
            )
        return trials[number]

    def model(self) -> Any:
        """The final model, fitted on all development data by the final evaluation, loaded
        with its own library (:func:`objectives.load_model`: scikit-learn's ``model.joblib``,
        or a network's folder behind its preprocessing), ready to ``predict``.

        Loading unpickles files of the study folder, so every file of the model folder must
        first verify against the digests ``final.json`` records under your key
        (``$XDG_CONFIG_HOME/search/results.key``): a file changed, added or missing, or digests
        written by another user or key, is a :class:`UserError` and nothing is loaded. Before the
        final evaluation, when it recorded no result, or for a study with no data, it is a
        :class:`UserError` too.
        """
        folder = self._directory / MODEL_DIR
        final = self.final
        if final is None and not has_test_set(self.record):
            raise UserError(
                f"{self._directory}: the study has no data, so it has no test set and no "
                "final model"
            )
        if final is None:
            raise UserError(
                f"{self._directory}: no final model yet: the test set is still sealed; "
                f"`python -m search final {self._directory}` fits and evaluates it"
            )
        unscored = unscored_final(final, self._directory)
        if unscored is not None:
            raise UserError(f"{self._directory / FINAL_JSON}: the test set was {unscored}")
        if not folder.is_dir():
            raise UserError(
                f"{self._directory / FINAL_JSON}: the test set was opened at "
                f"{final.get('opened_at')} but the final evaluation recorded no model"
            )
        from search.core._final_model import verify_model_digests

        verify_model_digests(self._directory, final.get("model_digests"))  # before unpickling
        return _load_model(folder)

    def __repr__(self) -> str:
        try:
            summary = _summary(self)
        except UserError as exc:
            summary = f"at {self._directory}: unreadable: {exc}"
        return f"<StudyResults {summary}>"


def _summary(results: StudyResults) -> str:
    """``'name' at DIR: 5 COMPLETE, 1 PRUNED; best accuracy 0.97 (trial 3); test sealed``
    (``no test set`` for a study with no data)."""
    record = results.record
    states = _state_counts(results.directory / TRIALS_CSV)
    counts = ", ".join(f"{n} {s}" for s, n in sorted(states.items())) or "no trials"
    best = results.best
    if best is None:
        top = "no best yet"
    elif _is_multi(record):
        top = f"{len(best['pareto'])} on the Pareto front of {', '.join(record['directions'])}"
    else:
        top = f"best {record.get('metric') or 'value'} {best['value']:.6g} (trial {best['number']})"
    final = results.final
    if final is None:
        test = "test sealed" if has_test_set(record) else "no test set"
    elif final.get("status") == "evaluated" and isinstance(final.get("test_value"), int | float):
        test = f"test opened: {final.get('metric')} {final['test_value']:.6g}"
    elif final.get("model_digests"):
        test = "test opened, not scored (python -m search final scores the saved model)"
    else:
        test = "test opened, no result recorded"
    return f"{record['name']!r} at {results.directory}: {counts}; {top}; {test}"


def _not_a_study(directory: Path) -> str:
    """Why ``directory`` is not a study folder, naming the studies under it if it holds some."""
    if not directory.exists():
        return f"{directory}: no such folder; give a study folder RESULTS/NAME"
    if not directory.is_dir():
        return f"{directory}: a file, not a study folder RESULTS/NAME"
    try:
        studies = sorted(p.name for p in directory.iterdir() if (p / STUDY_JSON).is_file())
    except OSError:
        studies = []
    under = f"; the studies under it: {', '.join(studies)}" if studies else ""
    return f"{directory}: not a study folder (no {STUDY_JSON}){under}"


def _study_record(path: Path) -> dict[str, Any]:
    """``study.json``; a study with several objectives records ``directions`` (a mapping of
    objective name to direction) where a study with one records ``direction``."""
    value = read_json(path)
    if not _is_multi(value):
        return read_record(path)
    required = [key for key in REQUIRED[STUDY_JSON] if key != "direction"]
    return _checked(path, value, (*required, "directions"))


def _is_pbt(record: dict[str, Any]) -> bool:
    """Whether ``study.json`` records Population Based Training as the study's pruner."""
    pruner = record.get("pruner")
    return isinstance(pruner, dict) and str(pruner.get("class", "")).endswith(".PBT")


def _is_multi(record: Any) -> bool:
    return isinstance(record, dict) and isinstance(record.get("directions"), dict)


def _checked(path: Path, value: Any, required: tuple[str, ...]) -> dict[str, Any]:
    """``value`` read from ``path``, an object with the keys ``required``, or a UserError."""
    if not isinstance(value, dict):
        raise UserError(
            f"{path}: holds a JSON {type(value).__name__}, not an object; the file is corrupt"
        )
    missing = [key for key in required if key not in value]
    if missing:
        raise UserError(f"{path}: has no {', '.join(missing)}; the file is corrupt")
    return value


def _read_trials(path: Path) -> pd.DataFrame:
    import pandas as pd

    if not path.is_file():
        return pd.DataFrame(columns=list(BASE_COLUMNS))
    try:
        # Only an empty cell (or nan) is missing: a categorical choice "NA" or "None" stays text.
        return pd.read_csv(path, keep_default_na=False, na_values=["", "nan", "NaN"])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{path}: not a readable CSV ({why}); the file is corrupt") from None


def _state_counts(path: Path) -> dict[str, int]:
    """Trials by state, from ``trials.csv`` (without pandas: a repr should be cheap)."""
    if not path.is_file():
        return {}
    counts: dict[str, int] = {}
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = csv.reader(f)
            header = next(rows, [])
            at = header.index("state") if "state" in header else None
            for row in rows:  # a list a row, not a dict: 100,000 rows in a fraction of a second
                state = (row[at] if at is not None and at < len(row) else "") or "?"
                counts[state] = counts.get(state, 0) + 1
    except (csv.Error, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not a readable CSV ({exc}); the file is corrupt") from None
    return counts


def _load_model(folder: Path) -> Any:
    from objectives import ObjectiveError, load_model

    try:
        return load_model(folder)
    except FileNotFoundError as exc:
        raise UserError(
            f"{folder}: incomplete, {Path(exc.filename or '').name} is missing"
        ) from None
    except ObjectiveError as exc:
        raise UserError(str(exc)) from None
