"""The report's figures as plain plotly.js JSON, built straight from the trials.

Each function returns one figure, ``{"data": [...], "layout": {...}}`` in plotly.js's own schema,
and :func:`figure_html` writes it as a ``<div>`` and the ``Plotly.newPlot`` call that draws it
with the page's one inlined copy of plotly.js. The figures are those of ``optuna.visualization``
(history with the best so far, slices coloured by trial, Optuna's parallel coordinates with log,
categorical and missing values), built as dicts instead of plotly's Python figure objects: a
page of 200 trials is drawn in milliseconds instead of most of a second, and drawing loads
neither plotly's object model nor Optuna's plotting modules (matplotlib comes with those).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from search.watching._progress import feasible
from search.watching._report_html import fmt, wrapped

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

Figure = dict[str, Any]

#: plotly's "plotly" colourway, the colours of its default template
COLOURS = ("#636efa", "#EF553B", "#00cc96", "#ab63fa", "#FFA15A", "#19d3f3", "#FF6692",
           "#B6E880", "#FF97FF", "#FECB52")
#: plotly's sequential Blues, light to dark, as Optuna colours trials
BLUES = ((247, 251, 255), (222, 235, 247), (198, 219, 239), (158, 202, 225), (107, 174, 214),
         (66, 146, 198), (33, 113, 181), (8, 81, 156), (8, 48, 107))
MISSING = "missing"  # the tick of a parameter a trial's branch does not have
LINE_POINTS = 5000  # a best-so-far line of more trials is drawn through its steps only

_AXIS = {"gridcolor": "#EBF0F8", "linecolor": "#EBF0F8", "zerolinecolor": "#EBF0F8",
         "automargin": True, "exponentformat": "e"}  # 1e-08, never plotly's SI "10n"


def history(complete: Sequence[FrozenTrial], pruned: Sequence[FrozenTrial], metric: str,
            direction: str, shown: Sequence[FrozenTrial] | None = None) -> Figure:
    """Each complete trial's value (of those ``shown``, all by default), the best so far over
    every complete trial, and pruned trials at their last value. A best-so-far line of more
    than :data:`LINE_POINTS` trials is drawn as steps through the trials that improved it:
    the same line, a few points."""
    points = [(t.number, float(t.values[0])) for t in _by_number(complete)
              if math.isfinite(t.values[0])]
    best: list[float] = []
    for _, value in points:
        better = not best or (value > best[-1] if direction == "maximize" else value < best[-1])
        best.append(value if better else best[-1])
    xs = [n for n, _ in points]
    drawn = points if shown is None else [
        (t.number, float(t.values[0])) for t in _by_number(shown) if math.isfinite(t.values[0])]
    line = _scatter(*_steps(xs, best), "lines", "best value", COLOURS[1])
    if len(xs) > LINE_POINTS:
        line["line"]["shape"] = "hv"
    data = [_scatter([n for n, _ in drawn], [v for _, v in drawn], "markers", metric, COLOURS[0]),
            line]
    stopped = [t for t in _by_number(pruned) if t.intermediate_values]
    if stopped:
        last = [t.intermediate_values[max(t.intermediate_values)] for t in stopped]
        trace = _scatter([t.number for t in stopped], last, "markers",
                         "pruned (last reported value)", "#9aa3b2")
        trace["marker"].update(symbol="x", size=7)
        data.append(trace)
    return {"data": data, "layout": _titled(f"Optimization history: {metric}", "trial", metric)}


def _steps(xs: list[int], best: list[float]) -> tuple[list[int], list[float]]:
    """The best-so-far line: every point up to :data:`LINE_POINTS`, else the first, each one
    that improved the best, and the last (drawn as steps)."""
    if len(xs) <= LINE_POINTS:
        return xs, best
    keep = [i for i in range(len(xs)) if i == 0 or best[i] != best[i - 1]]
    if keep[-1] != len(xs) - 1:
        keep.append(len(xs) - 1)
    return [xs[i] for i in keep], [best[i] for i in keep]


def objective_history(complete: Sequence[FrozenTrial], index: int, name: str) -> Figure:
    """Several objectives: each complete trial's value of objective ``index``."""
    points = [(t.number, float(t.values[index])) for t in _by_number(complete)
              if math.isfinite(t.values[index])]
    data = [_scatter([n for n, _ in points], [v for _, v in points], "markers", name, COLOURS[0])]
    return {"data": data, "layout": _titled(f"Optimization history: {name}", "trial", name)}


