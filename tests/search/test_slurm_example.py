"""The SLURM batch script of the README: valid bash, and it runs the search on its Ray cluster."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess

import pytest

from tests.conftest import ROOT

SCRIPT = ROOT / "examples" / "slurm" / "search.sbatch"


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_slurm_script_is_valid_bash():
    result = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_slurm_script_runs_the_search_on_the_cluster_it_started():
    text = SCRIPT.read_text(encoding="utf-8")
    lines = re.sub(r"\\\n\s*", " ", text).splitlines()  # continued lines joined
    driver = [shlex.split(line) for line in lines if line.startswith("python -m search ")]
    assert len(driver) == 1, driver
    args = driver[0]
    assert args[args.index("--backend") + 1] == "ray"
    assert args[args.index("--address") + 1] == "$ip_head"
    for flag in ("--workers", "--cpus-per-trial", "--results"):
        assert flag in args, flag
    assert any("ray start --head" in line and "--block" in line for line in lines)
    assert any("ray start --address" in line and '"$ip_head"' in line for line in lines)
    assert "export RAY_AUTH_MODE=token" in text and "export RAY_AUTH_TOKEN" in text
