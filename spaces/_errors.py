"""The one exception of :mod:`spaces`, and how its message names the culprit.

A :class:`SpaceError` is raised deep inside a space (a bad ``step`` three branches down) by code
that does not know where it sits. Each enclosing level adds its part of the path on the way out
(:meth:`SpaceError.within`), and the loader adds the file (:meth:`SpaceError.in_file`), so the
message the user reads always starts with the file and the parameter's full path::

    space.yaml: model.svm.C: `low <= high` must hold, but got (low=3, high=1).
"""

from __future__ import annotations

from typing import Any

#: Placeholder in a reason for a second path that must be prefixed along with the first.
_OTHER = "{other}"


class SpaceError(ValueError):
    """A search space, a space file or a value given to a space is wrong.

    The message reads ``[file: ][line N, column M: ][full.path: ]reason``. The parts are kept as
    attributes for programs: ``source`` (the file or ``None``), ``line`` and ``column``
    (1-based, for syntax errors), ``path`` (the parameter's full path as a tuple of names and
    branch options) and ``reason``.
    """

    def __init__(
        self,
        reason: str,
        *,
        path: tuple[str, ...] = (),
        other: tuple[str, ...] | None = None,
        source: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.reason = reason
        self.path = tuple(path)
        self.other = other
        self.source = source
        self.line = line
        self.column = column
        super().__init__(self._render())

    @property
    def full_path(self) -> str:
        """The dotted full path of the parameter, e.g. ``"model.svm.C"`` (empty if none)."""
        return ".".join(self.path)

    def _render(self) -> str:
        parts = []
        if self.source is not None:
            parts.append(self.source)
        if self.line is not None:
            where = f"line {self.line}"
            if self.column is not None:
                where += f", column {self.column}"
            parts.append(where)
        if self.path:
            parts.append(self.full_path)
        reason = self.reason
        if self.other is not None:
            reason = reason.replace(_OTHER, ".".join(self.other))
        parts.append(reason)
        return ": ".join(parts)

    def within(self, *prefix: str) -> SpaceError:
        """The same error seen from ``prefix`` levels up (a parameter name, a branch option)."""
        other = None if self.other is None else (*prefix, *self.other)
        return SpaceError(
            self.reason,
            path=(*prefix, *self.path),
            other=other,
            source=self.source,
            line=self.line,
            column=self.column,
        )

    def in_file(self, source: str) -> SpaceError:
        """The same error, prefixed with the file (or other source) it came from."""
        return SpaceError(
            self.reason,
            path=self.path,
            other=self.other,
            source=source,
            line=self.line,
            column=self.column,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments do not survive the default exception pickling, and errors
        # cross process boundaries (workers, Ray actors).
        return (_rebuild, (self.reason, self.__dict__.copy()))


def _rebuild(reason: str, state: dict[str, Any]) -> SpaceError:
    keys = ("path", "other", "source", "line", "column")
    return SpaceError(reason, **{key: state[key] for key in keys})
