"""Researchers' Optuna scripts run unchanged under ``python -m search``: the script runs as
``__main__``, its ``create_study``/``enqueue_trial``/``optimize`` are answered by the engine,
and what it does after ``optimize`` sees the real results. Each script here is in a shape
researchers write; where the outcome can be compared, the same script also runs under plain
Optuna (``python script.py``) and the two must agree."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import run_cli, stored_trials


def write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def printed(stdout: str, tag: str) -> object:
    """The JSON a script printed after ``tag``."""
    line = next(line for line in stdout.splitlines() if line.startswith(tag + " "))
    return json.loads(line[len(tag) + 1:])


def plain_optuna(script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The script as its author runs it: ``python script.py``."""
    return subprocess.run([sys.executable, str(script), *args], cwd=script.parent,
                          capture_output=True, text=True, timeout=300)


# --- the same script, plain Optuna and the framework, trial for trial -------------------------

PRUNING = """
    import json
    import optuna

    class StoppedEarly(optuna.TrialPruned):  # integrations raise subclasses too
        pass

    def objective(trial):
        x = trial.suggest_float("x", -10, 10)
        kind = trial.suggest_categorical("kind", ["a", "b"])
        for step in range(8):
            value = (x - 2) ** 2 + 0.1 * step + (0 if kind == "a" else 1)
            trial.report(value, step)
            if trial.should_prune():
                raise StoppedEarly() if kind == "b" else optuna.TrialPruned()
        return value

    if __name__ == "__main__":
        study = optuna.create_study(
            sampler=optuna.samplers.TPESampler(seed=1),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1))
        study.optimize(objective, n_trials=20)
        print("STATES", json.dumps([t.state.name for t in study.trials]))
        print("VALUES", json.dumps([t.value for t in study.trials]))
        print("PARAMS", json.dumps([t.params for t in study.trials]))
"""


@pytest.mark.parametrize("backend", ["local", "ray"])
def test_a_pruning_script_gives_plain_optunas_trials_state_for_state(tmp_path, backend):
    if backend == "ray":
        pytest.importorskip("ray")
    script = write(tmp_path, "pruning.py", PRUNING)
    plain = plain_optuna(script)
    assert plain.returncode == 0, plain.stderr
    ours = run_cli(script, "--no-tracking", "--results", tmp_path / "out", "--backend", backend,
                   cwd=tmp_path)
    assert ours.returncode == 0, ours.stderr
    states = printed(ours.stdout, "STATES")
    assert "PRUNED" in states and "FAIL" not in states  # TrialPruned and its subclass: PRUNED
    for tag in ("STATES", "VALUES", "PARAMS"):  # the script's seeded sampler, one worker
        assert printed(ours.stdout, tag) == printed(plain.stdout, tag), tag
    rows = read_csv(tmp_path / "out" / "pruning" / "trials.csv")  # named after the file
    assert [r["state"] for r in rows] == states
    pruned = [r for r in rows if r["state"] == "PRUNED"]
    assert all(r["value"] != "" for r in pruned)  # the last reported value, as Optuna keeps it


# --- the script's __main__: enqueue, add, attributes, callbacks, stop, what it prints after ----

MAIN = """
    import json
    import optuna
    from optuna.distributions import FloatDistribution

    def objective(trial):
        x = trial.suggest_float("x", 0, 10)
        trial.set_user_attr("double", 2 * x)
        trial.set_user_attr("note", {"x": round(x, 3)})
        return (x - 3) ** 2

    seen = []

    def stop_after_four(study, trial):  # a callback, in the driver, after each trial
        seen.append(trial.number)
        if len(seen) == 4:
            study.stop()

    if __name__ == "__main__":
        study = optuna.create_study(study_name="tuned", direction="minimize")
        study.set_user_attr("owner", "me")
        study.add_trial(optuna.trial.create_trial(
            params={"x": 9.0}, distributions={"x": FloatDistribution(0, 10)}, value=36.0))
        study.enqueue_trial({"x": 3.0}, user_attrs={"why": "a hunch"})
        study.optimize(objective, n_trials=10, callbacks=[stop_after_four])
        print("SEEN", json.dumps(seen))
        print("FIRST", json.dumps(study.trials[1].params))
        print("BEST", json.dumps([study.best_trial.number, study.best_value]))
        print("FRAME", json.dumps(list(study.trials_dataframe().shape)))
        print("ATTRS", json.dumps(study.user_attrs))
"""


