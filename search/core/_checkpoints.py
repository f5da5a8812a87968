"""Trial checkpoints: a trial's saved state, kept under its folder, restored only while it verifies.

A trial saves a checkpoint (a folder it wrote, or any picklable state) with
``trial.checkpoint(...)``; the worker copies it into ``trials/N/checkpoints/step-000005/``
(whole or absent: written beside, then renamed) and sends the driver each file's sha256. The
driver records the latest checkpoint of the trial in the store (:data:`CHECKPOINT`), with a
keyed digest per file (:mod:`search.core._keyed`), so the results folder alone cannot forge one.
A trial that runs again (its worker, actor or node died; ``--resume`` after the driver died; a
Population Based Training segment that continues a member's training) is handed the checkpoint
it continues from, and the worker loads it only if every file still has the sha256 the driver
checked. Older checkpoints of a trial are removed as new ones come: the last ``keep`` and the
best by the reported value stay.
"""

from __future__ import annotations

import logging
import os
import pickle
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from search.core._folder import trial_dir
from search.core._keyed import keyed, matches, sha256_of

log = logging.getLogger(__name__)

#: the trial system attribute holding its latest checkpoint
CHECKPOINT = "search:checkpoint"
#: the user attribute of a trial that starts from another trial's checkpoint (resume, PBT)
RESTORE_FROM = "restore_from"
#: the folder of a trial's checkpoints, in its trial folder
FOLDER = "checkpoints"
#: a checkpoint made of a picklable state holds this one file
STATE_FILE = "state.pkl"


class CheckpointError(Exception):
    """A checkpoint that cannot be saved, or that no longer verifies."""


@dataclass(frozen=True)
class Restore:
    """What a worker is handed to continue from: the checkpoint's folder, the sha256 of each
    of its files (checked by the driver against the keyed record), its step, its kind."""

    folder: str
    files: dict[str, str]
    step: int
    kind: str  # "dir" or "state"
    trial: int  # the trial that saved it

    def as_message(self) -> dict[str, Any]:
        return {"folder": self.folder, "files": self.files, "step": self.step,
                "kind": self.kind, "trial": self.trial}


# --- the worker's side --------------------------------------------------------------------------


def save(trial_folder: Path, source: Any, step: int) -> dict[str, Any]:
    """Copy ``source`` (a folder, a file, or a picklable state) into the trial's checkpoint of
    ``step``; what the driver records: its path in the trial folder, kind and files' sha256."""
    root = trial_folder / FOLDER
    root.mkdir(parents=True, exist_ok=True)
    partial = root / f".partial-{uuid.uuid4().hex}"
    kind = "state"
    try:
        if isinstance(source, (str, os.PathLike)) and Path(source).is_dir():
            shutil.copytree(source, partial)
            kind = "dir"
        elif isinstance(source, (str, os.PathLike)) and Path(source).is_file():
            partial.mkdir()
            shutil.copy2(source, partial / Path(source).name)
            kind = "dir"
        else:
            partial.mkdir()
            with open(partial / STATE_FILE, "wb") as f:
                pickle.dump(source, f, protocol=pickle.HIGHEST_PROTOCOL)
        final = root / f"step-{step:06d}"
        if final.exists():  # the same step saved again (a retried trial): the new one wins
            shutil.rmtree(final)
        partial.rename(final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    files = {p.relative_to(final).as_posix(): sha256_of(p)
             for p in sorted(final.rglob("*")) if p.is_file()}
    return {"path": final.relative_to(trial_folder).as_posix(), "kind": kind, "files": files,
            "step": step}


def load(restore: Restore) -> Any:
    """The checkpoint to continue from: its folder (``dir``) or its state, once every file has
    the sha256 the driver checked; :class:`CheckpointError` otherwise."""
    folder = Path(restore.folder)
    present = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()} \
        if folder.is_dir() else {}
    if set(present) != set(restore.files) or any(
            sha256_of(present[name]) != sha for name, sha in restore.files.items()):
        raise CheckpointError(f"{folder}: the checkpoint changed after it was saved; not loaded")
    if restore.kind == "dir":
        return folder
    with open(folder / STATE_FILE, "rb") as f:
        return pickle.load(f)  # noqa: S301 - its bytes are the ones the driver signed


def keep_only(trial_folder: Path, keep: set[int]) -> None:
    """Remove the trial's checkpoints of steps not in ``keep``."""
    root = trial_folder / FOLDER
    if not root.is_dir():
        return
    for path in root.iterdir():
        if path.name.startswith("step-") and int(path.name[5:]) not in keep:
            shutil.rmtree(path, ignore_errors=True)


