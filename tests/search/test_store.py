"""The study store (``search/core/_store.py``): the driver's writer, and readers that never write."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path
from typing import Any

import cloudpickle
import optuna
import pytest
from optuna.distributions import FloatDistribution

from search.core._store import open_store

STUDY = "stress"


def optuna_reads(path: Path, name: str = STUDY) -> list[optuna.trial.FrozenTrial]:
    """The trials of study ``name`` in the journal at ``path``, read by Optuna's own file backend."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(path)))
    return optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)


def add_trials(study: optuna.Study, values: list[float]) -> None:
    for value in values:
        study.add_trial(
            optuna.trial.create_trial(
                params={"x": value / 10},
                distributions={"x": FloatDistribution(0.0, 1.0)},
                value=value,
            )
        )


@pytest.mark.parametrize(
    "duplicate",
    [pickle.dumps, cloudpickle.dumps, copy.deepcopy],
    ids=["pickle", "cloudpickle", "deepcopy"],
)
def test_the_writer_refuses_to_be_pickled_or_copied(tmp_path: Path, duplicate: Any) -> None:
    # A copy of the writer (say, in an objective the driver pickles for its workers) held the
    # writer's file descriptor by number; collected, it closed it, and the driver's next
    # appends went to whatever file took that number next, lost from the journal.
    storage = open_store(tmp_path)
    study = optuna.create_study(study_name=STUDY, storage=storage)
    with pytest.raises(TypeError, match="the study store's writer cannot be pickled or copied"):
        duplicate(storage)
    add_trials(study, [1.0, 2.0])
    assert [t.value for t in optuna_reads(tmp_path / "study.journal")] == [1.0, 2.0]
