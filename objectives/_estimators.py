"""Estimators for :class:`SklearnObjective`: resolve, wrap in in-fold preprocessing, route params.

Everything fitted lives inside one pipeline that is cloned and fitted on a training fold only:
imputation, scaling, one-hot encoding and SMOTE see no validation rows by construction.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Mapping
from typing import Any

from objectives._errors import ObjectiveError

#: dotted class paths allowed as strings; anything else must be passed as the class itself
ALLOWED_PREFIXES = ("sklearn.", "imblearn.")
#: dtypes the automatic preprocessing one-hot encodes
CATEGORICAL_DTYPES = ["object", "category", "bool", "string"]
#: name of the estimator's step in a pipeline the objective builds
MODEL_STEP = "model"
PREPROCESS_STEP = "preprocess"
SMOTE_STEP = "smote"


def resolve(spec: Any, where: str = "estimator") -> Any:
    """An unfitted estimator instance from an instance, a class or an allowed dotted path."""
    if isinstance(spec, str):
        if not spec.startswith(ALLOWED_PREFIXES):
            raise ObjectiveError(
                f"{where} '{spec}' is not a scikit-learn or imbalanced-learn class path; "
                "pass the class itself (or an instance) instead of its name"
            )
        module_name, _, attr = spec.rpartition(".")
        try:
            spec = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError, ValueError):
            raise ObjectiveError(f"{where} '{spec}' cannot be imported") from None
        if not isinstance(spec, type):
            raise ObjectiveError(f"{where} '{module_name}.{attr}' is not a class")
    if isinstance(spec, type):
        if not (hasattr(spec, "fit") and hasattr(spec, "get_params")):
            raise ObjectiveError(f"{where} {spec.__name__} is not a scikit-learn estimator")
        try:
            spec = spec()
        except TypeError as exc:
            raise ObjectiveError(f"{where} {spec.__name__} cannot be built without "
                                 f"arguments ({exc}); pass an instance") from None
    if not (hasattr(spec, "fit") and hasattr(spec, "get_params") and hasattr(spec, "set_params")):
        raise ObjectiveError(f"{where} must be a scikit-learn estimator, Pipeline, class or "
                             f"class path, but got {type(spec).__name__}")
    return spec


def is_estimator_spec(obj: Any) -> bool:
    """Whether ``obj`` looks like something :func:`resolve` accepts (without importing sklearn)."""
    if isinstance(obj, str):
        return True
    return hasattr(obj, "fit") and hasattr(obj, "get_params")


def is_pipeline(est: Any) -> bool:
    from sklearn.pipeline import Pipeline

    return isinstance(est, Pipeline)  # imblearn's Pipeline subclasses it


def final_estimator(model: Any) -> Any:
    return model.steps[-1][1] if is_pipeline(model) else model


def _as_object(X: Any) -> Any:
    """Categorical columns as object with NaN for missing (what pipelines pickled before
    :func:`make_preprocessor` used public functions only call when they are loaded)."""
    import numpy as np

    return X.astype(object).where(X.notna(), np.nan)


def make_preprocessor() -> Any:
    """Impute and scale numeric columns; impute and one-hot encode categorical ones.

    Columns are picked by dtype when the pipeline is fitted, so the same preprocessor suits
    every dataset and its statistics come from the rows it is fitted on. Built from public
    scikit-learn, pandas and NumPy callables only, so a fitted one loads with joblib and
    scikit-learn alone: categorical columns become object columns whose missing values
    (``None``, ``pd.NA``, NaN) are all NaN, which SimpleImputer understands.
    """
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer, make_column_selector
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    numeric = Pipeline([
        ("impute", SimpleImputer(strategy="median")),
        ("scale", StandardScaler()),
    ])
    categorical = Pipeline([
        ("to_object", FunctionTransformer(pd.DataFrame.astype, kw_args={"dtype": object},
                                          feature_names_out="one-to-one")),
        ("missing_as_nan", FunctionTransformer(pd.DataFrame.where,
                                               kw_args={"cond": pd.notna, "other": np.nan},
                                               feature_names_out="one-to-one")),
        ("impute", SimpleImputer(strategy="most_frequent")),
        ("encode", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
    ])
    return ColumnTransformer(
        [
            ("numeric", numeric, make_column_selector(dtype_include="number")),
            ("categorical", categorical, make_column_selector(dtype_include=CATEGORICAL_DTYPES)),
        ],
        sparse_threshold=0.0,
    )


def assemble(template: Any, *, preprocess: str | None, smote: bool,
             seed: int | None) -> tuple[Any, str | None]:
    """The full, unfitted model around a clone of ``template``, and its final step's name.

    A user's Pipeline is kept as given (SMOTE goes before its last step); a bare estimator gets
    the automatic preprocessing when ``preprocess="auto"``. The name is ``None`` when the model
    is the bare estimator itself.
    """
    from sklearn.base import clone
    from sklearn.pipeline import Pipeline

    est = clone(template)
    if is_pipeline(est):
        if not smote:
            return est, est.steps[-1][0]
        from imblearn.pipeline import Pipeline as ImbPipeline

        user_steps = list(est.steps)
        names = {name for name, _ in user_steps}
        name = SMOTE_STEP if SMOTE_STEP not in names else f"{SMOTE_STEP}_resample"
        user_steps.insert(len(user_steps) - 1, (name, _smote(seed)))
        return ImbPipeline(user_steps, memory=est.memory, verbose=est.verbose), user_steps[-1][0]
    steps: list[tuple[str, Any]] = []
    if preprocess == "auto":
        steps.append((PREPROCESS_STEP, make_preprocessor()))
    if smote:
        steps.append((SMOTE_STEP, _smote(seed)))
    if not steps:
        return est, None
    steps.append((MODEL_STEP, est))
    if smote:
        from imblearn.pipeline import Pipeline as ImbPipeline

        return ImbPipeline(steps), MODEL_STEP
    return Pipeline(steps), MODEL_STEP


def _smote(seed: int | None) -> Any:
    from imblearn.over_sampling import SMOTE

    return SMOTE(random_state=seed)


def route(key: str, model: Any, final_name: str | None, valid: set[str]) -> str | None:
    """The ``set_params`` name of config key ``key`` in ``model``, or ``None`` if it has none.

    A plain key goes to the final estimator; a ``step__param`` key is used as it is when it
    names a parameter of the model (Pipeline step routing), else it is tried on the final
    estimator (a nested parameter such as ``estimator__max_depth``).
    """
    if final_name is None:
        return key if key in valid else None
    if "__" in key and key in valid:
        return key
    prefixed = f"{final_name}__{key}"
    return prefixed if prefixed in valid else None


def unrouted_message(path: str, key: str, model: Any, final_name: str | None) -> str:
    """``"model.svm.Cc: SVC has no parameter 'Cc' (did you mean 'C'?)"``."""
    owner, name = final_estimator(model), key
    if final_name is not None and "__" in key:
        step, _, rest = key.partition("__")
        steps = dict(model.steps)
        if step in steps and step != final_name:
            owner, name = steps[step], rest
        elif step == final_name:
            name = rest
    params = list(owner.get_params(deep=True)) if hasattr(owner, "get_params") else []
    close = difflib.get_close_matches(name, params, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"{path}: {type(owner).__name__} has no parameter '{name}'{hint}"


def configure(model: Any, final_name: str | None, params: Mapping[str, Any], *,
              classification: bool, class_weight: Any, seed: int | None) -> Any:
    """Set routed ``params`` on ``model``; fill ``class_weight`` and ``random_state`` left unset.

    ``class_weight`` goes to the final estimator of a classifier when it has that parameter at
    ``None`` and the config does not set it; ``seed`` goes to every ``random_state`` left at
    ``None`` that the config does not set.
    """
    valid = set(model.get_params(deep=True))
    routed: dict[str, Any] = {}
    for key, value in params.items():
        target = route(key, model, final_name, valid)
        if target is None:
            raise ObjectiveError(unrouted_message(key, key, model, final_name))
        routed[target] = value
    if routed:
        model.set_params(**routed)
    current = model.get_params(deep=True)
    fill: dict[str, Any] = {}
    cw_key = "class_weight" if final_name is None else f"{final_name}__class_weight"
    if (classification and class_weight is not None and cw_key in current
            and current[cw_key] is None and cw_key not in routed):
        fill[cw_key] = class_weight
    if seed is not None:
        for key, value in current.items():
            if (key == "random_state" or key.endswith("__random_state")) and value is None \
                    and key not in routed:
                fill[key] = seed
    if fill:
        model.set_params(**fill)
    return model


def class_path(obj: Any) -> str:
    """The shortest importable dotted path of ``obj``'s class (``sklearn.svm.SVC``)."""
    import sys

    cls = obj if isinstance(obj, type) else type(obj)
    parts = cls.__module__.split(".")
    for end in range(1, len(parts) + 1):
        module = sys.modules.get(".".join(parts[:end]))
        if module is not None and getattr(module, cls.__qualname__, None) is cls:
            return f"{module.__name__}.{cls.__qualname__}"
    return f"{cls.__module__}.{cls.__qualname__}"


def describe_spec(spec: Any) -> Any:
    """A JSON-able description of an estimator spec, stable between runs."""
    if isinstance(spec, str):
        return spec
    if isinstance(spec, type):
        return class_path(spec)
    return {"class": class_path(spec), "repr": " ".join(repr(spec).split())}
