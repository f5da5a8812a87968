"""Ray Tune's trial API inside a trial, the framework's engine the controller:
``search.Trainable(train_fn, metric=..., mode=...)`` as a study's objective. Each trainable here
is in a shape Ray Tune's examples use (``tune_basic_example.py``'s ``easy_objective``, a
``while True`` loop ended by ``stop``, a checkpointing loop, a class trainable); the study files
run through the real command."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ray.tune")

import optuna  # noqa: E402
from ray import tune  # noqa: E402

import objectives  # noqa: E402
from search import Trainable  # noqa: E402
from tests.conftest import run_cli, stored_trials  # noqa: E402


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def run_study(write_study: Any, tmp_path: Path, source: str, *flags: str) -> Any:
    path = write_study(source)
    result = run_cli(path, "--results", tmp_path / "out", "--no-tracking", *flags, cwd=tmp_path)
    return result


# --- through the command ------------------------------------------------------------------------

BASIC = """
from ray import tune
import ray.train
import search
from search import Study

def evaluation_fn(step, width, height):
    return (0.1 + width * step / 100) ** (-1) + height * 0.1

def easy_objective(config):
    width, height = config["width"], config["height"]
    context = tune.get_context()
    folder = context.get_trial_dir()
    with open(folder + "/whoami.json", "w") as f:
        f.write('{"id": "%s", "name": "%s"}' % (context.get_trial_id(), context.get_trial_name()))
    for step in range(config["steps"]):
        intermediate_score = evaluation_fn(step, width, height)
        report = tune.report if step % 2 == 0 else ray.train.report  # both work
        report({"iterations": step, "mean_loss": intermediate_score})

study = Study(
    name="tune_basic",
    space={"steps": 5, "width": tune.uniform(0, 20), "height": tune.uniform(-100, 100)},
    objective=search.Trainable(easy_objective, metric="mean_loss", mode="min"),
    trials=3, seed=0, pruner="none",
)
"""


@pytest.mark.parametrize("backend", ["local", "ray"])
def test_tune_basic_example_completes_every_trial(write_study, tmp_path, backend):
    result = run_study(write_study, tmp_path, BASIC, "--backend", backend)
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "out" / "tune_basic"
    trials = stored_trials(folder)
    assert [t.state.name for t in trials] == ["COMPLETE"] * 3
    for trial in trials:
        assert sorted(trial.intermediate_values) == [1, 2, 3, 4, 5]  # training_iteration
        assert trial.value == trial.intermediate_values[5]  # the last reported mean_loss
        whoami = json.loads((folder / "trials" / f"trial_{trial.number:05d}" / "whoami.json")
                            .read_text())
        assert whoami == {"id": f"tune_basic_{trial.number:05d}",
                          "name": f"easy_objective_tune_basic_{trial.number:05d}"}
    study = json.loads((folder / "study.json").read_text())
    assert study["direction"] == "minimize"  # from mode="min"
    best = json.loads((folder / "best.json").read_text())
    assert best["value"] == min(t.value for t in trials)


STOPPED = """
from ray import tune
import search
from search import Study

def train(config, data):
    step = 0
    while True:
        step += 1
        tune.report({"score": config["opt"]["lr"] * step + sum(data)})

study = Study(
    name="stopped",
    space={"opt": {"lr": tune.uniform(0.1, 1.0)}},
    objective=search.Trainable(tune.with_parameters(train, data=[1, 2, 3]), metric="score",
                               mode="max", stop={"training_iteration": 4}),
    trials=2, seed=1, pruner="none",
)
"""


def test_a_stop_dict_ends_a_while_true_trainable_complete(write_study, tmp_path):
    result = run_study(write_study, tmp_path, STOPPED)
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "out" / "stopped"
    trials = stored_trials(folder)
    assert [t.state.name for t in trials] == ["COMPLETE"] * 2
    for trial in trials:
        lr = trial.params["opt__lr"]  # the group's parameter, nested again for the trainable
        assert sorted(trial.intermediate_values) == [1, 2, 3, 4]
        assert trial.value == pytest.approx(4 * lr + 6)  # with_parameters' data came along
    assert json.loads((folder / "study.json").read_text())["direction"] == "maximize"


PRUNED = """
import optuna
from ray import tune
import search
from search import Study

