"""``sampler="auto"``: the choice for each kind of study, its record, its line, and a resume."""

from __future__ import annotations

import json

import pytest

from search import Study
from search.core._auto import SamplerChoice, choose_sampler, sampler_label
from search.core._prepare import prepare
from spaces import Categorical, Float, Int, Space
from tests.conftest import run_cli

NUMERIC = Space({"x": Float(-5, 10), "y": Float(0, 15, log=False), "n": Int(1, 8)})
CATEGORICAL = Space({"x": Float(0, 1), "kernel": Categorical(["rbf", "linear"])})
CONDITIONAL = Space({
    "model": Categorical({"svm": {"C": Float(1e-3, 1e3, log=True)},
                          "tree": {"depth": Int(1, 10)}}),
})
WIDE = Space({f"x{i}": Float(0, 1) for i in range(20)})


@pytest.mark.parametrize(
    ("space", "kwargs", "chosen", "settings", "says"),
    [
        (NUMERIC, {"trials": 100}, "gp", {}, "Gaussian process"),
        (NUMERIC, {"trials": 1000}, "tpe", {"multivariate": True, "gp_first": True},
         "1000 trials, one worker: a Gaussian process for the first 100 trials"),
        (CATEGORICAL, {"trials": 1000}, "tpe", {"multivariate": True}, "1000 trials"),
        (NUMERIC, {"trials": 100, "workers": 4}, "tpe",
         {"multivariate": True, "constant_liar": True}, "4 workers"),
        (WIDE, {"trials": 100}, "tpe", {"multivariate": True}, "20 dimensions"),
        (CATEGORICAL, {"trials": 100}, "tpe", {"multivariate": True}, "categorical"),
        (CONDITIONAL, {"trials": 100}, "tpe", {"multivariate": True, "group": True},
         "conditional"),
        (Space({}), {"trials": 100}, "tpe", {"multivariate": True, "group": True},
         "defines its parameters"),
        (NUMERIC, {"trials": 100, "objectives": 2}, "tpe", {"multivariate": True},
         "2 objectives"),
        (NUMERIC, {"trials": 2000, "objectives": 2}, "nsga2", {}, "large budget"),
    ],
    ids=["numeric", "large-budget", "categorical-large-budget", "workers", "20-dim", "categorical", "conditional",
         "define-by-run", "two-objectives", "two-objectives-large"],
)
def test_auto_chooses_by_space_budget_objectives_and_workers(space, kwargs, chosen, settings,
                                                             says):
    choice = choose_sampler(space, torch_available=True, **kwargs)
    assert (choice.requested, choice.chosen, choice.settings) == ("auto", chosen, settings)
    assert says in choice.why


def test_without_torch_auto_takes_tpe_and_says_why():
    choice = choose_sampler(NUMERIC, trials=100, torch_available=False)
    assert choice.chosen == "tpe" and choice.settings == {"multivariate": True}
    assert "torch is not installed" in choice.why and "search[torch]" in choice.why


def test_a_large_budget_without_torch_or_with_workers_is_tpe_alone():
    assert choose_sampler(NUMERIC, trials=1000, torch_available=False).settings == {
        "multivariate": True}
    large = choose_sampler(NUMERIC, trials=1000, torch_available=True)
    assert large.for_workers(3).settings == {"multivariate": True, "constant_liar": True}
    assert large.for_workers(1) == large
    assert choose_sampler(NUMERIC, trials=1000, workers=3, torch_available=True).settings == {
        "multivariate": True, "constant_liar": True}


def test_gp_then_tpe_samples_as_gp_before_the_switch_and_as_tpe_after():
    """The same trials as GP alone for the first trials, then TPE taking over the study."""
    import optuna

    from search.core._strategies import GP_FIRST_TRIALS, gp_then, make_sampler

    def objective(trial):
        return (trial.suggest_float("x", -5, 5) - 1) ** 2 + trial.suggest_int("n", 1, 8)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    at, total = 12, 16  # past GP's 10 random start-up trials: GP's own model picks 10 and 11
    switched = optuna.create_study(sampler=gp_then(optuna.samplers.GPSampler(seed=3),
                                                   optuna.samplers.TPESampler(seed=3), at))
    switched.optimize(objective, n_trials=total)
    by_hand = optuna.create_study(sampler=optuna.samplers.GPSampler(seed=3))
    by_hand.optimize(objective, n_trials=at)
    by_hand.sampler = optuna.samplers.TPESampler(seed=3)
    by_hand.optimize(objective, n_trials=total - at)
    tpe_alone = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=3))
    tpe_alone.optimize(objective, n_trials=total)
    assert [t.params for t in switched.trials] == [t.params for t in by_hand.trials]
    gp_alone = optuna.create_study(sampler=optuna.samplers.GPSampler(seed=3))
    gp_alone.optimize(objective, n_trials=total)
    assert [t.params for t in switched.trials] != [t.params for t in tpe_alone.trials]
    assert [t.params for t in switched.trials][at:] != [t.params for t in gp_alone.trials][at:]
    built = make_sampler("tpe", NUMERIC, 0, settings={"multivariate": True, "gp_first": True})
    assert type(built).__name__ == "GpThen" and GP_FIRST_TRIALS == 100


