"""Bad input: exit status 2, one line on stderr naming the culprit, and nothing written."""

from __future__ import annotations

import pytest

from search.cli import main
from tests.conftest import run_cli

GOOD = """
from sklearn.linear_model import LogisticRegression
from objectives import SklearnObjective
from search import Data, Study
from spaces import Float, Space

study = Study(
    name="good",
    data=Data({data}),
    space=Space({space}),
    objective=SklearnObjective(LogisticRegression(max_iter=200), folds=3),
    metric={metric!r},
    trials=2,
    seed=0,
)
"""


def good(data='"iris"', space='{"C": Float(0.1, 10, log=True)}', metric="accuracy") -> str:
    return GOOD.format(data=data, space=space, metric=metric)


CASES = {
    "missing study file": (None, ["nope.py"], "nope.py: study file not found"),
    "syntax error": ("study = (\n", [], "study.py:1: "),
    "no study": ("x = 1\n", [], "defines no `study`"),
    "not a Study": ("study = 42\n", [], "`study` must be a search.Study"),
    "exception in the file": (
        "import no_such_module_here\n",
        [],
        "study.py:1: ModuleNotFoundError: No module named 'no_such_module_here'",
    ),
    "bad space bound": (
        good(space='{"C": Float(10, 0.1)}'),
        [],
        "study.py:10: `low <= high` must hold",
    ),
    "nested space path": (
        good(
            space='{"model": {"type": "categorical", "choices": {"a": {"C": {"type": "float", '
            '"low": 1, "high": 0.5}}}}}'
        ),
        [],
        "model.a.C: `low <= high` must hold",
    ),
    "unknown estimator parameter": (good(space='{"Cc": Float(0.1, 10)}'), [], "Cc"),
    "unknown metric": (good(metric="acuracy"), [], "unknown metric 'acuracy'"),
    "missing target column": (
        good(data='"d.csv", target="label"'),
        [],
        "target column 'label' not found",
    ),
    "missing data file": (good(data='"missing.csv", target="y"'), [], "file not found"),
    "single class": (good(data='"one.csv", target="y"'), [], "single class"),
    "infinite values": (good(data='"inf.csv", target="y"'), [], "'a'"),
    "test fraction": (good(data='"iris", test_size=1.5'), [], "test_size must lie in (0, 1)"),
    "zero trials flag": (good(), ["--trials", "0"], "--trials: must be >= 1"),
    "word for trials": (good(), ["--trials", "ten"], "--trials: expected an integer, got 'ten'"),
    "negative seed": (good(), ["--seed", "-1"], "--seed: must be >= 0"),
    "one nested fold": (good(), ["--nested", "1"], "--nested: must be >= 2"),
    "negative timeout": (good(), ["--timeout", "-5"], "--timeout: must be > 0"),
    "word for timeout": (good(), ["--timeout", "soon"], "--timeout: expected a number"),
    "negative gpus": (good(), ["--gpus-per-trial", "-1"], "--gpus-per-trial: must be a number >= 0"),
    "unknown sampler flag": (good(), ["--sampler", "bogus"], "--sampler: invalid choice"),
    "grid over a continuous float": (good(), ["--sampler", "grid"], "C"),
    "resume of nothing": (good(), ["--resume"], "no study to resume"),
    "register without tracking": (
        good(),
        ["--register", "m", "--no-tracking"],
        "--register m: registers the final model in MLflow, which --no-tracking leaves out",
    ),
    "register without final": (
        good(),
        ["--register", "m", "--no-final"],
        "--register m: registers the final model in MLflow, which --no-final leaves out",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    case, tmp_path, write_study, capsys, monkeypatch
):
    body, flags, message = CASES[case]
    (tmp_path / "d.csv").write_text("a,y\n" + "".join(f"{i},{i % 2}\n" for i in range(20)))
    (tmp_path / "one.csv").write_text("a,y\n" + "".join(f"{i},1\n" for i in range(20)))
    (tmp_path / "inf.csv").write_text(
        "a,y\n" + "".join(f"{'inf' if i == 3 else i},{i % 2}\n" for i in range(20))
    )
    args = flags if body is None else [str(write_study(body)), *flags]
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(SystemExit) as info:
        raise SystemExit(main([*args, "--results", str(tmp_path / "out")]))
    err = capsys.readouterr().err
    assert info.value.code == 2, err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert message in err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def test_an_existing_study_needs_resume_and_a_mismatched_resume_is_refused(write_study, tmp_path):
    path = write_study(good())
    out = tmp_path / "out"
    assert run_cli(path, "--results", out, "--no-final", cwd=tmp_path).returncode == 0
    again = run_cli(path, "--results", out, cwd=tmp_path)
    assert again.returncode == 2 and "pass --resume" in again.stderr
    path.write_text(good(space='{"C": Float(0.1, 20, log=True)}'))
    mismatch = run_cli(path, "--results", out, "--resume", cwd=tmp_path)
    assert mismatch.returncode == 2
    assert "cannot resume: the study's space differs" in mismatch.stderr
    path.write_text(good())
    other_seed = run_cli(path, "--results", out, "--resume", "--seed", "9", cwd=tmp_path)
    assert other_seed.returncode == 2 and "the study's seed differs" in other_seed.stderr


def test_help_lists_the_commands():
    result = run_cli("--help", cwd=".")
    assert result.returncode == 0
    assert "python -m search final RESULTS/NAME" in result.stdout
    assert "--workers" in result.stdout and "--no-final" in result.stdout
