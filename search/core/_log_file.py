"""``search.log``'s handler, for a results folder that takes no more writes.

Python's logging prints a traceback on stderr for every line a handler fails to write ("---
Logging error ---", with the logged exception's own traceback): on a full disk that is most of
the ~150 lines a run printed. A line the file system refuses (a full disk, a quota, a read-only
file system: :data:`~search.core._errors.FULL_ERRNOS`) is dropped here instead; the run's next
write of a results file says it in one line (:class:`~search.core._errors.CannotWrite`). Any
other failure to log is reported as logging always does.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from search.core._errors import FULL_ERRNOS


class LogFile(logging.FileHandler):
    """A :class:`logging.FileHandler` that drops, silently, what a full disk refuses; the file
    is opened at the first line (``delay``), so a read-only folder fails there, not here."""

    def __init__(self, path: str | Path, encoding: str = "utf-8") -> None:
        super().__init__(path, encoding=encoding, delay=True)

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError) and exc.errno in FULL_ERRNOS:
            return
        super().handleError(record)
