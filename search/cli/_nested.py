"""``--nested K``: the whole search again inside each outer fold, on the run's own workers.

Each inner search is an in-memory Optuna study run by the engine on the development rows of
its outer fold; the winner is fitted there and scored on the held-out rows by a worker. The
statistics are :mod:`search.integrity._nested`'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.core._channel import FitScore
from search.core._engine import Budget, Engine
from search.core._errors import RunError, UserError
from search.core._folder import NESTED_JSON, write_json
from search.core._pool import WorkerPool
from search.core._prepare import steps_of
from search.core._record import update_record
from search.core._strategies import make_pruner
from search.core._trials import best_trial
from search.integrity._nested import InnerBest, nested_cv

if TYPE_CHECKING:
    import numpy as np

    from search.core._prepare import Prepared

#: the fields of nested.json that study.json repeats
SUMMARY = ("k", "outer_mean", "outer_std", "outer_interval_95", "inner_best_mean", "optimism")


def run_nested(
    prep: Prepared, k: int, directory: Path, pool: WorkerPool, *, retries: int
) -> dict[str, Any]:
    """Run the nested estimate, write ``nested.json`` and return it."""
    parts, study = prep.parts, prep.study
    if prep.split is None or parts.metric is None:
        raise UserError("nested: nested cross-validation needs a study with data and a metric")

    def search(rows: np.ndarray, index: int) -> InnerBest:
        import optuna

        opt = optuna.create_study(
            direction=parts.direction,  # type: ignore[arg-type]
            sampler=prep.make_sampler(prep.seed + 1 + index),
            pruner=make_pruner(study.pruner, steps_of(parts)),
        )
        defaults = parts.space.default_params()
        if defaults:
            opt.enqueue_trial(defaults)
        Engine(opt, parts.space, pool, Budget(trials=study.trials), retries=retries,
               rows=rows).run()
        best = best_trial(opt.get_trials(deepcopy=False), parts.direction)
        if best is None:
            raise UserError(f"nested: no trial completed in outer fold {index}")
        config = parts.space.config_from_params(best.params)
        return InnerBest(best.number, float(best.value), config)  # type: ignore[arg-type]

    def fit_score(config: dict[str, Any], train: np.ndarray, held: np.ndarray) -> float:
        scored = pool.call(FitScore(config, train, held), retries)
        if scored.error is not None or scored.score is None:
            raise RunError(f"nested: fitting an outer fold's winner failed: {scored.error}")
        return scored.score

    record = nested_cv(
        prep.split.dev, k, prep.seed, metric=parts.metric.name, direction=parts.direction,
        search=search, fit_score=fit_score, on_fold=_print_fold,
    )
    record["trials_per_search"] = study.trials
    write_json(directory / NESTED_JSON, record)
    update_record(directory, nested={key: record[key] for key in SUMMARY})
    return record


def _print_fold(fold: dict[str, Any]) -> None:
    print(
        f"nested: outer fold {fold['fold'] + 1}/{fold['k']}: inner best {fold['metric']} "
        f"{fold['inner_best']:.6g} (trial {fold['inner_trial']}), held-out "
        f"{fold['outer_score']:.6g}",
        flush=True,
    )
