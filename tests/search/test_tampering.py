"""A results folder never runs code by itself: ``final`` runs only the study file the user ran
(its digest under the user's key, kept outside RESULTS, verifies) or names, and a trial's files
and the final model are loaded only while their keyed digests verify. Each tampering below
plants a payload that would write a marker if it ran."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path
from typing import Any

import pytest

import search
from search.core._errors import UserError
from search.core._keyed import keyed, sha256_of, study_file_context, trial_file_context
from tests.conftest import run_cli

STUDY = '''
import pickle
from pathlib import Path

from sklearn.linear_model import LogisticRegression

from objectives import SklearnObjective
from search import Data, Study
from spaces import Float, Space


class Kept(SklearnObjective):
    """Keeps a pickle in each trial's folder, which the final fit loads again."""

    def evaluate(self, config, data, trial, metric):
        score = super().evaluate(config, data, trial, metric)
        (Path(trial.artifact_dir) / "kept.pkl").write_bytes(pickle.dumps(config))
        return score

    def fit_final(self, config, data, seed, trial_dir=None):
        if trial_dir is not None:
            pickle.loads((Path(trial_dir) / "kept.pkl").read_bytes())
        return super().fit_final(config, data, seed, trial_dir)


study = Study(
    name="iris",
    data=Data("iris"),
    space=Space({"C": Float(1e-2, 1e2, log=True)}),
    objective=Kept(LogisticRegression(max_iter=300), folds=3),
    metric="accuracy",
    trials=3,
    seed=0,
)
'''


class Payload:
    """A pickle that writes ``marker`` when it is loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Any, ...]:
        return (exec, (f"open({self.marker!r}, 'w').write('ran')",))


@pytest.fixture(scope="module", autouse=True)
def config_home(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """This user's key lives here, for the runs and for this process."""
    home = tmp_path_factory.mktemp("config")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CONFIG_HOME", str(home))
        yield home


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory, config_home: Path) -> Path:
    """A study folder after a search with --no-final: every trial kept ``kept.pkl``."""
    root = tmp_path_factory.mktemp("searched")
    (root / "study.py").write_text(STUDY, encoding="utf-8")
    done = run_cli(root / "study.py", "--results", root / "results", "--no-final",
                   "--no-tracking", cwd=root)
    assert done.returncode == 0, done.stderr
    return root / "results" / "iris"


@pytest.fixture(scope="module")
def evaluated(searched: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the searched folder after ``final`` (the study file study.json names)."""
    folder = tmp_path_factory.mktemp("evaluated") / "iris"
    shutil.copytree(searched, folder)
    final = run_cli("final", folder, cwd=folder.parent)
    assert final.returncode == 0, final.stderr
    return folder


def copied(folder: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "results" / folder.name
    shutil.copytree(folder, copy)
    return copy


def other_users(config: Path, context: str, sha256: str) -> str:
    """The keyed digest another user (another key, under ``config``) would record."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CONFIG_HOME", str(config))
        return keyed(context, sha256)


def edit_json(path: Path, **changes: Any) -> None:
    record = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            record.pop(key, None)
        else:
            record[key] = value
    path.write_text(json.dumps(record))


def refused(result: Any) -> str:
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    return str(result.stderr)


def test_the_payload_runs_when_loaded(tmp_path):
    """The control: the payload the tests plant does write its marker when unpickled."""
    pickle.loads(pickle.dumps(Payload(tmp_path / "ran")))  # noqa: S301 - the test's own bytes
    assert (tmp_path / "ran").read_text() == "ran"


# --- (a) the study file final runs ---------------------------------------------------------------

PLANTS = ["key missing", "another user's key", "no key, plain sha256 forged",
          "the same bytes elsewhere"]


@pytest.mark.parametrize("plant", PLANTS)
def test_final_never_runs_a_study_file_the_folder_names(searched, tmp_path, plant):
    folder = copied(searched, tmp_path)
    marker = tmp_path / "planted-ran"
    planted = tmp_path / "elsewhere" / "study.py"
    planted.parent.mkdir()
    if plant == "the same bytes elsewhere":  # the real bytes, beside modules it would import
        shutil.copy(searched.parent.parent / "study.py", planted)
        changes: dict[str, Any] = {}
    else:
        planted.write_text(f"open({str(marker)!r}, 'w').write('ran')\n" + STUDY)
        sha = sha256_of(planted)
        changes = {
            "key missing": {"study_file_key": None, "study_file_sha256": None},
            "another user's key": {"study_file_key": other_users(
                tmp_path / "other", study_file_context(planted), sha), "study_file_sha256": sha},
            "no key, plain sha256 forged": {"study_file_key": None, "study_file_sha256": sha},
        }[plant]
    edit_json(folder / "study.json", study_file=str(planted), **changes)
    text = refused(run_cli("final", folder, cwd=tmp_path))
    assert f"python -m search final {folder} STUDY_FILE" in text
    assert not marker.exists() and not (folder / "final.json").exists()


def test_final_runs_the_study_file_the_user_names(searched, tmp_path):
    folder = copied(searched, tmp_path)
    edit_json(folder / "study.json", study_file=str(tmp_path / "planted.py"),
              study_file_key=None)
    refused(run_cli("final", folder, cwd=tmp_path))
    named = run_cli("final", folder, searched.parent.parent / "study.py", cwd=tmp_path)
    assert named.returncode == 0, named.stderr
    assert json.loads((folder / "final.json").read_text())["status"] == "evaluated"


def test_a_named_study_file_that_changed_is_still_refused(searched, tmp_path):
    folder = copied(searched, tmp_path)
    changed = tmp_path / "study.py"
    changed.write_text(STUDY + "\nprint('added later')\n")
    text = refused(run_cli("final", folder, changed, cwd=tmp_path))
    assert f"{changed}: the study file changed since" in text
    assert not (folder / "final.json").exists()


def test_resume_runs_the_named_file_whose_record_another_user_signed(searched, tmp_path):
    """``--resume`` runs the file the user names: a record signed under another key (a
    colleague's folder) does not stop it while the file's sha256 is the recorded one."""
    folder = copied(searched, tmp_path)
    study = searched.parent.parent / "study.py"
    edit_json(folder / "study.json", study_file_key=other_users(
        tmp_path / "other", study_file_context(study), sha256_of(study)))
    resumed = run_cli(study, "--results", folder.parent, "--resume", "--no-final",
                      "--no-tracking", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr


# --- (b) a trial's files final loads -------------------------------------------------------------

TRIAL_PLANTS = ["file only", "journal digest: plain sha256", "journal digest: another user's key",
                "journal digest: removed"]


def _rewrite_journal(folder: Path, number: int, how: str, sha: str) -> None:
    """Rewrite trial ``number``'s recorded digest of kept.pkl in the journal, and drop the
    journal's ledger from study.json (as someone who can write the folder could)."""
    journal = folder / "study.journal"
    lines = journal.read_text().splitlines(keepends=True)
    at = [i for i, line in enumerate(lines) if '"search:files"' in line
          and json.loads(line)["trial_id"] == number]
    assert len(at) == 1
    entry = json.loads(lines[at[0]])
    if how == "journal digest: removed":
        del lines[at[0]]
    else:
        entry["system_attr"]["search:files"]["kept.pkl"] = sha if how.endswith("sha256") else (
            other_users(folder.parent / "other", trial_file_context(number, "kept.pkl"), sha))
        lines[at[0]] = json.dumps(entry) + "\n"
    journal.write_text("".join(lines))
    edit_json(folder / "study.json", journal=None)


@pytest.mark.parametrize("how", TRIAL_PLANTS)
def test_final_never_loads_a_trial_file_that_was_replaced(searched, tmp_path, how):
    folder = copied(searched, tmp_path)
    number = json.loads((folder / "best.json").read_text())["number"]
    kept = folder / "trials" / f"trial_{number:05d}" / "kept.pkl"
    marker = tmp_path / "trial-file-ran"
    kept.write_bytes(pickle.dumps(Payload(marker)))
    if how != "file only":
        _rewrite_journal(folder, number, how, sha256_of(kept))
    text = refused(run_cli("final", folder, cwd=tmp_path))
    assert f"{kept}: " in text and "not loaded" in text
    assert not marker.exists() and not (folder / "final.json").exists()


# --- (c) the final model search.load loads -------------------------------------------------------

MODEL_PLANTS = ["file only", "digest: plain sha256", "digest: another user's key",
                "digests removed", "an unlisted file"]


def test_the_untouched_model_loads(evaluated, tmp_path):
    model = search.load(copied(evaluated, tmp_path)).model()
    assert hasattr(model, "predict")


@pytest.mark.parametrize("how", MODEL_PLANTS)
def test_search_load_never_loads_a_model_that_was_replaced(evaluated, tmp_path, how):
    import joblib

    folder = copied(evaluated, tmp_path)
    marker = tmp_path / "model-ran"
    target = folder / "model" / ("extra.joblib" if how == "an unlisted file" else "model.joblib")
    joblib.dump(Payload(marker), target)
    digests = json.loads((folder / "final.json").read_text())["model_digests"]
    sha = sha256_of(target)
    if how == "digest: plain sha256":
        digests["model/model.joblib"] = sha
    elif how == "digest: another user's key":
        digests["model/model.joblib"] = other_users(tmp_path / "other", "model:model/model.joblib",
                                                    sha)
    edit_json(folder / "final.json", model_digests=None if how == "digests removed" else digests)
    with pytest.raises(UserError, match="not loaded"):
        search.load(folder).model()
    assert not marker.exists()
