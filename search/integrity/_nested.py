"""Nested cross-validation: an outer loop around the whole search, for an honest estimate.

The best validation score of a search is optimistic: it is the maximum of many noisy
estimates (Cawley & Talbot 2010). Nested CV repeats the *whole* tuned procedure — search on the
outer training part, refit the winner there, score it on the held-out outer fold — so the
outer scores estimate how well the tuning procedure generalises. It runs on the development
data only; the sealed test stays untouched. How a search runs and how a model is fitted and
scored are the engine's business: this module is handed both and keeps the statistics.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from search.integrity._ties import corrected_interval

if TYPE_CHECKING:
    import numpy as np

    from objectives import DevData


@dataclass(frozen=True)
class InnerBest:
    """The best config an inner search found: its trial number, value and config."""

    number: int
    value: float
    config: dict[str, Any]


#: search the given rows of the development data; the best found (``index``: the outer fold)
InnerSearch = Callable[["np.ndarray", int], InnerBest]
#: fit a config on the first rows and score it on the second
FitScore = Callable[[dict[str, Any], "np.ndarray", "np.ndarray"], float]


def nested_cv(
    dev: DevData,
    k: int,
    seed: int,
    *,
    metric: str,
    direction: str,
    search: InnerSearch,
    fit_score: FitScore,
    on_fold: Callable[[dict[str, Any]], None] = lambda fold: None,
) -> dict[str, Any]:
    """Run ``k`` outer folds of the whole search; return what ``nested.json`` holds."""
    from objectives import cv_splitter

    folds: list[dict[str, Any]] = []
    splits = list(cv_splitter(dev, k, seed).split(dev.X, dev.y, dev.groups))
    for index, (train, held_out) in enumerate(splits):
        best = search(train, index)
        fold = {
            "fold": index,
            "train_rows": len(train),
            "held_out_rows": len(held_out),
            "inner_best": best.value,
            "inner_trial": best.number,
            "config": best.config,
            "outer_score": fit_score(best.config, train, held_out),
        }
        folds.append(fold)
        on_fold({**fold, "k": k, "metric": metric})
    return summary(folds, k=k, metric=metric, direction=direction)


def summary(folds: list[dict[str, Any]], *, k: int, metric: str, direction: str) -> dict[str, Any]:
    """The outer estimate, the inner bests' mean and the optimism between them."""
    outer = [float(f["outer_score"]) for f in folds]
    inner = [float(f["inner_best"]) for f in folds]
    return {
        "k": k,
        "metric": metric,
        "direction": direction,
        "folds": folds,
        "outer_mean": statistics.fmean(outer),
        "outer_std": statistics.stdev(outer) if len(outer) > 1 else 0.0,
        "outer_interval_95": corrected_interval(outer),
        "inner_best_mean": statistics.fmean(inner),
        "optimism": optimism(direction, inner, outer),
    }


def optimism(direction: str, inner: list[float], outer: list[float]) -> float:
    """How much the inner best overstates the held-out score, on average (positive: optimistic)."""
    diff = statistics.fmean(inner) - statistics.fmean(outer)
    return diff if direction == "maximize" else -diff
