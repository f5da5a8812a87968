"""Fold pruning by racing: stop a config once it is clearly worse than the best one.

After each fold, the trial's fold scores so far are compared, pair by pair, with the best
complete trial's scores on the same folds, by the Nadeau–Bengio corrected t-test of
:mod:`search.integrity._ties` (the variance factor ``1/j + 1/(K - 1)`` for ``j`` of ``K``
folds). The trial is pruned only when it is behind and the test says so at ``alpha``: a config
tied with the best runs all its folds, where a median over single folds stops most configs
that are merely unlucky on their first fold (or better on a hard fold that all share).

Folds report the running mean of their scores (``objectives.SklearnObjective``); the scores of
single folds are recovered from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import optuna

from search.integrity._ties import ALPHA, corrected_p_value

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial


def fold_scores_from_means(means: dict[int, float]) -> list[float]:
    """The fold scores whose running means are ``means`` (step -> mean over folds 0..step)."""
    steps = sorted(means)
    if steps != list(range(len(steps))):
        return []  # a gap: not fold-by-fold running means
    scores, total = [], 0.0
    for step in steps:
        score = (step + 1) * means[step] - total
        scores.append(score)
        total += score
    return scores


def behind_best(
    scores: Sequence[float], best: Sequence[float], *, folds: int, maximize: bool,
    alpha: float = ALPHA,
) -> bool:
    """Whether ``scores`` (the first folds of a trial) are significantly worse than ``best``'s
    scores on the same folds, out of ``folds`` in all."""
    j = len(scores)
    if j < 2 or len(best) < j:
        return False
    mine, theirs = list(scores), list(best[:j])
    mean_gap = sum(mine) / j - sum(theirs) / j
    if (mean_gap >= 0) if maximize else (mean_gap <= 0):
        return False
    return corrected_p_value(mine, theirs, folds=folds) < alpha


class RacingPruner(optuna.pruners.BasePruner):
    """Optuna pruner: prune a trial whose folds so far are significantly behind the best's."""

    def __init__(self, alpha: float = ALPHA) -> None:
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"`0 < alpha < 1` must hold, but got alpha={alpha}")
        self.alpha = alpha

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        scores = fold_scores_from_means(trial.intermediate_values)
        if len(scores) < 2:
            return False
        try:
            best = study.best_trial
        except ValueError:  # no complete trial yet
            return False
        best_scores = fold_scores_from_means(best.intermediate_values)
        if len(best_scores) <= len(scores) - 1 or len(best_scores) < 2:
            return False
        maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
        return behind_best(scores, best_scores, folds=len(best_scores), maximize=maximize,
                           alpha=self.alpha)
