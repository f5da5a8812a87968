"""A Ray Tune trainable as a study's objective: ``search.Trainable(train_fn, metric=..., mode=...)``.

The framework's engine is the controller: no Ray Tune controller runs. Inside the trial the
trainable finds Ray Tune's trial API (:mod:`search.scripts._tune_session`): each
``tune.report(metrics, checkpoint=...)`` (or ``ray.train.report``) is a step of the trial
(``training_iteration``), its ``metric`` the step's intermediate value, every plain metric kept
with the step, a checkpoint saved with the trial; then the stop criteria (Tune's ``stop``) and
the study's pruner decide whether the trial goes on. ``tune.get_checkpoint()`` is the checkpoint
the trial continues from, ``tune.get_context()`` names the trial. A class trainable
(``tune.Trainable`` with ``setup``/``step``/``save_checkpoint``/``load_checkpoint``) runs
``step()`` until a stop criterion or the pruner ends it.
"""

from __future__ import annotations

import inspect
import math
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping
from numbers import Number
from pathlib import Path
from typing import TYPE_CHECKING, Any

from objectives import Objective, ObjectiveError, Pruned
from objectives._errors import qualified_name
from search.scripts._tune_session import (
    TuneSession,
    assigned_resources,
    class_instance,
    resources_of,
    set_iteration,
    tune_session,
    unwrap,
)

if TYPE_CHECKING:
    from objectives import DevData

MODES = {"min": "minimize", "max": "maximize"}
SCOPES = ("last", "all")
#: the metric a trainable that returns a bare number reports (Tune's ``DEFAULT_METRIC``)
DEFAULT_METRIC = "_metric"
_UNSET = object()


class _Ended(BaseException):
    """A trial's end decided inside ``tune.report``: it unwinds the user's code (whatever it
    catches) back to :meth:`Trainable.evaluate`."""


class _Stopped(_Ended):
    """A stop criterion is met: the trial is COMPLETE."""


class _PrunedHere(_Ended):
    """The pruner stopped the trial: PRUNED."""


class _Failed(_Ended):
    """What the trainable reported cannot be used: FAIL, with this one line."""


