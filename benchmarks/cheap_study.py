"""A study whose trials cost almost nothing, to measure the framework's own overhead."""

import math

from search import Study
from spaces import Float, Space


def branin(config):
    x1, x2 = config["x1"], config["x2"]
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10


study = Study(
    name="cheap",
    space=Space({"x1": Float(-5, 10), "x2": Float(0, 15)}),
    objective=branin,
    direction="minimize",
    trials=1000,
    seed=0,
    pruner="none",
)
