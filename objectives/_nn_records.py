"""What a network's training leaves behind, and what the final refit reads of it.

The early-stopping bookkeeping, the per-epoch history (as JSON and as a plot), the files a
trial keeps in its artifact folder, and the refit plan (epochs and learning rates) drawn from
a trial's summary. Nothing here imports torch or tensorflow.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# files a trial keeps in its artifact folder
CHECKPOINT = "checkpoint"
SUMMARY_JSON = "summary.json"
HISTORY_JSON = "history.json"
PREPROCESS_FILE = "preprocess.joblib"
TENSORBOARD_DIR = "tensorboard"


# --- early stopping and history -----------------------------------------------------------------


@dataclass
class EarlyStopping:
    """Keeps the best validation score and says when ``patience`` epochs brought none better.

    The same rule as Keras: an epoch improves when it beats the best by more than
    ``min_delta``; training stops after ``patience`` epochs without improvement.
    """

    direction: str
    patience: int
    min_delta: float = 0.0
    best: float = math.nan
    best_epoch: int = -1
    wait: int = 0

    def update(self, score: float, epoch: int) -> bool:
        """Record ``score`` of ``epoch``; whether it is the new best."""
        sign = 1.0 if self.direction == "maximize" else -1.0
        improved = math.isfinite(score) and (
            self.best_epoch < 0 or sign * (score - self.best) > self.min_delta
        )
        if improved:
            self.best, self.best_epoch, self.wait = score, epoch, 0
        else:
            self.wait += 1
        return improved

    @property
    def stop(self) -> bool:
        return self.wait >= self.patience


@dataclass
class History:
    """Per-epoch records: ``loss``, ``score`` (train) and ``val_loss``, ``val_score``, ``lr``."""

    metric: str
    records: list[dict[str, float]] = field(default_factory=list)

    def add(self, epoch: int, **values: float | None) -> dict[str, float]:
        record = {"epoch": float(epoch)}
        record.update({k: float(v) for k, v in values.items() if v is not None})
        self.records.append(record)
        return record

    def column(self, key: str) -> list[float]:
        return [r[key] for r in self.records if key in r]

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "epochs": [
            {k: (int(v) if k == "epoch" else _finite(v)) for k, v in r.items()}
            for r in self.records
        ]}


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def jsonable(value: Any) -> Any:
    """A numpy scalar as the Python value JSON can hold; anything else as it is."""
    return value.item() if hasattr(value, "item") else value


def write_json(path: Path, payload: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=jsonable) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def plot_histories(histories: Mapping[str, Mapping[str, Any]], path: Path) -> Path:
    """Loss and score per epoch, train and validation, one column a run; a PNG.

    ``histories`` maps a title to :meth:`History.to_dict` output.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    runs = [(title, h) for title, h in histories.items() if h.get("epochs")]
    fig = Figure(figsize=(5 * max(1, len(runs)), 6.5), layout="constrained")
    axes = fig.subplots(2, max(1, len(runs)), squeeze=False)
    for col, (title, hist) in enumerate(runs):
        epochs = hist["epochs"]
        for row, (key, label) in enumerate((("loss", "loss"), ("score", hist["metric"]))):
            ax = axes[row][col]
            for prefix, name in (("", "train"), ("val_", "validation")):
                points = [(r["epoch"] + 1, r[prefix + key]) for r in epochs
                          if r.get(prefix + key) is not None]
                if points:
                    xs, ys = zip(*points, strict=True)
                    ax.plot(xs, ys, label=name, marker="." if len(xs) < 40 else None)
            ax.set_xlabel("epoch")
            ax.set_ylabel(label)
            if row == 0:
                ax.set_title(title)
            if ax.get_legend_handles_labels()[0]:
                ax.legend()
            ax.grid(alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    return path


# --- what a trial leaves for the final model ----------------------------------------------------


def read_summary(trial_dir: Path | None) -> dict[str, Any] | None:
    if trial_dir is None:
        return None
    path = trial_dir / SUMMARY_JSON
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


def refit_plan(runs: Sequence[Mapping[str, Any]]) -> tuple[int, list[float]]:
    """Epochs and per-epoch learning rates for the refit, from the trial's runs.

    The epochs are the (rounded mean) number that early stopping chose; the learning rates
    are the schedule those runs followed (element-wise median over folds), so a plateau
    schedule is replayed without a validation part to watch.
    """
    import numpy as np

    epochs = max(1, round(float(np.mean([r["best_epoch"] + 1 for r in runs]))))
    table = []
    for run in runs:
        lrs = list(run["lrs"])[:epochs] or [math.nan]
        table.append(lrs + [lrs[-1]] * (epochs - len(lrs)))
    return epochs, [float(v) for v in np.median(np.asarray(table, dtype=float), axis=0)]


def read_histories(trial_dir: Path | None) -> dict[str, Any]:
    """The trial's histories by run (``"trial holdout"``, ``"trial fold_0"``, ...)."""
    if trial_dir is None:
        return {}
    try:
        payload = json.loads((trial_dir / HISTORY_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(payload, dict):
        return {}
    return {f"trial {name}": h for name, h in payload.items() if isinstance(h, dict)}
