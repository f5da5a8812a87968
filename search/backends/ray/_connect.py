"""Starting or reaching Ray for a run, before anything is written.

Without ``--address`` a local Ray starts, sized by the study: ``workers x cpus_per_trial``
CPUs and the machine's GPUs. With ``--address`` (``auto`` or host:port) the run joins a
running cluster; an address where nothing answers, a cluster that refuses the connection (a
missing token), or a trial that fits no node (this machine's, or the cluster's largest) is a
one-line :class:`UserError` naming the flag, before anything is written. Ray is process-wide,
so is the connection: :func:`connect` returns the one there is, :func:`disconnect` stops the
local Ray or leaves the cluster. A local Ray's processes end with the driver, even a killed one
(:mod:`search.backends.ray._guard`).

Nothing here imports Ray at module level: ``search.cli._run`` imports this module.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.core._errors import UserError

if TYPE_CHECKING:
    from search.backends.ray._output import RayLog
    from search.core._options import RunOptions
    from search.core._study import Study

log = logging.getLogger(__name__)


def check_resources(study: Study, options: RunOptions) -> None:
    """Refuse resource amounts per trial that Ray cannot take."""
    for field, value in (
        ("cpus_per_trial", study.cpus_per_trial),
        ("gpus_per_trial", study.gpus_per_trial),
    ):
        if not math.isfinite(value) or (value > 1 and value != int(value)):
            raise UserError(
                f"{options.flag_of(field)}: Ray takes a fraction below 1 or a whole number of "
                f"{field[:3].upper()}s per trial, but got {value}"
            )


@dataclass
class Connection:
    """This process's Ray: started here (local) or reached at an address."""

    summary: str
    sink: RayLog


_connection: Connection | None = None
#: the local Ray's guard process, while this process holds a local Ray
_guard: subprocess.Popen[bytes] | None = None


def connect(study: Study, options: RunOptions) -> Connection:
    """Start a local Ray sized for the study, or connect to ``options.address``."""
    global _connection
    if _connection is not None:
        return _connection
    check_resources(study, options)
    try:
        import ray
    except ImportError:
        raise UserError(
            "--backend ray needs Ray: pip install 'search[ray]' (ray[tune,default])"
        ) from None
    from search.backends.ray._output import (
        RayLog,
        capture_ray_logging,
        capture_worker_output,
        starting,
    )

    sink = RayLog()
    common: dict[str, Any] = {
        "configure_logging": False,
        "log_to_driver": True,
        "runtime_env": {"env_vars": _worker_env()},
    }
    address = options.address
    if address is None:
        _check_local_node(study, options)  # before Ray starts: that takes seconds
        with starting(sink), _guarded():
            cpus = max(1, math.ceil(study.workers * study.cpus_per_trial))
            ray.init(address="local", num_cpus=cpus, include_dashboard=False, **common)
        where = "a local Ray"
    else:
        _join(address, sink, common)
        where = f"the Ray cluster at {address}"
    capture_ray_logging(sink)
    if not capture_worker_output(sink):
        log.warning("Ray's worker output stays in its session logs (no output hook found)")
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    total = ray.cluster_resources()
    summary = (
        f"{where}: {len(nodes)} node(s), {_amount(total.get('CPU', 0))} CPUs, "
        f"{_amount(total.get('GPU', 0))} GPUs"
    )
    _connection = Connection(summary=summary, sink=sink)
    _check_fits(study, options, nodes, local=address is None)
    return _connection


def _join(address: str, sink: RayLog, common: dict[str, Any]) -> None:
    """Connect to the cluster at ``--address``; a failure is the flag's one line."""
    import ray

    from search.backends.ray._output import Started, starting

    target = _reachable(address)
    started = Started()
    try:
        with starting(sink) as started:
            # "auto" as such: Ray then sends this machine's token, as `ray` commands do
            ray.init(address="auto" if address == "auto" else target, **common)
    except Exception as exc:  # noqa: BLE001 - any failure to connect is the flag's
        reason = _connect_error(exc, started.text)
        raise UserError(f"--address {address}: cannot connect: {reason}") from None


@contextlib.contextmanager
def _guarded() -> Iterator[None]:
    """While the block starts a local Ray, mark its processes for a guard
    (:mod:`search.backends.ray._guard`), started first: they end with the driver, however
    it ends. The processes the driver starts later (workers, helpers) carry no mark."""
    global _guard
    if not sys.platform.startswith("linux"):
        yield
        return
    from search.backends.ray._guard import MARKER

    _release_guard()
    token = secrets.token_hex(16)
    guard = Path(__file__).with_name("_guard.py")
    try:
        _guard = subprocess.Popen(
            [sys.executable, "-I", str(guard), token, str(os.getpid())],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,  # the terminal's Ctrl-C and hang-up do not reach it
        )
    except OSError as exc:  # Ray still stops with a driver that ends cleanly
        log.warning("the local Ray runs without its guard (%s): if the driver is killed, "
                    "Ray's agents may linger for a minute", exc)
        yield
        return
    os.environ[MARKER] = token
    try:
        yield
    except BaseException:
        os.environ.pop(MARKER, None)
        _release_guard()  # what of Ray started ends now
        raise
    finally:
        os.environ.pop(MARKER, None)


