"""Existing work reused: another study's finished trials join the history of a new one."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import optuna

from tests.conftest import run_cli, stored_trials

STUDY = """
from search import Study
from spaces import Float, Space

def objective(config):
    return (config["x"] - 0.3) ** 2

study = Study(name="{name}", space=Space({{"x": Float({low}, {high})}}), objective=objective,
              direction="minimize", trials={trials}, seed=0, pruner="none"{extra})
"""


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_a_results_folder_warms_a_new_study_that_counts_only_its_own_trials(
    write_study, tmp_path
):
    old = write_study(STUDY.format(name="old", low=0, high=2, trials=8, extra=""), "old.py")
    assert run_cli(old, "--results", tmp_path, "--no-tracking", cwd=tmp_path).returncode == 0
    inside = sum(t.params["x"] <= 1 for t in stored_trials(tmp_path / "old"))
    new = write_study(STUDY.format(name="new", low=0, high=1, trials=5,
                                   extra=', warm_start="old-results/old"'), "new.py")  # fmt: skip
    (tmp_path / "old-results").mkdir()
    (tmp_path / "old").rename(tmp_path / "old-results" / "old")
    result = run_cli(new, "--results", tmp_path, "--no-tracking", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (
        f"warm start: took {inside} of 8 finished trials of old-results/old "
        f"({8 - inside} skipped: their params do not fit this space)"
    ) in result.stdout
    trials = stored_trials(tmp_path / "new")
    warm = [t for t in trials if "search:warm_start" in t.system_attrs]
    own = [t for t in trials if "search:warm_start" not in t.system_attrs]
    assert len(warm) == inside and len(own) == 5  # the budget counts this study's trials
    assert all(0 <= t.params["x"] <= 1 for t in warm)
    best = json.loads((tmp_path / "new" / "best.json").read_text())
    assert best["number"] in {t.number for t in own}  # never a trial scored elsewhere
    rows = read_csv(tmp_path / "new" / "trials.csv")
    assert sum(bool(r["warm_start"]) for r in rows) == inside


def test_an_optuna_storage_url_and_study_name_warm_a_study(write_study, tmp_path):
    db = tmp_path / "optuna.db"
    source = optuna.create_study(study_name="theirs", storage=f"sqlite:///{db}")
    source.optimize(lambda t: (t.suggest_float("x", 0, 1) - 0.3) ** 2, n_trials=4)
    before = db.read_bytes()
    extra = f', warm_start=("sqlite:///{db}", "theirs")'
    path = write_study(STUDY.format(name="mine", low=0, high=1, trials=3, extra=extra))
    result = run_cli(path, "--results", tmp_path, "--no-tracking", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"warm start: took 4 of 4 finished trials of sqlite:///{db} (theirs)" in result.stdout
    assert len(stored_trials(tmp_path / "mine")) == 7
    assert db.read_bytes() == before  # the source is only read


def test_a_bad_warm_start_or_a_dropped_journal_is_one_line(write_study, tmp_path):
    path = write_study(STUDY.format(name="w", low=0, high=1, trials=2,
                                    extra=', warm_start="nowhere"'))  # fmt: skip
    result = run_cli(path, "--results", tmp_path / "out", cwd=tmp_path)
    assert result.returncode == 2 and "warm_start:" in result.stderr
    assert result.stderr.count("\n") == 1 and not (tmp_path / "out").exists()

    other = tmp_path / "elsewhere"
    optuna.create_study(study_name="x", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(other))))  # fmt: skip
    (tmp_path / "out" / "w").mkdir(parents=True)
    (tmp_path / "out" / "w" / "study.journal").write_bytes(other.read_bytes())
    plain = write_study(STUDY.format(name="w", low=0, high=1, trials=2, extra=""), "plain.py")
    dropped = run_cli(plain, "--results", tmp_path / "out", cwd=tmp_path)
    assert dropped.returncode == 2 and dropped.stderr.count("\n") == 1, dropped.stderr
    assert "a study store without study.json" in dropped.stderr
    assert sorted(p.name for p in (tmp_path / "out" / "w").iterdir()) == ["study.journal"]


def test_a_budget_within_the_random_start_up_is_said_aloud(write_study, tmp_path):
    path = write_study(STUDY.format(name="small", low=0, high=1, trials=5, extra=""))
    result = run_cli(path, "--results", tmp_path, "--no-tracking", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (
        "search: 5 trials do not exceed GP's 10 random start-up trials, so this search "
        "samples at random"
    ) in result.stdout
    quiet = run_cli(path, "--results", tmp_path / "r", "--sampler", "random", cwd=tmp_path)
    assert "random start-up" not in quiet.stdout
