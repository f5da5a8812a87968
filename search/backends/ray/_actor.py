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
        serve(conn, lifeline, setup)


def _see_only_assigned_gpus() -> None:
    """A worker without GPUs sees none, even on a GPU node (Ray leaves it all of them)."""
    import ray

    if not ray.get_gpu_ids():
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