class Trainable(Objective):
    """A Ray Tune function trainable (``fn(config)``) or ``tune.Trainable`` subclass as an
    objective (see the module's docstring).

    ``metric`` is the reported metric the study optimizes, ``mode`` (``"min"``/``"max"``) its
    direction (the study's when the study gives none); ``stop`` is Tune's: ``{key: threshold}``
    (met when ``result[key] >= threshold``), a function ``(trial_id, result) -> bool`` or a
    ``tune.stopper.Stopper`` (its ``stop_all()`` stops the study: no new trials). ``scope`` says
    which reported value is the trial's: ``"last"``, or the best (``"all"``). ``nested`` turns the
    flat config into the nested one the trainable reads (a Ray Tune ``param_space``'s groups;
    the study's space gives it when it can). ``with_parameters`` are keyword arguments for
    ``fn`` (``tune.with_parameters``, whose wrapper is taken apart here, as is
    ``tune.with_resources``'s: :attr:`resources` is what it asked for). ``experiment`` names the
    trials' ids (``EXPERIMENT_00003``; the study's name by default).
    """

    def __init__(self, fn: Any, *, metric: str, mode: str | None = None,
                 stop: Any = None, scope: str = "last",
                 nested: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
                 with_parameters: dict[str, Any] | None = None,
                 experiment: str | None = None) -> None:
        self.resources = resources_of(fn)
        target, given = unwrap(fn)  # Ray's wrappers: the function and its arguments, by value
        self.fn = target
        self.metric = metric
        self.mode = mode
        self.stop = stop
        self.scope = scope
        self.nested = nested
        self.with_parameters = {**given, **(with_parameters or {})}
        self.experiment = experiment

    @property
    def direction(self) -> str | None:
        """The study's direction ``mode`` says (``None``: the study says it; a mode that is
        not one, as given, for :meth:`check` to refuse)."""
        return None if self.mode is None else MODES.get(str(self.mode), str(self.mode))

    @property
    def can_fit_final(self) -> bool:
        return False

    def for_space(self, space: Any) -> Trainable:
        """This trainable, given the nested config of ``space`` (a Ray Tune ``param_space``'s
        groups) unless it was given a ``nested`` of its own; checked first (:meth:`check`)."""
        self.check(None, space, None)
        nested = getattr(space, "nested", None)
        if self.nested is not None or not callable(nested):
            return self
        copy = object.__new__(Trainable)
        copy.__dict__.update(self.__dict__, nested=nested)
        return copy

    def check(self, data: DevData | None, space: Any, metric: Any) -> None:
        """One line saying what cannot work: the trainable, metric, mode, scope, stop."""
        _check_trainable(self.fn)
        if not isinstance(self.metric, str) or not self.metric:
            raise ObjectiveError(f"Trainable: metric must name a reported metric (a string), "
                                 f"but got {self.metric!r}")
        if self.mode is not None and (not isinstance(self.mode, str) or self.mode not in MODES):
            raise ObjectiveError(f"Trainable: mode must be 'min', 'max' or None, but got "
                                 f"{self.mode!r}")
        if self.scope not in SCOPES:
            raise ObjectiveError(f"Trainable: scope must be 'last' or 'all' (the best), but got "
                                 f"{self.scope!r}")
        if self.stop is not None and not isinstance(self.stop, Mapping) and not callable(self.stop):
            raise ObjectiveError("Trainable: stop must be a dict {metric: threshold}, a function "
                                 "(trial_id, result) -> bool or a tune.stopper.Stopper, but got "
                                 f"{type(self.stop).__name__}")
        if self.nested is not None and not callable(self.nested):
            raise ObjectiveError(f"Trainable: nested must be a function of the config, but got "
                                 f"{type(self.nested).__name__}")

    def evaluate(self, config: dict[str, Any], data: DevData | None, trial: Any,
                 metric: Any) -> float:
        """Run the trainable on ``config`` in a Tune session; the trial's value by ``scope``."""
        config = self.nested(dict(config)) if self.nested is not None else dict(config)
        run = _Run(self, trial)
        try:
            with tune_session(run.session):
                try:
                    if inspect.isclass(self.fn):
                        _run_class(self, config, run)
                    else:
                        _run_function(self, config, run)
                except _Stopped:
                    pass
        except _PrunedHere:
            raise Pruned(f"pruned at training_iteration {run.iteration}") from None
        except _Failed as failed:
            raise ObjectiveError(str(failed)) from None
        finally:
            run.close()
        return run.value()

    def describe(self) -> dict[str, Any]:
        return {"type": type(self).__name__, "function": qualified_name(self.fn),
                "metric": self.metric, "mode": self.mode, "scope": self.scope}


def _check_trainable(fn: Any) -> None:
    if inspect.isclass(fn):
        from ray import tune

        if not issubclass(fn, tune.Trainable):
            raise ObjectiveError(f"Trainable: the class {qualified_name(fn)} is not a "
                                 "ray.tune.Trainable subclass")
    elif not callable(fn):
        raise ObjectiveError("Trainable: the trainable must be a function of the config or a "
                             f"ray.tune.Trainable subclass, but got {type(fn).__name__}")


def _run_function(owner: Trainable, config: dict[str, Any], run: _Run) -> None:
    """``fn(config, **with_parameters)``: what it yields or returns is a report too."""
    output = owner.fn(config, **owner.with_parameters)
    if inspect.isgenerator(output):
        for item in output:
            run.returned(item, final=False)
    else:
        run.returned(output, final=True)
    if not run.values:
        raise _Failed(f"{run.name} reported nothing with tune.report; report "
                      f"{owner.metric!r} at least once (tune.report({{{owner.metric!r}: ...}}))")


