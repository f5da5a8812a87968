"""Undeclared groups: several rows of one entity (a patient, a device, a session) on both
sides of a random split.

When the target belongs to the entity, a model that recognises the entity (by an id column
left as a feature, or by features that repeat per entity) predicts the target from memory,
and validation and test agree because both share the leak. A key (one column's values, or a
pair of columns' values) looks like an entity id when all of these hold:

- **repeated values, many ids**: at least :data:`MIN_IDS` keys with two rows or more, and at
  least half the rows in such keys;
- **the target nearly constant within a key**: predicting a row from the other rows of its
  key (leave-one-out) recovers at least :data:`SAME_LIFT` of the room above chance
  (accuracy over the majority class, or R²);
- **a key, not a measurement**: the two nearest *other* keys predict at most
  :data:`NEAR_RATIO` of that (a measurement such as a rounded length predicts as well from
  its neighbouring values; an entity's neighbour is another entity). Text has no nearest
  value, so a text key needs instead rows of one key that are alike: another column whose
  variance lies almost all between keys.

Numbers are keyed by their exact values; floats with no exact repeats by 1-d clusters (a
split wherever a gap between sorted values is :data:`GAP_FACTOR` times the median gap of its
block of :data:`GAP_WINDOW`),
so a fingerprint with a little noise still keys its entity. Patterns without an id column
are searched among single columns and pairs of the :data:`PAIR_COLUMNS` most repetitive
numeric columns. Up to :data:`SAMPLE_ROWS` rows are used (a random sample beyond, said in
the finding). Skipped when groups are declared or the data are time-ordered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

MIN_IDS = 20
MIN_REPEATED = 0.5
SAME_LIFT = 0.8
NEAR_RATIO = 0.5
#: a column is alike within keys when keys hold this share of its variance beyond chance
ALIKE = 0.9
SAMPLE_ROWS = 50_000
PAIR_COLUMNS = 12
GAP_FACTOR = 8.0
#: gaps are compared with the median gap of their block of this many sorted gaps
GAP_WINDOW = 101
#: other columns measured for alikeness, at most
ALIKE_COLUMNS = 100


@dataclass(frozen=True, eq=False)
class Key:
    """Rows keyed by ``columns``: an integer ``code`` a row, each key's position (``None``
    for text, which has no order), and whether the key is an id's (integers or text)."""

    columns: tuple[str, ...]
    codes: np.ndarray
    positions: np.ndarray | None
    id_like: bool


@dataclass(frozen=True)
class Evidence:
    """What a key shows: ids with two rows or more, rows a key, and the leave-one-out score
    within a key (``same``), from the nearest other keys (``near``) and by ``chance``."""

    ids: int
    rows_per_id: float
    same: float
    near: float | None
    chance: float
    alike: tuple[str, ...]

    @property
    def same_lift(self) -> float:
        return _lift(self.same, self.chance)

    @property
    def near_lift(self) -> float | None:
        return None if self.near is None else _lift(self.near, self.chance)


def _lift(score: float, chance: float) -> float:
    return (score - chance) / (1.0 - chance) if chance < 1.0 else 0.0


@dataclass(frozen=True)
class EntityFinding:
    """A key that looks like an entity id, its evidence, and how many rows were looked at."""

    key: Key
    evidence: Evidence
    rows: int
    sampled: bool


def undeclared_groups(X: pd.DataFrame, y: np.ndarray, task: str, seed: int) -> list[EntityFinding]:
    """Keys (columns or pairs of columns) that look like undeclared entity ids."""
    import numpy as np

    from search.integrity._neighbours import sample

    rows = sample(len(X), SAMPLE_ROWS, seed)
    sampled = len(rows) < len(X)
    X = X.iloc[rows].reset_index(drop=True)
    target = _target(np.asarray(y)[rows], task)
    numeric = _numeric_matrix(X)
    found: list[tuple[Key, Evidence]] = []
    absorbed: set[str] = set()
    repetitive: list[tuple[int, Key, np.ndarray]] = []
    keys = [k for c in X.columns if (k := column_key(X[c])) is not None]
    for key in sorted(keys, key=lambda k: not k.id_like):  # ids first, then fingerprints
        ids = _repeated_ids(key.codes)
        if ids is None or key.columns[0] in absorbed:
            continue
        evidence = _evidence(key, target, task, numeric)
        if _looks_like_entity(evidence):
            found.append((key, evidence))
            absorbed.update(key.columns, evidence.alike)
        elif key.positions is not None:
            repetitive.append((ids, key, key.positions))
    repetitive = [r for r in repetitive if r[1].columns[0] not in absorbed]
    found += _pairs(repetitive, target, task, numeric)
    return [EntityFinding(k, e, len(X), sampled) for k, e in found]


