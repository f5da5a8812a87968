"""``sampler="auto"``: the sampler that suits the study at hand, and why.

The choice reads the space (numeric or categorical, conditional or not, its dimension), the
budget, the number of objectives and the number of workers:

- a Gaussian process (Optuna's ``GPSampler``) for a small, all-numeric, unconditional space
  with a modest budget, one objective and one worker: it models the whole response surface
  and finds optima in far fewer trials than TPE (``benchmarks/sampler_choice.py``), but its
  cost per trial grows with the trials so far, it needs torch, and it does not see trials that
  are still running;
- multivariate TPE, grouped, for a conditional space or one the objective defines as it runs
  (each branch's parameters are modelled together);
- for the same space with a large budget, GP for the first trials, then multivariate TPE (GP's
  cost per trial grows with the trials; TPE refines what GP found, ``gp_first``);
- multivariate TPE otherwise (categorical parameters, many dimensions);
- for several objectives, multivariate TPE, or NSGA-II for a large budget;
- with several workers, TPE's constant liar, so that running trials are not proposed again;
- on one objective, TPE past a history size models its best, latest and running trials
  only, so its cost per trial stops growing (``_bounded_sampler``); the line says so when the
  budget passes that size.

The choice is made once, when a study starts, and recorded in ``study.json``; a resumed study
builds the sampler it recorded (see :meth:`SamplerChoice.from_record`). A sampler the study
gives as an Optuna object is recorded by its class and the arguments it was built with; a
resumed study gets it again from its (unchanged) study file, and must get one of that class.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from search.core._errors import UserError
from search.core._strategies import GP_FIRST_TRIALS

if TYPE_CHECKING:
    from spaces import Space

#: GP's limits: dimension and budget above which TPE is chosen (its cost per trial grows with
#: the trials so far, and its fit with the dimension)
GP_MAX_DIMS = 10
GP_MAX_TRIALS = 300
#: several objectives: budgets from which NSGA-II is chosen over multivariate TPE
NSGA2_MIN_TRIALS = 1000


@dataclass(frozen=True)
class SamplerChoice:
    """The sampler a study asked for, the one it runs, that one's settings, and why."""

    requested: str  # "auto", a sampler's name, or "object" (an Optuna sampler object)
    chosen: str  # a name, or an object's class as module.Class
    why: str
    settings: dict[str, bool] = field(default_factory=dict)
    arguments: dict[str, Any] = field(default_factory=dict)  # an object's, as recorded

    def to_dict(self) -> dict[str, Any]:
        return {
            "requested": self.requested,
            "chosen": self.chosen,
            "settings": dict(self.settings),
            **({"arguments": dict(self.arguments)} if self.requested == "object" else {}),
            "why": self.why,
        }

    @classmethod
    def from_record(cls, value: Any) -> SamplerChoice | None:
        """The choice ``study.json`` recorded; ``None`` for a record without one (a plain
        name, written before ``auto`` existed)."""
        if not isinstance(value, dict) or not isinstance(value.get("chosen"), str):
            return None
        settings = value.get("settings") or {}
        return cls(
            requested=str(value.get("requested")),
            chosen=value["chosen"],
            why=str(value.get("why", "")),
            settings={k: bool(v) for k, v in settings.items()},
            arguments=dict(value.get("arguments") or {}),
        )

    def for_workers(self, workers: int) -> SamplerChoice:
        """The same choice for a run with ``workers`` workers: TPE's constant liar on or off."""
        if self.requested != "auto" or self.chosen != "tpe":
            return self
        settings = {k: v for k, v in self.settings.items() if k != "constant_liar"}
        if workers > 1:  # GP does not see running trials: TPE and its liar from the start
            settings = {k: v for k, v in settings.items() if k != "gp_first"}
            settings["constant_liar"] = True
        return replace(self, settings=settings)

    def line(self) -> str:
        """What the terminal says at the start of a run."""
        named = self.chosen + "".join(f", {k}" for k, on in sorted(self.settings.items()) if on)
        return f"search: sampler auto chose {named}: {self.why}"

    @property
    def label(self) -> str:
        """A short name for tables and tags: ``gp (auto)``, ``TPESampler``, or the name given."""
        if self.requested == "object":
            return self.chosen.rsplit(".", 1)[-1]
        return f"{self.chosen} (auto)" if self.requested == "auto" else self.chosen


def given(sampler: Any) -> SamplerChoice:
    """An explicit sampler: a name, used as it is, or an Optuna sampler object."""
    if isinstance(sampler, str):
        return SamplerChoice(requested=sampler, chosen=sampler,
                             why="named by the study or --sampler")
    from search.core._strategies import describe_object

    described = describe_object(sampler)
    return SamplerChoice(requested="object", chosen=described["class"],
                         why="the study's own sampler object", arguments=described["arguments"])


def sampler_label(record_value: Any) -> str:
    """The sampler a ``study.json`` names, for tables and tags (old records hold a name; an
    object is named by its class)."""
    choice = SamplerChoice.from_record(record_value)
    return choice.label if choice is not None else str(record_value)


def choose_sampler(
    space: Space,
    *,
    trials: int | None,
    objectives: int = 1,
    workers: int = 1,
    torch_available: bool | None = None,
) -> SamplerChoice:
    """The sampler ``auto`` picks for this space, budget, objectives and workers."""
    choice = _choose(space, trials=trials, objectives=objectives, workers=workers,
                     torch_available=torch_available)
    return _bounded(choice, trials) if objectives == 1 else choice


