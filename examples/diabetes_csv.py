"""Predict disease progression from a CSV file with a gradient-boosted regressor, tuned over
the ready-made `hist_gradient_boosting` space.

    python -m search examples/diabetes_csv.py
"""

from sklearn.ensemble import HistGradientBoostingRegressor

from objectives import SklearnObjective
from search import Data, Study

study = Study(
    name="diabetes_csv",
    data=Data("data/diabetes.csv", target="progression", test_size=0.15),
    space="hist_gradient_boosting",
    objective=SklearnObjective(HistGradientBoostingRegressor(max_iter=50)),
    metric="rmse",
    trials=20,
    seed=0,
)
