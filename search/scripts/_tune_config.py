"""A Ray Tune ``Tuner``'s settings, read into the framework's study: the one adapter to Ray.

``read_tuner`` reads the trainable, ``param_space``, ``TuneConfig`` and ``RunConfig`` a script
gave its ``Tuner`` and returns a :class:`TuneSetup`: the space, the metric and its direction,
the trial budget (``num_samples`` x the grid's points), the workers, the Optuna sampler
(``BasicVariantGenerator``: random; ``OptunaSearch``: its own sampler, TPE by default) and
pruner (Tune's schedulers as Optuna's pruners, ``PopulationBasedTraining`` as the framework's
PBT), stop criteria, retries and per-trial resources, with who set each. What has no faithful
answer (another searcher, another scheduler, Tune callbacks, ...) is a :class:`UserError` of
one line naming it, raised before anything is written.

Tune keeps several settings only in private attributes of its objects (a scheduler's grace
period, reduction factor and ``max_t``; a searcher's sampler, seed and points to evaluate).
They are read here and nowhere else on the driver's side, so a Ray release that renames one
changes this module only (the trial's side, Ray's session and wrappers such as
``tune.with_parameters``, is :mod:`search.scripts._tune_session`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from search.core._errors import UserError

#: the time unit the framework's pruners count: one ``tune.report`` is one step
ITERATION = "training_iteration"
_SEARCHERS = "BasicVariantGenerator (random) and OptunaSearch (its Optuna sampler)"
_SCHEDULERS = ("FIFOScheduler, ASHAScheduler/AsyncHyperBandScheduler, HyperBandScheduler, "
               "MedianStoppingRule and PopulationBasedTraining")


@dataclass
class TuneSetup:
    """What a ``Tuner`` asks for, in the framework's terms (``who``: who set each)."""

    fn: Any
    space: Any
    metric: str
    mode: str
    trials: int | None
    grid: int
    samples: int
    workers: int | None
    sampler: Any
    pruner: Any
    stop: Any = None
    name: str | None = None
    timeout: float | None = None
    max_failures: int = 0
    fail_fast: Any = False
    seed: int | None = None
    points: list[dict[str, Any]] = field(default_factory=list)
    keep_checkpoints: int | None = None
    pbt: dict[str, Any] | None = None  # PopulationBasedTraining's settings, for the PBT pruner
    who: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def direction(self) -> str:
        return "maximize" if self.mode == "max" else "minimize"


def read_tuner(trainable: Any, param_space: Any, tune_config: Any, run_config: Any) -> TuneSetup:
    """The :class:`TuneSetup` of a ``Tuner(trainable, param_space=..., tune_config=...,
    run_config=...)``; a :class:`UserError` of one line for what cannot run as Tune runs it."""
    from ray import tune

    tune_config = tune_config if tune_config is not None else tune.TuneConfig()
    run_config = run_config if run_config is not None else tune.RunConfig()
    fn = _trainable(trainable)
    searcher = _searcher(tune_config.search_alg)
    scheduler = _scheduler(tune_config.scheduler)
    metric, mode, who = _goal(tune_config, searcher, scheduler)
    space = _space(param_space, searcher)
    grid = int(space.grid_size)
    samples = int(tune_config.num_samples)
    setup = TuneSetup(
        fn=fn, space=space, metric=metric, mode=mode,
        trials=None if samples < 0 else samples * grid, grid=grid, samples=samples,
        workers=tune_config.max_concurrent_trials or searcher["workers"],
        sampler=searcher["sampler"], pruner=scheduler["pruner"],
        seed=searcher["seed"], points=searcher["points"], pbt=scheduler.get("pbt"),
        who={"direction": who, "sampler": searcher["who"], "pruner": scheduler["who"]},
        notes=searcher["notes"] + scheduler["notes"],
    )
    if tune_config.max_concurrent_trials:
        setup.who["workers"] = "max_concurrent_trials"
    elif searcher["workers"]:
        setup.who["workers"] = searcher["workers_who"]
    _tune_config_rest(setup, tune_config)
    _run_config(setup, run_config, scheduler.get("max_t"))
    return setup


