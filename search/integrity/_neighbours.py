"""Near-duplicates across the split: jittered or augmented copies of one row on both sides.

Exact duplicates are found by row digests; a copy with a little noise added has another
digest. Here a test row is a near-duplicate when its nearest development row is far closer
than its 20th nearest: ``d1 / d20 < r``. For rows drawn independently from a smooth density
in ``m`` dimensions that ratio is small by chance with probability ``1 - (1 - r**m)**19``
(the 19 nearer rows fall uniformly in the volume of the 20th's ball), so the count of such
test rows is compared with that chance count, ``m`` estimated from the development rows'
own 10th and 20th neighbours (Levina & Bickel 2004). Low-dimensional or heavily rounded data
(where close rows are natural) raise the chance count instead of raising an alarm; the check
sees copies of a row up to about ten times (beyond that the 20th neighbour is a copy too).

The sealed test part is compared through a :class:`Sketch` fitted on the development rows
alone: numeric columns, standardised, randomly projected to 32 dimensions when wider, and
the embedded development rows as reference. ``Sealed.neighbour_distances`` runs the sketch
on its own rows and hands back only the distances from each of up to 500 sampled test rows
to its 20 nearest development rows (sorted, test-row order dropped): no label, no score, no
row, so the check does not open the test set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

#: neighbours per row: the 20th sets the scale a row's nearest is compared with
K = 20
#: neighbours whose distances estimate the data's dimension (the 10th against the 20th)
DIM_K = 10
#: wider data are projected to this many dimensions (distances keep their ratios closely)
MAX_DIMS = 32
#: test rows compared at most, and development rows that measure the data's own spacing
TEST_ROWS = 500
DEV_ROWS = 500
#: ratios d1 / d20 tried; a finding needs a count far above chance at one of them
RATIOS = (0.02, 0.05, 0.1, 0.2)
P_VALUE = 1e-6
MIN_ROWS = 3
MIN_SHARE = 0.01
EXCESS = 3.0
#: queries compared at once (a block of 64 x 100,000 distances is 51 MB)
CHUNK = 64


@dataclass(frozen=True, eq=False)
class Sketch:
    """What a near-duplicate check knows of the development rows, fitted on them alone.

    ``columns`` are the numeric feature columns used, ``center`` and ``scale`` their
    development medians and standard deviations, ``projection`` a random matrix to at most
    :data:`MAX_DIMS` dimensions (``None`` when narrow enough) and ``reference`` the development
    rows embedded. ``rows`` and ``seed`` set the sample of rows a query compares.
    """

    columns: tuple[str, ...]
    center: np.ndarray
    scale: np.ndarray
    projection: np.ndarray | None
    reference: np.ndarray
    rows: int
    seed: int

    @classmethod
    def of(cls, X: pd.DataFrame, *, seed: int, rows: int = TEST_ROWS) -> Sketch | None:
        """The sketch of development rows ``X``; ``None`` without two numeric columns' worth."""
        import numpy as np
        import pandas as pd

        numeric = [
            c for c in X.columns
            if pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c])
        ]
        if not numeric or len(X) <= K:
            return None
        values = _floats(X, numeric)
        center = np.nanmedian(values, axis=0)
        values = np.where(np.isfinite(values), values, center)
        scale = values.std(axis=0)
        keep = scale > 0
        if not keep.any():
            return None
        columns = tuple(c for c, k in zip(numeric, keep, strict=True) if k)
        center, scale = center[keep], scale[keep]
        projection = None
        if len(columns) > MAX_DIMS:
            rng = np.random.default_rng(seed)
            projection = rng.normal(size=(len(columns), MAX_DIMS)) / np.sqrt(MAX_DIMS)
        z = (values[:, keep] - center) / scale
        reference = z @ projection if projection is not None else z
        return cls(columns, center, scale, projection, np.ascontiguousarray(reference), rows, seed)

    def embed(self, X: pd.DataFrame) -> np.ndarray:
        """Rows of ``X`` in the sketch's space (missing values at the development median)."""
        import numpy as np

        values = _floats(X, list(self.columns))
        values = np.where(np.isfinite(values), values, self.center)
        z = (values - self.center) / self.scale
        return z @ self.projection if self.projection is not None else z

    def distances(self, X: pd.DataFrame) -> np.ndarray:
        """Distances from up to ``rows`` rows of ``X`` to their :data:`K` nearest reference
        rows, one row of ``K`` ascending distances each, ordered by the nearest (so the
        sampled rows' own order is not kept)."""
        import numpy as np

        pick = sample(len(X), self.rows, self.seed)
        found = nearest(self.embed(X.iloc[pick]), self.reference, K)
        return found[np.argsort(found[:, 0], kind="stable")]


