#!/usr/bin/env python3
"""Set-up and everyday commands; needs only Python 3.11 and pip.

    python3 dev.py demo    make .venv/ if missing, then run a demo study from examples/
    python3 dev.py test    make .venv/ if missing, then run the test suite
    python3 dev.py setup   only make (or refresh) .venv/

The virtual environment is rebuilt when pyproject.toml changes. PyTorch is installed first as
the CPU build torch==2.13.0 (a plain `torch` requirement would pull a multi-GB CUDA build).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PY = VENV / "bin" / "python"
STAMP = VENV / ".search-installed"
TORCH = "torch==2.13.0"
DEMO = "examples/breast_cancer.py"


def _run(*cmd: str | Path) -> None:
    print("+", " ".join(map(str, cmd)), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT)


def setup() -> None:
    """Create .venv/ and install the project with its test tools, when missing or stale."""
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if PY.exists() and STAMP.exists() and STAMP.read_text().strip() == want:
        return
    if not PY.exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    pip = (PY, "-m", "pip", "install", "--disable-pip-version-check", "-q")
    _run(*pip, "--upgrade", "pip")
    _run(*pip, TORCH)
    _run(*pip, "-e", ".[dev,all]")  # all: torch, keras, ray, tracking (the tests use each)
    STAMP.write_text(want + "\n")


def demo() -> int:
    """Run the demo study into results/demo/ (the demo's own folder, replaced each time)."""
    setup()
    target = ROOT / "results" / "demo"
    shutil.rmtree(target, ignore_errors=True)
    cmd = [str(PY), "-m", "search", DEMO, "--results", str(target)]
    print("+", " ".join(cmd), flush=True)
    status = subprocess.run(cmd, cwd=ROOT).returncode
    if status == 0:
        study, py = (target / "breast_cancer").relative_to(ROOT), PY.relative_to(ROOT)
        print(
            f"\nresults in {target}/breast_cancer/ — try:\n"
            f"  {py} -m search show {study}        # leaderboard in the terminal\n"
            f"  open {study}/report.html          # the report, offline\n"
            f"  {py} -m search dashboard {study.parent}    # live dashboard on 127.0.0.1\n"
            f"  {VENV.relative_to(ROOT)}/bin/mlflow ui --backend-store-uri "
            f"sqlite:///{study.parent}/mlflow.db --port 5000   # MLflow UI"
        )
    return status


def test(extra: list[str]) -> int:
    """Lint the packages, then run pytest (extra arguments go to pytest)."""
    setup()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    lint = subprocess.run(
        [
            str(PY),
            "-m",
            "ruff",
            "check",
            "search",
            "spaces",
            "objectives",
            "tests",
            "examples",
            "benchmarks",
        ],
        cwd=ROOT,
    )
    if lint.returncode != 0:
        return lint.returncode
    return subprocess.run([str(PY), "-m", "pytest", *extra], cwd=ROOT, env=env).returncode


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test", "setup"):
        print(__doc__, file=sys.stderr)
        return 2
    if argv[0] == "setup":
        setup()
        return 0
    return demo() if argv[0] == "demo" else test(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
