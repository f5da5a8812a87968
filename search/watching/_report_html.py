"""The report's HTML pieces: a section, a "not shown" note, tables, and numbers as text.

Every section of ``report.html`` is built from these, so the page escapes its text in one place
and writes numbers one way (integers without a point, six significant digits otherwise).
"""

from __future__ import annotations

import html
import math
import re
import statistics
from typing import TYPE_CHECKING, Any

from search.integrity._ties import fold_scores

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial


def section(title: str, content: str) -> str:
    """A titled section of the page; ``content`` is HTML."""
    return f"<section><h2>{html.escape(title)}</h2>{content}</section>"


def missing(reason: str, escape: bool = True) -> str:
    """The note a section shows instead of what it lacks the trials or data for."""
    return f'<p class="missing">Not shown: {html.escape(reason) if escape else reason}.</p>'


def table(head: list[str], rows: list[list[str]]) -> str:
    """A grid with a header row; every cell is escaped; a header may break after a dot."""
    h = "".join(f"<th>{html.escape(c).replace('.', '.<wbr>')}</th>" for c in head)
    b = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="grid"><thead><tr>{h}</tr></thead><tbody>{b}</tbody></table>'


def short_labels(paths: list[str]) -> dict[str, str]:
    """Each parameter path by its shortest tail of dotted parts that no other path shares:
    ``model.forest.max_depth`` is ``max_depth`` unless another branch has a ``max_depth``."""
    found = {}
    for path in paths:
        parts = path.split(".")
        for n in range(1, len(parts) + 1):
            tail = ".".join(parts[-n:])
            if not any(other != path and other.endswith("." + tail) or other == tail
                       for other in paths if other != path):
                found[path] = tail
                break
        else:
            found[path] = path
    return found


def wrapped(label: str, width: int = 16) -> str:
    """A plot label broken onto lines (plotly's ``<br>``) after its dots, and inside a part
    only when the part alone is too long (after an underscore)."""
    if len(label) <= width:
        return label
    pieces = re.split(r"(?<=\.)", label)
    pieces = [p for piece in pieces for p in (
        re.split(r"(?<=_)", piece) if len(piece) > width else [piece])]
    lines, line = [], ""
    for piece in pieces:
        if line and len(line) + len(piece) > width:
            lines.append(line)
            line = ""
        line += piece
    return "<br>".join([*lines, line])


def key_values(rows: list[tuple[str, str]]) -> str:
    """A two-column table of names and values; both are escaped."""
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f'<table class="kv">{body}</table>'


def fmt(value: Any) -> str:
    """A value as the report writes it: ``—`` for none, integers without a point."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


def spread(trial: FrozenTrial) -> str:
    """``± std over n folds`` of a trial's validation scores, or nothing."""
    scores = fold_scores(trial)
    if len(scores) < 2:
        return ""
    return f"± {statistics.stdev(scores):.3g} over {len(scores)} folds"


def seconds(trial: FrozenTrial) -> str:
    """How long a finished trial ran, in seconds, or nothing."""
    if trial.datetime_start is None or trial.datetime_complete is None:
        return ""
    return f"{(trial.datetime_complete - trial.datetime_start).total_seconds():.2f}"
