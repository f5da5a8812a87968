"""optuna-examples scripts, unchanged, under plain Optuna and under ``python -m search``.

For every ``.py`` script in the chosen subfolders of an optuna-examples checkout:

- **deps**: each top-level import of the script (``optuna.integration`` counts as
  ``optuna_integration``) is looked up with ``importlib.util.find_spec``; a script with a missing
  one is reported ("deps missing: X") and not run.
- **plain Optuna**: the script runs as ``__main__`` (``runpy.run_path``) under a small runner
  that caps every ``Study.optimize`` call at ``--trials`` trials and ``--timeout`` seconds (the
  smaller of the script's own values and the cap), remembers every study the script creates,
  loads or optimizes, and prints each one's COMPLETE/PRUNED/FAIL/RUNNING counts at exit.
- **the framework**: ``python -m search SCRIPT --trials N --timeout T --no-tracking --results
  TMP/results``; states are counted per study from ``TMP/results/**/trials.csv`` (column
  ``state``).

Each run has its own empty working folder (the scripts write files to their working folder),
``MPLBACKEND=Agg`` (no windows), and a wall-clock limit (``--limit``): past it the process
group gets SIGINT, as Ctrl-C would, then SIGKILL 15 s later. The exit status, the seconds and
the last stderr line are kept, and processes of the group still alive after the command ended
(joblib's loky workers of a trial process, say) are counted in the note, then killed.
"Runs unchanged" is "yes" when the framework's run exits 0 within the limit with at least one
COMPLETE or PRUNED trial and no FAIL ("with N lines changed" for a patched copy).

Scripts whose data is downloaded (torchvision, ``keras.datasets``, tensorflow_datasets) cannot run
without a network: ``--patches DIR`` names a folder of replacement copies
``DIR/<subfolder>/<script>.py``; where one exists both runs use it, and the table gives the lines
it changes (difflib against the original) and the reason from ``DIR/REASONS.txt`` (lines
``<subfolder>/<script>.py: reason``).

Prints a Markdown table (script | deps | runs unchanged under ``python -m search`` | search:
COMPLETE/PRUNED/FAIL (exit, seconds) | plain Optuna: the same | note); ``--json FILE`` writes the
rows. ``--only NAME`` keeps the scripts whose path contains NAME (repeatable);
``--optuna-only`` / ``--framework-only`` run one side; ``--logs DIR`` keeps each run's stdout and
stderr.

    .venv/bin/python benchmarks/optuna_examples.py /tmp/oe [--patches /tmp/oe_patches]
        [--subfolders sklearn basic ...] [--trials 8] [--timeout 60] [--limit 300]
        [--only NAME] [--optuna-only | --framework-only] [--json FILE] [--logs DIR]
"""

from __future__ import annotations

import argparse
import ast
import csv
import difflib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SUBFOLDERS = (
    "sklearn",
    "basic",
    "faq",
    "multi_objective",
    "lightgbm",
    "xgboost",
    "catboost",
    "pytorch",
    "keras",
    "tfkeras",
    "samplers",
)

STATES = ("COMPLETE", "PRUNED", "FAIL", "RUNNING")
MARK = "@@optuna_examples_study "  # the runner's result lines on stdout

# argv: SCRIPT [SCRIPT ARGS...]; env: OE_TRIALS, OE_TIMEOUT (the caps a Study.optimize call).
RUNNER = r"""
import json, os, runpy, sys
import optuna
from optuna.study import study as _study_mod

TRIALS, TIMEOUT = int(os.environ["OE_TRIALS"]), float(os.environ["OE_TIMEOUT"])
MARK = os.environ["OE_MARK"]
studies = {}


def remember(study):
    key = (id(getattr(study, "_storage", study)), getattr(study, "_study_id", id(study)))
    studies.setdefault(key, study)
    return study


_optimize = optuna.study.Study.optimize


def optimize(self, func, n_trials=None, timeout=None, *args, **kwargs):
    remember(self)
    n_trials = TRIALS if n_trials is None else min(n_trials, TRIALS)
    timeout = TIMEOUT if timeout is None else min(timeout, TIMEOUT)
    return _optimize(self, func, n_trials, timeout, *args, **kwargs)


def wrap(make):
    def made(*args, **kwargs):
        return remember(make(*args, **kwargs))
    return made


optuna.study.Study.optimize = optimize
for _module in (optuna, optuna.study, _study_mod):
    _module.create_study = wrap(_study_mod.create_study)
    _module.load_study = wrap(_study_mod.load_study)


def report():
    for study in studies.values():
        counts = {}
        try:
            for trial in study.get_trials(deepcopy=False):
                counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
        except Exception as error:  # a storage closed by the script
            counts = {"error": repr(error)}
        print(MARK + json.dumps({"study": study.study_name, "counts": counts}), flush=True)


script = os.path.abspath(sys.argv[1])
sys.argv = [script, *sys.argv[2:]]
sys.path[0] = os.path.dirname(script)  # as `python SCRIPT` would
try:
    runpy.run_path(script, run_name="__main__")
finally:
    report()
"""


