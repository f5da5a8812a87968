"""The report's figures, built from trials as plotly.js JSON: their values, axes and marks.

The trials are Optuna's own ``FrozenTrial``s; the figures are read back from the page the way
plotly.js receives them (``Plotly.newPlot`` arguments), so what is checked is what is drawn.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from search.watching import _report_figures as figures

LR = FloatDistribution(1e-4, 1e-1, log=True)
DEPTH = IntDistribution(1, 9)
KIND = CategoricalDistribution(["tree", "linear"])
BATCH = CategoricalDistribution([64, 16, 32])


def trial(number: int, value: float, params: dict[str, Any], **kw: Any) -> Any:
    dists = {"lr": LR, "depth": DEPTH, "kind": KIND, "batch": BATCH}
    made = create_trial(value=value, params=params,
                        distributions={k: dists[k] for k in params}, **kw)
    made.number = number
    return made


def plotted(page: str) -> list[dict[str, Any]]:
    """Every figure of a page as plotly.js is given it: ``{"div", "data", "layout"}``."""
    decoder = json.JSONDecoder()
    found = []
    for match in re.finditer(r"Plotly\.newPlot\(", page):
        args, at = [], match.end()
        while page[at] != ")":
            value, at = decoder.raw_decode(page, at)
            args.append(value)
            at += page[at] == ","
            at += page[at] == " "
        found.append({"div": args[0], "data": args[1], "layout": args[2]})
    return found


TRIALS = [
    trial(0, 0.5, {"kind": "tree", "depth": 3, "batch": 64}),
    trial(1, 0.2, {"kind": "linear", "lr": 1e-3, "batch": 16}),
    trial(2, 0.9, {"kind": "tree", "depth": 9, "batch": 32}),
    trial(3, 0.4, {"kind": "linear", "lr": 1e-1, "batch": 16}),
]


def test_history_draws_every_value_the_best_so_far_and_pruned_trials_apart():
    pruned = trial(4, 0.0, {"kind": "tree"}, state=TrialState.PRUNED,
                   intermediate_values={0: 0.7, 1: 0.3})
    pruned.value = None
    fig = figures.history(TRIALS, [pruned], "auc", "maximize")
    values, best, stopped = fig["data"]
    assert values["x"] == [0, 1, 2, 3] and values["y"] == [0.5, 0.2, 0.9, 0.4]
    assert best["y"] == [0.5, 0.5, 0.9, 0.9] and best["mode"] == "lines"
    assert stopped["x"] == [4] and stopped["y"] == [0.3]  # its last reported value
    assert figures.history(TRIALS, [], "loss", "minimize")["data"][1]["y"] == [0.5, 0.2, 0.2, 0.2]


def test_parallel_coordinates_place_log_categorical_and_missing_values_as_optuna_does():
    params = ["batch", "depth", "kind", "lr"]
    fig = figures.parallel(TRIALS, params, "auc", "maximize")
    lines = [t for t in fig["data"] if t["mode"] == "lines"]
    assert len(lines) == 4
    by_trial = {int(re.match(r"trial (\d+)", t["hovertemplate"]).group(1)): t for t in lines}
    assert list(by_trial) == [1, 3, 0, 2]  # the worst first: the best is drawn on top
    assert fig["layout"]["xaxis"]["ticktext"] == ["auc", "batch", "depth", "kind", "lr"]
    ticks: dict[int, dict[str, float]] = {}
    for note in fig["layout"]["annotations"]:
        ticks.setdefault(note["x"], {})[note["text"]] = note["y"]
    # batch: numeric choices in order (16, 32, 64), not in the order the space lists them
    assert [by_trial[n]["y"][1] for n in (1, 2, 0)] == [0.0, 0.5, 1.0]
    assert ticks[1] == {"16": 0.0, "32": 0.5, "64": 1.0}
    # depth: trials 1 and 3 took the linear branch and sit on its missing mark, below the values
    assert by_trial[1]["y"][2] == by_trial[3]["y"][2] == ticks[2]["missing"] == 0.0
    assert by_trial[0]["y"][2] == pytest.approx(0.12) and by_trial[2]["y"][2] == 1.0
    # kind: the space's order
    assert ticks[3] == {"tree": 0.0, "linear": 1.0}
    # lr: log10 scale, ticks at the values and the powers of ten between
    assert by_trial[1]["y"][4] == pytest.approx(0.12 + 0.88 * 0.0)
    assert by_trial[3]["y"][4] == 1.0
    assert by_trial[0]["y"][4] == ticks[4]["missing"] == 0.0
    assert ticks[4]["0.01"] == pytest.approx(0.12 + 0.88 * 0.5)
    assert by_trial[2]["customdata"][4] == ["lr", "missing"]
    assert by_trial[1]["customdata"][4] == ["lr", "0.001"]
    # colour: the best value darkest; the colour bar reads the objective's range
    assert by_trial[2]["line"]["color"] == "rgb(8,48,107)"
    assert by_trial[1]["line"]["color"] == "rgb(247,251,255)"
    bar = fig["data"][-1]["marker"]
    assert (bar["cmin"], bar["cmax"], bar["reversescale"]) == (0.2, 0.9, False)


def test_slices_put_each_parameter_on_an_axis_of_its_kind():
    fig = figures.slices(TRIALS, ["depth", "kind", "lr"], "auc")
    layout = fig["layout"]
    assert [layout[k]["type"] for k in ("xaxis", "xaxis2", "xaxis3")] == [
        "linear", "category", "log"]
    depth, kind, lr = fig["data"]
    assert depth["x"] == [3, 9] and depth["y"] == [0.5, 0.9]  # only the trials that have it
    assert kind["x"] == ["tree", "linear", "tree", "linear"]
    assert lr["xaxis"] == "x3" and lr["yaxis"] == "y3" and layout["yaxis3"]["matches"] == "y"
    assert layout["xaxis3"]["domain"][1] == pytest.approx(1.0)


def test_a_pareto_figure_marks_the_front_and_the_infeasible_trials():
    made = []
    for n, (a, b, broken) in enumerate([(1, 5, 0), (2, 2, 0), (3, 1, 0), (4, 4, 0), (0, 0, 1)]):
        t = create_trial(values=[a, b])
        t.number = n
        t.system_attrs["constraints"] = [float(broken)]
        made.append(t)
    assert list(made[4].constraints.values()) == [1.0]  # as Optuna reads them back
    fig = figures.pareto(made, ["f1", "f2"], front={0, 1, 2})
    shown = {t["name"]: (t["x"], t["y"], t["text"]) for t in fig["data"]}
    assert shown["Pareto front"] == ([1, 2, 3], [5, 2, 1], ["trial 0", "trial 1", "trial 2"])
    assert shown["trial"] == ([4], [4], ["trial 3"])
    assert shown["infeasible"] == ([0], [0], ["trial 4"])
    three = figures.pareto([create_trial(values=[1, 2, 3])], ["a", "b", "c"], front=set())
    assert three["data"][0]["type"] == "scatter3d"
    four = figures.pareto([create_trial(values=[1, 2, 3, 4])], list("abcd"), front=set())
    assert [d["label"] for d in four["data"][0]["dimensions"]] == list("abcd")


def test_the_page_gets_json_that_no_value_can_break_out_of():
    t = trial(0, math.inf, {"kind": "tree"}, intermediate_values={0: math.nan, 1: 0.5})
    curve = figures.curves([t], "</script><b>", "epoch")
    html = figures.figure_html(curve, "figure-0", 300, 50)
    assert "</script><b>" not in html and html.count("</script>") == 1
    [drawn] = plotted(html)
    assert drawn["data"][0]["y"] == [None, 0.5]  # NaN: a gap, never invalid JSON
    assert drawn["layout"]["title"]["text"] == "Learning curves: </script><b> after each epoch"
    assert drawn["layout"]["xaxis"]["exponentformat"] == "e"


def test_importances_put_the_most_important_parameter_on_top():
    fig = figures.importances({"a": 0.7, "b.c": 0.004, "d": 0.296}, "all trials", "auc")
    bar = fig["data"][0]
    assert bar["y"] == ["b.c", "d", "a"] and bar["text"] == ["<0.01", "0.30", "0.70"]


def test_no_figure_loads_plotly_or_optuna_plotting():
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = (
        "import sys, optuna\n"
        "from search.watching._report_figures import figure_html, history\n"
        "from optuna.trial import create_trial\n"
        "figure_html(history([create_trial(value=1.0)], [], 'v', 'minimize'), 'f', 300, 50)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('plotly', 'matplotlib')"
        " or m.startswith('optuna.visualization')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    assert done.stdout == "[]\n"
    assert optuna.__version__  # the trials above are Optuna's own
