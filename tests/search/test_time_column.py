"""The time column is read as time: the sealed test part is the latest rows, whatever the form.

Text dates are parsed with one explicit format that the values choose (ISO, day-first,
month-first); numbers sort as numbers; datetime columns as they are. A column that cannot be
ordered for sure is refused with one line naming it, before anything is written.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from search import Data, UserError
from search.core._data import fingerprint, load_and_split
from search.integrity._leaks import check_leaks
from tests.conftest import run_cli

#: 40 days across a year end: as text, '31/12/2023' sorts after '01/01/2024'
DAYS = pd.date_range("2023-12-05", periods=40, freq="D")


def split(spec: Data, base_dir: Path | None = None):
    return load_and_split(spec, task="regression", seed=0, base_dir=base_dir or Path.cwd())


def shuffled(dates: pd.Series | pd.DatetimeIndex, seed: int = 0) -> pd.DataFrame:
    """Rows in a random order, ``x`` numbering them and ``y`` a target."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(dates))
    return pd.DataFrame(
        {"date": np.asarray(dates)[order], "x": np.arange(len(dates)), "y": rng.normal(size=40)}
    )


def assert_latest_rows_sealed(frame: pd.DataFrame, parts, when: pd.Series) -> None:
    """The test part is exactly the latest rows by ``when`` (the dates the user meant)."""
    latest = frame.assign(_when=when.to_numpy()).sort_values("_when", kind="stable")
    latest = latest.drop(columns="_when").tail(len(parts.test)).reset_index(drop=True)
    expected = fingerprint(latest.drop(columns="y"), latest["y"].to_numpy())
    assert parts.test.fingerprint == expected


@pytest.mark.parametrize(
    ("form", "fmt"),
    [
        ("ISO date", "%Y-%m-%d"),
        ("ISO date and time", "%Y-%m-%d %H:%M"),
        ("ISO with zone", "%Y-%m-%dT%H:%M:%SZ"),
        ("day-first", "%d/%m/%Y"),
        ("day-first, dots, short year", "%d.%m.%y"),
        ("month-first", "%m/%d/%Y"),
        ("month-first, dashes", "%m-%d-%Y"),
    ],
)
def test_text_dates_seal_the_latest_rows(tmp_path, form, fmt):
    frame = shuffled(DAYS.strftime(fmt))
    frame.to_csv(tmp_path / "d.csv", index=False)
    parts = split(Data("d.csv", target="y", time="date", test_size=0.2), base_dir=tmp_path)
    dev = pd.to_datetime(parts.dev.X["date"], format=fmt)
    test = pd.to_datetime(parts.test._X["date"], format=fmt)
    assert len(test) == 8
    assert dev.max() < test.min()  # the sealed part is the future
    assert dev.is_monotonic_increasing and test.is_monotonic_increasing
    assert sorted(test.dt.strftime("%Y-%m-%d")) == [f"2024-01-{d:02d}" for d in range(6, 14)]
    assert parts.dev.X["date"].tolist()[0] == DAYS[0].strftime(fmt)  # values kept as written
    assert_latest_rows_sealed(frame, parts, pd.to_datetime(frame["date"], format=fmt))


def test_day_first_text_would_have_sealed_the_wrong_rows_when_sorted_as_text(tmp_path):
    frame = shuffled(DAYS.strftime("%d/%m/%Y"))
    as_text = frame.sort_values("date", kind="stable").tail(8)["date"]
    assert "31/12/2023" in as_text.tolist()  # what the old text sort sealed as "latest"
    parts = split(Data(frame, target="y", time="date", test_size=0.2))
    assert "31/12/2023" in parts.dev.X["date"].tolist()
    assert parts.test._X["date"].tolist() == [f"{d:02d}/01/2024" for d in range(6, 14)]


def test_numbers_sort_as_numbers_not_as_text(tmp_path):
    frame = pd.DataFrame({"t": [100, 9, 10, 1000, 99, 2], "x": np.arange(6.0), "y": np.arange(6.0)})
    frame.to_csv(tmp_path / "d.csv", index=False)
    for source in (frame, "d.csv"):
        parts = split(Data(source, target="y", time="t", test_size=0.3), base_dir=tmp_path)
        assert parts.dev.X["t"].tolist() == [2, 9, 10, 99]
        assert parts.test._X["t"].tolist() == [100, 1000]
    as_text = frame.astype({"t": str})  # numbers written as text are still numbers
    parts = split(Data(as_text, target="y", time="t", test_size=0.3))
    assert parts.test._X["t"].tolist() == ["100", "1000"]