def _pairs(
    repetitive: list[tuple[int, Key, np.ndarray]], target: np.ndarray, task: str,
    numeric: tuple[list[str], np.ndarray],
) -> list[tuple[Key, Evidence]]:
    """Pairs of repetitive numeric columns whose values together key entities."""
    import numpy as np

    top = sorted(repetitive, key=lambda r: -r[0])[:PAIR_COLUMNS]
    found: list[tuple[Key, Evidence]] = []
    used: set[str] = set()
    for i, (_, a, a_at) in enumerate(top):
        for _, b, b_at in top[i + 1 :]:
            if used & {a.columns[0], b.columns[0]}:
                continue
            joint = a.codes.astype(np.int64) * (int(b.codes.max()) + 1) + b.codes
            codes = np.unique(joint, return_inverse=True)[1].ravel()
            if _repeated_ids(codes) is None:
                continue
            key = Key(a.columns + b.columns, codes, np.column_stack([a_at, b_at]), id_like=False)
            evidence = _evidence(key, target, task, numeric)
            if _looks_like_entity(evidence):
                found.append((key, evidence))
                used.update(key.columns)
    return found


def _looks_like_entity(evidence: Evidence) -> bool:
    if evidence.same_lift < SAME_LIFT:
        return False
    near = evidence.near_lift
    if near is None:  # text: no neighbouring value; rows of one key must be alike instead
        return bool(evidence.alike)
    return near <= NEAR_RATIO * evidence.same_lift


def _target(y: np.ndarray, task: str) -> np.ndarray:
    import numpy as np

    if task == "classification":
        return np.unique(y, return_inverse=True)[1].ravel()
    return y.astype(float)


