"""The study store (``search/core/_store.py``): the driver's writer, and readers that never write.

Optuna's own storage tests run against the writer: they come from the sdist of the installed
Optuna, downloaded from PyPI once per version into pytest's cache (``.pytest_cache/d/``), and run
in a subprocess with the plugin in ``optuna_suite/``; no Optuna test code is kept here.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import pickle
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import cloudpickle
import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.storages.journal import JournalFileBackend

from search.core._store import ReadOnlyStore, open_store, read_store
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


# --- readers that open the journal while the driver writes it ------------------------------------

RANK = {"WAITING": 0, "RUNNING": 1}  # a finished state ranks 2: states only move forward


def objective(params: dict[str, Any]) -> float:
    """The value a stress trial's params give, so a reader can check values against params."""
    return params["x"] ** 2 + sum(v for k, v in params.items() if k.startswith("n"))


def write_history(folder: str, trials: int, seed: int) -> None:
    """The driver's side: a study written through ``open_store``; prints what it wrote."""
    import random

    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_store(Path(folder))
    journal_fd = storage._backend._fd
    written, real_write = hashlib.sha256(), os.write
    size = 0

    def recording_write(fd: int, data: bytes) -> int:
        nonlocal size
        n = real_write(fd, data)
        if fd == journal_fd:
            written.update(data[:n])
            size += n
        return n

    os.write = recording_write  # this process only: every byte that goes to the journal
    study = optuna.create_study(
        study_name=STUDY, storage=storage, sampler=optuna.samplers.RandomSampler(seed)
    )
    study.set_user_attr("purpose", "stress")
    rng = random.Random(seed)
    for number in range(trials):
        if number % 7 == 0:  # a WAITING trial that the next ask makes RUNNING
            study.enqueue_trial({"x": rng.uniform(-1.0, 1.0)})
        trial = study.ask()
        params = {"x": trial.suggest_float("x", -1.0, 1.0)}
        for k in range(rng.randrange(4)):  # one append per param: batches of varying count
            params[f"n{k}"] = trial.suggest_int(f"n{k}", 0, 10**k)
        if rng.random() < 0.5:
            params["c"] = trial.suggest_categorical("c", ["a", "bb", "ccc"])
        value = objective(params)
        for step in range(rng.randrange(6)):
            trial.report(value + step, step)
        size_of_note = rng.choices([0, 10, 1000, 100_000], weights=[30, 40, 25, 5])[0]
        trial.set_user_attr("note", f"{number}:" + "x" * size_of_note)  # lines of varying size
        outcome = rng.random()
        if outcome < 0.7:
            study.tell(trial, value)
        elif outcome < 0.85:
            study.tell(trial, state=TrialState.PRUNED)
        else:
            study.tell(trial, state=TrialState.FAIL)
        time.sleep(0.005)  # a driver waits for its trials: the readers get in
    final = storage.get_all_trials(study._study_id, deepcopy=False)
    states = Counter(t.state.name for t in final)
    print(json.dumps({"sha256": written.hexdigest(), "size": size, "digest": digest(final),
                      "trials": len(final), "states": states}))  # fmt: skip


def digest(trials: list[optuna.trial.FrozenTrial]) -> str:
    return hashlib.sha256("\n".join(map(repr, trials)).encode()).hexdigest()


def check_view(
    trials: list[optuna.trial.FrozenTrial], before: list[optuna.trial.FrozenTrial]
) -> None:
    """A view is whole (numbers contiguous, values of its own params) and no older than before."""
    assert [t.number for t in trials] == list(range(len(trials)))
    assert len(trials) >= len(before)
    for t in trials:
        assert t.user_attrs.get("note", f"{t.number}:").startswith(f"{t.number}:")
        for step, value in t.intermediate_values.items():
            assert value == objective(t.params) + step, (t.number, step)
        if t.state.name == "COMPLETE":
            assert t.values == [objective(t.params)], t.number
    for old, new in zip(before, trials, strict=False):
        assert RANK.get(new.state.name, 2) >= RANK.get(old.state.name, 2), (old, new)
        if old.state.is_finished():
            assert (new.state, new.values) == (old.state, old.values), (old, new)
        assert old.params.items() <= new.params.items(), (old, new)
        assert old.intermediate_values.items() <= new.intermediate_values.items(), (old, new)
        assert old.user_attrs.items() <= new.user_attrs.items(), (old, new)