# --- the trainable -------------------------------------------------------------------------------


def _trainable(trainable: Any) -> Any:
    """The function or class to run (Ray's ``with_parameters``/``with_resources`` wrappers
    are taken apart by the trial side, :mod:`search.scripts._tune_session`)."""
    if isinstance(trainable, str):
        raise UserError(f"Tuner({trainable!r}): a trainable registered by name (RLlib's "
                        "algorithms) is not answered under python -m search; pass the function "
                        "or tune.Trainable class itself")
    if type(trainable).__module__.startswith("ray.train"):
        raise UserError(f"Tuner({type(trainable).__name__}): a Ray Train trainer is not "
                        "answered under python -m search; tune its training function instead")
    if not callable(trainable):
        raise UserError(f"Tuner: the trainable must be a function or a tune.Trainable class, "
                        f"but got {type(trainable).__name__}")
    return trainable


def trainable_name(fn: Any) -> str:
    """The name of the function or class under Ray's wrappers."""
    from search.scripts._tune_session import unwrap

    inner, _ = unwrap(fn)
    return str(getattr(inner, "__name__", ""))


def resources(fn: Any) -> tuple[float | None, float | None]:
    """``tune.with_resources``' CPUs and GPUs per trial (``None``: not given)."""
    from search.scripts._tune_session import resources_of

    given = resources_of(fn) or {}
    lower = {str(k).lower(): v for k, v in dict(given).items()}
    cpu, gpu = lower.get("cpu"), lower.get("gpu")
    return (None if cpu is None else float(cpu)), (None if gpu is None else float(gpu))


# --- the space -----------------------------------------------------------------------------------


def _space(param_space: Any, searcher: dict[str, Any]) -> Any:
    """The framework's space for ``param_space`` (or OptunaSearch's own space, with the
    param_space's constants)."""
    import spaces

    given = dict(param_space or {})
    own = searcher.get("space")
    if own is not None:
        drawn = [k for k, v in given.items() if _is_drawn(v)]
        if drawn:
            raise UserError(f"OptunaSearch(space=...) and param_space both draw parameters "
                            f"({', '.join(drawn)}); Tune refuses this too: give the space once")
        given = {**given, **own}
    try:
        return spaces.Space(given)
    except spaces.SpaceError as exc:
        raise UserError(f"param_space: {exc}") from None


def _is_drawn(value: Any) -> bool:
    from spaces._foreign import is_ray_domain

    return is_ray_domain(value) or (isinstance(value, Mapping) and "grid_search" in value)


def _optuna_space(space: Any) -> dict[str, Any]:
    """OptunaSearch's own ``space``: Optuna distributions as the framework's parameters."""
    from optuna import distributions as d

    if callable(space) or not isinstance(space, Mapping):
        raise UserError("OptunaSearch(space=...): a define-by-run function or a list of "
                        "parameters is not answered under python -m search; give the space "
                        "as the Tuner's param_space (tune.uniform, tune.choice, ...)")
    out: dict[str, Any] = {}
    for name, dist in space.items():
        key = str(name).replace("/", "__")
        if isinstance(dist, d.FloatDistribution | d.IntDistribution):
            kind = "float" if isinstance(dist, d.FloatDistribution) else "int"
            out[key] = {"type": kind, "low": dist.low, "high": dist.high, "log": dist.log}
            if dist.step is not None and not (kind == "int" and dist.step == 1):
                out[key]["step"] = dist.step
        elif isinstance(dist, d.CategoricalDistribution):
            out[key] = {"type": "categorical", "choices": list(dist.choices)}
        else:
            out[key] = dist  # a constant, or what Space itself names
    return out


# --- the search algorithm ------------------------------------------------------------------------


