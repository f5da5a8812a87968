"""Stop the search when the room for improvement falls below the cross-validation noise.

The rule of Makarova et al. (2022, "Automatic termination for hyperparameter optimization",
AutoML-Conf, PMLR 188): fit a Gaussian process to the trials so far; the gap between the best
upper confidence bound over the space and the best lower confidence bound over the top trials
bounds how much better any config could still be (the regret bound). When that bound is no
larger than the statistical error of the best config's cross-validation estimate, further
trials are chasing noise. The regret bound is Optuna's maintained GP implementation
(``optuna.terminator.improvement.evaluator.RegretBoundEvaluator``, needs torch); the error is
the corrected standard deviation of the best trial's fold scores, as in the paper. Only the
decision lives here; Optuna's deprecated ``Terminator`` wrapper is not used.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from search.integrity._ties import correction

if TYPE_CHECKING:
    import optuna

MIN_TRIALS = 20


def cv_error(fold_scores: list[float]) -> float | None:
    """Statistical error of a k-fold CV estimate: sqrt((1/k + 1/(k-1)) * var(scores))."""
    k = len(fold_scores)
    if k < 2:
        return None
    return math.sqrt(correction(k) * statistics.pvariance(fold_scores))


@dataclass
class NoiseStop:
    """Picklable stop rule checked before each new trial (in every worker process)."""

    seed: int
    min_trials: int = MIN_TRIALS
    last: dict[str, Any] = field(default_factory=dict)

    def check(self, study: optuna.Study) -> dict[str, Any] | None:
        """A record of why to stop now, or ``None`` to go on."""
        from optuna.terminator.improvement.evaluator import RegretBoundEvaluator
        from optuna.trial import TrialState

        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if len(complete) < self.min_trials:
            return None
        best = study.best_trial
        scores = best.user_attrs.get("fold_scores")
        error = cv_error([float(s) for s in scores]) if isinstance(scores, list) else None
        if error is None:
            return None
        try:
            bound = RegretBoundEvaluator(seed=self.seed).evaluate(
                list(complete), study.direction
            )
        except ValueError:  # e.g. no parameter common to all trials
            return None
        self.last = {"regret_bound": float(bound), "cv_error": error, "trials": len(complete)}
        if bound <= error:
            return {**self.last, "rule": "Makarova et al. 2022: regret bound <= CV error"}
        return None
