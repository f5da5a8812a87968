"""The Ray placement: trial workers as Ray actors, on a local Ray or a cluster.

Each worker is an actor with the study's resources per trial (``--cpus-per-trial``,
``--gpus-per-trial``); Ray puts it on any node with room. The actor connects back to the driver
over TCP (a listener on the driver's node, authenticated with a key only this run knows, off
the driver's loop: :mod:`search.backends.ray._listener`) and then speaks the same channel as a
local worker: the engine cannot tell them apart. The task goes into Ray's object store once and
reaches every actor from there. An actor that dies, or whose node goes away, is noticed through
its connection or through Ray, and its trial runs again on a fresh actor, wherever Ray finds
room.

Nothing here imports Ray at module level: ``import search`` must stay light.
"""

from __future__ import annotations

import re
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.backends._local import exit_cause
from search.backends.ray._connect import Connection, connect, disconnect
from search.backends.ray._listener import ConnectBack
from search.core._folder import RAY_LOG

if TYPE_CHECKING:
    from search.core._channel import Setup
    from search.core._options import RunOptions
    from search.core._study import Study

#: how often a link asks Ray whether its actor still lives, at most (seconds)
_POLL_S = 0.5


class RayPlacement:
    """Starts workers as Ray actors that connect back to this driver."""

    name = "ray"

    def __init__(self, connection: Connection, cpus: float, gpus: float) -> None:
        import ray

        from search.backends.ray._actor import TrialActor

        self._connection = connection
        self._authkey = secrets.token_bytes(32)
        self._listener = ConnectBack(ray.util.get_node_ip_address(), self._authkey)
        self.address = self._listener.address
        self._actor = ray.remote(TrialActor).options(
            num_cpus=cpus, num_gpus=gpus, max_restarts=0, max_task_retries=0
        )
        self._setup: Any = None
        self._waiting: dict[str, RayLink] = {}

    @classmethod
    def connect(cls, study: Study, options: RunOptions) -> RayPlacement:
        """Start a local Ray or reach ``--address``, and listen for the actors."""
        connection = connect(study, options)
        try:
            return cls(connection, study.cpus_per_trial, study.gpus_per_trial)
        except BaseException:
            disconnect()
            raise

    def threads(self, workers: int) -> int | None:
        """Ray sets each actor's thread count from its CPUs (``OMP_NUM_THREADS``)."""
        return None

    def begin(self, directory: Path) -> None:
        """Ray's own output goes to ``RESULTS/NAME/ray.log`` from now on."""
        path = directory.resolve() / RAY_LOG
        self._connection.sink.open(path)
        host, port = self.address
        self._connection.sink.write(
            f"{time.strftime('%Y-%m-%d %H:%M:%S')} search: {self._connection.summary}; trial "
            f"workers connect back to {host}:{port}\n"
        )
        self._connection.sink.flush()  # readable at once: where to connect is told here
        self._listener.start()  # search.log is open: a dropped connection is logged there
        print(f"ray: {self._connection.summary}; Ray's output goes to {path}", flush=True)

    def launch(self, index: int, setup: Setup) -> RayLink:
        import ray

        if self._setup is None:
            self._setup = ray.put(setup)  # once: every actor reads it from the object store
        token = secrets.token_hex(16)
        actor: Any = self._actor.remote()
        done = actor.serve.remote(self.address, self._authkey, token, self._setup)
        link = RayLink(actor, done)
        self._waiting[token] = link
        return link

    def waitables(self) -> list[Any]:
        """Readable while actors' connections, authenticated off this loop, wait here."""
        return [self._listener.wakeup()]

    def poll(self) -> None:
        """Attach the connections actors opened and authenticated, without waiting for more."""
        for (kind, token), conn in self._listener.take():
            link = self._waiting.get(token)
            if link is None:  # its actor was stopped meanwhile (or the token is not ours)
                conn.close()
                continue
            link.attach(kind, conn)
            if link.connection() is not None and link.lifeline is not None:
                del self._waiting[token]

    def close(self) -> None:
        self._listener.close()
        disconnect()


class RayLink:
    """One actor: its channel and lifeline once it connected, and the call that runs it."""

    def __init__(self, actor: Any, done: Any) -> None:
        self._actor = actor
        self._done = done
        self._conn: Any = None
        self.lifeline: Any = None
        self._cause: str | None = None
        self._polled = 0.0

    def attach(self, kind: str, conn: Any) -> None:
        if kind == "channel":
            self._conn = conn
        else:
            self.lifeline = conn

    def connection(self) -> Any:
        return self._conn

    def waitables(self) -> list[Any]:
        return [self._conn] if self._conn is not None else []

    def cause_of_death(self, wait: float) -> str | None:
        import ray

        if self._cause is not None:
            return self._cause
        now = time.monotonic()
        if wait <= 0 and now - self._polled < _POLL_S:
            return None
        self._polled = now
        ready, _ = ray.wait([self._done], timeout=wait)
        if not ready:
            return None
        try:
            ray.get(self._done)
            self._cause = "the actor returned"
        except Exception as exc:  # noqa: BLE001 - Ray's errors say why the actor died
            self._cause = _why(exc)
        return self._cause

    def stop(self, hard: bool) -> None:
        import ray

        for end in (self._conn, self.lifeline):
            if end is not None:
                end.close()
        if hard:
            try:
                ray.kill(self._actor, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone
                pass


def _why(exc: BaseException) -> str:
    """A dead actor's cause, worded like a local worker's (``exit code 3``), from what Ray's
    error says (``error_msg``: the GCS's death cause for the actor).

    Ray learns an exit code only when the worker exits through Python (``sys.exit(3)``); a
    process killed by a signal or ended by ``os._exit`` only closes its connection to Ray,
    which records neither, so the cause says that, with the process's pid and node.
    """
    text = " ".join(str(getattr(exc, "error_msg", None) or exc).split())
    where = _where(text)
    code = re.search(r"(?:exits? with an exit code|Exit code:) (-?\d+)", text)
    if code is not None:
        return f"{exit_cause(int(code.group(1)))}{where}"
    if "connection error code" in text or "End of file" in text:
        return (f"killed by a signal or os._exit{where}: Ray records neither the signal nor the "
                "exit code (SIGKILL: the OOM killer, ray stop --force; SIGSEGV: a crash)")
    if "low on memory" in text or "OUT_OF_MEMORY" in text or "OutOfMemory" in type(exc).__name__:
        return f"killed by Ray's memory monitor: its node ran low on memory{where}"
    if "its node has died" in text or "node died" in text.lower():
        return f"its node died{where}"
    if "killed by `ray.kill`" in text:
        return f"killed by ray.kill{where}"
    for marker in ("The actor died", "was killed", "node", "exit"):
        at = text.find(marker)
        if at >= 0:
            return f"{type(exc).__name__}: {text[at:at + 200]}"
    return f"{type(exc).__name__}: {text[:200]}"


def _where(text: str) -> str:
    """`` (pid 18124 on 10.0.0.5)`` from Ray's error, or as much of it as it names."""
    pid = re.search(r"\bpid: (\d+)", text)
    ip = re.search(r"\bip: (\S+)", text)
    named = [f"pid {pid.group(1)}" if pid else "", f"on {ip.group(1)}" if ip else ""]
    shown = " ".join(part for part in named if part)
    return f" ({shown})" if shown else ""
