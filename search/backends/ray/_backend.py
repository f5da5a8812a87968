"""The Ray backend: the study's trials as Ray Tune trials, on a local Ray or a running cluster.

One sampler, one store: the driver runs Tune's controller with
:class:`~search.backends.ray._search.StoreSearch` (the study's Optuna sampler on its journal store,
of which the driver is the only writer) and the scheduler the study's pruner names; workers
run :func:`search.backends.ray._trial.train`. The development data go into Ray's object store once
(``tune.with_parameters``); the sealed test part never leaves this process. Trial processes
are reused between trials (``reuse_actors``), and a trial whose process dies is retried
``--max-retries`` times. Ray starts or is reached before anything is written
(:mod:`search.backends.ray._connect`); its output goes to ``RESULTS/NAME/ray.log``
(:mod:`search.backends.ray._output`) and Tune's experiment folders to ``RESULTS/NAME/ray/``.

Nothing here imports Ray at module level: ``import search`` must stay light.
"""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from search.backends.ray._connect import connect, disconnect, prepare_backend
from search.core._folder import RAY_LOG

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

    from search.backends._local import Budget
    from search.core._observers import TrialsFn
    from search.core._options import RunOptions
    from search.core._prepare import Prepared

__all__ = ["prepare_backend", "run_ray"]

TUNE_DIR = "ray"
DEFAULT_MAX_RETRIES = 2
#: Tune's settings for a run: no result files of its own, no progress table, no SIGINT
#: handler (Ctrl-C stops the run as it does locally), and results without a score allowed
#: (a failed trial's last result has none)
_TUNE_ENV = {
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
    "RAY_AIR_NEW_OUTPUT": "0",
    "TUNE_DISABLE_SIGINT_HANDLER": "1",
    "TUNE_DISABLE_STRICT_METRIC_CHECKING": "1",
}


def run_ray(
    prep: Prepared,
    directory: Path,
    opt: optuna.Study,
    budget: Budget,
    on_finished: Callable[[FrozenTrial, TrialsFn], None],
    options: RunOptions,
) -> None:
    """Run the study's remaining trials on Ray Tune; tell ``on_finished`` as each ends."""
    from search.backends._local import trials_used

    study = prep.study
    remaining = budget.trials - trials_used(opt)
    try:
        if remaining <= 0 or budget.expired():
            return
        connection = connect(study, options)
        directory = directory.resolve()  # workers run elsewhere: every path absolute
        connection.sink.open(directory / RAY_LOG)
        print(f"ray: {connection.summary}; Ray's output goes to {directory / RAY_LOG}", flush=True)
        _fit(prep, directory, opt, budget, on_finished, options, remaining)
    finally:
        disconnect()


def _fit(
    prep: Prepared,
    directory: Path,
    opt: optuna.Study,
    budget: Budget,
    on_finished: Callable[[FrozenTrial, TrialsFn], None],
    options: RunOptions,
    remaining: int,
) -> None:
    from ray import tune

    from search.backends.ray._search import StoreSearch, make_scheduler
    from search.backends.ray._trial import train, trial_dirname

    study = prep.study
    _ship_study_file_by_value()
    deliveries = _Deliveries(on_finished)
    searcher = StoreSearch(opt, prep.parts.space, budget, deliveries)
    trainable = tune.with_resources(
        tune.with_parameters(train, task=prep.task(directory)),
        {"cpu": study.cpus_per_trial, "gpu": study.gpus_per_trial},
    )
    retries = options.retries()
    tuner = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=searcher,
            scheduler=make_scheduler(study.pruner, searcher),
            num_samples=remaining,
            max_concurrent_trials=study.workers,
            reuse_actors=True,
            trial_dirname_creator=trial_dirname,
        ),
        run_config=tune.RunConfig(
            name=time.strftime("run-%Y%m%d-%H%M%S"),
            storage_path=str(directory / TUNE_DIR),
            verbose=0,
            failure_config=tune.FailureConfig(max_failures=retries),
            checkpoint_config=tune.CheckpointConfig(checkpoint_at_end=False),
        ),
    )
    interrupted = True
    try:
        with _environment(_TUNE_ENV):
            tuner.fit()
        interrupted = False
    finally:
        searcher.finish(interrupted=interrupted)
        deliveries.close(raise_error=not interrupted)


class _Deliveries:
    """Tells the run's observers about finished trials from a thread of their own, in order.

    Tune's loop waits for the driver before it gives a freed worker its next trial, so
    observers that take their time (results files, the report, MLflow) would leave workers
    idle if they ran in it. ``close`` waits for the last delivery and raises what an
    observer raised.
    """

    def __init__(self, on_finished: Callable[[FrozenTrial, TrialsFn], None]) -> None:
        self._on_finished = on_finished
        self._queue: queue.SimpleQueue[tuple[FrozenTrial, TrialsFn] | None] = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._deliver, name="search-observers", daemon=True)
        self._thread.start()

    def __call__(self, trial: FrozenTrial, trials: TrialsFn) -> None:
        self._queue.put((trial, trials))

    def _deliver(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._on_finished(*item)
                except BaseException as exc:  # noqa: BLE001 - raised again by close()
                    self._error = exc

    def close(self, *, raise_error: bool = True) -> None:
        """Wait for the deliveries queued; raise what an observer raised (if asked)."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None and raise_error:
            raise self._error


def _ship_study_file_by_value() -> None:
    """Pickle what the study file defines (its functions, classes) by value for the workers.

    The study file runs as a module that workers cannot import; the local backend's workers
    run the file again, Ray's receive its objects whole.
    """
    from ray import cloudpickle

    from search.core._studyfile import STUDY_MODULE

    module = sys.modules.get(STUDY_MODULE)
    if module is not None:
        cloudpickle.register_pickle_by_value(module)


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the block, then restore them."""
    old = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
