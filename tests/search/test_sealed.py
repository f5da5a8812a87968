"""The sealed test part: no pickling, no copying, opened once and the opening recorded."""

from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path

import pytest

from search import Data, TestSetAlreadyOpened
from search.core._data import load_and_split


@pytest.fixture
def sealed():
    return load_and_split(Data("iris"), task="classification", seed=0, base_dir=Path.cwd()).test


def test_pickling_the_sealed_part_fails(sealed):
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(sealed)


def test_copying_the_sealed_part_fails(sealed):
    with pytest.raises(TypeError):
        copy.copy(sealed)
    with pytest.raises(TypeError):
        copy.deepcopy(sealed)


def test_repr_shows_only_the_fingerprint(sealed):
    text = repr(sealed)
    assert text.startswith("Sealed(rows=23, columns=4, sha256=")


def test_opening_is_recorded_first_and_happens_once(sealed, tmp_path):
    ledger = tmp_path / "final.json"
    X, y = sealed._open(ledger, {"trial": 3})
    assert len(X) == len(y) == 23
    record = json.loads(ledger.read_text())
    assert record["status"] == "opened" and record["trial"] == 3
    assert record["test_fingerprint"] == sealed.fingerprint.to_dict()
    with pytest.raises(TestSetAlreadyOpened, match="already opened"):
        sealed._open(ledger, {"trial": 4})
    assert json.loads(ledger.read_text())["trial"] == 3  # the first record is kept
