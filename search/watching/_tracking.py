"""MLflow tracking: one parent run per study, one child run per trial, one final run.

The default store is ``sqlite:///RESULTS/mlflow.db``, with artifacts under
``RESULTS/mlartifacts/NAME``. MLflow 3 makes SQLite its default backend and refuses its old file
store (``./mlruns``, "maintenance mode") unless told otherwise; ``mlflow ui`` and
``mlflow server`` read the database directly (``--backend-store-uri sqlite:///...``) and serve the
artifacts from the paths the runs record.

MLflow's SQL store costs tens of milliseconds of CPU per run (SQLAlchemy, three transactions), and
importing MLflow and creating a fresh database take seconds. So the runs are written by a separate
process that the driver feeds through a queue: the driver pays one queue put per finished trial,
the writer works on another core while the search goes on, and at the end of the search the
driver waits for it to catch up (and says so when that takes a while). A killed run loses at most
the trials still queued: ``--resume`` finds the study's parent run again (its id is kept in
``study.json``) and writes every finished trial it lacks. The writer also logs the final run and
attaches the report, so a run's driver never imports MLflow; only ``python -m search final``,
which has no writer, logs its final run itself.

This module holds what the command line needs before a run (where the store is, how to open its
UI, whether tracking can work) and names :class:`MlflowTracker`; the driver's side is in
``_tracking_observer``, the writer process in ``_tracking_writer``, what is logged for a study or
trial in ``_tracking_records`` and for the final evaluation in ``_tracking_final``, and MLflow's
plumbing in ``_tracking_client``.
"""

from __future__ import annotations

import importlib.util
import urllib.error
import urllib.request
from pathlib import Path

from search.core._errors import UserError
from search.core._folder import MLFLOW_DB
from search.watching._tracking_observer import MlflowTracker

__all__ = ["MlflowTracker", "check_tracking", "default_uri", "ui_command"]


def default_uri(results: Path) -> str:
    """The embedded store under a results root: ``sqlite:////abs/RESULTS/mlflow.db``."""
    return f"sqlite:///{(results / MLFLOW_DB).resolve()}"


def ui_command(uri: str) -> str:
    """The command that opens the MLflow UI on ``uri``."""
    return f"mlflow ui --backend-store-uri {uri} --port 5000"


def check_tracking(uri: str) -> None:
    """Fail before anything is written when tracking to ``uri`` cannot work."""
    if importlib.util.find_spec("mlflow") is None:
        raise UserError(
            "tracking: MLflow is not installed; pip install 'search[tracking]', "
            "or pass --no-tracking"
        )
    if uri.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=5):
                pass
        except urllib.error.HTTPError:
            pass  # a server answered
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise UserError(
                f"--tracking-uri {uri}: no MLflow server answers there ({reason}); start it "
                "(mlflow server --host 127.0.0.1 --port PORT), or pass --no-tracking"
            ) from None