def _run_class(owner: Trainable, config: dict[str, Any], run: _Run) -> None:
    """``setup(config)``, ``load_checkpoint`` when the trial continues from one, then
    ``step()`` after ``step()``, each result a report (saved with ``save_checkpoint`` when the
    class can save and the trial keeps checkpoints)."""
    from ray import tune

    instance = class_instance(owner.fn, config, owner.with_parameters, run.session.trial_dir,
                              run.session)
    try:
        set_iteration(instance, run.iteration)
        restored = run.restored()
        if restored is not None:
            instance.load_checkpoint(str(restored) if isinstance(restored, Path) else restored)
        saves = type(instance).save_checkpoint is not tune.Trainable.save_checkpoint \
            and hasattr(run.trial, "checkpoint")
        while True:
            result = instance.step()
            if not isinstance(result, Mapping):
                raise _Failed(f"{run.name}.step() returned {type(result).__name__}; return a "
                              "dict of metrics")
            set_iteration(instance, run.iteration + 1)
            save = saves or bool(result.get("should_checkpoint"))
            run.report(result, (lambda step: _save_instance(instance, run.trial, step))
                       if save else None)
    finally:
        instance.stop()


def _save_instance(instance: Any, trial: Any, step: int) -> None:
    """The class's ``save_checkpoint(folder)`` kept with the trial (a dict it returns: as is)."""
    with tempfile.TemporaryDirectory(prefix="tune-checkpoint-") as folder:
        saved = instance.save_checkpoint(folder)
        trial.checkpoint(saved if isinstance(saved, dict) else folder, step=step)


class _Run:
    """One trial of a trainable: its reports, values and session."""

    def __init__(self, owner: Trainable, trial: Any) -> None:
        self.owner = owner
        self.trial = trial
        self.values: list[float] = []
        restored_step = getattr(trial, "last_checkpoint_step", None)
        self.iteration = int(restored_step) if restored_step is not None else 0
        self.started = self.last = time.time()
        self._restored: Any = _UNSET
        self._temporary: str | None = None
        study_name = getattr(getattr(trial, "study", None), "study_name", None)
        experiment = owner.experiment or study_name or "search"
        self.name = getattr(owner.fn, "__name__", type(owner.fn).__name__)
        trial_id = f"{experiment}_{trial.number:05d}"
        self.session = TuneSession(
            on_report=self.report_checkpoint, checkpoint=self.tune_checkpoint,
            folder=self.folder, trial_id=trial_id, trial_name=f"{self.name}_{trial_id}",
            experiment_name=experiment,
            resources=assigned_resources() or owner.resources or {"CPU": 1.0})

    def folder(self) -> str:
        """The trial's folder (``trial.artifact_dir``), or a temporary one for this trial."""
        kept = getattr(self.trial, "artifact_dir", None)
        if kept is not None:
            return str(kept)
        if self._temporary is None:
            self._temporary = tempfile.mkdtemp(prefix=f"tune-trial-{self.trial.number}-")
        return self._temporary

    def close(self) -> None:
        """Remove the temporary folder, if the trial had one."""
        if self._temporary is not None:
            shutil.rmtree(self._temporary, ignore_errors=True)

    def restored(self) -> Any:
        """The checkpoint the trial continues from (a folder, or a saved state), or ``None``."""
        if self._restored is _UNSET:
            last = getattr(self.trial, "last_checkpoint", None)
            self._restored = last() if last is not None and \
                getattr(self.trial, "last_checkpoint_step", None) is not None else None
        return self._restored

    def tune_checkpoint(self) -> Any:
        """``tune.get_checkpoint()``: the restored folder as a ``tune.Checkpoint``."""
        restored = self.restored()
        if isinstance(restored, (str, os.PathLike)) and Path(restored).is_dir():
            from ray import tune

            return tune.Checkpoint.from_directory(str(restored))
        return None

    def report_checkpoint(self, metrics: Any, checkpoint: Any) -> None:
        """``tune.report(metrics, checkpoint=...)``."""
        save = None
        if checkpoint is not None:
            def save(step: int) -> None:
                _save_checkpoint(self.trial, checkpoint, step)
        self.report(metrics, save)

    def returned(self, output: Any, *, final: bool) -> None:
        """What the function returned or yielded, as Tune takes it: a dict or a number is a
        report (a returned dict is the last one), nothing is nothing."""
        if not output:
            return
        if isinstance(output, Mapping):
            self.report({"done": True, **output} if final else output, None)
        elif isinstance(output, Number):
            self.report({DEFAULT_METRIC: output}, None)
        else:
            raise _Failed(f"{self.name} returned {type(output).__name__}; return or yield a "
                          "dict of metrics or a number, or report with tune.report")

    def report(self, metrics: Any, save: Callable[[int], None] | None) -> None:
        """One step: the value, the metrics, the checkpoint; then stop, or the pruner's word."""
        if not isinstance(metrics, Mapping):
            raise _Failed(f"tune.report takes a dict of metrics, but {self.name} reported "
                          f"{type(metrics).__name__}")
        result = self._result(metrics)
        value = result.get(self.owner.metric)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            keys = ", ".join(str(k) for k in metrics) or "nothing"
            what = "" if value is None else f" as {type(value).__name__}, not a number"
            raise _Failed(f"{self.name} reported {keys} with tune.report, but not the metric "
                          f"{self.owner.metric!r}{what}; report it, or set Trainable(metric=...)")
        self.trial.report(float(value), step=self.iteration)
        self.values.append(float(value))
        keep_metrics = getattr(self.trial, "report_metrics", None)
        if keep_metrics is not None:
            keep_metrics(self.iteration, {k: v for k, v in result.items()  # JSON's numbers
                                          if not isinstance(v, float) or math.isfinite(v)})
        if save is not None:
            save(self.iteration)
        if _stop_met(self.owner.stop, self.session.trial_id, result, self.trial):
            raise _Stopped
        if self.trial.should_prune():
            raise _PrunedHere

    def _result(self, metrics: Mapping[Any, Any]) -> dict[str, Any]:
        """The reported metrics, plain and flat (``a/b``), with Tune's own added."""
        self.iteration += 1
        now = time.time()
        result = plain_metrics(metrics)
        this_iter = result.get("time_this_iter_s")
        if not isinstance(this_iter, (int, float)) or isinstance(this_iter, bool):
            this_iter = now - self.last
        self.last = now
        result.setdefault("done", False)
        result.update(training_iteration=self.iteration, trial_id=self.session.trial_id,
                      time_this_iter_s=float(this_iter), time_total_s=now - self.started,
                      timestamp=int(now))
        return result

    def value(self) -> float:
        """The trial's value: the last reported (``scope="last"``) or the best (``"all"``)."""
        if self.owner.scope != "all":
            return self.values[-1]
        direction = self.owner.direction
        if direction is None:
            study = getattr(self.trial, "study", None)
            direction = getattr(getattr(study, "direction", None), "name", "MINIMIZE").lower()
        return max(self.values) if direction == "maximize" else min(self.values)