def train(config):
    for step in range(10):
        tune.report({"loss": config["x"] + 1 + step})

study = Study(
    name="pruned", space={"x": tune.uniform(0, 1)},
    objective=search.Trainable(train, metric="loss", mode="min"),
    pruner=optuna.pruners.ThresholdPruner(upper=-1), trials=2, seed=0,
)
"""


def test_a_pruner_that_always_prunes_prunes_at_the_first_report(write_study, tmp_path):
    result = run_study(write_study, tmp_path, PRUNED)
    assert result.returncode == 1 and "no trial completed (2 PRUNED)" in result.stderr, \
        result.stderr
    trials = stored_trials(tmp_path / "out" / "pruned")
    assert [t.state.name for t in trials] == ["PRUNED"] * 2
    assert all(list(t.intermediate_values) == [1] for t in trials)


RESTORED = """
import json, os, tempfile
from pathlib import Path
from ray import tune
import search
from search import Study

DIED = Path(__file__).parent / "died"

def train(config):
    start, total = 0, 0.0
    checkpoint = tune.get_checkpoint()
    if checkpoint:
        with checkpoint.as_directory() as folder:
            state = json.loads((Path(folder) / "state.json").read_text())
        start, total = state["step"], state["total"]
        Path(tune.get_context().get_trial_dir(), "resumed.json").write_text(json.dumps(state))
    for step in range(start, 6):
        total += config["x"]
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / "state.json").write_text(json.dumps({"step": step + 1,
                                                                 "total": total}))
            tune.report({"loss": total}, checkpoint=tune.Checkpoint.from_directory(folder))
        if step == 2 and not DIED.exists():
            DIED.write_text("")
            os._exit(3)  # the worker dies: the engine runs the trial again from its checkpoint

class Counter(tune.Trainable):
    def setup(self, config):
        self.total = 0.0

    def step(self):
        self.total += self.config["x"]
        if self.iteration == 3 and not (DIED.parent / "died-class").exists():
            (DIED.parent / "died-class").write_text("")
            os._exit(3)
        return {"loss": self.total}

    def save_checkpoint(self, checkpoint_dir):
        return {"total": self.total}

    def load_checkpoint(self, checkpoint):
        self.total = checkpoint["total"]
        Path(self.logdir, "resumed.json").write_text(json.dumps(
            {"total": self.total, "iteration": self.iteration}))

study = Study(
    name="restored", space={"x": tune.uniform(1, 2)},
    objective=search.Trainable(TRAINABLE, metric="loss", mode="min",
                               stop={"training_iteration": 6}),
    trials=1, seed=0, pruner="none",
)
"""


@pytest.mark.parametrize("trainable", ["train", "Counter"])
def test_a_trial_whose_worker_died_continues_from_its_checkpoint(write_study, tmp_path,
                                                                 trainable):
    result = run_study(write_study, tmp_path, RESTORED.replace("TRAINABLE", trainable))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "died").exists() or (tmp_path / "died-class").exists()
    folder = tmp_path / "out" / "restored"
    [trial] = stored_trials(folder)
    x = trial.params["x"]
    assert trial.state.name == "COMPLETE"
    assert sorted(trial.intermediate_values) == [1, 2, 3, 4, 5, 6]
    assert trial.value == pytest.approx(6 * x)
    resumed = json.loads((folder / "trials" / "trial_00000" / "resumed.json").read_text())
    assert resumed["total"] == pytest.approx(3 * x)  # the third report's checkpoint
    if trainable == "Counter":
        assert resumed["iteration"] == 3  # self.iteration, as Tune restores it


FAILING = """
from ray import tune
import search
from search import Study

def train(config):
    if tune.get_context().get_trial_id().endswith("0"):
        tune.report({"accuracy": 0.5, "epoch": 1})

study = Study(
    name="failing", space={"x": tune.uniform(0, 1)},
    objective=search.Trainable(train, metric="loss", mode="min"),
    trials=2, seed=0, pruner="none",
)
"""


def test_what_a_trainable_gets_wrong_fails_its_trial_in_one_line(write_study, tmp_path):
    result = run_study(write_study, tmp_path, FAILING)
    assert result.returncode == 1, result.stderr  # no trial complete
    rows = read_csv(tmp_path / "out" / "failing" / "trials.csv")
    assert [r["state"] for r in rows] == ["FAIL", "FAIL"]
    assert "reported accuracy, epoch with tune.report, but not the metric 'loss'" in \
        rows[0]["error"]
    assert "train reported nothing with tune.report" in rows[1]["error"]
    assert all("\n" not in r["error"] for r in rows)


def test_a_mode_that_is_not_min_or_max_is_one_line(write_study, tmp_path):
    source = FAILING.replace('mode="min"', 'mode="minimize"')
    result = run_study(write_study, tmp_path, source)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "Trainable: mode must be 'min', 'max' or None" in result.stderr


# --- the trainable with a trial double ----------------------------------------------------------


class FakeStudy:
    study_name = "exp"
    direction = optuna.study.StudyDirection.MINIMIZE

    def __init__(self) -> None:
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True


class FakeTrial:
    """A trial handle with the checkpoint API a worker's trial has."""

    def __init__(self, prune_at: int | None = None, restore: Any = None,
                 restore_step: int | None = None, folder: Path | None = None) -> None:
        self.number = 7
        self.artifact_dir = folder
        self.study = FakeStudy()
        self.reports: list[tuple[int, float]] = []
        self.metrics: list[tuple[int, dict[str, Any]]] = []
        self.saved: list[tuple[int, Any]] = []
        self.prune_at = prune_at
        self._restore = restore
        self.last_checkpoint_step = restore_step

    def report(self, value: float, step: int) -> None:
        self.reports.append((step, value))

    def report_metrics(self, step: int, metrics: dict[str, Any]) -> None:
        json.dumps(metrics)  # plain values only
        self.metrics.append((step, metrics))

    def should_prune(self) -> bool:
        return self.prune_at is not None and len(self.reports) >= self.prune_at

    def checkpoint(self, source: Any, *, step: int | None = None) -> Path:
        if isinstance(source, Path):
            source = {p.name: p.read_text() for p in source.iterdir()}
        self.saved.append((step, source))
        return Path("unused")

    def last_checkpoint(self) -> Any:
        return self._restore


def evaluate(trainable: Trainable, trial: FakeTrial | None = None,
             config: dict[str, Any] | None = None) -> float:
    trainable.check(None, None, None)
    return trainable.evaluate(config or {}, None, trial or FakeTrial(), None)


def test_reports_carry_tunes_own_metrics_as_plain_values():
    import numpy as np

    def train(config):
        tune.report({"loss": np.float32(0.5), "nested": {"acc": np.int64(3)},
                     "array": np.zeros(3), "obj": object(), "nan": float("nan")})

    trial = FakeTrial()
    assert evaluate(Trainable(train, metric="loss"), trial) == 0.5
    [(step, metrics)] = trial.metrics
    assert step == 1 and metrics["nested/acc"] == 3 and metrics["loss"] == 0.5
    assert {"array", "obj", "nan"}.isdisjoint(metrics)
    assert metrics["training_iteration"] == 1 and metrics["trial_id"] == "exp_00007"
    assert {"time_total_s", "time_this_iter_s", "timestamp", "done"} <= set(metrics)


