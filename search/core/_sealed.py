"""The sealed test part: split off at load, opened once by the final evaluation.

A :class:`Sealed` holds the test rows and refuses every way out of the driver process: it
cannot be pickled, copied or iterated. The only way in is :meth:`Sealed._open`, which the final
evaluation calls; it first records the opening in ``final.json`` (a whole file linked to its
name exclusively, so a second opening of the same study fails even across processes and
crashes). :meth:`Sealed._reopen` hands the rows out again only to score the model that an
opening recorded (saved before it) but that was never scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from search.core._errors import TestSetAlreadyOpened
from search.core._folder import write_json
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
        """Record the opening in ``ledger``, whole and exclusively, then hand out the test rows.

        ``record`` is written with ``status: opened`` into a temporary file that is then linked
        to the ledger's name: the link fails when the file exists (the test set was opened
        before, even by another process), so :class:`TestSetAlreadyOpened` is raised without
        touching it; a kill or a full disk leaves no ledger or a whole one, never a part (and a
        ledger that cannot be written keeps the test set sealed). The final evaluation then
        rewrites the file with its results.
        """
        entry = {
            "status": "opened",
            "opened_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "test_fingerprint": self.fingerprint.to_dict(),
            "test_rows": len(self),
            **record,
        }
        try:
            write_json(ledger, entry, exclusive=True)
        except FileExistsError:
            raise TestSetAlreadyOpened.at(ledger) from None
        return self._X, self._y

    def _reopen(self, ledger: Path, opened: dict[str, Any]) -> tuple[pd.DataFrame, np.ndarray]:
        """The test rows again, to score the model an opening recorded but never scored.

        ``opened`` is the ledger as read (``status: opened``, this test part's fingerprint);
        the caller has checked that the model it scores is the one saved before the opening.
        """
        if opened.get("status") != "opened":
            raise TestSetAlreadyOpened.at(ledger)
        if opened.get("test_fingerprint") != self.fingerprint.to_dict():
            raise TestSetAlreadyOpened(
                f"{ledger}: recorded the opening of another test part (its fingerprint "
                "differs); the test set is not opened again"
            )
        return self._X, self._y
