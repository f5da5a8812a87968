"""The fault table: each fault injected into real runs of ``python -m search``, what was lost, and
what the user saw.

Every fault runs a small study (iris, logistic regression, 3-fold CV, 3 trials, no tracking) in
its own temporary folder, through the command line, and checks the files it leaves:

- **hostile trial**: the objective sends a pickle whose ``__reduce__`` would run code in the
  driver, in each message kind and as bare bytes (local and, with ``--ray``, Ray).
  Lost: the payload ran (a marker file exists), or the test was opened by anything but ``final``.
- **kill in the final evaluation** at each named phase (``SEARCH_FAULT_AT=final:...``), then
  ``python -m search final``. Lost: the test opened with no result in the end.
- **kill in the start** at each named phase (``start:...``), then a fresh run and ``--resume``.
  Lost: neither continues the study.
- **lock race**: two runs of one new study released at the same instant. Lost: not exactly one
  run and one exit 2, or two ``create_study`` records.
- **damaged journal** (truncated, emptied, deleted, one edited line) under ``--resume``,
  ``final``, ``show``, ``report``. Lost: an exit other than 2, or any file of the folder changed.
- **full disk**: the results on a tmpfs of a few sizes (root only; skipped otherwise).
  Lost: a torn journal line, a ``.tmp`` left, the test opened without a result.
- **tampering**: a planted study file, trial file or model file with a payload.
  Lost: the payload ran.

Prints a Markdown table: fault | injected | lost | what the user saw (exit statuses and the
count of stderr lines, the last one shortened).

    .venv/bin/python benchmarks/faults.py [--rounds 3] [--race 50] [--ray]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

STUDY = """
from sklearn.linear_model import LogisticRegression
from objectives import SklearnObjective
from search import Data, Study
from spaces import Float, Space

study = Study(name="iris", data=Data("iris"), space=Space({"C": Float(1e-2, 1e2, log=True)}),
              objective=SklearnObjective(LogisticRegression(max_iter=300), folds=3),
              metric="accuracy", trials=3, seed=0)
"""

HOSTILE = """
import os, pickle, time
from sklearn.linear_model import LogisticRegression
from objectives import FunctionObjective
from search import Data, Study
from search.core._channel import Ask, Attr, Done, Report
from spaces import Float, Space

MARKER = {marker!r}

class Payload:
    def __reduce__(self):
        return (os.system, ("touch " + MARKER,))

SENDS = [lambda: Report(Payload(), 0), lambda: Attr("k", Payload()),
         lambda: Ask("prune", (Payload(),)), lambda: Done("COMPLETE", 1.0, None, None,
         {{"f": Payload()}}), lambda: Payload()]

def evaluate(config, data, trial):
    if trial.number < len(SENDS):
        trial._conn.send(SENDS[trial.number]())
        trial._conn.send_bytes(pickle.dumps(Payload()))
        time.sleep(30)
    return float(LogisticRegression(C=config["C"], max_iter=300).fit(data.X, data.y)
                 .score(data.X, data.y))

def fit(config, data, seed):
    return LogisticRegression(C=config["C"], max_iter=300).fit(data.X, data.y)

study = Study(name="iris", data=Data("iris"), space=Space({{"C": Float(1e-2, 1e2, log=True)}}),
              objective=FunctionObjective(evaluate, fit=fit), metric="accuracy", trials=6, seed=0)
"""

PAYLOAD = "import os\nos.system('touch {marker}')\n"
FINAL_POINTS = ("final:after-fit", "final:in-save", "final:after-save", "final:after-open",
                "final:after-score")
START_POINTS = ("start:after-lock", "start:after-study-json", "start:in-journal",
                "start:after-journal", "start:after-commit")


def search(*args: Any, cwd: Path, fault: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m search ARGS`` in ``cwd``; ``fault``: the named point it is killed at."""
    environ = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **env}
    if fault:
        environ["SEARCH_FAULT_AT"] = fault
    return subprocess.run([sys.executable, "-m", "search", *map(str, args)], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=600)


