"""The driver's end of the actors' connect-back: a TCP listener that greets off the driver's loop.

Every Ray actor connects back to the driver twice (its channel and its lifeline) and proves it
knows the run's key (``multiprocessing``'s challenge, both ways) before it says which worker it
is. The port is open on the driver's node, so anything that reaches it can connect: a port scan,
a health check, a stray client. A thread accepts connections and gives each a greeting thread
with a time limit (:data:`HANDSHAKE_S`); a connection that says nothing, sends what is not the
handshake, fails the challenge or closes is dropped and logged in one line (``search.log``), and
only authenticated connections that named themselves reach the driver (:meth:`take`). The
driver's loop never reads from a connection that has not authenticated, so the trials keep
their rate whatever is sent to the port.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import socket
import threading
from multiprocessing.connection import (  # type: ignore[attr-defined]
    AuthenticationError,
    Connection,
    answer_challenge,
    deliver_challenge,
)
from typing import Any

from search.core._channel import NotPlainData, receive

log = logging.getLogger(__name__)

#: seconds a connection has to authenticate and say which worker it is
HANDSHAKE_S = 5.0
#: connections greeted at once; more are dropped at once (a flood of them)
MAX_GREETING = 64
#: dropped connections logged one by one; later ones are counted, and said at the end
LOGGED_DROPS = 20


class ConnectBack:
    """Listens on ``host`` (a port of the system's choosing) for this run's actors."""

    def __init__(self, host: str, authkey: bytes, limit: float = HANDSHAKE_S) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.create_server((host, 0), family=family, backlog=128)
        self.address: tuple[str, int] = self._sock.getsockname()[:2]
        self._authkey = authkey
        self._limit = limit
        self._greeted: queue.SimpleQueue[tuple[Any, Any]] = queue.SimpleQueue()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._slots = threading.BoundedSemaphore(MAX_GREETING)
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self.dropped = 0
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Accept from now on (connections made before wait in the backlog)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._accept, name="search-connect-back",
                                            daemon=True)
            self._thread.start()

    def wakeup(self) -> int:
        """A file descriptor that is readable while greeted connections wait for :meth:`take`."""
        return self._wake_r

    def take(self) -> list[tuple[Any, Any]]:
        """The authenticated connections greeted so far: ``(hello, connection)`` each."""
        with contextlib.suppress(BlockingIOError):
            while os.read(self._wake_r, 4096):
                pass
        taken = []
        while True:
            try:
                taken.append(self._greeted.get_nowait())
            except queue.Empty:
                return taken

    def close(self) -> None:
        """Stop listening; connections being greeted are dropped, taken ones stay open."""
        self._closed.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        self._sock.close()
        if self._thread is not None:
            self._thread.join(timeout=2)
        for _, conn in self.take():
            conn.close()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        if self.dropped > LOGGED_DROPS:
            log.warning("connect-back: %d connections dropped in all", self.dropped)

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                sock, peer = self._sock.accept()
            except OSError:
                if self._closed.wait(0.05):  # closed; else out of descriptors for a moment
                    return
                continue
            if not self._slots.acquire(blocking=False):
                sock.close()
                self._drop(peer, f"more than {MAX_GREETING} connections greeted at once")
                continue
            threading.Thread(target=self._greet, args=(sock, peer), daemon=True,
                             name="search-greet").start()

    def _greet(self, sock: socket.socket, peer: Any) -> None:
        """Authenticate one connection within the time limit, and hand it to the driver."""
        state = {"done": False, "cut": False}

        def cut() -> None:  # too slow: shutting the socket down wakes the reads below
            with self._lock:
                if not state["done"]:
                    state["cut"] = True
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)

        timer = threading.Timer(self._limit, cut)
        timer.start()
        conn = None
        try:
            conn = Connection(os.dup(sock.fileno()))
            deliver_challenge(conn, self._authkey)
            answer_challenge(conn, self._authkey)
            hello = receive(conn, admitted=(tuple,))
            if not (isinstance(hello, tuple) and len(hello) == 2):
                raise ValueError("it named itself wrongly")
        except (AuthenticationError, NotPlainData, OSError, EOFError, ValueError) as exc:
            if conn is not None:
                conn.close()
            self._drop(peer, f"no handshake within {self._limit:g} s (it sent nothing, or too "
                       "little)" if state["cut"] else _why(exc))
            return
        finally:
            timer.cancel()
            with self._lock:
                state["done"] = True
            sock.close()  # the connection holds its own descriptor
            self._slots.release()
        if state["cut"]:
            conn.close()
            self._drop(peer, f"no handshake within {self._limit:g} s")
            return
        self._greeted.put((hello, conn))
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"!")

    def _drop(self, peer: Any, why: str) -> None:
        with self._lock:
            self.dropped += 1
            count = self.dropped
        if count <= LOGGED_DROPS:
            where = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
            log.warning("connect-back: dropped a connection from %s: %s", where, why)
        if count == LOGGED_DROPS:
            log.warning("connect-back: later dropped connections are counted, not logged")


def _why(exc: BaseException) -> str:
    """Why a greeting failed, in a few words."""
    if isinstance(exc, EOFError):
        return "it closed before authenticating"
    if isinstance(exc, ConnectionResetError):
        return "it reset the connection before authenticating"
    if isinstance(exc, AuthenticationError):
        return f"it failed the authentication ({exc})"
    if isinstance(exc, NotPlainData):
        return f"it named itself with {exc}"
    return f"it sent what is not the handshake ({type(exc).__name__}: {exc})"
