"""Where trials run: worker processes on this machine, or Ray actors on one machine or a cluster.

A placement starts workers and tells when one died; the engine (:mod:`search.core._engine`)
does everything else the same way for every placement. A new placement (a job queue, Dask) is
one small module with a class like :class:`~search.backends._local.LocalPlacement`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from search.core._options import RunOptions
    from search.core._pool import Placement
    from search.core._study import Study

__all__ = ["local_placement", "placement_for"]


def placement_for(study: Study, options: RunOptions) -> Placement:
    """The placement of the study's backend; Ray starts or is reached here (nothing written)."""
    if study.backend == "ray":
        from search.backends.ray._placement import RayPlacement

        return RayPlacement.connect(study, options)
    return local_placement()


def local_placement() -> Placement:
    """Worker processes on this machine."""
    from search.backends._local import LocalPlacement

    return LocalPlacement()
