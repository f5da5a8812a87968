"""The ready-made Keras objective: a model factory (or the dense network) trained in a search.

Keras 3 on the backend ``KERAS_BACKEND`` names (TensorFlow by default). Keras, and with it
TensorFlow, is imported when a network is built or trained, never by ``import objectives``.
Training uses Keras' own callbacks: EarlyStopping (restoring the best weights),
ReduceLROnPlateau or a LearningRateScheduler, ModelCheckpoint and TensorBoard, after a
callback that scores each epoch with the study metric and reports it through the trial handle.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from objectives import _keras_state, _nn_data, _nn_model, _nn_records, _nn_settings
from objectives._errors import ObjectiveError
from objectives._network import NetworkObjective, Part, Run, Training

if TYPE_CHECKING:
    import numpy as np

_CHUNK = 8192
_WEIGHTS = f"{_nn_records.CHECKPOINT}.weights.h5"


class KerasObjective(NetworkObjective):
    """Train a Keras network with early stopping; score the best epoch on validation.

    Parameters
    ----------
    model
        ``"dense"`` (the default, the ready-made dense network: ``layers``, ``width``,
        ``activation``, ``dropout``, ``batch_norm`` from the config) or a factory
        ``factory(config, n_inputs, n_outputs) -> keras.Model``, uncompiled (the objective
        compiles it), whose last layer has ``n_outputs`` linear units (logits; one for two
        classes).
    epochs, patience, folds, validation_size, final, device, tensorboard, min_delta,
    checkpoint_every
        As for :class:`~objectives.TorchObjective` (a trial that goes on from a checkpoint
        shuffles its later batches otherwise than an uninterrupted one: close, not the same).
    threads
        CPU threads for the backend (TensorFlow: intra-op threads, settable before TensorFlow
        starts); ``None`` leaves the backend's setting.

    The config sets training as for :class:`~objectives.TorchObjective`. Seeding uses
    ``keras.utils.set_random_seed`` (Python, NumPy and the backend), which Keras' shuffling
    and initializers read.

    >>> KerasObjective(epochs=20).describe()["model"]
    'dense'
    """

    framework = "keras"
    ready_made = "dense"

    def save_model(self, model: Any, directory: Path) -> list[Path]:
        """``model.keras`` and ``model.tflite`` (the network with its head: probabilities, or
        values in the target's units), preprocessing, histories."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "model.keras"
        network = model.network_ if model.head_ else with_head(model.network_, model.preprocessor_)
        network.save(path)
        files: dict[str, str] = {"keras": path.name}
        written = [path]
        tflite = directory / "model.tflite"
        try:
            export_tflite(network, tflite)
        except Exception as exc:  # noqa: BLE001 - the model is saved; say why TFLite is not
            reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:200]}" \
                if str(exc).strip() else type(exc).__name__
            files["tflite"] = f"not written ({reason})"
            warnings.warn(f"TFLite export failed: {reason}", stacklevel=2)
        else:
            files["tflite"] = tflite.name
            written.append(tflite)
        written += _nn_model.save_common(model, directory, files)
        return written

    # --- the framework's part -----------------------------------------------------------------

    def _require(self) -> None:
        if importlib.util.find_spec("keras") is None:
            raise ObjectiveError("KerasObjective needs Keras 3: pip install 'search[keras]'")
        backend = os.environ.get("KERAS_BACKEND", "tensorflow")
        if importlib.util.find_spec(backend) is None:
            raise ObjectiveError(f"KERAS_BACKEND={backend!r}, and {backend} is not installed: "
                                 "pip install 'search[keras]' for TensorFlow")
        if self.tensorboard and (importlib.util.find_spec("tensorflow") is None
                                 or importlib.util.find_spec("tensorboard") is None):
            raise ObjectiveError("tensorboard=True needs tensorflow and tensorboard: pip "
                                 "install 'search[keras]', or pass tensorboard=False")

    def _import(self) -> None:
        _keras(self.threads)

    def _train(self, training: Training, train: Part, valid: Part | None) -> Run:
        keras = _keras(self.threads)
        device = _nn_settings.choose_device(self.device, _cuda_available(keras), os.environ)
        keras.backend.clear_session()
        if training.seed is not None:
            keras.utils.set_random_seed(training.seed)
        with _on(keras, device):
            n_out = _nn_data.n_outputs(training.prep.kind, training.prep.classes)
            network = self._build(training.config, train.X.shape[1], n_out)
            # no XLA: compiling costs more than it saves on networks this size (measured)
            network.compile(optimizer=_optimizer(keras, training.settings),
                            loss=_loss(keras, training.loss), jit_compile=False)
            restored = _keras_state.restore(keras, network, training, (
                training.checkpoint_dir / _WEIGHTS if training.checkpoint_dir else None))
            scorer = _epoch_score(keras, training, train, valid, restored)
            callbacks = _callbacks(keras, training, valid is not None)
            end = _keras_state.epoch_end(keras, training, scorer, callbacks, restored)
            network.fit(train.X, _targets(train.t, training.prep.kind),
                        batch_size=training.settings.batch_size, epochs=training.epochs,
                        initial_epoch=0 if restored is None else (
                            training.epochs if restored.finished else restored.start),
                        verbose=0, shuffle=True, callbacks=[scorer, *callbacks, end])
        if end.pruned is not None:
            raise end.pruned
        early = training.early
        if early is not None and valid is not None:
            best = early.best_epoch
            return Run(network, best, len(scorer.lrs), scorer.lrs,
                       early.best if best >= 0 else None,
                       scorer.train_scores[best] if best >= 0 else None)
        last = len(scorer.lrs) - 1
        return Run(network, last, len(scorer.lrs), scorer.lrs, None,
                   scorer.train_scores[last] if scorer.train_scores else None)

    def _save_checkpoint(self, network: Any, directory: Path) -> None:
        path = directory / _WEIGHTS
        if not path.is_file():  # ModelCheckpoint wrote the best epoch's weights already
            network.save_weights(path)

    def _load_checkpoint(self, config: Mapping[str, Any], prep: _nn_data.Preprocessor,
                         directory: Path) -> Any:
        path = directory / _WEIGHTS
        if not path.is_file():
            return None
        _keras(self.threads)
        network = self._build(config, prep.n_features_, _nn_data.n_outputs(prep.kind, prep.classes))
        network.load_weights(path)
        return network

    @staticmethod
    def _forward(network: Any, features: np.ndarray) -> np.ndarray:
        import numpy as np

        outputs = [_numpy(network(features[i:i + _CHUNK], training=False))
                   for i in range(0, max(len(features), 1), _CHUNK)]
        return np.concatenate(outputs).reshape(len(features), -1)

    @staticmethod
    def _load_network(directory: Path) -> Any:
        return _keras(None).models.load_model(directory / "model.keras")

    @staticmethod
    def _state(network: Any) -> list[np.ndarray]:
        """Every weight of the network (trainable or not, e.g. BatchNorm's moving statistics)
        as numpy arrays."""
        return list(network.get_weights())

    # --- private ------------------------------------------------------------------------------

    def _build(self, config: Mapping[str, Any], n_in: int, n_out: int) -> Any:
        """The factory's network, checked on a batch of two rows."""
        import keras
        import numpy as np

        factory = dense if self._uses_ready_made else self.model
        try:
            network = factory(dict(config), n_in, n_out)
        except ObjectiveError:
            raise
        except Exception as exc:  # noqa: BLE001 - the user's factory: say whose error it is
            raise _nn_settings.factory_error(factory, exc) from exc
        if not isinstance(network, keras.Model):
            raise ObjectiveError(f"model factory {_nn_settings.describe_factory(factory)} returned "
                                 f"{type(network).__name__}, not a keras.Model")
        try:
            out = network(np.zeros((2, n_in), dtype=np.float32), training=False)
        except Exception as exc:  # noqa: BLE001
            raise ObjectiveError(
                f"model factory {_nn_settings.describe_factory(factory)} built a network that "
                f"fails on a batch of 2 rows of {n_in} features: {type(exc).__name__}: "
                f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
            ) from exc
        _nn_settings.check_output_shape(tuple(int(d) for d in out.shape), n_out, factory)
        return network


