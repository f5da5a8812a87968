"""Bounded samplers: what they hand Optuna's TPE and GP is bounded (counted, never timed), they
equal Optuna's own below the bound, and searching with the bound is no worse on a small
function where it applies."""

from __future__ import annotations

import math
import pickle
import statistics
from collections import deque

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from search.core import _study_view
from search.core._bounded_sampler import BoundedGPSampler, BoundedTPESampler, HistoryBound
from search.core._strategies import make_sampler, random_start
from spaces import Float, Space

optuna.logging.set_verbosity(optuna.logging.WARNING)
DISTS = {"x1": FloatDistribution(-5, 10), "x2": FloatDistribution(0, 15)}


def branin(trial: optuna.Trial) -> float:
    x1, x2 = trial.suggest_float("x1", -5, 10), trial.suggest_float("x2", 0, 15)
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    return ((x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1)
            + 10 - 0.397887)


def search(sampler: optuna.samplers.BaseSampler, trials: int, workers: int = 1) -> optuna.Study:
    """``trials`` Branin trials, ``workers`` in flight (the oldest told before the next ask)."""
    study = optuna.create_study(sampler=sampler)
    flying: deque[tuple[optuna.Trial, float]] = deque()
    for _ in range(trials):
        while len(flying) < workers:
            trial = study.ask()
            flying.append((trial, branin(trial)))
        study.tell(*flying.popleft())
    return study


@pytest.fixture
def handed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many trials each read of a bounded view handed the sampler."""
    sizes: list[int] = []
    read = _study_view.StudyView._get_trials

    def counted(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        found = read(self, *args, **kwargs)
        sizes.append(len(found))
        return found

    monkeypatch.setattr(_study_view.StudyView, "_get_trials", counted)
    return sizes


def test_tpe_is_handed_at_most_the_bound_and_the_running_trials(handed):
    bound = HistoryBound(best=5, recent=20)
    sampler = BoundedTPESampler(bound=bound, seed=0, multivariate=True, constant_liar=True)
    study = search(sampler, trials=80, workers=4)
    assert handed and max(handed) <= bound.size + 4  # 3 others running, and the one asked
    assert sum(t.state == TrialState.COMPLETE for t in study.trials) == 80
    # the liar's relative parameters went through the view into the study's own store
    assert any(k.startswith("tpe:relative_params") for t in study.trials for k in t.system_attrs)
    assert pickle.loads(pickle.dumps(sampler))._view.bound == bound  # keeps no study


def test_gp_is_handed_at_most_its_bound(handed):
    pytest.importorskip("torch")
    bound = HistoryBound(best=4, recent=4, spread=4)
    search(BoundedGPSampler(bound=bound, seed=0), trials=16)
    assert handed and max(handed) <= bound.size + 1


def test_the_view_keeps_the_best_the_latest_the_spread_and_every_unfinished_trial():
    study = optuna.create_study()
    values = [float((7 * i) % 50) for i in range(50)]  # trial i's value; 0 at i = 0 and 50k/7
    study.add_trials([create_trial(params={"x1": 0.0, "x2": v / 10}, distributions=DISTS,
                                   value=v) for v in values])
    study.add_trial(create_trial(state=TrialState.RUNNING, params={}, distributions={}))
    study.add_trial(create_trial(state=TrialState.FAIL, params={}, distributions={}))
    view = HistoryBound(best=3, recent=5, spread=4).view(study)
    kept = [t.number for t in view._get_trials(deepcopy=False)]
    best = sorted(range(50), key=lambda i: values[i])[:3]
    assert set(best) | set(range(45, 50)) | {50} <= set(kept) and 51 not in kept
    assert len(kept) <= 3 + 5 + 4 + 1 and kept == sorted(kept)
    assert len([n for n in kept if n not in best and n < 45 and n != 50]) == 4  # the spread
    assert view.direction == study.direction and view.get_trials(states=(TrialState.RUNNING,))
    maximized = optuna.create_study(direction="maximize")
    maximized.add_trials(study.get_trials(states=(TrialState.COMPLETE,)))
    top = HistoryBound(best=1, recent=1).view(maximized)
    assert {t.value for t in top.trials} == {49.0, values[-1]}


def test_pruned_trials_fill_the_best_as_tpe_ranks_them_and_many_objectives_see_everything():
    study = optuna.create_study()
    study.add_trials([create_trial(state=TrialState.PRUNED, params={}, distributions={},
                                   intermediate_values={s: 10.0 - s for s in range(depth)})
                      for depth in (1, 3, 2, 3, 1, 1, 1, 1)])
    study.add_trial(create_trial(params={}, distributions={}, value=5.0))
    kept = {t.number for t in HistoryBound(best=3, recent=2).view(study).trials}
    assert kept == {8, 1, 3, 7}  # the complete one, the two deepest, the two latest
    several = optuna.create_study(directions=["minimize", "minimize"])
    several.add_trials([create_trial(params={}, distributions={}, values=[i, -i])
                        for i in range(10)])
    assert HistoryBound(best=1, recent=1).view(several) is several


def test_below_the_bound_the_samplers_are_optunas_own():
    def params(study: optuna.Study) -> list[dict[str, float]]:
        return [t.params for t in study.trials]

    bounded = BoundedTPESampler(bound=HistoryBound(best=25, recent=25), seed=1,
                                multivariate=True, constant_liar=True)
    own = optuna.samplers.TPESampler(seed=1, multivariate=True, constant_liar=True)
    assert params(search(bounded, 40, workers=3)) == params(search(own, 40, workers=3))


def test_make_sampler_bounds_autos_tpe_and_gp_and_keeps_a_named_tpe_optunas():
    liar = make_sampler("tpe", Space({}), 0, settings={"multivariate": True,
                                                       "constant_liar": True})
    assert isinstance(liar, BoundedTPESampler) and liar._constant_liar
    assert type(make_sampler("tpe", Space({}), 0)) is optuna.samplers.TPESampler
    assert random_start(liar) == ("TPE", 10)
    if _has_torch():
        gp = make_sampler("gp", Space({}), 0)
        assert isinstance(gp, BoundedGPSampler) and random_start(gp) == ("GP", 10)


def _has_torch() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


@pytest.mark.filterwarnings("ignore:`gamma` has been deprecated:FutureWarning")
def test_a_low_bound_finds_as_good_a_branin_optimum_as_the_whole_history():
    """Four workers, the constant liar, 300 trials. The bound is the real one scaled down:
    TPE's good set capped at 10 trials (25 by default), the bound keeps the best 10 and the
    latest 100 (the best 25 and the latest 500), so it applies from trial 110 on."""
    def regret(bound: HistoryBound | None, seed: int) -> float:
        kwargs = {"seed": seed, "multivariate": True, "constant_liar": True,
                  "gamma": lambda n: min(math.ceil(0.1 * n), 10)}
        sampler = (BoundedTPESampler(bound=bound, **kwargs) if bound
                   else optuna.samplers.TPESampler(**kwargs))  # type: ignore[arg-type]
        return search(sampler, trials=300, workers=4).best_value

    low = HistoryBound(best=10, recent=100)
    bounded = [math.log10(regret(low, seed)) for seed in range(5)]
    whole = [math.log10(regret(None, seed)) for seed in range(5)]
    assert statistics.fmean(bounded) <= statistics.fmean(whole)  # -2.79 and -2.18 with Optuna 5.1


def test_a_declared_space_gives_tpe_the_search_space_optunas_intersection_gives():
    """A declared space without branches: the search space is read from the latest complete
    trial, and the trials are those Optuna's own intersection gives (seeded, same config)."""
    def run(declared: frozenset[str] | None) -> list[dict[str, float]]:
        sampler = BoundedTPESampler(declared=declared, seed=3, multivariate=True,
                                    constant_liar=True)
        return [t.params for t in search(sampler, 40, workers=3).trials]

    assert run(frozenset({"x1", "x2"})) == run(None)
    space = Space({"x1": Float(-5, 10), "x2": Float(0, 15)})
    tpe = make_sampler("tpe", space, 0, settings={"multivariate": True})
    assert tpe._declared == {"x1", "x2"}