def _searcher(alg: Any) -> dict[str, Any]:
    """The sampler for Tune's search algorithm (``ConcurrencyLimiter`` unwrapped)."""
    from ray.tune.search import BasicVariantGenerator, ConcurrencyLimiter

    found: dict[str, Any] = {"workers": None, "workers_who": "", "seed": None, "points": [],
                             "notes": [], "metric": None, "mode": None}
    if isinstance(alg, ConcurrencyLimiter):
        found["workers"], found["workers_who"] = int(alg.max_concurrent), "ConcurrencyLimiter"
        alg = alg.searcher
    if alg is None or type(alg) is BasicVariantGenerator:
        if alg is not None and alg.max_concurrent and not found["workers"]:
            found["workers"] = int(alg.max_concurrent)
            found["workers_who"] = "BasicVariantGenerator(max_concurrent)"
        found["points"] = list(getattr(alg, "_points_to_evaluate", None) or [])
        found.update(sampler="random", who="Tune's default BasicVariantGenerator: random")
        return found
    if type(alg).__name__ == "OptunaSearch" and type(alg).__module__.startswith("ray.tune"):
        return _optuna_search(alg, found)
    raise UserError(f"TuneConfig(search_alg={type(alg).__name__}): under python -m search "
                    f"Tune's searchers map to Optuna's samplers, and only {_SEARCHERS} are "
                    "answered; use OptunaSearch(sampler=...) or --sampler")


def _optuna_search(alg: Any, found: dict[str, Any]) -> dict[str, Any]:
    """OptunaSearch: its sampler (TPE, seeded with its ``seed``, as OptunaSearch makes it),
    its points to evaluate and its own space."""
    if alg._evaluated_rewards:
        raise UserError("OptunaSearch(evaluated_rewards=...): not answered under python -m "
                        "search; warm-start the study from a results folder instead")
    if alg._storage is not None:
        raise UserError("OptunaSearch(storage=...): under python -m search the trials go to "
                        "the framework's own store (--results); drop storage")
    if isinstance(alg._metric, list) or isinstance(alg._mode, list):
        raise UserError("OptunaSearch with several metrics: a Tune script runs one metric "
                        "under python -m search")
    sampler = alg._sampler if alg._sampler is not None else "tpe"
    found.update(sampler=sampler, seed=alg._seed, points=list(alg._points_to_evaluate or []),
                 who=f"the script's OptunaSearch: {_label(sampler)}", metric=alg._metric,
                 mode=alg._mode)
    if alg._space:
        found["space"] = _optuna_space(alg._space)
    return found


# --- the scheduler -------------------------------------------------------------------------------


def _scheduler(scheduler: Any) -> dict[str, Any]:
    """The pruner for Tune's trial scheduler, and ``max_t`` where it stops every trial."""
    from ray.tune import schedulers as s

    kind = type(scheduler)
    if scheduler is None or kind is s.FIFOScheduler:
        return {"pruner": "none", "who": "FIFO: no early stopping", "notes": []}
    base = {"notes": [], "metric": scheduler._metric, "mode": scheduler._mode}
    _check_time_attr(kind.__name__, scheduler._time_attr)
    if kind is s.AsyncHyperBandScheduler:
        return {**base, **_asha(scheduler)}
    if kind is s.HyperBandScheduler:
        return {**base, **_hyperband(scheduler)}
    if kind is s.MedianStoppingRule:
        return {**base, **_median(scheduler)}
    if kind is s.PopulationBasedTraining:
        return {**base, **_pbt(scheduler)}
    raise UserError(f"TuneConfig(scheduler={kind.__name__}): not answered under python -m "
                    f"search; {_SCHEDULERS} are (as Optuna's pruners), or use --pruner")


def _check_time_attr(name: str, time_attr: str) -> None:
    if time_attr != ITERATION:
        raise UserError(f"{name}(time_attr={time_attr!r}): the framework's pruners count "
                        f"training iterations (one tune.report each); pass "
                        f"time_attr={ITERATION!r} (its periods then count iterations)")