def dense(config: Mapping[str, Any], n_inputs: int, n_outputs: int) -> Any:
    """The ready-made dense network: ``layers`` x (Dense, [BatchNorm], activation, [Dropout]),
    then Dense(``n_outputs``)."""
    import keras

    settings = _nn_settings.network_settings(config)
    layers: list[Any] = [keras.Input((n_inputs,))]
    for _ in range(settings["layers"]):
        layers.append(keras.layers.Dense(settings["width"]))
        if settings["batch_norm"]:
            layers.append(keras.layers.BatchNormalization())
        layers.append(keras.layers.Activation(settings["activation"]))
        if settings["dropout"] > 0:
            layers.append(keras.layers.Dropout(settings["dropout"]))
    layers.append(keras.layers.Dense(n_outputs))
    return keras.Sequential(layers)


def with_head(network: Any, prep: _nn_data.Preprocessor) -> Any:
    """``network`` followed by its output head, from Keras' own layers only (so that the
    ``.keras`` file loads in safe mode): class probabilities (two columns for two classes:
    ``softmax([0, z])``), or the standardized target turned back into the target's units."""
    import keras
    import numpy as np

    inputs = keras.Input((prep.n_features_,), dtype="float32")
    z = network(inputs)
    if prep.kind == "multiclass":
        outputs = keras.layers.Activation("softmax", name="probabilities")(z)
    elif prep.kind == "binary":
        two = keras.layers.Dense(2, trainable=False, name="logit_pair")
        pair = two(keras.layers.Reshape((1,))(z))
        two.set_weights([np.array([[0.0, 1.0]], dtype="float32"), np.zeros(2, dtype="float32")])
        outputs = keras.layers.Activation("softmax", name="probabilities")(pair)
    else:
        outputs = keras.layers.Rescaling(prep.y_std_, offset=prep.y_mean_, name="target_units")(
            keras.layers.Reshape((1,))(z))
    return keras.Model(inputs, outputs, name="with_head")


