"""Several objectives at once: a Pareto front in every output, constraints kept off it, and one
final evaluation for the point a stated rule picks."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.conftest import run_cli, stored_trials
from tests.search.test_report_figures import plotted

ZDT1 = """
import math
from search import Study
from spaces import Float, Space

def zdt1(config):
    x = [config[f"x{{i}}"] for i in range(3)]
    f1 = x[0]
    g = 1 + 9 * sum(x[1:]) / (len(x) - 1)
    return {{"f1": f1, "f2": g * (1 - math.sqrt(f1 / g))}}

study = Study(name="zdt1", space=Space({{f"x{{i}}": Float(0, 1) for i in range(3)}}),
              objective=zdt1, directions={{"f1": "minimize", "f2": "minimize"}},
              trials=30, seed=0, sampler="{sampler}"{extra})
"""


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def dominates(a: list[float], b: list[float]) -> bool:
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(
        x < y for x, y in zip(a, b, strict=True)
    )


@pytest.mark.parametrize("sampler", ["tpe", "nsga2"])
def test_a_two_objective_function_finds_a_front_of_non_dominated_points(
    write_study, tmp_path, sampler
):
    path = write_study(ZDT1.format(sampler=sampler, extra=""))
    result = run_cli(path, "--results", tmp_path, "--no-tracking", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "zdt1"
    trials = stored_trials(folder)
    assert len(trials) == 30 and {t.state.name for t in trials} == {"COMPLETE"}
    best = json.loads((folder / "best.json").read_text())
    front = best["pareto"]
    assert front, best
    every = [t.values for t in trials]
    for point in front:  # every front point is non-dominated among all the trials
        values = [point["values"]["f1"], point["values"]["f2"]]
        assert not any(dominates(other, values) for other in every)
    off_front = [t for t in trials if t.number not in {p["number"] for p in front}]
    for trial in off_front:  # and every other trial is dominated by some front point
        assert any(dominates([p["values"]["f1"], p["values"]["f2"]], trial.values) for p in front)
    assert best["selected"]["number"] == min(front, key=lambda p: p["values"]["f1"])["number"]
    assert "best f1 on the Pareto front" in best["selected"]["rule"]
    rows = read_csv(folder / "trials.csv")  # one value column per objective
    assert "value_f1" in rows[0] and "value_f2" in rows[0] and "value" not in rows[0]
    shown = run_cli("show", folder, cwd=tmp_path)
    assert shown.returncode == 0 and f"Pareto front: {len(front)} configs" in shown.stdout
    report = (folder / "report.html").read_text(encoding="utf-8")
    assert "Pareto front" in report and "Pareto front configs" in report
    assert "{&#x27;x0&#x27;: " in report and "&amp;#x27;" not in report  # escaped once
    [marked] = [t for f in plotted(report) for t in f["data"] if t["name"] == "Pareto front"]
    assert marked["text"] == [f"trial {p['number']}" for p in front]


def test_constraints_keep_infeasible_trials_off_the_front(write_study, tmp_path):
    extra = ', constraints={"f1": (">=", 0.2)}, pick="f2"'
    path = write_study(ZDT1.format(sampler="tpe", extra=extra))
    result = run_cli(path, "--results", tmp_path, "--no-tracking", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "zdt1"
    trials = stored_trials(folder)
    infeasible = {t.number for t in trials if t.values[0] < 0.2}
    assert infeasible, "the constraint should bite on 30 random-ish trials"
    for trial in trials:  # recorded, with Optuna's own constraint values
        assert trial.state.name == "COMPLETE"
        assert (trial.number in infeasible) == (max(trial.constraints.values()) > 0)
    best = json.loads((folder / "best.json").read_text())
    assert not {p["number"] for p in best["pareto"]} & infeasible
    feasible = [t for t in trials if t.number not in infeasible]
    assert best["selected"]["number"] == min(feasible, key=lambda t: t.values[1]).number
    rows = read_csv(folder / "trials.csv")
    assert {r["number"] for r in rows if r["feasible"] == "False"} == {str(n) for n in infeasible}


CLASSIFIER = """
from sklearn.ensemble import RandomForestClassifier
from objectives import SklearnObjective
from search import Data, Study
from spaces import Int, Space

