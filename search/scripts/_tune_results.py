"""What a script's ``Tuner.fit()`` returns: Tune's ``ResultGrid``, read from the study's store.

Each trial is a ``ray.tune.Result`` (Ray's own dataclass): ``metrics`` are the last metrics the
trial reported, with Tune's own keys (``config``, ``trial_id``, ``training_iteration``,
``done``); ``metrics_dataframe`` every report, one row each; ``checkpoint`` its latest
checkpoint while the files still have the keyed digests the driver recorded; ``path`` its
trial folder; ``error`` why it failed. A trial the pruner stopped early is a result like the
others, as Tune's "terminated" trials are. :class:`ResultGrid` has Tune's methods over them:
``get_best_result`` (Tune's scopes), ``get_dataframe``, ``errors``, ``num_errors``,
``num_terminated``, ``experiment_path``, indexing, ``len`` and iteration.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

SCOPES = ("all", "last", "avg", "last-5-avg", "last-10-avg")


class ResultGrid:
    """Tune's ``ResultGrid`` over the framework's trials (see the module's docstring)."""

    def __init__(self, results: Sequence[Any], experiment_path: Path, metric: str | None,
                 mode: str | None, states: Sequence[str]) -> None:
        self._results = list(results)
        self._path = experiment_path
        self._metric, self._mode = metric, mode
        self._states = list(states)

    @property
    def experiment_path(self) -> str:
        return str(self._path)

    @property
    def filesystem(self) -> Any:
        import pyarrow.fs

        return pyarrow.fs.LocalFileSystem()

    def __len__(self) -> int:
        return len(self._results)

    def __getitem__(self, i: int) -> Any:
        return self._results[i]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._results)

    @property
    def errors(self) -> list[Exception]:
        return [result.error for result in self._results if result.error]

    @property
    def num_errors(self) -> int:
        return sum(state == "FAIL" for state in self._states)

    @property
    def num_terminated(self) -> int:
        return sum(state in ("COMPLETE", "PRUNED") for state in self._states)

    def get_best_result(self, metric: str | None = None, mode: str | None = None,
                        scope: str = "last", filter_nan_and_inf: bool = True) -> Any:
        """The result with the best ``metric`` (Tune's scopes; NaN and inf left out)."""
        if len(self._results) == 1:
            return self._results[0]
        metric, mode = metric or self._metric, mode or self._mode
        if not metric:
            raise ValueError("No metric is provided. Either pass in a `metric` arg to "
                             "`get_best_result` or specify a metric in the `TuneConfig` of "
                             "your `Tuner`.")
        if mode not in ("min", "max"):
            raise ValueError("No mode is provided. Either pass in a `mode` arg to "
                             "`get_best_result` or specify a mode in the `TuneConfig` of your "
                             "`Tuner`.")
        if scope not in SCOPES:
            raise ValueError(f"ExperimentAnalysis: attempting to get best trial for metric "
                             f"{metric} for scope {scope} not in {list(SCOPES)}.")
        best, best_score = None, None
        for result in self._results:
            score = _score(_history(result, metric), mode, scope)
            if score is None or (filter_nan_and_inf and not math.isfinite(score)):
                continue
            if best_score is None or (score > best_score if mode == "max" else score < best_score):
                best, best_score = result, score
        if best is None:
            raise RuntimeError(f"No best trial found for the given metric: {metric}. This "
                               "means that no trial has reported this metric, or all values "
                               "reported for this metric are NaN.")
        return best

    def get_dataframe(self, filter_metric: str | None = None,
                      filter_mode: str | None = None) -> Any:
        """One row a trial: its last report (or, with ``filter_metric`` and ``filter_mode``,
        its best by that metric), flattened with ``/``, its ``config/...`` and ``logdir``."""
        import pandas as pd

        if filter_mode and filter_mode not in ("min", "max"):
            raise ValueError("If set, `mode` has to be one of [min, max]")
        if filter_mode and not filter_metric:
            raise ValueError("If a `mode` is passed to `ExperimentAnalysis.dataframe(), you'll "
                             "also have to pass a `metric`!")
        rows = []
        for result in self._results:
            frame = result.metrics_dataframe
            if frame is None or frame.empty:
                continue
            index = -1
            if filter_metric in frame and filter_mode:
                column = pd.to_numeric(frame[filter_metric], errors="coerce")
                index = int(column.idxmax() if filter_mode == "max" else column.idxmin())
            row = frame.iloc[index].to_dict()
            row.update(flatten({"config": result.config or {}}))
            row["logdir"] = result.path
            rows.append(row)
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        shown = ",\n".join(result._repr(indent=2) for result in self._results)
        return f"ResultGrid<[\n{shown}\n]>"


def _history(result: Any, metric: str) -> list[float]:
    frame = result.metrics_dataframe
    if frame is None or metric not in frame:
        return []
    values = []
    for value in frame[metric]:
        try:
            values.append(float(value))
        except (TypeError, ValueError):
            continue
    return values