def export_tflite(head: Any, path: Path) -> Path:
    """The network with its head (:func:`with_head`) as a TFLite flatbuffer; the input is the
    preprocessed features (``preprocess.joblib``)."""
    try:
        head.export(str(path), format="litert", verbose=False)
    except ValueError as exc:
        if "format" not in str(exc):
            raise
        import tensorflow as tf  # Keras before "litert": the TFLite converter itself

        path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(head).convert())
    return path


def tflite_predict(path: Path, features: np.ndarray) -> np.ndarray:
    """Run a TFLite file on float32 ``features`` (LiteRT's interpreter, else TensorFlow's)."""
    import numpy as np

    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter  # noqa: N806
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
        interpreter = Interpreter(model_path=str(path))
    runner = interpreter.get_signature_runner()
    (name,) = runner.get_input_details()
    rows = [np.asarray(next(iter(runner(**{name: features[i:i + 1]}).values())))
            for i in range(len(features))]
    return np.concatenate(rows)


# --- training ------------------------------------------------------------------------------------


def _numpy(tensor: Any) -> Any:
    """A backend tensor as numpy (TensorFlow's own ``.numpy()``, which NumPy 2 does not warn
    about; ``keras.ops.convert_to_numpy`` for the other backends)."""
    import keras

    if keras.backend.backend() == "tensorflow":
        return tensor.numpy()
    return keras.ops.convert_to_numpy(tensor)


def _keras(threads: int | None) -> Any:
    """``keras``, with the backend's CPU threads set first when asked (TensorFlow: only
    before it starts; later a different value is a warning)."""
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    # TensorFlow's C++ log lines go straight to the terminal (on a machine with CUDA libraries
    # and no GPU: "failed call to cuInit" at every start); its real failures raise in Python.
    # Set TF_CPP_MIN_LOG_LEVEL yourself to see them.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if threads is not None and backend == "tensorflow":
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:
            if tf.config.threading.get_intra_op_parallelism_threads() != threads:
                warnings.warn(f"threads={threads} not applied: TensorFlow had started "
                              "already with another setting", stacklevel=3)
    elif threads is not None and backend == "torch":
        import torch

        torch.set_num_threads(threads)
    import keras

    return keras


def _cuda_available(keras: Any) -> bool:
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if backend == "torch":
        import torch

        return bool(torch.cuda.is_available())
    return False


def _on(keras: Any, device: str) -> Any:
    """A context that places the run on ``device`` (TensorFlow), else a no-op."""
    import contextlib

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.device("/GPU:0" if device == "cuda" else "/CPU:0")
    return contextlib.nullcontext()


def _optimizer(keras: Any, s: _nn_settings.TrainSettings) -> Any:
    decay = s.weight_decay or None
    if s.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate=s.lr, weight_decay=decay)
    if s.optimizer == "adamw":
        return keras.optimizers.AdamW(learning_rate=s.lr, weight_decay=s.weight_decay)
    return keras.optimizers.SGD(learning_rate=s.lr, momentum=s.momentum,
                                nesterov=s.nesterov and s.momentum > 0, weight_decay=decay)


def _loss(keras: Any, name: str) -> Any:
    losses = keras.losses
    if name == "binary_crossentropy":
        return losses.BinaryCrossentropy(from_logits=True)
    if name == "crossentropy":
        return losses.SparseCategoricalCrossentropy(from_logits=True)
    return losses.MeanAbsoluteError() if name == "mae" else losses.MeanSquaredError()


