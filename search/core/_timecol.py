"""Read a time column as an orderable key, so that "the last rows" are really the latest.

Numbers sort as numbers and datetime columns as they are. Text is read as dates with an
explicit format, never by inference: ISO 8601 (``2024-01-31``, ``2024-01-31 10:00``,
``2024-01-31T10:00:00Z``), or day-first / month-first dates with ``/``, ``-`` or ``.``
(``31/01/2024``, ``01/31/24``, ``31.01.2024``, optionally followed by ``HH:MM[:SS]``). Which of
day-first and month-first a column is, its values tell: a first field above 12 means
day-first, a second field above 12 means month-first; a column that shows both, or neither,
is refused. Every refusal is a one-line :class:`UserError` naming the column.
"""

from __future__ import annotations

import datetime
import numbers
import re
from typing import TYPE_CHECKING, Any

from search.core._errors import UserError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

#: what every refusal of a text column recommends
ISO_HINT = "write them as ISO dates YYYY-MM-DD"

_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_ZONE = r"(?:Z|[+-]\d{2}:?\d{2})"
_ISO = rf"\d{{4}}-\d{{2}}-\d{{2}}(?:[T ]\d{{2}}:\d{{2}}(?::\d{{2}}(?:[.,]\d{{1,9}})?)?)?{_ZONE}?"
_DAY_MONTH = (
    r"(?P<first>\d{1,2})(?P<sep>[/.-])(?P<second>\d{1,2})(?P=sep)(?P<year>\d{4}|\d{2})"
    r"(?: (?P<clock>\d{1,2}:\d{2}(?::\d{2})?))?"
)
#: strptime codes as the messages show them
_SHOWN = {"%d": "DD", "%m": "MM", "%Y": "YYYY", "%y": "YY", "%H": "HH", "%M": "MM", "%S": "SS"}


def time_order(column: pd.Series, *, name: str, where: str) -> np.ndarray:
    """The row positions that put ``column`` in time order; ties keep their order (stable)."""
    import numpy as np

    return np.argsort(time_key(column, name=name, where=where), kind="stable")


def time_key(column: pd.Series, *, name: str, where: str) -> np.ndarray:
    """``column`` as an array that sorts in time order (numbers, or datetime64 in UTC).

    ``name`` is the column's name and ``where`` the data's source, both for the messages.
    """
    import pandas as pd

    label = f"{where}: time column '{name}'"
    column = column.reset_index(drop=True)
    _refuse_missing(column, label)
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype):
        raise UserError(f"{label} holds booleans; a time column holds numbers or dates")
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return _datetimes(column)
    if pd.api.types.is_timedelta64_dtype(dtype):
        return column.to_numpy()
    if pd.api.types.is_numeric_dtype(dtype):
        return _numbers(column)
    if isinstance(dtype, pd.StringDtype):  # text only, and fast string methods
        return _text(column.str.strip(), label)
    return _objects(column.astype(object), label)


def _refuse_missing(column: pd.Series, label: str) -> None:
    """NaN, None, NaT and blank text are missing; a row without a time has no place in order."""
    import numpy as np
    import pandas as pd

    missing = column.isna().to_numpy()
    if isinstance(column.dtype, pd.StringDtype):
        missing = missing | (column.str.strip() == "").fillna(False).to_numpy(dtype=bool)
    elif pd.api.types.is_object_dtype(column.dtype):
        blank = column.map(lambda v: isinstance(v, str) and not v.strip(), na_action="ignore")
        missing = missing | blank.fillna(False).to_numpy(dtype=bool)
    if missing.any():
        count, first = int(missing.sum()), int(np.flatnonzero(missing)[0])
        raise UserError(
            f"{label} has {count} missing value{'s' if count > 1 else ''} (first at row "
            f"{first}); fill or drop those rows first"
        )


def _numbers(column: pd.Series) -> np.ndarray:
    import numpy as np

    numpy_dtype = getattr(column.dtype, "numpy_dtype", None)  # nullable and arrow dtypes
    return np.asarray(column.to_numpy(dtype=numpy_dtype) if numpy_dtype else column.to_numpy())