def test_the_session_is_removed_after_the_trial_and_ray_train_is_put_back():
    import ray.train
    from ray.train._internal import session

    before = ray.train.report, ray.train.get_checkpoint, ray.train.get_context
    evaluate(Trainable(lambda config: tune.report({"loss": 1.0}), metric="loss"))
    assert session._session is None
    assert (ray.train.report, ray.train.get_checkpoint, ray.train.get_context) == before


@pytest.mark.parametrize(("scope", "mode", "expected"),
                         [("last", "min", 2.0), ("all", "min", 1.0), ("all", "max", 3.0),
                          ("all", None, 1.0)])  # None: the study's direction (minimize)
def test_scope_says_which_reported_value_is_the_trials(scope, mode, expected):
    def train(config):
        for value in (3.0, 1.0, 2.0):
            tune.report({"loss": value})

    assert evaluate(Trainable(train, metric="loss", mode=mode, scope=scope)) == expected


def test_returned_and_yielded_results_are_reports():
    def returns(config):
        tune.report({"loss": 5.0})
        return {"loss": 4.0}

    trial = FakeTrial()
    assert evaluate(Trainable(returns, metric="loss"), trial) == 4.0
    assert trial.metrics[-1][1]["done"] is True

    def yields(config):
        yield {"_metric": 3.0}
        yield 2.0  # a number is Tune's "_metric"

    trial = FakeTrial()
    assert evaluate(Trainable(yields, metric="_metric"), trial) == 2.0
    assert [s for s, _ in trial.reports] == [1, 2]
    with pytest.raises(objectives.ObjectiveError, match="reported _metric with tune.report, "
                                                       "but not the metric 'loss'"):
        evaluate(Trainable(yields, metric="loss"))


def test_stop_functions_and_stoppers_end_the_trial_complete():
    def forever(config):
        while True:
            tune.report({"loss": 1.0})

    trial = FakeTrial()
    stop = lambda trial_id, result: result["training_iteration"] >= 3  # noqa: E731
    assert evaluate(Trainable(forever, metric="loss", stop=stop), trial) == 1.0
    assert [s for s, _ in trial.reports] == [1, 2, 3]

    trial = FakeTrial()
    stopper = tune.stopper.MaximumIterationStopper(2)
    assert evaluate(Trainable(forever, metric="loss", stop=stopper), trial) == 1.0
    assert [s for s, _ in trial.reports] == [1, 2]

    class StopAll(tune.stopper.Stopper):
        def __call__(self, trial_id, result):
            return False

        def stop_all(self):
            return True

    trial = FakeTrial()
    evaluate(Trainable(forever, metric="loss", stop=StopAll()), trial)
    assert trial.study.stopped and len(trial.reports) == 1


def test_pruning_is_asked_after_each_report_and_passes_any_except():
    def stubborn(config):
        for _ in range(10):
            try:
                tune.report({"loss": 1.0})
            except Exception:  # noqa: BLE001 - code that swallows errors cannot swallow pruning
                pass

    trial = FakeTrial(prune_at=2)
    with pytest.raises(objectives.Pruned):
        evaluate(Trainable(stubborn, metric="loss"), trial)
    assert [s for s, _ in trial.reports] == [1, 2]


def test_checkpoints_are_kept_and_a_restored_one_continues_the_iterations(tmp_path):
    def train(config):
        checkpoint = tune.get_checkpoint()
        start = 0
        if checkpoint:
            with checkpoint.as_directory() as folder:
                start = int(Path(folder, "step").read_text())
        for step in range(start, 4):
            folder = tmp_path / f"save-{step}"
            folder.mkdir(exist_ok=True)
            (folder / "step").write_text(str(step + 1))
            tune.report({"loss": float(step)}, checkpoint=tune.Checkpoint.from_directory(folder))

    trial = FakeTrial()
    evaluate(Trainable(train, metric="loss"), trial)
    assert [s for s, _ in trial.saved] == [1, 2, 3, 4]
    assert trial.saved[1][1] == {"step": "2"}
    restored = tmp_path / "restored"
    restored.mkdir()
    (restored / "step").write_text("2")
    trial = FakeTrial(restore=restored, restore_step=2)
    evaluate(Trainable(train, metric="loss"), trial)
    assert [s for s, _ in trial.reports] == [3, 4]


