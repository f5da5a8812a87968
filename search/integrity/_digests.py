"""One-way row digests: what the leak checks compare across the split without opening the test.

A digest tells whether two rows (or two group ids) are the same, and nothing about labels or
scores, so comparing the sealed test part's digests with the development rows' does not count
as opening it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


def row_digests(X: pd.DataFrame) -> np.ndarray:
    """pandas' stable 64-bit hash of each row's feature values (index ignored)."""
    import pandas as pd

    return pd.util.hash_pandas_object(X, index=False).to_numpy()


def value_digests(values: np.ndarray) -> np.ndarray:
    """pandas' stable 64-bit hash of each value."""
    import pandas as pd

    return pd.util.hash_pandas_object(pd.Series(values), index=False).to_numpy()
