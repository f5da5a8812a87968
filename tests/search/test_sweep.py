"""A W&B sweep file's settings for a study: sampler, direction, metric and a real Hyperband.

Each sweep is a real YAML file. The pruner is checked by what it does: a real Optuna study runs
the same trials under it and under ``HyperbandPruner`` built by hand with the arguments the
sweep means, and every trial must be pruned at the same step in both.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import optuna
import pytest

from search import Study, UserError
from search.core._sweep import read_sweep_file, sweep_settings
from spaces import Categorical, Float, Space

optuna.logging.set_verbosity(optuna.logging.WARNING)

SWEEP = """\
program: train.py
method: {method}
metric:
  name: val_loss
{goal}parameters:
  lr: {lr}
  optimizer: {{values: [adam, sgd]}}
"""
LOG_LR = "{distribution: log_uniform_values, min: 0.0001, max: 0.1}"


def _write(tmp_path: Path, text: str, name: str = "sweep.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _sweep(
    tmp_path: Path, method: str = "bayes", goal: str = "", extra: str = "", lr: str = LOG_LR
) -> Path:
    return _write(tmp_path, SWEEP.format(method=method, goal=goal, lr=lr) + extra)


@pytest.mark.parametrize(
    ("method", "sampler"), [("grid", "grid"), ("random", "random"), ("bayes", "auto")]
)
def test_the_method_sets_the_sampler(tmp_path: Path, method: str, sampler: str) -> None:
    lr = "{values: [0.001, 0.01]}" if method == "grid" else LOG_LR  # grid: W&B's finite values
    settings = sweep_settings(read_sweep_file(_sweep(tmp_path, method=method, lr=lr)))
    assert settings["sampler"] == sampler
    assert settings["pruner"] is None
    study = Study(name="sweep", space=settings["space"], objective=lambda config: 0.0,
                  direction=settings["direction"], sampler=settings["sampler"])  # fmt: skip
    assert study.sampler == sampler


def test_the_settings_of_a_whole_sweep(tmp_path: Path) -> None:
    settings = sweep_settings(read_sweep_file(_sweep(tmp_path, goal="  goal: maximize\n")))
    assert settings == {
        "space": Space(
            {"lr": Float(1e-4, 0.1, log=True), "optimizer": Categorical(["adam", "sgd"])}
        ),
        "direction": "maximize",
        "metric_name": "val_loss",
        "sampler": "auto",
        "pruner": None,
    }


def test_the_goal_defaults_to_minimize_as_in_wandb(tmp_path: Path) -> None:
    settings = sweep_settings(read_sweep_file(_sweep(tmp_path)))
    assert (settings["metric_name"], settings["direction"]) == ("val_loss", "minimize")


def test_a_sweep_without_metric_or_method_leaves_them_to_the_study(tmp_path: Path) -> None:
    path = _write(tmp_path, "parameters:\n  k: {min: 1, max: 5}\n")
    settings = sweep_settings(read_sweep_file(path))
    assert (settings["metric_name"], settings["direction"], settings["sampler"]) == (
        None, None, "auto",
    )  # fmt: skip


def _pruned_steps(pruner: optuna.pruners.BasePruner) -> list[int | None]:
    """Run 60 seeded trials of 30 steps each; the step at which each was pruned (or None)."""
    study = optuna.create_study(
        study_name="hyperband", sampler=optuna.samplers.RandomSampler(seed=0), pruner=pruner
    )
    pruned: list[int | None] = []
    for _ in range(60):
        trial = study.ask()
        x = trial.suggest_float("x", 0.0, 1.0)
        at = None
        for step in range(1, 31):
            trial.report(x + 1.0 / step, step)
            if trial.should_prune():
                at = step
                break
        if at is None:
            study.tell(trial, x)
        else:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        pruned.append(at)
    return pruned


HYPERBANDS = [
    ("min_iter", "min_iter: 3\n  eta: 2", dict(min_resource=3, reduction_factor=2)),
    ("min_iter-max_iter", "min_iter: 2\n  max_iter: 24\n  eta: 2",
     dict(min_resource=2, max_resource=24, reduction_factor=2)),
    ("max_iter-s", "max_iter: 27\n  s: 2",  # bands 27/3 = 9 and 27/9 = 3; eta 3 by default
     dict(min_resource=3, max_resource=27, reduction_factor=3)),
    ("max_iter-s-cut", "max_iter: 20\n  s: 5\n  eta: 2",  # bands 10, 5, 2, 1; 20/32 < 1 stops
     dict(min_resource=1, max_resource=20, reduction_factor=2)),
]  # fmt: skip


@pytest.mark.parametrize(("early", "arguments"), [c[1:] for c in HYPERBANDS],
                         ids=[c[0] for c in HYPERBANDS])  # fmt: skip
def test_hyperband_becomes_optunas_hyperband(
    tmp_path: Path, early: str, arguments: dict[str, int]
) -> None:
    path = _sweep(tmp_path, extra=f"early_terminate:\n  type: hyperband\n  {early}\n")
    pruner = sweep_settings(read_sweep_file(path))["pruner"]
    assert isinstance(pruner, optuna.pruners.HyperbandPruner)
    steps = _pruned_steps(pruner)
    assert steps == _pruned_steps(optuna.pruners.HyperbandPruner(**arguments))
    assert any(steps), "the sweep's pruner should prune some of these trials"
    assert min(step for step in steps if step) >= arguments["min_resource"]


def test_hyperband_settings_differ_in_what_they_prune() -> None:
    """The comparison above can tell pruners apart: other arguments prune other trials."""
    first = _pruned_steps(optuna.pruners.HyperbandPruner(min_resource=3, reduction_factor=2))
    other = _pruned_steps(optuna.pruners.HyperbandPruner(min_resource=1, reduction_factor=3))
    assert first != other


BAD_FILES = [
    ("missing", None, "{path}: no such file."),
    ("bad-yaml", "method: bayes\nparameters:\n  lr: {min: 0.1, max: [\n",
     "{path}: line 4, column 1: invalid YAML:"),
    ("space-file", "lr: {type: float, low: 0.001, high: 0.1}\n",
     "{path}: not a W&B sweep configuration: its top level has no `parameters:` mapping of "
     "parameter name to W&B parameter."),
    ("empty", "", "{path}: not a W&B sweep configuration"),
    ("bad-parameter", "parameters:\n  lr: {distribution: normal, mu: 0, sigma: 1}\n",
     "{path}: lr: W&B's normal distribution is unbounded"),
    ("bad-key", "parameters:\n  lr: {min: 0.1, max: 1.0}\nearly_terminate: {type: hyperband, "
     "min_iter: 3, eta: 1.5}\n", "{path}: early_terminate.eta: must be an int >= 2"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), [c[1:] for c in BAD_FILES],
                         ids=[c[0] for c in BAD_FILES])  # fmt: skip
def test_a_bad_sweep_file_is_one_line(tmp_path: Path, text: str | None, message: str) -> None:
    path = tmp_path / "sweep.yaml"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(UserError) as info:
        read_sweep_file(path)
    assert str(info.value).startswith(message.format(path=path)), str(info.value)
    assert "\n" not in str(info.value)


# --- a sweep through the command: `python -m search SWEEP.yaml [FILE.py]` -------------------------

RUN_SWEEP = """
    program: train.py
    method: random
    metric: {name: val_loss, goal: minimize}
    parameters:
      lr: {distribution: log_uniform_values, min: 0.001, max: 0.1}
      depth: {distribution: q_uniform, min: 2, max: 8, q: 2}
      kind: {values: [a, b]}
    early_terminate: {type: hyperband, min_iter: 1, max_iter: 4, eta: 2}
