"""``python -m search space SPACE --to wandb|ray|json``: print a space in another tool's format.

SPACE is a YAML/JSON space file, a ready-made space name, or a study file, whose space is
resolved as a run resolves it and whose metric and direction fill a W&B sweep's ``metric:``.
Anything wrong (a missing file, a space the format cannot hold) is a
:class:`~search.core._errors.UserError`: one line, exit status 2, nothing printed on stdout.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from search.core._errors import UserError

if TYPE_CHECKING:
    from spaces import Space


def print_space(source: str, to: str) -> int:
    """Write the space of ``source`` in the format ``to`` to stdout; return the exit status."""
    import spaces

    space, metric, goal = _read(source)
    try:
        text = spaces.export(space, to, metric=metric, goal=goal)
    except spaces.SpaceError as exc:
        raise UserError(f"{source}: {exc}") from None
    sys.stdout.write(text)
    return 0


def _read(source: str) -> tuple[Space, str | None, str | None]:
    """The space of ``source``, and the name and goal of its study's metric (when known)."""
    import spaces

    if source.endswith(".py"):
        from search.core._prepare import resolve
        from search.core._studyfile import load_study_file

        path = Path(source)
        study = load_study_file(path)
        parts = resolve(study, path.parent)
        metric = parts.metric.name if parts.metric is not None else None
        return parts.space, metric, parts.direction
    try:
        return spaces.load(source), None, None
    except spaces.SpaceError as exc:
        raise UserError(str(exc)) from None