def _datetimes(column: pd.Series) -> np.ndarray:
    """datetime64 values in UTC without a zone (a zone-aware column compares as instants)."""
    if getattr(column.dt, "tz", None) is not None:
        column = column.dt.tz_convert(None)
    return column.to_numpy()


def _kind(value: Any) -> str:
    import numpy as np

    if isinstance(value, str):
        return "text"
    if isinstance(value, (datetime.date, np.datetime64)):  # pd.Timestamp is a datetime
        return "dates"
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return "numbers"
    return f"{type(value).__name__} values"


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _objects(column: pd.Series, label: str) -> np.ndarray:
    """A column of Python objects: all text, all numbers or all dates, never a mix."""
    import pandas as pd

    kinds = [_kind(v) for v in column]
    first_row: dict[str, int] = {}
    for row, kind in enumerate(kinds):
        first_row.setdefault(kind, row)
    if len(first_row) > 1:
        (kind_a, row_a), (kind_b, row_b) = list(first_row.items())[:2]
        raise _mixed(label, kind_a, kind_b, (row_a, column[row_a]), (row_b, column[row_b]))
    (kind,) = first_row
    if kind == "numbers":
        return _numbers(pd.to_numeric(column))
    if kind == "dates":
        return _date_objects(column, label)
    if kind == "text":
        return _text(column.str.strip(), label)
    raise UserError(
        f"{label} holds {kind} (row 0: {_show(column[0])}); a time column holds numbers, "
        "or dates written as ISO dates YYYY-MM-DD"
    )


def _mixed(
    label: str, kind_a: str, kind_b: str, a: tuple[int, Any], b: tuple[int, Any]
) -> UserError:
    return UserError(
        f"{label} mixes {kind_a} and {kind_b} (row {a[0]}: {_show(a[1])}, row {b[0]}: "
        f"{_show(b[1])}); use one kind: numbers, or dates written as ISO dates YYYY-MM-DD"
    )


def _date_objects(column: pd.Series, label: str) -> np.ndarray:
    """``datetime``/``date``/``Timestamp`` objects: all with a time zone, or all without."""
    import pandas as pd

    zoned = [getattr(v, "tzinfo", None) is not None for v in column]
    if any(zoned) and not all(zoned):
        with_zone, without = zoned.index(True), zoned.index(False)
        raise _zones(label, (with_zone, column[with_zone]), (without, column[without]))
    return _datetimes(pd.Series(pd.to_datetime(list(column), utc=any(zoned))))


def _zones(label: str, with_zone: tuple[int, Any], without: tuple[int, Any]) -> UserError:
    return UserError(
        f"{label} mixes times with and without a time zone (row {with_zone[0]}: "
        f"{_show(with_zone[1])}, row {without[0]}: {_show(without[1])}); give every value a "
        "zone, or none"
    )


def _text(text: pd.Series, label: str) -> np.ndarray:
    """Numbers written as text sort as numbers; other text must be dates of one form."""
    import pandas as pd

    numeric = text.str.fullmatch(_NUMBER).to_numpy(dtype=bool)
    if numeric.all():
        return _numbers(pd.to_numeric(text))
    if numeric.any():
        row_n, row_t = int(numeric.argmax()), int((~numeric).argmax())
        raise _mixed(label, "numbers", "text", (row_n, text[row_n]), (row_t, text[row_t]))
    if re.fullmatch(_ISO, text[0]):
        return _iso_dates(text, label)
    head = re.fullmatch(_DAY_MONTH, text[0])
    if head:
        return _day_month_dates(text, head, label)
    raise UserError(
        f"{label}: row 0 holds {text[0]!r}, which is not a date in a form read here "
        f"(YYYY-MM-DD, DD/MM/YYYY or MM/DD/YYYY); {ISO_HINT}"
    )