def pareto(complete: Sequence[FrozenTrial], names: list[str], front: set[int]) -> Figure:
    """Several objectives: the trials in objective space, the front and infeasible ones apart;
    a scatter for two objectives, 3-d for three, a scatter matrix for more."""
    shown = [t for t in complete if all(math.isfinite(v) for v in t.values)]
    groups = (
        ("trial", "#636efa", [t for t in shown if t.number not in front and feasible(t)]),
        ("Pareto front", "#EF553B", [t for t in shown if t.number in front]),
        ("infeasible", "#c3c8d1", [t for t in shown if not feasible(t)]),
    )
    data: list[dict[str, Any]] = []
    for label, colour, trials in groups:
        if not trials and label != "trial":
            continue
        columns = [[float(t.values[i]) for t in trials] for i in range(len(names))]
        trace: dict[str, Any] = {
            "name": label, "mode": "markers", "marker": {"color": colour, "size": 7},
            "text": [f"trial {t.number}" for t in trials],
            "hovertemplate": "%{text}<extra>" + label + "</extra>",
        }
        if len(names) == 2:
            trace.update(type="scatter", x=columns[0], y=columns[1])
        elif len(names) == 3:
            trace.update(type="scatter3d", x=columns[0], y=columns[1], z=columns[2])
            trace["marker"]["size"] = 4
        else:
            trace.update(type="splom", showupperhalf=False, diagonal={"visible": False},
                         dimensions=[{"label": n, "values": c} for n, c in zip(names, columns, strict=True)])
        data.append(trace)
    layout: dict[str, Any] = {}
    if len(names) == 2:
        layout.update(xaxis={"title": {"text": names[0]}}, yaxis={"title": {"text": names[1]}})
    elif len(names) == 3:
        layout["scene"] = {f"{a}axis": {"title": {"text": n}} for a, n in zip("xyz", names, strict=True)}
    return {"data": data, "layout": layout}


def parallel(shown: Sequence[FrozenTrial], params: list[str], metric: str,
             direction: str) -> Figure:
    """Optuna's parallel coordinates: one line a trial across the objective and each
    parameter's axis, coloured by the objective (the best dark, drawn last); full parameter
    names, wrapped; a conditional parameter a trial lacks sits on its axis's ``missing`` mark."""
    values = [float(t.values[0]) for t in shown]
    axes = [_objective_axis(metric, values)] + [_param_axis(p, shown) for p in params]
    low, high = min(values), max(values)
    up = direction == "maximize"
    good = [0.5 if high <= low else (v - low if up else high - v) / (high - low) for v in values]
    xs = list(range(len(axes)))
    data: list[dict[str, Any]] = []
    for i in sorted(range(len(shown)), key=lambda i: (good[i], -shown[i].number)):
        data.append({
            "type": "scatter", "mode": "lines", "x": xs, "opacity": 0.5, "showlegend": False,
            "y": [axis["at"][i] for axis in axes],
            "line": {"color": _blue(good[i]), "width": 1.2},
            "customdata": [[axis["name"], axis["text"][i]] for axis in axes],
            "hovertemplate": f"trial {shown[i].number}<br>%{{customdata[0]}}: "
                             "%{customdata[1]}<extra></extra>",
        })
    data.append({  # the colour bar
        "type": "scatter", "mode": "markers", "x": [None], "y": [None], "showlegend": False,
        "hoverinfo": "skip",
        "marker": {"color": [low, high], "cmin": low, "cmax": high if high > low else low + 1,
                   "colorscale": _blues_scale(), "reversescale": not up, "showscale": True,
                   "colorbar": {"title": {"text": metric}}},
    })
    layout = {
        "hovermode": "closest",
        "xaxis": {"tickmode": "array", "tickvals": xs, "range": [-0.2, len(axes) - 0.8],
                  "ticktext": [wrapped(axis["name"]) for axis in axes], "showgrid": False,
                  "zeroline": False},
        "yaxis": {"range": [-0.08, 1.08], "visible": False, "fixedrange": True},
        "shapes": [{"type": "line", "x0": x, "x1": x, "y0": 0, "y1": 1, "layer": "below",
                    "line": {"color": "#888", "width": 1}} for x in xs],
        "annotations": [
            {"x": x, "y": at, "text": text, "showarrow": False, "xanchor": "right", "xshift": -4,
             "font": {"size": 10, "color": "#555"}}
            for x, axis in zip(xs, axes, strict=True) for at, text in axis["ticks"]
        ],
    }
    return {"data": data, "layout": layout}


def importances(found: dict[str, float], title: str, metric: str) -> Figure:
    """Horizontal bars, the most important parameter on top."""
    names = sorted(found, key=lambda p: (found[p], p))
    text = [f"{found[p]:.2f}" if found[p] >= 0.01 else "<0.01" for p in names]
    bar = {"type": "bar", "orientation": "h", "x": [_finite(found[p]) for p in names],
           "y": [wrapped(p, 28) for p in names], "text": text, "textposition": "outside",
           "cliponaxis": False, "marker": {"color": "rgb(66,146,198)"},
           "hovertemplate": "%{y}: %{x:.3f}<extra></extra>"}
    return {"data": [bar], "layout": _titled(title, f"importance for {metric}", "parameter")}