def _targets(t: np.ndarray, kind: str) -> np.ndarray:
    """One column for one output (binary, regression); class indices otherwise."""
    import numpy as np

    return t if kind == "multiclass" else np.asarray(t, dtype=np.float32).reshape(-1, 1)


def _callbacks(keras: Any, training: Training, validated: bool) -> list[Any]:
    """EarlyStopping, the LR schedule, ModelCheckpoint and TensorBoard, as Keras gives them."""
    s = training.settings
    mode = "max" if training.metric.greater_is_better else "min"
    callbacks: list[Any] = []
    if validated and training.early is not None:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor="val_score", mode=mode, patience=training.early.patience,
            min_delta=training.early.min_delta, restore_best_weights=True))
    if training.replay is not None:
        replay = list(training.replay)
        callbacks.append(keras.callbacks.LearningRateScheduler(lambda epoch, lr: replay[epoch]))
    elif s.scheduler == "plateau":
        callbacks.append(keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss" if validated else "loss", mode="min", factor=s.factor,
            patience=s.plateau_patience))
    elif s.scheduler in ("cosine", "step"):
        callbacks.append(keras.callbacks.LearningRateScheduler(
            lambda epoch, lr: s.scheduled_lr(epoch)))
    if validated and training.checkpoint_dir is not None:
        callbacks.append(keras.callbacks.ModelCheckpoint(
            str(training.checkpoint_dir / _WEIGHTS), monitor="val_score", mode=mode,
            save_best_only=True, save_weights_only=True))
    if training.log_dir is not None:
        callbacks.append(keras.callbacks.TensorBoard(str(training.log_dir), write_graph=False))
    return callbacks


@functools.cache
def _epoch_score_class(keras: Any) -> type:
    """:class:`_EpochScore` as a ``keras.callbacks.Callback`` (Keras is imported late)."""
    return type("EpochScore", (_EpochScore, keras.callbacks.Callback), {})


def _epoch_score(keras: Any, training: Training, train: Part, valid: Part | None,
                 restored: Any) -> Any:
    return _epoch_score_class(keras)(keras, training, train, valid, restored)


class _EpochScore:
    """Scores each epoch with the study metric, puts ``score``, ``val_loss`` and ``val_score``
    in Keras' logs (for EarlyStopping, ModelCheckpoint, TensorBoard), records the history and
    early stopping's state; the run's last callback reports (``_keras_state.EpochEnd``).

    Keras calls callbacks in order with the same logs, so this one comes first.
    """

    model: Any

    def __init__(self, keras: Any, training: Training, train: Part,
                 valid: Part | None, restored: Any = None) -> None:
        super().__init__()
        self._keras = keras
        self._training = training
        self._train = train
        self.valid = valid
        self._loss = _loss(keras, training.loss)
        extra = restored.extra if restored is not None else {}
        self.lrs: list[float] = [float(v) for v in extra.get("lrs", [])]
        self.train_scores: list[float] = [float(v) for v in extra.get("train_scores", [])]
        self.diverged = False
        self.val_score = float("nan")

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        lr = self.model.optimizer.learning_rate
        self.lrs.append(float(_numpy(lr)))

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        import math

        logs = logs if logs is not None else {}
        training, prep, metric = self._training, self._training.prep, self._training.metric
        forward = KerasObjective._forward
        out = forward(self.model, self._train.X)
        codes = None if prep.kind == "regression" else self._train.t
        score = _nn_data.score_outputs(metric, self._train.y, out, prep, codes)
        self.train_scores.append(score)
        logs["score"] = score
        record: dict[str, float | None] = {"loss": logs.get("loss"), "score": score,
                                           "lr": self.lrs[-1]}
        valid = self.valid
        if valid is not None:
            out_v = forward(self.model, valid.X)
            val_loss = float(_numpy(self._loss(_targets(valid.t, prep.kind), out_v)))
            val_score = _nn_data.score_outputs(metric, valid.y, out_v, prep,
                                               None if prep.kind == "regression" else valid.t)
            logs["val_loss"], logs["val_score"] = val_loss, val_score
            record.update(val_loss=val_loss, val_score=val_score)
        training.history.add(epoch, **record)
        loss = logs.get("loss")
        self.diverged = loss is not None and not math.isfinite(float(loss))
        if self.diverged:
            self.model.stop_training = True  # the best epoch so far is kept
        if valid is not None and training.early is not None:
            self.val_score = float(logs["val_score"])
            training.early.update(self.val_score, epoch)
