"""Which configs are statistically tied with the best: the Nadeau–Bengio corrected t-test.

Cross-validation fold scores are not independent (training sets overlap), so the naive paired
t-test is far too eager to call a difference. Nadeau & Bengio (2003, Machine Learning 52)
correct the variance of the mean fold difference by ``1/k + n_test/n_train``; for k-fold CV
``n_test/n_train = 1/(k - 1)``. Two configs scored on the same folds are *tied* when the
corrected test cannot tell them apart at level ``alpha`` (two-sided). The same correction
gives the confidence interval of one config's mean fold score.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from optuna.trial import FrozenTrial

METHOD = "Nadeau-Bengio corrected resampled t-test (two-sided) on paired fold scores"
ALPHA = 0.05


def correction(k: int, folds: int | None = None) -> float:
    """The variance factor ``1/k + n_test/n_train`` for ``k`` of ``folds`` (default ``k``)
    folds of k-fold CV, where ``n_test/n_train = 1/(folds - 1)``."""
    return 1.0 / k + 1.0 / ((folds or k) - 1)


def corrected_interval(scores: Sequence[float], level: float = 0.95) -> tuple[float, float] | None:
    """Confidence interval of the mean of ``scores`` (k folds) with the corrected variance."""
    k = len(scores)
    if k < 2:
        return None
    from scipy import stats  # here, not above: importing scipy.stats costs about a second

    mean = statistics.fmean(scores)
    half = stats.t.ppf(0.5 + level / 2, k - 1) * math.sqrt(
        correction(k) * statistics.variance(scores)
    )
    return mean - half, mean + half


def corrected_p_value(
    a: Sequence[float], b: Sequence[float], *, folds: int | None = None
) -> float:
    """Two-sided p-value that configs scored ``a`` and ``b`` on the same folds differ;
    ``folds``: how many folds the CV has, where ``a`` and ``b`` are its first ones."""
    k = len(a)
    if k != len(b) or k < 2:
        raise ValueError("paired fold scores of equal length >= 2 are needed")
    from scipy import stats

    diffs = [x - y for x, y in zip(a, b, strict=True)]
    mean = statistics.fmean(diffs)
    var = statistics.variance(diffs)
    if var == 0.0:
        return 1.0 if mean == 0.0 else 0.0
    t = mean / math.sqrt(correction(k, folds) * var)
    return float(2.0 * stats.t.sf(abs(t), k - 1))


@dataclass(frozen=True)
class Tie:
    """A config tied with the best: its trial number, value and p-value against the best."""

    number: int
    value: float
    p_value: float


def tied_with(
    best: Sequence[float],
    others: Sequence[tuple[int, float, Sequence[float]]],
    alpha: float = ALPHA,
) -> list[Tie]:
    """The ``(number, value, fold_scores)`` entries not distinguishable from ``best``.

    Entries whose fold scores are missing or of another length are left out (not comparable).
    """
    k = len(best)
    rows = [(n, v, s) for n, v, s in others if len(s) == k]
    if k < 2 or not rows:
        return []
    import numpy as np
    from scipy import stats

    # one vectorised test for every entry: corrected_p_value, a row at a time, costs a scipy
    # call per trial, which adds up when best.json is rewritten during a long study
    diffs = np.asarray(best, dtype=float) - np.array([s for _, _, s in rows], dtype=float)
    mean = diffs.mean(axis=1)
    var = diffs.var(axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = mean / np.sqrt(correction(k) * var)
        p = 2.0 * stats.t.sf(np.abs(t), k - 1)
    p = np.where(var == 0.0, np.where(mean == 0.0, 1.0, 0.0), p)
    return [
        Tie(number=number, value=value, p_value=float(p_value))
        for (number, value, _), p_value in zip(rows, p, strict=True)
        if p_value > alpha
    ]


@dataclass(frozen=True)
class Preference:
    """Among tied configs, prefer the smallest (``min``) or largest (``max``) value of a param.

    Written ``"n_estimators"`` (min), ``"min:n_estimators"`` or ``"max:alpha"``; the name is
    a config (short) name. Configs without the parameter (another branch) come last.
    """

    param: str
    order: str = "min"

    @classmethod
    def parse(cls, text: str) -> Preference:
        order, _, param = text.rpartition(":")
        order = order or "min"
        if order not in ("min", "max") or not param.isidentifier():
            raise ValueError(
                f"prefer must be 'PARAM', 'min:PARAM' or 'max:PARAM', but got {text!r}"
            )
        return cls(param=param, order=order)

    def key(self, config: dict[str, object]) -> tuple[int, float]:
        value = config.get(self.param)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return (1, 0.0)
        return (0, float(value) if self.order == "min" else -float(value))

    def __str__(self) -> str:
        return f"{self.order}:{self.param}"


def fold_scores(trial: FrozenTrial) -> list[float]:
    """The per-fold validation scores a trial recorded (its ``fold_scores`` attribute)."""
    scores = trial.user_attrs.get("fold_scores")
    return [float(s) for s in scores] if isinstance(scores, list) else []


def comparable_trials(
    trials: Sequence[FrozenTrial], best: FrozenTrial
) -> list[tuple[int, float, list[float]]]:
    """``(number, value, fold_scores)`` of the COMPLETE trials other than ``best``."""
    return [
        (t.number, float(t.value), fold_scores(t))
        for t in trials
        if t.state.name == "COMPLETE" and t.value is not None and t.number != best.number
    ]


def selected_trial(
    best: FrozenTrial,
    trials: Sequence[FrozenTrial],
    config_of: Callable[[FrozenTrial], dict[str, Any]],
    prefer: Preference | None,
) -> FrozenTrial:
    """The trial the final evaluation uses: the best, or the preferred among the tied
    (``config_of`` gives a trial's config, where the preferred parameter is read)."""
    if prefer is None:
        return best
    by_number = {t.number: t for t in trials}
    tied = tied_with(fold_scores(best), comparable_trials(trials, best))
    candidates = [best] + [by_number[tie.number] for tie in tied]

    def key(trial: FrozenTrial) -> Any:
        return (*prefer.key(config_of(trial)), trial.number != best.number)

    return min(candidates, key=key)
