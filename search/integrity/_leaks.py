"""Leak checks run before the search, each naming the columns or rows at fault.

Kapoor & Narayanan (2023) list the ways leakage inflates scores silently. What the framework
can prevent by construction it does (preprocessing is fitted inside training folds, the test
part is split off first); what it can only detect is checked here:

- exact duplicate rows shared between the development and test parts;
- near-duplicates across the split: jittered or augmented copies (``_neighbours``);
- a single feature that is the target, or a function of it (target leakage), told apart
  from a merely strong feature; on time-ordered data a past value of the target is not one;
- group ids shared across the split, when groups are declared;
- undeclared groups: an entity id left as a feature, or features that repeat per entity,
  when no groups are declared (``_entities``);
- time order violated, when the data are time-ordered;
- identifier-like columns (unique on every row).

The duplicate and group checks compare one-way row digests of the sealed part, and the
near-duplicate check distances computed by the framework's own sketch; neither reads a test
label or opens the test set. Findings are warnings, or errors when the study is strict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from search.integrity._digests import row_digests, value_digests
from search.integrity._entities import EntityFinding, undeclared_groups
from search.integrity._neighbours import Sketch, dev_distances, near_copies

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from objectives import DevData


class Digests(Protocol):
    """What the checks may learn of the sealed test part: one-way digests, nothing more."""

    def row_digests(self) -> set[int]: ...

    def group_digests(self) -> set[int]: ...

    def neighbour_distances(self, sketch: Sketch) -> np.ndarray: ...

    def __len__(self) -> int: ...

#: a single feature scoring at least this on its own is called a target leak
LEAK_SCORE = 0.99
#: ... when the target is also a function of it: rows next to each other in the feature's
#: order have this share of the target's variance (or class agreement beyond chance) alike
FUNCTION_SCORE = 0.999
#: on time-ordered data, a feature that matches the target of up to this many rows earlier
#: better than its own row's is a past value of the target, which is legitimate
MAX_LAG = 10
#: rows sampled for the single-feature check, and columns checked at most
SAMPLE_ROWS = 5000
MAX_COLUMNS = 200
MIN_ROWS_FOR_ID = 20


@dataclass(frozen=True)
class Finding:
    """One suspected leak: its kind and a one-line message naming columns or rows."""

    kind: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "message": self.message}


def check_leaks(
    dev: DevData, test: Digests, *, groups: str | None, time: str | None, seed: int
) -> list[Finding]:
    """Run every check; return the findings (empty when clean).

    ``dev`` is the development part, ``test`` the sealed part's digests; ``groups`` and
    ``time`` name the data's groups and time columns (``time`` ``None`` when the rows are in
    time order without a column).
    """
    findings = _duplicates(dev.X, test)
    findings += _near_duplicates(dev.X, test, seed)
    findings += _single_feature_leaks(dev.X, dev.y, dev.task, seed, lags=dev.time_ordered)
    if dev.groups is not None:
        findings += _shared_groups(dev.groups, test, groups)
    elif not dev.time_ordered:
        findings += _undeclared_groups(dev.X, dev.y, dev.task, seed)
    if dev.time_ordered:
        findings += _time_order(dev.X, time)
    findings += _identifiers(dev.X, time)
    return findings


def _rows(positions: list[int]) -> str:
    shown = ", ".join(map(str, positions[:5]))
    return shown + (", …" if len(positions) > 5 else "")


def _duplicates(X: pd.DataFrame, test: Digests) -> list[Finding]:
    sealed = test.row_digests()
    digests = row_digests(X)
    shared = [i for i, d in enumerate(digests.tolist()) if d in sealed]
    if not shared:
        return []
    return [
        Finding(
            "duplicate_rows",
            f"{len(shared)} development rows are exact duplicates of test rows "
            f"(development rows {_rows(shared)}); drop duplicates before splitting, "
            "or the test score repeats the training data",
        )
    ]


def _near_duplicates(X: pd.DataFrame, test: Digests, seed: int) -> list[Finding]:
    """Test rows with a development row far closer than rows usually are (jittered copies)."""
    sketch = Sketch.of(X, seed=seed)
    if sketch is None:
        return []
    found = near_copies(test.neighbour_distances(sketch), dev_distances(sketch), len(test))
    if found is None:
        return []
    sampled = f" (a random sample of {found.checked} test rows)" if found.sampled else ""
    return [
        Finding(
            "near_duplicates",
            f"{found.count} of {found.checked} test rows{sampled} have a development row far "
            f"closer than rows usually are: nearest at a median {found.median_ratio:.3f} of "
            f"the 20th-nearest distance, {found.expected:.1f} such rows expected by chance; "
            f"{found.dev_share:.0%} of development rows have such a near copy too. Jittered "
            "or augmented copies? Give each original row's copies one group id "
            "(groups=\"original\"), or drop the copies",
        )
    ]


def _undeclared_groups(X: pd.DataFrame, y: Any, task: str, seed: int) -> list[Finding]:
    """Columns (or pairs) that key entities whose rows share the target, undeclared."""
    return [Finding("undeclared_groups", _entity_message(f)) for f in undeclared_groups(
        X, y, task, seed)]


def _entity_message(found: EntityFinding) -> str:
    key, ev = found.key, found.evidence
    names = " and ".join(f"'{c}'" for c in key.columns)
    score = "accuracy" if ev.chance > 0 else "R²"
    evidence = (
        f"{ev.ids} ids with {ev.rows_per_id:.1f} rows each; the target is nearly the same "
        f"within an id ({score} {ev.same:.2f} from the id's other rows, {ev.chance:.2f} by "
        "chance"
    )
    evidence += f", {ev.near:.2f} from neighbouring ids)" if ev.near is not None else ")"
    if ev.alike:
        evidence += f"; rows of one id are alike in {', '.join(repr(c) for c in ev.alike[:5])}"
    sampled = f" (on a random sample of {found.rows} rows)" if found.sampled else ""
    if key.id_like and len(key.columns) == 1:
        return (
            f"column {names} looks like an undeclared entity id{sampled}: {evidence}. "
            f"If new data bring new ids, declare it, Data(..., groups=\"{key.columns[0]}\"), "
            "so that each id's rows stay on one side of every split"
        )
    return (
        f"columns {names} repeat per entity like a fingerprint{sampled}: {evidence}. "
        "Add the entity's id as a column and declare it (groups=\"patient\"), so that "
        "each entity's rows stay on one side of every split"
    )


def _single_feature_leaks(
    X: pd.DataFrame, y: Any, task: str, seed: int, *, lags: bool = False
) -> list[Finding]:
    """Columns that are the target or a function of it: alone they predict it almost
    perfectly (a shallow tree, 3-fold CV; for regression also a monotone map) and rows next to
    each other in the column's order have alike targets. With ``lags`` (time-ordered rows) a
    column that matches an earlier row's target better than its own row's is a lagged
    measurement, which is legitimate."""
    import numpy as np
    import pandas as pd
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    rng = np.random.default_rng(seed)
    rows = np.arange(len(X))
    if len(rows) > SAMPLE_ROWS:
        rows = np.sort(rng.choice(rows, SAMPLE_ROWS, replace=False))
    full = _target_values(np.asarray(y), task)
    target = full[rows]
    if task == "classification":
        if np.unique(target, return_counts=True)[1].min() < 3:
            return []
        model: Any = DecisionTreeClassifier(max_depth=4, random_state=seed)
        cv: Any = StratifiedKFold(3, shuffle=True, random_state=seed)
        scoring = "balanced_accuracy"
    else:
        model = DecisionTreeRegressor(max_depth=4, random_state=seed)
        cv = KFold(3, shuffle=True, random_state=seed)
        scoring = "r2"
    sampled = f" on a random sample of {len(rows):,} rows" if len(rows) < len(X) else ""
    findings = []
    for column in list(X.columns)[:MAX_COLUMNS]:
        feature = _feature_values(X[column].iloc[rows])
        score = float(
            np.mean(cross_val_score(model, feature.reshape(-1, 1), target, cv=cv, scoring=scoring))
        )
        metric, how = scoring, "a depth-4 tree"
        if task == "regression":
            rank = pd.Series(feature).corr(pd.Series(target), method="spearman")
            if np.isfinite(rank) and rank**2 > score:
                score, metric, how = float(rank**2), "squared rank correlation", "a monotone map"
        if score < LEAK_SCORE or _function_score(feature, target, task) < FUNCTION_SCORE:
            continue  # merely strong: a good feature, not the target
        if lags and _past_target(_feature_values(X[column]), full, task):
            continue  # a lagged measurement of the target: known at prediction time
        findings.append(
            Finding(
                "target_leak",
                f"column '{column}' alone predicts the target ({metric} {score:.3f} with "
                f"{how}{sampled}), and the target is a function of it: is it derived from the target "
                "or known only afterwards? Drop it",
            )
        )
    return findings


def _target_values(y: np.ndarray, task: str) -> np.ndarray:
    import numpy as np

    if task == "classification":
        return np.unique(y, return_inverse=True)[1].ravel().astype(float)
    return y.astype(float)


def _feature_values(values: pd.Series) -> np.ndarray:
    """A column as floats: numbers as they are (missing below the smallest), else codes."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        feature = values.to_numpy(dtype=float, na_value=np.nan)
        finite = np.isfinite(feature)
        return np.where(finite, feature, np.nanmin(feature) - 1 if finite.any() else 0.0)
    return pd.factorize(values.astype("string"))[0].astype(float)


