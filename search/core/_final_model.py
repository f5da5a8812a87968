"""The final model on disk: saved whole before the test set is opened, its files' keyed digests
recorded in ``final.json`` at the opening, and checked before a later ``final`` scores it.

A worker on the driver's machine writes the model into a temporary folder beside ``model/``
(the objective's ``save_model`` is the user's code: it runs in a worker, never in the driver
before the opening), which is renamed into place, so a kill or a full disk never leaves half a
``model/``; a model that cannot be saved keeps the test set sealed. The digests are
:func:`~search.core._keyed.keyed` (``model:model/model.joblib``), so a file replaced in the
folder, or a digest rewritten in ``final.json``, does not verify.
"""

from __future__ import annotations

import secrets
import shutil
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from search.core._errors import UserError, writing
from search.core._folder import INPUT_EXAMPLE, MODEL_DIR
from search.core._keyed import keyed, matches, sha256_of


def write_model(objective: Any, model: Any, data: Any, folder: Path) -> tuple[bytes, list[str]]:
    """In a worker: save ``model`` into ``folder`` with the objective's own ``save_model`` and
    a few raw development rows beside it; the model as saved (it takes array rows when the
    data were arrays), pickled for the driver to score, and its files, relative to ``folder``,
    as the objective listed them."""
    from objectives import accept_array_rows
    from search.core._studyfile import STUDY_MODULE

    model = accept_array_rows(objective, model, data)  # scored as it is saved
    payload, used = _pickled(model, STUDY_MODULE)
    with _study_file_by_name(STUDY_MODULE, used):
        saved = list(objective.save_model(model, folder))
    saved.append(_input_example(data.X, folder))
    return payload, [Path(p).relative_to(folder).as_posix() for p in saved]


def _pickled(model: Any, module: str) -> tuple[bytes, dict[str, Any]]:
    """``model`` pickled by cloudpickle, and the classes and functions of ``module`` that the
    pickling met, by qualified name (cloudpickle pickles them by value: it needs no module)."""
    import io

    import cloudpickle

    used: dict[str, Any] = {}

    class Recorder(cloudpickle.CloudPickler):
        def reducer_override(self, obj: Any) -> Any:
            for candidate in (obj, type(obj)):
                if isinstance(candidate, (type, types.FunctionType)) and getattr(
                        candidate, "__module__", None) == module:
                    used.setdefault(candidate.__qualname__, candidate)
            return super().reducer_override(obj)

    buffer = io.BytesIO()
    Recorder(buffer).dump(model)
    return buffer.getvalue(), used


@contextmanager
def _study_file_by_name(module_name: str, used: dict[str, Any]) -> Iterator[None]:
    """While a worker saves the model: the study file's own classes and functions that the
    model ``used`` (they came with the task by value) are found under the module name they
    carry (``_search_study_file``), so a pickler such as joblib's saves them by reference, as
    ``final`` loads them."""
    if module_name in sys.modules:
        yield
        return

    def find(name: str) -> Any:
        if name in used:
            return used[name]
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")

    module = types.ModuleType(module_name)
    module.__getattr__ = find  # type: ignore[method-assign]
    sys.modules[module_name] = module
    try:
        yield
    finally:
        del sys.modules[module_name]


def model_folder(directory: Path) -> Path:
    """A new temporary folder beside ``model/`` for a worker to save the final model into
    (the leftovers of an evaluation killed while it saved are removed first)."""
    _remove_leftovers(directory)
    folder = directory / f".{MODEL_DIR}.{secrets.token_hex(4)}.tmp"
    with writing(folder):
        folder.mkdir()
    return folder


def install_model(folder: Path, directory: Path) -> dict[str, str]:
    """Rename the saved ``folder`` into place as ``directory/model/``, whole, and return its
    files' keyed digests. A ``model/`` already there is from an evaluation that never opened
    the test set (``final.json`` would exist otherwise), so it is replaced."""
    target, old = directory / MODEL_DIR, directory / f".{MODEL_DIR}.{folder.name}.old"
    try:
        with writing(target):
            if target.exists():
                target.rename(old)
            folder.rename(target)
    finally:
        shutil.rmtree(old, ignore_errors=True)
    return model_digests(directory)


def _input_example(X: Any, folder: Path) -> Path:
    """Keep a few raw development rows beside the model: the MLflow model's input example
    and signature (never test rows)."""
    path = folder / INPUT_EXAMPLE
    X.head(5).to_json(path, orient="split", index=False, date_format="iso", double_precision=15)
    return path


def _remove_leftovers(directory: Path) -> None:
    """Temporary model folders of an earlier evaluation killed while it saved."""
    for folder in directory.glob(f".{MODEL_DIR}.*"):
        if folder.is_dir() and folder.suffix in (".tmp", ".old"):
            shutil.rmtree(folder, ignore_errors=True)


def _files(directory: Path) -> dict[str, Path]:
    """Every file under ``directory/model/``, by its path relative to ``directory``."""
    folder = directory / MODEL_DIR
    if not folder.is_dir():
        return {}
    found = (p for p in sorted(folder.rglob("*")) if p.is_file() or p.is_symlink())
    return {p.relative_to(directory).as_posix(): p for p in found}


def model_digests(directory: Path) -> dict[str, str]:
    """``{"model/model.joblib": keyed digest}`` for every file of the saved model."""
    return {rel: keyed(f"model:{rel}", sha256_of(p)) for rel, p in _files(directory).items()}


def verify_model_digests(directory: Path, recorded: object) -> None:
    """Raise a :class:`UserError` naming the first file of ``directory/model/`` that is not the
    one the final evaluation saved (changed, missing, added, or recorded under another key)."""
    if not isinstance(recorded, dict) or not recorded:
        raise UserError(
            f"{directory}: final.json records no digests of the saved model, so it is not loaded"
        )
    found = _files(directory)
    for rel in sorted(set(recorded) | set(found)):
        if rel not in found:
            state = "is missing"
        elif rel not in recorded:
            state = "was not saved by the final evaluation"
        elif found[rel].is_symlink() or not matches(
            f"model:{rel}", sha256_of(found[rel]), recorded[rel]
        ):
            state = "changed (or was saved under another user's key)"
        else:
            continue
        raise UserError(
            f"{directory / rel}: {state} since the final evaluation saved the model (its keyed "
            "digest is in final.json); the model is not loaded"
        )


def load_saved_model(directory: Path) -> Any:
    """The saved final model, once its files verified (:func:`verify_model_digests`)."""
    from objectives import ObjectiveError, load_model

    folder = directory / MODEL_DIR
    try:
        return load_model(folder)
    except FileNotFoundError as exc:
        raise UserError(f"{folder}: incomplete, {Path(exc.filename or '').name} is missing") \
            from None
    except ObjectiveError as exc:
        raise UserError(str(exc)) from None