class Table:
    """Rows of the fault table, gathered as faults are injected."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}

    def add(self, fault: str, lost: bool, seen: str) -> None:
        row = self.rows.setdefault(fault, {"n": 0, "lost": 0, "seen": collections.Counter()})
        row["n"] += 1
        row["lost"] += int(lost)
        row["seen"][seen] += 1

    def print(self) -> None:
        print("| fault | injected | lost | what the user saw |\n|---|---|---|---|")
        for fault, row in self.rows.items():
            seen = "; ".join(f"{n}× {text}" for text, n in row["seen"].most_common(3))
            print(f"| {fault} | {row['n']} | {row['lost']} | {seen} |")


def seen(*results: subprocess.CompletedProcess[str]) -> str:
    """What the user saw: each command's exit status and stderr lines (the last, shortened)."""
    parts = []
    for r in results:
        lines = [line for line in r.stderr.splitlines() if line.strip()
                 and not line.startswith("warning: leak check")]
        last = lines[-1][:70] + ("…" if len(lines[-1]) > 70 else "") if lines else ""
        parts.append(f"exit {r.returncode}" + (f", {len(lines)} line(s) `{last}`" if lines else ""))
    return " → ".join(parts)


def fresh(base: Path, study: str = STUDY) -> Path:
    folder = Path(tempfile.mkdtemp(dir=base))
    (folder / "study.py").write_text(textwrap.dedent(study), encoding="utf-8")
    return folder


def final_state(folder: Path) -> str | None:
    path = folder / "results" / "iris" / "final.json"
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text()).get("status")
    except json.JSONDecodeError:
        return "corrupt"


def hostile(table: Table, base: Path, rounds: int, backends: list[str]) -> None:
    for backend in backends:
        for _ in range(rounds):
            folder = fresh(base)
            marker = folder / "ran-in-the-driver"
            (folder / "study.py").write_text(HOSTILE.format(marker=str(marker)), encoding="utf-8")
            done = search("study.py", "--workers", "2", "--no-tracking", "--backend", backend,
                          "--results", "results", cwd=folder)
            lost = marker.exists() or final_state(folder) not in ("evaluated", None)
            table.add(f"hostile trial, 5 payloads a run ({backend})", lost, seen(done))


def final_kills(table: Table, base: Path, rounds: int) -> None:
    for point in FINAL_POINTS:
        for _ in range(rounds):
            folder = fresh(base)
            killed = search("study.py", "--no-tracking", "--results", "results", cwd=folder,
                            fault=point)
            after = search("final", "results/iris", cwd=folder)
            lost = final_state(folder) != "evaluated" or any(
                (folder / "results" / "iris").glob(".model.*"))
            table.add(f"SIGKILL at {point}, then `final`", lost, seen(killed, after))


def start_kills(table: Table, base: Path, rounds: int) -> None:
    for point in START_POINTS:
        for _ in range(rounds):
            folder = fresh(base)
            args = ("study.py", "--no-tracking", "--no-final", "--results", "results")
            killed = search(*args, cwd=folder, fault=point)
            resumed = search(*args, "--resume", cwd=folder)
            again = resumed if resumed.returncode == 0 else search(*args, cwd=folder)
            lost = again.returncode != 0
            table.add(f"SIGKILL at {point}, then `--resume` (else a fresh run)", lost,
                      seen(killed, resumed) + ("" if again is resumed else " → " + seen(again)))


