"""Researchers' own code, run unchanged: an Optuna script runs as ``__main__``, and its
``create_study``/``optimize`` are answered by the framework's engine; so is a Ray Tune
script's ``tune.Tuner(...).fit()``.

Knows the core only; the command line hands it the way to open a run.
"""

from search.scripts._main import ScriptRun
from search.scripts._optuna import OptunaAnswers, ScriptStudy

__all__ = ["OptunaAnswers", "ScriptRun", "ScriptStudy"]
