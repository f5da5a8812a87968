"""The shipped JSON Schema accepts every example and ready-made file, and rejects bad ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

import spaces

DATA = Path(__file__).parent / "data"
LIBRARY = Path(spaces.__file__).parent / "library"
FILES = sorted(DATA.iterdir()) + sorted(LIBRARY.glob("*.yaml"))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = spaces.json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _read(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


def test_the_schema_ships_with_the_package() -> None:
    assert spaces.SCHEMA_PATH.is_file()
    assert spaces.json_schema() == json.loads(spaces.SCHEMA_PATH.read_text(encoding="utf-8"))
    assert spaces.json_schema() is not spaces.json_schema()
    assert len(FILES) == 11  # 4 test files, 7 ready-made spaces


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_file_and_its_dump_validate(path: Path, validator: jsonschema.Validator) -> None:
    validator.validate(_read(path))
    space = spaces.load(path)
    validator.validate(json.loads(spaces.dumps(space, "json")))
    validator.validate(yaml.safe_load(spaces.dumps(space, "yaml")))


BAD: list[tuple[str, Any]] = [
    ("unknown-key", {"C": {"type": "float", "low": 0, "high": 1, "lw": 0}}),
    ("missing-high", {"C": {"type": "float", "low": 0}}),
    ("unknown-type", {"C": {"type": "double", "low": 0, "high": 1}}),
    ("dotted-name", {"a.b": {"type": "float", "low": 0, "high": 1}}),
    ("int-low-fraction", {"n": {"type": "int", "low": 1.5, "high": 3}}),
    ("empty-choices", {"k": {"type": "categorical", "choices": []}}),
    ("nested-list-choice", {"k": {"type": "categorical", "choices": [[1, 2]]}}),
    ("repeated-choice", {"k": {"type": "categorical", "choices": ["a", "a"]}}),
    ("option-not-a-mapping", {"m": {"type": "categorical", "choices": {"svm": None}}}),
    ("bad-name-in-option", {"m": {"type": "categorical", "choices": {"svm": {"1C": 1}}}}),
    (
        "deep-unknown-key",
        {
            "m": {
                "type": "categorical",
                "choices": {
                    "svm": {
                        "k": {
                            "type": "categorical",
                            "choices": {
                                "rbf": {"g": {"type": "float", "low": 0, "high": 1, "lg": True}}
                            },
                        }
                    }
                },
            }
        },
    ),
    ("bare-list", {"k": ["a", "b"]}),
    ("top-level-list", ["C"]),
]


@pytest.mark.parametrize("data", [d for _, d in BAD], ids=[i for i, _ in BAD])
def test_bad_files_fail_the_schema_and_the_loader(
    data: Any, validator: jsonschema.Validator
) -> None:
    assert not validator.is_valid(data)
    with pytest.raises(spaces.SpaceError):
        spaces.loads(json.dumps(data), "json")
