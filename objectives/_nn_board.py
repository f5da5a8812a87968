"""What a network trial writes for TensorBoard: per-epoch scalars and its HParams session.

A trial's folder holds ``tensorboard/<run>/`` (``holdout`` or ``fold_k``) with one scalar an epoch
(torch: written here with tensorboardX; Keras: by Keras' own TensorBoard callback), and, when the
trial ends, ``tensorboard/`` itself holds the trial's HParams session: its config, its value (the
trial's metric, tag ``trial/<metric>``) and its status (success; failure for a pruned or failed
trial, which has no value). TensorBoard's HParams dashboard then compares the trials of
``tensorboard --logdir RESULTS/NAME/trials`` by config: each trial's ``tensorboard/`` is one
session, and its per-epoch runs are the session's groups.

No experiment summary is written: TensorBoard builds the experiment from the sessions, the union
of their configs, so conditional parameters that only some trials have are columns too.

torch trials write with tensorboardX (``import torch.utils.tensorboard`` would load TensorFlow
whenever it is installed); Keras trials with the ``tensorboard`` package's own HParams summaries
and event writer (what Keras' TensorBoard callback needs anyway). Neither loads a framework.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

#: the scalar tag of a trial's value in its HParams session
VALUE_TAG = "trial/{}"
#: per-epoch scalar tags of the torch writer, by history key
EPOCH_TAGS = {"loss": "loss/train", "val_loss": "loss/validation", "score": "{}/train",
              "val_score": "{}/validation", "lr": "learning_rate"}


class EpochWriter:
    """TensorBoard scalars, one event an epoch, written by tensorboardX in the background."""

    def __init__(self, log_dir: Path, metric: str) -> None:
        from tensorboardX import FileWriter
        from tensorboardX.proto.summary_pb2 import Summary

        self._summary = Summary
        self._writer = FileWriter(str(log_dir))
        self._tags = {key: tag.format(metric) for key, tag in EPOCH_TAGS.items()}

    def add(self, record: Mapping[str, float | None], epoch: int) -> None:
        summary = self._summary(value=[
            self._summary.Value(tag=self._tags[key], simple_value=value)
            for key, value in record.items() if value is not None and key in self._tags
        ])
        self._writer.add_summary(summary, epoch)

    def close(self) -> None:
        self._writer.close()


@contextlib.contextmanager
def epoch_writer(log_dir: Path | None, metric: str) -> Iterator[EpochWriter | None]:
    """An :class:`EpochWriter` on ``log_dir`` for the block (``None``: no TensorBoard)."""
    if log_dir is None:
        yield None
        return
    writer = EpochWriter(log_dir, metric)
    try:
        yield writer
    finally:
        writer.close()


def hparams(config: Mapping[str, Any]) -> dict[str, bool | int | float | str]:
    """The config as HParams values: numbers, strings and booleans as they are, anything else
    as its text; ``None`` (a parameter without a value) left out."""
    out: dict[str, bool | int | float | str] = {}
    for key, value in config.items():
        if value is None:
            continue
        if hasattr(value, "item"):  # a numpy scalar
            value = value.item()
        out[str(key)] = value if isinstance(value, bool | int | float | str) else str(value)
    return out


def trial_session(log_dir: Path, library: str, trial: Any, config: Mapping[str, Any],
                  metric: str, scores: list[float] | None, started: float) -> Path:
    """Write ``trial``'s session: its value is the mean of its parts' ``scores`` (``None``:
    pruned or failed, a session without a value)."""
    values = None if not scores else {metric: float(sum(scores) / len(scores))}
    return write_session(log_dir, library, name=f"trial {trial.number}", config=config,
                         values=values, started=started)


def write_session(log_dir: Path, library: str, *, name: str, config: Mapping[str, Any],
                  values: Mapping[str, float] | None, started: float) -> Path:
    """Write a trial's HParams session into ``log_dir``: its config, its ``values`` (by metric
    name; ``None``: the trial ended without a value, a failure) and its times.

    ``library``: ``"tensorboardX"`` or ``"tensorboard"``, whichever the framework writes with.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    write = _write_tensorboardx if library == "tensorboardX" else _write_tensorboard
    write(log_dir, name, hparams(config), dict(values or {}), values is not None, started)
    return log_dir


def _write_tensorboardx(log_dir: Path, name: str, config: dict[str, Any],
                        values: dict[str, float], success: bool, started: float) -> None:
    from tensorboardX import FileWriter
    from tensorboardX.proto.api_pb2 import Status
    from tensorboardX.proto.plugin_hparams_pb2 import (
        HParamsPluginData,
        SessionEndInfo,
        SessionStartInfo,
    )
    from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata

    def plugin_summary(tag: str, data: HParamsPluginData) -> Summary:
        content = SummaryMetadata.PluginData(plugin_name="hparams",
                                             content=data.SerializeToString())
        return Summary(value=[Summary.Value(tag=tag,
                                            metadata=SummaryMetadata(plugin_data=content))])

    start = SessionStartInfo(group_name=name, start_time_secs=started)
    for key, value in config.items():
        field = ("bool_value" if isinstance(value, bool) else
                 "number_value" if isinstance(value, int | float) else "string_value")
        setattr(start.hparams[key], field, value)
    status = Status.Value("STATUS_SUCCESS" if success else "STATUS_FAILURE")
    end = SessionEndInfo(status=status, end_time_secs=time.time())
    writer = FileWriter(str(log_dir))
    try:
        writer.add_summary(plugin_summary("_hparams_/session_start_info",
                                          HParamsPluginData(session_start_info=start)))
        for metric, value in values.items():
            tag = VALUE_TAG.format(metric)
            writer.add_summary(Summary(value=[Summary.Value(tag=tag, simple_value=value)]), 0)
        writer.add_summary(plugin_summary("_hparams_/session_end_info",
                                          HParamsPluginData(session_end_info=end)))
    finally:
        writer.close()


def _write_tensorboard(log_dir: Path, name: str, config: dict[str, Any],
                       values: dict[str, float], success: bool, started: float) -> None:
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.plugins.hparams import api_pb2, summary, summary_v2
    from tensorboard.plugins.scalar import summary_v2 as scalar
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    status = api_pb2.STATUS_SUCCESS if success else api_pb2.STATUS_FAILURE
    summaries = [
        summary_v2.hparams_pb(config, trial_id=name, start_time_secs=started),
        *(scalar.scalar_pb(VALUE_TAG.format(metric), value) for metric, value in values.items()),
        summary.session_end_pb(status, end_time_secs=time.time()),
    ]
    writer = EventFileWriter(str(log_dir))
    try:
        for pb in summaries:
            # with TensorFlow installed the helpers give its own Summary class: the same bytes
            summary_pb = Summary.FromString(pb.SerializeToString())
            writer.add_event(Event(wall_time=time.time(), step=0, summary=summary_pb))
    finally:
        writer.close()
