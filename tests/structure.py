"""The shape the packages keep: small modules, short functions, imports in one direction.

Read from the source with :mod:`ast`, as a structure tool reads it: every import between the
packages' own modules counts, inside functions and under ``TYPE_CHECKING`` too. Modules are
named by their dotted path (``search.core._engine``); a package's ``__init__`` by the
package's name.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60


def sources(package: str) -> dict[str, str]:
    """Dotted module name -> source text, for every module of ``package`` and its subpackages."""
    root = Path(importlib.import_module(package).__file__ or "").parent
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path.read_text(encoding="utf-8")
    return found


def long_modules(package: str) -> list[str]:
    """``module: N lines`` for every module over :data:`MAX_MODULE_LINES`."""
    sizes = {name: len(text.splitlines()) for name, text in sources(package).items()}
    return [f"{name}: {n} lines" for name, n in sizes.items() if n > MAX_MODULE_LINES]


def long_functions(package: str) -> list[str]:
    """``module.function: N lines`` for every function or method over the limit."""
    found = []
    for name, text in sources(package).items():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    found.append(f"{name}.{node.name}: {lines} lines")
    return found


def imports(package: str, *, within: tuple[str, ...] | None = None) -> dict[str, set[str]]:
    """Module -> the modules it imports, among ``package``'s (or the packages ``within``)."""
    known = {name for p in (within or (package,)) for name in sources(p)}
    graph: dict[str, set[str]] = {}
    for name, text in sources(package).items():
        used: set[str] = set()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and node.module:
                used |= {f"{node.module}.{alias.name}" for alias in node.names}
                used.add(node.module)
            elif isinstance(node, ast.Import):
                used |= {alias.name for alias in node.names}
        graph[name] = {_owner(module, known) for module in used} - {None, name}  # type: ignore[misc]
    return graph


def _owner(module: str, known: set[str]) -> str | None:
    """The known module that ``module`` names (an attribute of it, or itself)."""
    while module:
        if module in known:
            return module
        module = module.rpartition(".")[0]
    return None


def circles(package: str) -> list[list[str]]:
    """Every import circle between the package's modules, each as the modules on its way.

    A package's ``__init__`` that only re-exports (lazily or not) is left out: importing a
    submodule imports its package first, which is not an arrow back.
    """
    inits = {name for name, text in sources(package).items() if _is_package(name, package)}
    graph = {name: targets - inits for name, targets in imports(package).items()}
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


def _is_package(name: str, package: str) -> bool:
    """Whether the dotted ``name`` is a package (its ``__init__``), not a module."""
    root = Path(importlib.import_module(package).__file__ or "").parent
    return (root.joinpath(*name.split(".")[1:]) / "__init__.py").is_file()
