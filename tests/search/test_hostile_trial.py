"""A trial cannot make the driver run its code: what a worker sends is plain data or refused.

The hostile objective sends, through its own connection to the driver, a pickle whose
``__reduce__`` would run code in the driver (and there look for the sealed test part): inside
each kind of message a worker may send, and as bare bytes. Nothing of it may run, the trial
is FAIL (not retried) saying it was refused, the other trials go on, and the test is opened
once, by the final evaluation. An exception that escapes the objective and the worker (Ray
would pickle it back as the actor's error) reaches the driver as an exit code only.
"""

from __future__ import annotations

import json
import pickle

import pytest

from search.core._channel import (
    Ask,
    Attr,
    Done,
    NotPlainData,
    Ready,
    Report,
    decode,
)
from tests.conftest import run_cli, stored_trials


class _Payload:
    """What a hostile trial would send: unpickling it calls ``print``."""

    def __reduce__(self):
        return (print, ("ran in the driver",))


@pytest.mark.parametrize(
    "message",
    [
        _Payload(),
        Report(_Payload(), 0),  # type: ignore[arg-type]
        Attr("key", _Payload()),
        Ask("prune", (_Payload(),)),
        Done("COMPLETE", 1.0, None, None, {"f": _Payload()}),  # type: ignore[dict-item]
        Ready(1, "host", error=_Payload()),  # type: ignore[arg-type]
        {"nested": [(_Payload(),)]},
    ],
)
def test_decoding_refuses_every_other_global_before_it_runs(message, capsys):
    with pytest.raises(NotPlainData):
        decode(pickle.dumps(message))
    assert "ran in the driver" not in capsys.readouterr().out


def test_plain_messages_decode_as_sent():
    sent = [
        Report(0.5, 3), Attr("folds", [0.1, 0.2], kind="user"), Ask("suggest", ("x", "{}")),
        Done("COMPLETE", {"a": 1.0}, None, None, {"model.pt": "ab" * 32}),
        Ready(7, "node", None),
    ]
    assert [decode(pickle.dumps(m)) for m in sent] == sent


def test_a_tuple_is_refused_where_a_message_is_due():
    with pytest.raises(NotPlainData, match="tuple"):
        decode(pickle.dumps(("channel", "token")))
    assert decode(pickle.dumps(("channel", "t")), admitted=(tuple,)) == ("channel", "t")


HOSTILE_STUDY = """
import os, pickle
from sklearn.linear_model import LogisticRegression
from objectives import FunctionObjective
from search import Data, Study
from search.core._channel import Attr, Ask, Done, Report
from spaces import Float, Space

MARKER = {marker!r}


class Payload:
    def __reduce__(self):
        return (os.system, ("touch " + MARKER,))


class Escape(BaseException):  # not an Exception: it leaves the objective and the worker
    def __reduce__(self):
        return (os.system, ("touch " + MARKER,))


MESSAGES = [
    lambda: Report(Payload(), 0),
    lambda: Attr("key", Payload()),
    lambda: Ask("prune", (Payload(),)),
    lambda: Done("COMPLETE", 1.0, None, None, {{"f": Payload()}}),
    lambda: Payload(),
]


def evaluate(config, data, trial):
    number = trial.number
    if number < len(MESSAGES):
        conn = trial._conn  # the hostile trial finds its channel to the driver
        conn.send(MESSAGES[number]())
        if number % 2:
            conn.send_bytes(pickle.dumps(Payload()))
        import time
        time.sleep(30)  # the driver stops this worker; it never gets here
    if number == len(MESSAGES):
        raise Escape()  # Ray would pickle it back to the driver as the actor's error
    model = LogisticRegression(C=config["C"], max_iter=300).fit(data.X, data.y)
    return float(model.score(data.X, data.y))


def fit(config, data, seed):
    return LogisticRegression(C=config["C"], max_iter=300).fit(data.X, data.y)


study = Study(
    name="hostile",
    data=Data("iris"),
    space=Space({{"C": Float(1e-2, 1e2, log=True)}}),
    objective=FunctionObjective(evaluate, fit=fit),
    metric="accuracy",
    trials=8,
    seed=0,
)
"""


@pytest.mark.parametrize("backend", ["local", "ray"])
def test_a_hostile_trial_runs_nothing_in_the_driver(write_study, tmp_path, backend):
    marker = tmp_path / "ran-in-the-driver"
    path = write_study(HOSTILE_STUDY.format(marker=str(marker)))
    args = ["--workers", "2", "--no-tracking", "--max-retries", "1"]
    if backend == "ray":
        args += ["--backend", "ray"]
    result = run_cli(path, "--results", tmp_path / "out", *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not marker.exists()
    trials = stored_trials(tmp_path / "out" / "hostile")
    refused = [t for t in trials if t.number < 5]
    assert [t.state.name for t in refused] == ["FAIL"] * 5
    for trial in refused:
        error = trial.user_attrs["error"]
        assert error.startswith("refused: it sent ") and "nothing of it ran here" in error
        assert "attempts" not in error  # never retried: it would send the same again
    escaped = trials[5]
    assert escaped.state.name == "FAIL"
    assert escaped.user_attrs["error"].startswith("its worker died")
    assert [t.state.name for t in trials if t.number >= 6] == ["COMPLETE", "COMPLETE"]
    final = json.loads((tmp_path / "out" / "hostile" / "final.json").read_text())
    assert final["status"] == "evaluated" and final["trial"] >= 6
