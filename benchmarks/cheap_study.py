"""A study whose trials cost almost nothing, to measure the framework's own overhead.

It tunes the Branin function of ``examples/branin.py`` for 1000 trials with no pruner.
"""

import runpy
from pathlib import Path

from search import Study
from spaces import Float, Space

branin = runpy.run_path(str(Path(__file__).resolve().parents[1] / "examples" / "branin.py"))["branin"]

study = Study(
    name="cheap",
    space=Space({"x1": Float(-5, 10), "x2": Float(0, 15)}),
    objective=branin,
    direction="minimize",
    trials=1000,
    seed=0,
    pruner="none",
)
