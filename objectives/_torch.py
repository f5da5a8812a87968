"""The ready-made PyTorch objective: a model factory (or the MLP) trained inside a search.

torch is imported when a network is built or trained, never by ``import objectives``.
Training is seeded without touching the global random state: the network is built and trained
inside ``torch.random.fork_rng`` after ``torch.manual_seed``, and batches are drawn with a
private ``torch.Generator``; deterministic algorithms are switched on for the run and restored.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import math
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from objectives import _nn_board, _nn_data, _nn_model, _nn_records, _nn_settings, _torch_state
from objectives._errors import ObjectiveError
from objectives._network import NetworkObjective, Part, Run, Training

if TYPE_CHECKING:
    import numpy as np
    import torch

#: rows per forward pass when predicting
_CHUNK = 8192


class TorchObjective(NetworkObjective):
    """Train a PyTorch network with early stopping; score the best epoch on validation.

    Parameters
    ----------
    model
        ``"mlp"`` (the default, the ready-made MLP: ``layers``, ``width``, ``activation``,
        ``dropout``, ``batch_norm`` from the config) or a factory
        ``factory(config, n_inputs, n_outputs) -> torch.nn.Module`` whose output is one row of
        ``n_outputs`` raw values (logits; one logit for two classes) per input row.
    epochs, patience
        At most ``epochs`` epochs; stop after ``patience`` epochs without a better validation
        score and restore the best epoch. The config's ``epochs``/``patience`` override them.
    folds, validation_size
        ``folds=None``: validate on a holdout part of the development data, stratified for
        classification, seeded; ``validation_size`` is its fraction (``None``: 0.15 / 0.85,
        so that with the engine's 15 % test the split is 70/15/15). ``folds=k``: K-fold
        cross-validation; the trial's value is the mean of the folds' best scores.
    final
        ``"refit"``: the final model is trained on all development data for the epochs early
        stopping chose; ``"best_trial"``: the best trial's checkpointed network is kept.
    device
        ``"auto"``: CUDA when the trial was given a GPU, else CPU; or ``"cpu"``, ``"cuda"``.
    tensorboard
        Write TensorBoard event files under the trial's artifact folder.
    min_delta
        The least change of the validation score that counts as better, for early stopping.
    threads
        CPU threads for torch during a run; ``None`` leaves torch's setting (which follows
        ``OMP_NUM_THREADS``, set per trial by Ray). Small networks train fastest on 1,
        especially when trials share the CPUs.
    checkpoint_every
        In a search whose trials keep checkpoints, the training state (network, optimizer,
        schedule, early stopping, history, random state) is saved after epochs of a holdout
        run, and a trial that runs again (its worker died; ``--resume``) goes on from the
        epoch after its last one, to the network an uninterrupted run trains. ``None``: every
        epoch while saving has taken at most a tenth of the training time (a small network
        saves every few epochs), ``k``: every ``k`` epochs, ``0``: never; the run's last epoch
        and one the pruner stops at are saved too. With folds a trial is not checkpointed.

    The config also sets training: ``optimizer`` (adam, adamw, sgd), ``lr``, ``weight_decay``,
    ``momentum`` and ``nesterov`` (sgd), ``batch_size``, ``scheduler`` (none, plateau, cosine,
    step) with ``factor``/``plateau_patience`` or ``step_size``/``gamma``.

    >>> TorchObjective(epochs=20).describe()["model"]
    'mlp'
    """

    framework = "torch"
    ready_made = "mlp"
    _board = "tensorboardX"

    def save_model(self, model: Any, directory: Path) -> list[Path]:
        """``state_dict.pt`` (the network's own weights), the exported program ``model.pt2``
        (the network with its head: probabilities, or values in the target's units),
        preprocessing, histories."""
        import torch

        directory.mkdir(parents=True, exist_ok=True)
        network = model.network_
        state = directory / "state_dict.pt"
        torch.save(network.state_dict(), state)
        files = {"state_dict": state.name}
        written = [state]
        example = torch.zeros(2, model.preprocessor_.n_features_, dtype=torch.float32)
        exported = _export(network if model.head_ else _with_head(network, model.preprocessor_),
                           example, directory)
        files[exported.suffix.lstrip(".")] = exported.name
        written.append(exported)
        written += _nn_model.save_common(model, directory, files)
        return written

    # --- the framework's part -----------------------------------------------------------------

    def _require(self) -> None:
        if importlib.util.find_spec("torch") is None:
            raise ObjectiveError("TorchObjective needs PyTorch: pip install 'search[torch]'")
        if self.tensorboard and importlib.util.find_spec("tensorboardX") is None:
            raise ObjectiveError("tensorboard=True needs the tensorboardX package: pip install "
                                 "'search[torch]', or pass tensorboard=False")

    def _import(self) -> None:
        import torch  # noqa: F401

        with contextlib.suppress(ImportError):  # use_deterministic_algorithms' first import
            import torch._inductor.config  # noqa: F401

    def _train(self, training: Training, train: Part, valid: Part | None) -> Run:
        import torch

        device = torch.device(_nn_settings.choose_device(self.device,
                                                         torch.cuda.is_available(), os.environ))
        with _seeded(training.seed, device), _threads(self.threads):
            generator = torch.Generator()
            if training.seed is not None:
                generator.manual_seed(training.seed)
            else:
                generator.seed()
            network = self._build(training.config, train.X.shape[1],
                                  _nn_data.n_outputs(training.prep.kind, training.prep.classes),
                                  device)
            with _nn_board.epoch_writer(training.log_dir, training.metric.name) as writer:
                return _fit(network, training, train, valid, device, generator, writer)

    def _save_checkpoint(self, network: Any, directory: Path) -> None:
        import torch

        torch.save(network.state_dict(), directory / f"{_nn_records.CHECKPOINT}.pt")

    def _load_checkpoint(self, config: Mapping[str, Any], prep: _nn_data.Preprocessor,
                         directory: Path) -> Any:
        import torch

        path = directory / f"{_nn_records.CHECKPOINT}.pt"
        if not path.is_file():
            return None
        network = self._build(config, prep.n_features_, _nn_data.n_outputs(prep.kind, prep.classes),
                              torch.device("cpu"))
        network.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return network.eval()

    @staticmethod
    def _forward(network: Any, features: np.ndarray) -> np.ndarray:
        import numpy as np
        import torch

        device = next(iter(network.parameters()), torch.empty(0)).device
        with contextlib.suppress(NotImplementedError):  # an exported program has no modes
            network.eval()
        with torch.no_grad():
            X = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32))
            out = _predict(network, X.to(device))
        return out.cpu().numpy()  # type: ignore[no-any-return]

    @staticmethod
    def _load_network(directory: Path) -> Any:
        return load_network(directory)

    @staticmethod
    def _portable(network: Any) -> Any:
        """The network with every tensor on the CPU (a copy, when some are on a GPU), so that
        a process without CUDA can unpickle it."""
        tensors = [*network.parameters(), *network.buffers()]
        if all(tensor.device.type == "cpu" for tensor in tensors):
            return network
        return copy.deepcopy(network).cpu()

    @staticmethod
    def _state(network: Any) -> dict[str, np.ndarray]:
        """The ``state_dict`` (parameters and buffers) as numpy arrays on the CPU."""
        return {key: value.detach().cpu().numpy() for key, value in network.state_dict().items()}

    # --- private ------------------------------------------------------------------------------

    def _build(self, config: Mapping[str, Any], n_in: int, n_out: int,
               device: torch.device) -> torch.nn.Module:
        """The factory's network on ``device``, checked on a batch of two rows."""
        import torch

        factory = mlp if self._uses_ready_made else self.model
        try:
            network = factory(dict(config), n_in, n_out)
        except ObjectiveError:
            raise
        except Exception as exc:  # noqa: BLE001 - the user's factory: say whose error it is
            raise _nn_settings.factory_error(factory, exc) from exc
        if not isinstance(network, torch.nn.Module):
            raise ObjectiveError(f"model factory {_nn_settings.describe_factory(factory)} returned "
                                 f"{type(network).__name__}, not a torch.nn.Module")
        network = network.to(device)
        network.eval()
        try:
            with torch.no_grad():
                out = network(torch.zeros(2, n_in, device=device))
        except Exception as exc:  # noqa: BLE001
            raise ObjectiveError(
                f"model factory {_nn_settings.describe_factory(factory)} built a network that "
                f"fails on a batch of 2 rows of {n_in} features: {type(exc).__name__}: "
                f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
            ) from exc
        _nn_settings.check_output_shape(tuple(out.shape), n_out, factory)
        return network.train()


def mlp(config: Mapping[str, Any], n_inputs: int, n_outputs: int) -> torch.nn.Module:
    """The ready-made MLP: ``layers`` x (Linear, [BatchNorm], activation, [Dropout]), Linear.

    >>> net = mlp({"layers": 2, "width": 8, "batch_norm": True, "dropout": 0.1}, 4, 3)
    >>> [type(layer).__name__ for layer in net]  # doctest: +NORMALIZE_WHITESPACE
    ['Linear', 'BatchNorm1d', 'ReLU', 'Dropout', 'Linear', 'BatchNorm1d', 'ReLU', 'Dropout',
     'Linear']
    """
    from torch import nn

    settings = _nn_settings.network_settings(config)
    activations = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "tanh": nn.Tanh,
                   "elu": nn.ELU, "leaky_relu": nn.LeakyReLU}
    layers: list[nn.Module] = []
    width_in = n_inputs
    for _ in range(settings["layers"]):
        layers.append(nn.Linear(width_in, settings["width"]))
        if settings["batch_norm"]:
            layers.append(nn.BatchNorm1d(settings["width"]))
        layers.append(activations[settings["activation"]]())
        if settings["dropout"] > 0:
            layers.append(nn.Dropout(settings["dropout"]))
        width_in = settings["width"]
    layers.append(nn.Linear(width_in, n_outputs))
    return nn.Sequential(*layers)


# --- training ------------------------------------------------------------------------------------


@contextlib.contextmanager
def _seeded(seed: int | None, device: torch.device) -> Iterator[None]:
    """Seed torch for the run only, with deterministic algorithms; restore both afterwards."""
    import torch

    was_deterministic = torch.are_deterministic_algorithms_enabled()
    was_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices, enabled=seed is not None):
        if seed is not None:
            torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(was_deterministic, warn_only=was_warn_only)