def _release_guard() -> None:
    """The local Ray is stopped: the guard ends what of it is left, then exits."""
    global _guard
    if _guard is not None and _guard.stdin is not None:
        with contextlib.suppress(OSError):
            _guard.stdin.close()
    _guard = None


def _check_local_node(study: Study, options: RunOptions) -> None:
    """Refuse CPUs or GPUs per trial that this machine does not have, as Ray would count them,
    before a local Ray starts (that takes seconds): its one node is this machine."""
    cpus = _machine_cpus()
    if cpus is not None and study.cpus_per_trial > cpus:
        raise UserError(_too_big(options, "cpus_per_trial", study.cpus_per_trial,
                                 f"this machine (a local Ray's one node) has {_amount(cpus)} CPUs"))
    if study.gpus_per_trial <= 0:
        return
    try:
        from ray._private.accelerators import get_accelerator_manager_for_resource

        manager = get_accelerator_manager_for_resource("GPU")
        if manager is None:
            return
        found = manager.get_current_node_num_accelerators()
        visible = manager.get_current_process_visible_accelerator_ids()
    except Exception:  # noqa: BLE001 - Ray counts again once started (see _check_fits)
        return
    count = found if visible is None else min(found, len(visible))
    if count < study.gpus_per_trial:
        raise UserError(_too_big(options, "gpus_per_trial", study.gpus_per_trial,
                                 f"this machine has {count} GPU(s) for a local Ray"))


def _machine_cpus() -> float | None:
    """The CPUs Ray finds on this machine (its cgroup's limit, where one is set)."""
    try:
        from ray._private.utils import get_num_cpus

        return float(get_num_cpus())
    except Exception:  # noqa: BLE001 - then Ray's own count after it started decides
        return float(os.cpu_count() or 0) or None


def _too_big(options: RunOptions, field: str, amount: float, has: str, *,
             local: bool = True) -> str:
    """The one line for a trial's resources that no node holds: the flag, the request, what
    the largest node has."""
    what = "CPUs" if field == "cpus_per_trial" else "GPUs"
    other = "give --address for a cluster with bigger nodes" if local else (
        f"start a node with {amount:g} {what} in the cluster first")
    return (f"{options.flag_of(field)} {amount:g}: {has}, so no Ray node can run one trial; "
            f"ask for fewer {what} per trial, or {other}")


def _worker_env() -> dict[str, str]:
    """Environment of the trial processes.

    Trials stay in their process's working directory (Tune would move each into a folder of
    its own), and import what the study file imports from beside it or from the driver's
    working directory, as they can on the local backend.
    """
    from search.core._studyfile import STUDY_MODULE

    module = sys.modules.get(STUDY_MODULE)
    here = [str(Path(module.__file__).resolve().parent)] if module and module.__file__ else []
    paths = [*here, str(Path.cwd()), "${PYTHONPATH}"]
    return {"RAY_CHDIR_TO_TRIAL_DIR": "0", "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}


def _amount(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _reachable(address: str) -> str:
    """The host:port for ``address`` (``auto`` included) where a Ray head answers."""
    import ray._private.services as services

    try:
        target = services.canonicalize_bootstrap_address(address)
    except (ConnectionError, ValueError) as exc:
        raise UserError(f"--address {address}: {_connect_error(exc)}") from None
    if target is None:
        raise UserError(f"--address {address}: no running Ray cluster found")
    host, _, port = target.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=3):
            pass
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        hint = " (a cluster stopped without `ray stop`?)" if address == "auto" else ""
        raise UserError(
            f"--address {address}: no Ray cluster answers at {target} ({reason}){hint}; "
            "start one with `ray start --head` or give the head's host:port"
        ) from None
    return str(target)


def _connect_error(exc: BaseException, printed: str = "") -> str:
    """One line on why connecting failed; ``printed``: what Ray printed meanwhile."""
    lines = str(exc).strip().splitlines()
    first = lines[0][:200] if lines else type(exc).__name__
    said = f"{exc}\n{printed}"
    if "InvalidAuthToken" in said or "Unauthenticated" in said or "token" in said.lower():
        return (
            f"the cluster wants an authentication token ({first}); set RAY_AUTH_MODE=token "
            "and give the cluster's token in RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or "
            "~/.ray/auth_token"
        )
    return first


def _check_fits(
    study: Study, options: RunOptions, nodes: list[dict[str, Any]], *, local: bool
) -> None:
    """Refuse resources per trial that no node of the cluster has, before anything is written:
    Ray would leave every trial waiting for a node that never comes."""
    need = {"CPU": study.cpus_per_trial, "GPU": study.gpus_per_trial}
    for resource, amount in need.items():
        most = max((n.get("Resources", {}).get(resource, 0.0) for n in nodes), default=0.0)
        if amount <= most:
            continue
        field = "cpus_per_trial" if resource == "CPU" else "gpus_per_trial"
        where = "this machine (a local Ray's one node)" if local else (
            f"the largest of the {len(nodes)} node(s) at --address {options.address}")
        disconnect()
        raise UserError(_too_big(options, field, amount, f"{where} has {_amount(most)} "
                                 f"{resource}s", local=local))


def disconnect() -> None:
    """Stop the local Ray this process started, or leave the cluster."""
    global _connection
    import ray

    if _connection is not None:
        _connection.sink.close()
    _connection = None
    if ray.is_initialized():
        ray.shutdown()
    _release_guard()
