"""Warm starts: finished trials of another study join a new study's history.

``Study(warm_start="results/old")`` (a results folder) or ``warm_start=("sqlite:///o.db",
"name")`` (an Optuna storage and a study name; a ``.journal`` file works too). Only COMPLETE
trials whose declared parameters fit this study's space (same names, values inside its
bounds and choices, the branches this space would take) and whose number of values matches
this study's objectives are taken. They guide the sampler, but they count toward no budget
and are never the config the final evaluation opens the test for: they were scored elsewhere.
The source is only read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.core._errors import UserError
from search.core._folder import STORE_FILE, STUDY_JSON, read_record
from search.core._trials import WARM

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

    from search.core._goals import Goals
    from spaces import Space


@dataclass(frozen=True)
class WarmStart:
    """The trials taken from a source, how many were skipped, and what the source was."""

    trials: tuple[Any, ...]
    skipped: int
    source: str

    def line(self) -> str:
        """One line for the terminal."""
        return (
            f"warm start: took {len(self.trials)} of {len(self.trials) + self.skipped} finished "
            f"trials of {self.source}"
            + (f" ({self.skipped} skipped: their params do not fit this space)" if self.skipped else "")
        )


def warm_start(spec: Any, space: Space, goals: Goals, base_dir: Path) -> WarmStart:
    """Read the source named by ``spec`` and keep the trials that fit; a bad source is a
    :class:`UserError` naming it."""
    import optuna

    source, finished = _source(spec, base_dir)
    taken = []
    for trial in finished:
        distributions = _fit(space, trial)
        if distributions is None or len(trial.values) != len(goals.names):
            continue
        taken.append(
            optuna.trial.create_trial(
                params=dict(trial.params),
                distributions=distributions,
                values=list(trial.values),
                user_attrs={**trial.user_attrs, "warm_start": f"{source} #{trial.number}"},
                system_attrs={WARM: source},
            )
        )
    return WarmStart(tuple(taken), len(finished) - len(taken), source)


def _source(spec: Any, base_dir: Path) -> tuple[str, list[FrozenTrial]]:
    """The source's name and its COMPLETE trials."""
    import optuna

    from search.core._store import read_store

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if isinstance(spec, (str, Path)) and not str(spec).startswith(("sqlite:", "postgresql", "mysql")):
        folder = _path(spec, base_dir)
        if not (folder / STUDY_JSON).is_file() or not (folder / STORE_FILE).is_file():
            raise UserError(f"warm_start: {folder} is not a study's results folder")
        name = read_record(folder / STUDY_JSON)["name"]
        storage: Any = read_store(folder / STORE_FILE)
        source = str(spec)
    elif isinstance(spec, (tuple, list)) and len(spec) == 2:
        url, name = (str(part) for part in spec)
        storage, source = _storage(url, base_dir), f"{url} ({name})"
    else:
        raise UserError(
            "warm_start: give a results folder, or (storage URL, study name), e.g. "
            f"('sqlite:///old.db', 'my-study'); got {spec!r}"
        )
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        raise UserError(f"warm_start: no study named {name!r} in {source}") from None
    state = optuna.trial.TrialState.COMPLETE
    return source, study.get_trials(deepcopy=False, states=(state,))


def _path(value: Any, base_dir: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base_dir / path


def _storage(url: str, base_dir: Path) -> Any:
    """An Optuna storage to read: a journal file (read-only) or an existing database."""
    from search.core._store import read_store

    if url.endswith(".journal"):
        path = _path(url, base_dir)
        if not path.is_file():
            raise UserError(f"warm_start: {path} does not exist")
        return read_store(path)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise UserError(f"warm_start: {url}: no such database file")
    return url


def _fit(space: Space, trial: FrozenTrial) -> dict[str, Any] | None:
    """The distributions of ``trial``'s params in this space, or ``None`` if they do not fit.

    Parameters the space declares must take the values the space allows; the others (an
    objective's own ``trial.suggest_*``) keep the source's distributions.
    """
    fitter = _Fitter(trial.params)
    try:
        space.sample(fitter)
    except _Unfit:
        return None
    distributions = dict(fitter.distributions)
    for name in set(trial.params) - set(distributions):
        if name in set(space.paths()):
            return None  # a declared parameter of a branch this space would not take
        distributions[name] = trial.distributions[name]
    return distributions


class _Unfit(Exception):
    """A parameter that is missing or out of this space."""


class _Fitter:
    """A trial stand-in that answers the space's suggestions from a finished trial's params."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params
        self.distributions: dict[str, Any] = {}

    def _take(self, name: str, distribution: Any) -> Any:
        if name not in self.params:
            raise _Unfit(name)
        value = self.params[name]
        if not distribution._contains(distribution.to_internal_repr(value)):
            raise _Unfit(name)
        self.distributions[name] = distribution
        return value

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> Any:
        from optuna.distributions import FloatDistribution

        return self._take(name, FloatDistribution(low, high, log=log, step=step))

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> Any:
        from optuna.distributions import IntDistribution

        return self._take(name, IntDistribution(low, high, log=log, step=step))

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        from optuna.distributions import CategoricalDistribution

        try:
            return self._take(name, CategoricalDistribution(choices))
        except ValueError:  # a value not among the choices
            raise _Unfit(name) from None
