"""Population Based Training on the framework's engine, as Ray Tune's ``PopulationBasedTraining``.

A population of ``trials`` members trains at once. Every ``perturbation_interval`` steps a
member's *segment* ends (the pruner's word at that report; the engine records the segment
COMPLETE with its last reported value, since its training goes on); the member then either
continues from its own last checkpoint with its own hyperparameters, or, if its score is in the
bottom ``quantile_fraction`` of the members' latest scores, copies a top-quantile member's last
checkpoint and hyperparameters, perturbed (each mutated value multiplied by one of
``perturbation_factors``, or moved to a neighbouring choice) or, with ``resample_probability``,
drawn afresh from ``hyperparam_mutations``. Each segment is one trial of the store, with its
lineage in the ``pbt`` user attribute (member, segment, the trial it continued from, the step it
started at, whether it exploited another member), so ``search.load(...).lineage`` reads every
member's schedule of hyperparameters back. A member ends when its trainable stops (a ``stop``
criterion, its last step): that segment is the member's last. Only the first segment of each
member counts toward ``--trials``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from typing import Any

import optuna
from optuna.pruners import BasePruner

from search.core._checkpoints import CHECKPOINT, RESTORE_FROM
from search.core._trials import ABANDONED, PBT_ATTR, SEGMENT_ENDED


class PBT(BasePruner):
    """Population Based Training (see the module's docstring); pass it as the study's pruner:
    ``Study(pruner=search.PBT(perturbation_interval=5, hyperparam_mutations={"lr": Float(1e-4,
    0.02)}), trials=8, ...)``. ``hyperparam_mutations`` maps a top-level parameter to a space
    parameter, a Ray Tune domain, a list of choices, or a function drawing a value; a mutated
    name that the space holds as a constant starts at that constant, as in Ray Tune."""

    def __init__(self, perturbation_interval: int = 5,
                 hyperparam_mutations: Mapping[str, Any] | None = None, *,
                 quantile_fraction: float = 0.25, resample_probability: float = 0.25,
                 perturbation_factors: tuple[float, float] = (1.2, 0.8),
                 seed: int | None = None) -> None:
        if not isinstance(perturbation_interval, int) or perturbation_interval < 1:
            raise ValueError(f"PBT: perturbation_interval must be an integer >= 1, got "
                             f"{perturbation_interval!r}")
        if not hyperparam_mutations:
            raise ValueError("PBT: hyperparam_mutations must name at least one parameter to "
                             "perturb, e.g. {'lr': tune.loguniform(1e-4, 1e-1)}")
        if not 0 <= quantile_fraction <= 0.5:
            raise ValueError(f"PBT: quantile_fraction must be in [0, 0.5], got {quantile_fraction}")
        if not 0 <= resample_probability <= 1:
            raise ValueError(f"PBT: resample_probability must be in [0, 1], got "
                             f"{resample_probability}")
        self.perturbation_interval = perturbation_interval
        self.hyperparam_mutations = dict(hyperparam_mutations)
        self.quantile_fraction = quantile_fraction
        self.resample_probability = resample_probability
        self.perturbation_factors = tuple(perturbation_factors)
        self.seed = seed
        self._rng = random.Random(seed)
        self._mutations: dict[str, Any] = {}
        self._params: dict[str, Any] = {}
        self._start: dict[str, Any] = {}

    def __repr__(self) -> str:
        return (f"PBT(perturbation_interval={self.perturbation_interval}, "
                f"hyperparam_mutations={sorted(self.hyperparam_mutations)}, "
                f"quantile_fraction={self.quantile_fraction}, "
                f"resample_probability={self.resample_probability})")

    # --- the pruner's word: a segment ends ------------------------------------------------------

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        """``True`` at the report that ends the trial's segment."""
        step = trial.last_step
        if step is None:
            return False
        started = int((trial.user_attrs.get(PBT_ATTR) or {}).get("from_step", 0))
        return step - started >= self.perturbation_interval

    # --- the space: mutated names are parameters ------------------------------------------------

    def widen(self, space: Any) -> Any:
        """``space`` with each mutated name a parameter drawn from its mutation; remembers the
        constants the population starts at. A function mutation (``lambda: random.uniform(a,
        b)``) is drawn afresh to resample, within the range its draws span (and the starting
        constant), which is the parameter the store records."""
        from spaces import Constant, Space

        mutations, start, params = {}, {}, {}
        for name, spec in self.hyperparam_mutations.items():
            held = space.get(name) if hasattr(space, "get") else None
            if isinstance(held, Constant):
                start[name] = held.value
            if callable(spec) and not _is_domain(spec):
                mutations[name] = spec
                params[name] = _span(name, spec, start.get(name))
            else:
                mutations[name] = params[name] = Space({name: spec})[name]
        self._mutations, self._start, self._params = mutations, start, params
        if hasattr(space, "replaced"):
            return space.replaced(params)
        return Space({**dict(space), **params})

    def first_values(self) -> dict[str, Any]:
        """The values a new member starts at: the space's constants that PBT mutates."""
        return dict(self._start)

    # --- after a segment: exploit and explore ---------------------------------------------------

    def first_segment(self, number: int) -> dict[str, Any]:
        """The lineage of a new member (trial ``number``)."""
        return {"member": number, "segment": 0, "parent": None, "from_step": 0,
                "exploited": False}

    def next_segment(self, ended: optuna.trial.FrozenTrial, trials: list[Any],
                     maximize: bool) -> tuple[dict[str, Any], dict[str, Any]]:
        """The params and user attributes of the member's next segment."""
        place = dict(ended.user_attrs.get(PBT_ATTR) or {})
        latest = _latest_scores(trials)
        ranked = sorted(latest.values(), key=lambda t: float(t.value), reverse=maximize)
        count = int(math.ceil(len(ranked) * self.quantile_fraction))
        if count > len(ranked) / 2:
            count = int(math.floor(len(ranked) / 2))
        bottom = {t.number for t in ranked[len(ranked) - count:]} if count else set()
        source, params = ended, dict(ended.params)
        if ended.number in bottom:
            source = self._rng.choice(ranked[:count])
            params = self.explore(dict(source.params))
        holder = _checkpoint_holder(source, trials)
        saved = holder.system_attrs.get(CHECKPOINT) if holder is not None else None
        lineage = {
            "member": place.get("member", ended.number),
            "segment": int(place.get("segment", 0)) + 1,
            "parent": source.number,
            "from_step": int(saved["step"]) if saved else 0,
            "exploited": source.number != ended.number,
        }
        attrs: dict[str, Any] = {PBT_ATTR: lineage}
        if holder is not None:
            attrs[RESTORE_FROM] = holder.number
        return params, attrs

    def resumed(self, trials: list[Any], maximize: bool) -> list[tuple[dict[str, Any],
                                                                      dict[str, Any]]]:
        """The next segments of the members a stopped run left between two segments."""
        return [self.next_segment(ended, trials, maximize)
                for ended in unfinished_members(trials)]

    def explore(self, params: dict[str, Any]) -> dict[str, Any]:
        """Perturb or resample each mutated parameter of ``params``."""
        out = dict(params)
        for name, mutation in self._mutations.items():
            param = self._params[name]
            if name not in out or self._rng.random() < self.resample_probability:
                drawn = mutation() if callable(mutation) and not _is_param(mutation) \
                    else _draw(param, self._rng)
                out[name] = _within(param, drawn)
            else:
                out[name] = _perturb(param, out[name], self.perturbation_factors, self._rng)
        return out


def last_value(trial: Any) -> float | None:
    """The last value a trial reported: a PBT segment's value."""
    reported = trial.intermediate_values
    return float(reported[max(reported)]) if reported else None


def _checkpoint_holder(trial: Any, trials: list[Any]) -> Any:
    """The trial holding a member's latest checkpoint: ``trial``, or the segment it continued
    from (a segment that saved none, back along its lineage); ``None`` when none saved one."""
    seen = set()
    while trial is not None and trial.number not in seen:
        if CHECKPOINT in trial.system_attrs:
            return trial
        seen.add(trial.number)
        source = trial.user_attrs.get(RESTORE_FROM)
        trial = trials[source] if isinstance(source, int) and 0 <= source < len(trials) else None
    return None


def _latest_scores(trials: list[Any]) -> dict[int, Any]:
    """Each member's latest finished segment with a value."""
    latest: dict[int, Any] = {}
    for trial in trials:
        place = trial.user_attrs.get(PBT_ATTR)
        if place and trial.state.name == "COMPLETE" and trial.value is not None:
            latest[int(place["member"])] = trial
    return latest


def _span(name: str, draw: Any, start: Any) -> Any:
    """The space parameter that holds what a mutation function draws: a range of numbers
    (with ``start``), or a choice of at most 64 values; Python's ``random`` is put back."""
    from spaces import Categorical, Float, Int

    state = random.getstate()
    try:
        values = [draw() for _ in range(200)] + ([start] if start is not None else [])
    finally:
        random.setstate(state)
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if len(numbers) == len(values) and len(set(values)) > 64:
        low, high = min(numbers), max(numbers)
        if all(isinstance(v, int) for v in numbers):
            return Int(int(low), int(high))
        return Float(float(low), float(high))
    distinct = sorted(set(values), key=repr)
    if len(distinct) > 64:
        raise ValueError(f"PBT: hyperparam_mutations[{name!r}] draws more than 64 values that "
                         "are not numbers; give a list of choices or a range")
    return Categorical(distinct)


def _within(param: Any, value: Any) -> Any:
    """``value`` kept inside a numeric parameter's bounds (a function may draw past what its
    first draws spanned)."""
    if type(param).__name__ in ("Float", "Int"):
        value = min(max(value, param.low), param.high)
        return int(round(value)) if type(param).__name__ == "Int" else float(value)
    return value


def _draw(param: Any, rng: random.Random) -> Any:
    """A value drawn afresh from a space parameter."""
    kind = type(param).__name__
    if kind == "Categorical":
        return rng.choice(list(param.options))
    low, high = param.low, param.high
    if kind == "Int":
        return rng.randint(low, high)
    if getattr(param, "log", False):
        return math.exp(rng.uniform(math.log(low), math.log(high)))
    return rng.uniform(low, high)


def _perturb(param: Any, value: Any, factors: tuple[float, ...], rng: random.Random) -> Any:
    """A neighbouring choice, or the value times one of ``factors`` kept within bounds."""
    if type(param).__name__ == "Categorical":
        options = list(param.options)
        if value not in options:
            return rng.choice(options)
        index = options.index(value) + rng.choice((-1, 1))
        return options[min(max(index, 0), len(options) - 1)]
    moved = min(max(value * rng.choice(factors), param.low), param.high)
    return int(round(moved)) if type(param).__name__ == "Int" else float(moved)


def _is_param(value: Any) -> bool:
    return type(value).__module__.startswith("spaces")


def _is_domain(value: Any) -> bool:
    """A Ray Tune domain (callable objects too) or a space parameter: a distribution."""
    return _is_param(value) or type(value).__module__.startswith("ray.")



def schedule_of(trial: Any, trials: list[Any]) -> list[dict[str, Any]]:
    """The hyperparameters a PBT member trained with, segment by segment, up to ``trial``
    (following each segment's parent: an exploited segment continues another member's
    training, whose schedule it inherits); ``[]`` for a trial outside PBT."""
    schedule = []
    seen: set[int] = set()
    while trial is not None and trial.number not in seen:
        place = trial.user_attrs.get(PBT_ATTR)
        if not place:
            break
        seen.add(trial.number)
        schedule.append({"trial": trial.number, "from_step": int(place.get("from_step", 0)),
                         "to_step": trial.last_step, "params": dict(trial.params)})
        parent = place.get("parent")
        trial = trials[parent] if isinstance(parent, int) and 0 <= parent < len(trials) \
            else None
    return schedule[::-1]


def unfinished_members(trials: list[Any]) -> list[Any]:
    """The last segment of each member whose training a stopped run left between two
    segments (its segment ended and no later one waits or runs): ``--resume`` goes on."""
    latest: dict[int, Any] = {}
    for trial in trials:
        place = trial.user_attrs.get(PBT_ATTR)
        if place and ABANDONED not in trial.system_attrs:
            latest[int(place["member"])] = trial
    return [t for t in latest.values()
            if t.state.name == "COMPLETE" and SEGMENT_ENDED in t.system_attrs]
