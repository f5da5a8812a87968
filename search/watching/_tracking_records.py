"""What tracking logs about a study and a trial, as plain values, and the names it logs them by.

The parent run's params are what a resume may not change (metric, seed, space, data); its tags
are what may (budget, versions). A trial becomes a small dict of plain values, cheap to pickle
into the writer's queue. The tags that mark a run's kind, trial and study let the writer find
runs again after a crash; values are cut to MLflow's limits.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.core._auto import sampler_label
from search.core._strategies import strategy_label
from search.core._trials import started, user_attrs
from search.integrity._ties import fold_scores
from search.watching._tracking_client import ms
from search.watching._trial_history import numeric, pbt_place, step_metrics

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

#: the key in ``study.json`` that remembers where the study's parent run is
RECORD_KEY = "tracking"
KIND = "search.kind"  # tag: study, trial or final
TRIAL = "search.trial"  # tag: the trial number of a child or final run
CREATED = "search.created_at"  # tag: study.json's created_at, the study's identity
PARENT = "mlflow.parentRunId"
MAX_PARAM = 6000  # MLflow's limits on a param value and a tag value
MAX_TAG = 8000


def trial_record(trial: FrozenTrial, names: Sequence[str] = ("value",)) -> dict[str, Any]:
    """What the writer needs of a finished trial: plain values, cheap to pickle; ``names``: the
    study's objectives, in order."""
    values = trial.values or []
    return {
        "number": trial.number,
        "state": trial.state.name,
        "value": values[0] if len(values) == 1 else None,
        "values": dict(zip(names, values, strict=False)) if len(values) > 1 else {},
        "params": dict(trial.params),
        "steps": dict(trial.intermediate_values),
        "folds": fold_scores(trial),
        "train_score": trial.user_attrs.get("train_score"),
        "error": trial.user_attrs.get("error"),
        "user_attrs": user_attrs(trial),
        "step_metrics": [(step, numeric(found)) for step, found in step_metrics(trial)],
        "pbt": pbt_place(trial),
        "start": ms(started(trial)),
        "end": ms(trial.datetime_complete),
    }


def study_params(record: dict[str, Any], space: Any) -> dict[str, str]:
    """The parent run's params: what a resume may not change (metric, seed, space, data)."""
    params: dict[str, Any] = {
        "metric": record.get("metric") or "-",
        "direction": record["direction"],
        "seed": record["seed"],
        "objective": _compact(record.get("objective")),
    }
    for path, param in space.flatten().items():
        described = param.to_dict()
        if isinstance(described.get("choices"), dict):  # a branch: its options, not sub-spaces
            described["choices"] = list(described["choices"])
        params[f"space.{path}"] = _compact(described)
    for key, value in (record.get("data") or {}).items():
        if value is not None:
            params[f"data.{key}"] = value
    for part, fingerprint in (record.get("fingerprints") or {}).items():
        params[f"data.{part}.sha256"] = fingerprint.get("sha256")
        params[f"data.{part}.shape"] = "x".join(str(n) for n in fingerprint.get("shape", []))
    return {k: str(v)[:MAX_PARAM] for k, v in params.items()}


def study_tags(record: dict[str, Any], directory: Path) -> dict[str, str]:
    """The parent run's tags: what may change between runs of a study (budget, versions)."""
    tags: dict[str, Any] = {
        KIND: "study",
        CREATED: record["created_at"],
        "search.study": record["name"],
        "search.folder": str(directory.resolve()),
        "sampler": sampler_label(record.get("sampler")),
        "pruner": strategy_label(record.get("pruner")),
        "backend": record.get("backend"),
        "workers": record.get("workers"),
        "trials": record.get("trials"),
        "timeout": record.get("timeout"),
        "study_file": record.get("study_file"),
        "command": " ".join(record.get("command") or []),
    }
    for name, version in (record.get("versions") or {}).items():
        tags[f"version.{name}"] = version
    return {k: str(v)[:MAX_TAG] for k, v in tags.items() if v is not None}