def _numeric_matrix(X: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    """The numeric columns (at most :data:`ALIKE_COLUMNS`) as floats, missing at the median."""
    import numpy as np
    import pandas as pd

    names = [c for c in X.columns
             if pd.api.types.is_numeric_dtype(X[c]) and not pd.api.types.is_bool_dtype(X[c])]
    names = names[:ALIKE_COLUMNS]
    values = X.loc[:, names].to_numpy(dtype=float, na_value=np.nan)
    if values.size:
        values = np.where(np.isfinite(values), values, np.nanmedian(values, axis=0))
    return names, values


def column_key(values: pd.Series) -> Key | None:
    """One column's key: exact values for integers and text, 1-d clusters for floats."""
    import numpy as np
    import pandas as pd

    name = str(values.name)
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
        return None
    if not pd.api.types.is_numeric_dtype(values):
        codes = pd.factorize(values.astype("string"), use_na_sentinel=False)[0]
        return Key((name,), codes, None, id_like=True)
    x = values.to_numpy(dtype=float, na_value=np.nan)
    finite = np.isfinite(x)
    if not finite.any():
        return None
    x = np.where(finite, x, np.nanmin(x) - 1.0)
    integral = bool(np.all(x == np.round(x)))
    codes = np.unique(x, return_inverse=True)[1].ravel() if integral else _clusters(x)
    spread = float(np.std(x)) or 1.0
    return Key((name,), codes, ((x - float(np.median(x))) / spread)[:, None], id_like=integral)


def _clusters(x: np.ndarray) -> np.ndarray:
    """1-d clusters: sorted values split where a gap is :data:`GAP_FACTOR` times the local
    median gap (every distinct value its own cluster where most neighbours are ties)."""
    import numpy as np

    order = np.argsort(x, kind="stable")
    gaps = np.diff(x[order])
    if len(gaps) == 0:
        return np.zeros(len(x), dtype=np.int64)
    blocks = -(-len(gaps) // GAP_WINDOW)
    padded = np.full(blocks * GAP_WINDOW, np.nan)
    padded[: len(gaps)] = gaps
    local = np.repeat(np.nanmedian(padded.reshape(blocks, GAP_WINDOW), axis=1), GAP_WINDOW)
    local = local[: len(gaps)]
    split = gaps > GAP_FACTOR * local
    codes = np.empty(len(x), dtype=np.int64)
    codes[order] = np.concatenate([[0], np.cumsum(split)])
    return codes


def _repeated_ids(codes: np.ndarray) -> int | None:
    """How many keys have two rows or more, when they are many and hold half the rows."""
    import numpy as np

    sizes = np.bincount(codes)
    repeated = sizes >= 2
    if int(repeated.sum()) < MIN_IDS or sizes[repeated].sum() < MIN_REPEATED * len(codes):
        return None
    return int(repeated.sum())


def _evidence(
    key: Key, target: np.ndarray, task: str, numeric: tuple[list[str], np.ndarray]
) -> Evidence:
    """Leave-one-out scores within a key and from its nearest other keys, and alike columns
    (the last two only for a key whose target is nearly constant: the rest is not needed)."""
    import numpy as np

    codes = key.codes
    sizes = np.bincount(codes)
    rows = sizes[codes] >= 2
    scores = _class_scores if task == "classification" else _value_scores
    same, near, chance = scores(codes, target, rows, None)
    alike: tuple[str, ...] = ()
    if _lift(same, chance) >= SAME_LIFT:
        if key.positions is not None:
            nearest = _nearest_keys(codes, key.positions, sizes)
            same, near, chance = scores(codes, target, rows, nearest)
        alike = _alike(codes, sizes, key.columns, numeric)
    repeated = sizes >= 2
    return Evidence(
        ids=int(repeated.sum()),
        rows_per_id=float(sizes[repeated].mean()),
        same=same,
        near=near,
        chance=chance,
        alike=alike,
    )


def _nearest_keys(codes: np.ndarray, positions: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """For each key, its two nearest other keys by mean position (a row of two key codes)."""
    import numpy as np
    from scipy.spatial import cKDTree

    n_keys = len(sizes)
    centres = np.zeros((n_keys, positions.shape[1]))
    for d in range(positions.shape[1]):
        centres[:, d] = np.bincount(codes, positions[:, d], minlength=n_keys)
    centres /= np.maximum(sizes, 1)[:, None]
    _, index = cKDTree(centres).query(centres, k=3)  # keys >= MIN_IDS, so three exist
    index = np.asarray(index)
    own = index == np.arange(n_keys)[:, None]  # the key itself: usually first, ties may move it
    others = np.take_along_axis(index, np.argsort(own, axis=1, kind="stable"), axis=1)
    return others[:, :2]


def _indicator(codes: np.ndarray, n: int) -> Any:
    """A sparse ``n`` x rows matrix with a 1 at (code, row): sums by key in one product."""
    import numpy as np
    from scipy.sparse import csr_matrix

    rows = np.arange(len(codes))
    return csr_matrix((np.ones(len(codes)), (codes, rows)), shape=(n, len(codes)))


def _class_scores(
    codes: np.ndarray, y: np.ndarray, rows: np.ndarray, nearest: np.ndarray | None
) -> tuple[float, float | None, float]:
    """Accuracy of the leave-one-out majority class within a key and of the nearest keys'."""
    import numpy as np

    n_classes = int(y.max()) + 1
    counts = (_indicator(codes, int(codes.max()) + 1) @ _indicator(y, n_classes).T).toarray()
    own = counts[codes[rows]].copy()
    own[np.arange(int(rows.sum())), y[rows]] -= 1.0  # leave the row out
    best = own.max(axis=1)
    hit = own[np.arange(len(best)), y[rows]] == best
    same = float(np.mean(hit / (own == best[:, None]).sum(axis=1)))  # ties split
    chance = float(np.bincount(y).max() / len(y))
    near = None
    if nearest is not None:
        pooled = counts[nearest[:, 0]] + counts[nearest[:, 1]]
        guess = pooled.argmax(axis=1)
        near = float(np.mean(guess[codes[rows]] == y[rows]))
    return same, near, chance


def _value_scores(
    codes: np.ndarray, y: np.ndarray, rows: np.ndarray, nearest: np.ndarray | None
) -> tuple[float, float | None, float]:
    """R² of the leave-one-out mean within a key and of the nearest keys' mean."""
    import numpy as np

    sums, sizes = np.bincount(codes, y), np.bincount(codes).astype(float)
    yr, cr = y[rows], codes[rows]
    total = float(np.sum((yr - y.mean()) ** 2)) or 1.0
    loo = (sums[cr] - yr) / (sizes[cr] - 1.0)
    same = 1.0 - float(np.sum((yr - loo) ** 2)) / total
    near = None
    if nearest is not None:
        a, b = nearest[:, 0], nearest[:, 1]
        guess = (sums[a] + sums[b]) / np.maximum(sizes[a] + sizes[b], 1.0)
        near = 1.0 - float(np.sum((yr - guess[cr]) ** 2)) / total
    return same, near, 0.0


def _alike(
    codes: np.ndarray, sizes: np.ndarray, own: tuple[str, ...],
    numeric: tuple[list[str], np.ndarray],
) -> tuple[str, ...]:
    """Other numeric columns whose variance lies almost all between keys (beyond chance)."""
    import numpy as np

    names, values = numeric
    if not names:
        return ()
    n, n_keys = len(codes), int((sizes > 0).sum())
    centred = values - values.mean(axis=0)
    total = np.sum(centred**2, axis=0)
    sums = _indicator(codes, len(sizes)) @ centred
    between = np.sum(sums**2 / np.maximum(sizes, 1)[:, None], axis=0)
    chance = (n_keys - 1) / max(n - 1, 1)
    share = np.where(total > 0, between / np.where(total > 0, total, 1.0), 0.0)
    adjusted = (share - chance) / (1.0 - chance) if chance < 1 else np.zeros_like(share)
    return tuple(c for c, a in zip(names, adjusted, strict=True) if a >= ALIKE and c not in own)
