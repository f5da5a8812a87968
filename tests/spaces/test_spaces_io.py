"""Space files: round trips of the example files, and the errors a user sees for bad files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import spaces
from spaces import Categorical, Constant, Float, Int, Space, SpaceError

DATA = Path(__file__).parent / "data"
EXAMPLES = sorted(DATA.iterdir())


def test_the_examples_are_there() -> None:
    assert [path.name for path in EXAMPLES] == [
        "basic.yaml",
        "conditional.yaml",
        "grid.yml",
        "nested.json",
    ]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_round_trip_through_text(path: Path, fmt: spaces._io.Format) -> None:
    space = spaces.load(path)
    text = spaces.dumps(space, fmt)
    again = spaces.loads(text, fmt)
    assert again == space
    assert again.paths() == space.paths()
    assert spaces.dumps(again, fmt) == text  # the explicit form is a fixed point


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".json"])
def test_round_trip_through_files(path: Path, suffix: str, tmp_path: Path) -> None:
    space = spaces.load(path)
    target = tmp_path / f"out{suffix}"
    spaces.dump(space, target)
    assert spaces.load(target) == space
    assert spaces.load(str(target)) == space


def test_a_file_reads_as_the_same_space_in_python() -> None:
    assert spaces.load(DATA / "grid.yml") == Space(
        {
            "alpha": Float(0.1, 0.5, step=0.1),
            "degree": Int(1, 3),
            "fit_intercept": Categorical([True, False]),
            "solver": Constant("auto"),
        }
    )
    basic = spaces.load(DATA / "basic.yaml")
    assert basic["tol"] == Float(1e-6, 1e-2, log=True)
    assert basic["max_depth"] == Categorical([None, 4, 8, 16], default=None)
    assert basic["random_state"] == Constant(0) and basic["class_weight"] == Constant(None)


def test_yaml_dump_is_readable() -> None:
    text = spaces.dumps(spaces.load("svm"))
    assert text == (
        "C: {type: float, low: 0.001, high: 1000.0, log: true, default: 1.0}\n"
        "kernel:\n"
        "  type: categorical\n"
        "  choices:\n"
        "    rbf:\n"
        "      gamma: {type: float, low: 0.0001, high: 10.0, log: true}\n"
        "    linear: {}\n"
        "  default: rbf\n"
    )


def test_yaml_reads_yaml_12_scalars() -> None:
    space = spaces.loads(
        "C: {type: float, low: 1e-4, high: 1E+4, log: true}\n"
        "answer: {type: categorical, choices: [yes, no, on, off, true]}\n"
        "code: 010\n"
    )
    assert space["C"] == Float(1e-4, 1e4, log=True)
    assert space["answer"] == Categorical(["yes", "no", "on", "off", True])
    assert space["code"] == Constant("010")


@pytest.mark.parametrize("value", ["yes", "1e-4", "010", "null", "true", "1:30", "", "~", "0x1F"])
def test_strings_that_look_like_other_things_survive(value: str) -> None:
    space = Space({"c": Constant(value)})
    text = spaces.dumps(space)
    assert spaces.loads(text) == space
    assert yaml.safe_load(text) == {"c": {"type": "constant", "value": value}}  # YAML 1.1 too


def test_a_schema_key_is_ignored() -> None:
    space = spaces.load(DATA / "nested.json")
    assert "$schema" not in space and "$schema" not in spaces.dumps(space, "json")


# -- errors name the file --------------------------------------------------------------------


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_errors_in_a_file_are_prefixed_with_the_file(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "space.yaml",
        (
            "model:\n"
            "  type: categorical\n"
            "  choices:\n"
            "    svm:\n"
            "      C: {type: float, low: 3, high: 1}\n"
        ),
    )
    with pytest.raises(SpaceError) as info:
        spaces.load(path)
    assert (
        str(info.value) == f"{path}: model.svm.C: `low <= high` must hold, but got (low=3, high=1)."
    )
    assert info.value.source == str(path) and info.value.path == ("model", "svm", "C")


def test_a_relative_path_is_named_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, "space.json", '{"C": {"type": "float", "low": 0, "high": 1, "lw": 0}}')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpaceError) as info:
        spaces.load("space.json")
    assert str(info.value) == (
        "space.json: C: unknown key 'lw' for type float; the allowed keys are: "
        "default, high, log, low, step, type."
    )


def test_unknown_keys_deep_in_a_file(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "deep.yml",
        (
            "model:\n"
            "  type: categorical\n"
            "  choices:\n"
            "    svm:\n"
            "      kernel:\n"
            "        type: categorical\n"
            "        choices:\n"
            "          rbf: {gamma: {type: float, low: 0.1, high: 1, log: true, logg: true}}\n"
        ),
    )
    with pytest.raises(
        SpaceError, match=r"deep\.yml: model\.svm\.kernel\.rbf\.gamma: unknown key 'logg'"
    ):
        spaces.load(path)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "bad.yaml",
            "C: {type: float, low: 0, high: 1}\nkernel: [a, b\nx: 1\n",
            "bad.yaml: line 3, column 2: invalid YAML: while parsing a flow sequence; "
            "expected ',' or ']', but got ':'",
        ),
        ("bad.yaml", "C:\n  type: float\n low: 1\n", "bad.yaml: line 3, column 2: invalid YAML:"),
        (
            "bad.yaml",
            "C: {type: float, low: 0, high: 1}\nC: {type: int, low: 0, high: 1}\n",
            "bad.yaml: line 2, column 1: invalid YAML: duplicate key 'C'",
        ),
        (
            "bad.yaml",
            "x: !!python/object/apply:os.system ['echo pwned']\n",
            "bad.yaml: line 1, column 4: invalid YAML: could not determine a constructor "
            "for the tag 'tag:yaml.org,2002:python/object/apply:os.system'",
        ),
        (
            "bad.json",
            '{\n  "C": {"type": "float",\n    "low": 0 "high": 1}\n}\n',
            "bad.json: line 3, column 14: invalid JSON: Expecting ',' delimiter",
        ),
        (
            "bad.json",
            '{"C": 1, "C": 2}',
            "bad.json: invalid JSON: duplicate key 'C' in one object.",
        ),
        ("bad.json", '{"C": NaN}', "bad.json: invalid JSON: NaN is not a JSON number."),
        ("empty.yaml", "# nothing here\n", "empty.yaml: the file is empty"),
        ("empty.json", "", "empty.json: the file is empty"),
        (
            "list.yaml",
            "- C\n- gamma\n",
            "list.yaml: the top level must be a mapping of parameter name to parameter, "
            "but got a list.",
        ),
        (
            "shorthand.yaml",
            "C: [1, 2]\n",
            "shorthand.yaml: C: a parameter must be a mapping with a `type`, or a bare value",
        ),
    ],
)
def test_file_errors(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = _write(tmp_path, name, text)
    with pytest.raises(SpaceError) as info:
        spaces.load(path)
    assert str(info.value).startswith(f"{tmp_path}/{message}"), str(info.value)


def test_syntax_errors_carry_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "s.yaml", "a: 1\nb: 2\nc: {type: int, low: 1 high: 2}\n")
    with pytest.raises(SpaceError) as info:
        spaces.load(path)
    assert info.value.line == 3 and info.value.source == str(path)


def test_loads_names_its_source_only_when_given() -> None:
    with pytest.raises(SpaceError, match=r"^C: `low <= high`"):
        spaces.loads('{"C": {"type": "int", "low": 2, "high": 1}}', "json")
    with pytest.raises(SpaceError, match=r"^inline: C: `low <= high`"):
        spaces.loads("C: {type: int, low: 2, high: 1}", source="inline")
    with pytest.raises(SpaceError, match="unknown format 'toml'; use 'yaml' or 'json'."):
        spaces.loads("C: 1", "toml")  # type: ignore[arg-type]


# -- what load accepts -----------------------------------------------------------------------


def test_load_by_ready_made_name_or_object() -> None:
    space = spaces.load("svm")
    assert space.paths() == ["C", "kernel", "kernel.rbf.gamma"]
    assert spaces.load(space) is space
    assert spaces.load(space.to_dict()) == space


def test_an_unknown_name_lists_the_ready_made_spaces() -> None:
    with pytest.raises(SpaceError) as info:
        spaces.load("svn")
    assert str(info.value) == (
        "svn: not a space file and not a ready-made space; the ready-made spaces are: "
        "dense, hist_gradient_boosting, knn, logistic_regression, mlp, random_forest, svm."
    )


def test_missing_files_and_wrong_suffixes(tmp_path: Path) -> None:
    with pytest.raises(SpaceError, match=r"nope\.yaml: no such file\.$"):
        spaces.load(tmp_path / "nope.yaml")
    txt = _write(tmp_path, "space.txt", "C: 1\n")
    with pytest.raises(SpaceError, match=r"space\.txt: unsupported file type '\.txt'"):
        spaces.load(txt)
    with pytest.raises(SpaceError, match=r"space\.toml: unsupported file type '\.toml'"):
        spaces.dump(Space(), tmp_path / "space.toml")
    with pytest.raises(SpaceError, match="a space source must be a file path"):
        spaces.load(3)  # type: ignore[arg-type]