def follow(path: str, ready: str, done: str, fresh: bool) -> None:
    """A reader: ``read_store`` opened anew for every view (``fresh``) or once and followed.

    Checks each view as it comes, and prints every view's byte offset and digest for the test
    to compare with the final file; any exception ends the process with its traceback.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = read_store(Path(path))
    views: list[tuple[int, str]] = []
    before: list[optuna.trial.FrozenTrial] = []
    Path(ready).touch()
    last, kept = False, 0.0
    while not last:
        last = os.path.exists(done)  # one more view after the writer is done: the final one
        if fresh:
            storage = read_store(Path(path))
        studies = storage.get_all_studies()
        if studies:
            trials = storage.get_all_trials(studies[0]._study_id, deepcopy=False)
            offset = storage._backend._offset  # how much of the file this view has read
            check_view(trials, before)
            # every view is checked; one in 10 ms is kept for the test (a digest reprs them all)
            if (not views or views[-1][0] != offset) and (last or time.monotonic() > kept + 0.01):
                views.append((offset, digest(trials)))
                kept = time.monotonic()
            before = trials
        time.sleep(0.01 if fresh else 0)  # the follower reads as fast as it can
    print(json.dumps(views))


def replayed_digests(data: bytes, offsets: set[int]) -> dict[int, str]:
    """The trials that the first ``offset`` bytes of a journal replay to, for each offset."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import BaseJournalBackend

    class Lines(BaseJournalBackend):
        def __init__(self) -> None:
            self.logs: list[dict[str, Any]] = []

        def read_logs(self, log_number_from: int) -> list[dict[str, Any]]:
            return self.logs[log_number_from:]

        def append_logs(self, logs: list[dict[str, Any]]) -> None:
            raise AssertionError("replaying only")

    lines = Lines()
    storage = JournalStorage(lines)
    found, start = {}, 0
    for offset in sorted(offsets):
        assert offset == 0 or data[offset - 1 : offset] == b"\n", f"offset {offset} cuts a line"
        lines.logs.extend(json.loads(line) for line in data[start:offset].splitlines())
        start = offset
        studies = storage.get_all_studies()
        trials = storage.get_all_trials(studies[0]._study_id, deepcopy=False) if studies else []
        found[offset] = digest(trials)
    return found