def _floats(X: pd.DataFrame, columns: list[str]) -> np.ndarray:
    import numpy as np

    return X.loc[:, columns].to_numpy(dtype=float, na_value=np.nan)


def sample(n: int, size: int, seed: int) -> np.ndarray:
    """Sorted positions of a seeded random sample of ``size`` of ``n`` rows (all if fewer)."""
    import numpy as np

    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size, replace=False))


def nearest(
    query: np.ndarray, reference: np.ndarray, k: int, exclude: np.ndarray | None = None
) -> np.ndarray:
    """Ascending distances from each query row to its ``k`` nearest reference rows, by brute
    force in blocks; ``exclude[i]`` is a reference row that query row ``i`` may not use (itself)."""
    import numpy as np

    k = min(k, len(reference) - (1 if exclude is not None else 0))
    ref_sq = np.einsum("ij,ij->i", reference, reference)
    out = np.empty((len(query), k))
    for start in range(0, len(query), CHUNK):
        q = query[start : start + CHUNK]
        d2 = q @ reference.T  # in place from here: a block is large, each pass costs
        d2 *= -2.0
        d2 += ref_sq[None, :]
        d2 += np.einsum("ij,ij->i", q, q)[:, None]
        if exclude is not None:
            d2[np.arange(len(q)), exclude[start : start + CHUNK]] = np.inf
        part = np.sort(np.partition(d2, k - 1, axis=1)[:, :k])
        part[part < 1e-9] = 0.0  # rounding of |q|^2 + |r|^2 - 2 q.r for identical rows
        out[start : start + len(q)] = np.sqrt(part)
    return out


def dimension(distances: np.ndarray) -> float:
    """The data's dimension from rows' 10th and 20th neighbour distances (Levina–Bickel):
    ``log(d20 / d10)`` averages ``(psi(20) - psi(10)) / m`` for a smooth density in ``m``
    dimensions."""
    import numpy as np

    if distances.shape[1] < K:
        return 1.0
    near, far = distances[:, DIM_K - 1], distances[:, K - 1]
    ok = near > 0
    if not ok.any():
        return 1.0
    spread = float(np.mean(np.log(far[ok] / near[ok])))
    expected = sum(1.0 / i for i in range(DIM_K, K))  # psi(20) - psi(10)
    return expected / spread if spread > 0 else float(distances.shape[1])


def dev_distances(sketch: Sketch) -> np.ndarray:
    """Distances from up to :data:`DEV_ROWS` sampled development rows to their :data:`K`
    nearest other development rows: the data's own spacing."""
    pick = sample(len(sketch.reference), DEV_ROWS, sketch.seed)
    return nearest(sketch.reference[pick], sketch.reference, K, exclude=pick)


@dataclass(frozen=True)
class NearCopies:
    """The strongest excess of close test rows: at ratio ``ratio``, ``count`` of ``checked``
    rows against ``expected`` by chance, their median ratio, and the development share."""

    ratio: float
    count: int
    checked: int
    expected: float
    p_value: float
    median_ratio: float
    dev_share: float
    dimension: float
    sampled: bool = False


def near_copies(test: np.ndarray, dev: np.ndarray, total: int) -> NearCopies | None:
    """Compare test rows' neighbour distances with chance; ``None`` when nothing stands out.

    ``test`` and ``dev`` hold :data:`K` ascending neighbour distances a row (test rows to the
    development rows, of ``total`` test rows; sampled development rows to the others). Exact
    copies (distance 0) are left to the row digests.
    """
    import numpy as np
    from scipy.stats import binom

    if test.shape[1] < K or dev.shape[1] < K:
        return None
    m = min(max(dimension(dev), 1.0), float(MAX_DIMS))
    scale = test[:, -1]
    usable = scale > 0  # twenty identical rows: rounding, not copies (digests see exact ones)
    ratios = test[usable, 0] / scale[usable]
    dev_ratios = dev[dev[:, -1] > 0, 0] / dev[dev[:, -1] > 0, -1]
    best: NearCopies | None = None
    for r in RATIOS:
        chance = 1.0 - (1.0 - r**m) ** (K - 1)
        close = ratios[(ratios > 0) & (ratios < r)]
        count, n = len(close), len(ratios)
        expected = n * chance
        if count < max(MIN_ROWS, MIN_SHARE * n) or count < EXCESS * expected:
            continue
        p = float(binom.sf(count - 1, n, chance))
        if p < P_VALUE and (best is None or p < best.p_value):
            share = float(np.mean(dev_ratios < r)) if len(dev_ratios) else 0.0
            best = NearCopies(r, count, n, expected, p, float(np.median(close)), share, m,
                              sampled=total > len(test))
    return best