study = Study(
    name="small_forest",
    data=Data("breast_cancer"),
    space=Space({"n_estimators": Int(2, 60, log=True), "max_depth": Int(1, 8)}),
    objective=SklearnObjective(RandomForestClassifier(), folds=3),
    metric=["accuracy", "model_bytes"],
    pick="accuracy where model_bytes <= 200000",
    trials=10,
    seed=1,
)
"""


def test_a_classifier_tuned_on_accuracy_and_size_opens_the_test_once(write_study, tmp_path):
    path = write_study(CLASSIFIER)
    result = run_cli(path, "--results", tmp_path, "--no-tracking", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "small_forest"
    record = json.loads((folder / "study.json").read_text())
    assert record["directions"] == {"accuracy": "maximize", "model_bytes": "minimize"}
    best = json.loads((folder / "best.json").read_text())
    small = [p for p in stored_trials(folder) if p.values[1] <= 200_000]
    chosen = max(small, key=lambda t: (t.values[0], -t.number))
    assert best["selected"]["number"] == chosen.number
    final = json.loads((folder / "final.json").read_text())
    assert final["trial"] == chosen.number and final["status"] == "evaluated"
    assert set(final["test_values"]) == {"accuracy", "model_bytes"}
    assert 0.8 < final["test_values"]["accuracy"] <= 1.0 and final["test_values"]["model_bytes"] > 0
    again = run_cli("final", folder, cwd=tmp_path)  # the test set was opened once
    assert again.returncode == 2 and "already opened" in again.stderr


@pytest.mark.parametrize(
    "field, message",
    [
        ('directions={"f1": "up"}', "directions['f1'] must be one of maximize, minimize"),
        ('directions={"f1": "minimize"}, direction="minimize"', "not both"),
        ('directions={"f1": "minimize", "f2": "minimize"}, pick="f3"', "pick names 'f3'"),
        ('directions={"f1": "minimize", "f2": "minimize"}, constraints={"f1": ("<", 1)}',
         "op must be '<=' or '>='"),
        ('directions={"f1": "minimize", "f2": "minimize"}, sampler="cmaes"',
         "CMA-ES optimizes one objective"),
    ],
)
def test_bad_goals_are_one_line_and_write_nothing(write_study, tmp_path, field, message):
    body = f"""
from search import Study
from spaces import Float, Space
study = Study(name="bad", space=Space({{"x": Float(0, 1)}}),
              objective=lambda config: {{"f1": config["x"], "f2": 1 - config["x"]}}, {field})
"""
    result = run_cli(write_study(body), "--results", tmp_path / "out", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr
    assert not (tmp_path / "out").exists()


TUPLE = """
from search import Study
from spaces import Float, Space
study = Study(name="tuple", space=Space({{"x": Float(0, 1)}}),
              objective=lambda config: {returned},
              directions={{"f1": "minimize", "f2": "minimize"}}, trials=3, seed=0)
"""


def test_a_tuple_fills_the_named_objectives_in_order(write_study, tmp_path):
    path = write_study(TUPLE.format(returned='(config["x"], 1 - config["x"])'))
    result = run_cli(path, "--results", tmp_path, "--no-tracking", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = read_csv(tmp_path / "tuple" / "trials.csv")
    assert len(rows) == 3 and {r["state"] for r in rows} == {"COMPLETE"}
    for row in rows:
        x = float(row["params_x"])
        assert float(row["value_f1"]) == x and float(row["value_f2"]) == pytest.approx(1 - x)


def test_a_tuple_of_the_wrong_length_stops_at_the_first_trial(write_study, tmp_path):
    path = write_study(TUPLE.format(returned='(config["x"], 1.0, 2.0)'))
    result = run_cli(path, "--results", tmp_path, "--no-tracking", cwd=tmp_path)
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert ("trial 0: the objective returned 3 values, but the study has 2 objectives "
            "(f1, f2)") in result.stderr
    assert [r["state"] for r in read_csv(tmp_path / "tuple" / "trials.csv")] == ["FAIL"]


def test_several_objectives_on_ray_reach_mlflow_and_search_load(write_study, tmp_path):
    pytest.importorskip("ray")
    pytest.importorskip("mlflow")
    import search

    path = write_study(ZDT1.format(sampler="nsga2", extra=""))
    result = run_cli(path, "--results", tmp_path, "--backend", "ray", "--workers", "2",
                     "--trials", "12", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "zdt1"
    best = json.loads((folder / "best.json").read_text())
    loaded = search.load(folder)
    assert loaded.pareto == best["pareto"] and loaded.multi_objective

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("zdt1").experiment_id])
    parent = next(r for r in runs if r.data.tags.get("search.kind") == "study")
    numbers = {p["number"] for p in best["pareto"]}
    assert parent.data.tags["search.pareto_trials"] == ",".join(map(str, sorted(numbers)))
    children = [r for r in runs if r.data.tags.get("search.kind") == "trial"]
    assert len(children) == 12
    for child in children:
        assert {"value_f1", "value_f2"} <= set(child.data.metrics)