def _function_score(feature: np.ndarray, target: np.ndarray, task: str) -> float:
    """How far the target is a function of ``feature``: 1 when rows next to each other in
    the feature's order have the same target, 0 when no more alike than random rows (half the
    mean squared difference over the variance; for classes, changes of class beyond one a
    class over chance's)."""
    import numpy as np

    if len(target) < 3:
        return 0.0
    t = target[np.argsort(feature, kind="stable")]
    if task == "classification":  # each class one block at best: k - 1 changes are free
        counts = np.unique(t, return_counts=True)[1]
        chance = 1.0 - float(np.sum((counts / len(t)) ** 2))
        changes = max(int(np.sum(t[1:] != t[:-1])) - (len(counts) - 1), 0)
        return 1.0 - changes / (len(t) - 1) / chance if chance > 0 else 0.0
    var = float(np.var(t))
    return 1.0 - float(np.mean(np.diff(t) ** 2)) / (2.0 * var) if var > 0 else 0.0


def _past_target(feature: np.ndarray, target: np.ndarray, task: str) -> bool:
    """Whether ``feature`` (rows in time order) is a function of an earlier row's target
    (up to :data:`MAX_LAG` rows back) more than of its own row's."""
    own = _function_score(feature, target, task)
    return any(
        _function_score(feature[lag:], target[:-lag], task) > own
        for lag in range(1, min(MAX_LAG, len(target) - 3) + 1)
    )


