"""Predict disease progression (scikit-learn's bundled diabetes data) with a Keras dense
network over the ready-made ``dense`` space. Mean absolute error is the metric, so the network
trains on it too (an L1 loss on the standardized target).

Keras 3 runs on TensorFlow unless KERAS_BACKEND says otherwise. Each trial uses Keras'
callbacks: EarlyStopping (restoring the best weights), ReduceLROnPlateau or a scheduler,
ModelCheckpoint and TensorBoard. The final model is saved as ``model/model.keras`` and as
``model/model.tflite`` for mobile (its input: the preprocessed features listed in
``model/model.json``; its output: the prediction in the target's units).

    python -m search examples/keras_regressor.py
"""

from objectives import KerasObjective
from search import Data, Study

study = Study(
    name="keras_regressor",
    data=Data("diabetes", test_size=0.15),
    space="dense",
    objective=KerasObjective("dense", epochs=30, patience=5, threads=1),
    metric="mae",
    trials=6,
    seed=0,
)
