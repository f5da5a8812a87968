"""Classify tumours (scikit-learn's bundled breast cancer data), choosing between two model
families: an RBF support-vector machine or a random forest, each with its own parameters.

    python -m search examples/breast_cancer.py
"""

from sklearn.ensemble import RandomForestClassifier
from sklearn.svm import SVC

from objectives import SklearnObjective
from search import Data, Study
from spaces import Categorical, Float, Int, Space

space = Space({
    "model": Categorical({                      # a categorical whose options carry sub-spaces
        "svm": {"C": Float(1e-2, 1e3, log=True, default=1.0),
                "gamma": Float(1e-5, 1e-1, log=True, default=1e-2)},
        "forest": {"n_estimators": Int(20, 200, log=True),
                   "max_depth": Int(2, 16),
                   "max_features": Categorical(["sqrt", "log2"])},
    }, default="svm"),
})

study = Study(
    name="breast_cancer",
    data=Data("breast_cancer", test_size=0.15),  # the test part is sealed at load
    space=space,
    objective=SklearnObjective({"svm": SVC(), "forest": RandomForestClassifier()}, choice="model"),
    metric="roc_auc",                            # the metric sets the direction
    trials=30,
    seed=0,
)
