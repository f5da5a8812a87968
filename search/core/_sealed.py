"""The sealed test part: split off at load, opened once by the final evaluation.

A :class:`Sealed` holds the test rows and refuses every way out of the driver process: it
cannot be pickled, copied or iterated. The only way in is :meth:`Sealed._open`, which the final
evaluation calls; it first records the opening in ``final.json`` (created exclusively, so a
second opening of the same study fails even across processes and crashes).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from search.core._errors import TestSetAlreadyOpened
from search.integrity._digests import row_digests, value_digests
from search.integrity._neighbours import Sketch

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


@dataclass(frozen=True)
class Fingerprint:
    """sha256 and shape of one part of the data, as recorded in ``study.json``."""

    sha256: str
    rows: int
    columns: int

    def to_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "shape": [self.rows, self.columns]}


class Sealed:
    """The test rows of a study, unreadable until the final evaluation opens them."""

    __slots__ = ("_X", "_y", "_groups", "fingerprint")

    def __init__(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        fingerprint: Fingerprint,
        groups: np.ndarray | None = None,
    ) -> None:
        self._X = X
        self._y = y
        self._groups = groups
        self.fingerprint = fingerprint

    def row_digests(self) -> set[int]:
        """One-way 64-bit digests of the test feature rows, for the duplicate-row leak check.

        They tell whether a development row also sits in the test part, and nothing about
        labels or scores, so the check does not count as opening the test set.
        """
        return set(row_digests(self._X).tolist())

    def group_digests(self) -> set[int]:
        """One-way digests of the test rows' group ids (empty without groups)."""
        if self._groups is None:
            return set()
        return set(value_digests(self._groups).tolist())

    def neighbour_distances(self, sketch: Sketch) -> np.ndarray:
        """Distances from sampled test rows to their nearest development rows, for the
        near-duplicate leak check.

        ``sketch`` (fitted on the development rows alone) embeds the test features here, in
        the driver, and only the sorted distances leave: no label, no score, no row, and not
        which test row a distance belongs to. Nothing of the user's runs on the rows (only the
        framework's own :class:`Sketch`), so the check does not count as opening the test set.
        """
        if type(sketch) is not Sketch:
            raise TypeError("the sealed test part is compared only through the framework's Sketch")
        return sketch.distances(self._X)

    def __repr__(self) -> str:
        fp = self.fingerprint
        return f"Sealed(rows={fp.rows}, columns={fp.columns}, sha256={fp.sha256[:12]}…)"

    def __len__(self) -> int:
        return self.fingerprint.rows

    def _refuse(self, *_: Any) -> NoReturn:
        raise TypeError(
            "the sealed test part cannot be pickled or copied: it never leaves the driver and "
            "is opened only by the final evaluation"
        )

    __reduce__ = __reduce_ex__ = __getstate__ = __copy__ = __deepcopy__ = _refuse  # type: ignore[assignment]

    def _open(self, ledger: Path, record: dict[str, Any]) -> tuple[pd.DataFrame, np.ndarray]:
        """Record the opening in ``ledger`` (created exclusively), then hand out the test rows.

        ``record`` is written first with ``status: opened``; the final evaluation rewrites the
        file with its results. If the file already exists the test set was opened before, and
        :class:`TestSetAlreadyOpened` is raised without touching it.
        """
        entry = {
            "status": "opened",
            "opened_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "test_fingerprint": self.fingerprint.to_dict(),
            **record,
        }
        try:
            fd = os.open(ledger, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            raise TestSetAlreadyOpened.at(ledger) from None
        with os.fdopen(fd, "w") as f:
            json.dump(entry, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        return self._X, self._y