def imports(source: str) -> list[str]:
    """The script's top-level imported modules, in order (``optuna.integration`` as
    ``optuna_integration``, which provides it)."""
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found = [node.module]
        else:
            continue
        for name in found:
            if name.startswith("optuna.integration"):
                names.append("optuna_integration")
            names.append(name.split(".")[0])
    if "optuna.integration" in source and "optuna_integration" not in names:
        names.append("optuna_integration")
    return list(dict.fromkeys(names))


def missing_deps(source: str) -> list[str]:
    missing = []
    for name in imports(source):
        try:
            if importlib.util.find_spec(name) is None:
                missing.append(name)
        except (ImportError, ValueError):
            missing.append(name)
    return missing


def changed_lines(original: str, patched: str) -> dict[str, int]:
    """Lines a patch changes: each replaced block counts its longer side; plus insertions and
    deletions."""
    a, b = original.splitlines(), patched.splitlines()
    changed = added = removed = 0
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        removed += i2 - i1
        added += j2 - j1
        changed += max(i2 - i1, j2 - j1)
    return {"changed": changed, "added": added, "removed": removed}


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def failure_line(text: str) -> str:
    """The last line that says why a trial failed (Optuna's warning or a traceback's end)."""
    for line in reversed(text.splitlines()):
        if "because of the following error" in line:
            return line.split("because of the following error:", 1)[-1].strip()[:300]
    for line in reversed(text.splitlines()):
        if "Error" in line or "Exception" in line:
            return line.strip()[:300]
    return last_line(text)