"""

TRAIN = """
    def objective(config, trial):
        loss = 1.0
        for step in range(4):
            loss = config["lr"] * config["depth"] + step * (0.5 if config["kind"] == "b" else 0.1)
            trial.report(loss, step)
        return {"val_loss": loss, "other": 1.0}
"""


def run_sweep(tmp_path: Path, *files: str):
    from tests.conftest import run_cli

    return run_cli(*files, "--trials", "6", "--seed", "0", "--no-tracking", "--results",
                   tmp_path / "out", cwd=tmp_path)


def test_a_sweep_and_its_program_run_through_the_command(tmp_path: Path) -> None:
    import csv
    import json

    (tmp_path / "sweep.yaml").write_text(textwrap.dedent(RUN_SWEEP))
    (tmp_path / "train.py").write_text(textwrap.dedent(TRAIN))
    result = run_sweep(tmp_path, "sweep.yaml")  # the sweep's program names the file
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "out" / "train"
    record = json.loads((folder / "study.json").read_text())
    assert record["sampler"]["chosen"] == "random" and record["direction"] == "minimize"
    assert record["pruner"]["class"] == "optuna.pruners.HyperbandPruner"
    assert record["pruner"]["arguments"]["max_resource"] == 4
    with open(folder / "trials.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6
    for row in rows:
        assert 0.001 <= float(row["params_lr"]) <= 0.1 and row["params_kind"] in ("a", "b")
        assert float(row["params_depth"]) in (2, 4, 6, 8)
    again = run_sweep(tmp_path, "sweep.yaml", "train.py")  # the two-file form, same study
    assert again.returncode == 2 and "a study of this name exists" in again.stderr


def test_a_sweep_for_a_script_that_makes_its_own_optuna_study_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "sweep.yaml").write_text(textwrap.dedent(RUN_SWEEP).replace("program: train.py\n", ""))
    (tmp_path / "own.py").write_text(textwrap.dedent("""
        import optuna
        optuna.create_study().optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    """))
    result = run_sweep(tmp_path, "sweep.yaml", "own.py")
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "creates its own Optuna study, and sweep.yaml gives the space" in result.stderr
    alone = run_sweep(tmp_path, "sweep.yaml")
    assert alone.returncode == 2 and "the sweep names no program" in alone.stderr
    assert not (tmp_path / "out").exists()