@contextlib.contextmanager
def _threads(n: int | None) -> Iterator[None]:
    """Use ``n`` CPU threads for the run (``None``: leave torch's setting)."""
    import torch

    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _optimizer(network: torch.nn.Module, s: _nn_settings.TrainSettings) -> torch.optim.Optimizer:
    import torch

    params = network.parameters()
    if s.optimizer == "adam":
        return torch.optim.Adam(params, lr=s.lr, weight_decay=s.weight_decay)
    if s.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=s.lr, weight_decay=s.weight_decay)
    return torch.optim.SGD(params, lr=s.lr, momentum=s.momentum,
                           nesterov=s.nesterov and s.momentum > 0, weight_decay=s.weight_decay)


def _scheduler(optimizer: torch.optim.Optimizer, s: _nn_settings.TrainSettings) -> Any:
    import torch

    schedulers = torch.optim.lr_scheduler
    if s.scheduler == "plateau":
        return schedulers.ReduceLROnPlateau(optimizer, mode="min", factor=s.factor,
                                            patience=s.plateau_patience)
    if s.scheduler == "cosine":
        return schedulers.CosineAnnealingLR(optimizer, T_max=s.epochs)
    if s.scheduler == "step":
        return schedulers.StepLR(optimizer, step_size=s.step_size, gamma=s.gamma)
    return None


