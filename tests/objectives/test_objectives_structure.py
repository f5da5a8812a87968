"""The modules of :mod:`objectives` stay small and import each other in one direction."""

from __future__ import annotations

from tests.structure import circles, imports, long_functions, long_modules


def test_modules_and_functions_stay_small() -> None:
    assert long_modules("objectives") == []
    assert long_functions("objectives") == []


def test_modules_import_each_other_in_one_direction() -> None:
    assert circles("objectives") == []
    graph = imports("objectives")
    assert graph["objectives._errors"] == set()  # the bottom
    # the shared network flow knows no framework; the loader sits above them all
    assert not graph["objectives._network"] & {"objectives._torch", "objectives._keras", "objectives._load"}
    assert {"objectives._torch", "objectives._keras"} <= graph["objectives._load"]
