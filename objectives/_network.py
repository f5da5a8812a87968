"""The trial flow of the deep-learning objectives, whatever the framework.

Per validation part (the holdout, or each of K folds): fit the preprocessing on the training
rows, train a fresh network with early stopping while reporting the validation score every
epoch, keep the best epoch. A finished trial leaves in its artifact folder what the final
model needs: ``summary.json`` (best epochs, learning rates), ``history.json``, TensorBoard
events with the trial's HParams session (``_nn_board``) and, with a holdout, the best network (the checkpoint) and its preprocessing.
A trial handle that keeps checkpoints gets the holdout run's training state after its epochs,
and a trial that runs again goes on from its last one (``_nn_resume``).

Given several metrics (a multi-objective study), each scoring metric is taken at the best
epoch (best by the first scoring metric, the one reported), and the cost measures are the
training's seconds, the seconds to predict 1000 rows and the bytes of the pickled weights and
state; with folds, each is the mean over the folds.

:class:`NetworkObjective` holds that flow; :class:`~objectives.TorchObjective` and
:class:`~objectives.KerasObjective` only say how to build, train, save and load a network.
"""

from __future__ import annotations

import abc
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from objectives import _nn_board, _nn_data, _nn_model, _nn_records, _nn_resume, _nn_settings
from objectives._base import DevData, Objective, TrialHandle
from objectives._errors import ObjectiveError
from objectives._measures import CostMeasure
from objectives._metrics import Metric, get_metrics, leading, scoring_metric, several

if TYPE_CHECKING:
    import numpy as np

#: the metric that stands in when ``fit_final`` has no record of the trial's metric
_DEFAULT_METRIC = {"classification": "log_loss", "regression": "mse"}


@dataclass(frozen=True, eq=False)
class Part:
    """One part of the data, preprocessed: float32 features, the network's targets, raw ``y``."""

    X: np.ndarray
    t: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.X)


@dataclass(frozen=True, eq=False)
class Run:
    """One trained network and how its training went."""

    network: Any
    best_epoch: int
    epochs_trained: int
    lrs: list[float]
    best_score: float | None
    train_score: float | None


@dataclass(frozen=True)
class Training:
    """Everything one training run needs besides the data."""

    config: Mapping[str, Any]
    settings: _nn_settings.TrainSettings
    prep: _nn_data.Preprocessor
    metric: Metric
    seed: int | None
    history: _nn_records.History
    #: stop after ``patience`` epochs without a better validation score; ``None``: no validation
    early: _nn_records.EarlyStopping | None = None
    #: called after each epoch with (epoch, validation score, whether it is the run's last
    #: epoch: the epochs are done, early stopping stops, or training diverged, and the writer
    #: of the framework's state for the epoch's checkpoint); may raise Pruned
    on_epoch: _nn_resume.OnEpoch | None = None
    #: learning rate of each epoch, replayed instead of the schedule (the refit)
    replay: list[float] | None = None
    log_dir: Path | None = None
    checkpoint_dir: Path | None = None
    #: the run's checkpoints each epoch, and the one it goes on from (a holdout in a trial)
    resume: _nn_resume.Checkpoints | None = None

    @property
    def loss(self) -> str:
        return _nn_data.loss_name(self.prep.kind, self.metric)

    @property
    def epochs(self) -> int:
        return len(self.replay) if self.replay is not None else self.settings.epochs


class _NoTrial:
    """A trial handle for training outside a search (``fit_final``): reports go nowhere."""

    artifact_dir: Path | None = None
    number = -1

    def __init__(self, seed: int | None) -> None:
        self.seed = seed

    def report(self, value: float, step: int) -> None:
        pass

    def should_prune(self) -> bool:
        return False

    def set_attr(self, key: str, value: Any) -> None:
        pass


