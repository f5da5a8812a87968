"""The modules of :mod:`spaces` stay small and import each other in one direction."""

from __future__ import annotations

from tests.structure import circles, imports, long_functions, long_modules


def test_modules_and_functions_stay_small() -> None:
    assert long_modules("spaces") == []
    assert long_functions("spaces") == []


def test_modules_import_each_other_in_one_direction() -> None:
    assert circles("spaces") == []
    graph = imports("spaces")
    assert graph["spaces._errors"] == set() and graph["spaces._types"] == set()  # the bottom


def test_the_checker_sees_a_circle(tmp_path, monkeypatch) -> None:
    package = tmp_path / "loop"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "_a.py").write_text("from loop._b import B\n")
    (package / "_b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from loop._a import A\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert circles("loop") == [["loop._a", "loop._b", "loop._a"]]