def steps_to_keep(saved: list[int], values: dict[int, float], keep: int | None,
                  maximize: bool) -> set[int]:
    """The last ``keep`` saved steps (1 when ``None``) and the best one by its reported value."""
    kept = set(saved[-(keep or 1):])
    scored = [s for s in saved if s in values]
    if scored:
        sign = 1.0 if maximize else -1.0
        kept.add(max(scored, key=lambda s: (sign * values[s], s)))
    return kept


# --- the driver's side --------------------------------------------------------------------------


def record(number: int, saved: dict[str, Any]) -> dict[str, Any]:
    """What the store keeps of a checkpoint trial ``number`` saved: its files' keyed digests
    (bound to the trial and the file's path), never the plain sha256 the worker sent."""
    path = str(saved["path"])
    files = {str(name): keyed(_context(number, path, str(name)), str(sha))
             for name, sha in dict(saved["files"]).items()}
    return {"path": path, "kind": str(saved["kind"]), "step": int(saved["step"]),
            "trial": number, "files": files}


def restore_from(recorded: dict[str, Any] | None, trial_folder: Path | None) -> Restore | None:
    """The :class:`Restore` for a recorded checkpoint whose files verify against the keyed
    digests now; ``None`` when there is none, or when it no longer verifies (the trial then
    starts from scratch, as it would without one)."""
    if not recorded or trial_folder is None:
        return None
    number, path = int(recorded["trial"]), str(recorded["path"])
    folder = trial_folder / path
    sha256s = {}
    for name, digest in dict(recorded["files"]).items():
        file = folder / name
        sha = sha256_of(file) if file.is_file() else ""
        if not matches(_context(number, path, name), sha, digest):
            return None
        sha256s[name] = sha
    return Restore(str(folder), sha256s, int(recorded["step"]), str(recorded["kind"]), number)


def _context(number: int, path: str, name: str) -> str:
    return f"checkpoint:{number}/{path}/{name}"


class TrialCheckpoints:
    """A running trial's checkpoints, in its worker: save, prune the old ones, load the one it
    continues from (``restore``, a :class:`Restore` as a message), at most once verified."""

    def __init__(self, folder: Path | None, restore: dict[str, Any] | None,
                 keep: int | None, maximize: bool) -> None:
        self._folder = folder
        self._restore = Restore(**restore) if restore else None
        self._keep = keep
        self._maximize = maximize
        self._saved: list[int] = []
        self._loaded: Any = None
        self._scratch: Path | None = None

    @property
    def restored_step(self) -> int | None:
        """The step of the checkpoint this trial continues from, or ``None``."""
        return self._restore.step if self._restore is not None else None

    def restored(self) -> Any:
        """The checkpoint this trial continues from (its folder, or its state), or ``None``."""
        if self._restore is None:
            return None
        if self._loaded is None:
            self._loaded = load(self._restore)
        return self._loaded

    def save(self, source: Any, step: int, values: dict[int, float]) -> dict[str, Any]:
        """Save ``source`` as the checkpoint of ``step``; what to send the driver."""
        folder = self._folder if self._folder is not None else self._scratch_folder()
        saved = save(folder, source, step)
        if step in self._saved:
            self._saved.remove(step)
        self._saved.append(step)
        kept = steps_to_keep(self._saved, values, self._keep, self._maximize)
        if self._restore is not None and Path(self._restore.folder).parent == folder / FOLDER:
            kept.add(self._restore.step)  # what this attempt continues from stays until done
        keep_only(folder, kept)
        self._saved = [s for s in self._saved if s in kept]
        return saved

    def _scratch_folder(self) -> Path:
        """A trial with no results folder (an in-memory study) keeps them in a temporary one."""
        if self._scratch is None:
            import tempfile

            self._scratch = Path(tempfile.mkdtemp(prefix="search-trial-"))
        return self._scratch


def restore_for(trial: Any, trials: Any, directory: Path | None) -> Restore | None:
    """The checkpoint a starting trial continues from: its own latest (a retry), else the
    latest of the trial its ``restore_from`` user attribute names (a resumed run, a PBT
    segment); ``None`` when there is none or it no longer verifies (logged)."""
    recorded = trial.system_attrs.get(CHECKPOINT)
    source = trial.user_attrs.get(RESTORE_FROM)
    if recorded is None and isinstance(source, int) and 0 <= source < len(trials()):
        recorded = trials()[source].system_attrs.get(CHECKPOINT)
    if recorded is None or directory is None:
        return None
    restore = restore_from(recorded, trial_dir(directory, int(recorded["trial"])))
    if restore is None:
        log.warning(
            "trial %d: the checkpoint of trial %s at step %s does not verify (changed or "
            "removed after it was saved); the trial starts from scratch",
            trial.number, recorded.get("trial"), recorded.get("step"))
    return restore
