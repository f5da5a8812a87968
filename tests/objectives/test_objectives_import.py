"""``import objectives`` stays light, and the package never touches Optuna, Ray or MLflow."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import objectives

PACKAGE = Path(objectives.__file__).resolve().parent
FORBIDDEN = ("optuna", "ray", "mlflow")
#: deep-learning frameworks: imported inside functions of these modules only, never on import
LAZY = {
    "torch": {"_torch.py", "_keras.py"},  # _keras.py: KERAS_BACKEND=torch
    "tensorflow": {"_keras.py"},
    "keras": {"_keras.py"},
    "tensorboardX": {"_nn_board.py"},  # the TensorBoard writers, for both frameworks
    "tensorboard": {"_nn_board.py"},
}


def test_import_loads_no_heavy_module():
    code = (
        "import sys, objectives\n"
        "objectives.ObjectiveError, objectives.DevData, objectives.get_metric('f1')\n"
        "objectives.get_metrics(['f1', 'model_bytes', 'fit_seconds'])\n"
        "objectives.TorchObjective(), objectives.KerasObjective(), objectives.load_model\n"
        "heavy = ('sklearn', 'pandas', 'optuna', 'ray', 'mlflow', 'scipy', 'torch',\n"
        "         'tensorflow', 'keras')\n"
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


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name.split(".")[0] for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        return [(node.module or "").split(".")[0]]
    return []


def _runs_on_import(body: list[ast.stmt]):
    """Statements executed when the module is imported (not in functions or TYPE_CHECKING)."""
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from _runs_on_import(node.orelse)
            continue
        yield node
        for field in ("body", "orelse", "finalbody", "handlers"):
            yield from _runs_on_import(getattr(node, field, []))


def test_deep_learning_frameworks_load_lazily_in_their_objectives_only():
    for path in sorted(PACKAGE.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            for name in _imported(node):
                if name in LAZY:
                    assert path.name in LAZY[name], f"{path.name} imports {name}"
        for node in _runs_on_import(tree.body):
            for name in _imported(node):
                assert name not in LAZY, f"{path.name} imports {name} when it is imported"


def test_every_public_name_resolves():
    assert sorted(objectives.__all__) == sorted(set(objectives.__all__))
    for name in objectives.__all__:
        assert getattr(objectives, name) is not None
        assert name in dir(objectives)
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        objectives.Nope  # noqa: B018
