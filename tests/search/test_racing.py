"""The racing fold pruner: a clearly worse config stops, a tied one runs all its folds."""

from __future__ import annotations

import json

import optuna
import pytest

from search.integrity._racing import RacingPruner, behind_best, fold_scores_from_means
from tests.conftest import run_cli

BEST = [0.95, 0.97, 0.93, 0.96, 0.94]


def running_means(scores):
    return {step: sum(scores[: step + 1]) / (step + 1) for step in range(len(scores))}


def study_with_best(direction="maximize", best=BEST):
    study = optuna.create_study(direction=direction, pruner=RacingPruner())
    study.add_trial(optuna.trial.create_trial(
        value=sum(best) / len(best), intermediate_values=running_means(best),
        distributions={}, params={},
    ))
    return study


def pruned_after(study, scores):
    trial = study.ask()
    for step, mean in running_means(scores).items():
        trial.report(mean, step)
    return trial.should_prune()


def test_fold_scores_come_back_from_their_running_means():
    assert fold_scores_from_means(running_means(BEST)) == pytest.approx(BEST)
    assert fold_scores_from_means({0: 0.5, 2: 0.6}) == []  # a gap: not folds


def test_a_clearly_worse_config_is_pruned_after_two_folds():
    assert pruned_after(study_with_best(), [0.60, 0.63])


def test_a_config_tied_with_the_best_is_kept_on_every_fold():
    study = study_with_best()
    for folds in range(2, 5):
        assert not pruned_after(study, [0.96, 0.95, 0.94, 0.95][:folds])


def test_one_fold_is_never_enough_and_better_is_never_pruned():
    assert not pruned_after(study_with_best(), [0.10])
    assert not pruned_after(study_with_best(), [0.99, 0.99, 0.98])


def test_minimizing_prunes_the_larger_losses():
    study = study_with_best("minimize", best=[0.2, 0.21, 0.19, 0.2, 0.22])
    assert pruned_after(study, [0.9, 0.95])
    assert not pruned_after(study, [0.1, 0.12])


def test_the_test_uses_the_corrected_variance_of_the_folds_compared():
    noisy_best, behind = [0.9, 0.7, 0.95, 0.6, 0.85], [0.85, 0.68]
    assert not behind_best(behind, noisy_best, folds=5, maximize=True)
    assert behind_best([0.5, 0.3], noisy_best, folds=5, maximize=True)


def test_a_bad_alpha_names_itself():
    with pytest.raises(ValueError, match="alpha"):
        RacingPruner(alpha=1.5)


def test_the_demo_no_longer_prunes_nearly_every_trial(tmp_path):
    from pathlib import Path

    demo = Path(__file__).resolve().parents[2] / "examples" / "breast_cancer.py"
    result = run_cli(demo, "--results", tmp_path, "--no-tracking", "--no-final", "--trials",
                     "12", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    record = json.loads((tmp_path / "breast_cancer" / "study.json").read_text())
    assert record["pruner"] == "auto"
    import csv

    with open(tmp_path / "breast_cancer" / "trials.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    complete = [r for r in rows if r["state"] == "COMPLETE"]
    assert len(rows) == 12 and len(complete) >= 6  # the median pruner kept 1 in 3 of 30