def group(pgid: int) -> list[int]:
    """The live processes of a process group (Linux: read from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            found.append(int(stat.parent.name))
    return found


def execute(
    cmd: list[str], cwd: Path, env: dict[str, str], limit: float, log: Path | None
) -> dict[str, object]:
    """Runs cmd in its own process group, its output to files (a process it leaves behind may
    hold a pipe open for minutes: joblib's loky workers do). Past limit, SIGINT to the group, as
    Ctrl-C would, and SIGKILL 15 s on. Processes of the group still alive once cmd has exited
    are counted (``left_behind``) and killed."""
    start = time.perf_counter()
    with (
        tempfile.TemporaryFile("w+", errors="replace") as out_file,
        tempfile.TemporaryFile("w+", errors="replace") as err_file,
    ):
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out_file,
            stderr=err_file,
            start_new_session=True,
        )
        timed_out = False
        try:
            proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        seconds = time.perf_counter() - start
        left_behind = group(proc.pid)
        for _ in range(20):  # give processes that are exiting 2 s to go
            if not left_behind:
                break
            time.sleep(0.1)
            left_behind = group(proc.pid)
        if left_behind:
            os.killpg(proc.pid, signal.SIGKILL)
        out_file.seek(0)
        err_file.seek(0)
        out, err = out_file.read(), err_file.read()
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.with_suffix(".stdout").write_text(out)
        log.with_suffix(".stderr").write_text(err)
    return {
        "exit": proc.returncode,
        "timed_out": timed_out,
        "seconds": round(seconds, 1),
        "left_behind": len(left_behind),
        "stdout": out,
        "stderr": err,
    }


def child_env(extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "2"})
    env.update(extra)
    return env


def summary(run: dict[str, object], studies: dict[str, dict[str, int]]) -> dict[str, object]:
    stderr = str(run["stderr"])
    totals = {state: sum(c.get(state, 0) for c in studies.values()) for state in STATES}
    failed = run["exit"] != 0 or run["timed_out"]
    note = ""
    if failed:
        note = last_line(stderr)
    elif totals["FAIL"]:
        note = failure_line(stderr)
    if run["left_behind"]:
        left = f"left {run['left_behind']} processes running after it ended (killed)"
        note = f"{note}; {left}" if note else left
    return {
        "exit": run["exit"],
        "timed_out": run["timed_out"],
        "seconds": run["seconds"],
        "left_behind": run["left_behind"],
        "studies": studies,
        "totals": totals,
        "last_stderr": last_line(stderr),
        "note": note,
    }


def run_optuna(script: Path, args: argparse.Namespace, log: Path | None) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="oe_optuna_") as tmp:
        env = child_env(
            {"OE_TRIALS": str(args.trials), "OE_TIMEOUT": str(args.timeout), "OE_MARK": MARK}
        )
        run = execute([sys.executable, "-c", RUNNER, str(script)], Path(tmp), env, args.limit, log)
    studies: dict[str, dict[str, int]] = {}
    for line in str(run["stdout"]).splitlines():
        if line.startswith(MARK):
            record = json.loads(line[len(MARK) :])
            name, n = record["study"], 2
            while name in studies:  # two studies of one name (several storages)
                name, n = f"{record['study']}#{n}", n + 1
            studies[name] = record["counts"]
    return summary(run, studies)


def run_framework(script: Path, args: argparse.Namespace, log: Path | None) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="oe_search_") as tmp:
        results = Path(tmp) / "results"
        work = Path(tmp) / "work"
        work.mkdir()
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
        cmd = [
            sys.executable,
            "-m",
            "search",
            str(script),
            "--trials",
            str(args.trials),
            "--timeout",
            str(args.timeout),
            "--no-tracking",
            "--results",
            str(results),
        ]
        run = execute(cmd, work, child_env({"PYTHONPATH": path}), args.limit, log)
        studies: dict[str, dict[str, int]] = {}
        for trials in sorted(results.rglob("trials.csv")):
            counts: dict[str, int] = {}
            with open(trials, newline="") as f:
                for row in csv.DictReader(f):
                    state = row.get("state") or "?"
                    counts[state] = counts.get(state, 0) + 1
            studies[str(trials.parent.relative_to(results))] = counts
    return summary(run, studies)


def reasons(patches: Path | None) -> dict[str, str]:
    if patches is None or not (patches / "REASONS.txt").exists():
        return {}
    found = {}
    for line in (patches / "REASONS.txt").read_text().splitlines():
        if ":" in line and not line.lstrip().startswith("#"):
            name, why = line.split(":", 1)
            found[name.strip()] = why.strip()
    return found


def cell(side: dict[str, object] | None) -> str:
    if side is None:
        return "not run"
    totals = side["totals"]
    assert isinstance(totals, dict)
    text = f"{totals['COMPLETE']}/{totals['PRUNED']}/{totals['FAIL']}"
    if totals["RUNNING"]:
        text += f" +{totals['RUNNING']} running"
    studies = side["studies"]
    assert isinstance(studies, dict)
    if len(studies) > 1:
        text += f" in {len(studies)} studies"
    status = (
        f"timeout after {side['seconds']} s"
        if side["timed_out"]
        else f"exit {side['exit']}, {side['seconds']} s"
    )
    return f"{text} ({status})"


def ran_ok(side: dict[str, object]) -> bool:
    totals = side["totals"]
    assert isinstance(totals, dict)
    return (
        side["exit"] == 0
        and not side["timed_out"]
        and not totals["FAIL"]
        and totals["COMPLETE"] + totals["PRUNED"] > 0
    )


def verdict(row: dict[str, object]) -> str:
    framework = row["search"]
    if row["deps_missing"]:
        return "—"
    if framework is None:
        return "not measured"
    assert isinstance(framework, dict)
    if not ran_ok(framework):
        return "no"
    return f"with {row['lines_changed']} lines changed" if row["patched"] else "yes"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="an optuna-examples checkout")
    parser.add_argument("--subfolders", nargs="+", default=list(SUBFOLDERS))
    parser.add_argument("--trials", type=int, default=8, help="cap: trials an optimize call")
    parser.add_argument("--timeout", type=float, default=60, help="cap: seconds an optimize call")
    parser.add_argument("--limit", type=float, default=300, help="wall-clock seconds a run")
    parser.add_argument(
        "--patches",
        type=Path,
        default=None,
        help="replacement copies DIR/<subfolder>/<script>.py, DIR/REASONS.txt",
    )
    parser.add_argument("--only", action="append", default=[], metavar="NAME")
    side = parser.add_mutually_exclusive_group()
    side.add_argument("--optuna-only", action="store_true")
    side.add_argument("--framework-only", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--logs", type=Path, default=None, help="keep each run's stdout/stderr")
    args = parser.parse_args()

    scripts = [path for sub in args.subfolders for path in sorted((args.folder / sub).glob("*.py"))]
    if args.only:
        scripts = [p for p in scripts if any(name in str(p) for name in args.only)]
    why = reasons(args.patches)
    print(
        f"{len(scripts)} scripts; caps: {args.trials} trials and {args.timeout:g} s an "
        f"optimize call, {args.limit:g} s a run; patches: {args.patches}",
        file=sys.stderr,
    )

    rows: list[dict[str, object]] = []
    for original in scripts:
        name = str(original.relative_to(args.folder))
        patch = args.patches / name if args.patches is not None else None
        script = patch if patch is not None and patch.exists() else original
        source = script.read_text()
        row: dict[str, object] = {
            "script": name,
            "path": str(script),
            "patched": script != original,
            "lines_changed": 0,
            "patch_reason": why.get(name, ""),
            "deps_missing": missing_deps(source),
            "search": None,
            "optuna": None,
        }
        if row["patched"]:
            diff = changed_lines(original.read_text(), source)
            row["lines_changed"], row["diff"] = diff["changed"], diff
        if not row["deps_missing"]:
            stem = name.removesuffix(".py")
            if not args.optuna_only:
                log = args.logs / "search" / stem if args.logs else None
                row["search"] = run_framework(script, args, log)
            if not args.framework_only:
                log = args.logs / "optuna" / stem if args.logs else None
                row["optuna"] = run_optuna(script, args, log)
        rows.append(row)
        print(
            f"{name}: search {cell(row['search'])}; optuna {cell(row['optuna'])}", file=sys.stderr
        )

    print(
        f"\nCaps: {args.trials} trials and {args.timeout:g} s an optimize call; "
        f"{args.limit:g} s a run. Counts: COMPLETE/PRUNED/FAIL, all studies of the script.\n"
    )
    print(
        "| script | deps | runs unchanged under `python -m search` | search: C/P/F (exit) "
        "| plain Optuna: C/P/F (exit) | note |"
    )
    print("|---|---|---|---|---|---|")
    for row in rows:
        missing = row["deps_missing"]
        assert isinstance(missing, list)
        deps = f"deps missing: {', '.join(missing)}" if missing else "ok"
        notes = []
        if row["patched"]:
            diff = row["diff"]
            assert isinstance(diff, dict)
            notes.append(
                f"patched: {row['lines_changed']} lines (+{diff['added']}/-{diff['removed']})"
            )
        for label in ("search", "optuna"):
            side_row = row[label]
            if isinstance(side_row, dict) and side_row["note"]:
                notes.append(f"{label}: {side_row['note']}")
        note = "; ".join(notes).replace("|", "\\|")
        print(
            f"| {row['script']} | {deps} | {verdict(row)} | {cell(row['search'])} "
            f"| {cell(row['optuna'])} | {note} |"
        )
    patched = [row for row in rows if row["patched"]]
    if patched:
        print(f"\nPatched copies ({args.patches}; lines changed, difflib against the original):\n")
        for row in patched:
            print(
                f"- {row['script']}: {row['lines_changed']} lines — "
                f"{row['patch_reason'] or 'no reason in REASONS.txt'}"
            )
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