def _score(values: list[float], mode: str, scope: str) -> float | None:
    """Tune's ``metric_analysis`` of one trial for ``scope``."""
    if not values:
        return None
    if scope == "last":
        return values[-1]
    if scope == "all":
        return max(values) if mode == "max" else min(values)
    window = {"avg": len(values), "last-5-avg": 5, "last-10-avg": 10}[scope]
    tail = values[-window:]
    return sum(tail) / len(tail)


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested mapping's leaves under ``/``-joined keys (Tune's ``flatten_dict``)."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, f"{name}/"))
        else:
            out[name] = value
    return out


# --- the results, from the store -----------------------------------------------------------------


def result_grid(trials: Sequence[Any], directory: Path, space: Any, metric: str,
                mode: str) -> ResultGrid:
    """Tune's ``ResultGrid`` of the finished ``trials`` of the study in ``directory``: one
    result a trial, or a Population Based Training member's segments as one result."""
    directory = directory.resolve()  # Tune's paths are absolute
    members = _members([t for t in trials if t.state.is_finished()])
    results = [_result(segments, directory, space) for segments in members]
    return ResultGrid(results, directory, metric, mode,
                      [segments[-1].state.name for segments in members])


def _members(trials: Sequence[Any]) -> list[list[Any]]:
    """The trials grouped as Tune's trials: a PBT member's segments (the ``pbt`` user
    attribute) in order, every other trial alone."""
    from search.core._trials import PBT_ATTR

    groups: dict[int, list[Any]] = {}
    for trial in trials:
        place = trial.user_attrs.get(PBT_ATTR) or {}
        groups.setdefault(int(place.get("member", trial.number)), []).append(trial)
    return [sorted(group, key=lambda t: int((t.user_attrs.get(PBT_ATTR) or {}).get(
        "segment", 0))) for _, group in sorted(groups.items())]


def tune_config(trial: Any, space: Any) -> dict[str, Any]:
    """The config a trial ran with, as the trainable received it (groups nested)."""
    from search.core._trials import trial_config

    config = trial_config(space, trial.params)
    nested = getattr(space, "nested", None)
    return nested(config) if callable(nested) else config


def _result(segments: list[Any], directory: Path, space: Any) -> Any:
    import pandas as pd
    from ray.tune import Result

    from search.core._folder import trial_dir

    last = segments[-1]
    history: list[dict[str, Any]] = []
    for trial in segments:
        history += _reports(trial, tune_config(trial, space))
    member = _trial_id(segments[0], directory.name)
    for row in history:  # a member's segments are one trial of Tune's
        row["trial_id"] = member
    checkpoint = _checkpoint(last, directory)
    metrics = dict(history[-1]) if history else \
        _auto({"trial_id": member}, last, tune_config(last, space), 0)
    metrics["config"] = tune_config(last, space)
    best = [(checkpoint, metrics)] if checkpoint is not None else []
    return Result(metrics=metrics, checkpoint=checkpoint, error=_error(last),
                  path=str(trial_dir(directory, segments[0].number)),
                  metrics_dataframe=pd.json_normalize(history, sep="/") if history else
                  pd.DataFrame(), best_checkpoints=best)


def _reports(trial: Any, config: dict[str, Any]) -> list[dict[str, Any]]:
    """Every metrics mapping the trial reported, with Tune's own keys added."""
    from search.core._trials import METRICS

    reported = trial.system_attrs.get(METRICS) or []
    if not reported and trial.intermediate_values:  # a trial that reported values only
        reported = [{"value": v} for _, v in sorted(trial.intermediate_values.items())]
    return [_auto(dict(m), trial, config, i + 1) for i, m in enumerate(reported)]


def _auto(metrics: dict[str, Any], trial: Any, config: dict[str, Any],
          iteration: int) -> dict[str, Any]:
    """Tune's auto-filled result keys, where the trial's own report lacks them."""
    metrics.setdefault("training_iteration", iteration)
    metrics.setdefault("done", trial.state.name == "COMPLETE")
    start, end = trial.datetime_start, trial.datetime_complete
    if start is not None and end is not None:
        metrics.setdefault("time_total_s", (end - start).total_seconds())
    metrics["config"] = config
    return metrics


def _trial_id(trial: Any, experiment: str) -> str:
    """Tune's trial id: what the trial reported (``EXPERIMENT_00003``), else made alike."""
    from search.core._trials import METRICS

    reported = trial.system_attrs.get(METRICS) or [{}]
    return str(reported[0].get("trial_id") or f"{experiment}_{trial.number:05d}")


def _checkpoint(trial: Any, directory: Path) -> Any:
    """The trial's latest checkpoint, only while its files verify (else ``None``)."""
    from search.core._checkpoints import CHECKPOINT, restore_from
    from search.core._folder import trial_dir

    recorded = trial.system_attrs.get(CHECKPOINT)
    if not recorded:
        return None
    restore = restore_from(recorded, trial_dir(directory, int(recorded["trial"])))
    if restore is None:
        return None
    from ray.tune import Checkpoint

    return Checkpoint.from_directory(restore.folder)


def _error(trial: Any) -> Exception | None:
    if trial.state.name != "FAIL":
        return None
    from ray.tune.error import TuneError

    reason = trial.user_attrs.get("error") or "the trial failed"
    return TuneError(f"trial {trial.number}: {reason}")
