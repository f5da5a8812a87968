"""Classify handwritten digits (scikit-learn's bundled 8x8 images) with a PyTorch MLP over the
ready-made ``mlp`` space: layers, width, activation, dropout, batch norm, the optimizer (Adam,
AdamW or SGD with momentum, each with its own settings), learning rate, batch size and the
learning-rate schedule (plateau, cosine or step).

Each trial trains on 70 % of the data, reports its validation accuracy (15 %) every epoch, so
the default pruner (successive halving, `auto`'s choice for epochs) stops poor configs early,
and the trial stops itself after 6 epochs without a better one, keeping the best epoch. The
final model is refitted on all development data (85 %) for the epochs early stopping chose,
then scored once on the sealed test (15 %).

    python -m search examples/digits_torch.py
    tensorboard --logdir results/digits_torch/trials
"""

from objectives import TorchObjective
from search import Data, Study

study = Study(
    name="digits_torch",
    data=Data("digits", test_size=0.15),
    space="mlp",                    # ready-made: network, optimizer branch, schedule branch
    objective=TorchObjective("mlp", epochs=40, patience=6, threads=1),
    metric="accuracy",
    trials=30,
    seed=0,
)