def _bounded(choice: SamplerChoice, trials: int | None) -> SamplerChoice:
    """``choice``, its why saying so when the budget passes TPE's bounded history (one
    objective: ``search/core/_bounded_sampler.py``)."""
    if choice.chosen != "tpe":
        return choice
    from search.core._bounded_sampler import TPE_BOUND as BOUND

    if trials is not None and trials <= BOUND.size:
        return choice
    return replace(choice, why=f"{choice.why}; past {BOUND.size} trials TPE models its best "
                   f"{BOUND.best}, latest {BOUND.recent} and running trials: its cost per "
                   "trial stays flat")


def _choose(
    space: Space,
    *,
    trials: int | None,
    objectives: int,
    workers: int,
    torch_available: bool | None,
) -> SamplerChoice:
    """``choose_sampler``'s choice, before TPE's bound is said."""
    if torch_available is None:
        torch_available = importlib.util.find_spec("torch") is not None
    params = space.flatten()
    dims = len(params)
    conditional = space.is_conditional
    numeric = all(type(p).__name__ in ("Float", "Int") for p in params.values())
    liar = {"constant_liar": True} if workers > 1 else {}
    tpe = {"multivariate": True, **liar}
    if dims == 0:
        why = "the objective defines its parameters as it runs, so the space may change"
        return _auto("tpe", why, {**tpe, "group": True}, workers)
    if objectives > 1:
        if trials is None or trials >= NSGA2_MIN_TRIALS:
            why = f"{objectives} objectives and a large budget ({_count(trials)} >= "
            return _auto("nsga2", f"{why}{NSGA2_MIN_TRIALS}): a genetic search scales", {})
        why = f"{objectives} objectives and {_count(trials)}: multi-objective TPE"
        return _auto("tpe", why, {**tpe, **({"group": True} if conditional else {})}, workers)
    if conditional:
        why = "a conditional space: grouped TPE models each branch's parameters together"
        return _auto("tpe", why, {**tpe, "group": True}, workers)
    reasons = _not_gp(numeric, dims, trials, workers)
    if torch_available and reasons == [_budget(trials)]:
        why = (f"{dims} numeric parameter{'s' if dims > 1 else ''}, {_count(trials)}, one worker:"
               f" a Gaussian process for the first {GP_FIRST_TRIALS} trials (it finds the "
               "region of the optimum in the fewest), then multivariate TPE (its cost per "
               "trial does not grow as GP's does)")
        return _auto("tpe", why, {**tpe, "gp_first": True}, workers)
    if not reasons:
        suits = f"{dims} numeric parameter{'s' if dims > 1 else ''}, {_count(trials)}, one worker"
        if torch_available:
            return _auto("gp", f"{suits}: a Gaussian process needs the fewest trials", {})
        why = (f"{suits} suit the GP sampler, but torch is not installed (pip install "
               "'search[torch]'), so multivariate TPE")
        return _auto("tpe", why, tpe, workers)
    return _auto("tpe", f"{'; '.join(reasons)}: multivariate TPE", tpe, workers)


def _not_gp(numeric: bool, dims: int, trials: int | None, workers: int) -> list[str]:
    """Why the GP sampler does not suit: one phrase a reason, none when it does."""
    reasons = []
    if not numeric:
        reasons.append("categorical parameters")
    if dims > GP_MAX_DIMS:
        reasons.append(f"{dims} dimensions (GP up to {GP_MAX_DIMS})")
    if trials is None or trials > GP_MAX_TRIALS:
        reasons.append(_budget(trials))
    if workers > 1:
        reasons.append(f"{workers} workers (GP does not see running trials)")
    return reasons


def _budget(trials: int | None) -> str:
    return f"{_count(trials)} (GP up to {GP_MAX_TRIALS}; its cost grows per trial)"


def _count(trials: int | None) -> str:
    return "no trial limit" if trials is None else f"{trials} trials"


def _auto(chosen: str, why: str, settings: dict[str, bool], workers: int = 1) -> SamplerChoice:
    if workers > 1 and settings.get("constant_liar"):
        why += f"; constant liar for {workers} workers"
    return SamplerChoice(requested="auto", chosen=chosen, why=why, settings=settings)


def check_object(recorded: Any, sampler: Any) -> None:
    """A resumed study whose first run used a sampler object gets one of the same class."""
    kept = SamplerChoice.from_record(recorded)
    if kept is None or kept.requested != "object":
        return
    if isinstance(sampler, str) and sampler != "auto":
        return  # named by --sampler (or the file): that one, as asked
    now = given(sampler)
    if now.requested != "object":
        raise UserError(f"study.json: sampler: this study ran with the sampler object "
                        f"{kept.chosen}, which {sampler!r} cannot rebuild; name the sampler to "
                        "go on with: --sampler NAME")
    if now.chosen != kept.chosen:
        raise UserError(f"study.json: sampler: this study ran with {kept.chosen}, and the study "
                        f"file now builds {now.chosen}; resume with --sampler NAME to change it")


def check_choice(choice: SamplerChoice) -> None:
    """A recorded choice this version can build (a hand-edited ``study.json`` may not be)."""
    known = {"tpe": {"multivariate", "group", "constant_liar", "gp_first"}, "gp": set(),
             "nsga2": set()}
    if choice.chosen not in known or not set(choice.settings) <= known[choice.chosen]:
        raise UserError(
            f"study.json: sampler: cannot build the recorded choice {choice.to_dict()!r}; "
            "expected tpe (multivariate, group, constant_liar, gp_first), gp or nsga2"
        )
