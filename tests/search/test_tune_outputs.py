"""What a Ray Tune style study leaves behind, read back: per-step metrics, checkpoints and a
Population Based Training lineage through ``search.load``, MLflow and ``report.html``.

The studies run through the real command (``python -m search STUDY.py``); MLflow is read with
its own client, the report opened in headless Chromium.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import pytest

import search
from search import UserError
from tests.conftest import run_cli, stored_trials

pytest.importorskip("mlflow")
pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy")

STEPS = 6

METRICS_STUDY = f"""
from search import Study
from spaces import Float, Space

def objective(config, trial):
    loss = 1.0
    for step in range(1, {STEPS} + 1):
        loss *= config["decay"]
        trial.report(loss, step)
        trial.report_metrics(step, {{
            "loss": loss, "acc": 1.0 - loss / 2, "val/loss": loss + 0.1, "training_iteration": step,
            "phase": "warmup" if step < 3 else "train", "done": step == {STEPS},
        }})
    return loss

study = Study(name="steps", space=Space({{"decay": Float(0.5, 0.9)}}), objective=objective,
              direction="minimize", trials=3, seed=0, sampler="random", pruner="none")
"""

PBT_STUDY = """
import search.core._pbt as pbt
from objectives import Pruned
from search import Study
from spaces import Float, Space

def objective(config, trial):
    state = trial.last_checkpoint() or {"step": 0, "score": 0.0}
    step, score = state["step"], state["score"]
    while step < 30:
        step += 1
        score += config["lr"]
        trial.report(score, step)
        trial.report_metrics(step, {"score": score, "lr": config["lr"],
                                    "training_iteration": step})
        if step % 5 == 0:
            trial.checkpoint({"step": step, "score": score}, step=step)
        if step < 30 and trial.should_prune():
            raise Pruned(f"the segment ends at step {step}")
    return score

