"""Ray Tune's trial API inside a trial the framework runs: the one place that uses Ray's
private API (``pyproject.toml`` bounds the Ray versions it is known to work with).

What it relies on, each read in Ray 2.60's source:

- the session hook: ``ray.tune.report``, ``ray.tune.get_checkpoint`` and ``ray.tune.get_context()``
  read ``ray.train._internal.session.get_session()``, i.e. the module global ``_session``;
  a session whose ``world_rank`` is ``None`` is a Tune session. :func:`tune_session` puts a
  duck-typed one there for one trial, and points ``ray.train.report``, ``get_checkpoint``
  and ``get_context`` (Ray Train V2's, which raise inside a Tune session) at Tune's; it
  restores all of it after;
- Ray's wrappers: ``tune.with_parameters`` keeps its keyword arguments in a closure (no
  public attribute), ``tune.with_resources`` sets ``_resources`` on a function;
- a class trainable built outside Tune: its log folder is the trial's (``_setup_logdir``),
  its ``iteration`` follows the reports (``_iteration``).
"""

from __future__ import annotations

import contextlib
import inspect
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

#: the module of Ray's ``with_parameters`` / ``with_resources`` wrappers
_RAY_UTIL = "ray.tune.trainable.util"
#: what ``ray.train`` answers inside a trial: Tune's functions
_TRAIN_NAMES = ("report", "get_checkpoint", "get_context")


@dataclass(eq=False)
class TuneSession:
    """What Ray's Tune functions read from the session while a trial runs.

    ``on_report(metrics, checkpoint)`` is what ``tune.report`` does; ``checkpoint()`` gives
    ``tune.get_checkpoint()`` its answer; ``folder()`` makes the trial's folder when asked.
    """

    on_report: Callable[[dict[str, Any], Any], None]
    checkpoint: Callable[[], Any]
    folder: Callable[[], str]
    trial_id: str
    trial_name: str
    experiment_name: str
    resources: dict[str, float] = field(default_factory=lambda: {"CPU": 1.0})
    metadata: dict[str, Any] = field(default_factory=dict)
    world_rank: None = None  # None: Ray sees a Tune session, not a Train worker's
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    node_rank: int = 0
    storage: None = None
    accelerator: None = None

    def report(self, metrics: dict[str, Any], checkpoint: Any = None) -> None:
        self.on_report(metrics, checkpoint)

    @property
    def loaded_checkpoint(self) -> Any:
        return self.checkpoint()

    @property
    def trial_dir(self) -> str:
        return self.folder()

    @property
    def run_id(self) -> str:
        return self.trial_id

    @property
    def trial_resources(self) -> Any:
        from ray.tune import PlacementGroupFactory

        return PlacementGroupFactory([dict(self.resources) or {"CPU": 1.0}])


@contextlib.contextmanager
def tune_session(session: TuneSession) -> Iterator[None]:
    """Ray's Tune functions (and ``ray.train``'s) answered by ``session`` while inside."""
    import ray.train
    import ray.tune
    from ray.train._internal import session as ray_session

    saved_session = ray_session._session
    saved_train = {name: getattr(ray.train, name) for name in _TRAIN_NAMES}
    ray_session._session = session  # type: ignore[assignment]
    for name in _TRAIN_NAMES:
        setattr(ray.train, name, getattr(ray.tune, name))
    try:
        yield
    finally:
        ray_session._session = saved_session
        for name, value in saved_train.items():
            setattr(ray.train, name, value)


# --- Ray's wrappers -----------------------------------------------------------------------------


def is_wrapped(fn: Any, wrapper: str) -> bool:
    """Whether ``fn`` is what Ray's ``wrapper`` (``with_parameters``, ``with_resources``) made."""
    return getattr(fn, "__module__", None) == _RAY_UTIL and \
        str(getattr(fn, "__qualname__", "")).startswith(f"{wrapper}.<locals>.")