class Steps(tune.Trainable):
    def setup(self, config, offset=0.0):
        self.total = offset

    def step(self):
        self.total += self.config["x"]
        return {"loss": self.total, "iteration_seen": self.iteration}

    def save_checkpoint(self, checkpoint_dir):
        return {"total": self.total}

    def load_checkpoint(self, checkpoint):
        self.total = checkpoint["total"]


def test_a_class_trainable_steps_saves_and_restores(tmp_path):
    trial = FakeTrial(folder=tmp_path / "trial")
    trainable = Trainable(Steps, metric="loss", stop={"training_iteration": 3})
    assert evaluate(trainable, trial, {"x": 2.0}) == 6.0
    assert [s for s, _ in trial.saved] == [1, 2, 3] and trial.saved[-1][1] == {"total": 6.0}
    assert [m["iteration_seen"] for _, m in trial.metrics] == [0, 1, 2]
    trial = FakeTrial(restore={"total": 4.0}, restore_step=2)
    assert evaluate(trainable, trial, {"x": 2.0}) == 6.0
    assert [s for s, _ in trial.reports] == [3]

    wrapped = tune.with_parameters(Steps, offset=10.0)
    trainable = Trainable(wrapped, metric="loss", stop={"training_iteration": 1})
    assert trainable.fn is Steps and trainable.with_parameters == {"offset": 10.0}
    assert evaluate(trainable, FakeTrial(), {"x": 1.0}) == 11.0


def test_rays_wrappers_are_taken_apart():
    from search.scripts._tune_session import resources_of

    def train(config, data=None):
        tune.report({"loss": float(sum(data))})

    wrapped = tune.with_resources(tune.with_parameters(train, data=[1, 2]),
                                  {"cpu": 2, "gpu": 1})
    trainable = Trainable(wrapped, metric="loss")
    assert trainable.fn is train and trainable.with_parameters == {"data": [1, 2]}
    assert trainable.resources == {"CPU": 2.0, "GPU": 1.0}
    assert evaluate(trainable) == 3.0
    assert resources_of(train) is None


def test_the_space_gives_the_nested_config_unless_the_trainable_has_one():
    from spaces import Space

    space = Space({"opt": {"lr": tune.uniform(0.1, 1.0)}, "steps": 2})
    seen = []
    trainable = Trainable(lambda config: seen.append(config) or {"loss": 1.0}, metric="loss")
    evaluate(trainable.for_space(space), config={"opt__lr": 0.5, "steps": 2})
    assert seen == [{"opt": {"lr": 0.5}, "steps": 2}]
    own = Trainable(trainable.fn, metric="loss", nested=dict)
    assert own.for_space(space) is own


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"fn": 3}, "must be a function of the config or a ray.tune.Trainable subclass"),
    ({"fn": dict}, "is not a ray.tune.Trainable subclass"),
    ({"mode": "minimize"}, "mode must be 'min', 'max' or None"),
    ({"scope": "last-5-avg"}, "scope must be 'last' or 'all'"),
    ({"metric": ""}, "metric must name a reported metric"),
    ({"stop": 3}, "stop must be a dict"),
])
def test_check_says_what_is_wrong_in_one_line(kwargs, message):
    given = {"fn": lambda config: None, "metric": "loss", **kwargs}
    fn = given.pop("fn")
    with pytest.raises(objectives.ObjectiveError, match=message) as caught:
        Trainable(fn, **given).check(None, None, None)
    assert "\n" not in str(caught.value)