@pytest.mark.parametrize("zone", [None, "Europe/Paris"])
def test_a_datetime_column_sorts_as_it_is(zone):
    frame = shuffled(DAYS.tz_localize(zone) if zone else DAYS)
    parts = split(Data(frame, target="y", time="date", test_size=0.2))
    assert parts.dev.X["date"].dtype == frame["date"].dtype  # the feature is untouched
    assert parts.dev.X["date"].max() < parts.test._X["date"].min()
    assert parts.test._X["date"].is_monotonic_increasing
    assert_latest_rows_sealed(frame, parts, frame["date"])


def test_zoned_iso_times_compare_as_instants():
    # 10:00 at +02:00 is 08:00 UTC, before 09:00Z
    frame = pd.DataFrame(
        {
            "date": ["2024-01-01T09:00:00Z", "2024-01-01T10:00:00+02:00", "2024-01-01T08:30:00Z"],
            "x": [1.0, 2.0, 3.0],
            "y": [1.0, 2.0, 3.0],
        }
    )
    parts = split(Data(frame, target="y", time="date", test_size=0.3))
    assert parts.dev.X["date"].tolist() == ["2024-01-01T10:00:00+02:00", "2024-01-01T08:30:00Z"]
    assert parts.test._X["date"].tolist() == ["2024-01-01T09:00:00Z"]


def test_equal_times_keep_their_order_and_the_callers_frame_is_untouched():
    frame = pd.DataFrame(
        {"date": ["2024-01-02", "2024-01-01", "2024-01-02", "2024-01-01"], "x": [0, 1, 2, 3]}
    ).assign(y=[0.0, 1.0, 2.0, 3.0])
    before = frame.copy()
    parts = split(Data(frame, target="y", time="date", test_size=0.5))
    assert parts.dev.X["x"].tolist() == [1, 3] and parts.test._X["x"].tolist() == [0, 2]
    pd.testing.assert_frame_equal(frame, before)


