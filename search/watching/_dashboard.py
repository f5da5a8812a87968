"""``python -m search dashboard [RESULTS]``: optuna-dashboard over every study under RESULTS.

Each study keeps its own Optuna journal, and optuna-dashboard serves one storage. Its web page
asks for ``/api/...`` and ``/static/...`` at the site's root, so mounting one app per study under
a path prefix would need its front end rewritten. Instead,
:class:`~search.watching._dashboard_storage.ResultsStorage` presents the journals as one
read-only Optuna storage. The dashboard never writes, so it cannot disturb a running study: a
request that would change one (its notes, marking or telling trials, creating, renaming or
deleting studies) is answered ``405 Method Not Allowed`` with a one-line reason before it reaches
optuna-dashboard. The server listens on 127.0.0.1 only, and answers only requests addressed to
it by name (``Host: 127.0.0.1:PORT``, ``localhost:PORT`` or ``[::1]:PORT``): a web page whose
own name was rebound to 127.0.0.1 (DNS rebinding) sends its own name, and is refused with
``421 Misdirected Request``, so it cannot read the studies through the user's browser.
"""

from __future__ import annotations

import errno
import importlib.util
import json
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterable
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from search.core._errors import UserError
from search.core._folder import MLFLOW_DB
from search.watching._dashboard_storage import REFUSAL, ResultsStorage
from search.watching._tracking import default_uri, ui_command

__all__ = ["PAGE", "ResultsStorage", "addressed_here", "paged", "read_only", "serve"]

HOST = "127.0.0.1"
DEFAULT_PORT = 8080
READS = ("GET", "HEAD")  # the only methods that reach optuna-dashboard
LOCAL_NAMES = (HOST, "localhost", "[::1]")  # the names a request may give this server
#: the most trials one answer about a study sends; the page asks again for the next ones
PAGE = 5000
_DETAIL = re.compile(r"/api/studies/(\d+)/?")  # a study's page: its trials after ``after``

WsgiApp = Callable[[dict[str, Any], Any], Iterable[bytes]]


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
        app = read_only(paged(optuna_dashboard.wsgi(storage), storage))
        server.set_app(addressed_here(app, server.server_port))
        _tell(results, storage, server.server_port)
        threading.Thread(target=_read_ahead, args=(storage,), name="search-dashboard-read",
                         daemon=True).start()
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        print("dashboard: stopped")
    finally:
        server.server_close()
    return 0


def _read_ahead(storage: ResultsStorage) -> None:
    """Replay the journals while the user opens the page (100,000 trials take seconds), so
    its first look waits less; a journal that cannot be read is named when the page asks."""
    try:
        storage.get_all_studies()
    except Exception:  # noqa: BLE001 - the page's own request says what is wrong
        return


def read_only(app: WsgiApp) -> WsgiApp:
    """``app`` behind a gate that answers every request but a read with 405 and one line.

    optuna-dashboard would pass a write to the storage, which refuses it by raising: a 500
    with a traceback in the terminal. The gate answers first, with the reason as JSON
    (``{"reason": ...}``, which the dashboard's page shows) and the methods that are allowed.
    """

    def gate(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        if method in READS:
            return app(environ, start_response)
        _drain(environ)
        body = json.dumps({"reason": f"{method} refused: {REFUSAL}"}).encode()
        start_response(
            "405 Method Not Allowed",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                ("Allow", ", ".join(READS)),
            ],
        )
        return [body]

    return gate


