"""A study file or a researcher's script, run as Python runs a script: as ``__main__``.

``python -m search FILE [FLAGS] [-- SCRIPT ARGS]`` executes FILE as ``python FILE SCRIPT ARGS``
would: ``__name__ == "__main__"``, ``sys.argv`` is the file and the script's own arguments,
the file's folder leads ``sys.path`` (for the whole run, so that the modules beside it import
in local workers too), and ``sys.modules["__main__"]`` is the file's module
(so what the script pickles itself, by reference to ``__main__``, works). While it runs,
Optuna's ``create_study`` and ``load_study`` are answered by the framework
(:mod:`search.scripts._optuna`); in a script that imports ``ray.tune``, so are Tune's ``Tuner``
and ``ray.init`` (:mod:`search.scripts._tune`; Ray is never imported for another script).
Whenever the framework works for the script (inside ``optimize`` or ``fit``), it gets its own
``__main__``, Optuna and Ray back: worker processes start from the framework, never from the
script, and the framework's Optuna and Ray calls reach Optuna and Ray.
"""

from __future__ import annotations

import contextlib
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna

from search.core._errors import CannotWrite
from search.core._options import RunOptions
from search.core._studyfile import STUDY_MODULE, compile_file, user_error
from search.scripts._optuna import OpenSession, OptunaAnswers
from search.scripts._tune import TuneAnswers, imports_tune

#: where Optuna's study functions are found by a script's code and by integrations
_OPTUNA_PLACES = (optuna, optuna.study, optuna.study.study)
_ANSWERED = ("create_study", "load_study")


class ScriptRun:
    """Runs ``file`` as ``__main__`` with ``argv``; ``open_session`` opens the framework's run
    for each study the script optimizes."""

    def __init__(self, file: Path, argv: list[str], options: RunOptions,
                 open_session: OpenSession, *, sweep: Path | None = None) -> None:
        self.file = file
        self.argv = argv
        self.module = types.ModuleType("__main__")
        self.module.__file__ = str(file.resolve())
        self.answers = OptunaAnswers(file, options, open_session, self.framework, sweep=sweep)
        self.tune = TuneAnswers(self.answers, open_session)
        self._outside: dict[str, Any] = {}
        self._tune_script = False  # the script's own source imports ray.tune

    @property
    def searched(self) -> bool:
        """Whether the script opened a run (its first ``optimize``): something was written."""
        return any(session.written for session in self.answers.sessions)

    def run(self) -> dict[str, Any]:
        """Execute the file; return its namespace. Its failure is a :class:`UserError` naming
        the file and line; ``SystemExit`` is the script's own ending, raised again."""
        code = compile_file(self.file)
        self._tune_script = imports_tune(self.file)
        sys.modules[STUDY_MODULE] = self.module  # its functions travel by value to workers
        with self._as_main():
            try:
                exec(code, self.module.__dict__)  # noqa: S102 - running the user's file is the point
            except CannotWrite:
                raise  # the results folder's, not the file's: it names the folder already
            except Exception as exc:  # noqa: BLE001 - any failure of the file is the user's
                raise user_error(self.file, exc) from None
        return self.module.__dict__

    def as_study_file(self) -> dict[str, Any]:
        """The namespace of a file that ran no search of its own (a study file), its module
        renamed as ``final`` loads it: what it defines pickles by reference to a module the
        driver has (the run goes on under the framework's own ``__main__``)."""
        self.module.__name__ = STUDY_MODULE
        for value in list(vars(self.module).values()):
            if isinstance(value, type | types.FunctionType) and value.__module__ == "__main__":
                value.__module__ = STUDY_MODULE
        return vars(self.module)

    def close(self, status: str) -> None:
        """End every run the script opened (``finished``, ``interrupted`` or ``failed``)."""
        errors = []
        for session in self.answers.sessions:
            try:
                session.close(status)
            except Exception as exc:  # noqa: BLE001 - close the others, then say it
                errors.append(exc)
        if errors:
            raise errors[0]

    @contextlib.contextmanager
    def _as_main(self) -> Iterator[None]:
        """The script's world: its ``__main__``, ``sys.argv``, ``sys.path``, and Optuna's study
        functions answered."""
        saved = sys.modules["__main__"], sys.argv
        sys.argv = [str(self.file), *self.argv]
        folder = str(self.file.resolve().parent)
        if folder not in sys.path:  # stays for the run: local workers import from it too
            sys.path.insert(0, folder)
        self._outside = {"__main__": saved[0]}
        self._install()
        try:
            yield
        finally:
            self._uninstall()
            sys.modules["__main__"], sys.argv = saved

    @contextlib.contextmanager
    def framework(self) -> Iterator[None]:
        """The framework's world while it works for the script: its own ``__main__`` and
        Optuna's own functions (re-entered calls stay in it)."""
        if not self._outside or sys.modules["__main__"] is not self.module:
            yield
            return
        self._uninstall()
        try:
            yield
        finally:
            self._install()

    def _install(self) -> None:
        sys.modules["__main__"] = self.module
        for place in _OPTUNA_PLACES:
            for name in _ANSWERED:
                self._outside[f"{place.__name__}.{name}"] = getattr(place, name)
                setattr(place, name, getattr(self.answers, name))
        self.tune.install(eager=self._tune_script)

    def _uninstall(self) -> None:
        self.tune.uninstall()
        for place in _OPTUNA_PLACES:
            for name in _ANSWERED:
                setattr(place, name, self._outside[f"{place.__name__}.{name}"])
        sys.modules["__main__"] = self._outside["__main__"]
