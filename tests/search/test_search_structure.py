"""The layout of :mod:`search` shows its design: each concern in its folder, arrows pointing down.

Floors, bottom first: ``integrity`` (statistics over scores and data) < ``core`` (the study,
its data and seal, the store, the engine, the final evaluation) < ``backends`` (where workers
run), ``watching`` (who hears about a run) and ``scripts`` (researchers' own Optuna scripts,
run as ``__main__``), which know nothing of each other < ``cli``.
"""

from __future__ import annotations

from tests.structure import circles, imports, long_functions, long_modules

FLOORS = {"integrity": 1, "core": 2, "backends": 3, "watching": 3, "scripts": 3, "cli": 4}


def _folder(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in FLOORS else "search"


def test_modules_and_functions_stay_small() -> None:
    assert long_modules("search") == []
    assert long_functions("search") == []


def test_no_import_circle() -> None:
    assert circles("search") == []


def test_every_arrow_points_down_or_across_to_nothing() -> None:
    wrong = []
    for module, targets in imports("search").items():
        here = _folder(module)
        if here == "search":
            continue  # the package's own __init__ and __main__ sit on top
        for target in targets:
            there = _folder(target)
            if there == "search" and target in ("search", "search.__main__"):
                wrong.append(f"{module} -> {target}")
            elif there != "search" and (
                FLOORS[there] > FLOORS[here] or (FLOORS[there] == FLOORS[here] and there != here)
            ):
                wrong.append(f"{module} -> {target}")
    assert wrong == []


def test_objectives_and_spaces_stay_below_search() -> None:
    for package in ("spaces", "objectives"):
        graph = imports(package, within=("spaces", "objectives", "search"))
        assert not {t for targets in graph.values() for t in targets if t.startswith("search")}
    spaces = imports("spaces", within=("spaces", "objectives"))
    assert not {t for targets in spaces.values() for t in targets if t.startswith("objectives")}
