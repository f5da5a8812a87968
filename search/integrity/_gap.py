"""The generalization gap: how far the sealed test score lies from the validation estimate.

A positive gap means the test result is worse than validation promised (the search's best is
partly its luckiest). It is flagged when it lies beyond twice its expected noise, the root sum
of squares of two standard errors: the validation mean's (Nadeau–Bengio corrected fold
variance) and the test score's (a seeded bootstrap over test rows).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from search.integrity._ties import correction

if TYPE_CHECKING:
    import numpy as np

    from objectives import Metric

BOOTSTRAP = 500
FLAG_AT = 2.0


def test_standard_error(
    metric: Metric, y: np.ndarray, predicted: np.ndarray, classes: Sequence[Any], seed: int
) -> float | None:
    """Bootstrap standard error of ``metric`` over the test rows (``None`` if it cannot vary)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n = len(y)
    values = []
    for _ in range(BOOTSTRAP):
        idx = rng.integers(0, n, n)
        try:
            value = metric.score_predictions(y[idx], predicted[idx], classes)
        except ValueError:  # e.g. ROC AUC on a resample with one class
            continue
        if math.isfinite(value):
            values.append(value)
    return statistics.stdev(values) if len(values) > 1 else None


def generalization_gap(
    *,
    direction: str,
    validation_value: float,
    fold_scores: Sequence[float],
    test_value: float,
    test_se: float | None,
) -> dict[str, Any]:
    """The gap (positive: test worse than validation), its expected noise and the flag."""
    gap = (
        validation_value - test_value if direction == "maximize" else test_value - validation_value
    )
    k = len(fold_scores)
    val_se = math.sqrt(correction(k) * statistics.variance(fold_scores)) if k >= 2 else None
    parts = [se for se in (val_se, test_se) if se is not None]
    noise = math.sqrt(sum(se * se for se in parts)) if parts else None
    flagged = noise is not None and noise > 0 and abs(gap) > FLAG_AT * noise
    if noise is None:
        note = "no noise estimate (no fold scores and no test bootstrap)"
    elif flagged:
        side = "worse" if gap > 0 else "better"
        note = (
            f"test is {side} than validation by {abs(gap) / noise:.1f} times the expected "
            "noise: look for a leak, a shift between parts, or an over-tuned search"
        )
    else:
        note = "within the expected noise"
    return {
        "validation": validation_value,
        "test": test_value,
        "gap": gap,
        "validation_se": val_se,
        "test_se": test_se,
        "expected_noise": noise,
        "flagged": flagged,
        "note": note,
    }
