"""A trial worker's life, wherever a backend places it: load the task, run jobs, die with the driver.

The worker never holds the sealed test part: it receives the development data inside the task,
pickled by the driver. It keeps no store: what a trial learns goes to the driver over the
channel (:mod:`search.core._channel`). It ignores Ctrl-C, which the terminal sends to the whole
process group: the driver decides what an interruption means. And it watches a second
connection, its lifeline, which nothing is ever sent on: when the driver dies, however it dies,
the lifeline closes and the worker exits at once, so no worker outlives its driver.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from search.core._channel import (
    Done,
    Fit,
    FitScore,
    Fitted,
    Ready,
    Run,
    Save,
    Setup,
    Stop,
)
from search.core._keyed import sha256_of
from search.core._logging import native_output_logged
from search.core._outcome import failure, run_objective

#: exit status of a worker whose driver went away
ORPHANED = 75


def serve(conn: Any, lifeline: Any, setup: Setup | None = None) -> None:
    """Serve the driver on ``conn`` until it says stop (or goes away).

    ``setup`` is the task, when the placement delivered it another way than the channel.
    """
    finished = die_with_driver(lifeline)
    with contextlib.suppress(ValueError):  # not the main thread (a Ray actor's may not be)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    if setup is None:
        setup = conn.recv()
    try:
        task = pickle.loads(setup.task)
        import search.core._worker_trial  # noqa: F401 - Optuna loads now, while the driver sets up
        if setup.log_dir is not None and setup.log_dir.is_dir():
            from search.core._logging import log_helper_to_file

            log_helper_to_file(setup.log_dir)
    except Exception as exc:  # noqa: BLE001 - the driver says why the worker cannot start
        conn.send(Ready(os.getpid(), socket.gethostname(), error=failure(exc).error))
        return
    conn.send(Ready(os.getpid(), socket.gethostname()))
    with _thread_limit(setup.threads):
        _loop(conn, task)
    finished.set()  # told to stop: the driver closing the lifeline next is no death


def _loop(conn: Any, task: Any) -> None:
    subsets: dict[bytes, Any] = {}
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if isinstance(job, Stop):
            return
        done: Done | Fitted
        with native_output_logged():  # TensorFlow's C++ log lines: search.log, not the terminal
            if isinstance(job, Run):
                done = _run(conn, task, job, subsets)
            elif isinstance(job, Fit):
                done = _fit(task, job, subsets)
            elif isinstance(job, FitScore):
                done = _fit_score(task, job, subsets)
            elif isinstance(job, Save):
                done = _save(task, pickle.loads(job.model), job.folder)
            else:
                raise TypeError(f"a worker cannot do {type(job).__name__}")
        conn.send(done)


def _run(conn: Any, task: Any, job: Run, subsets: dict[bytes, Any]) -> Done:
    from search.core._worker_trial import WorkerTrial

    folder = task.trial_dir(job.number)
    handle = WorkerTrial(conn, job.number, task.seed, folder, job.trial, job.study,
                         restore=job.restore, keep_checkpoints=job.keep_checkpoints)
    data = _data(task, job.rows, subsets)
    outcome = run_objective(task.objective, job.config, data, handle, task.metric)
    files = file_digests(folder) if folder is not None else {}
    return Done(outcome.state, outcome.value, outcome.error, outcome.detail, files)


def _fit(task: Any, job: Fit, subsets: dict[bytes, Any]) -> Fitted:
    import cloudpickle

    started = time.perf_counter()
    try:
        data = _data(task, job.rows, subsets)
        model = task.objective.fit_final(job.config, data, task.seed, trial_dir=job.trial_dir)
        payload = cloudpickle.dumps(model) if job.save_to is None else None  # else: _save's
    except Exception as exc:  # noqa: BLE001 - the driver reports it
        lost = failure(exc)
        return Fitted(error=lost.error, detail=lost.detail)
    seconds = time.perf_counter() - started
    if job.save_to is None:
        return Fitted(model=payload, seconds=seconds)
    saved = _save(task, model, job.save_to)
    return Fitted(saved.model, None, saved.error, saved.detail, seconds, saved.files,
                  saved.cannot_write)


def _save(task: Any, model: Any, folder: Path) -> Fitted:
    """Save the final model into ``folder`` (:func:`search.core._final_model.write_model`);
    the model comes back pickled as it was saved (array rows accepted)."""
    from search.core._errors import cannot_write
    from search.core._final_model import write_model
    from search.core._folder import MODEL_DIR

    try:
        payload, files = write_model(task.objective, model, task.data, folder)
        return Fitted(model=payload, files=tuple(files))
    except Exception as exc:  # noqa: BLE001 - the driver reports it
        full = cannot_write(exc, folder.parent / MODEL_DIR)  # the folder it becomes
        if full is not None:
            return Fitted(error=str(full), cannot_write=True)
        lost = failure(exc)
        return Fitted(error=f"saving the final model failed ({lost.error})", detail=lost.detail)


def _fit_score(task: Any, job: FitScore, subsets: dict[bytes, Any]) -> Fitted:
    try:
        train, held = _data(task, job.train, subsets), _data(task, job.held, subsets)
        model = task.objective.fit_final(job.config, train, task.seed)
        score = task.metric.score(model, held.X, held.y, classes=list(held.classes) or None)
    except Exception as exc:  # noqa: BLE001 - the driver reports it
        lost = failure(exc)
        return Fitted(error=lost.error, detail=lost.detail)
    return Fitted(score=float(score))


def _data(task: Any, rows: Any, subsets: dict[bytes, Any]) -> Any:
    """The development data, or the subset at row positions ``rows`` (kept for reuse)."""
    if rows is None:
        return task.data
    import numpy as np

    positions = np.asarray(rows)
    key = hashlib.sha1(positions.tobytes()).digest()
    if key not in subsets:
        if len(subsets) >= 4:
            subsets.clear()
        subsets[key] = task.data.subset(positions)
    return subsets[key]


def file_digests(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder``, by path relative to it (empty when none)."""
    if not folder.is_dir():
        return {}
    return {path.relative_to(folder).as_posix(): sha256_of(path)
            for path in sorted(p for p in folder.rglob("*") if p.is_file())}


def die_with_driver(lifeline: Any) -> threading.Event:
    """Exit at once when ``lifeline`` closes, unless the returned event was set first: the
    driver has gone, however it went, while this worker still had work."""
    finished = threading.Event()

    def watch() -> None:
        try:
            lifeline.recv()
        except (EOFError, OSError):
            pass
        if not finished.is_set():
            sys.stderr.flush()
            os._exit(ORPHANED)

    threading.Thread(target=watch, name="search-lifeline", daemon=True).start()
    return finished


@contextlib.contextmanager
def _thread_limit(threads: int | None) -> Any:
    """Limit the BLAS/OpenMP threads of this worker (several workers share the CPUs)."""
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(threads):
        yield
