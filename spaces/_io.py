"""Space files: YAML and JSON in and out, and the ready-made spaces.

A W&B sweep file loads as a space file does (its space; :func:`load_wandb_sweep` gives the
whole :class:`~spaces.WandbSweep`): a top level whose ``parameters:`` holds W&B parameters
cannot be a space file, where every parameter has a string ``type``.

Loading parses with a safe loader (no ``!!python`` tags), then rebuilds every parameter through
its constructor via an allow-list of keys per type (:func:`spaces._space.parse_param`), so a
file is validated exactly like Python code. Errors are prefixed with the file name, and syntax
errors carry the line.

YAML is read with YAML 1.2 scalars: ``1e-4`` is a float (YAML 1.1 reads it as a string), and
only ``true``/``false`` are booleans (YAML 1.1 also reads ``yes``, ``no``, ``on``, ``off``).
A key that appears twice in one mapping is an error rather than a silent overwrite.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from spaces._errors import SpaceError
from spaces._space import Space
from spaces._wandb_sweep import WandbSweep, is_wandb_sweep, read_wandb_sweep

#: Where the ready-made spaces live, one ``NAME.yaml`` each.
LIBRARY_DIR = Path(__file__).parent / "library"

Format = Literal["yaml", "json"]
_SUFFIXES: dict[str, Format] = {".yaml": "yaml", ".yml": "yaml", ".json": "json"}


def ready_made() -> list[str]:
    """The names of the ready-made spaces, for :func:`load`."""
    return sorted(path.stem for path in LIBRARY_DIR.glob("*.yaml"))


def load(source: str | os.PathLike[str] | Space | Mapping[str, Any]) -> Space:
    """Load a space from a ``.yaml``/``.yml``/``.json`` file, or a ready-made space by name.

    ``source`` may also be a :class:`Space` (returned as it is) or a Python mapping, read as
    :class:`Space` reads one (so it may hold foreign values: Ray Tune domains, lists, frozen
    ``scipy.stats`` distributions). A W&B sweep file gives its space, every other key of it
    checked (:func:`load_wandb_sweep` gives them all). Errors name the file:
    ``"space.yaml: model.svm.C: ..."``.

    >>> load("knn").paths()
    ['n_neighbors', 'weights', 'p']
    """
    if isinstance(source, Space):
        return source
    if isinstance(source, Mapping):
        return Space({key: value for key, value in source.items() if key != "$schema"})
    if not isinstance(source, str | os.PathLike):
        raise SpaceError(
            "a space source must be a file path, a ready-made space name, a Space or a mapping, "
            f"but got {source!r} of type {type(source).__name__}."
        )
    label = os.fspath(source)
    if isinstance(source, str) and source in ready_made():
        path = LIBRARY_DIR / f"{source}.yaml"
        label = f"{source} (ready-made space)"
    else:
        path = Path(source)
    if _SUFFIXES.get(path.suffix.lower()) is None and not path.is_file():
        raise SpaceError(
            "not a space file and not a ready-made space; the ready-made spaces are: "
            f"{', '.join(ready_made())}.",
            source=label,
        )
    text, fmt = _read(path, label)
    return loads(text, fmt, source=label)


def load_wandb_sweep(path: str | os.PathLike[str]) -> WandbSweep:
    """The :class:`~spaces.WandbSweep` of a W&B sweep file (``.yaml``, ``.yml``, ``.json``).

    Raise :class:`SpaceError` naming the file for a missing or unreadable file, bad YAML or
    JSON, a file that is not a W&B sweep configuration (a space file, say), and anything
    :func:`~spaces.read_wandb_sweep` refuses: ``"sweep.yaml: early_terminate.eta: ..."``.
    """
    label = os.fspath(path)
    text, fmt = _read(Path(path), label)
    try:
        data = _parse_yaml(text) if fmt == "yaml" else _parse_json(text)
        if not is_wandb_sweep(data):
            raise SpaceError(
                "not a W&B sweep configuration: its top level has no `parameters:` mapping of "
                "parameter name to W&B parameter."
            )
        return read_wandb_sweep(data)
    except SpaceError as error:
        raise error.in_file(label) from None


def _read(path: Path, label: str) -> tuple[str, Format]:
    """The text of the file at ``path`` and its format; errors are prefixed with ``label``."""
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise SpaceError(
            f"unsupported file type {path.suffix!r}; a space file ends in .yaml, .yml or .json.",
            source=label,
        )
    try:
        return path.read_text(encoding="utf-8"), fmt
    except FileNotFoundError:
        raise SpaceError("no such file.", source=label) from None
    except (OSError, UnicodeDecodeError) as error:
        raise SpaceError(f"cannot read the file: {error}.", source=label) from None


def loads(text: str, format: Format = "yaml", *, source: str | None = None) -> Space:
    """A space from the text of a space file in ``format`` (``"yaml"`` or ``"json"``).

    The text may also be a W&B sweep configuration (a top level with ``parameters:`` holding
    W&B parameters): it is read whole by :func:`~spaces.read_wandb_sweep`, and its space
    returned. ``source`` (a file name) prefixes every error message.
    """
    try:
        if format == "yaml":
            data = _parse_yaml(text)
        elif format == "json":
            data = _parse_json(text)
        else:
            raise SpaceError(f"unknown format {format!r}; use 'yaml' or 'json'.")
        if data is None:
            raise SpaceError("the file is empty; a space is a mapping of name to parameter.")
        if is_wandb_sweep(data):
            return read_wandb_sweep(data).space
        if not isinstance(data, Mapping):
            raise SpaceError(
                "the top level must be a mapping of parameter name to parameter, but got a "
                f"{type(data).__name__}."
            )
        return Space.from_dict(data)
    except SpaceError as error:
        raise (error if source is None else error.in_file(source)) from None


def dumps(space: Space | Mapping[str, Any], format: Format = "yaml") -> str:
    """The text of a space file in ``format``, every parameter written in the explicit form.

    ``loads(dumps(space, f), f) == space`` for every space and format.
    """
    data = load(space).to_dict()
    if format == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if format == "yaml":
        import yaml

        _, dumper = _yaml_classes()
        text: str = yaml.dump(
            data,
            Dumper=dumper,
            sort_keys=False,
            default_flow_style=None,
            allow_unicode=True,
            width=100,
        )
        return text
    raise SpaceError(f"unknown format {format!r}; use 'yaml' or 'json'.")


def dump(space: Space | Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """Write ``space`` to ``path``; the suffix (``.yaml``, ``.yml``, ``.json``) sets the format."""
    target = Path(path)
    fmt = _SUFFIXES.get(target.suffix.lower())
    if fmt is None:
        raise SpaceError(
            f"unsupported file type {target.suffix!r}; a space file ends in .yaml, .yml or .json.",
            source=os.fspath(path),
        )
    target.write_text(dumps(space, fmt), encoding="utf-8")


# -- YAML -----------------------------------------------------------------------------------

_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_MERGE = "tag:yaml.org,2002:merge"

#: YAML 1.2 core-schema scalars (PyYAML implements YAML 1.1).
_YAML12: list[tuple[str, re.Pattern[str], str]] = [
    (_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), "tTfF"),
    (
        _INT,
        re.compile(r"^(?:[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?0o[0-7_]+)$"),
        "-+0123456789",
    ),
    (
        _FLOAT,
        re.compile(
            r"""^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                 |[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
                 |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
                 |[-+]?\.(?:inf|Inf|INF)
                 |\.(?:nan|NaN|NAN))$""",
            re.X,
        ),
        "-+0123456789.",
    ),
]


@functools.cache
def _yaml_classes() -> tuple[Any, Any]:
    """A safe loader with YAML 1.2 scalars and no duplicate keys, and a dumper that quotes
    every string that either YAML 1.1 or 1.2 would read as something else."""
    import yaml

    class Loader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == _MERGE:
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                    seen.add(key)
                except TypeError:  # unhashable: the base class reports it
                    continue
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark
                    )
            return super().construct_mapping(node, deep)

    class Dumper(yaml.SafeDumper):
        pass

    Loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_BOOL, _INT, _FLOAT)]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    for tag, regexp, first in _YAML12:
        Loader.add_implicit_resolver(tag, regexp, list(first))
        Dumper.add_implicit_resolver(tag, regexp, list(first))
    return Loader, Dumper


def _parse_yaml(text: str) -> Any:
    import yaml

    loader, _ = _yaml_classes()
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = "; ".join(part for part in (error.context, error.problem) if part)
        raise SpaceError(
            f"invalid YAML: {problem or error}",
            line=None if mark is None else mark.line + 1,
            column=None if mark is None else mark.column + 1,
        ) from None
    except yaml.YAMLError as error:
        raise SpaceError(f"invalid YAML: {error}") from None


# -- JSON -----------------------------------------------------------------------------------


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise SpaceError(f"invalid JSON: duplicate key {key!r} in one object.")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise SpaceError(f"invalid JSON: {name} is not a JSON number.")


def _parse_json(text: str) -> Any:
    if not text.strip():
        return None
    try:
        return json.loads(text, object_pairs_hook=_object, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        raise SpaceError(
            f"invalid JSON: {error.msg}", line=error.lineno, column=error.colno
        ) from None