def test_the_history_taken_in_trial_by_trial_keeps_what_one_reading_of_it_keeps():
    """Trials finish out of order (some pruned, some failed); after each, the view built from
    what was taken in so far holds the trials a fresh reading of the whole list gives (GP's
    spread aside: it is even in the order the trials were taken in)."""
    import random

    from search.core._bounded_sampler import _Taken

    rng = random.Random(0)
    bound = HistoryBound(best=4, recent=6)
    study = optuna.create_study()
    running: list[optuna.Trial] = []
    for step in range(120):
        running.append(study.ask({"x1": FloatDistribution(-5, 10)}))
        if len(running) > 5 or step == 119:
            for trial in rng.sample(running, 3):
                running.remove(trial)
                state = rng.choice([TrialState.COMPLETE] * 4 + [TrialState.PRUNED,
                                                                 TrialState.FAIL])
                if state is TrialState.PRUNED:
                    trial.report(rng.random(), rng.randrange(3))
                study.tell(trial, rng.random() if state is TrialState.COMPLETE else None,
                           state=state)
        view = bound.view(study)
        fresh = _Taken(bound, 1.0)
        fresh.take(study.get_trials(deepcopy=False))
        if view is study:
            assert fresh.modelled <= bound.size
            continue
        unfinished = {t.number for t in study.get_trials(states=(TrialState.RUNNING,))}
        assert {t.number for t in view.trials} == {t.number for t in fresh.kept()} | unfinished
