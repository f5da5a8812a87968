"""The Ray actor that hosts one trial worker: it connects back to the driver and serves it.

Only Ray imports this module, inside the actor's process.
"""

from __future__ import annotations

import os
from multiprocessing.connection import Client
from typing import Any


class TrialActor:
    """A trial worker living in a Ray actor (see :mod:`search.core._worker`)."""

    def serve(self, address: Any, authkey: bytes, token: str, setup: Any) -> None:
        from search.core._worker import serve

        _see_only_assigned_gpus()
        conn = Client(address, authkey=authkey)
        conn.send(("channel", token))
        lifeline = Client(address, authkey=authkey)
        lifeline.send(("lifeline", token))
        code = None
        try:
            serve(conn, lifeline, setup)
        except BaseException as exc:  # noqa: BLE001 - see _exit_code
            code = _exit_code(exc)
        if code is not None:  # raised here, outside the handler: no trial object as its context
            raise SystemExit(code)


def _exit_code(exc: BaseException) -> int:
    """The exit code the actor leaves with instead of ``exc``: Ray would pickle a trial's own
    exception into the driver, which unpickles it to say why the actor died; a plain exit
    code carries no object of the trial's (``sys.exit(3)`` stays exit code 3)."""
    code = exc.code if isinstance(exc, SystemExit) else 1
    return code if type(code) is int else 1


def _see_only_assigned_gpus() -> None:
    """A worker without GPUs sees none, even on a GPU node (Ray leaves it all of them)."""
    import ray

    if not ray.get_gpu_ids():
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
