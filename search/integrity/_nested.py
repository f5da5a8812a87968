"""Nested cross-validation: an outer loop around the whole search, for an honest estimate.

The best validation score of a search is optimistic: it is the maximum of many noisy
estimates (Cawley & Talbot 2010). Nested CV repeats the *whole* tuned procedure — search on the
outer training part, refit the winner there, score it on the held-out outer fold — so the
outer scores estimate how well the tuning procedure generalises. It runs on the development
data only; the sealed test stays untouched. Inner searches use an in-memory Optuna store.
"""

from __future__ import annotations

import statistics
import sys
from typing import TYPE_CHECKING, Any

from search.backends._local import Budget, trial_loop
from search.core._errors import UserError
from search.core._folder import NESTED_JSON, write_json
from search.core._trial import TrialTask
from search.core._trials import best_trial
from search.integrity._ties import corrected_interval

if TYPE_CHECKING:
    from pathlib import Path

    from search.core._prepare import Prepared


def nested_cv(prep: Prepared, k: int, directory: Path) -> dict[str, Any]:
    """Run ``k`` outer folds of the whole search; write and return ``nested.json``."""
    import optuna

    from objectives import cv_splitter
    from search.core._strategies import make_pruner, make_sampler

    parts, study = prep.parts, prep.study
    if prep.split is None or parts.metric is None:
        raise UserError("nested: nested cross-validation needs a study with data and a metric")
    if not parts.objective.can_fit_final:
        raise UserError("nested: the objective cannot fit a model on a training part")
    dev, metric = prep.split.dev, parts.metric
    splits = list(cv_splitter(dev, k, prep.seed).split(dev.X, dev.y, dev.groups))
    folds: list[dict[str, Any]] = []
    for index, (train, held_out) in enumerate(splits):
        inner = dev.subset(train)
        outer = dev.subset(held_out)
        opt = optuna.create_study(
            direction=parts.direction,  # type: ignore[arg-type]
            sampler=make_sampler(study.sampler, parts.space, prep.seed + 1 + index),
            pruner=make_pruner(study.pruner),
        )
        defaults = parts.space.default_params()
        if defaults:
            opt.enqueue_trial(defaults)
        task = TrialTask(
            space=parts.space, objective=parts.objective, data=inner, metric=metric, seed=prep.seed
        )
        trial_loop(opt, task, Budget(trials=study.trials), lock_dir=None)
        best = best_trial(opt.get_trials(deepcopy=False), parts.direction)
        if best is None:
            raise UserError(f"nested: no trial completed in outer fold {index}")
        config = parts.space.config_from_params(best.params)
        model = parts.objective.fit_final(config, inner, prep.seed)
        score = metric.score(model, outer.X, outer.y, classes=dev.classes)
        folds.append(
            {
                "fold": index,
                "train_rows": len(inner),
                "held_out_rows": len(outer),
                "inner_best": best.value,
                "inner_trial": best.number,
                "config": config,
                "outer_score": score,
            }
        )
        print(
            f"nested: outer fold {index + 1}/{k}: inner best {metric.name} {best.value:.6g} "
            f"(trial {best.number}), held-out {score:.6g}",
            file=sys.stdout,
            flush=True,
        )
    outer_scores = [float(f["outer_score"]) for f in folds]
    inner_scores = [float(f["inner_best"]) for f in folds]
    record = {
        "k": k,
        "metric": metric.name,
        "direction": parts.direction,
        "trials_per_search": study.trials,
        "folds": folds,
        "outer_mean": statistics.fmean(outer_scores),
        "outer_std": statistics.stdev(outer_scores) if k > 1 else 0.0,
        "outer_interval_95": corrected_interval(outer_scores),
        "inner_best_mean": statistics.fmean(inner_scores),
        "optimism": _optimism(parts.direction, inner_scores, outer_scores),
    }
    write_json(directory / NESTED_JSON, record)
    return record


def _optimism(direction: str, inner: list[float], outer: list[float]) -> float:
    """How much the inner best overstates the held-out score, on average (positive: optimistic)."""
    diff = statistics.fmean(inner) - statistics.fmean(outer)
    return diff if direction == "maximize" else -diff
