"""Fault injection for tests, read in this one place: ``SEARCH_FAULT_AT=final:after-open``
kills the process (SIGKILL: no handler, no cleanup) when it reaches that named point.

A timed kill cannot hit a phase of a few milliseconds reliably; a named point can. The points
are the phases of the final evaluation (:data:`POINTS`). Unset, :func:`fault_point` does nothing.
"""

from __future__ import annotations

import os
import signal

FAULT_ENV = "SEARCH_FAULT_AT"

#: the named points, in the order the final evaluation passes them
POINTS = (
    "final:after-fit",  # the model is back from the worker; nothing written
    "final:in-save",  # the model is written into its temporary folder, not yet renamed
    "final:after-save",  # model/ is in place; the test set is still sealed
    "final:after-open",  # final.json records the opening; the test rows are handed out
    "final:after-score",  # the scores are computed, not yet written
)

#: the named points of a study's start (search/cli/_session.py, _steps.py), in order
START_POINTS = (
    "start:after-lock",  # the run lock is held; nothing written
    "start:after-takeover",  # a fresh run removed an unfinished start's journal
    "start:after-study-json",  # study.json says "starting"; no journal yet
    "start:in-journal",  # the journal holds create_study, not the rest of the study
    "start:after-journal",  # the study is whole in the journal; study.json still "starting"
    "start:after-commit",  # study.json records the study and its journal: resumable
)


def fault_point(name: str) -> None:
    """SIGKILL this process if ``$SEARCH_FAULT_AT`` names ``name``."""
    if os.environ.get(FAULT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
