"""Leak checks run before the search, each naming the columns or rows at fault.

Kapoor & Narayanan (2023) list the ways leakage inflates scores silently. What the framework
can prevent by construction it does (preprocessing is fitted inside training folds, the test
part is split off first); what it can only detect is checked here:

- exact duplicate rows shared between the development and test parts;
- a single feature that predicts the target almost perfectly on its own (target leakage);
- group ids shared across the split, when groups are declared;
- time order violated, when the data are time-ordered;
- identifier-like columns (unique on every row).

The duplicate and group checks compare one-way row digests of the sealed part, which does not
open it. Findings are warnings, or errors when the study is strict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from search.integrity._digests import row_digests, value_digests

if TYPE_CHECKING:
    import pandas as pd

    from objectives import DevData


class Digests(Protocol):
    """What the checks may learn of the sealed test part: one-way digests, nothing more."""

    def row_digests(self) -> set[int]: ...

    def group_digests(self) -> set[int]: ...

#: a single feature scoring at least this on its own is called a target leak
LEAK_SCORE = 0.99
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
    findings += _single_feature_leaks(dev.X, dev.y, dev.task, seed)
    if dev.groups is not None:
        findings += _shared_groups(dev.groups, test, groups)
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


def _single_feature_leaks(X: pd.DataFrame, y: Any, task: str, seed: int) -> list[Finding]:
    """Columns that alone predict the target almost perfectly (a shallow tree, 3-fold CV)."""
    import numpy as np
    import pandas as pd
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    rng = np.random.default_rng(seed)
    rows = np.arange(len(X))
    if len(rows) > SAMPLE_ROWS:
        rows = np.sort(rng.choice(rows, SAMPLE_ROWS, replace=False))
    target = np.asarray(y)[rows]
    if task == "classification":
        counts = pd.Series(target).value_counts()
        if counts.min() < 3:
            return []
        model: Any = DecisionTreeClassifier(max_depth=4, random_state=seed)
        cv: Any = StratifiedKFold(3, shuffle=True, random_state=seed)
        scoring = "balanced_accuracy"
    else:
        model = DecisionTreeRegressor(max_depth=4, random_state=seed)
        cv = KFold(3, shuffle=True, random_state=seed)
        scoring = "r2"
    findings = []
    for column in list(X.columns)[:MAX_COLUMNS]:
        values = X[column].iloc[rows]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            feature = values.to_numpy(dtype=float)
            feature = np.where(
                np.isfinite(feature),
                feature,
                np.nanmin(feature) - 1 if np.isfinite(feature).any() else 0.0,
            )
        else:
            feature = pd.factorize(values.astype("string"))[0].astype(float)
        score = float(
            np.mean(cross_val_score(model, feature.reshape(-1, 1), target, cv=cv, scoring=scoring))
        )
        metric, how = scoring, "a depth-4 tree"
        if task == "regression":
            rank = pd.Series(feature).corr(pd.Series(target.astype(float)), method="spearman")
            if np.isfinite(rank) and rank**2 > score:
                score, metric, how = float(rank**2), "squared rank correlation", "a monotone map"
        if score >= LEAK_SCORE:
            findings.append(
                Finding(
                    "target_leak",
                    f"column '{column}' alone predicts the target "
                    f"({metric} {score:.3f} with {how}): is it "
                    "derived from the target or known only afterwards?",
                )
            )
    return findings


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