def test_the_scripts_main_runs_with_its_enqueued_trials_callbacks_and_prints(tmp_path):
    script = write(tmp_path, "main.py", MAIN)
    result = run_cli(script, "--no-tracking", "--results", tmp_path / "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert printed(result.stdout, "SEEN") == [1, 2, 3, 4]  # study.stop() after four trials
    assert printed(result.stdout, "FIRST") == {"x": 3.0}  # the enqueued config ran first
    assert printed(result.stdout, "BEST") == [1, 0.0]
    assert printed(result.stdout, "FRAME")[0] == 5  # the added trial and four run
    assert printed(result.stdout, "ATTRS") == {"owner": "me"}
    assert "search: main.py runs study 'tuned'" in result.stdout
    folder = tmp_path / "out" / "tuned"  # the study's own name
    trials = stored_trials(folder)
    assert [t.state.name for t in trials] == ["COMPLETE"] * 5
    assert trials[1].user_attrs["why"] == "a hunch"
    rows = read_csv(folder / "trials.csv")
    assert float(rows[2]["user_attrs_double"]) == 2 * float(rows[2]["params_x"])
    assert json.loads(rows[2]["user_attrs_note"]) == {"x": round(float(rows[2]["params_x"]), 3)}
    record = json.loads((folder / "study.json").read_text())
    assert record["optimize_calls"] == [11] and record["study_file"] == str(script)


# --- notebook style: optimize at the top level, and the script's own argparse ---------------

NOTEBOOK = """
    import argparse
    import optuna

    parser = argparse.ArgumentParser()
    parser.add_argument("--offset", type=float, required=True)
    args = parser.parse_args()

    def objective(trial):
        return (trial.suggest_float("x", -5, 5) - args.offset) ** 2

    optuna.create_study().optimize(objective, n_trials=30)
    print("DONE")
"""


def test_a_top_level_optimize_and_the_scripts_own_arguments(tmp_path):
    script = write(tmp_path, "notebook.py", NOTEBOOK)
    result = run_cli(script, "--trials", "6", "--seed", "0", "--no-tracking", "--results",
                     tmp_path / "out", "--", "--offset", "2.5", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "DONE" in result.stdout
    assert "6 trials (--trials)" in result.stdout  # the flag won over n_trials=30, and says so
    assert len(stored_trials(tmp_path / "out" / "notebook")) == 6
    missing = run_cli(script, "--results", tmp_path / "out2", cwd=tmp_path)  # its parser's exit
    assert missing.returncode == 2 and "--offset" in missing.stderr
    assert not (tmp_path / "out2").exists()


# --- Optuna's trial, whole, in the worker -------------------------------------------------------

TRIAL_API = """
    import json
    import optuna

    def objective(trial):
        assert isinstance(trial, optuna.trial.BaseTrial)
        a = trial.suggest_uniform("a", 0.0, 1.0)
        b = trial.suggest_loguniform("b", 1e-3, 1.0)
        c = trial.suggest_discrete_uniform("c", 0.0, 1.0, 0.25)
        n = trial.suggest_int("n", 2, 10, step=2)
        assert trial.suggest_float("a", 0.0, 1.0) == a  # asked twice: the same value
        assert set(trial.params) == {"a", "b", "c", "n"} and trial.params["n"] == n
        assert trial.distributions["c"] == optuna.distributions.FloatDistribution(0, 1, step=0.25)
        assert trial.datetime_start is not None
        seen = {"number": trial.number, "name": trial.study.study_name,
                "direction": trial.study.direction.name, "owner": trial.study.user_attrs["owner"]}
        if trial.number > 0:
            seen["best"] = trial.study.best_value
        try:
            trial.study.enqueue_trial({"a": 0.5})
        except Exception as exc:
            seen["enqueue"] = str(exc)
        trial.set_user_attr("seen", seen)
        if trial.number == 2:
            trial.study.stop()  # from inside a trial, as Optuna allows
        return a + b + c + n

    if __name__ == "__main__":
        study = optuna.create_study(study_name="api", direction="maximize")
        study.set_user_attr("owner", "lab")
        study.optimize(objective, n_trials=10)
        print("COUNT", len(study.trials))
"""


def test_the_objective_gets_optunas_whole_trial_and_a_read_only_study(tmp_path):
    script = write(tmp_path, "api.py", TRIAL_API)
    result = run_cli(script, "--no-tracking", "--results", tmp_path / "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert printed(result.stdout, "COUNT") == 3  # stopped from inside trial 2
    trials = stored_trials(tmp_path / "out" / "api")
    assert [t.state.name for t in trials] == ["COMPLETE"] * 3
    seen = [t.user_attrs["seen"] for t in trials]
    assert [s["number"] for s in seen] == [0, 1, 2]
    assert all(s["name"] == "api" and s["direction"] == "MAXIMIZE" for s in seen)
    assert all(s["owner"] == "lab" for s in seen)
    assert seen[2]["best"] == max(trials[0].value, trials[1].value)  # as the driver knew it
    assert "read-only" in seen[0]["enqueue"] and "enqueue_trial" in seen[0]["enqueue"]
    assert all(t.params["c"] in (0.0, 0.25, 0.5, 0.75, 1.0) for t in trials)


# --- Optuna's ways to pass an objective ---------------------------------------------------------

CONVENTIONS = """
    import functools
    import json
    import optuna

    X = [1.0, 2.0, 3.0]

    def shifted(trial, offset):
        return (trial.suggest_float("x", -5, 5) - offset) ** 2

    def with_data(trial, data=X):
        return sum(data) * trial.suggest_float("x", 0, 1)

    def short(t):
        return t.suggest_int("k", 1, 9)

    class Objective:
        def __init__(self, scale):
            self.scale = scale

        def __call__(self, trial):
            return self.scale * trial.suggest_float("x", 0, 1)

    if __name__ == "__main__":
        for name, fn in [("partial", functools.partial(shifted, offset=3.0)),
                         ("defaults", with_data), ("short", short), ("callable", Objective(2))]:
            study = optuna.create_study(study_name=name)
            study.optimize(fn, n_trials=3)
            print("RESULT", json.dumps([name, [t.state.name for t in study.trials]]))
"""


def test_partial_defaults_any_parameter_name_and_callable_objects_get_the_trial(tmp_path):
    script = write(tmp_path, "conventions.py", CONVENTIONS)
    result = run_cli(script, "--no-tracking", "--results", tmp_path / "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line[7:]) for line in result.stdout.splitlines()
             if line.startswith("RESULT ")]
    assert lines == [[name, ["COMPLETE"] * 3] for name in
                     ("partial", "defaults", "short", "callable")]
    for name in ("partial", "defaults", "short", "callable"):  # a results folder each
        assert len(stored_trials(tmp_path / "out" / name)) == 3


# --- several objectives, Optuna's way -----------------------------------------------------------

TWO_GOALS = """
    import optuna

    def objective(trial):
        x = trial.suggest_float("x", -3, 3)
        return x ** 2, -((x - 2) ** 2)

    if __name__ == "__main__":
        study = optuna.create_study(directions=["minimize", "maximize"])
        study.set_metric_names(["loss", "gain"])
        study.optimize(objective, n_trials=8)
        print("FRONT", len(study.best_trials))
"""

TUPLE_TO_ONE = """
    import optuna

    def objective(trial):
        x = trial.suggest_float("x", -3, 3)
        return x ** 2, x

    if __name__ == "__main__":
        optuna.create_study().optimize(objective, n_trials=8)
"""


def test_a_tuple_return_with_directions_and_metric_names(tmp_path):
    script = write(tmp_path, "two_goals.py", TWO_GOALS)
    result = run_cli(script, "--no-tracking", "--results", tmp_path / "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "out" / "two_goals"
    rows = read_csv(folder / "trials.csv")
    assert len(rows) == 8 and {r["state"] for r in rows} == {"COMPLETE"}
    for row in rows:
        x = float(row["params_x"])
        assert float(row["value_loss"]) == pytest.approx(x ** 2)
        assert float(row["value_gain"]) == pytest.approx(-((x - 2) ** 2))
    best = json.loads((folder / "best.json").read_text())
    assert best["objectives"] == {"loss": "minimize", "gain": "maximize"} and best["pareto"]


def test_a_tuple_to_a_study_with_one_objective_stops_at_the_first_trial(tmp_path):
    script = write(tmp_path, "tuple.py", TUPLE_TO_ONE)
    result = run_cli(script, "--no-tracking", "--results", tmp_path / "out", cwd=tmp_path)
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert ("trial 0: the objective returned 2 values, but the study has one objective "
            "(minimize)") in result.stderr
    rows = read_csv(tmp_path / "out" / "tuple" / "trials.csv")
    assert [r["state"] for r in rows] == ["FAIL"]  # one trial, not eight
    fixed = run_cli(script, "--directions", "minimize", "maximize", "--no-tracking",
                    "--results", tmp_path / "fixed", cwd=tmp_path)
    assert fixed.returncode == 0, fixed.stderr
    rows = read_csv(tmp_path / "fixed" / "tuple" / "trials.csv")
    assert len(rows) == 8 and {"value_objective_0", "value_objective_1"} <= set(rows[0])


DECLARED = """
    from search import Study
    from spaces import Float, Space

    def evaluate(config) -> tuple[float, float]:
        return config["x"], -config["x"]

    study = Study(name="declared", space=Space({"x": Float(0, 1)}), objective=evaluate,
                  direction="minimize", trials=3)
"""


def test_a_declared_tuple_return_that_does_not_fit_is_exit_2_before_training(write_study,
                                                                            tmp_path):
    path = write_study(DECLARED)
    result = run_cli(path, "--results", tmp_path / "out", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "evaluate is declared to return 2 values, but the study has one objective" \
        in result.stderr
    assert not (tmp_path / "out").exists()
    listed = run_cli(path, "--directions", "minimize", "maximize", "--no-tracking",
                     "--results", tmp_path / "ok", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = read_csv(tmp_path / "ok" / "declared" / "trials.csv")
    assert all(float(r["value_objective_0"]) == -float(r["value_objective_1"]) for r in rows)


# --- Optuna samplers and pruners as objects, recorded and rebuilt -------------------------------

OBJECTS = """
    import optuna
    from search import Study
    from spaces import Float, Space

    def objective(config, trial):
        for step in range(3):
            trial.report(config["x"] + step, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return config["x"]

    study = Study(name="objects", space=Space({"x": Float(0, 1)}), objective=objective,
                  direction="minimize", trials=6, seed=0,
                  sampler=optuna.samplers.TPESampler(n_startup_trials=3, seed=0),
                  pruner=optuna.pruners.HyperbandPruner(min_resource=1, max_resource=3))
"""


def test_sampler_and_pruner_objects_are_used_recorded_and_rebuilt_on_resume(write_study,
                                                                           tmp_path):
    path = write_study(OBJECTS)
    first = run_cli(path, "--no-tracking", "--results", tmp_path, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    folder = tmp_path / "objects"
    record = json.loads((folder / "study.json").read_text())
    assert record["sampler"]["requested"] == "object"
    assert record["sampler"]["chosen"] == "optuna.samplers.TPESampler"
    assert record["sampler"]["arguments"]["n_startup_trials"] == 3
    assert record["pruner"]["class"] == "optuna.pruners.HyperbandPruner"
    assert record["pruner"]["arguments"]["max_resource"] == 3
    more = run_cli(path, "--resume", "--trials", "9", "--no-tracking", "--results", tmp_path,
                   cwd=tmp_path)
    assert more.returncode == 0, more.stderr
    assert len(stored_trials(folder)) == 9
    record["sampler"]["chosen"] = "optuna.samplers.CmaEsSampler"  # a class the file no longer builds
    (folder / "study.json").write_text(json.dumps(record))
    refused = run_cli(path, "--resume", "--trials", "10", "--no-tracking", "--results",
                      tmp_path, cwd=tmp_path)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert "ran with optuna.samplers.CmaEsSampler" in refused.stderr
    assert "--sampler NAME" in refused.stderr
    named = run_cli(path, "--resume", "--trials", "10", "--sampler", "random", "--no-tracking",
                    "--results", tmp_path, cwd=tmp_path)
    assert named.returncode == 0, named.stderr
    assert len(stored_trials(folder)) == 10


def test_an_object_that_is_no_optuna_sampler_is_one_line(write_study, tmp_path):
    path = write_study(OBJECTS.replace("sampler=optuna.samplers.TPESampler(n_startup_trials=3, "
                                       "seed=0)", "sampler=object()"))
    result = run_cli(path, "--results", tmp_path, cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "sampler must be one of auto, tpe" in result.stderr
    assert "or an optuna.samplers.BaseSampler object" in result.stderr


# --- a storage the script names -----------------------------------------------------------------

STORED = """
    import optuna

    def objective(trial):
        return trial.suggest_float("x", 0, 1)

    if __name__ == "__main__":
        study = optuna.create_study(study_name="kept", storage="sqlite:///old.db",
                                    load_if_exists=True)
        study.optimize(objective, n_trials=4)
"""


def test_a_storage_with_the_study_is_a_warm_start_and_a_missing_one_is_said(tmp_path):
    script = write(tmp_path, "stored.py", STORED)
    result = run_cli(script, "--no-tracking", "--results", tmp_path / "a", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert ("search: storage sqlite:///old.db holds no study 'kept' to warm-start from; the "
            "trials go to") in result.stdout
    assert not (tmp_path / "old.db").exists()  # nothing was created to find out
    assert "4 trials do not exceed TPE's 10 random start-up trials" in result.stdout
    import optuna

    old = optuna.create_study(study_name="kept", storage=f"sqlite:///{tmp_path / 'old.db'}")
    old.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=8)
    result = run_cli(script, "--no-tracking", "--results", tmp_path / "b", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "warm start: took 8 of 8 finished trials of sqlite:///old.db" in result.stdout
    assert "random start-up" not in result.stdout  # 8 taken and 4 run: TPE models from the 11th
    trials = stored_trials(tmp_path / "b" / "kept")
    assert len(trials) == 12 and sum("search:warm_start" in t.system_attrs for t in trials) == 8
    assert len(optuna.load_study(study_name="kept",
                                 storage=f"sqlite:///{tmp_path / 'old.db'}").trials) == 8


LOADED = """
    import optuna

    if __name__ == "__main__":
        study = optuna.load_study(study_name="prev", storage="sqlite:///old.db")
        study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=2)
        print("SAME", optuna.load_study(study_name="prev", storage="sqlite:///old.db") is study)
"""


def test_load_study_continues_a_stored_study_as_a_warm_start(tmp_path):
    import optuna

    old = optuna.create_study(study_name="prev", storage=f"sqlite:///{tmp_path / 'old.db'}")
    old.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    script = write(tmp_path, "loaded.py", LOADED)
    result = run_cli(script, "--no-tracking", "--results", tmp_path / "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "SAME True" in result.stdout
    assert "warm start: took 3 of 3 finished trials" in result.stdout
    trials = stored_trials(tmp_path / "out" / "prev")
    assert len(trials) == 5 and sum("search:warm_start" in t.system_attrs for t in trials) == 3


# --- a resumed script completes each optimize call's total --------------------------------------

TWO_CALLS = """
    import time
    import optuna

    def objective(trial):
        time.sleep(0.25)
        return trial.suggest_float("x", 0, 1)

    if __name__ == "__main__":
        study = optuna.create_study()
        study.optimize(objective, n_trials=3)
        study.optimize(objective, n_trials=6)
        print("TOTAL", len(study.trials))
"""


def test_an_interrupted_script_resumes_to_the_totals_of_its_optimize_calls(tmp_path):
    import signal
    import time

    script = write(tmp_path, "two_calls.py", TWO_CALLS)
    proc = subprocess.Popen([sys.executable, "-m", "search", str(script), "--no-tracking",
                             "--results", str(tmp_path / "out")], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    journal = tmp_path / "out" / "two_calls" / "study.journal"
    deadline = time.time() + 120
    while time.time() < deadline and complete(journal) < 5:  # into the second optimize call
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "continue with --resume" in err
    resumed = run_cli(script, "--resume", "--no-tracking", "--results", tmp_path / "out",
                      cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    trials = [t for t in stored_trials(tmp_path / "out" / "two_calls")
              if "search:abandoned" not in t.system_attrs]
    assert len(trials) == 9 and all(t.state.name == "COMPLETE" for t in trials)
    record = json.loads((tmp_path / "out" / "two_calls" / "study.json").read_text())
    assert record["optimize_calls"] == [3, 9]


def complete(journal: Path) -> int:
    """COMPLETE trials in a journal that its run is still writing (read as a reader does)."""
    import optuna

    from search.core._store import read_store

    if not journal.exists():
        return 0
    try:
        study = optuna.load_study(study_name=journal.parent.name, storage=read_store(journal))
    except KeyError:  # not created yet
        return 0
    return sum(t.state.name == "COMPLETE" for t in study.get_trials(deepcopy=False))


# --- an OptunaHub sampler -----------------------------------------------------------------------

HUB_PACKAGE = """
    import optuna


    class MidpointFirstSampler(optuna.samplers.RandomSampler):
        \"\"\"The middle of each range first, then at random.\"\"\"

        def __init__(self, seed=None, margin=0.0):
            super().__init__(seed=seed)
            self.margin = margin

        def sample_independent(self, study, trial, name, distribution):
            if trial.number == 0:
                return (distribution.low + distribution.high) / 2 + self.margin
            return super().sample_independent(study, trial, name, distribution)
"""

HUB_STUDY = """
    from pathlib import Path

    import optunahub
    from search import Study
    from spaces import Float, Space

    hub = optunahub.load_local_module("samplers/midpoint",
                                      registry_root=str(Path(__file__).parent / "registry"))
    study = Study(name="hub", space=Space({"x": Float(0, 4)}), objective=lambda c: c["x"],
                  direction="minimize", trials=3, sampler=hub.MidpointFirstSampler(seed=1))
"""


def test_an_optunahub_sampler_runs_and_is_recorded(write_study, tmp_path):
    pytest.importorskip("optunahub")
    package = tmp_path / "registry" / "samplers" / "midpoint"
    package.mkdir(parents=True)
    write(package, "__init__.py", "from .sampler import MidpointFirstSampler\n")
    write(package, "sampler.py", HUB_PACKAGE)
    path = write_study(HUB_STUDY)
    result = run_cli(path, "--no-tracking", "--results", tmp_path / "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    trials = stored_trials(tmp_path / "out" / "hub")
    assert trials[0].params["x"] == 2.0 and len(trials) == 3
    record = json.loads((tmp_path / "out" / "hub" / "study.json").read_text())
    assert record["sampler"]["chosen"] == \
        "optunahub_registry.package.samplers.midpoint.MidpointFirstSampler"
    assert record["sampler"]["arguments"] == {"margin": 0.0}  # what the object shows of them


# --- the timeout says that it ended the search --------------------------------------------------

SLOW = """
    import time
    from search import Study
    from spaces import Float, Space

    def evaluate(config):
        time.sleep(0.4)
        return config["x"]

    study = Study(name="slow", space=Space({"x": Float(0, 1)}), objective=evaluate,
                  direction="minimize", trials=100)
"""


def test_a_timeout_that_ends_the_search_says_so(write_study, tmp_path):
    path = write_study(SLOW)
    result = run_cli(path, "--timeout", "2", "--no-tracking", "--results", tmp_path,
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "search: the timeout of 2 s ended the search: no trial started after it" \
        in result.stdout
    assert 1 <= len(stored_trials(tmp_path / "slow")) < 100


def test_the_users_trial_attributes_reach_mlflow_and_search_load(tmp_path):
    pytest.importorskip("mlflow")
    script = write(tmp_path, "main.py", MAIN)
    result = run_cli(script, "--results", tmp_path / "out", cwd=tmp_path)  # tracking on
    assert result.returncode == 0, result.stderr
    import mlflow

    import search

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'out' / 'mlflow.db'}")
    runs = client.search_runs(
        [client.get_experiment_by_name("tuned").experiment_id],
        filter_string="tags.`search.kind` = 'trial'")
    by_number = {int(r.data.tags["search.trial"]): r.data.tags for r in runs}
    loaded = search.load(tmp_path / "out" / "tuned").trials.set_index("number")
    for number in (1, 2, 3, 4):
        double = float(by_number[number]["user_attrs.double"])
        assert double == pytest.approx(2 * float(loaded.loc[number, "params_x"]))
        assert loaded.loc[number, "user_attrs_double"] == pytest.approx(double)
    assert by_number[1]["user_attrs.why"] == "a hunch"


def test_a_script_imports_the_modules_beside_it_from_any_folder(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    write(project, "helpers.py", "def shifted(x):\n    return (x - 1.0) ** 2\n")
    script = write(project, "uses_helpers.py", """
        import optuna
        from helpers import shifted

        def objective(trial):
            return shifted(trial.suggest_float("x", -3, 3))

        if __name__ == "__main__":
            optuna.create_study().optimize(objective, n_trials=3)
    """)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run_cli(script, "--no-tracking", "--results", tmp_path / "out", cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    trials = stored_trials(tmp_path / "out" / "uses_helpers")
    assert [t.state.name for t in trials] == ["COMPLETE"] * 3  # the workers import helpers too
