"""A final model trained on arrays takes array rows: numpy rows and lists of rows, by position.

Arrays have no column names, so a study names their columns ``x0``, ``x1``, ... (see
``DevData.from_arrays``) and every model is fitted on that DataFrame, whose names it then wants.
The user who trained on arrays predicts on arrays: the saved model gets a first step, fitted on
the development features, that gives a row its column by its position. The step is made of
scikit-learn and pandas callables alone, so a scikit-learn model stays a Pipeline that
``joblib.load`` and MLflow's sklearn flavor load without this project; a model that is no
scikit-learn estimator goes behind it in an :class:`ArrayRows`, which needs ``objectives``. A
DataFrame still needs the names (a missing one is scikit-learn's error), and rows of another
width are refused by the step. A model trained on a DataFrame is left as it is.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from objectives._base import DevData, Objective
from objectives._function import FunctionObjective

if TYPE_CHECKING:
    import pandas as pd

#: the name of the step put first; the second name when a user's Pipeline has the first
ROWS_STEP = "rows"
_OTHER_NAME = "rows_by_position"
#: the methods of a model that take feature rows
_TAKE_ROWS = ("predict", "predict_proba", "predict_log_proba", "decision_function", "score",
              "transform")


def accept_array_rows(objective: Objective, model: Any, data: DevData) -> Any:
    """``model`` (what ``objective.fit_final`` returned for ``data``) as it is scored and saved.

    When ``data`` came as arrays and the objective writes the model with joblib (its
    ``save_model`` is the base class's, or a :class:`FunctionObjective` has no ``save``), the
    model behind a step that names array rows by position: a Pipeline (a user's Pipeline gets
    the step first), or for a model that is no fitted scikit-learn estimator an
    :class:`ArrayRows`. Otherwise ``model`` itself: a network, or a model the user's ``save``
    writes, is what its own code expects.
    """
    if not data.from_arrays or not _saved_with_joblib(objective):
        return model
    return taking_rows(model, data.X)


def taking_rows(model: Any, X: pd.DataFrame) -> Any:
    """``model``, fitted on ``X``, behind a step that also takes rows of ``X``'s width."""
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    step = rows_step().fit(X)
    try:
        check_is_fitted(model)  # what a Pipeline asks of its last step before it predicts
    except (TypeError, NotFittedError):
        return ArrayRows(step, model)
    from objectives._estimators import is_pipeline

    if not is_pipeline(model):
        from sklearn.pipeline import Pipeline

        return Pipeline([(ROWS_STEP, step), ("model", model)])
    names = {name for name, _ in model.steps}
    front = copy.copy(model)  # the same class and settings (imbalanced-learn's Pipeline too)
    front.steps = [(ROWS_STEP if ROWS_STEP not in names else _OTHER_NAME, step), *model.steps]
    return front


def rows_step() -> Any:
    """Every column, by position, out as a DataFrame with the names it was fitted on.

    A DataFrame passes with its dtypes, its columns picked by name; an array or a list of rows
    gets the names of its columns by position and must have as many. Columns of Python objects
    (a list of rows) get the dtype their values share, as ``pandas.DataFrame(rows)`` gives them.
    Public scikit-learn and pandas callables only, so it loads without this project.
    """
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    columns = ColumnTransformer([("columns", "passthrough", slice(0, None))],
                                verbose_feature_names_out=False).set_output(transform="pandas")
    dtypes = FunctionTransformer(pd.DataFrame.infer_objects, feature_names_out="one-to-one")
    return Pipeline([("columns", columns), ("dtypes", dtypes)])


class ArrayRows:
    """A fitted model that is no scikit-learn estimator, behind :func:`rows_step`.

    Its methods that take rows (``predict``, ``predict_proba``, ...) get them through the step;
    anything else is the model's own (``classes_``). ``model`` is the model as fitted.
    """

    def __init__(self, rows: Any, model: Any) -> None:
        self.rows = rows
        self.model = model

    def __getattr__(self, name: str) -> Any:
        if name in ("rows", "model") or name.startswith("__"):
            raise AttributeError(name)  # while unpickling, before ``__dict__`` is filled
        found = getattr(self.model, name)
        if name not in _TAKE_ROWS or not callable(found):
            return found

        def through_rows(X: Any, *args: Any, **kwargs: Any) -> Any:
            return found(self.rows.transform(X), *args, **kwargs)

        return through_rows

    def __repr__(self) -> str:
        return f"ArrayRows({self.model!r})"


def _saved_with_joblib(objective: Objective) -> bool:
    """Whether ``objective.save_model`` writes the model with the base class's joblib."""
    saver = type(objective).save_model
    if isinstance(objective, FunctionObjective) and saver is FunctionObjective.save_model:
        return objective.save is None  # FunctionObjective's calls the base class's without one
    return saver is Objective.save_model
