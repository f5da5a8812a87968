"""``python -m search dashboard [RESULTS]``: optuna-dashboard over every study under RESULTS.

Each study keeps its own Optuna journal (``RESULTS/NAME/study.journal``), and optuna-dashboard
serves one storage. Its web page asks for ``/api/...`` and ``/static/...`` at the site's root, so
mounting one app per study under a path prefix would need its front end rewritten. Instead,
:class:`ResultsStorage` presents the journals as one read-only Optuna storage: it finds the
studies anew each time the page lists them (a study started after the dashboard appears), and
reads each journal incrementally through Optuna's own ``JournalStorage``. The dashboard never
writes, so it cannot disturb a running study; its editing features (notes, marking trials)
answer with an error instead.
"""

from __future__ import annotations

import copy
import errno
import importlib.util
import threading
from collections.abc import Container, Sequence
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any, NoReturn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from optuna.storages import BaseStorage, JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.study import StudyDirection
from optuna.study._frozen import FrozenStudy
from optuna.trial import FrozenTrial, TrialState

from search.core._errors import UserError
from search.core._folder import MLFLOW_DB, STORE_FILE, STUDY_JSON, read_json
from search.watching._tracking import default_uri, ui_command

HOST = "127.0.0.1"
DEFAULT_PORT = 8080
#: a trial's id in the dashboard: study id * STRIDE + its id in its own journal
STRIDE = 1_000_000_000
METRIC_NAMES = "study:metric_names"  # Optuna's study attribute behind set_metric_names


class ReadOnlyError(RuntimeError):
    """The dashboard was asked to change a study; it only reads them."""


