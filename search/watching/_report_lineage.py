"""The report's Population Based Training section: each member's segments over the steps.

A PBT study's trials are segments of population members (:mod:`search.core._pbt`); the
lineage (:func:`~search.watching._trial_history.lineage`) chains them. The section draws each
member's value over the steps and the schedule of each hyperparameter PBT changed (a member's
line jumps where a segment exploited another member: a star), then a table a member: its
segments' trials, where it exploited whom, its last value and hyperparameters. Figures are
plotly.js JSON in the style of :mod:`~search.watching._report_figures`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from search.watching._report_figures import COLOURS, Figure, _axis_type, _plain, _titled
from search.watching._report_html import fmt, short_labels, table

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

Members = dict[int, list[dict[str, Any]]]

TITLE = "Population Based Training lineage"
ROWS = 20  # members in the table (the best by their last value)
SCHEDULES = 4  # hyperparameters drawn at most


def lineage_html(members: Members, trials: Sequence[FrozenTrial], metric: str,
                 direction: str, figure: Callable[[Figure, int], str]) -> str:
    """The section's content; ``figure(fig, height)`` places a figure on the page."""
    params = changed_params(members)
    parts = [
        f"<p>{len(members)} members trained in {sum(len(s) for s in members.values())} "
        "segments (one trial each). A member's segment continues from its own checkpoint, or "
        "from a better member's with its hyperparameters perturbed (exploited: a star).</p>",
    ]
    by_number = {t.number: t for t in trials}
    parts.append(figure(values(members, by_number, metric), 420))
    for param in params[:SCHEDULES]:
        having = [by_number[s["trial"]] for seg in members.values() for s in seg
                  if s["trial"] in by_number and param in by_number[s["trial"]].params]
        parts.append(figure(schedule(members, param, _axis_type(param, having)), 360))
    parts.append(members_table(members, params, metric, direction))
    return "".join(parts)


def changed_params(members: Members) -> list[str]:
    """The hyperparameters some member's segments changed (PBT's mutations), in name order;
    every parameter of the segments when none changed yet."""
    changed, seen = set(), set()
    for segments in members.values():
        for before, after in zip(segments, segments[1:], strict=False):
            changed |= {p for p in after["params"]
                        if repr(after["params"][p]) != repr(before["params"].get(p))}
        seen |= {p for s in segments for p in s["params"]}
    return sorted(changed or seen)


def values(members: Members, by_number: dict[int, FrozenTrial], metric: str) -> Figure:
    """Each member's reported values over the steps, segment after segment; the first step
    of a segment that exploited another member is a star."""
    data = []
    for i, (member, segments) in enumerate(members.items()):
        xs: list[Any] = []
        ys: list[Any] = []
        shown: list[dict[str, Any]] = []
        sizes: list[int] = []
        for s in segments:
            reported = dict(getattr(by_number.get(s["trial"]), "intermediate_values", {}))
            if not reported and _finite(s["value"]):  # it trained no step: where it started
                reported = {s["from_step"]: s["value"]}
            for k, step in enumerate(sorted(reported)):
                xs.append(step)
                ys.append(_plain(float(reported[step])))
                shown.append(s)
                sizes.append(9 if k == 0 and s["exploited"] else 0)
        trace = _member_trace(member, i, shown, xs, ys)
        trace["marker"]["size"] = sizes
        data.append(trace)
    layout = _titled(f"Members' {metric} over the steps", "step", metric)
    layout["showlegend"] = len(data) <= 20
    return {"data": data, "layout": layout}


def schedule(members: Members, param: str, kind: str) -> Figure:
    """``param``'s value in each member's segments over the steps they trained."""
    data = []
    for i, (member, segments) in enumerate(members.items()):
        xs: list[Any] = []
        ys: list[Any] = []
        shown: list[dict[str, Any]] = []
        for s in segments:
            if param not in s["params"]:
                continue
            xs += [s["from_step"], s["to_step"]]
            ys += [_plain(s["params"][param])] * 2
            shown += [s, s]
        trace = _member_trace(member, i, shown, xs, ys)
        trace["marker"]["size"] = [7 if k % 2 == 0 else 0 for k in range(len(xs))]
        trace["line"]["shape"] = "hv"  # a value holds until the next segment changes it
        data.append(trace)
    layout = _titled(f"Schedule of {param}", "step", param)
    layout["yaxis"]["type"] = "category" if kind == "category" else kind
    layout["showlegend"] = len(data) <= 20
    return {"data": data, "layout": layout}


def members_table(members: Members, params: list[str], metric: str, direction: str) -> str:
    """A row a member (the best :data:`ROWS` by their last value): its segments' trials, its
    exploits, its last step and value and the hyperparameters it ended with."""
    sign = -1.0 if direction == "maximize" else 1.0

    def last(segments: list[dict[str, Any]]) -> dict[str, Any]:
        return next((s for s in reversed(segments) if s["value"] is not None), segments[-1])

    def rank(item: tuple[int, list[dict[str, Any]]]) -> tuple[float, int]:
        value = last(item[1])["value"]
        return (sign * value if _finite(value) else math.inf, item[0])

    ranked = sorted(members.items(), key=rank)
    names = short_labels(params)
    head = ["member", "segments (trials)", "exploited", "last step", metric,
            *(names[p] for p in params)]
    rows = []
    for member, segments in ranked[:ROWS]:
        end = last(segments)
        exploits = [f"at {s['from_step']}: trial {s['parent']}" for s in segments if s["exploited"]]
        rows.append([str(member), " → ".join(str(s["trial"]) for s in segments),
                     "; ".join(exploits) or "—", fmt(end["to_step"]), fmt(end["value"]),
                     *(fmt(end["params"].get(p)) for p in params)])
    note = "" if len(ranked) <= ROWS else (
        f"<p>The {ROWS} best of {len(ranked)} members by their last value.</p>")
    return note + table(head, rows)


def _member_trace(member: int, index: int, segments: list[dict[str, Any]], xs: list[Any],
                  ys: list[Any]) -> dict[str, Any]:
    """One member's line; a point's hover names its segment, and an exploiting segment's
    point is a star."""
    return {
        "type": "scatter", "mode": "lines+markers", "name": f"member {member}",
        "x": xs, "y": [_plain(y) if isinstance(y, float) else y for y in ys],
        "line": {"color": COLOURS[index % len(COLOURS)]},
        "marker": {"color": COLOURS[index % len(COLOURS)], "size": 7,
                   "symbol": ["star" if s["exploited"] else "circle" for s in segments]},
        "text": [_label(s) for s in segments],
        "hovertemplate": "%{text}<br>step %{x}: %{y}<extra>" + f"member {member}</extra>",
    }


def _label(segment: dict[str, Any]) -> str:
    text = (f"trial {segment['trial']}, segment {segment['segment']}, steps "
            f"{segment['from_step']}–{fmt(segment['to_step'])}")
    if segment["parent"] is not None:
        took = "exploited" if segment["exploited"] else "continued"
        text += f", {took} trial {segment['parent']}"
    return text


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)
