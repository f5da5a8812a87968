"""A rare-positive classification (5 % positives) where SMOTE oversamples the minority class
inside each training fold only, scored by F1 on the positives.

    python -m search examples/imbalanced_smote.py
"""

from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from objectives import SklearnObjective
from search import Data, Study
from spaces import Float, Int, Space

X, y = make_classification(
    n_samples=2000, n_features=12, n_informative=5, weights=[0.95, 0.05], random_state=7
)

study = Study(
    name="imbalanced_smote",
    data=Data((X, y), test_size=0.2),
    space=Space(
        {
            "C": Float(1e-3, 1e2, log=True, default=1.0),
            "smote__k_neighbors": Int(1, 10, default=5),
        }
    ),
    objective=SklearnObjective(LogisticRegression(max_iter=500), smote=True, class_weight=None),
    metric="f1",
    trials=25,
    seed=0,
)