def _asha(scheduler: Any) -> dict[str, Any]:
    import optuna

    if len(scheduler._brackets) != 1:
        raise UserError(f"AsyncHyperBandScheduler(brackets={len(scheduler._brackets)}): one "
                        "bracket is answered (Optuna's SuccessiveHalvingPruner); use "
                        "HyperBandScheduler for several")
    rungs = [rung for rung, _ in scheduler._brackets[0]._rungs]
    grace = int(min(rungs)) if rungs else int(scheduler._max_t)
    rf = _whole("AsyncHyperBandScheduler", scheduler._reduction_factor)
    pruner = optuna.pruners.SuccessiveHalvingPruner(
        min_resource=grace, reduction_factor=rf, min_early_stopping_rate=0)
    stops = scheduler._stop_last_trials
    return {"pruner": pruner, "max_t": int(scheduler._max_t) if stops else None,
            "who": f"the script's ASHA: grace_period {grace}, reduction_factor {rf}"}


def _hyperband(scheduler: Any) -> dict[str, Any]:
    import optuna

    rf = _whole("HyperBandScheduler", scheduler._eta)
    max_t = int(scheduler._max_t_attr)
    pruner = optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max_t,
                                            reduction_factor=rf)
    return {"pruner": pruner, "max_t": max_t if scheduler._stop_last_trials else None,
            "who": f"the script's HyperBandScheduler: max_t {max_t}, reduction_factor {rf}"}


def _median(scheduler: Any) -> dict[str, Any]:
    import optuna

    if not scheduler._hard_stop or scheduler._min_time_slice:
        raise UserError("MedianStoppingRule(hard_stop=False or min_time_slice): pausing "
                        "trials is not answered under python -m search; keep the defaults")
    grace, samples = int(scheduler._grace_period), int(scheduler._min_samples_required)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=samples, n_warmup_steps=grace)
    return {"pruner": pruner,
            "who": f"the script's MedianStoppingRule: grace_period {grace}, "
                   f"min_samples_required {samples}"}


def _pbt(scheduler: Any) -> dict[str, Any]:
    """PopulationBasedTraining's settings; the PBT pruner is made once the seed is known."""
    if scheduler._custom_explore_fn is not None:
        raise UserError("PopulationBasedTraining(custom_explore_fn=...): not answered under "
                        "python -m search; give hyperparam_mutations")
    if scheduler._synch or scheduler._burn_in_period:
        raise UserError("PopulationBasedTraining(synch=True or burn_in_period): not answered "
                        "under python -m search; the framework's PBT is asynchronous")
    settings = {
        "perturbation_interval": int(scheduler._perturbation_interval),
        "hyperparam_mutations": dict(scheduler._hyperparam_mutations),
        "quantile_fraction": scheduler._quantile_fraction,
        "resample_probability": scheduler._resample_probability,
        "perturbation_factors": tuple(scheduler._perturbation_factors),
    }
    return {"pruner": "pbt", "pbt": settings,
            "who": f"the script's PopulationBasedTraining: perturbation_interval "
                   f"{settings['perturbation_interval']}"}


def pbt_pruner(settings: dict[str, Any], seed: int | None) -> Any:
    """The framework's PBT pruner for PopulationBasedTraining's ``settings``."""
    try:
        from search.core._pbt import PBT
    except ImportError:
        raise UserError("PopulationBasedTraining: the framework's PBT (search.core._pbt) is "
                        "not installed in this version") from None
    return PBT(**settings, seed=seed)


def _whole(name: str, factor: Any) -> int:
    if float(factor) != int(factor) or int(factor) < 2:
        raise UserError(f"{name}(reduction_factor={factor}): Optuna's pruners take a whole "
                        "reduction factor >= 2")
    return int(factor)


# --- metric, direction, and the rest of the configs ----------------------------------------------


