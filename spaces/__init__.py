"""Declarative search spaces: parameter types, conditional branches, YAML/JSON files.

A space is an immutable mapping of parameter name to parameter (:class:`Float`, :class:`Int`,
:class:`Categorical`, :class:`Constant`); a categorical whose choices map option names to
sub-spaces is a conditional branch. Spaces are written in Python or in YAML/JSON files
(:func:`load`, :func:`dump`; the format's JSON Schema is :func:`json_schema`), come ready-made
for common scikit-learn models (:func:`ready_made`), and compile define-by-run onto an Optuna
trial (:meth:`Space.sample`). A Python mapping may also hold what other tools write (Ray Tune's
sample domains and ``param_space`` semantics, lists as in scikit-learn's grids, frozen
``scipy.stats`` distributions), which becomes the equivalent parameter here; a Ray Tune grid
runs point by point (:meth:`Space.grid_points`), and :meth:`Space.nested` gives a config back
the nesting of the ``param_space``. A W&B sweep file loads as a space file does, and
:func:`read_wandb_sweep` reads the rest of it (metric, goal, method, early termination) into a
:class:`WandbSweep`. This package imports no search framework.

>>> import spaces
>>> space = spaces.Space({"C": spaces.Float(1e-3, 1e3, log=True), "penalty": "l2"})
>>> space.paths()
['C']
"""

from spaces._compile import MAX_GRID
from spaces._errors import SpaceError
from spaces._export import FORMATS, export, to_ray
from spaces._io import dump, dumps, load, load_wandb_sweep, loads, ready_made
from spaces._params import Constant, Float, Int
from spaces._schema import SCHEMA_PATH, json_schema
from spaces._space import Categorical, Param, Space
from spaces._types import NO_DEFAULT, Scalar, Suggester
from spaces._wandb import from_wandb, to_wandb
from spaces._wandb_sweep import WandbSweep, read_wandb_sweep

__all__ = [
    "FORMATS",
    "MAX_GRID",
    "NO_DEFAULT",
    "SCHEMA_PATH",
    "Categorical",
    "Constant",
    "Float",
    "Int",
    "Param",
    "Scalar",
    "Space",
    "SpaceError",
    "Suggester",
    "WandbSweep",
    "dump",
    "dumps",
    "export",
    "from_wandb",
    "json_schema",
    "load",
    "load_wandb_sweep",
    "loads",
    "read_wandb_sweep",
    "ready_made",
    "to_ray",
    "to_wandb",
]