def _iso_dates(text: pd.Series, label: str) -> np.ndarray:
    """ISO 8601 dates and times: all with a zone (compared in UTC), or all without."""
    iso = text.str.fullmatch(_ISO).to_numpy(dtype=bool)
    _refuse_other_forms(text, ~iso, label)
    zoned = text.str.contains(f"{_ZONE}$").to_numpy(dtype=bool)  # a full ISO match ends so
    if zoned.any() and not zoned.all():
        with_zone, without = int(zoned.argmax()), int((~zoned).argmax())
        raise _zones(label, (with_zone, text[with_zone]), (without, text[without]))
    return _parse(text, "ISO8601", "YYYY-MM-DD", label, utc=bool(zoned.any()))


def _day_month_dates(text: pd.Series, head: re.Match[str], label: str) -> np.ndarray:
    """``31/01/2024``-like dates: the values say whether the day or the month comes first.

    The first value (matched as ``head``) sets the form: separator, year digits, time of day.
    Regular expressions over the whole column check the form and look for fields above 12.
    """
    sep, field = re.escape(head["sep"]), r"\d{1,2}"
    clock = head["clock"].count(":") if head["clock"] else 0  # 1: HH:MM, 2: HH:MM:SS
    year = "%Y" if len(head["year"]) == 4 else "%y"
    form = f"{field}{sep}{field}{sep}\\d{{{len(head['year'])}}}"
    form += ("", rf" {field}:\d{{2}}", rf" {field}:\d{{2}}:\d{{2}}")[clock]
    _refuse_other_forms(text, ~text.str.fullmatch(form).to_numpy(dtype=bool), label)
    above_12 = "(?:1[3-9]|[2-9][0-9])"
    first = text.str.match(f"{above_12}{sep}").to_numpy(dtype=bool)
    second = text.str.match(f"{field}{sep}{above_12}{sep}").to_numpy(dtype=bool)
    day, month = ("%d", "%m") if _is_day_first(text, first, second, label) else ("%m", "%d")
    fmt = f"{day}{head['sep']}{month}{head['sep']}{year}" + ("", " %H:%M", " %H:%M:%S")[clock]
    shown = fmt
    for code, name in _SHOWN.items():
        shown = shown.replace(code, name)
    return _parse(text, fmt, shown, label)


def _is_day_first(text: pd.Series, first: np.ndarray, second: np.ndarray, label: str) -> bool:
    """True for day-first, False for month-first; refuse a column that shows both or neither.

    ``first`` and ``second`` flag the rows whose first or second field is above 12.
    """
    both = first & second
    if both.any():
        row = int(both.argmax())
        raise UserError(
            f"{label}: row {row} holds {text[row]!r}, which is not a date: "
            f"neither field can be the month; {ISO_HINT}"
        )
    if first.any() and second.any():
        row_d, row_m = int(first.argmax()), int(second.argmax())
        raise UserError(
            f"{label} mixes day-first and month-first dates (row {row_d}: {text[row_d]!r}, "
            f"row {row_m}: {text[row_m]!r}); {ISO_HINT}"
        )
    if not first.any() and not second.any():
        raise UserError(
            f"{label} cannot tell day-first from month-first dates: no value has a field above "
            f"12 (row 0: {text[0]!r}); {ISO_HINT}"
        )
    return bool(first.any())


def _refuse_other_forms(text: pd.Series, other: np.ndarray, label: str) -> None:
    """Every value is written like the first one, which chose the column's format."""
    if other.any():
        row = int(other.argmax())
        raise UserError(
            f"{label}: row {row} holds {text[row]!r}, which is not written like row 0 "
            f"({text[0]!r}); write every date the same way, best as ISO dates YYYY-MM-DD"
        )


def _parse(text: pd.Series, fmt: str, shown: str, label: str, *, utc: bool = False) -> np.ndarray:
    """Parse with one explicit format; the first value that does not parse is named."""
    import pandas as pd

    parsed = pd.to_datetime(text, format=fmt, errors="coerce", utc=utc)
    bad = parsed.isna().to_numpy()
    if bad.any():
        row = int(bad.argmax())
        raise UserError(
            f"{label}: row {row} holds {text[row]!r}, which is not a valid date as {shown}; "
            "correct or drop that row"
        )
    return _datetimes(parsed)
