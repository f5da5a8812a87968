"""Population Based Training through the real command, on a problem whose best learning rate
changes during training (it rises with the accuracy reached): a population's segments chain
through checkpoints, only the members count toward ``--trials``, and PBT reaches a better
final accuracy than random search and successive halving given at least as many steps."""

from __future__ import annotations

import statistics

import pytest

from tests.conftest import run_cli, stored_trials

STEPS = 60

STUDY = """
import math, random
from objectives import Pruned
from search import Study
from search.core._pbt import PBT
from spaces import Float, Space

def best_lr(acc):
    return 0.001 * 10 ** min(acc / 40.0, 1.0)  # 0.001 at the start, 0.01 from accuracy 40 on

def objective(config, trial):
    state = trial.last_checkpoint() or {{"acc": 0.0, "step": 0}}
    acc, step = state["acc"], state["step"]
    rng = random.Random(trial.number * 1000 + step)
    while step < {steps}:
        step += 1
        miss = abs(math.log(config["lr"] / best_lr(acc)))
        acc += math.exp(-2.0 * miss) * (0.5 + rng.random())
        trial.report(acc, step)
        if step % 5 == 0:
            trial.checkpoint({{"acc": acc, "step": step}}, step=step)
        if step < {steps} and trial.should_prune():
            raise Pruned()
    return acc

study = Study(name="pbt", space=Space({{"lr": Float(1e-4, 0.05, log=True)}}), objective=objective,
              direction="maximize", trials=8, workers=2, seed={seed}, sampler="random",
              pruner=PBT(perturbation_interval=5, seed={seed},
                         hyperparam_mutations={{"lr": Float(1e-4, 0.05, log=True)}}))
"""


def _run(tmp_path, seed: int, *flags: str) -> list:
    folder = tmp_path / f"s{seed}{''.join(flags)}".replace("-", "")
    folder.mkdir()
    study = folder / "study.py"
    study.write_text(STUDY.format(steps=STEPS, seed=seed))
    done = run_cli(study, "--no-tracking", "--no-final", *flags, cwd=folder)
    assert done.returncode == 0, done.stderr
    return stored_trials(folder / "results" / "pbt")


def _steps(trials: list) -> int:
    """Training steps run: each trial's steps past the one it started from."""
    return sum((t.last_step or 0) - (t.user_attrs.get("pbt") or {}).get("from_step", 0)
               for t in trials)


def _best(trials: list) -> float:
    return max(t.value for t in trials if t.state.name == "COMPLETE")


def test_a_population_trains_in_segments_that_chain_through_checkpoints(tmp_path):
    trials = _run(tmp_path, 0)
    members = [t for t in trials if t.user_attrs["pbt"]["segment"] == 0]
    assert len(members) == 8  # --trials counts the members, not their segments
    assert {t.state.name for t in trials} == {"COMPLETE"}
    by_number = {t.number: t for t in trials}
    for member in members:
        chain = sorted((t for t in trials if t.user_attrs["pbt"]["member"] == member.number),
                       key=lambda t: t.user_attrs["pbt"]["segment"])
        assert [t.user_attrs["pbt"]["segment"] for t in chain] == list(range(len(chain)))
        assert chain[-1].last_step == STEPS  # every member trained to the end
        for previous, segment in zip(chain, chain[1:], strict=False):
            place = segment.user_attrs["pbt"]
            parent = by_number[place["parent"]]
            assert place["from_step"] == parent.last_step  # the checkpoint at its end
            assert segment.user_attrs["restore_from"] == parent.number
            assert min(segment.intermediate_values) == place["from_step"] + 1
            assert segment.value == segment.intermediate_values[max(segment.intermediate_values)]
            if not place["exploited"]:
                assert parent.number == previous.number and segment.params == previous.params
    exploited = [t for t in trials if t.user_attrs["pbt"]["exploited"]]
    assert exploited, "no member copied a better one in 12 perturbations"


@pytest.mark.slow
def test_pbt_beats_random_search_and_successive_halving_at_equal_steps(tmp_path):
    found: dict[str, list[float]] = {"pbt": [], "random": [], "sha": []}
    for seed in range(3):
        pbt = _run(tmp_path, seed)
        random_search = _run(tmp_path, seed, "--pruner", "none", "--trials", "10")
        halving = _run(tmp_path, seed, "--pruner", "successive_halving", "--trials", "150",
                       "--workers", "1")  # one worker: its pruning, and so its steps, repeat
        assert _steps(random_search) >= _steps(pbt) and _steps(halving) >= _steps(pbt)
        found["pbt"].append(_best(pbt))
        found["random"].append(_best(random_search))
        found["sha"].append(_best(halving))
    means = {name: statistics.mean(values) for name, values in found.items()}
    assert means["pbt"] > means["random"] and means["pbt"] > means["sha"], found