def slices(complete: Sequence[FrozenTrial], params: list[str], metric: str) -> Figure:
    """A panel a parameter: its value against the objective in each complete trial that has
    it, coloured by trial number; log and categorical parameters on axes of their kind."""
    gap = 0.04
    width = (1 - gap * (len(params) - 1)) / len(params)
    last = max((t.number for t in complete), default=0)
    data: list[dict[str, Any]] = []
    layout: dict[str, Any] = {"showlegend": False}
    for i, path in enumerate(params):
        key = "" if i == 0 else str(i + 1)
        having = [t for t in _by_number(complete) if path in t.params
                  and math.isfinite(t.values[0])]
        data.append({
            "type": "scatter", "mode": "markers", "xaxis": f"x{key}", "yaxis": f"y{key}",
            "x": [_plain(t.params[path]) for t in having], "y": [float(t.values[0]) for t in having],
            "text": [f"trial {t.number}" for t in having],
            "hovertemplate": "%{text}: %{x}, %{y}<extra></extra>",
            "marker": {"color": [t.number for t in having], "cmin": 0, "cmax": max(last, 1),
                       "colorscale": _blues_scale(), "line": {"width": 0.5, "color": "#555"},
                       "showscale": i == len(params) - 1,
                       "colorbar": {"title": {"text": "trial"}}},
        })
        layout[f"xaxis{key}"] = {"domain": [i * (width + gap), i * (width + gap) + width],
                                 "anchor": f"y{key}", "title": {"text": wrapped(path)},
                                 "type": _axis_type(path, having)}
        layout[f"yaxis{key}"] = {"anchor": f"x{key}", "showticklabels": i == 0,
                                 **({"title": {"text": metric}} if i == 0 else {"matches": "y"})}
    return {"data": data, "layout": layout}


def curves(shown: Sequence[FrozenTrial], metric: str, step: str) -> Figure:
    """Each trial's intermediate values (fold or epoch) in step order."""
    data = []
    for t in _by_number(shown):
        steps = sorted(t.intermediate_values)
        data.append({"type": "scatter", "mode": "lines+markers", "name": f"trial {t.number}",
                     "x": steps, "y": [_finite(t.intermediate_values[s]) for s in steps],
                     "marker": {"maxdisplayed": 10}})
    what = "running mean over folds" if step == "fold" else "validation"
    steps = [s for t in shown for s in t.intermediate_values]
    first = f" (from {min(steps)})" if steps else ""
    layout = _titled(f"Learning curves: {metric} after each {step}", f"{step}{first}",
                     f"{metric} ({what})")
    if max(steps, default=0) - min(steps, default=0) <= 20:
        layout["xaxis"]["dtick"] = 1
    layout["showlegend"] = len(data) <= 20
    return {"data": data, "layout": layout}


def figure_html(figure: Figure, div: str, height: int, bottom: int) -> str:
    """The figure as a ``<div>`` and the script that draws it (the page holds plotly.js)."""
    layout = {"height": height, "margin": {"t": 60, "b": bottom}, "plot_bgcolor": "white",
              "paper_bgcolor": "white", "font": {"color": "#2a3f5f"}, "colorway": COLOURS,
              **figure["layout"]}
    for key in [k for k in layout if k.startswith(("xaxis", "yaxis"))] or ["xaxis", "yaxis"]:
        layout[key] = {**_AXIS, **layout.get(key, {})}
    config = {"displaylogo": False, "responsive": True}
    args = ", ".join(_json(v) for v in (div, figure["data"], layout, config))
    return (f'<div id="{div}" class="plotly-graph-div" style="height:{height}px; width:100%;">'
            f'</div><script type="text/javascript">Plotly.newPlot({args})</script>')


def _objective_axis(metric: str, values: list[float]) -> dict[str, Any]:
    """The objective's axis, its ticks with the digits that tell them apart."""
    low, high = min(values), max(values)
    digits = 3 if high <= low else max(3, 2 - math.floor(math.log10(high - low)))
    ticks = [low + (high - low) * k / 4 for k in range(5)] if high > low else [low]
    return _axis(metric, values, [fmt(v) for v in values],
                 [(v, f"{v:.{digits}f}") for v in ticks], low, high)