def _loss(name: str) -> torch.nn.Module:
    from torch import nn

    losses = {"binary_crossentropy": nn.BCEWithLogitsLoss, "crossentropy": nn.CrossEntropyLoss,
              "mse": nn.MSELoss, "mae": nn.L1Loss}
    return losses[name]()


def _shaped(out: torch.Tensor, kind: str) -> torch.Tensor:
    """Logits ``(n, k)`` for many classes, else one value a row ``(n,)``."""
    return out if kind == "multiclass" else out.reshape(-1)


def _predict(network: torch.nn.Module, X: torch.Tensor) -> torch.Tensor:
    """Outputs ``(n, k)`` for ``X``, in chunks of rows."""
    if len(X) <= _CHUNK:
        return network(X).reshape(len(X), -1)
    import torch

    return torch.cat([_predict(network, X[i:i + _CHUNK]) for i in range(0, len(X), _CHUNK)])


def _fit(network: torch.nn.Module, training: Training, train: Part, valid: Part | None,
         device: torch.device, generator: torch.Generator,
         writer: _nn_board.EpochWriter | None) -> Run:
    """The epoch loop: train, validate, report, checkpoint, schedule, stop early, restore the
    best; from the epoch after the run's last checkpoint, if it has one."""
    import torch

    s, early = training.settings, training.early
    loss_fn = _loss(training.loss)
    optimizer = _optimizer(network, s)
    scheduler = _scheduler(optimizer, s) if training.replay is None else None
    on_device = {name: (torch.from_numpy(part.X).to(device), torch.from_numpy(part.t).to(device))
                 for name, part in (("train", train), ("valid", valid)) if part is not None}
    loop = _torch_state.begin(torch, training, network, optimizer, scheduler, generator, device)
    write = _torch_state.writer(torch, loop, network, optimizer, scheduler, generator, device)
    lrs = loop.lrs
    for epoch in range(loop.start, training.epochs):
        if training.replay is not None:
            for group in optimizer.param_groups:
                group["lr"] = training.replay[epoch]
        lrs.append(float(optimizer.param_groups[0]["lr"]))
        train_loss, loop.train_score = _train_epoch(network, optimizer, loss_fn, training,
                                                    train, on_device["train"], generator)
        record: dict[str, float | None] = {"loss": train_loss, "score": loop.train_score,
                                           "lr": lrs[-1]}
        if valid is not None:
            record["val_loss"], record["val_score"] = _validate(network, loss_fn, training,
                                                                valid, on_device["valid"])
        training.history.add(epoch, **record)
        if writer is not None:
            writer.add(record, epoch)
        if not math.isfinite(train_loss):
            break  # diverged: the best epoch so far (if any) is kept
        if scheduler is not None and s.scheduler == "plateau":
            scheduler.step(record.get("val_loss", train_loss))  # without validation: training
        elif scheduler is not None:
            scheduler.step()
        if early is not None and valid is not None:
            score = float(record["val_score"])  # type: ignore[arg-type]
            if early.update(score, epoch):
                loop.best_state = {k: v.detach().clone()
                                   for k, v in network.state_dict().items()}
                loop.best_train_score = loop.train_score
            if training.on_epoch is not None:
                training.on_epoch(epoch, score, early.stop or epoch + 1 == training.epochs,
                                  write)
            if early.stop:
                break
    if loop.best_state is not None:
        network.load_state_dict(loop.best_state)
    network.eval()
    if early is not None and valid is not None:
        best_epoch = early.best_epoch
        return Run(network, best_epoch, len(lrs), lrs,
                   early.best if best_epoch >= 0 else None, loop.best_train_score)
    return Run(network, len(lrs) - 1, len(lrs), lrs, None, loop.train_score)


