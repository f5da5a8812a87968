"""The shape both packages keep: small modules, short functions, imports in one direction.

Read from the source with :mod:`ast`, as a structure tool reads it: every import between the
package's own modules counts, inside functions and under ``TYPE_CHECKING`` too. The objectives
tests use it as well (``objectives`` may depend on ``spaces``, never the other way).
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60


def _sources(package: str) -> dict[str, str]:
    """Module name (``_space``) -> source text, for every module of ``package``."""
    folder = Path(importlib.import_module(package).__file__ or "").parent
    return {path.stem: path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.py"))}


def long_modules(package: str) -> list[str]:
    """``module: N lines`` for every module over :data:`MAX_MODULE_LINES`."""
    sizes = {name: len(text.splitlines()) for name, text in _sources(package).items()}
    return [f"{name}: {n} lines" for name, n in sizes.items() if n > MAX_MODULE_LINES]


def long_functions(package: str) -> list[str]:
    """``module.function: N lines`` for every function or method over the limit."""
    found = []
    for name, text in _sources(package).items():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    found.append(f"{name}.{node.name}: {lines} lines")
    return found


def imports(package: str) -> dict[str, set[str]]:
    """Module -> the package's modules it imports, anywhere in its source."""
    sources = _sources(package)
    graph: dict[str, set[str]] = {}
    for name, text in sources.items():
        used: set[str] = set()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and node.module == package:
                used |= {alias.name for alias in node.names}  # from package import _module
            elif isinstance(node, ast.ImportFrom) and node.module:
                used.add(node.module.removeprefix(f"{package}.").split(".")[0])
            elif isinstance(node, ast.Import):
                used |= {alias.name.removeprefix(f"{package}.").split(".")[0]
                         for alias in node.names}
        graph[name] = {module for module in used if module in sources and module != name}
    return graph


def circles(package: str) -> list[list[str]]:
    """Every import circle between the package's modules, each as the modules on its way."""
    graph = imports(package)
    found: list[list[str]] = []
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        for target in sorted(graph[module]):
            if target in path:
                found.append(path[path.index(target):] + [target])
            elif target not in done:
                visit(target, [*path, target])
        done.add(module)

    for module in sorted(graph):
        if module not in done:
            visit(module, [module])
    return found
