"""What the driver wrote to the journal, recorded in ``study.json``; the check every reader makes.

The driver keeps a running sha256 of the journal's complete lines, with their count, bytes and
trials (:class:`Ledger`: it reads back only what was appended since the last look, so it costs
nothing per trial), and records it in ``study.json`` under ``journal`` at cheap moments: the
moment the study is created (the commit of its start: until then ``study.json`` says
``starting``), every :data:`CHECKPOINT_S` seconds of trials, and when the search ends.

``--resume``, ``final``, ``show``, ``report`` and ``search.load`` check that the journal's first
recorded bytes hash to the recorded value (:func:`check_journal`): a journal truncated, emptied,
deleted or edited inside what the run recorded is exit 2 naming it and what is missing, before
anything is written. A journal longer than the record (a run killed after its last checkpoint)
is fine.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from search.core._errors import UserError
from search.core._folder import STORE_FILE, STUDY_JSON

#: the key of ``study.json`` that holds the ledger
JOURNAL_KEY = "journal"
#: ``study.json``'s status between its first write and the study's creation in the journal
STARTING = "starting"
#: the seconds between two checkpoints while trials finish
CHECKPOINT_S = 5.0
#: how a line that creates a trial starts (Optuna's CREATE_TRIAL, as the writer writes it)
_CREATE_TRIAL = b'{"op_code":4,'


class Ledger:
    """A running sha256 over the complete lines of the journal at ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._hash = hashlib.sha256()
        self.bytes = self.lines = self.trials = 0

    def advance(self) -> dict[str, Any]:
        """Take in the complete lines appended since the last call; the record to keep."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.bytes)
                data = f.read()
        except FileNotFoundError:
            data = b""
        self._take(data[: data.rfind(b"\n") + 1])
        return self.record()

    def _take(self, data: bytes) -> None:
        self._hash.update(data)
        self.bytes += len(data)
        self.lines += data.count(b"\n")
        self.trials += _trials_in(data)

    def record(self) -> dict[str, Any]:
        return {"bytes": self.bytes, "lines": self.lines, "trials": self.trials,
                "sha256": self._hash.hexdigest()}


def _trials_in(lines: bytes) -> int:
    """The trials created in ``lines`` (whole lines, from a line's start)."""
    return lines.count(b"\n" + _CREATE_TRIAL) + lines.startswith(_CREATE_TRIAL)


def check_journal(directory: Path, record: dict[str, Any]) -> Ledger:
    """Refuse a journal that does not hold what ``record`` (``study.json``) says the run wrote
    to it; return a ledger over all its complete lines, for the driver to continue.

    A record without a ledger (a study still starting, or written by a version that kept none)
    is not checked.
    """
    path = directory / STORE_FILE
    expected = _expected(record, directory)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        data = b""
    data = data[: data.rfind(b"\n") + 1]
    ledger = Ledger(path)
    if expected is None:
        ledger._take(data)
        return ledger
    size = expected["bytes"]
    ledger._take(data[:size])
    if ledger.bytes < size:
        what = "is missing" if not path.exists() else (
            f"holds {ledger.trials} of the {expected['trials']} trials recorded in {STUDY_JSON} "
            f"({ledger.lines} of {expected['lines']} lines)")
        raise UserError(f"{path}: {what}; the journal was truncated or replaced since the run "
                        "wrote it; restore it from a copy, or move the study folder away")
    if ledger.record()["sha256"] != expected["sha256"]:
        raise UserError(
            f"{path}: its first {expected['lines']} lines ({expected['trials']} trials) differ "
            f"from what the run recorded in {STUDY_JSON} (sha256 {expected['sha256'][:12]}...); "
            "the journal was edited or damaged; restore it from a copy, or move the study "
            "folder away")
    ledger._take(data[size:])
    return ledger


def _expected(record: dict[str, Any], directory: Path) -> dict[str, Any] | None:
    value = record.get(JOURNAL_KEY)
    if value is None:
        return None
    keys = ("bytes", "lines", "trials", "sha256")
    if not isinstance(value, dict) or not all(key in value for key in keys) or not all(
        isinstance(value[key], int) for key in keys[:3]
    ):
        raise UserError(f"{directory / STUDY_JSON}: its {JOURNAL_KEY!r} entry is not a journal "
                        "record; the file is corrupt")
    return value