DATA_STUDY = """
import numpy as np
from sklearn.linear_model import SGDClassifier
from objectives import FunctionObjective, Pruned
from search import Data, PBT, Study
from spaces import Float, Space

def evaluate(config, data, trial):
    state = trial.last_checkpoint()
    model = state or SGDClassifier(alpha=config["alpha"], random_state=0)
    model.set_params(alpha=config["alpha"])
    half = len(data.y) // 2
    start = (trial.last_checkpoint_step or 0)
    for step in range(start + 1, 13):
        model.partial_fit(data.X[:half], data.y[:half], classes=np.unique(data.y))
        score = model.score(data.X[half:], data.y[half:])
        trial.report(score, step)
        if step % 3 == 0:
            trial.checkpoint(model, step=step)
        if step < 12 and trial.should_prune():
            raise Pruned()
    return score

def fit(config, data):
    return SGDClassifier(alpha=config["alpha"], random_state=0).fit(data.X, data.y)

study = Study(name="pbt_data", data=Data("iris"), metric="accuracy", trials=4, workers=2,
              space=Space({"alpha": Float(1e-5, 1e-1, log=True)}), seed=0, sampler="random",
              objective=FunctionObjective(evaluate, fit=fit),
              pruner=PBT(perturbation_interval=3, seed=0,
                         hyperparam_mutations={"alpha": Float(1e-5, 1e-1, log=True)}))
"""


def test_the_final_evaluation_says_what_it_refits_under_pbt(tmp_path):
    import json

    (tmp_path / "study.py").write_text(DATA_STUDY)
    done = run_cli("study.py", "--no-tracking", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    final = json.loads((tmp_path / "results" / "pbt_data" / "final.json").read_text())
    schedule = final["pbt"]["schedule"]
    assert final["pbt"]["evaluated"].startswith("the winning member's last hyperparameters")
    assert schedule[-1]["trial"] == final["trial"] and schedule[0]["from_step"] == 0
    assert [s["from_step"] for s in schedule[1:]] == [s["to_step"] for s in schedule[:-1]]
    assert final["params"] == schedule[-1]["params"]
    trials = stored_trials(tmp_path / "results" / "pbt_data")
    assert "search:segment_ended" not in trials[final["trial"]].system_attrs  # a trained member


def test_a_killed_pbt_run_resumes_every_member(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    source = STUDY.format(steps=STEPS, seed=0).replace(
        "        step += 1\n", "        step += 1\n        __import__('time').sleep(0.02)\n")
    (tmp_path / "study.py").write_text(source)
    folder = tmp_path / "results" / "pbt"
    driver = subprocess.Popen([sys.executable, "-m", "search", "study.py", "--no-tracking"],
                              cwd=tmp_path, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # some members are a few segments in
            if (folder / "study.journal").exists() and len(stored_trials(folder)) >= 20:
                break
            time.sleep(0.1)
        os.killpg(driver.pid, signal.SIGKILL)
    finally:
        driver.wait(timeout=30)
    assert len(stored_trials(folder)) < 8 * STEPS // 5  # killed before the end
    resumed = run_cli("study.py", "--no-tracking", "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    trials = stored_trials(folder)
    last = {}
    for t in trials:
        if t.state.name == "COMPLETE":
            last[t.user_attrs["pbt"]["member"]] = t
    assert len(last) == 8 and all(t.last_step == STEPS for t in last.values())
    kept = [t for t in trials if "search:abandoned" not in t.system_attrs]
    assert sum(t.user_attrs["pbt"]["segment"] == 0 for t in kept) == 8
    for member in last:  # each member's segments once each, none run twice after the resume
        segments = sorted(t.user_attrs["pbt"]["segment"] for t in kept
                          if t.user_attrs["pbt"]["member"] == member)
        assert segments == list(range(len(segments)))


def test_a_pbt_setting_out_of_range_is_one_line_and_writes_nothing(tmp_path):
    (tmp_path / "study.py").write_text(STUDY.format(steps=STEPS, seed=0).replace(
        "PBT(perturbation_interval=5", "PBT(perturbation_interval=0"))
    done = run_cli("study.py", "--no-tracking", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("error: study.py:") and done.stderr.count("\n") == 1
    assert done.stderr.endswith("ValueError: PBT: perturbation_interval must be an integer >= 1, "
                                "got 0\n")
    assert not (tmp_path / "results").exists()