def unwrap(fn: Any) -> tuple[Any, dict[str, Any]]:
    """The trainable under Ray's ``with_parameters`` (and a method's ``with_resources``), and
    the keyword arguments ``with_parameters`` was given (taken back from Ray's registry: its
    values, or the objects it put in Ray's object store). A wrapper made differently (another
    Ray) is left as it is: it runs as Ray wrote it."""
    kwargs: dict[str, Any] = {}
    while True:
        try:
            if is_wrapped(fn, "with_parameters"):
                inner = getattr(fn, "setup") if inspect.isclass(fn) else fn  # noqa: B009
                found = inspect.getclosurevars(inner).nonlocals
                registry, prefix = found["parameter_registry"], found["prefix"]
                given = {k: registry.get(prefix + k) for k in sorted(found["keys"])}
                fn, kwargs = (fn.__bases__[0] if inspect.isclass(fn) else found["trainable"],
                              {**given, **kwargs})
                continue
            if is_wrapped(fn, "with_resources") and not inspect.isclass(fn):
                fn = inspect.getclosurevars(fn).nonlocals["trainable"]
                continue
        except (KeyError, AttributeError, TypeError, IndexError):
            pass
        return fn, kwargs


def resources_of(fn: Any) -> dict[str, float] | None:
    """The resources ``tune.with_resources`` (or a class's ``default_resource_request``) asks
    for each trial, as ``{"CPU": 2.0, "GPU": 1.0}``; ``None`` when it asks for none, or
    when they depend on the config."""
    request: Any = getattr(fn, "_resources", None)
    if request is None and inspect.isclass(fn) and hasattr(fn, "default_resource_request"):
        try:
            request = fn.default_resource_request({})
        except Exception:  # noqa: BLE001 - a request that needs a real config says nothing here
            return None
    if request is None and is_wrapped(fn, "with_parameters") and not inspect.isclass(fn):
        return resources_of(inspect.getclosurevars(fn).nonlocals["trainable"])
    if isinstance(request, dict):
        return {str(k): float(v) for k, v in request.items()}
    required = getattr(request, "required_resources", None)  # a PlacementGroupFactory
    if isinstance(required, dict):
        return {str(k): float(v) for k, v in required.items()}
    return None


def assigned_resources() -> dict[str, float] | None:
    """What Ray gave this process, inside a Ray actor; ``None`` elsewhere."""
    import ray

    if not ray.is_initialized():
        return None
    try:
        given = ray.get_runtime_context().get_assigned_resources()
    except Exception:  # noqa: BLE001 - a driver or an old Ray: nothing assigned to say
        return None
    return {str(k): float(v) for k, v in given.items()} or None


# --- a class trainable outside Tune -------------------------------------------------------------


def class_instance(cls: type, config: dict[str, Any], kwargs: dict[str, Any], trial_dir: str,
                   session: TuneSession) -> Any:
    """An instance of the ``tune.Trainable`` subclass ``cls`` (its ``setup(config, **kwargs)``
    run), logging into ``trial_dir``, with the trial's id, name and resources."""
    from types import SimpleNamespace

    from ray.tune.result import TRIAL_INFO

    def _setup_logdir(self: Any) -> None:
        os.makedirs(trial_dir, exist_ok=True)
        self._logdir = trial_dir

    def setup(self: Any, config: dict[str, Any]) -> Any:
        return cls.setup(self, config, **kwargs)  # type: ignore[attr-defined]

    namespace: dict[str, Any] = {"_setup_logdir": _setup_logdir, "__module__": cls.__module__,
                                 "__qualname__": cls.__qualname__}
    if kwargs:
        namespace["setup"] = setup
    in_trial = type(cls.__name__, (cls,), namespace)
    info = SimpleNamespace(trial_id=session.trial_id, trial_name=session.trial_name,
                           trial_resources=session.trial_resources,
                           experiment_name=session.experiment_name)
    return in_trial({**config, TRIAL_INFO: info})


def set_iteration(instance: Any, iteration: int) -> None:
    """``instance.iteration`` (and ``training_iteration``) is ``iteration``."""
    instance._iteration = iteration