def _train_epoch(network: torch.nn.Module, optimizer: torch.optim.Optimizer,
                 loss_fn: torch.nn.Module, training: Training, train: Part,
                 tensors: tuple[torch.Tensor, torch.Tensor],
                 generator: torch.Generator) -> tuple[float, float]:
    """One pass over the shuffled training rows: the mean loss, and the metric of the outputs."""
    import torch

    X, t = tensors
    n, batch, kind = len(X), training.settings.batch_size, training.prep.kind
    # a last batch of one row is dropped: BatchNorm cannot train on it
    n_used = n - 1 if n % batch == 1 and n > 1 else n
    network.train()
    order = torch.randperm(n, generator=generator)[:n_used]
    order_dev = order.to(X.device)
    losses, outs = [], []
    for start in range(0, n_used, batch):
        rows = order_dev[start:start + batch]
        optimizer.zero_grad(set_to_none=True)
        out = network(X[rows])
        loss = loss_fn(_shaped(out, kind), t[rows])
        loss.backward()
        optimizer.step()
        losses.append(loss.detach())
        outs.append(out.detach())
    # the mean of the batch losses, each weighted by its rows (the last may be short)
    sizes = torch.full((len(losses),), float(batch), device=X.device)
    sizes[-1] = n_used - batch * (len(losses) - 1)
    train_loss = float(torch.stack(losses) @ sizes) / n_used
    seen = order.numpy()
    score = _score(training.metric, train.y[seen], torch.cat(outs), training.prep, train.t[seen])
    return train_loss, score