class NetworkObjective(Objective):
    """Validation, early stopping, pruning and the final model of a network objective.

    Subclasses set :attr:`framework` and :attr:`ready_made`, and implement the framework's
    part: ``_require``, ``_train``, ``_save_checkpoint``, ``_load_checkpoint``, ``_forward``
    and ``save_model``.
    """

    framework: str = ""
    ready_made: str = ""
    _board = "tensorboard"  #: the library that writes the trial's TensorBoard events

    def __init__(self, model: Any = None, *, epochs: int = 100, patience: int = 10,
                 folds: int | None = None, validation_size: float | None = None,
                 final: str = "refit", device: str = "auto", tensorboard: bool = True,
                 min_delta: float = 0.0, threads: int | None = None,
                 checkpoint_every: int | None = None) -> None:
        self.model = model
        self.epochs = epochs
        self.patience = patience
        self.folds = folds
        self.validation_size = validation_size
        self.final = final
        self.device = device
        self.tensorboard = tensorboard
        self.min_delta = min_delta
        self.threads = threads
        self.checkpoint_every = checkpoint_every

    # --- public -------------------------------------------------------------------------------

    def check(self, data: DevData | None, space: Any,
              metric: Metric | str | Sequence[Metric | CostMeasure | str] | None) -> None:
        """Check arguments, the space against the ready-made network, data and metrics, once."""
        self._validate_arguments()
        self._require()
        lead = leading(get_metrics(metric)) if metric is not None else None
        _nn_settings.check_data(data, lead, self)
        if self._uses_ready_made:
            _nn_settings.check_space_keys(
                space, _nn_settings.TRAIN_KEYS | _nn_settings.NETWORK_KEYS,
                f"{self.ready_made} network")

    def evaluate(self, config: dict[str, Any], data: DevData | None, trial: TrialHandle,
                 metric: Metric | str | Sequence[Metric | CostMeasure | str],
                 ) -> float | dict[str, float]:
        """Train on the training part; return the best epoch's validation score.

        With ``folds=k``, the mean over the folds of each fold's best validation score.
        Given a tuple of metrics: ``{name: value}``, each scoring metric at the best epoch
        (best by the first scoring metric, which is the one reported every epoch), and the
        cost measures; with folds, each the mean over the folds.
        """
        self._validate_arguments()
        if data is None:
            raise ObjectiveError(f"{type(self).__name__} needs data: give the study a dataset")
        metrics = get_metrics(metric)
        runs, scores, values = self._validate_config(
            config, data, trial, leading(metrics), metrics if several(metric) else ())
        if several(metric):
            return {name: float(sum(v) / len(v)) for name, v in values.items()}
        return float(sum(scores) / len(scores)) if len(runs) > 1 else scores[0]

    def fit_final(
        self,
        config: dict[str, Any],
        data: DevData,
        seed: int | None,
        trial_dir: Path | None = None,
    ) -> _nn_model.NetworkModel:
        """The final model: refit on all development data, or the best trial's own network.

        ``final="refit"`` trains a fresh network on all development data for the number of
        epochs early stopping chose in the trial (the rounded mean over folds), replaying
        the trial's learning rates. ``final="best_trial"`` keeps the network the trial
        checkpointed (its best epoch). Without the trial's folder, its validation is run
        again first: with a seed that is the same network on CPU.
        """
        self._validate_arguments()
        summary = _nn_records.read_summary(trial_dir)
        metric = scoring_metric(summary["metric"] if summary else _DEFAULT_METRIC[data.task])
        trial_histories = _nn_records.read_histories(trial_dir)
        if self.final == "best_trial":
            loaded = self._load_trial(config, data, summary, trial_dir)
            if loaded is not None:
                return loaded
            runs, _, _ = self._validate_config(config, data, _NoTrial(seed), metric)
            return runs[0][0]  # type: ignore[no-any-return]
        if summary is None:
            runs, _, _ = self._validate_config(config, data, _NoTrial(seed), metric)
            summary = {"runs": [_run_record(run) for _, run in runs]}
        epochs, lrs = _nn_records.refit_plan(summary["runs"])
        settings = _nn_settings.TrainSettings.from_config(config, epochs=self.epochs,
                                                          patience=self.patience)
        classes = _nn_data.study_classes(data)
        prep = _nn_data.Preprocessor(_nn_data.output_kind(data.task, classes),
                                     classes).fit(data.X, data.y)
        history = _nn_records.History(metric.name)
        everything = Part(prep.features(data.X), prep.target(data.y), _as_array(data.y))
        run = self._train(
            Training(config, settings, prep, metric, seed, history, replay=lrs), everything,
            None,
        )
        return self._wrap(prep, run.network, config, epochs,
                          {**trial_histories, "final refit": history.to_dict()})

    def describe(self) -> dict[str, Any]:
        return {
            "type": type(self).__name__,
            "model": (self.ready_made if self._uses_ready_made
                      else _nn_settings.describe_factory(self.model)),
            "epochs": self.epochs,
            "patience": self.patience,
            "folds": self.folds,
            "validation_size": self.validation_size,
            "final": self.final,
            "device": self.device,
            "tensorboard": self.tensorboard,
            "min_delta": self.min_delta,
            "threads": self.threads,
        }  # not checkpoint_every: how often a trial saves its state changes no result

    # --- the framework's part -----------------------------------------------------------------

    @abc.abstractmethod
    def _require(self) -> None:
        """Raise ObjectiveError naming the extra to install when the framework is missing."""

    def _import(self) -> None:  # noqa: B027 - a framework imported at the first training
        """Import the framework now, so that the ``fit_seconds`` a training is timed at
        leave out the process's one import of it."""

    @abc.abstractmethod
    def _train(self, training: Training, train: Part, valid: Part | None) -> Run:
        """Build a fresh network and train it; with ``valid``, stop early and keep the best."""

    @abc.abstractmethod
    def _save_checkpoint(self, network: Any, directory: Path) -> None:
        """Write the trained network under ``directory``."""

    @abc.abstractmethod
    def _load_checkpoint(self, config: Mapping[str, Any], prep: _nn_data.Preprocessor,
                         directory: Path) -> Any:
        """The network ``_save_checkpoint`` wrote, or ``None`` if it is not there."""

    @staticmethod
    @abc.abstractmethod
    def _forward(network: Any, features: np.ndarray) -> np.ndarray:
        """Raw outputs of ``network`` for float32 ``features``."""

    @staticmethod
    @abc.abstractmethod
    def _load_network(directory: Path) -> Any:
        """The network ``save_model`` wrote under ``directory``, on the CPU."""

    @staticmethod
    def _portable(network: Any) -> Any:
        """``network`` as the final model pickles it: loadable in a process without the
        device it was trained on. As it is, unless the framework says otherwise."""
        return network

    @staticmethod
    def _state(network: Any) -> Any:
        """The network's weights and state as numpy arrays: what ``model_bytes`` weighs.
        The network itself, unless the framework says otherwise."""
        return network

    # --- private ------------------------------------------------------------------------------

    @property
    def _uses_ready_made(self) -> bool:
        return self.model is None or self.model == self.ready_made

    def _validate_arguments(self) -> None:
        model = self.model
        if not (model is None or model == self.ready_made or callable(model)):
            raise ObjectiveError(
                f"The 'model' parameter of {type(self).__name__} must be "
                f"'{self.ready_made}' (the ready-made network) or a model factory "
                f"(config, n_inputs, n_outputs) -> network. Got {model!r} instead."
            )
        _nn_settings.validate_arguments(self)

    def _validate_config(
        self, config: Mapping[str, Any], data: DevData, trial: TrialHandle, metric: Metric,
        measured: tuple[Metric | CostMeasure, ...] = (),
    ) -> tuple[list[tuple[Any, Run]], list[float], dict[str, list[float]]]:
        """Train one network per validation part; report, prune, and record the trial.

        ``metric`` leads (early stopping, reports); each of ``measured`` is taken per part
        and stored as ``fold_values``. Returns the fitted models with their runs, the best
        scores of ``metric`` and the values of ``measured``, per part.
        """
        settings = _nn_settings.TrainSettings.from_config(config, epochs=self.epochs,
                                                          patience=self.patience)
        classes = _nn_data.study_classes(data)
        kind = _nn_data.output_kind(data.task, classes)
        artifact_dir: Path | None = getattr(trial, "artifact_dir", None)
        size = (_nn_settings.VALIDATION_SIZE if self.validation_size is None
                else self.validation_size)
        parts = list(_nn_data.splits(data, self.folds, size, trial.seed))
        y = _as_array(data.y)
        runs: list[tuple[_nn_data.Preprocessor, Run]] = []
        scores: list[float] = []
        values: dict[str, list[float]] = {m.name: [] for m in measured}
        histories: dict[str, _nn_records.History] = {}
        if measured:
            self._import()
        started, done = time.time(), False
        try:
            for k, (train_rows, valid_rows) in enumerate(parts):
                prep = _nn_data.Preprocessor(kind, classes).fit(data.X.iloc[train_rows],
                                                                y[train_rows])
                name = "holdout" if len(parts) == 1 else f"fold_{k}"
                histories[name] = _nn_records.History(metric.name)
                training = self._training(config, settings, prep, metric, trial,
                                          histories[name], (k, len(parts), name), artifact_dir)
                valid = _part(prep, data, valid_rows, y)
                start = time.perf_counter()
                run = self._train(training, _part(prep, data, train_rows, y), valid)
                seconds = time.perf_counter() - start + (
                    training.resume.seconds_before if training.resume is not None else 0.0)
                if run.best_score is None or not math.isfinite(run.best_score):
                    raise ObjectiveError(f"training diverged: no epoch gave a finite "
                                         f"validation {metric.name} (lower lr?)")
                runs.append((prep, run))
                scores.append(run.best_score)
                if len(parts) > 1:
                    trial.set_attr("fold_scores", list(scores))
                if measured:
                    model = self._wrap(prep, run.network, config, run.best_epoch + 1, {})
                    for key, value in self._measure(measured, (metric, run.best_score), model,
                                                    valid, data.X.iloc[valid_rows],
                                                    seconds).items():
                        values[key].append(value)
                    trial.set_attr("fold_values", {key: list(v) for key, v in values.items()})
            done = True
        finally:
            _record_histories(trial, histories, artifact_dir)
            self._session(trial, config, metric, scores if done else None, started)
        self._record_trial(config, trial, metric, runs, scores, artifact_dir)
        return [(self._wrap(prep, run.network, config, run.best_epoch + 1, {}), run)
                for prep, run in runs], scores, values

    def _session(self, trial: TrialHandle, config: Mapping[str, Any], metric: Metric,
                 scores: list[float] | None, started: float) -> None:
        """The trial's TensorBoard HParams session (``scores``: ``None`` when it ended early)."""
        artifact_dir: Path | None = getattr(trial, "artifact_dir", None)
        if artifact_dir is not None and self.tensorboard:
            _nn_board.trial_session(artifact_dir / _nn_records.TENSORBOARD_DIR, self._board,
                                    trial, config, metric.name, scores, started)

    def _training(self, config: Mapping[str, Any], settings: _nn_settings.TrainSettings,
                  prep: _nn_data.Preprocessor, metric: Metric, trial: TrialHandle,
                  history: _nn_records.History, part: tuple[int, int, str],
                  artifact_dir: Path | None) -> Training:
        """How to train on part ``k`` of ``n`` (named ``name``) inside a trial."""
        k, n, name = part
        early = _nn_records.EarlyStopping(metric.direction, settings.patience, self.min_delta)
        resume = _nn_resume.Checkpoints.of(trial, self.framework, part, config, history, early,
                                           self.checkpoint_every)
        return Training(
            config, settings, prep, metric, trial.seed, history, early=early,
            on_epoch=_nn_resume.epoch_hook(trial, k * settings.epochs, k, n, resume),
            log_dir=(artifact_dir / _nn_records.TENSORBOARD_DIR / name
                     if artifact_dir is not None and self.tensorboard else None),
            checkpoint_dir=artifact_dir if n == 1 else None, resume=resume,
        )

    def _measure(self, measured: tuple[Metric | CostMeasure, ...], lead: tuple[Metric, float],
                 model: _nn_model.NetworkModel, valid: Part, X_valid: Any,
                 seconds: float) -> dict[str, float]:
        """Each of ``measured`` for one part's network (``model``) at its best epoch: the lead
        metric's best score as recorded, the other scoring metrics on the validation part,
        the cost measures (``seconds``: the training's)."""
        prep = model.preprocessor_
        outputs = None
        out: dict[str, float] = {}
        for metric in measured:
            if metric == lead[0]:
                out[metric.name] = float(lead[1])
            elif isinstance(metric, Metric):
                if outputs is None:
                    outputs = self._forward(model.network_, valid.X)
                out[metric.name] = _nn_data.score_outputs(
                    metric, valid.y, outputs, prep,
                    None if prep.kind == "regression" else valid.t)
            else:
                out[metric.name] = metric.value(model, X_valid, seconds)
        return out

    def _record_trial(self, config: Mapping[str, Any], trial: TrialHandle, metric: Metric,
                      runs: list[tuple[_nn_data.Preprocessor, Run]], scores: list[float],
                      artifact_dir: Path | None) -> None:
        """Store the train score and best epochs; keep what the final model will need."""
        train_scores = [r.train_score for _, r in runs if r.train_score is not None]
        if train_scores:
            trial.set_attr("train_score", float(sum(train_scores) / len(train_scores)))
        trial.set_attr("best_epochs", [r.best_epoch + 1 for _, r in runs])
        if artifact_dir is None:
            return
        if len(runs) == 1:
            import joblib

            self._save_checkpoint(runs[0][1].network, artifact_dir)
            joblib.dump(runs[0][0], artifact_dir / _nn_records.PREPROCESS_FILE)
        _nn_records.write_json(artifact_dir / _nn_records.SUMMARY_JSON, {
            "metric": metric.name, "framework": self.framework, "config": dict(config),
            "scores": scores, "runs": [_run_record(run) for _, run in runs],
        })

    def _load_trial(self, config: Mapping[str, Any], data: DevData,
                    summary: Mapping[str, Any] | None,
                    trial_dir: Path | None) -> _nn_model.NetworkModel | None:
        """The best trial's checkpointed network behind its preprocessing, if it is kept."""
        if trial_dir is None or summary is None or len(summary.get("runs", ())) != 1:
            return None
        import joblib

        try:
            prep = joblib.load(trial_dir / _nn_records.PREPROCESS_FILE)
        except OSError:
            return None
        network = self._load_checkpoint(config, prep, trial_dir)
        if network is None:
            return None
        run = summary["runs"][0]
        return self._wrap(prep, network, config, int(run["best_epoch"]) + 1,
                          _nn_records.read_histories(trial_dir))

    @classmethod
    def _wrap(cls, prep: _nn_data.Preprocessor, network: Any, config: Mapping[str, Any],
              epochs: int, histories: Mapping[str, Any],
              head: bool = False) -> _nn_model.NetworkModel:
        """The fitted ``network`` behind its preprocessing, as the engine scores it
        (``head``: the network outputs probabilities or values itself, as exported)."""
        return _nn_model.wrap(prep, network, cls._forward, framework=cls.framework,
                              config=config, epochs=epochs, histories=histories,
                              portable=cls._portable, state=cls._state, head=head)


def _record_histories(trial: TrialHandle, histories: Mapping[str, _nn_records.History],
                      artifact_dir: Path | None) -> None:
    """Count the epochs trained and keep every history, for pruned and failed trials too."""
    trial.set_attr("epochs_trained", sum(len(h.records) for h in histories.values()))
    if artifact_dir is not None:
        _nn_records.write_json(artifact_dir / _nn_records.HISTORY_JSON,
                               {name: h.to_dict() for name, h in histories.items()})


def _part(prep: _nn_data.Preprocessor, data: DevData, rows: np.ndarray, y: np.ndarray) -> Part:
    X = data.X.iloc[rows]
    return Part(prep.features(X), prep.target(y[rows]), y[rows])


def _as_array(y: Any) -> np.ndarray:
    import numpy as np

    return np.asarray(y)


def _run_record(run: Run) -> dict[str, Any]:
    return {"best_epoch": run.best_epoch, "epochs_trained": run.epochs_trained,
            "best_score": run.best_score, "lrs": run.lrs}