def test_the_choice_round_trips_through_its_record_and_labels_old_records():
    choice = choose_sampler(CONDITIONAL, trials=50, workers=2, torch_available=True)
    assert SamplerChoice.from_record(json.loads(json.dumps(choice.to_dict()))) == choice
    assert sampler_label(choice.to_dict()) == "tpe (auto)"
    assert sampler_label("tpe") == "tpe"  # a study.json written before auto


def test_a_prepared_study_builds_the_chosen_sampler():
    import optuna

    study = Study(name="s", space=CONDITIONAL, objective=lambda c: 0.0, direction="minimize",
                  workers=2, trials=40)
    sampler = prepare(study, None, seed=0).sampler
    assert isinstance(sampler, optuna.samplers.TPESampler)
    assert sampler._multivariate and sampler._group and sampler._constant_liar


FUNCTION = """
from search import Study
from spaces import Float, Space

def f(config):
    return (config["x"] - 1.0) ** 2 + (config["y"] + 2.0) ** 2

study = Study(name="fn", space=Space({"x": Float(-5, 5), "y": Float(-5, 5)}), objective=f,
              direction="minimize", trials=TRIALS, seed=0)
"""


def test_auto_says_its_choice_records_it_and_a_resume_keeps_it(write_study, tmp_path):
    path = write_study(FUNCTION.replace("TRIALS", "12"))
    first = run_cli(path, "--results", tmp_path, "--no-tracking", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "search: sampler auto chose gp: 2 numeric parameters, 12 trials" in first.stdout
    record = json.loads((tmp_path / "fn" / "study.json").read_text())
    assert record["sampler"]["requested"] == "auto" and record["sampler"]["chosen"] == "gp"
    # 400 trials would make auto choose TPE now; the resumed study keeps its GP
    args = (path, "--results", tmp_path, "--no-tracking", "--resume", "--trials", "400")
    resumed = run_cli(*args, "--timeout", "2", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "search: sampler auto chose gp: 2 numeric parameters, 12 trials" in resumed.stdout
    record = json.loads((tmp_path / "fn" / "study.json").read_text())
    assert record["sampler"]["chosen"] == "gp" and record["trials"] == 400


def test_a_named_sampler_is_used_as_given_and_not_announced(write_study, tmp_path):
    path = write_study(FUNCTION.replace("TRIALS", "3"))
    result = run_cli(path, "--results", tmp_path, "--no-tracking", "--sampler", "random",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "sampler auto" not in result.stdout
    record = json.loads((tmp_path / "fn" / "study.json").read_text())
    assert record["sampler"]["requested"] == record["sampler"]["chosen"] == "random"


def test_a_recorded_choice_this_version_cannot_build_is_exit_2_and_nothing_written(
    write_study, tmp_path
):
    path = write_study(FUNCTION.replace("TRIALS", "3"))
    first = run_cli(path, "--results", tmp_path, "--no-tracking", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    record_path = tmp_path / "fn" / "study.json"
    record = json.loads(record_path.read_text())
    record["sampler"]["chosen"] = "bogus"  # a hand-edited study.json
    record_path.write_text(json.dumps(record))
    journal = (tmp_path / "fn" / "study.journal").read_bytes()
    resumed = run_cli(path, "--results", tmp_path, "--no-tracking", "--resume", "--trials", "5",
                      cwd=tmp_path)
    assert resumed.returncode == 2, resumed.stderr
    assert resumed.stderr.count("\n") == 1 and "cannot build the recorded choice" in resumed.stderr
    assert (tmp_path / "fn" / "study.journal").read_bytes() == journal
    assert json.loads(record_path.read_text()) == record


def test_a_named_tpe_samples_as_optunas_own_tpe_with_its_defaults():
    import optuna

    from search.core._strategies import make_sampler

    def sampled(sampler: optuna.samplers.BaseSampler) -> list[tuple[float, float]]:
        study = optuna.create_study(sampler=sampler)
        for _ in range(20):
            trial = study.ask()
            x, y = trial.suggest_float("x", -5, 10), trial.suggest_float("y", 0, 15)
            study.tell(trial, (y - 0.13 * x**2 + 1.6 * x - 6) ** 2)
        return [(t.params["x"], t.params["y"]) for t in study.trials]

    space = Space({"x": Float(-5, 10), "y": Float(0, 15)})
    ours = sampled(make_sampler("tpe", space, seed=3))
    assert ours == sampled(optuna.samplers.TPESampler(seed=3))  # Optuna 5: multivariate