def _shared_groups(groups: Any, test: Digests, column: str | None) -> list[Finding]:
    sealed = test.group_digests()
    shared = sorted(
        {str(g) for g, d in zip(groups, value_digests(groups).tolist(), strict=True) if d in sealed}
    )
    if not shared:
        return []
    return [
        Finding(
            "shared_groups",
            f"groups column '{column}': {len(shared)} group ids are on both sides "
            f"of the split ({', '.join(shared[:5])}{', …' if len(shared) > 5 else ''})",
        )
    ]


def _time_order(X: pd.DataFrame, time: str | None) -> list[Finding]:
    import pandas as pd

    findings = []  # the rows were ordered by ``time``, read as time: its own order holds
    columns = [
        c for c in X.columns if pd.api.types.is_datetime64_any_dtype(X[c]) and c != time
    ]
    for column in columns:
        if not X[column].is_monotonic_increasing:
            findings.append(
                Finding(
                    "time_order",
                    f"column '{column}' is not in increasing order although the "
                    "data are time-ordered: validation would use the future",
                )
            )
    return findings


def _identifiers(X: pd.DataFrame, time: str | None) -> list[Finding]:
    import pandas as pd

    if len(X) < MIN_ROWS_FOR_ID:
        return []
    findings = []
    for column in X.columns:
        values = X[column]
        if column == time or pd.api.types.is_datetime64_any_dtype(values):
            continue  # the time axis is unique by nature
        is_float = pd.api.types.is_float_dtype(values)
        if not is_float and values.nunique(dropna=False) == len(values):
            findings.append(
                Finding(
                    "identifier",
                    f"column '{column}' is unique on every row, like an "
                    "identifier: drop it, or a model may memorise it",
                )
            )
    return findings