def paged(app: WsgiApp, storage: ResultsStorage, page: int = PAGE) -> WsgiApp:
    """``app`` with each study's trials sent ``page`` at a time.

    optuna-dashboard's page asks for a study with ``?after=N`` (N: the trials it holds, up to
    the first one still running) and appends what comes back; it asks again every few seconds
    while its live update is on (the default; every 10 s). Its own answer holds every
    trial after ``N``: 100,000 trials are 85 to 170 MB of JSON and half a minute of work. Here
    the dashboard answers for no trial (``after`` past the end: the best trials, the search
    space and the rest as it computes them) and the trials ``N`` to ``N + page`` are added, as
    the dashboard writes a trial; the page's next look asks for the next ones. An
    optuna-dashboard without that writer answers as it always did.
    """
    try:
        from optuna_dashboard._serializer import serialize_frozen_trial
    except ImportError:  # another optuna-dashboard: its own answers, every trial at once
        return app

    def gate(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        found = _DETAIL.fullmatch(str(environ.get("PATH_INFO", "")))
        after = _after(str(environ.get("QUERY_STRING", "")))
        if found is None or after is None or environ.get("REQUEST_METHOD") != "GET":
            return app(environ, start_response)
        study_id = int(found.group(1))
        status, headers, body = _call(app, {**environ, "QUERY_STRING": f"after={1 << 62}"})
        if not status.startswith("200"):
            start_response(status, headers)
            return [body]
        _settle(app, study_id)
        detail = json.loads(body)
        attrs = storage.get_study_system_attrs(study_id)
        trials = storage.trials_page(study_id, after, page)
        detail["trials"] = [serialize_frozen_trial(study_id, t, attrs) for t in trials]
        out = json.dumps(detail).encode()
        start_response(status, [(k, v) for k, v in headers if k.lower() != "content-length"]
                       + [("Content-Length", str(len(out)))])
        return [out]

    return gate


def _settle(app: Any, study_id: int) -> None:
    """Let optuna-dashboard's search-space cache skip the finished trials it has read.

    Its cache reads the trials from a cursor on, the first trial still running; when none
    runs, the cursor stays where it was (before the first trial), so every look at a finished
    study of 100,000 trials read them all again (9 s here). The cursor is moved to the first
    trial of the dashboard's own list that may still change (past the last, when none may);
    a dashboard whose cache is not laid out so is left as it is.
    """
    cache = getattr(app, "_inmemory_cache", None)
    spaces = getattr(cache, "_cached_extra_study_property_cache", None)
    lists = getattr(cache, "_trials_cache", None)
    if not isinstance(spaces, dict) or not isinstance(lists, dict):
        return
    space, trials = spaces.get(study_id), lists.get(study_id)
    cursor = getattr(space, "_cursor", None)
    if trials is None or space is None or not isinstance(cursor, int):
        return
    start = max(cursor, 0)  # the trials before it are finished and were read
    running = next((t.number for t in trials[start:] if not t.state.is_finished()), len(trials))
    space._cursor = max(cursor, running)


def _after(query: str) -> int | None:
    """The ``after`` of a study's page (0 when absent); ``None`` when it is not a count, for
    optuna-dashboard to answer."""
    values = urllib.parse.parse_qs(query).get("after", ["0"])
    try:
        after = int(values[-1])
    except ValueError:
        return None
    return after if after >= 0 else None


def _call(app: WsgiApp, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """``app``'s answer to ``environ``: its status, headers and whole body."""
    said: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        said.update(status=status, headers=headers)
        return lambda data: None

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return said["status"], list(said["headers"]), body


def addressed_here(app: WsgiApp, port: int) -> WsgiApp:
    """``app`` behind a gate that answers ``421 Misdirected Request`` and one line to a request
    whose ``Host`` is not this server's address (``LOCAL_NAMES`` at ``port``), or that has none.

    A page on another site can make the user's browser send requests here by rebinding its own
    name to 127.0.0.1; the browser still sends that name as the ``Host``, so the page reads
    nothing.
    """
    allowed = {f"{name}:{port}" for name in LOCAL_NAMES}

    def gate(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        host = str(environ.get("HTTP_HOST", "")).strip().lower()
        if host in allowed:
            return app(environ, start_response)
        _drain(environ)
        shown = repr(host) if host else "no host"
        body = (f"dashboard: refused: the request names {shown}, not this dashboard; open "
                f"http://{HOST}:{port}/dashboard\n").encode()
        start_response(
            "421 Misdirected Request",
            [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
        )
        return [body]

    return gate


def _drain(environ: dict[str, Any]) -> None:
    """Read a refused request's body (up to 1 MiB), so the client is not cut off mid-send."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return
    if 0 < length <= 1 << 20:
        environ["wsgi.input"].read(length)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass


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
