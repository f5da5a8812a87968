"""``accept_array_rows``: a final model trained on arrays takes array rows; nothing else changes.

The end-to-end run is in ``tests/search/test_array_data.py``; here, the cases a run rarely
meets: a model that is no scikit-learn estimator, a user's own ``save``, a user's Pipeline with
a step already named ``rows``, SMOTE's Pipeline, and data that came as a DataFrame.
"""

from __future__ import annotations

import io
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from objectives import DevData, FunctionObjective, SklearnObjective, accept_array_rows

rng = np.random.default_rng(0)
ROWS = rng.normal(size=(80, 3))
LABELS = (ROWS[:, 0] + ROWS[:, 1] > 0).astype(int)
FRAME = pd.DataFrame(ROWS, columns=["x0", "x1", "x2"])
ARRAYS = DevData(FRAME, LABELS, "classification", classes=(0, 1), from_arrays=True)


class Threshold:
    """A model with ``predict`` and nothing of scikit-learn, as a user's ``fit`` may return."""

    classes_ = np.array([0, 1])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (X["x0"] + X["x1"] > 0).to_numpy().astype(int)


def _reloaded(model: Any) -> Any:
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    buffer.seek(0)
    return joblib.load(buffer)


def test_a_model_that_is_no_estimator_takes_rows_and_keeps_its_own_attributes() -> None:
    objective = FunctionObjective(lambda config: 0.0, fit=lambda config, data: Threshold())
    model = _reloaded(accept_array_rows(objective, Threshold(), ARRAYS))
    expected = Threshold().predict(FRAME)
    np.testing.assert_array_equal(model.predict(ROWS), expected)
    np.testing.assert_array_equal(model.predict(ROWS.tolist()), expected)
    np.testing.assert_array_equal(model.predict(FRAME), expected)
    assert list(model.classes_) == [0, 1] and not hasattr(model, "predict_proba")
    with pytest.raises(ValueError, match="X has 2 features, but ColumnTransformer is expecting 3"):
        model.predict(ROWS[:, :2])


def test_a_user_s_save_gets_the_model_its_fit_returned() -> None:
    objective = FunctionObjective(lambda config: 0.0, fit=lambda config, data: Threshold(),
                                  save=lambda model, directory: None)
    model = Threshold()
    assert accept_array_rows(objective, model, ARRAYS) is model


def test_a_model_trained_on_a_dataframe_is_left_as_it_is() -> None:
    objective = SklearnObjective(LogisticRegression())
    data = DevData(FRAME, LABELS, "classification", classes=(0, 1))
    model = objective.fit_final({}, data, 0)
    assert accept_array_rows(objective, model, data) is model
    with pytest.raises(ValueError, match="only supported for dataframes"):
        model.predict(ROWS)  # it wants its columns by name, as before


def test_a_user_s_pipeline_keeps_its_steps_behind_the_rows_step() -> None:
    pipeline = Pipeline([("rows", StandardScaler()), ("model", LogisticRegression())])
    objective = FunctionObjective(lambda config: 0.0, fit=lambda config, data: pipeline)
    fitted = pipeline.fit(FRAME, LABELS)
    model = accept_array_rows(objective, fitted, ARRAYS)
    assert [name for name, _ in model.steps] == ["rows_by_position", "rows", "model"]
    np.testing.assert_array_equal(model.predict(ROWS), fitted.predict(FRAME))


def test_smote_s_pipeline_stays_imbalanced_learn_s_and_subsets_keep_the_origin() -> None:
    pytest.importorskip("imblearn")
    objective = SklearnObjective(LogisticRegression(), smote=True)
    fitted = objective.fit_final({}, ARRAYS, 0)
    model = accept_array_rows(objective, fitted, ARRAYS)
    assert type(model) is type(fitted) and model.steps[0][0] == "rows"
    np.testing.assert_array_equal(model.predict(ROWS.tolist()), fitted.predict(FRAME))
    assert ARRAYS.subset(np.arange(10)).from_arrays
