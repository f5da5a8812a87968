"""A pytest plugin that runs Optuna's own storage tests against the project's study store.

``tests/search/test_store.py`` loads it (``-p search_store_mode``) into a pytest run of
``tests/storages_tests/test_storages.py`` taken from the sdist of the installed Optuna; no Optuna
test code lives in this repository. The plugin

- adds the storage mode ``search_journal`` to ``optuna.testing.storages.STORAGE_MODES``, for which
  ``StorageSupplier`` gives the driver's writer, ``open_store(<a fresh folder>)``;
- checks, after each test in that mode, that the journal file holds exactly the writer's log and
  that Optuna's own file reader and ``read_store`` replay it to the writer's studies and trials;
- keeps only the tests of the modes named by ``--storage-modes`` and writes every outcome, with
  its mode, to the JSON file named by ``--outcomes-json``.
"""

from __future__ import annotations

import json
import sys
import tempfile
import types
from pathlib import Path
from typing import Any

import pytest

MODE = "search_journal"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("search_store_mode")
    group.addoption("--storage-modes", required=True, help="comma-separated modes to run")
    group.addoption("--outcomes-json", required=True, help="where to write the outcomes")


def pytest_configure(config: pytest.Config) -> None:
    _stub_fakeredis()
    from optuna.testing import storages

    if MODE not in storages.STORAGE_MODES:
        storages.STORAGE_MODES.append(MODE)
    storages.StorageSupplier = _supplier_class(storages.StorageSupplier)
    config.pluginmanager.register(_Recorder(config), "search_store_mode_recorder")


def _stub_fakeredis() -> None:
    """``optuna.testing.storages`` imports fakeredis at the top, for the ``journal_redis`` mode
    only; that mode is not run here, so a missing fakeredis becomes a stub that says so."""
    try:
        import fakeredis  # noqa: F401
    except ImportError:
        stub = types.ModuleType("fakeredis")

        def missing(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("fakeredis is not installed; the journal_redis mode cannot run")

        stub.FakeStrictRedis = missing  # type: ignore[attr-defined]
        sys.modules["fakeredis"] = stub


def _supplier_class(base: type) -> type:
    from search.core._store import open_store

    class StorageSupplier(base):  # type: ignore[misc,valid-type]
        """Optuna's supplier, plus ``search_journal``: the project's writer in a fresh folder."""

        def __enter__(self) -> Any:
            if self.storage_specifier != MODE:
                return super().__enter__()
            if self.extra_args:
                raise ValueError(f"{MODE} takes no arguments, got {sorted(self.extra_args)}")
            self._folder = tempfile.TemporaryDirectory(prefix="search-store-")
            self.storage = open_store(Path(self._folder.name))
            return self.storage

        def __exit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
            if self.storage_specifier != MODE:
                return super().__exit__(exc_type, exc_val, exc_tb)
            try:
                if exc_type is None:
                    _check_file(self.storage, Path(self._folder.name) / "study.journal")
            finally:
                self.storage = None
                self._folder.cleanup()

    return StorageSupplier


def _check_file(writer: Any, path: Path) -> None:
    """The file holds every entry the writer applied, one JSON line each, and both readers
    replay it to the writer's state."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    from search.core._store import read_store

    applied = writer._replay_result.log_number_read  # the writer keeps no copy of its log
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    lines = text.splitlines()
    assert text == "" or text.endswith("\n"), f"{path} ends in a torn line"
    assert len(lines) == applied, f"{path} has {len(lines)} lines; the writer applied {applied}"
    assert all("op_code" in json.loads(line) for line in lines), f"{path}: not journal lines"
    want = _snapshot(writer)
    assert _snapshot(read_store(path)) == want, "read_store replays another state"
    theirs = optuna.storages.JournalStorage(JournalFileBackend(str(path)))
    assert _snapshot(theirs) == want, "Optuna's JournalFileBackend replays another state"


def _snapshot(storage: Any) -> list[Any]:
    """Everything a storage answers about its studies, in a form that compares NaN as equal."""
    return [
        (
            s._study_id,
            s.study_name,
            [d.name for d in s.directions],
            repr(s.user_attrs),
            repr(s.system_attrs),
            [repr(t) for t in storage.get_all_trials(s._study_id, deepcopy=False)],
        )
        for s in storage.get_all_studies()
    ]


_STORAGE_PARAMS = {"storage", "storage_mode", "from_storage_mode", "to_storage_mode"}


class _Recorder:
    """Keeps the tests of the chosen modes and writes what became of each, with its mode."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.modes = set(config.getoption("storage_modes").split(","))
        self.outcomes: dict[str, dict[str, str]] = {}
        self.deselected: list[str] = []

    @staticmethod
    def mode_of(item: pytest.Item) -> str | None:
        """The storage mode a test runs in: the one its storage parameters name, else None."""
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec else {}
        named = {v for k, v in params.items() if k in _STORAGE_PARAMS}
        return named.pop() if len(named) == 1 else None

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        drop = [item for item in items if self.mode_of(item) not in self.modes]
        if drop:
            self.config.hook.pytest_deselected(items=drop)
            items[:] = [item for item in items if self.mode_of(item) in self.modes]

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.deselected.extend(item.nodeid for item in items)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            self.outcomes[item.nodeid] = {"mode": str(self.mode_of(item)), "outcome": "not run"}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        entry = self.outcomes.get(report.nodeid)
        if entry is None:
            return
        if report.when == "call":
            entry["outcome"] = report.outcome
        elif report.failed:
            entry["outcome"] = "error"  # in setup or teardown, where the store is checked
        elif report.skipped:
            entry["outcome"] = "skipped"

    def pytest_sessionfinish(self) -> None:
        tests = [{"nodeid": nodeid, **entry} for nodeid, entry in self.outcomes.items()]
        result = {"tests": tests, "deselected": self.deselected}
        Path(self.config.getoption("outcomes_json")).write_text(json.dumps(result, indent=1))
