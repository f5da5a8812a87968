"""Execute a study file and return the :class:`Study` it defines."""

from __future__ import annotations

import re
import sys
import traceback
import types
from pathlib import Path
from typing import Any

from search.core._errors import RunError, UserError
from search.core._study import Study

#: the module name a study file runs under (so its functions pickle by reference in workers)
STUDY_MODULE = "_search_study_file"
#: packages whose errors are already worded for the user (no exception class name needed)
_OURS = ("search", "spaces", "objectives")


def load_study_file(path: str | Path, **overrides: Any) -> Study:
    """Run the Python file at ``path`` as a module (its ``__main__`` block does not run) and
    return its module-level ``study``, with the run options in ``overrides`` (``None`` values
    keep the file's).

    A plain Optuna script (a module-level ``objective(trial)`` and no ``study``) becomes a study
    named after the file, with no data: ``--direction`` then says which way is better. Any
    exception while running the file is the user's: it becomes a :class:`UserError` naming the
    file and line, so the command line exits 2 with one line instead of a traceback.
    """
    file = Path(path)
    code = compile_file(file)
    module = types.ModuleType(STUDY_MODULE)
    module.__file__ = str(file.resolve())
    sys.modules[STUDY_MODULE] = module
    try:
        exec(code, module.__dict__)  # noqa: S102 - running the user's own study file is the point
    except Exception as exc:  # noqa: BLE001 - any failure of the file is the user's input
        raise user_error(file, exc) from None
    return study_from(module.__dict__, file, overrides)


def compile_file(file: Path) -> Any:
    """The code of the study file or script at ``file``; a :class:`UserError` if it is missing
    or is not Python."""
    if not file.is_file():
        raise UserError(f"{file}: study file not found")
    if file.suffix != ".py":
        raise UserError(f"{file}: a study file is a Python file ending in .py")
    source = file.read_text(encoding="utf-8")
    try:
        return compile(source, str(file), "exec")
    except SyntaxError as exc:
        raise UserError(f"{file}:{exc.lineno}: {exc.msg}") from None


def user_error(file: Path, exc: BaseException) -> UserError:
    """The one line that says where in ``file`` its code failed, and how."""
    own = isinstance(exc, UserError) or type(exc).__module__.split(".")[0] in _OURS
    worded = own and isinstance(exc, UserError | RunError | ValueError)
    prefix = "" if worded else f"{type(exc).__name__}: "
    return UserError(f"{file}:{_line_in(file, exc)}: {prefix}{_first_line(exc)}")


def study_from(namespace: dict[str, Any], file: Path, overrides: dict[str, Any],
               sweep: Any = None) -> Study:
    """The study a file defined once it ran: its ``study``, or a plain Optuna script's; a W&B
    ``sweep`` (:class:`spaces.WandbSweep`) sets what the study leaves to it; flags win."""
    study = namespace.get("study")
    if study is None:
        study = _script_study(file, namespace.get("objective"), overrides, sweep)
    elif not isinstance(study, Study):
        raise UserError(
            f"{file}: `study` must be a search.Study, but it is a {type(study).__name__}"
        )
    if sweep is not None:
        from search.core._sweep import with_sweep

        study = with_sweep(study, sweep, file)
    return study.with_overrides(**overrides)


def _script_study(file: Path, objective: Any, overrides: dict[str, Any], sweep: Any) -> Study:
    """The study of a plain Optuna script: its ``objective(trial)``, named after the file (or
    an objective of the config, with a sweep's space)."""
    if not callable(objective):
        raise UserError(
            f"{file}: defines no `study` (and no `objective(trial)` function); add "
            "`study = search.Study(...)`"
        )
    goals: dict[str, Any] = {"direction": "maximize"}  # until --direction says which
    if sweep is not None and sweep.metric is not None:
        goals = {"directions": {sweep.metric: sweep.goal or "minimize"}}
    elif overrides.get("direction") is None and overrides.get("directions") is None:
        raise UserError(
            f"{file}: defines objective(trial) and no study; give --direction maximize or "
            "--direction minimize"
        )
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", file.stem).lstrip("_.-") or "study"
    from objectives import FunctionObjective

    print(
        f"search: {file.name} defines {'objective' if sweep else 'objective(trial)'} and no "
        "study: it loads its own data, so there is no sealed test and no final evaluation",
        flush=True,
    )
    return Study(name=name, objective=FunctionObjective(objective), **goals)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def _line_in(file: Path, exc: BaseException) -> int | str:
    """The line of ``file`` where ``exc`` was raised from (innermost frame in the file)."""
    line: int | str = "?"
    target = str(file)
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == target and frame.lineno is not None:
            line = frame.lineno
    return line