def _save_checkpoint(trial: Any, checkpoint: Any, step: int) -> None:
    """A reported ``tune.Checkpoint`` (or a folder) kept with the trial at ``step``."""
    keep = getattr(trial, "checkpoint", None)
    if keep is None:
        warnings.warn("this trial cannot keep checkpoints; the one reported is not kept",
                      RuntimeWarning, stacklevel=3)
        return
    if not hasattr(checkpoint, "as_directory"):  # a folder's path
        keep(Path(checkpoint), step=step)
        return
    with checkpoint.as_directory() as folder:
        keep(Path(folder), step=step)


def _stop_met(stop: Any, trial_id: str, result: dict[str, Any], trial: Any) -> bool:
    """Tune's stop criteria: ``done``, a dict of thresholds, a function, a Stopper."""
    if result.get("done"):
        return True
    if stop is None:
        return False
    if isinstance(stop, Mapping):
        return any(key in result and result[key] is not None and result[key] >= threshold
                   for key, threshold in stop.items())
    met = bool(stop(trial_id, result))
    stop_all = getattr(stop, "stop_all", None)
    if callable(stop_all) and stop_all():
        trial.study.stop()
        return True
    return met


def plain_metrics(metrics: Mapping[Any, Any], prefix: str = "") -> dict[str, Any]:
    """``metrics`` as plain values: numpy scalars as Python's, nested mappings flattened
    (``a/b``, as Tune flattens them), anything else (arrays, tensors, objects) dropped."""
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(plain_metrics(value, f"{name}/"))
            continue
        if type(value).__module__ == "numpy" and hasattr(value, "item") \
                and getattr(value, "ndim", 0) == 0:
            value = value.item()
        if value is None or isinstance(value, (str, bool, int, float)):
            out[name] = value
    return out
