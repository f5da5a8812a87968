"""Chaos on a two-node Ray cluster: worker nodes killed and restarted, the driver killed once.

A head (1 CPU) and a second node (2 CPUs) run on this machine, each ``ray start --block`` in a
session of its own, with token authentication. A seeded study of trials that take 1-2 s (their
times vary at random, as real ones do) runs on them with ``--workers 3``. Every few seconds
the second node is SIGKILLed whole (its ``ray start``, raylet and every process below them,
the fault Ray's release tests inject) and started again; once, at about 40 % of the trials,
the driver is SIGKILLed and the run resumed with ``--resume``. Then the same study runs on the
same cluster without any fault. Printed: the trials by state, how many were abandoned and run
again, how many trials a killed node cost (worker deaths), nothing left RUNNING or WAITING,
the count of trials that count, and whether the chaotic run's trials (config, state, value, by
slot) equal those of the run without faults (reproducible runs, issue 22). Only the processes
this script started are stopped, never with ``ray stop``.

    .venv/bin/python benchmarks/chaos.py [--trials 40] [--every 6]
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from ray_common import ROOT, machine

RAY = Path(sys.executable).with_name("ray")

STUDY = """
import random, time
from search import Study
from spaces import Float, Space

def objective(config):
    time.sleep(random.SystemRandom().uniform(1.0, 2.0))
    return (config["x"] - 0.3) ** 2 + config["y"]

study = Study(name="chaos", space=Space({"x": Float(0, 1), "y": Float(0, 1)}),
              objective=objective, direction="minimize", trials=TRIALS, seed=11, workers=3,
              pruner="none")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tree(root: int) -> list[int]:
    """``root`` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    pids = [root]
    for pid in pids:
        pids.extend(children.get(pid, []))
    return pids


def kill_tree(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL a node whole: stop its group, then kill its process tree."""
    try:
        os.killpg(proc.pid, signal.SIGSTOP)
    except ProcessLookupError:
        return
    for pid in tree(proc.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=30)


def start_node(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with open(log, "w") as out:
        node = subprocess.Popen([str(RAY), "start", "--block", "--disable-usage-stats", *args],
                                env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    deadline = time.monotonic() + 120
    while "block forever" not in log.read_text():
        if node.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"ray start failed:\n{log.read_text()[-2000:]}")
        time.sleep(0.1)
    return node


class Cluster:
    """A head and a second node on 127.0.0.1 that this script alone starts and stops."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="chaos", dir="/tmp"))
        token = self.base / "auth_token"
        token.write_text(secrets.token_hex(32))
        self.env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token),
                    "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0"}
        self.env.pop("RAY_ADDRESS", None)
        self.address = f"127.0.0.1:{free_port()}"
        self.temp = ["--temp-dir", str(self.base / "t"), "--node-ip-address", "127.0.0.1"]
        self.head = start_node(["--head", "--port", self.address.rsplit(":", 1)[1],
                                "--num-cpus", "1", "--include-dashboard", "false",
                                "--dashboard-port", str(free_port()), *self.temp],
                               self.base / "head.log", self.env)
        self.second = self.start_second()
        self.kills = 0

    def start_second(self) -> subprocess.Popen[bytes]:
        return start_node(["--address", self.address, "--num-cpus", "2", *self.temp],
                          self.base / "second.log", self.env)

    def restart_second(self) -> None:
        kill_tree(self.second)
        self.kills += 1
        self.second = self.start_second()

    def stop(self) -> None:
        for node in (self.second, self.head):
            if node.poll() is None:
                node.send_signal(signal.SIGTERM)
                try:
                    node.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    kill_tree(node)
        shutil.rmtree(self.base, ignore_errors=True)


def search(cluster: Cluster, study: Path, results: Path, *extra: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "search", str(study), "--backend", "ray", "--address",
           cluster.address, "--results", str(results), "--no-tracking", "--no-final",
           "--max-retries", "20", *extra]
    return subprocess.Popen(cmd, cwd=ROOT, env=cluster.env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def trials_of(folder: Path) -> list[Any]:
    import optuna

    sys.path.insert(0, str(ROOT))
    from search.core._store import read_store

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = read_store(folder / "study.journal")
    return optuna.load_study(study_name=folder.name, storage=storage).get_trials(deepcopy=False)


def finished(folder: Path) -> int:
    try:
        return sum(t.state.is_finished() for t in trials_of(folder))
    except Exception:  # noqa: BLE001 - the journal may not exist yet
        return 0


def chaotic_run(cluster: Cluster, study: Path, results: Path, trials: int, every: float) -> int:
    """The run with node kills every ``every`` s and one driver kill; the driver's exit."""
    stop = threading.Event()

    def chaos() -> None:
        while not stop.wait(every):
            cluster.restart_second()

    killer = threading.Thread(target=chaos, daemon=True)
    killer.start()
    try:
        driver = search(cluster, study, results)
        while finished(results / "chaos") < 0.4 * trials and driver.poll() is None:
            time.sleep(0.2)
        driver.kill()
        driver.wait()
        resumed = search(cluster, study, results, "--resume")
        _, err = resumed.communicate(timeout=1800)
        if resumed.returncode != 0:
            print(err.decode()[-3000:])
        return resumed.returncode
    finally:
        stop.set()
        killer.join()


def by_slot(trials: list[Any]) -> list[tuple[Any, ...]]:
    kept = [t for t in trials if "search:abandoned" not in t.system_attrs]
    return sorted((t.system_attrs.get("search:slot"), t.state.name, t.params, t.value)
                  for t in kept)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--every", type=float, default=6.0, help="seconds between node kills")
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        study = Path(tmp) / "chaos.py"
        study.write_text(STUDY.replace("TRIALS", str(args.trials)))
        cluster = Cluster()
        try:
            start = time.monotonic()
            code = chaotic_run(cluster, study, Path(tmp) / "chaos", args.trials, args.every)
            wall = time.monotonic() - start
            calm = search(cluster, study, Path(tmp) / "calm")
            calm.communicate(timeout=1800)
        finally:
            cluster.stop()
        trials = trials_of(Path(tmp) / "chaos" / "chaos")
        kept = [t for t in trials if "search:abandoned" not in t.system_attrs]
        deaths = sum(len(t.user_attrs.get("worker_deaths", [])) for t in kept)
        print(f"{args.trials} trials of 1-2 s, --workers 3, second node killed every "
              f"{args.every:g} s ({cluster.kills} kills), driver killed once at 40 %: "
              f"exit {code}, {wall:.0f} s")
        print(f"  states of the trials that count: {dict(Counter(t.state.name for t in kept))}; "
              f"{len(kept)} counted (asked for {args.trials})")
        print(f"  abandoned by the driver's kill and run again: {len(trials) - len(kept)}; "
              f"worker deaths survived by retries: {deaths}")
        print(f"  left RUNNING or WAITING: "
              f"{sum(t.state.name in ('RUNNING', 'WAITING') for t in trials)}")
        calm_trials = trials_of(Path(tmp) / "calm" / "chaos")
        same = by_slot(kept) == by_slot(calm_trials)
        print(f"  the same trials (slot, state, config, value) as the run without faults: {same}")


if __name__ == "__main__":
    main()
