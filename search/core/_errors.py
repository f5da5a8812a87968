"""Errors the command line turns into exit statuses.

A :class:`UserError` is the user's input being wrong (study file, space, data, flags, a test set
already opened, a resume that does not match): the CLI prints its one-line message and exits 2,
having written nothing. A results folder that takes no more writes (a full disk, a quota, a
read-only file system) is a :class:`CannotWrite`, a :class:`UserError` raised at each write point
through :func:`writing`.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


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


#: what a file system says when it takes no more writes: a full disk, a quota, a read-only
#: (re)mount, a file over the size limit (``RLIMIT_FSIZE``)
FULL_ERRNOS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the file system is read-only",
    errno.EFBIG: "the file is over the size limit",
}


class CannotWrite(UserError):
    """A results folder takes no more writes (a full disk, a quota, a read-only file system):
    exit status 2, one line naming the folder; what was written before stays whole."""


def cannot_write(exc: BaseException, path: object) -> CannotWrite | None:
    """The one-line error for ``exc``, raised while writing ``path``, when the file system
    refused the write (:data:`FULL_ERRNOS`); ``None`` for any other error."""
    if not isinstance(exc, OSError) or exc.errno not in FULL_ERRNOS:
        return None
    where = Path(str(path)) if path else None
    what = f"{where.parent}: cannot write {where.name}" if where else "cannot write a result"
    fix = "make it writable" if exc.errno == errno.EROFS else "free space"
    return CannotWrite(
        f"{what}: {FULL_ERRNOS[exc.errno]} ({exc.strerror}); {fix} or give another --results "
        "folder (what was written before is kept whole)"
    )


@contextmanager
def writing(path: object) -> Iterator[None]:
    """Turn a full disk, quota or read-only file system met while writing ``path`` into a
    :class:`CannotWrite` naming it, with no traceback; other errors pass unchanged."""
    try:
        yield
    except OSError as exc:
        error = cannot_write(exc, path)
        if error is None:
            raise
        raise error from None