def _goal(tune_config: Any, searcher: dict[str, Any], scheduler: dict[str, Any],
          ) -> tuple[str, str, str]:
    """The metric and mode: TuneConfig's, else the searcher's or the scheduler's own."""
    for metric, mode, who in ((tune_config.metric, tune_config.mode, "TuneConfig"),
                              (searcher.get("metric"), searcher.get("mode"), "the searcher"),
                              (scheduler.get("metric"), scheduler.get("mode"), "the scheduler")):
        if metric is not None or mode is not None:
            if not metric or mode not in ("min", "max"):
                raise UserError(f"{who}: give metric and mode='min' or 'max' together (got "
                                f"metric={metric!r}, mode={mode!r})")
            return str(metric), str(mode), who
    raise UserError("TuneConfig(metric=..., mode=...): the framework searches on a metric; "
                    "give the metric the trainable reports and mode='min' or 'max'")


def _tune_config_rest(setup: TuneSetup, tune_config: Any) -> None:
    """``time_budget_s`` as the timeout; what changes nothing here, noted."""
    budget = tune_config.time_budget_s
    if budget is not None:
        seconds = budget.total_seconds() if hasattr(budget, "total_seconds") else float(budget)
        setup.timeout, setup.who["timeout"] = seconds, "time_budget_s"
    for name in ("trial_name_creator", "trial_dirname_creator"):
        if getattr(tune_config, name, None) is not None:
            setup.notes.append(f"TuneConfig({name}) ignored: trials are numbered in the study")


def _run_config(setup: TuneSetup, run_config: Any, max_t: int | None) -> None:
    """RunConfig: name, stop, failures, checkpoints; storage noted; Tune callbacks refused."""
    if run_config.callbacks:
        names = ", ".join(type(c).__name__ for c in run_config.callbacks)
        raise UserError(f"RunConfig(callbacks=[{names}]): Tune callbacks are not answered "
                        "under python -m search (MLflow tracking and the report are the "
                        "framework's own); drop them")
    setup.name = run_config.name
    from ray.train.constants import DEFAULT_STORAGE_PATH

    if run_config.storage_path not in (None, DEFAULT_STORAGE_PATH):
        setup.notes.append(f"RunConfig(storage_path={run_config.storage_path!r}) ignored: the "
                           "results go to --results")
    setup.stop = _with_max_t(run_config.stop, max_t)
    failure = run_config.failure_config
    if failure is not None:
        if failure.max_failures < 0:
            raise UserError("FailureConfig(max_failures=-1): retrying a trial forever is not "
                            "answered under python -m search; give a number, or --max-retries")
        setup.max_failures, setup.fail_fast = int(failure.max_failures), failure.fail_fast
    _checkpoint_config(setup, run_config.checkpoint_config)


def _checkpoint_config(setup: TuneSetup, config: Any) -> None:
    if config is None:
        return
    # checkpoint_frequency / checkpoint_at_end ask a class trainable for checkpoints, which
    # it saves at every step here (at least as often); a function saves with tune.report
    if config.num_to_keep is not None:  # the framework keeps the best one too
        setup.keep_checkpoints = int(config.num_to_keep)


def _with_max_t(stop: Any, max_t: int | None) -> Any:
    """The stop criteria, with the scheduler's ``max_t`` (Tune stops every trial there)."""
    if max_t is None:
        return stop
    if stop is None:
        return {ITERATION: max_t}
    if isinstance(stop, Mapping):
        merged = dict(stop)
        merged[ITERATION] = min(max_t, merged.get(ITERATION, max_t))
        return merged
    return stop


def cpus_available(recorded: dict[str, Any] | None) -> int:
    """The CPUs Tune would see: a script's ``ray.init(num_cpus=...)``, else this machine's."""
    if recorded and recorded.get("num_cpus"):
        return int(recorded["num_cpus"])
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_workers(cpus: int, cpus_per_trial: float | None, trials: int | None) -> int:
    """As many concurrent trials as fit, capped by the trials."""
    fit = max(1, math.floor(cpus / (cpus_per_trial or 1.0)))
    return fit if trials is None else max(1, min(fit, trials))


def _label(strategy: Any) -> str:
    return strategy if isinstance(strategy, str) else type(strategy).__name__
