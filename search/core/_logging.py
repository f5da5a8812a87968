"""Send Optuna's, the framework's and Python warnings' logging to ``RESULTS/NAME/search.log``.

The terminal keeps only the framework's own progress lines and errors.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from search.core._folder import LOG_FILE

_FORMAT = "%(asctime)s %(processName)s %(name)s %(levelname)s %(message)s"


def log_to_file(directory: Path) -> Path:
    """Route the ``search`` and ``optuna`` loggers and warnings to a file in ``directory``."""
    import optuna

    optuna.logging.disable_default_handler()
    path = log_helper_to_file(directory)
    optuna.logging.enable_propagation()
    optuna.logging.set_verbosity(optuna.logging.INFO)
    return path


def log_helper_to_file(directory: Path) -> Path:
    """A process's logging and warnings go to ``search.log`` (once), never the terminal."""
    path = directory / LOG_FILE
    from search.core._log_file import LogFile

    handler = LogFile(path, encoding="utf-8")  # a full disk drops lines, not tracebacks
    handler.setFormatter(logging.Formatter(_FORMAT))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_search_log", False)]:
        root.removeHandler(old)
        old.close()
    handler._search_log = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    return path


@contextlib.contextmanager
def native_output_logged() -> Iterator[None]:
    """While the block runs, what is written to file descriptor 2 goes to ``search.log``.

    Native libraries write there directly, past every Python setting: TensorFlow's C++ log
    lines ("Could not find cuda drivers", oneDNN, the TFLite converter) come before
    ``TF_CPP_MIN_LOG_LEVEL`` applies. Each line is logged afterwards as ``search.native``.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    sink = tempfile.TemporaryFile()
    os.dup2(sink.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        sink.seek(0)
        written = sink.read().decode("utf-8", "replace")
        sink.close()
        log = logging.getLogger("search.native")
        for line in written.splitlines():
            if line.strip():
                log.info(line)
