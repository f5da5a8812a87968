"""The local Ray's guard: ends the Ray processes a run started once its driver is gone.

A local Ray (``--backend ray`` without ``--address``) is the driver's: its GCS and raylet die
with the driver, but Ray's agents (the dashboard and runtime-env agents, children of the raylet)
first try to tell the dead GCS, for 60 s. The driver starts this guard before Ray, with a pipe
on its stdin that only the driver holds, and starts Ray with a mark in its environment
(``SEARCH_RAY_GUARD=<token>``) that the processes ``ray.init`` starts inherit and no other
process has. While the driver lives, the guard notes the driver's marked children and all their
descendants (pid and start time: an agent renames itself over its environment, but it is the
raylet's child). When the pipe closes (the driver stopped Ray and closed it, or the driver died,
however) the guard kills every process it noted that still runs, a few times over two seconds
(a process may be starting), then exits. Processes of any other Ray never descend from this
driver's marked children.

It runs as a plain script (``python -I _guard.py TOKEN DRIVER_PID``): it imports nothing of the
framework, so it starts in milliseconds, and it ignores the terminal's signals so that it
outlives a driver they end.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time

#: the environment variable that marks the processes a run's ``ray.init`` starts
MARKER = "SEARCH_RAY_GUARD"
#: seconds between two looks at the driver's processes while it lives
_LOOK_S = 0.5
#: seconds after the pipe closed at which the guard kills what it noted
_SWEEPS = (0.0, 0.3, 1.0, 2.0)


def _children(pid: int) -> list[int]:
    """The children of ``pid`` (of any of its threads)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(child) for child in f.read().split()]
        except OSError:
            continue
    return found


def _started(pid: int) -> str | None:
    """The start time of ``pid`` (``None``: gone), which tells it from a later one of that pid."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _marked(pid: int, needle: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return needle in f.read().split(b"\0")
    except OSError:
        return False


class Guard:
    """The Ray processes of one driver, as noted so far."""

    def __init__(self, token: str, driver: int) -> None:
        self.needle = f"{MARKER}={token}".encode()
        self.driver = driver
        self.noted: dict[int, str] = {}  # pid -> start time
        self.unmarked: set[tuple[int, str]] = set()  # the driver's other children, looked at

    def look(self) -> None:
        """Note the driver's marked children and their descendants (and forget the dead)."""
        self.noted = {pid: at for pid, at in self.noted.items() if _started(pid) == at}
        roots = [pid for pid in _children(self.driver) if pid != os.getpid()]
        for pid in roots:
            started = _started(pid)
            if started is None or pid in self.noted or (pid, started) in self.unmarked:
                continue
            if _marked(pid, self.needle):
                self.noted[pid] = started
            else:
                self.unmarked.add((pid, started))
        self._descend(list(self.noted))

    def _descend(self, pids: list[int]) -> None:
        while pids:
            pid = pids.pop()
            for child in _children(pid):
                started = _started(child)
                if started is not None and self.noted.get(child) != started:
                    self.noted[child] = started
                    pids.append(child)

    def sweep(self) -> None:
        """Kill every noted process that still runs, several times over a short while."""
        start = time.monotonic()
        for at in _SWEEPS:
            time.sleep(max(0.0, start + at - time.monotonic()))
            self.look()  # what started meanwhile
            for pid, started in list(self.noted.items()):
                if _started(pid) == started:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass


def main(token: str, driver: int) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # the driver's end, not the terminal's, ends it
    guard = Guard(token, driver)
    stdin = sys.stdin.buffer.fileno()
    while True:
        guard.look()
        try:
            if select.select([stdin], [], [], _LOOK_S)[0] and not os.read(stdin, 4096):
                break
        except OSError:
            break
    guard.sweep()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