def race(table: Table, base: Path, rounds: int) -> None:
    for _ in range(rounds):
        folder = fresh(base)
        start = time.time() + 3.0  # both import first, then wait for the same instant
        code = (f"import time, sys, runpy; import search.cli; time.sleep(max(0, {start} - "
                "time.time())); sys.argv=['search','study.py','--no-tracking','--no-final',"
                "'--results','results']; runpy.run_module('search', run_name='__main__')")
        procs = [subprocess.Popen([sys.executable, "-c", code], cwd=folder, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
        codes = sorted(p.wait(timeout=300) for p in procs)
        journal = folder / "results" / "iris" / "study.journal"
        creates = journal.read_text().count('{"op_code":0,') if journal.exists() else 0
        lost = codes != [0, 2] or creates != 1
        table.add("two runs of one new study started together", lost,
                  f"exits {codes}, {creates} create_study")


def _damage(journal: Path, how: str) -> None:
    text = journal.read_bytes()
    if how == "truncated":
        journal.write_bytes(text[: len(text) // 2].rsplit(b"\n", 1)[0] + b"\n")
    elif how == "emptied":
        journal.write_bytes(b"")
    elif how == "deleted":
        journal.unlink()
    else:  # one value edited in a finished trial's line
        lines = text.splitlines(keepends=True)
        at = max(i for i, line in enumerate(lines) if b'"values"' in line)
        lines[at] = lines[at].replace(b'"values":[0.', b'"values":[1.', 1)
        journal.write_bytes(b"".join(lines))


def journals(table: Table, base: Path) -> None:
    folder = fresh(base)
    search("study.py", "--no-tracking", "--no-final", "--results", "results", cwd=folder)
    pristine = folder / "pristine"
    shutil.copytree(folder / "results", pristine)
    commands = {"--resume": ("study.py", "--resume", "--no-tracking", "--results", "results"),
                "final": ("final", "results/iris"), "show": ("show", "results/iris"),
                "report": ("report", "results/iris")}
    for how in ("truncated", "emptied", "deleted", "edited"):
        for name, args in commands.items():
            shutil.rmtree(folder / "results")
            shutil.copytree(pristine, folder / "results")
            _damage(folder / "results" / "iris" / "study.journal", how)
            before = _files(folder / "results")
            done = search(*args, cwd=folder)
            lost = done.returncode != 2 or _files(folder / "results") != before
            table.add(f"journal {how}, then `{name}`", lost, seen(done))


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != "search.log"}


def full_disk(table: Table, base: Path) -> None:
    if os.geteuid() != 0:
        print("full disk: skipped (mounting a tmpfs needs root)", file=sys.stderr)
        return
    for size in ("16k", "64k", "256k", "1m", "2m"):
        folder = fresh(base)
        mount = folder / "results"
        mount.mkdir()
        if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
                          capture_output=True).returncode:
            print("full disk: skipped (mount failed)", file=sys.stderr)
            return
        try:
            for tracking in ((), ("--no-tracking",)):
                done = search("study.py", *tracking, "--results", "results", cwd=folder)
                state = final_state(folder) or "absent (test sealed)"
                table.add(f"full disk (tmpfs {size}{', tracking' if not tracking else ''})",
                          _disk_lost(mount, done), f"{seen(done)}; final.json {state}")
                subprocess.run(["find", str(mount), "-mindepth", "1", "-delete"])
        finally:
            subprocess.run(["umount", str(mount)])


def _disk_lost(mount: Path, done: subprocess.CompletedProcess[str]) -> bool:
    study = mount / "iris"
    journal = study / "study.journal"
    torn = journal.exists() and not journal.read_bytes().endswith(b"\n") and journal.stat().st_size
    left = any(p.name.endswith(".tmp") for p in mount.rglob("*"))
    used_up = (study / "final.json").exists() and not (study / "model").is_dir()
    one_line = done.returncode == 0 or len([x for x in done.stderr.splitlines() if x.startswith(
        ("error:", "Traceback"))]) == 1
    return bool(torn or left or used_up or not one_line)


def tampering(table: Table, base: Path) -> None:
    folder = fresh(base)
    search("study.py", "--no-tracking", "--no-final", "--results", "results", cwd=folder)
    study = folder / "results" / "iris"
    marker = folder / "payload-ran"
    planted = folder / "planted.py"
    planted.write_text(STUDY + PAYLOAD.format(marker=marker), encoding="utf-8")
    record = json.loads((study / "study.json").read_text())
    for key in ("study_file_key", None):
        edited = {**record, "study_file": str(planted),
                  "study_file_sha256": __import__("hashlib").sha256(planted.read_bytes()).hexdigest()}
        if key:
            edited.pop(key)
        (study / "study.json").write_text(json.dumps(edited))
        done = search("final", "results/iris", cwd=folder)
        table.add("planted study file named in study.json, then `final`", marker.exists(),
                  seen(done))
    (study / "study.json").write_text(json.dumps(record))
    search("final", "results/iris", cwd=folder)
    model = study / "model" / "model.joblib"
    model.write_bytes(_pickled_payload(marker))
    code = f"import search; search.load({str(study)!r}).model()"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=folder)
    table.add("planted model.joblib, then `search.load(...).model()`", marker.exists(),
              seen(done))


def _pickled_payload(marker: Path) -> bytes:
    import pickle

    class Payload:
        def __reduce__(self) -> tuple[Any, ...]:
            return (os.system, (f"touch {marker}",))

    return pickle.dumps(Payload())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="tries of each kill point")
    parser.add_argument("--race", type=int, default=50, help="rounds of the lock race")
    parser.add_argument("--ray", action="store_true", help="also the hostile trial on Ray")
    ns = parser.parse_args()
    table = Table()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        os.environ.setdefault("XDG_CONFIG_HOME", str(base / "config"))  # a key of its own
        hostile(table, base, ns.rounds, ["local", "ray"] if ns.ray else ["local"])
        final_kills(table, base, ns.rounds)
        start_kills(table, base, ns.rounds)
        race(table, base, ns.race)
        journals(table, base)
        full_disk(table, base)
        tampering(table, base)
    table.print()


if __name__ == "__main__":
    main()
