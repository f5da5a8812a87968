"""Ray Tune scripts run unchanged under ``python -m search``: the script runs as ``__main__``,
its ``tune.Tuner(...).fit()`` runs the experiment on the framework's engine, and what it does
with the ``ResultGrid`` after ``fit()`` reads the framework's results. The examples are the
ones inside the installed Ray wheel (``ray/tune/examples/``), copied into a temporary folder at
test time and run as they are."""

from __future__ import annotations

import ast
import csv
import importlib.util
import json
import shutil
import textwrap
from pathlib import Path

import pytest

from tests.conftest import run_cli, stored_trials

pytest.importorskip("ray.tune", reason="Tune scripts need the ray extra")

from tests.search.test_ray import cluster  # noqa: E402, F401 - the session's one Ray head

BEST_LINE = "Best hyperparameters found were: "


def examples() -> Path:
    """The Tune examples that ship inside the installed Ray wheel."""
    spec = importlib.util.find_spec("ray")
    assert spec is not None and spec.submodule_search_locations
    return Path(list(spec.submodule_search_locations)[0]) / "tune" / "examples"


def example(folder: Path, name: str) -> Path:
    copied = folder / name
    shutil.copy(examples() / name, copied)
    return copied


def write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def printed_config(stdout: str, tag: str = BEST_LINE) -> dict:
    """The config dict a script printed after ``tag`` (its ``print(..., config)``)."""
    line = next(line for line in stdout.splitlines() if tag.strip() in line)
    return ast.literal_eval(line.split(tag.strip(), 1)[1].strip())


def printed(stdout: str, tag: str) -> object:
    line = next(line for line in stdout.splitlines() if line.startswith(tag + " "))
    return json.loads(line[len(tag) + 1:])


def best_config(folder: Path) -> dict:
    return json.loads((folder / "best.json").read_text())["config"]


def states(folder: Path) -> list[str]:
    with open(folder / "trials.csv", newline="") as f:
        return [row["state"] for row in csv.DictReader(f)]