def test_no_warning_from_pandas_while_reading_dates(tmp_path):
    shuffled(DAYS.strftime("%d/%m/%y")).to_csv(tmp_path / "d.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        split(Data("d.csv", target="y", time="date", test_size=0.2), base_dir=tmp_path)


def dates(*values: object, dtype: object = None) -> pd.DataFrame:
    n = len(values)
    return pd.DataFrame(
        {"date": pd.Series(values, dtype=dtype), "x": np.arange(n), "y": np.arange(n) * 1.0}
    )


REFUSED = {
    "ambiguous": (
        dates("01/02/2024", "03/04/2024", "05/06/2024", "07/08/2024"),
        "DataFrame: time column 'date' cannot tell day-first from month-first dates: no value "
        "has a field above 12 (row 0: '01/02/2024'); write them as ISO dates YYYY-MM-DD",
    ),
    "inconsistent": (
        dates("01/02/2024", "02/02/2024", "03/02/2024", "31/01/2024", "05/02/2024", "01/31/2024"),
        "DataFrame: time column 'date' mixes day-first and month-first dates (row 3: "
        "'31/01/2024', row 5: '01/31/2024'); write them as ISO dates YYYY-MM-DD",
    ),
    "numbers and text": (
        dates(5, "2024-01-02", 7, dtype=object),
        "DataFrame: time column 'date' mixes numbers and text (row 0: 5, row 1: '2024-01-02'); "
        "use one kind: numbers, or dates written as ISO dates YYYY-MM-DD",
    ),
    "dates and numbers": (
        dates(pd.Timestamp("2024-01-01"), 3, dtype=object),
        "DataFrame: time column 'date' mixes dates and numbers (row 0: 2024-01-01 00:00:00, "
        "row 1: 3); use one kind: numbers, or dates written as ISO dates YYYY-MM-DD",
    ),
    "missing values": (
        dates("2024-01-01", None, "2024-01-03", "", "2024-01-05"),
        "DataFrame: time column 'date' has 2 missing values (first at row 1); fill or drop "
        "those rows first",
    ),
    "missing number": (
        dates(1.0, 2.0, np.nan),
        "DataFrame: time column 'date' has 1 missing value (first at row 2); fill or drop "
        "those rows first",
    ),
    "no such day": (
        dates("31/01/2024", "30/02/2024", "01/03/2024"),
        "DataFrame: time column 'date': row 1 holds '30/02/2024', which is not a valid date as "
        "DD/MM/YYYY; correct or drop that row",
    ),
    "another form": (
        dates("31/01/2024", "2024-02-01", "01/03/2024"),
        "DataFrame: time column 'date': row 1 holds '2024-02-01', which is not written like "
        "row 0 ('31/01/2024'); write every date the same way, best as ISO dates YYYY-MM-DD",
    ),
    "no month": (
        dates("13/13/2024", "31/01/2024"),
        "DataFrame: time column 'date': row 0 holds '13/13/2024', which is not a date: neither "
        "field can be the month; write them as ISO dates YYYY-MM-DD",
    ),
    "words": (
        dates("Jan 31 2024", "Feb 1 2024"),
        "DataFrame: time column 'date': row 0 holds 'Jan 31 2024', which is not a date in a "
        "form read here (YYYY-MM-DD, DD/MM/YYYY or MM/DD/YYYY); write them as ISO dates "
        "YYYY-MM-DD",
    ),
    "zone on some": (
        dates("2024-01-01T10:00:00Z", "2024-01-02T10:00:00"),
        "DataFrame: time column 'date' mixes times with and without a time zone (row 0: "
        "'2024-01-01T10:00:00Z', row 1: '2024-01-02T10:00:00'); give every value a zone, or none",
    ),
    "booleans": (
        dates(True, False, True),
        "DataFrame: time column 'date' holds booleans; a time column holds numbers or dates",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_time_column_that_cannot_be_ordered_for_sure_is_refused_by_name(case):
    frame, message = REFUSED[case]
    with pytest.raises(UserError) as info:
        split(Data(frame, target="y", time="date", test_size=0.25))
    assert str(info.value) == message


STUDY = """
from sklearn.dummy import DummyRegressor
from objectives import SklearnObjective
from search import Data, Study
from spaces import Categorical, Space

study = Study(
    name="dated",
    data=Data("d.csv", target="y", time="date", test_size=0.2),
    space=Space({"strategy": Categorical(["mean", "median"])}),
    objective=SklearnObjective(DummyRegressor(), folds=3),
    metric="rmse",
    trials=2,
    seed=0,
)
"""


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            [f"{m:02d}/{d:02d}/2024" for m in range(1, 11) for d in (1, 12)],
            "d.csv: time column 'date' cannot tell day-first from month-first dates",
        ),
        (
            ["31/01/2024"] + [f"01/{d:02d}/2024" for d in range(1, 19)] + ["01/31/2024"],
            "d.csv: time column 'date' mixes day-first and month-first dates (row 0: "
            "'31/01/2024', row 13: '01/13/2024')",
        ),
        (
            [str(i) for i in range(19)] + ["2024-01-01"],
            "d.csv: time column 'date' mixes numbers and text (row 0: '0', row 19: '2024-01-01')",
        ),
    ],
    ids=["ambiguous", "inconsistent", "numbers and text"],
)
def test_the_command_line_refuses_the_column_with_exit_2_and_writes_nothing(
    tmp_path, write_study, values, message
):
    frame = pd.DataFrame({"date": values, "x": np.arange(20.0), "y": np.arange(20.0)})
    frame.to_csv(tmp_path / "d.csv", index=False)
    study = write_study(STUDY)
    before = sorted(p.name for p in tmp_path.iterdir())
    result = run_cli(study, "--results", tmp_path / "out", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no results folder, nothing


def test_the_command_line_seals_the_latest_day_first_rows(tmp_path, write_study):
    frame = shuffled(DAYS.strftime("%d/%m/%Y"))
    frame.to_csv(tmp_path / "d.csv", index=False)
    study = write_study(STUDY)
    result = run_cli(study, "--results", tmp_path / "out", "--no-tracking", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    recorded = json.loads((tmp_path / "out" / "dated" / "study.json").read_text())
    parts = split(Data("d.csv", target="y", time="date", test_size=0.2), base_dir=tmp_path)
    assert recorded["fingerprints"]["test"] == parts.test.fingerprint.to_dict()
    assert parts.test._X["date"].tolist() == [f"{d:02d}/01/2024" for d in range(6, 14)]


def test_the_leak_check_reads_the_time_column_as_time():
    spec = Data(shuffled(DAYS.strftime("%d/%m/%Y")), target="y", time="date", test_size=0.2)
    parts = split(spec)
    found = check_leaks(parts.dev, parts.test, groups=None, time="date", seed=0)
    assert "time_order" not in {f.kind for f in found}