study = Study(
    name="population",
    space=Space({"lr": Float(1e-4, 0.02)}),
    objective=objective,
    direction="maximize",
    pruner=pbt.PBT(perturbation_interval=5, hyperparam_mutations={"lr": Float(1e-4, 0.02)},
                   seed=0),
    trials=4,
    workers=2,
    sampler="random",
    seed=0,
)
"""


def client(results: Path) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(f"sqlite:///{(results / 'mlflow.db').resolve()}")


def trial_runs(results: Path, name: str) -> dict[int, Any]:
    c = client(results)
    found = c.get_experiment_by_name(name)
    runs = c.search_runs([found.experiment_id], "tags.`search.kind` = 'trial'", max_results=500)
    return {int(r.data.tags["search.trial"]): r for r in runs}


def history(results: Path, run: Any, key: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in client(results).get_metric_history(run.info.run_id,
                                                                                   key))


@pytest.fixture(scope="module")
def steps_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("steps")
    (root / "study.py").write_text(METRICS_STUDY, encoding="utf-8")
    result = run_cli(root / "study.py", "--results", root / "out", cwd=root)
    assert result.returncode == 0, result.stderr
    return root / "out"


@pytest.fixture(scope="module")
def pbt_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pbt")
    (root / "study.py").write_text(PBT_STUDY, encoding="utf-8")
    result = run_cli(root / "study.py", "--results", root / "out", cwd=root)
    assert result.returncode == 0, result.stderr
    return root / "out"


def test_per_step_metrics_read_back_through_search_load(steps_study):
    results = search.load(steps_study / "steps")
    trials = stored_trials(steps_study / "steps")
    assert len(trials) == 3
    for trial in trials:
        steps = results.metrics(trial.number)
        assert [s["step"] for s in steps] == list(range(1, STEPS + 1))
        assert [s["training_iteration"] for s in steps] == list(range(1, STEPS + 1))
        assert [s["loss"] for s in steps] == [trial.intermediate_values[k] for k in range(1, 7)]
        assert steps[0]["phase"] == "warmup" and steps[-1]["done"] is True
        assert results.checkpoint(trial.number) is None  # it saved none
    frame = results.metrics_frame()
    assert list(frame.columns[:3]) == ["number", "step", "value"]
    assert {"loss", "acc", "val/loss", "training_iteration", "phase", "done"} <= set(frame.columns)
    assert len(frame) == 3 * STEPS
    assert (frame["value"] == frame["loss"]).all()
    last = frame[frame["step"] == STEPS].set_index("number")["loss"]
    assert last.to_dict() == {t.number: t.value for t in trials}
    assert results.lineage is None  # no PBT
    with pytest.raises(UserError, match="no trial 3; the study has 3 trials"):
        results.metrics(3)
    with open(steps_study / "steps" / "trials.csv", newline="") as f:
        assert "pbt_member" not in next(csv.reader(f))


def test_per_step_metrics_are_each_trial_runs_metric_history_in_mlflow(steps_study):
    runs = trial_runs(steps_study, "steps")
    for trial in stored_trials(steps_study / "steps"):
        run = runs[trial.number]
        reported = [(k, v) for k, v in sorted(trial.intermediate_values.items())]
        assert history(steps_study, run, "loss") == reported
        assert history(steps_study, run, "acc") == [(k, 1.0 - v / 2) for k, v in reported]
        assert history(steps_study, run, "val/loss") == [(k, v + 0.1) for k, v in reported]
        assert history(steps_study, run, "training_iteration") == [(k, float(k)) for k, _ in
                                                                   reported]
        assert run.data.metrics["loss"] == trial.value  # the latest: the last step's
        assert not {"phase", "done"} & set(run.data.metrics)  # text and booleans are not charted
        assert not any(key.startswith("pbt.") for key in run.data.tags)
    page = (steps_study / "steps" / "report.html").read_text(encoding="utf-8")
    assert "after each step" in page and "Population Based Training" not in page


def test_a_pbt_studys_lineage_chains_each_members_segments(pbt_study):
    folder = pbt_study / "population"
    results = search.load(folder)
    lineage = results.lineage
    trials = {t.number: t for t in stored_trials(folder)}
    assert lineage is not None and sorted(lineage) == [0, 1, 2, 3]
    segments = {s["trial"]: s for member in lineage.values() for s in member}
    assert sorted(segments) == sorted(trials)  # every trial is one segment
    exploited = 0
    for member, chain in lineage.items():
        first = {k: chain[0][k] for k in ("trial", "segment", "from_step", "parent", "exploited")}
        assert first == {"trial": member, "segment": 0, "from_step": 0, "parent": None,
                         "exploited": False}
        assert [s["segment"] for s in chain] == list(range(len(chain)))
        for before, segment in zip(chain, chain[1:], strict=False):
            parent = segments[segment["parent"]]
            assert parent["trial"] < segment["trial"]
            assert segment["from_step"] == parent["to_step"]  # its parent's checkpoint
            if segment["exploited"]:
                exploited += 1
                assert parent["trial"] not in {s["trial"] for s in chain}
            else:
                assert parent["trial"] == before["trial"]
                assert segment["params"] == before["params"]
        for segment in chain:
            trial = trials[segment["trial"]]
            assert segment["params"] == trial.params and segment["state"] == "COMPLETE"
            assert segment["to_step"] == max(trial.intermediate_values, default=segment[
                "from_step"])
        assert chain[-1]["to_step"] == 30  # every member trains to the end
    assert exploited >= 1  # the worst member took a better one's checkpoint at least once


def test_a_pbt_segments_checkpoint_and_metrics_read_back(pbt_study):
    folder = pbt_study / "population"
    results = search.load(folder)
    segment = results.lineage[0][1]  # member 0's second segment: steps 6 to 10
    path = results.checkpoint(segment["trial"])
    assert path is not None and path.is_absolute() and path.name == "step-000010"
    assert path.parent.parent.name == f"trial_{segment['trial']:05d}" and path.is_dir()
    state = results.load_checkpoint(segment["trial"])
    assert state["step"] == 10 and math.isclose(state["score"], segment["value"])
    assert [m["step"] for m in results.metrics(segment["trial"])] == list(range(6, 11))
    frame = results.metrics_frame()
    assert len(frame) == sum(len(t.intermediate_values) for t in stored_trials(folder))
    (path / "state.pkl").write_bytes(b"not the state the run saved")
    with pytest.raises(UserError, match="does not verify"):
        results.load_checkpoint(segment["trial"])


def test_a_pbt_studys_runs_trials_csv_and_report_show_the_lineage(pbt_study, tmp_path):
    folder = pbt_study / "population"
    lineage = search.load(folder).lineage
    segments = {s["trial"]: (member, s) for member, chain in lineage.items() for s in chain}
    for number, run in trial_runs(pbt_study, "population").items():
        member, segment = segments[number]
        tags = run.data.tags
        assert tags["pbt.member"] == str(member)
        assert tags["pbt.segment"] == str(segment["segment"])
        assert tags["pbt.exploited"] == str(segment["exploited"]).lower()
        assert tags.get("pbt.parent") == (None if segment["parent"] is None
                                          else str(segment["parent"]))
        assert [s for s, _ in history(pbt_study, run, "score")] == list(
            range(segment["from_step"] + 1, segment["to_step"] + 1))
    with open(folder / "trials.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {int(r["number"]): (int(r["pbt_member"]), int(r["pbt_segment"])) for r in rows} == {
        n: (m, s["segment"]) for n, (m, s) in segments.items()}

    from tests.search.test_report import chromium, figures, not_shown, open_report

    page = (folder / "report.html").read_text(encoding="utf-8")
    lineage_part = page.split("<h2>Population Based Training lineage</h2>", 1)[1]
    lineage_part = lineage_part.split("</section>", 1)[0]
    assert "Members' value over the steps" in lineage_part
    assert "Schedule of lr" in lineage_part
    rows = lineage_part.split("<tbody>", 1)[1].count("<tr>")
    assert rows == 4  # a row a member
    for chain in lineage.values():
        assert " → ".join(str(s["trial"]) for s in chain) in lineage_part
    assert not_shown(page) == ["this study has no data, so it has no test set"]
    with chromium(tmp_path) as browser:
        assert open_report(browser, folder / "report.html") == figures(page)
        assert browser.errors() == []


def test_bulk_written_step_metrics_and_pbt_tags_read_back_as_the_clients(tmp_path, monkeypatch):
    from tests.search.test_tracking_bulk import START, children, readable, record, same, writer

    records = [
        record(0, "COMPLETE", value=0.4, steps={1: 0.2, 2: 0.4},
               step_metrics=[(1, {"loss": 0.8, "val/loss": 0.9, "timestamp": 1_790_000_001.0}),
                             (2, {"loss": 0.6, "value": 0.4, "acc@1": 0.5})],
               pbt={"member": 0, "segment": 0, "parent": None, "from_step": 0,
                    "exploited": False}),
        record(1, "COMPLETE", value=0.5, steps={3: 0.5}, step_metrics=[(3, {"loss": 0.5})],
               pbt={"member": 0, "segment": 1, "parent": 0, "from_step": 2, "exploited": True}),
    ]
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    bulk, one_by_one = writer(tmp_path, uri, "bulk"), writer(tmp_path, uri, "client")
    one_by_one.bulk = None
    bulk.trials(records)
    one_by_one.trials(records)
    assert bulk.bulk is not None  # no write fell back to the client
    written, expected = children(bulk), children(one_by_one)
    for number in (0, 1):
        ours, theirs = readable(bulk, written[number]), readable(one_by_one, expected[number])
        assert same(ours, theirs), (number, ours, theirs)
    first = readable(bulk, written[0])
    assert first["history"]["loss"][0] == (1, 1_790_000_001_000, 0.8)  # at the step's time
    assert first["history"]["loss"][1] == (2, START + 700, 0.6)  # else at the trial's end
    assert first["history"]["reported.value"] == [(2, START + 700, 0.4)]  # not the run's value
    assert "acc_1" in first["metrics"] and first["metrics"]["value"] == 0.4
    assert first["tags"]["pbt.member"] == "0" and "pbt.parent" not in first["tags"]
    assert readable(bulk, written[1])["tags"]["pbt.parent"] == "0"