def _validate(network: torch.nn.Module, loss_fn: torch.nn.Module, training: Training,
              valid: Part, tensors: tuple[torch.Tensor, torch.Tensor]) -> tuple[float, float]:
    """The loss and the study metric on the validation rows."""
    import torch

    X, t = tensors
    network.eval()
    with torch.no_grad():
        out = _predict(network, X)
        loss = float(loss_fn(_shaped(out, training.prep.kind), t))
    return loss, _score(training.metric, valid.y, out, training.prep, valid.t)


def _score(metric: Any, y: np.ndarray, out: torch.Tensor, prep: _nn_data.Preprocessor,
           codes: np.ndarray) -> float:
    return _nn_data.score_outputs(metric, y, out.detach().cpu().numpy(), prep,
                                  None if prep.kind == "regression" else codes)


def _with_head(network: torch.nn.Module, prep: _nn_data.Preprocessor) -> torch.nn.Module:
    """``network`` followed by its output head: class probabilities (two columns for two
    classes), or the standardized target turned back into the target's units."""
    import torch

    n_out = _nn_data.n_outputs(prep.kind, prep.classes)

    class Head(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.network = network

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            z = self.network(x).reshape(-1, n_out)
            if prep.kind == "multiclass":
                return torch.softmax(z, dim=1)
            if prep.kind == "binary":
                p = torch.sigmoid(z)
                return torch.cat([1.0 - p, p], dim=1)
            return z * prep.y_std_ + prep.y_mean_

    return Head().eval()


def _export(network: torch.nn.Module, example: torch.Tensor, directory: Path) -> Path:
    """The network as a ``torch.export`` program (``model.pt2``), else TorchScript."""
    import torch

    network = network.cpu().eval()
    try:
        batch = torch.export.Dim("batch", min=1)
        program = torch.export.export(network, (example,), dynamic_shapes=({0: batch},))
        path = directory / "model.pt2"
        torch.export.save(program, str(path))
        return path
    except Exception:  # noqa: BLE001 - a network torch.export cannot trace: TorchScript
        path = directory / "model.torchscript"
        torch.jit.save(torch.jit.trace(network, example), str(path))
        return path


def load_network(directory: Path) -> Any:
    """The exported network under ``directory`` (``model.pt2`` or TorchScript), on CPU."""
    import torch

    if (directory / "model.pt2").is_file():
        return torch.export.load(str(directory / "model.pt2")).module()
    return torch.jit.load(str(directory / "model.torchscript"), map_location="cpu")
