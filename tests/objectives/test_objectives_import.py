"""``import objectives`` stays light, and the package never touches Optuna, Ray or MLflow."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import objectives

PACKAGE = Path(objectives.__file__).resolve().parent
FORBIDDEN = ("optuna", "ray", "mlflow", "torch", "tensorflow")


def test_import_loads_no_heavy_module():
    code = (
        "import sys, objectives\n"
        "objectives.ObjectiveError, objectives.DevData, objectives.get_metric('f1')\n"
        "heavy = ('sklearn', 'pandas', 'optuna', 'ray', 'mlflow', 'scipy')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=PACKAGE.parent,
                            capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


def test_package_sources_never_import_optuna_ray_or_mlflow():
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"


def test_every_public_name_resolves():
    assert sorted(objectives.__all__) == sorted(set(objectives.__all__))
    for name in objectives.__all__:
        assert getattr(objectives, name) is not None
        assert name in dir(objectives)
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        objectives.Nope  # noqa: B018
