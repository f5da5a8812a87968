"""``study.json``: what a study is, written at start and updated; and the resume check."""

from __future__ import annotations

import platform
import re
import sys
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.core._auto import given
from search.core._errors import UserError
from search.core._folder import STUDY_JSON, now, read_record, write_json
from search.core._keyed import keyed, matches, sha256_of, study_file_context
from search.core._strategies import strategy_record
from search.core._studyfile import STUDY_MODULE

if TYPE_CHECKING:
    from search.core._prepare import Prepared

#: fields that must match for ``--resume`` to continue a study
RESUME_KEYS = (
    "metric", "direction", "directions", "constraints", "space", "objective", "data", "seed",
    "fingerprints",
)
#: the fields that say which study file the study runs (a resume records the file it ran)
STUDY_FILE_KEYS = ("study_file", "study_file_sha256", "study_file_key")
_PACKAGES = ("search", "optuna", "scikit-learn", "numpy", "pandas", "imbalanced-learn")


def study_record(prep: Prepared, *, backend: str, argv: list[str]) -> dict[str, Any]:
    """The ``study.json`` content for a run starting now."""
    study, parts = prep.study, prep.parts
    return {
        "name": study.name,
        "study_file": str(prep.study_file.resolve()) if prep.study_file else None,
        **_study_file_digests(prep.study_file),
        "metric": _metric_names(parts.metric),
        "direction": parts.direction,
        **({"directions": dict(parts.goals.directions)} if parts.goals.multi else {}),
        "constraints": [str(c) for c in parts.goals.constraints],
        "pick": str(parts.goals.pick) if parts.goals.pick else None,
        "space": parts.space.to_dict(),
        "objective": _in_study_file(parts.objective.describe()),
        "data": study.data.describe() if study.data else None,
        "seed": prep.seed,
        "seed_given": study.seed is not None,
        "sampler": (prep.choice or given(study.sampler)).to_dict(),
        "pruner": strategy_record(study.pruner),
        "backend": backend,
        "workers": study.workers,
        "trials": study.trials,
        "timeout": study.timeout,
        "fingerprints": prep.split.fingerprints() if prep.split else None,
        "leak_checks": [finding.to_dict() for finding in prep.leaks],
        "versions": versions(),
        "command": [Path(sys.executable).name, "-m", "search", *argv],
        "created_at": now(),
        "updated_at": now(),
        "status": "running",
        "runs": [],
    }


def _metric_names(metric: Any) -> Any:
    """The metric's name, the names of several, or ``None`` for a plain function."""
    if metric is None:
        return None
    if isinstance(metric, tuple):
        return [m.name for m in metric]
    return metric.name


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def check_resume(stored: dict[str, Any], fresh: dict[str, Any], directory: Path) -> None:
    """Refuse to resume when the study on disk is not the study being run."""
    import json

    for key in RESUME_KEYS:
        old, new = _in_study_file(stored.get(key)), fresh.get(key)
        if json.dumps(old, sort_keys=True, default=str) != json.dumps(
            new, sort_keys=True, default=str
        ):
            raise UserError(
                f"{directory / STUDY_JSON}: cannot resume: the study's {key} differs from the "
                f"stored one (stored {_short(old)}, now {_short(new)}); use another name or "
                "--results folder for a different study"
            )


#: the names of the module a study file runs as: ``__main__`` for a run, the module name
#: ``final`` loads it under (no ``__main__`` block runs there)
_FILE_MODULES = re.compile(rf"^(__main__|{STUDY_MODULE})\.")


def _in_study_file(value: Any) -> Any:
    """A description with the study file's own names written alike, however the file ran:
    ``study_file.evaluate`` (so ``final`` and ``--resume`` compare what the first run wrote)."""
    if isinstance(value, str):
        return _FILE_MODULES.sub("study_file.", value)
    if isinstance(value, dict):
        return {k: _in_study_file(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_in_study_file(v) for v in value]
    return value


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def update_record(directory: Path, **changes: Any) -> dict[str, Any]:
    """Merge ``changes`` into ``study.json`` and stamp ``updated_at``."""
    path = directory / STUDY_JSON
    record = read_record(path)
    record.update(changes)
    record["updated_at"] = now()
    write_json(path, record)
    return record


def _study_file_digests(path: Path | None) -> dict[str, str | None]:
    """``study.json``'s ``study_file_sha256`` and ``study_file_key`` (the sha256 under this
    user's key, bound to the file's resolved path: see :mod:`search.core._keyed`)."""
    if path is None:
        return {"study_file_sha256": None, "study_file_key": None}
    sha256 = sha256_of(path)
    return {"study_file_sha256": sha256, "study_file_key": keyed(study_file_context(path), sha256)}


def check_study_file(
    stored: dict[str, Any], study_file: Path, directory: Path, *, named: bool = True
) -> None:
    """Refuse a study file that is not the one the study was run with.

    A results folder is data: ``final`` and ``--resume`` must not run other code than the
    user ran, even if ``study.json`` names another file or the file was changed since. A file
    the user ``named`` on the command line runs because they named it, unless it changed since
    (its sha256 differs from the record); a file named only by ``study.json`` runs only while
    its keyed digest verifies, which the folder alone cannot forge.
    """
    found = sha256_of(study_file) if study_file.is_file() else None
    if found is not None and matches(study_file_context(study_file), found,
                                     stored.get("study_file_key")):
        return
    record = directory / STUDY_JSON
    go_on = "" if named else (
        f"; name the study file to run: python -m search final {directory} STUDY_FILE")
    if not named and not stored.get("study_file_key"):
        raise UserError(f"{record}: records no keyed digest of its study file ({study_file}): "
                        "a results folder cannot vouch for the code it names, so final will "
                        f"not run it{go_on}")
    if found is None:
        raise UserError(f"{study_file}: the study file of {directory} is gone{go_on}")
    recorded = stored.get("study_file_sha256")
    if recorded is not None and found != recorded:
        raise UserError(
            f"{study_file}: the study file changed since {record} recorded it "
            f"(sha256 {str(recorded)[:12]}...); restore it, or run the changed study under "
            "another name (flags such as --trials override the file without editing it)"
        )
    if not named:
        raise UserError(f"{study_file}: {record}'s keyed digest of it does not verify (written "
                        f"by another user or key, or edited), so final will not run it{go_on}")


def has_test_set(record: dict[str, Any]) -> bool:
    """Whether the study ``record`` (``study.json``) describes has a test set: a study with no
    data (a function of the config, a plain Optuna script) records no ``fingerprints``."""
    return record.get("fingerprints") is not None
