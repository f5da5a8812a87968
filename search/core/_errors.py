"""Errors the command line turns into exit statuses.

A :class:`UserError` is the user's input being wrong (study file, space, data, flags, a test set
already opened, a resume that does not match): the CLI prints its one-line message and exits 2,
having written nothing.
"""

from __future__ import annotations


class UserError(Exception):
    """Wrong input from the user; the message names the file, parameter or column and the fix."""


class TestSetAlreadyOpened(UserError):
    """The sealed test part of this study was opened before; it is opened exactly once."""

    __test__ = False  # not a pytest test class

    @classmethod
    def at(cls, ledger: object) -> TestSetAlreadyOpened:
        """The error for a study whose ``final.json`` (``ledger``) already exists."""
        return cls(
            f"{ledger}: the test set of this study was already opened; it is opened exactly "
            "once (the first result is kept)"
        )


class RunError(Exception):
    """The run could not go on (its workers cannot start, a final fit failed): exit status 1,
    with one line that says why, and every finished trial kept."""