def _param_axis(path: str, trials: Sequence[FrozenTrial]) -> dict[str, Any]:
    """A parameter's axis, as Optuna draws it: log10 for a log scale, choice indices for a
    categorical one, and a ``missing`` mark below the values when some trials lack it."""
    having = [t for t in trials if path in t.params]
    lacking = len(having) < len(trials)
    text = [str(_plain(t.params[path])) if path in t.params else MISSING for t in trials]
    kind = _axis_type(path, having)
    if kind == "category":
        choices = _choices(path, having)
        index = {repr(c): float(i + lacking) for i, c in enumerate(choices)}
        at = [index[repr(t.params[path])] if path in t.params else 0.0 for t in trials]
        ticks = [(0.0, MISSING)] * lacking + [(index[repr(c)], str(c)) for c in choices]
        return _axis(path, at, text, ticks, 0.0, max(len(choices) - 1.0 + lacking, 0.0))
    log = kind == "log"
    scaled = {t.number: math.log10(t.params[path]) if log else float(t.params[path])
              for t in having}
    low, high = min(scaled.values()), max(scaled.values())
    if log:
        spots = sorted({low, high, *range(math.ceil(low), math.floor(high) + 1)})
        ticks = [(v, f"{10 ** v:.3g}") for v in spots]
    else:
        spots = [low + (high - low) * k / 4 for k in range(5)] if high > low else [low]
        ticks = [(v, f"{v:.3g}") for v in spots]
    if lacking:  # Optuna's place for the missing mark: 12 % of the axis below the values
        low = low - 1.0 if low == high else low - (high - low) * 0.12 / 0.88
        ticks = [(low, MISSING), *ticks]
    at = [scaled.get(t.number, low) for t in trials]
    return _axis(path, at, text, ticks, low, high)


def _axis(name: str, at: list[float], text: list[str], ticks: list[tuple[float, str]],
          low: float, high: float) -> dict[str, Any]:
    """An axis of parallel coordinates: each trial's height on it (0 to 1), its text, ticks."""

    def height(v: float) -> float:
        return 0.5 if high <= low else (v - low) / (high - low)

    return {"name": name, "at": [height(v) for v in at], "text": text,
            "ticks": [(height(v), label) for v, label in ticks]}


def _axis_type(path: str, trials: Sequence[FrozenTrial]) -> str:
    """``category``, ``log`` or ``linear``: how the trials' distributions of ``path`` scale."""
    kinds = {type(t.distributions[path]).__name__ for t in trials if path in t.distributions}
    if "CategoricalDistribution" in kinds:
        return "category"
    logs = [getattr(t.distributions[path], "log", False) for t in trials if path in t.distributions]
    return "log" if logs and all(logs) else "linear"


def _choices(path: str, trials: Sequence[FrozenTrial]) -> list[Any]:
    """The choices the trials took, numbers in order, the others in the order the space lists
    them."""
    taken = {repr(t.params[path]): t.params[path] for t in trials}
    listed: list[Any] = []
    for t in trials:
        for choice in getattr(t.distributions[path], "choices", ()):
            if repr(choice) in taken and all(repr(choice) != repr(c) for c in listed):
                listed.append(choice)
    if all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in listed):
        listed.sort()
    return listed


def _by_number(trials: Sequence[FrozenTrial]) -> list[FrozenTrial]:
    return sorted(trials, key=lambda t: t.number)


def _plain(value: Any) -> Any:
    """A parameter's value as the plot shows it: numbers as they are, anything else as text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _finite(value) if isinstance(value, float) else value
    return str(value)


def _finite(value: float) -> float | None:
    """A value plotly.js can draw; a gap (``null``) for NaN and infinities."""
    return float(value) if math.isfinite(value) else None


def _scatter(x: list[Any], y: list[Any], mode: str, name: str, colour: str) -> dict[str, Any]:
    key = "marker" if mode == "markers" else "line"
    return {"type": "scatter", "mode": mode, "name": name, "x": x, "y": y, key: {"color": colour}}


def _titled(title: str, x: str, y: str) -> dict[str, Any]:
    return {"title": {"text": title}, "xaxis": {"title": {"text": x}},
            "yaxis": {"title": {"text": y}}}


def _blue(fraction: float) -> str:
    """The colour at ``fraction`` (0 light, 1 dark) along :data:`BLUES`."""
    scaled = min(max(fraction, 0.0), 1.0) * (len(BLUES) - 1)
    i = min(int(scaled), len(BLUES) - 2)
    t = scaled - i
    rgb = (round(a + (b - a) * t) for a, b in zip(BLUES[i], BLUES[i + 1], strict=True))
    return "rgb({},{},{})".format(*rgb)


def _blues_scale() -> list[list[Any]]:
    return [[i / (len(BLUES) - 1), "rgb({},{},{})".format(*c)] for i, c in enumerate(BLUES)]


def _json(value: Any) -> str:
    """JSON safe inside a ``<script>``: no ``</script>`` or comment can end it early."""
    text = json.dumps(value, allow_nan=False, separators=(",", ":"))
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text
