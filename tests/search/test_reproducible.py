"""Reproducible parallel search: a seed gives the same trials whatever the trials' durations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli, stored_trials

# trial times vary at random (the system's entropy, not the seed), as real ones do; pruning
# answers and TPE's constant liar see other trials, so a drift would show in configs and states
STUDY = """
import random, time
import optuna
from search import Study
from spaces import Float, Space

def objective(config, trial):
    for step in range(4):
        time.sleep(random.SystemRandom().uniform(0.0, 0.03))
        trial.report((config["x"] - 0.3) ** 2 + step * config["y"], step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return (config["x"] - 0.3) ** 2 + config["y"]

study = Study(name="par", space=Space({"x": Float(0, 1), "y": Float(0, 1)}),
              objective=objective, direction="minimize", trials=40, seed=5, workers=3,
              sampler="tpe", pruner="median")
"""


def outcomes(folder: Path) -> list[tuple[Any, ...]]:
    """Each counted trial's slot, state, config and value, in slot order."""
    trials = [t for t in stored_trials(folder) if "search:abandoned" not in t.system_attrs]
    return sorted((t.system_attrs["search:slot"], t.state.name, t.params["x"], t.params["y"],
                   t.value) for t in trials)


def test_a_seeded_three_worker_run_gives_the_same_trials_twice(write_study, tmp_path):
    path = write_study(STUDY)
    runs = []
    for name in ("one", "two"):
        done = run_cli(path, "--results", tmp_path / name, "--no-tracking", "--no-final",
                       cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        runs.append(outcomes(tmp_path / name / "par"))
    assert runs[0] == runs[1]
    assert len(runs[0]) == 40 and {"COMPLETE", "PRUNED"} <= {r[1] for r in runs[0]}
    record = json.loads((tmp_path / "one" / "par" / "study.json").read_text())
    assert record["reproducible"]["reproducible"] is True
    assert (record["reproducible"]["seed"], record["reproducible"]["lag"]) == (5, 4)


def test_no_reproducible_is_recorded_with_why(write_study, tmp_path):
    path = write_study(STUDY.replace("trials=40", "trials=4"))
    done = run_cli(path, "--results", tmp_path, "--no-tracking", "--no-final",
                   "--no-reproducible", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / "par" / "study.json").read_text())
    assert record["reproducible"] == {"reproducible": False, "why": "--no-reproducible"}


# --- what a trial sees ----------------------------------------------------------------------


def _trial(number: int, state: str, slot: int | None, value: float | None = 1.0) -> Any:
    from optuna.distributions import FloatDistribution
    from optuna.trial import TrialState, create_trial

    trial = create_trial(state=TrialState[state], value=value if state == "COMPLETE" else None,
                         params={"x": 0.5}, distributions={"x": FloatDistribution(0, 1)},
                         system_attrs={} if slot is None else {"search:slot": slot})
    trial.number = number
    return trial


def test_a_slot_sees_old_slots_as_they_ended_recent_ones_as_running_and_no_later_one():
    from search.core._reproducible import as_seen_from

    trials = [
        _trial(0, "COMPLETE", None),  # from a run before: seen as it is
        _trial(1, "COMPLETE", 0),
        _trial(2, "FAIL", 1),
        _trial(3, "COMPLETE", 2),  # within the lag: its config, no value
        _trial(4, "RUNNING", 3),
        _trial(5, "RUNNING", 4),  # the slot itself
        _trial(6, "RUNNING", 5),  # drawn later: not seen
    ]
    trials[2].system_attrs["search:abandoned"] = True  # a killed run's: its slot runs again
    seen = as_seen_from(trials, slot=4, lag=2)
    assert [(t.number, t.state.name, t.value) for t in seen] == [
        (0, "COMPLETE", 1.0), (1, "COMPLETE", 1.0), (3, "RUNNING", None),
        (4, "RUNNING", None), (5, "RUNNING", None),
    ]
    assert trials[3].state.name == "COMPLETE" and trials[3].value == 1.0  # the store's own


@pytest.mark.parametrize("workers, lag", [(1, 0), (4, 6)])
def test_the_lag_is_twice_the_other_workers_and_a_resumed_run_keeps_its_own(workers, lag):
    from search.core._reproducible import reproducible_for

    settings, _ = reproducible_for("tpe", False, 7, workers, True, None)
    assert settings is not None and settings.lag == lag
    kept, _ = reproducible_for("tpe", False, 7, 16, True, {"reproducible": True, "lag": lag})
    assert kept is not None and kept.lag == lag
    obj, why = reproducible_for(object(), False, 7, workers, True, None)
    assert obj is None and "sampler object" in why