class ResultsStorage(BaseStorage):
    """The study journals under a results root, as one read-only Optuna storage."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._by_path: dict[Path, tuple[int, int]] = {}  # journal -> (inode, study id)
        self._studies: dict[int, tuple[JournalStorage, int]] = {}  # id -> (store, its own id)
        self._named: dict[int, dict[str, Any]] = {}  # id -> the metric's name, for the axes
        self._next = 0

    def journals(self) -> list[Path]:
        """The study journals under the root (or the root's own, for a study folder)."""
        found = sorted(self.root.glob(f"*/{STORE_FILE}"))
        if (self.root / STORE_FILE).is_file():
            found.insert(0, self.root / STORE_FILE)
        return found

    def _scan(self) -> None:
        """Pick up new, replaced and removed journals."""
        with self._lock:
            present = set()
            for path in self.journals():
                try:
                    stat = path.stat()
                except OSError:
                    continue
                present.add(path)
                known = self._by_path.get(path)
                if known is not None and known[0] == stat.st_ino:
                    continue
                if known is not None:  # the study folder was replaced
                    self._studies.pop(known[1], None)
                    del self._by_path[path]
                if stat.st_size == 0:
                    continue
                store = JournalStorage(JournalFileBackend(str(path)))
                own = store.get_all_studies()
                if not own:
                    continue  # created, not yet written: next time
                self._by_path[path] = (stat.st_ino, self._next)
                self._studies[self._next] = (store, own[0]._study_id)
                self._named[self._next] = _metric_names(path.parent)
                self._next += 1
            for path in set(self._by_path) - present:
                self._studies.pop(self._by_path.pop(path)[1], None)

    def _store(self, study_id: int) -> tuple[JournalStorage, int]:
        with self._lock:
            found = self._studies.get(study_id)
        if found is None:
            raise KeyError(f"no study with id {study_id}")
        return found

    # -- reading ---------------------------------------------------------------------------

    def get_all_studies(self) -> list[FrozenStudy]:
        self._scan()
        with self._lock:
            entries = sorted(self._studies.items())
        studies = []
        for study_id, (store, own) in entries:
            for study in store.get_all_studies():
                if study._study_id == own:
                    shown = copy.copy(study)
                    shown._study_id = study_id
                    shown.system_attrs = {**self._named.get(study_id, {}), **study.system_attrs}
                    studies.append(shown)
        return studies

    def get_study_id_from_name(self, study_name: str) -> int:
        for study in self.get_all_studies():
            if study.study_name == study_name:
                return study._study_id
        raise KeyError(f"no study named {study_name!r}")

    def get_study_name_from_id(self, study_id: int) -> str:
        store, own = self._store(study_id)
        return store.get_study_name_from_id(own)

    def get_study_directions(self, study_id: int) -> list[StudyDirection]:
        store, own = self._store(study_id)
        return store.get_study_directions(own)

    def get_study_user_attrs(self, study_id: int) -> dict[str, Any]:
        store, own = self._store(study_id)
        return store.get_study_user_attrs(own)

    def get_study_system_attrs(self, study_id: int) -> dict[str, Any]:
        store, own = self._store(study_id)
        return {**self._named.get(study_id, {}), **store.get_study_system_attrs(own)}

    def get_all_trials(
        self,
        study_id: int,
        deepcopy: bool = True,
        states: Container[TrialState] | None = None,
    ) -> list[FrozenTrial]:
        store, own = self._store(study_id)
        trials = store.get_all_trials(own, deepcopy=deepcopy, states=states)
        return [_renumbered(t, study_id) for t in trials]

    def get_trial(self, trial_id: int) -> FrozenTrial:
        study_id, own_trial = divmod(trial_id, STRIDE)
        store, _ = self._store(study_id)
        return _renumbered(store.get_trial(own_trial), study_id)

    # -- writing: refused -------------------------------------------------------------------

    def create_new_study(
        self, directions: Sequence[StudyDirection], study_name: str | None = None
    ) -> int:
        _refuse()

    def delete_study(self, study_id: int) -> None:
        _refuse()

    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        _refuse()

    def set_study_system_attr(self, study_id: int, key: str, value: Any) -> None:
        _refuse()

    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        _refuse()

    def set_trial_param(
        self, trial_id: int, param_name: str, param_value_internal: float, distribution: Any
    ) -> None:
        _refuse()

    def set_trial_state_values(
        self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
    ) -> bool:
        _refuse()

    def set_trial_intermediate_value(
        self, trial_id: int, step: int, intermediate_value: float
    ) -> None:
        _refuse()

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        _refuse()

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        _refuse()


def _metric_names(folder: Path) -> dict[str, Any]:
    """Optuna's metric-names attribute from the study's ``study.json``, so axes say roc_auc."""
    try:
        metric = read_json(folder / STUDY_JSON).get("metric")
    except (OSError, ValueError):
        return {}
    return {METRIC_NAMES: [metric]} if isinstance(metric, str) else {}


def _renumbered(trial: FrozenTrial, study_id: int) -> FrozenTrial:
    shown = copy.copy(trial)
    shown._trial_id = study_id * STRIDE + trial._trial_id
    return shown


def _refuse() -> NoReturn:
    raise ReadOnlyError(
        "the search dashboard only reads the study stores; change a study through its run"
    )


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass


def serve(results: Path, port: int | None) -> int:
    """Serve the dashboard on 127.0.0.1 until Ctrl-C; say how to open it and the MLflow UI."""
    if not results.is_dir():
        raise UserError(
            f"{results}: no such folder; give the results root of your runs "
            "(default ./results), as in python -m search dashboard results"
        )
    if importlib.util.find_spec("optuna_dashboard") is None:
        raise UserError(
            "dashboard: optuna-dashboard is not installed; pip install 'search[tracking]'"
        )
    import optuna_dashboard

    storage = ResultsStorage(results)
    server = _bind(port)
    try:
        server.set_app(optuna_dashboard.wsgi(storage))
        _tell(results, storage, server.server_port)
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        print("dashboard: stopped")
    finally:
        server.server_close()
    return 0


def _bind(port: int | None) -> WSGIServer:
    """A server on ``port``; with no port, on 8080 when free, else on any free port."""
    if port is None:
        try:
            return _listen(DEFAULT_PORT)
        except OSError:
            return _listen(0)
    try:
        return _listen(port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UserError(
                f"--port {port}: {HOST}:{port} is already in use; pass another --port, "
                "or leave it out to use 8080 or any free port"
            ) from None
        raise UserError(f"--port {port}: cannot listen on {HOST}:{port}: {exc}") from None


def _listen(port: int) -> WSGIServer:
    return make_server(HOST, port, _no_app, server_class=_Server, handler_class=_QuietHandler)


def _no_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]


def _tell(results: Path, storage: ResultsStorage, port: int) -> None:
    names = [p.parent.name for p in storage.journals()]
    listed = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    what = (
        f"{len(names)} {'study' if len(names) == 1 else 'studies'} under {results} ({listed})"
        if names
        else f"no studies under {results} yet; they appear as runs start"
    )
    lines = [
        f"dashboard: http://{HOST}:{port}/dashboard  ({what}; live, read-only; Ctrl-C stops it)",
    ]
    if (results / MLFLOW_DB).is_file():
        lines.append(
            f"MLflow UI: {ui_command(default_uri(results))}  (then open http://127.0.0.1:5000)"
        )
    else:
        lines.append(
            f"MLflow UI: runs tracked to {results / MLFLOW_DB} open with "
            f"{ui_command(default_uri(results))}"
        )
    trial_dirs = [p.parent / "trials" for p in storage.journals() if (p.parent / "trials").is_dir()]
    if trial_dirs:
        lines.append(f"TensorBoard: tensorboard --logdir {trial_dirs[0]}")
    print("\n".join(lines), flush=True)