def run_example(tmp_path: Path, name: str, *flags: str) -> tuple[str, Path]:
    script = example(tmp_path, name)
    out = tmp_path / "out"
    result = run_cli(script, "--no-tracking", "--results", out, *flags, "--", "--smoke-test",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result.stdout, out


# --- the examples in Ray's wheel, unchanged ----------------------------------------------------


@pytest.mark.parametrize("backend", ["local", "ray"])
def test_basic_example_runs_num_samples_times_the_grid(tmp_path, backend):
    stdout, out = run_example(tmp_path, "tune_basic_example.py", "--workers", "2",
                              "--backend", backend)
    folder = out / "easy_objective"  # named after the trainable, as Tune names it
    trials = stored_trials(folder)
    assert [t.state.name for t in trials] == ["COMPLETE"] * 10  # 5 samples x 2 grid points
    assert sorted(t.params["activation"] for t in trials) == ["relu"] * 5 + ["tanh"] * 5
    assert printed_config(stdout) == best_config(folder)  # get_best_result() is best.json's
    assert "ray.init(configure_logging=False) recorded, not run" in stdout
    assert "10 trials (num_samples 5 x 2 grid points)" in stdout
    assert f"on backend {backend}" in stdout


def test_hyperband_example_prunes_with_its_scheduler(tmp_path):
    stdout, out = run_example(tmp_path, "hyperband_function_example.py", "--workers", "2",
                              "--seed", "0")
    folder = out / "hyperband_test"  # RunConfig(name=...)
    found = states(folder)
    assert len(found) == 20 and "PRUNED" in found and "FAIL" not in found
    assert printed_config(stdout) == best_config(folder)
    assert "pruner HyperbandPruner (the script's HyperBandScheduler: max_t 200" in stdout
    steps = [len(t.intermediate_values) for t in stored_trials(folder)]
    assert max(steps) == 10  # stop={"training_iteration": 10}


def test_async_hyperband_example(tmp_path):
    stdout, out = run_example(tmp_path, "async_hyperband_example.py", "--workers", "2")
    folder = out / "asynchyperband_test"
    trials = stored_trials(folder)
    assert len(trials) == 20 and all(len(t.intermediate_values) == 1 for t in trials)
    assert printed_config(stdout, "Best hyperparameters found: ") == best_config(folder)
    assert "SuccessiveHalvingPruner (the script's ASHA: grace_period 5, reduction_factor 4)" \
        in stdout


def test_checkpointing_example_gives_the_best_trials_checkpoint(tmp_path):
    stdout, out = run_example(tmp_path, "custom_func_checkpointing.py", "--workers", "2")
    folder = out / "hyperband_test"
    assert states(folder) == ["COMPLETE"] * 5
    best = best_config(folder)
    assert printed_config(stdout, "Best hyperparameters: ") == best
    number = json.loads((folder / "best.json").read_text())["number"]
    line = next(line for line in stdout.splitlines() if line.startswith("Best checkpoint: "))
    shown = line.split("path=", 1)[1].rstrip(")")
    assert Path(shown) == (folder / "trials" / f"trial_{number:05d}" / "checkpoints"
                           / "step-000001").resolve()
    assert json.loads((Path(shown) / "checkpoint.json").read_text()) == {"step": 0}


def test_optuna_example_uses_its_optuna_search(tmp_path):
    stdout, out = run_example(tmp_path, "optuna_example.py", "--trials", "2", "--workers", "2")
    folder = out / "easy_objective"  # 2 trials: a complete one takes its 100 steps of 0.1 s
    assert len(states(folder)) == 2  # --trials won over num_samples, and says so
    assert "2 trials (--trials)" in stdout
    assert "sampler tpe (the script's OptunaSearch: tpe)" in stdout
    assert printed_config(stdout) == best_config(folder)


def test_pbt_example_gives_one_result_a_member(tmp_path):
    stdout, out = run_example(tmp_path, "pbt_function.py")
    folder = out / "pbt_function_api_example"
    assert "2 workers (as many as fit, as Tune runs them: 2 CPUs of ray.init(num_cpus)" in stdout
    members: dict[int, list] = {}
    for trial in stored_trials(folder):
        members.setdefault(trial.user_attrs["pbt"]["member"], []).append(trial)
    assert len(members) == 8  # num_samples: the population
    last = [max(ts, key=lambda t: t.user_attrs["pbt"]["segment"]) for ts in members.values()]
    winner = max(last, key=lambda t: t.system_attrs["search:metrics"][-1]["mean_accuracy"])
    assert printed_config(stdout) == {"checkpoint_interval": 5, **winner.params}


# --- what a script does with the ResultGrid ------------------------------------------------------

API = """
    import json

    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search import BasicVariantGenerator


    def train(config):
        if config["x"] < -4:
            raise ValueError("x too small")
        for i in range(6):
            tune.report({"loss": (config["x"] - 2) ** 2 + 1.0 / (i + 1), "i": i})


    if __name__ == "__main__":
        point = {"x": -4.5, "opt": {"lr": 0.01}, "k": 1}
        tuner = tune.Tuner(
            train,
            param_space={"x": tune.uniform(-3, 5), "opt": {"lr": tune.loguniform(1e-4, 1e-1)},
                         "k": tune.grid_search([1, 2])},
            tune_config=tune.TuneConfig(
                metric="loss", mode="min", num_samples=3,
                search_alg=BasicVariantGenerator(points_to_evaluate=[point]),
                scheduler=ASHAScheduler(grace_period=1, reduction_factor=2, max_t=4)),
            run_config=tune.RunConfig(name="api", failure_config=tune.FailureConfig(max_failures=1)))
        results = tuner.fit()
        frame = results.get_dataframe()
        print("LEN", len(results), "PATH", results.experiment_path)
        print("BEST", json.dumps(results.get_best_result().config))
        print("COLUMNS", json.dumps(sorted(frame.columns)))
        print("ROWS", len(frame))
        print("COUNTS", json.dumps([results.num_terminated, results.num_errors, len(results.errors)]))
        print("FIRST", json.dumps([results[0].config, str(results[0].error)]))
        print("ITERS", json.dumps([r.metrics["training_iteration"] for r in results if not r.error]))
        print("FRAMES", json.dumps([len(r.metrics_dataframe) for r in results]))
        print("KS", json.dumps([r.config["k"] for r in results]))
        print("PATHS", json.dumps([r.path for r in results]))
"""


def test_the_result_grid_reads_the_framework_results(tmp_path):
    script = write(tmp_path, "api.py", API.replace("tune.uniform(-3, 5)", "tune.uniform(-5, 5)"))
    result = run_cli(script, "--no-tracking", "--results", tmp_path / "out", "--workers", "2",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    folder = (tmp_path / "out" / "api").resolve()
    assert f"LEN 6 PATH {folder}" in result.stdout
    assert "retries of a dead worker's trial: 1 (FailureConfig(max_failures))" in result.stdout
    trials = stored_trials(folder)
    best = best_config(folder)  # the store's names: a group's parameter is opt__lr
    assert printed(result.stdout, "BEST") == {"x": best["x"], "opt": {"lr": best["opt__lr"]},
                                              "k": best["k"]}
    assert printed(result.stdout, "FIRST") == [  # points_to_evaluate ran first, and failed
        {"x": -4.5, "opt": {"lr": 0.01}, "k": 1}, "trial 0: ValueError: x too small"]
    failed = sum(t.state.name == "FAIL" for t in trials)
    assert printed(result.stdout, "COUNTS") == [6 - failed, failed, failed]
    assert printed(result.stdout, "KS") == [1, 2, 1, 2, 1, 2]  # the grid, point by point
    assert max(printed(result.stdout, "ITERS")) <= 4  # ASHA's max_t stops every trial
    frames = printed(result.stdout, "FRAMES")
    assert frames == [len(t.intermediate_values) for t in trials]
    assert printed(result.stdout, "ROWS") == sum(1 for n in frames if n)  # Tune: reported ones
    assert {"loss", "i", "training_iteration", "trial_id", "config/x", "config/opt/lr",
            "config/k", "logdir"} <= set(printed(result.stdout, "COLUMNS"))
    assert printed(result.stdout, "PATHS") == [str(folder / "trials" / f"trial_{n:05d}")
                                               for n in range(6)]


# --- one line, exit 2, nothing written ------------------------------------------------------------

REFUSED = {
    "searcher.py": ("""
        from ray import tune
        from ray.tune.search import Searcher

        class MySearcher(Searcher):
            def suggest(self, trial_id):
                return {}

        def train(config):
            tune.report({"loss": 1.0})

        tune.Tuner(train, tune_config=tune.TuneConfig(metric="loss", mode="min",
                                                      search_alg=MySearcher())).fit()
        """, "TuneConfig(search_alg=MySearcher): under python -m search"),
    "old_api.py": ("""
        import helper  # its own module imports ray.tune: the answers are installed then
        """, "tune.run: under python -m search a Tune experiment runs through tune.Tuner("),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_what_tune_cannot_answer_is_one_line(tmp_path, name):
    source, says = REFUSED[name]
    script = write(tmp_path, name, source)
    write(tmp_path, "helper.py", """
        from ray import tune

        def train(config):
            tune.report({"loss": 1.0})

        tune.run(train, config={"x": tune.uniform(0, 1)}, metric="loss", mode="min")
        """)
    result = run_cli(script, "--no-tracking", "--results", tmp_path / "out", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], result.stderr
    assert not (tmp_path / "out").exists()


def _hyperopt() -> object:
    from ray.tune.search.hyperopt import HyperOptSearch

    return HyperOptSearch.__new__(HyperOptSearch)  # its library is not installed here


def _refused_configs() -> dict[str, tuple[dict, str]]:
    from ray import tune
    from ray.tune.schedulers import MedianStoppingRule
    from ray.tune.schedulers.pb2 import PB2

    def goal(**more: object) -> object:
        return tune.TuneConfig(metric="loss", mode="min", **more)

    return {
        "hyperopt": ({"tune_config": goal(search_alg=_hyperopt())},
                     "TuneConfig(search_alg=HyperOptSearch): under python -m search Tune's "
                     "searchers map to Optuna's samplers"),
        "median": ({"tune_config": goal(scheduler=MedianStoppingRule())},
                   "MedianStoppingRule(time_attr='time_total_s'): the framework's pruners"),
        "pb2": ({"tune_config": goal(scheduler=PB2(time_attr="training_iteration",
                                                   hyperparam_bounds={"lr": [0.001, 0.1]}))},
                "TuneConfig(scheduler=PB2): not answered"),
        "callbacks": ({"tune_config": goal(), "run_config": tune.RunConfig(
                           callbacks=[tune.Callback()])},
                      "RunConfig(callbacks=[Callback]): Tune callbacks are not answered"),
        "no_metric": ({}, "TuneConfig(metric=..., mode=...): the framework searches on a metric"),
        "mode_only": ({"tune_config": tune.TuneConfig(mode="min")},
                      "TuneConfig: give metric and mode='min' or 'max' together"),
    }


@pytest.mark.parametrize("case", ["hyperopt", "median", "pb2", "callbacks", "no_metric",
                                  "mode_only"])
def test_each_setting_without_an_answer_is_named(case):
    from search.core._errors import UserError
    from search.scripts._tune_config import read_tuner

    given, says = _refused_configs()[case]

    def train(config: dict) -> None:
        pass

    with pytest.raises(UserError) as refused:
        read_tuner(train, {"x": 1.0}, given.get("tune_config"), given.get("run_config"))
    assert says in str(refused.value) and "\n" not in str(refused.value)


def test_an_optuna_script_never_imports_ray(tmp_path):
    script = write(tmp_path, "plain.py", """
        import sys
        import optuna

        optuna.create_study().optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
        print("RAY", "ray" in sys.modules)
        """)
    result = run_cli(script, "--no-tracking", "--results", tmp_path / "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "RAY False" in result.stdout


# --- the same examples with --backend ray, on the session's one Ray head ------------------------

RAY_EXAMPLES = {  # name -> (study folder, trials Tune runs, extra flags)
    "hyperband_function_example.py": ("hyperband_test", 20, ()),
    "async_hyperband_example.py": ("asynchyperband_test", 20, ()),
    "custom_func_checkpointing.py": ("hyperband_test", 5, ()),
    "pbt_function.py": ("pbt_function_api_example", None, ()),
}  # optuna_example.py's OptunaSearch maps alike on both backends: tested locally above


@pytest.mark.parametrize("name", sorted(RAY_EXAMPLES))
def test_the_examples_run_on_the_ray_backend(tmp_path, name, cluster):  # noqa: F811
    from tests.search.test_ray import run_search

    folder_name, count, flags = RAY_EXAMPLES[name]
    script = example(tmp_path, name)
    result = run_search(script, "--no-tracking", "--results", tmp_path / "out", "--backend",
                        "ray", "--address", cluster.address, "--workers", "2", *flags, "--",
                        "--smoke-test", cwd=tmp_path, env=cluster.env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    folder = tmp_path / "out" / folder_name
    trials = stored_trials(folder)
    members = [t for t in trials if (t.user_attrs.get("pbt") or {}).get("segment", 0) == 0]
    assert len(members) == (count if count is not None else 8)  # pbt: num_samples members
    assert {t.state.name for t in trials} <= {"COMPLETE", "PRUNED"}
    assert "on backend ray" in result.stdout


def test_the_class_api_pbt_example_mutates_what_its_functions_draw(tmp_path):
    """pbt_example.py: a tune.Trainable class with checkpoint_frequency, PBT whose lr mutation
    is a function (lambda: random.uniform(...)) and whose starting lr is a constant."""
    stdout, out = run_example(tmp_path, "pbt_example.py")
    trials = stored_trials(out / "pbt_class_api_example")
    first = [t for t in trials if t.user_attrs["pbt"]["segment"] == 0]
    assert len(first) == 8 and {t.params["lr"] for t in first} == {0.0001}  # Tune's start
    exploited = [t for t in trials if t.user_attrs["pbt"]["exploited"]]
    assert exploited and all(0.0001 <= t.params["lr"] <= 0.02 for t in trials)
    assert all(t.system_attrs.get("search:checkpoint") for t in trials)  # save_checkpoint ran
    assert "Best hyperparameters found were: " in stdout