def python(code: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE)])}
    return subprocess.Popen(
        [sys.executable, "-c", f"import test_store as t; {code}"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_readers_opening_during_writes_see_whole_prefixes_and_write_nothing(
    tmp_path: Path,
) -> None:
    path, done = tmp_path / "study.journal", tmp_path / "done"
    ready = [tmp_path / f"ready-{i}" for i in range(3)]
    readers = [
        python(f"t.follow({str(path)!r}, {str(flag)!r}, {str(done)!r}, fresh={fresh})")
        for flag, fresh in zip(ready, (True, True, False), strict=True)
    ]
    writer = None
    try:
        deadline = time.monotonic() + 60
        while not all(flag.exists() for flag in ready):  # the readers are up before the study
            assert time.monotonic() < deadline and all(r.poll() is None for r in readers)
            time.sleep(0.05)
        writer = python(f"t.write_history({str(tmp_path)!r}, trials=400, seed=3)")
        out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err[-5000:]
        wrote = json.loads(out)
        done.touch()
        views = []
        for reader in readers:
            out, err = reader.communicate(timeout=60)
            assert reader.returncode == 0, err[-5000:]  # no exception, no failed check
            views.append([tuple(view) for view in json.loads(out)])
    finally:
        for proc in [*readers, writer]:
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()

    # the file is exactly what the writer wrote: the readers wrote nothing
    data = path.read_bytes()
    assert (len(data), hashlib.sha256(data).hexdigest()) == (wrote["size"], wrote["sha256"])
    assert wrote["trials"] == 400  # an enqueued trial is the one the next ask runs
    assert set(wrote["states"]) == {"COMPLETE", "PRUNED", "FAIL"}

    # every view any reader got is what a prefix of the final file replays to
    replayed = replayed_digests(data, {offset for seen in views for offset, _ in seen})
    for seen in views:
        assert all(replayed[offset] == got for offset, got in seen)
        assert seen[-1] == (len(data), wrote["digest"])  # and the last one is the whole file
        assert len([offset for offset, _ in seen if 0 < offset < len(data)]) >= 3  # mid-write

    # Optuna's own reader reads exactly the writer's trials
    assert digest(optuna_reads(path)) == wrote["digest"]


# --- a line being written, a line torn by a crash -----------------------------------------------


def values(storage: Any) -> list[float]:
    """The values of the study's trials, as a store answers them."""
    study = optuna.load_study(study_name=STUDY, storage=storage)
    return [t.value for t in study.get_trials(deepcopy=False)]


def next_line(folder: Path, value: float) -> bytes:
    """The line the writer of ``folder`` would append for a trial of ``value`` (found on a copy)."""
    import shutil

    copy_of = folder.parent / f"{folder.name}-next"
    shutil.copytree(folder, copy_of)
    add_trials(optuna.load_study(study_name=STUDY, storage=open_store(copy_of)), [value])
    before = (folder / "study.journal").read_bytes()
    after = (copy_of / "study.journal").read_bytes()
    assert after.startswith(before) and after.count(b"\n") == before.count(b"\n") + 1
    return after[len(before) :]


def written_study(folder: Path, trial_values: list[float]) -> Path:
    """A study of trials of ``trial_values`` written by the driver's writer; its journal's path."""
    folder.mkdir(exist_ok=True)  # run_lock makes it, before the driver opens the store
    add_trials(optuna.create_study(study_name=STUDY, storage=open_store(folder)), trial_values)
    return folder / "study.journal"


def test_a_reader_leaves_a_line_still_being_written_for_its_next_read(tmp_path: Path) -> None:
    folder = tmp_path / "study"
    path = written_study(folder, [1.0, 2.0])
    follower = read_store(path)
    assert values(follower) == [1.0, 2.0]
    line = next_line(folder, 3.0)
    with open(path, "ab") as f:  # a write in progress, as a reader may catch it: half a line
        f.write(line[: len(line) // 2])
    assert values(follower) == values(read_store(path)) == [1.0, 2.0]
    assert values(optuna.storages.JournalStorage(JournalFileBackend(str(path)))) == [1.0, 2.0]
    with open(path, "ab") as f:
        f.write(line[len(line) // 2 :])
    assert values(follower) == values(read_store(path)) == [1.0, 2.0, 3.0]


def test_a_torn_tail_is_skipped_by_readers_and_cut_by_the_next_writer(tmp_path: Path) -> None:
    folder = tmp_path / "study"
    path = written_study(folder, [1.0, 2.0])
    whole = path.read_bytes()
    follower = read_store(path)  # a dashboard, open across the crash and the next run
    assert values(follower) == [1.0, 2.0]
    torn = next_line(folder, 3.0)[:-20]  # the machine went down in the middle of a write
    with open(path, "ab") as f:
        f.write(torn)

    # readers skip the torn line and repair nothing
    assert values(follower) == values(read_store(path)) == [1.0, 2.0]
    assert values(optuna.storages.JournalStorage(JournalFileBackend(str(path)))) == [1.0, 2.0]
    assert path.read_bytes() == whole + torn

    # the next run's driver cuts it, losing nothing complete, and writes on
    study = optuna.load_study(study_name=STUDY, storage=open_store(folder))
    assert path.read_bytes() == whole
    add_trials(study, [4.0])
    assert path.read_bytes().startswith(whole) and path.read_bytes().endswith(b"\n")
    assert values(follower) == values(read_store(path)) == [1.0, 2.0, 4.0]
    assert [t.value for t in optuna_reads(path)] == [1.0, 2.0, 4.0]


def test_a_torn_first_line_leaves_an_empty_store(tmp_path: Path) -> None:
    path = tmp_path / "study.journal"
    path.write_bytes(b'{"op_code":0,"worker_id":"w","study_name":"st')
    assert read_store(path).get_all_studies() == []
    add_trials(optuna.create_study(study_name=STUDY, storage=open_store(tmp_path)), [5.0])
    assert path.read_bytes().startswith(b'{"op_code":0,')
    assert [t.value for t in optuna_reads(path)] == [5.0]


# --- readers never write -------------------------------------------------------------------------


def test_read_store_never_creates_a_missing_store_and_follows_it_once_written(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "study"
    path = folder / "study.journal"
    reader = read_store(path)
    assert reader.get_all_studies() == []
    with pytest.raises(ReadOnlyStore, match=re.escape(f"{path}: opened read-only")):
        optuna.create_study(study_name=STUDY, storage=reader)
    assert not folder.exists()  # neither the file nor its folder
    folder.mkdir()
    written_study(folder, [1.0])  # the driver starts; the reader opened before sees its trials
    assert values(reader) == [1.0]


def test_read_store_never_truncates_or_appends(tmp_path: Path) -> None:
    from optuna.trial import TrialState

    path = written_study(tmp_path, [1.0, 2.0])
    storage = open_store(tmp_path)
    optuna.load_study(study_name=STUDY, storage=storage).set_user_attr("owner", "driver")
    del storage
    with open(path, "ab") as f:  # and a torn tail, which only the driver may cut
        f.write(b'{"op_code":4,"worker_id":"w","study_id":0,"datet')
    before, stat = path.read_bytes(), path.stat()

    reader = read_store(path)
    study = optuna.load_study(study_name=STUDY, storage=reader)
    trial_id = study.trials[0]._trial_id
    attempts = {
        "create a study": lambda: optuna.create_study(study_name="other", storage=reader),
        "delete the study": lambda: reader.delete_study(study._study_id),
        "set a study attr": lambda: study.set_user_attr("owner", "reader"),
        "ask a trial": lambda: study.ask(),
        "add a trial": lambda: add_trials(study, [3.0]),
        "enqueue a trial": lambda: study.enqueue_trial({"x": 0.5}),
        "set a trial attr": lambda: reader.set_trial_user_attr(trial_id, "k", 1),
        "change a state": lambda: reader.set_trial_state_values(trial_id, TrialState.FAIL),
    }
    refused = {}
    for name, attempt in attempts.items():
        with pytest.raises(ReadOnlyStore) as caught:
            attempt()
        refused[name] = str(caught.value)
    assert set(refused.values()) == {
        f"{path}: opened read-only; only the run's driver writes it"
    }  # fmt: skip

    after = path.stat()
    assert path.read_bytes() == before
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        stat.st_ino, stat.st_size, stat.st_mtime_ns
    )  # fmt: skip
    # and the refused writes left the reader's view as the file has it
    assert values(reader) == [1.0, 2.0]
    assert optuna.load_study(study_name=STUDY, storage=reader).user_attrs == {"owner": "driver"}
    assert [s.study_name for s in reader.get_all_studies()] == [STUDY]
