"""Turn a :class:`Study` into checked parts before anything is written.

Everything that can be wrong with the user's input is found here (space, objective, metric,
data, their fit to each other), so that a bad study exits 2 with nothing written.
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.core._auto import SamplerChoice, check_choice, check_object, choose_sampler, given
from search.core._channel import Setup
from search.core._data import SplitData, load_and_split
from search.core._errors import UserError
from search.core._resolve import Components, resolve
from search.core._study import Study
from search.core._task import TrialTask
from search.integrity._leaks import Finding, check_leaks
from search.integrity._stopping import NoiseStop
from search.integrity._ties import Preference

if TYPE_CHECKING:
    from spaces import Space


@dataclass(frozen=True, eq=False)
class Prepared:
    """A checked study, ready to run: components, seed, and the split data (if any)."""

    study: Study
    study_file: Path | None
    parts: Components
    seed: int
    split: SplitData | None
    sampler: Any
    pruner: Any
    prefer: Preference | None = None
    leaks: tuple[Finding, ...] = ()
    choice: SamplerChoice | None = None

    def make_sampler(self, seed: int) -> Any:
        """The study's sampler (``auto``'s choice, or the one named), seeded with ``seed``; a
        sampler object cannot be given a seed: it draws a fresh one (``reseed_rng``)."""
        from search.core._strategies import make_sampler

        if not isinstance(self.study.sampler, str):
            self.study.sampler.reseed_rng()
            return self.study.sampler
        choice = self.choice or given(self.study.sampler)
        return make_sampler(
            choice.chosen, self.parts.space, seed, multi=self.parts.goals.multi,
            settings=choice.settings,
        )

    @property
    def can_evaluate(self) -> bool:
        """Whether there is a test part and a final model to score on it."""
        return self.split is not None and self.parts.objective.can_fit_final

    def task(self, directory: Path | None) -> TrialTask:
        """What trials need, never the sealed part; trials keep files under ``directory``."""
        return TrialTask(
            objective=self.parts.objective,
            data=self.split.dev if self.split else None,
            metric=self.parts.metric,
            seed=self.seed,
            directory=directory,
        )

    def setup(self, directory: Path, threads: int | None) -> Setup:
        """The first message to each worker: the task, pickled once, and its thread limit."""
        directory = directory.resolve()  # workers may run in another folder, or machine
        return Setup(task=self.task(directory).pickled(), threads=threads, log_dir=directory)

    def stop_rule(self) -> NoiseStop | None:
        """The rule that may end the search before its budget (``--stop-below-noise``)."""
        return NoiseStop(seed=self.seed) if self.study.stop_below_noise else None


def prepare(
    study: Study, study_file: Path | None, *, seed: int | None = None, sampler: Any = None
) -> Prepared:
    """Resolve, load and split the data, and check that the objective can use them.

    ``seed`` (a resumed study's recorded seed) wins over a missing study seed; a study without
    any seed draws one here, once, and the run records it so that a resume splits alike.
    ``sampler`` is a resumed study's recorded sampler: ``auto`` keeps the choice it made.
    """
    from objectives import ObjectiveError

    base_dir = study_file.parent if study_file else Path.cwd()
    parts = resolve(study, base_dir)
    effective = study.seed if study.seed is not None else seed
    if effective is None:
        effective = secrets.randbelow(2**31)
    _check_one_objective_options(study, parts)
    split = None
    if study.data is not None:
        if parts.task is None:
            raise UserError("study: a study with data needs a scoring metric (e.g. 'accuracy')")
        split = load_and_split(study.data, task=parts.task, seed=effective, base_dir=base_dir)
    if study.stop_below_noise:
        from search.core._strategies import require

        require("torch", "stop_below_noise (its Gaussian-process regret bound)", extra="torch")
    if study.nested and (split is None or not parts.objective.can_fit_final):
        raise UserError("study: nested needs data and an objective that can fit a final model")
    leaks: tuple[Finding, ...] = ()
    if split is not None and study.data is not None:
        data = study.data
        time = data.time if isinstance(data.time, str) else None
        leaks = tuple(
            check_leaks(split.dev, split.test, groups=data.groups, time=time, seed=effective)
        )
        if leaks and study.strict:
            more = f" (and {len(leaks) - 1} more)" if len(leaks) > 1 else ""
            raise UserError(f"leak check (strict): {leaks[0].message}{more}")
    if hasattr(study.pruner, "widen"):  # PBT: the names it mutates become parameters
        try:
            parts = dataclasses.replace(parts, space=study.pruner.widen(parts.space))
        except Exception as exc:  # noqa: BLE001 - a mutation no space parameter can hold
            raise UserError(f"pruner: {exc}") from None
    try:
        parts.objective.check(split.dev if split else None, parts.space, parts.metric)  # type: ignore[arg-type]
    except ObjectiveError as exc:
        raise UserError(f"objective: {exc}") from None
    choice = _sampler_choice(study, parts, sampler)
    return Prepared(
        study=study,
        study_file=study_file,
        parts=parts,
        seed=effective,
        split=split,
        sampler=_sampler(study, parts, choice, effective),
        pruner=_pruner(study, parts),
        prefer=_preference(study, parts.space),
        leaks=leaks,
        choice=choice,
    )


def _sampler(study: Study, parts: Components, choice: SamplerChoice, seed: int) -> Any:
    """The study's sampler object, or the one ``choice`` names, seeded with ``seed``."""
    from search.core._strategies import make_sampler

    if choice.requested == "object":
        return study.sampler
    return make_sampler(choice.chosen, parts.space, seed, multi=parts.goals.multi,
                        settings=choice.settings)


def _pruner(study: Study, parts: Components) -> Any:
    """The study's pruner object, or the one it names (none for several objectives)."""
    from search.core._strategies import make_pruner

    if not isinstance(study.pruner, str):
        return study.pruner
    return make_pruner("none" if parts.goals.multi else study.pruner, steps_of(parts))


def steps_of(parts: Components) -> str | None:
    """What the objective's steps are: ``"epochs"`` (a network), ``"folds"`` (a scikit-learn
    objective's cross-validation) or ``None`` (the user's own function)."""
    kinds = {cls.__name__ for cls in type(parts.objective).__mro__}
    if "NetworkObjective" in kinds:
        return "epochs"
    return "folds" if "SklearnObjective" in kinds else None


def _sampler_choice(study: Study, parts: Components, recorded: Any) -> SamplerChoice:
    """The named sampler or the study's object; or ``auto``'s choice: the recorded one on
    resume, else made now."""
    check_object(recorded, study.sampler)
    if not isinstance(study.sampler, str) or study.sampler != "auto":
        return given(study.sampler)
    kept = SamplerChoice.from_record(recorded)
    if kept is not None and kept.requested == "auto":
        check_choice(kept)
        return kept.for_workers(study.workers)
    if kept is not None or isinstance(recorded, str):  # a study first run with a named one
        name = kept.chosen if kept is not None else str(recorded)
        return SamplerChoice("auto", name, "the sampler this study's first run used")
    return choose_sampler(
        parts.space, trials=study.trials, objectives=len(parts.goals.names),
        workers=study.workers,
    )


def _check_one_objective_options(study: Study, parts: Components) -> None:
    """Options that mean something for one objective only."""
    if study.nested and len(parts.metrics) > 1:
        raise UserError("study: nested scores one metric, and this study computes "
                        f"{len(parts.metrics)} ({', '.join(m.name for m in parts.metrics)})")
    if not parts.goals.multi:
        return
    for option in ("prefer", "nested", "stop_below_noise"):
        if getattr(study, option):
            raise UserError(
                f"study: {option} needs one objective, and this study has "
                f"{len(parts.goals.names)} ({', '.join(parts.goals.names)})"
            )


def _preference(study: Study, space: Space) -> Preference | None:
    """The parsed ``prefer`` option, checked against the space's parameter names."""
    if study.prefer is None:
        return None
    prefer = Preference.parse(study.prefer)
    names = sorted({path.rsplit(".", 1)[-1] for path in space.paths()})
    if prefer.param not in names:
        raise UserError(
            f"study: prefer names '{prefer.param}', which is not a parameter of the space "
            f"({', '.join(names)})"
        )
    return prefer
