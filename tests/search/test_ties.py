"""The tie-aware winner: Nadeau–Bengio corrected t-test, intervals, preferences."""

from __future__ import annotations

import math

import optuna
import pytest
from scipy import stats

from search.core._goals import Goals
from search.integrity._ties import (
    Preference,
    corrected_interval,
    corrected_p_value,
    correction,
    selected_trial,
    tied_with,
)
from search.watching._results import best_record
from spaces import Float, Int, Space


def test_identical_fold_scores_are_tied():
    scores = [0.9, 0.92, 0.88, 0.91, 0.9]
    assert corrected_p_value(scores, list(scores)) == 1.0
    assert [t.number for t in tied_with(scores, [(7, 0.902, scores)])] == [7]


def test_a_constant_large_difference_is_not_a_tie():
    best = [0.9, 0.92, 0.88, 0.91, 0.9]
    worse = [s - 0.2 for s in best]
    assert corrected_p_value(best, worse) == 0.0
    assert tied_with(best, [(1, 0.7, worse)]) == []


def test_the_p_value_uses_the_corrected_variance():
    a = [0.90, 0.93, 0.88, 0.91, 0.95]
    b = [0.89, 0.90, 0.89, 0.88, 0.92]
    d = [x - y for x, y in zip(a, b, strict=True)]
    k = len(d)
    mean = sum(d) / k
    var = sum((x - mean) ** 2 for x in d) / (k - 1)
    t = mean / math.sqrt((1 / k + 1 / (k - 1)) * var)
    assert corrected_p_value(a, b) == pytest.approx(2 * stats.t.sf(abs(t), k - 1))
    # the naive paired t-test (no correction) is more eager to call a difference
    naive = stats.ttest_rel(a, b).pvalue
    assert naive < corrected_p_value(a, b)
    assert correction(5) == pytest.approx(0.2 + 0.25)


def test_ties_tested_all_at_once_match_the_pairwise_test():
    import numpy as np

    rng = np.random.default_rng(0)
    best = list(0.9 + rng.normal(0, 0.02, 5))
    others = [(n, 0.0, list(0.9 - 0.01 * n + rng.normal(0, 0.02, 5))) for n in range(40)]
    others += [(40, 0.0, list(best)), (41, 0.0, [b - 0.3 for b in best]), (42, 0.0, [0.5] * 4)]
    expected = {
        n: corrected_p_value(best, s)
        for n, _, s in others
        if len(s) == 5 and corrected_p_value(best, s) > 0.05
    }
    ties = tied_with(best, others)
    assert {t.number: t.p_value for t in ties} == pytest.approx(expected)
    assert 40 in expected and 41 not in expected and 0 < len(expected) < 40


def test_corrected_interval_contains_the_mean_and_widens_with_the_correction():
    scores = [0.8, 0.85, 0.9, 0.82, 0.88]
    low, high = corrected_interval(scores)
    mean = sum(scores) / 5
    assert low < mean < high
    sd = stats.tstd(scores)
    naive_half = stats.t.ppf(0.975, 4) * sd / math.sqrt(5)
    assert (high - low) / 2 > naive_half
    assert corrected_interval([0.9]) is None


@pytest.mark.parametrize(
    ("text", "param", "order"),
    [("n_estimators", "n_estimators", "min"), ("max:alpha", "alpha", "max"),
     ("min:C", "C", "min")],
)
def test_preference_parsing(text, param, order):
    prefer = Preference.parse(text)
    assert (prefer.param, prefer.order) == (param, order)


@pytest.mark.parametrize("text", ["", "mid:C", "min:", "max:not a name"])
def test_bad_preferences_are_refused(text):
    with pytest.raises(ValueError, match="prefer must be"):
        Preference.parse(text)


def _trial(number: int, value: float, folds: list[float], n: int, c: float):
    return optuna.trial.create_trial(
        value=value,
        params={"n": n, "c": c},
        distributions={
            "n": optuna.distributions.IntDistribution(1, 500),
            "c": optuna.distributions.FloatDistribution(0.0, 1.0),
        },
        user_attrs={"fold_scores": folds},
    )


def test_prefer_picks_the_cheapest_tied_config_and_best_json_says_so():
    space = Space({"n": Int(1, 500), "c": Float(0.0, 1.0)})
    base = [0.90, 0.92, 0.88, 0.91, 0.90]
    trials = [
        _trial(0, 0.902, base, 400, 0.1),
        _trial(1, 0.900, [0.91, 0.90, 0.89, 0.90, 0.90], 50, 0.2),  # tied, cheap
        _trial(2, 0.700, [s - 0.2 for s in base], 5, 0.3),  # clearly worse, cheapest
    ]
    for number, t in enumerate(trials):
        t.number = number
    best = trials[0]
    def config_of(trial):
        return space.config_from_params(trial.params)

    chosen = selected_trial(best, trials, config_of, Preference.parse("min:n"))
    assert chosen.number == 1
    assert selected_trial(best, trials, config_of, None).number == 0
    goals = Goals({"value": "maximize"})
    record = best_record(best, trials, space, goals, Preference.parse("n"))
    assert [t["number"] for t in record["ties"]["tied"]] == [1]
    assert record["ties"]["compared"] == 2
    assert record["selected"]["number"] == 1
    assert "prefer min:n" in record["selected"]["rule"]
    low, high = record["interval_95"]
    assert low < 0.902 < high
