"""The study store (``search/core/_store.py``): the driver's writer, and readers that never write.

Optuna's own storage tests run against the writer: they come from the sdist of the installed
Optuna, downloaded from PyPI once per version into pytest's cache (``.pytest_cache/d/``), and run
in a subprocess with the plugin in ``optuna_suite/``; no Optuna test code is kept here.
"""

from __future__ import annotations

import copy
import json
import os
import pickle
import re
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import cloudpickle
import optuna
import pytest
from optuna.distributions import FloatDistribution

from search.core._store import open_store
from tests.conftest import ROOT

HERE = Path(__file__).resolve().parent
STUDY = "stress"


def optuna_reads(path: Path, name: str = STUDY) -> list[optuna.trial.FrozenTrial]:
    """The trials of study ``name`` in the journal at ``path``, read by Optuna's own file backend."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(path)))
    return optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)


def add_trials(study: optuna.Study, values: list[float]) -> None:
    for value in values:
        study.add_trial(
            optuna.trial.create_trial(
                params={"x": value / 10},
                distributions={"x": FloatDistribution(0.0, 1.0)},
                value=value,
            )
        )


@pytest.mark.parametrize(
    "duplicate",
    [pickle.dumps, cloudpickle.dumps, copy.deepcopy],
    ids=["pickle", "cloudpickle", "deepcopy"],
)
def test_the_writer_refuses_to_be_pickled_or_copied(tmp_path: Path, duplicate: Any) -> None:
    # A copy of the writer (say, in an objective the driver pickles for its workers) held the
    # writer's file descriptor by number; collected, it closed it, and the driver's next
    # appends went to whatever file took that number next, lost from the journal.
    storage = open_store(tmp_path)
    study = optuna.create_study(study_name=STUDY, storage=storage)
    with pytest.raises(TypeError, match="the study store's writer cannot be pickled or copied"):
        duplicate(storage)
    add_trials(study, [1.0, 2.0])
    assert [t.value for t in optuna_reads(tmp_path / "study.journal")] == [1.0, 2.0]


# --- Optuna's own storage tests ------------------------------------------------------------------

MODE = "search_journal"  # the storage mode optuna_suite/search_store_mode.py adds
OPTUNA_SUITE = [
    "tests/storages_tests/test_storages.py",  # the storage API, call by call
    # studies and trials over each storage mode: ask, tell, enqueue, optimize, copy, dataframes
    "tests/study_tests/test_study.py",
    "tests/study_tests/test_optimize.py",
    "tests/study_tests/test_dataframe.py",
    "tests/trial_tests/test_trial.py",
    "tests/trial_tests/test_frozen.py",
]
NOT_FOR_ONE_WRITER = [
    # Pickles the storage and reads through the copy. The writer refuses to be pickled: a copy
    # would be a second writer of the file (test_the_writer_refuses_to_be_pickled_or_copied).
    "tests/storages_tests/test_storages.py::TestStorage::test_pickle_storage[search_journal]",
]


def optuna_sdist(config: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist of the installed Optuna, from pytest's cache or downloaded from PyPI.

    Without PyPI the Optuna suite is skipped, except in CI (``CI`` set), where it must run.
    """
    version = optuna.__version__
    cache = getattr(config, "cache", None)  # None under -p no:cacheprovider
    folder = (
        cache.mkdir(f"optuna-sdist-{version}")
        if cache is not None
        else tmp_path_factory.mktemp("optuna-sdist")
    )
    sdist = folder / f"optuna-{version}.tar.gz"
    if sdist.is_file():
        return sdist
    with tempfile.TemporaryDirectory(dir=folder) as download:
        pip = subprocess.run(
            [sys.executable, "-m", "pip", "download", f"optuna=={version}", "--no-binary",
             ":all:", "--no-deps", "--disable-pip-version-check", "--timeout", "20",
             "--retries", "1", "-d", download],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        found = sorted(Path(download).glob("*.tar.gz"))
        if pip.returncode != 0 or len(found) != 1:
            why = (pip.stderr.strip().splitlines() or [f"pip exited {pip.returncode}"])[-1]
            message = f"cannot download the sdist of optuna=={version} from PyPI: {why}"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        os.replace(found[0], sdist)  # whole, or not at all
    return sdist


@pytest.fixture(scope="session")
def optuna_tests(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Optuna's tests of the installed version, the folders OPTUNA_SUITE needs, extracted afresh."""
    sdist = optuna_sdist(request.config, tmp_path_factory)
    target = tmp_path_factory.mktemp("optuna-tests")
    top = f"optuna-{optuna.__version__}/"
    wanted = {"pyproject.toml", "tests/__init__.py", "tests/conftest.py"}  # pytest setup
    folders = tuple(str(Path(test).parent) + "/" for test in OPTUNA_SUITE)
    with tarfile.open(sdist) as tar:
        members = []
        for member in tar.getmembers():
            name = member.name.removeprefix(top)
            if name in wanted or name.startswith(folders):
                member.name = name
                members.append(member)
        tar.extractall(target, members=members, filter="data")
    missing = [test for test in OPTUNA_SUITE if not (target / test).is_file()]
    assert not missing, f"{sdist} lacks {missing}"
    return target


@pytest.mark.slow
def test_optuna_storage_tests_pass_on_the_writer(optuna_tests: Path, tmp_path: Path) -> None:
    outcomes_json = tmp_path / "outcomes.json"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE / "optuna_suite")]),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *OPTUNA_SUITE, "-p", "search_store_mode",
         f"--storage-modes={MODE},journal", f"--outcomes-json={outcomes_json}",
         *(f"--deselect={name}" for name in NOT_FOR_ONE_WRITER),
         "-p", "no:cacheprovider", "-q", "--color=no"],
        cwd=optuna_tests, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    result = json.loads(outcomes_json.read_text())
    ours = {t["nodeid"]: t["outcome"] for t in result["tests"] if t["mode"] == MODE}
    theirs = {t["nodeid"]: t["outcome"] for t in result["tests"] if t["mode"] == "journal"}
    assert set(result["deselected"]) >= set(NOT_FOR_ONE_WRITER)  # the names are still Optuna's

    # the same tests, with the same outcomes, as Optuna's own journal file storage
    as_theirs = {name.replace(MODE, "journal"): outcome for name, outcome in ours.items()}
    skipped = {name.replace(MODE, "journal") for name in NOT_FOR_ONE_WRITER}
    assert as_theirs == {name: out for name, out in theirs.items() if name not in skipped}
    summary = Counter(
        {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", proc.stdout.splitlines()[-1])}
    )
    assert summary["passed"] == Counter([*ours.values(), *theirs.values()])["passed"]
    assert Counter(ours.values())["passed"] >= 150  # Optuna 5.0.0: 162 of 163
    storage_api = [name for name in ours if name.startswith(OPTUNA_SUITE[0])]
    assert len(storage_api) >= 50  # Optuna 5.0.0: 58 of its 59 storage tests
