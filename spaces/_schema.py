"""The JSON Schema of the space-file format, for editors and other tools.

The schema checks the shape of a file (types, keys, names, nesting); :func:`spaces.load` checks
everything (ranges, defaults, name collisions) and is the authority.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: The schema file shipped with the package (JSON Schema draft 2020-12).
SCHEMA_PATH = Path(__file__).parent / "schema" / "space.schema.json"


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a space file, as a fresh dict."""
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema
