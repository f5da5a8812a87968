"""Optuna's integration callbacks, unchanged, in scripts run by ``python -m search``.

Each script trains a real model with the library's pruning callback on odd trials only, under
a pruner that stops every trial it is asked about: odd trials must end PRUNED (the callback
raised Optuna's ``TrialPruned`` in the worker), even ones COMPLETE, and none FAIL. The
callbacks come both from ``optuna.integration`` (a lazily imported module, which must still
travel to the workers) and from ``optuna_integration``.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from tests.conftest import run_cli, stored_trials

HEAD = """
    import json
    import numpy as np
    import optuna
    from sklearn.datasets import load_breast_cancer
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    Xt, Xv, yt, yv = train_test_split(X, y, test_size=0.3, random_state=0)
"""

TAIL = """
    if __name__ == "__main__":
        study = optuna.create_study(direction="maximize",
                                    pruner=optuna.pruners.ThresholdPruner(lower=1.1))
        study.optimize(objective, n_trials=4)
        print("STATES", json.dumps([t.state.name for t in study.trials]))
"""

LIGHTGBM = """
    import lightgbm as lgb

    def objective(trial):
        params = {"objective": "binary", "metric": "auc", "verbosity": -1, "seed": 0,
                  "num_leaves": trial.suggest_int("num_leaves", 4, 32)}
        callbacks = [optuna.integration.LightGBMPruningCallback(trial, "auc")] \\
            if trial.number % 2 else []
        booster = lgb.train(params, lgb.Dataset(Xt, yt), num_boost_round=10,
                            valid_sets=[lgb.Dataset(Xv, yv)], callbacks=callbacks)
        return roc_auc_score(yv, booster.predict(Xv))
"""

XGBOOST = """
    import xgboost as xgb
    from optuna_integration import XGBoostPruningCallback

    def objective(trial):
        params = {"objective": "binary:logistic", "eval_metric": "auc", "verbosity": 0,
                  "max_depth": trial.suggest_int("max_depth", 2, 6)}
        dvalid = xgb.DMatrix(Xv, label=yv)
        callbacks = [XGBoostPruningCallback(trial, "validation-auc")] if trial.number % 2 else []
        booster = xgb.train(params, xgb.DMatrix(Xt, label=yt), num_boost_round=10,
                            evals=[(dvalid, "validation")], callbacks=callbacks,
                            verbose_eval=False)
        return roc_auc_score(yv, booster.predict(dvalid))
"""

CATBOOST = """
    import catboost as cb
    from optuna.integration import CatBoostPruningCallback

    def objective(trial):
        model = cb.CatBoostClassifier(iterations=10, depth=trial.suggest_int("depth", 2, 6),
                                      eval_metric="AUC", verbose=0, allow_writing_files=False)
        pruning = CatBoostPruningCallback(trial, "AUC") if trial.number % 2 else None
        model.fit(Xt, yt, eval_set=[(Xv, yv)], callbacks=[pruning] if pruning else None)
        if pruning:
            pruning.check_pruned()
        return roc_auc_score(yv, model.predict_proba(Xv)[:, 1])
"""

KERAS = """
    def objective(trial):
        import keras
        import tensorflow as tf
        from optuna_integration import KerasPruningCallback, TFKerasPruningCallback

        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((X.shape[1],)),
                                  keras.layers.Dense(trial.suggest_int("units", 4, 16),
                                                     activation="relu"),
                                  keras.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        pruning = {1: KerasPruningCallback(trial, "val_accuracy"),
                   3: TFKerasPruningCallback(trial, "val_accuracy")}.get(trial.number)
        model.fit(Xt, yt, epochs=2, validation_data=(Xv, yv), verbose=0,
                  callbacks=[pruning] if pruning else [])
        return float(model.evaluate(Xv, yv, verbose=0)[1])
"""

LIGHTNING = """
    import torch
    import lightning.pytorch as pl
    from optuna_integration import PyTorchLightningPruningCallback

    class Net(pl.LightningModule):
        def __init__(self, units):
            super().__init__()
            self.layers = torch.nn.Sequential(torch.nn.Linear(X.shape[1], units),
                                              torch.nn.ReLU(), torch.nn.Linear(units, 1))

        def forward(self, x):
            return self.layers(x).squeeze(-1)

        def training_step(self, batch, index):
            x, target = batch
            return torch.nn.functional.binary_cross_entropy_with_logits(self(x), target)

        def validation_step(self, batch, index):
            x, target = batch
            self.log("val_acc", ((self(x) > 0).float() == target).float().mean())

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=0.01)

    def loader(features, labels):
        data = torch.utils.data.TensorDataset(torch.tensor(features, dtype=torch.float32),
                                              torch.tensor(labels, dtype=torch.float32))
        return torch.utils.data.DataLoader(data, batch_size=64)

    def objective(trial):
        pl.seed_everything(0, verbose=False)
        callbacks = [PyTorchLightningPruningCallback(trial, monitor="val_acc")] \\
            if trial.number % 2 else []
        trainer = pl.Trainer(max_epochs=2, logger=False, enable_checkpointing=False,
                             enable_progress_bar=False, enable_model_summary=False,
                             accelerator="cpu", devices=1, callbacks=callbacks)
        trainer.fit(Net(trial.suggest_int("units", 4, 16)), loader(Xt, yt), loader(Xv, yv))
        return trainer.callback_metrics["val_acc"].item()
"""


@pytest.mark.parametrize("library, body, module", [
    ("lightgbm", LIGHTGBM, "lightgbm"),
    ("xgboost", XGBOOST, "xgboost"),
    ("catboost", CATBOOST, "catboost"),
    ("keras", KERAS, "tensorflow"),
    ("lightning", LIGHTNING, "lightning"),
])
def test_a_pruning_callback_prunes_trials_in_the_workers(tmp_path, library, body, module):
    pytest.importorskip(module)
    pytest.importorskip("optuna_integration")
    script = tmp_path / f"{library}_pruning.py"
    script.write_text(textwrap.dedent(HEAD) + textwrap.dedent(body) + textwrap.dedent(TAIL))
    result = run_cli(script, "--no-tracking", "--results", tmp_path / "out", cwd=tmp_path,
                     timeout=600)
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("STATES "))
    assert json.loads(line[7:]) == ["COMPLETE", "PRUNED", "COMPLETE", "PRUNED"]
    trials = stored_trials(tmp_path / "out" / f"{library}_pruning")
    for trial in trials[1::2]:  # a pruned trial keeps the last value its callback reported
        assert trial.intermediate_values
        assert trial.value == trial.intermediate_values[max(trial.intermediate_values)]