#: a network's per-epoch history keys (``history.json``) as MLflow metric names
_EPOCH_KEYS = {"loss": "train_loss", "val_loss": "val_loss", "score": "train_{}",
               "val_score": "val_{}", "lr": "learning_rate"}


def epoch_metrics(folder: Path, end: int) -> list[Any]:
    """A network trial's per-epoch training and validation loss and metric, from the
    ``history.json`` its folder keeps (step: the epoch); a fold's names start ``fold_k/``.
    Nothing for a trial without one, or one that cannot be read."""
    from mlflow.entities import Metric

    try:
        histories = json.loads((folder / "history.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    metrics = []
    for run, history in (histories.items() if isinstance(histories, dict) else ()):
        prefix = "" if run == "holdout" else f"{run}/"
        metric = str(history.get("metric", "score"))
        for record in history.get("epochs", ()):
            for key, name in _EPOCH_KEYS.items():
                value = record.get(key)
                if isinstance(value, (int, float)):
                    metrics.append(Metric(prefix + name.format(metric), float(value), end,
                                          int(record.get("epoch", 0))))
    return metrics


_TAG_ODD = re.compile(r"[^\w./ -]")  # what MLflow refuses in a tag's key
_METRIC_ODD = re.compile(r"[^\w./ :-]")  # what MLflow refuses in a metric's key
#: the child run's own metrics; a reported metric of one of these names is logged as
#: ``reported.<name>``
OWN_METRICS = frozenset({"value", "fold_score", "step_score", "duration_s", "train_score"})


def reported_metrics(record: dict[str, Any], end: int) -> list[Any]:
    """Every numeric metric a trial reported at a step (``trial.report_metrics``, Ray Tune's
    ``tune.report``) as MLflow metrics at that step, at the time the step reported
    (``timestamp``, Tune's, in seconds) or else at the trial's end. A key MLflow cannot hold
    has its odd characters replaced by ``_``; one that is the run's own metric's name, or
    the start of an objective's ``value_<name>``, is logged as ``reported.<key>``."""
    from mlflow.entities import Metric

    metrics = []
    for step, found in record.get("step_metrics") or ():
        stamp = found.get("timestamp")
        seconds = isinstance(stamp, (int, float)) and 0 < stamp < 1e11  # Tune's: seconds
        when = int(stamp * 1000) if seconds else end
        for key, value in found.items():
            metrics.append(Metric(metric_key(key), float(value), when, int(step)))
    return metrics


def metric_key(key: str) -> str:
    """A reported metric's name as MLflow can hold it, apart from the run's own metrics."""
    name = _METRIC_ODD.sub("_", key).replace("..", "__").lstrip("/") or "_"
    if name in OWN_METRICS or name.startswith("value_"):
        name = f"reported.{name}"
    return name[:250]


def pbt_tags(place: dict[str, Any] | None) -> dict[str, str]:
    """A PBT segment's place as tags: ``pbt.member``, ``pbt.segment``, ``pbt.from_step``,
    ``pbt.exploited`` and (after a member's first segment) ``pbt.parent``; none otherwise."""
    if not place:
        return {}
    tags = {"pbt.member": str(place.get("member")), "pbt.segment": str(place.get("segment", 0)),
            "pbt.from_step": str(place.get("from_step", 0)),
            "pbt.exploited": str(bool(place.get("exploited"))).lower()}
    if place.get("parent") is not None:
        tags["pbt.parent"] = str(place["parent"])
    return tags


def user_attr_tags(attrs: dict[str, Any]) -> dict[str, str]:
    """The user's own trial attributes as MLflow tags ``user_attrs.<key>`` (text as it is,
    anything else as JSON), cut to MLflow's limit; a key MLflow cannot hold has its odd
    characters replaced by ``_``."""
    tags = {}
    for key, value in attrs.items():
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        tags["user_attrs." + _TAG_ODD.sub("_", str(key))] = text[:MAX_TAG]
    return tags


def param_values(params: dict[str, Any]) -> dict[str, str]:
    """A trial's parameters as MLflow params: text, cut to MLflow's limit."""
    return {k: str(v)[:MAX_PARAM] for k, v in params.items()}


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)
