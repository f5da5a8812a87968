"""Trial runs written many at a time into an embedded (SQLite) MLflow store.

MLflow's client writes one finished run in three transactions of some thirty statements
(create, log, terminate): about 14 ms a trial here, more than a cheap trial costs, so a fast
search ended with seconds of runs still to write. For a store on a ``sqlite:`` URI (MLflow's
``SqlAlchemyStore``) the writer instead inserts a whole batch of finished trial runs — run,
tags, params, metric history, latest metrics — in one transaction through MLflow's own table
models: about 2 ms a trial. The rows are the ones the client writes (a test writes the same
trials both ways and compares them through the client). Anything this module does not expect
(another store, another MLflow layout, a name MLflow might refuse) is left to the client.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

log = logging.getLogger(__name__)

#: names written in bulk; others (MLflow may refuse them, and says why) go through the client
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_\-. /:]{1,250}")


class BulkRuns:
    """Inserts finished runs into one experiment of a SQLAlchemy-backed MLflow store."""

    def __init__(self, store: Any, experiment_id: str, models: Any) -> None:
        self._store = store
        self._experiment_id = experiment_id
        self._models = models
        self._artifacts = store.get_experiment(experiment_id).artifact_location

    @classmethod
    def open(cls, client: Any, uri: str, experiment_id: str) -> BulkRuns | None:
        """A bulk writer for the client's store, or ``None`` where the client must write."""
        if not uri.startswith("sqlite:"):
            return None
        try:
            from mlflow.store.tracking.dbmodels import models
            from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

            store = client._tracking_client.store
            if not isinstance(store, SqlAlchemyStore) or not hasattr(
                store, "sanitize_metric_value"
            ):
                return None
            return cls(store, experiment_id, models)
        except Exception:  # noqa: BLE001 - another MLflow layout: the client writes
            log.info("tracking: runs written one by one (no bulk path)", exc_info=True)
            return None

    def _session(self) -> Any:
        """A write session (MLflow 3 asks for ``read_only=False``; MLflow 2 has no such flag)."""
        try:
            return self._store.ManagedSessionMaker(read_only=False)
        except TypeError:
            return self._store.ManagedSessionMaker()

    @staticmethod
    def accepts(run: dict[str, Any]) -> bool:
        """Whether every name in ``run`` is plain enough to write without MLflow's checks."""
        names = [*run["tags"], *run["params"], *(m.key for m in run["metrics"])]
        return all(_PLAIN_NAME.fullmatch(n) and ".." not in n for n in names)

    def write(self, runs: list[dict[str, Any]]) -> None:
        """Insert ``runs`` (each: name, tags, params, metrics, start, end, status) in one
        transaction; on any error nothing is written and the error is raised."""
        m = self._models
        with self._session() as session:
            for run in runs:
                run_id = uuid.uuid4().hex
                row = m.SqlRun(
                    name=run["name"],
                    artifact_uri=f"{self._artifacts.rstrip('/')}/{run_id}/artifacts",
                    run_uuid=run_id,
                    experiment_id=int(self._experiment_id),
                    source_type="UNKNOWN",
                    source_name="",
                    entry_point_name="",
                    user_id="unknown",
                    status=run["status"],
                    start_time=run["start"],
                    end_time=run["end"],
                    deleted_time=None,
                    source_version="",
                    lifecycle_stage="active",
                )
                tags = {**run["tags"], "mlflow.runName": run["name"]}
                row.tags = [m.SqlTag(key=k, value=v) for k, v in tags.items()]
                row.params = [m.SqlParam(key=k, value=v) for k, v in run["params"].items()]
                session.add(row)
                session.add_all(self._metric_rows(run_id, run["metrics"]))

    def _metric_rows(self, run_id: str, metrics: list[Any]) -> list[Any]:
        """The metric history (duplicates dropped, as MLflow does) and the latest of each key:
        the greatest (step, timestamp, value)."""
        m = self._models
        history: list[tuple[str, int, int, float, bool]] = []
        latest: dict[str, tuple[str, int, int, float, bool]] = {}
        seen = set()
        for metric in metrics:
            is_nan, value = self._store.sanitize_metric_value(float(metric.value))
            point = (metric.key, int(metric.timestamp), int(metric.step), value, is_nan)
            if point in seen:
                continue
            seen.add(point)
            history.append(point)
            best = latest.get(metric.key)
            if best is None or _order(point) > _order(best):
                latest[metric.key] = point
        rows = [
            m.SqlMetric(run_uuid=run_id, key=k, timestamp=t, step=s, value=v, is_nan=n)
            for k, t, s, v, n in history
        ]
        rows += [
            m.SqlLatestMetric(run_uuid=run_id, key=k, timestamp=t, step=s, value=v, is_nan=n)
            for k, t, s, v, n in latest.values()
        ]
        return rows


def _order(point: tuple[str, int, int, float, bool]) -> tuple[int, int, float]:
    """MLflow's order of a key's points: by step, then timestamp, then value."""
    _, timestamp, step, value, _ = point
    return step, timestamp, value

