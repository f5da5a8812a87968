"""Preprocessing is fitted inside each training fold: validation rows never shape its statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.preprocessing import StandardScaler

from objectives import SklearnObjective, get_metric

SEED = 0


def _planted() -> tuple[pd.DataFrame, np.ndarray]:
    """One feature; the label says whether a row lies above the mean of ALL rows.

    A logistic regression without intercept can only put its boundary where the scaled
    feature is 0, i.e. at the mean the scaler learned. A scaler fitted on all rows learns the
    very threshold that defines the label, so the leaky CV is perfect. A scaler fitted on a
    training fold only estimates it, and a few far outliers (+/-40 among values in [-1, 1])
    move that estimate by a lot depending on which fold they fall in: the honest CV must pay.
    """
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-1, 1, 120), [40.0] * 4, [-40.0] * 4])
    rng.shuffle(x)
    return pd.DataFrame({"x": x}), (x > x.mean()).astype(int)


def _model() -> LogisticRegression:
    return LogisticRegression(fit_intercept=False, C=100.0)


def test_naive_scaling_on_all_rows_beats_in_fold_scaling(make_dev, make_trial):
    X, y = _planted()
    cv = StratifiedKFold(5, shuffle=True, random_state=SEED)
    naive = cross_val_score(_model(), StandardScaler().fit_transform(X), y, cv=cv).mean()

    hand_written = []
    for train, valid in cv.split(X, y):
        scaler = StandardScaler().fit(X.iloc[train])
        fitted = _model().fit(scaler.transform(X.iloc[train]), y[train])
        hand_written.append(np.mean(fitted.predict(scaler.transform(X.iloc[valid])) == y[valid]))

    trial = make_trial(seed=SEED)
    ours = SklearnObjective(_model(), class_weight=None).evaluate(
        {}, make_dev(X, y), trial, get_metric("accuracy"))

    assert naive == 1.0
    assert ours < naive - 0.1
    assert ours == pytest.approx(np.mean(hand_written), abs=1e-12)
    assert trial.attrs["fold_scores"] == pytest.approx(hand_written, abs=1e-12)


def test_imputer_and_scaler_statistics_come_from_the_training_rows(spy, make_dev, make_trial):
    """The estimator sees training rows scaled to mean 0 by training statistics, missing values
    filled with the training median; validation rows are transformed with those same numbers."""
    rng = np.random.default_rng(1)
    n = 100
    X = pd.DataFrame({"a": rng.exponential(3.0, n), "b": rng.normal(5.0, 2.0, n)})
    missing = rng.choice(n, 15, replace=False)
    X.loc[missing, "a"] = np.nan
    y = (X["b"] > 5).to_numpy().astype(int)
    data = make_dev(X, y)
    SklearnObjective(spy(), folds=4, class_weight=None).evaluate(
        {}, data, make_trial(seed=SEED), get_metric("accuracy"))

    splits = StratifiedKFold(4, shuffle=True, random_state=SEED).split(X, y)
    fits = [entry for entry in spy.log if entry[0] == "fit"]
    predictions = [entry[1] for entry in spy.log if entry[0] == "predict"][::2]  # validation
    assert len(fits) == len(predictions) == 4
    for (train, valid), (_, seen, _), shown in zip(splits, fits, predictions, strict=True):
        a_train = X["a"].iloc[train]
        median = a_train.median()
        filled = a_train.fillna(median)
        mean, std = filled.mean(), filled.std(ddof=0)
        expected = ((X["a"].iloc[valid].fillna(median) - mean) / std).to_numpy()
        np.testing.assert_allclose(seen.mean(axis=0), 0.0, atol=1e-12)
        np.testing.assert_allclose(seen[:, 0], ((filled - mean) / std).to_numpy(), atol=1e-12)
        np.testing.assert_allclose(shown[:, 0], expected, atol=1e-12)
