"""Results at scale: ``report``, ``show``, ``search.load`` and the dashboard on a study of
thousands of trials, and the readers that follow a journal instead of replaying it again.

The study is made as ``benchmarks/results_scale.py`` makes it: a real small run (a conditional
space, five folds reported one by one, pruned and failed trials), its journal grown with the
lines a run's driver writes, ``study.json``'s journal record brought up to date and
``trials.csv``/``best.json`` rewritten from the store by the run's own writer. 6,500 trials
(about 5,300 complete) are enough to cross :data:`POINTS`, where the report starts to sample.
"""

from __future__ import annotations

import copy
import csv
import importlib.util
import json
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import search
from search import UserError
from search.watching._dashboard import PAGE
from search.watching._report_file import StoredTrials
from search.watching._report_plots import IMPORTANCE_TRIALS, LINES
from search.watching._report_study import BEST_POINTS, POINTS
from tests.conftest import ROOT, run_cli
from tests.search.test_report import chromium, figures, not_shown, open_report
from tests.search.test_report_figures import plotted

TRIALS = 6500


def _builder() -> Any:
    spec = importlib.util.spec_from_file_location(
        "results_scale", ROOT / "benchmarks" / "results_scale.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BUILD = _builder()


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished study of :data:`TRIALS` trials (read, never changed)."""
    return Path(BUILD.make_study(tmp_path_factory.mktemp("scale"), TRIALS, "folds", cwd=ROOT))


@pytest.fixture
def grown(big: Path, tmp_path: Path) -> Path:
    """A copy of the big study, to append trials to."""
    return Path(shutil.copytree(big, tmp_path / "scale"))


def _rows(folder: Path) -> list[dict[str, str]]:
    with open(folder / "trials.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _ranked(folder: Path) -> list[dict[str, str]]:
    """The complete trials of ``trials.csv``, best first (the study maximizes)."""
    done = [r for r in _rows(folder) if r["state"] == "COMPLETE"]
    return sorted(done, key=lambda r: (-float(r["value"]), int(r["number"])))


def test_the_report_of_a_big_study_draws_the_best_and_an_even_sample_and_says_so(
    big: Path, tmp_path: Path
) -> None:
    ranked = _ranked(big)
    complete = len(ranked)
    assert complete > POINTS  # the report samples
    result = run_cli("report", big, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    page = (big / "report.html").read_text(encoding="utf-8")
    assert len(page.encode()) < 10_000_000
    for title in ("Optimization history", "Leaderboard", "Parallel coordinates",
                  "Parameter importances", "Slices", "Learning curves", "Failed trials"):
        assert f">{title}<" in page, title
    assert not_shown(page) == ["this study has no data, so it has no test set"]
    said = (f"Showing {POINTS:,} of {complete:,} complete trials: the best {BEST_POINTS:,} "
            "and an even sample of the rest.")
    assert page.count(said) == 2  # the history and the slices
    assert (f"Weighed on an even sample of the complete trials (all trials: "
            f"{IMPORTANCE_TRIALS:,} of {complete:,}" in page)
    drawn = {f["layout"].get("title", {}).get("text", f["div"]): f for f in plotted(page)}
    values, best, *_ = drawn["Optimization history: value"]["data"]
    assert len(values["x"]) == POINTS and values["x"] == sorted(values["x"])
    assert {int(r["number"]) for r in ranked[:BEST_POINTS]} <= set(values["x"])
    assert best["y"][-1] == pytest.approx(float(ranked[0]["value"]))  # over every trial
    assert best["line"]["shape"] == "hv" and len(best["x"]) < 100  # its steps only
    slices = [f for f in plotted(page) if "xaxis2" in f["layout"]]
    assert slices and all(len(trace["x"]) <= POINTS for f in slices for trace in f["data"])
    parallel = next(f for f in plotted(page) if "shapes" in f["layout"])["data"]
    assert len([line for line in parallel if line["mode"] == "lines"]) == LINES
    assert f"top 20 of {complete} complete trials" in page
    with chromium(tmp_path) as browser:
        assert open_report(browser, big / "report.html") == figures(page)
        assert browser.errors() == []


def test_show_prints_the_best_of_a_big_study(big: Path, tmp_path: Path) -> None:
    ranked = _ranked(big)
    states: dict[str, int] = {}
    for row in _rows(big):
        states[row["state"]] = states.get(row["state"], 0) + 1
    start = time.perf_counter()
    result = run_cli("show", big, cwd=tmp_path)
    took = time.perf_counter() - start
    assert result.returncode == 0, result.stderr
    counts = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
    assert result.stdout.splitlines()[0].endswith(counts)
    assert f"top 10 of {len(ranked)} complete trials" in result.stdout
    shown = re.findall(r"^│ [*= ](\d+) ", result.stdout, flags=re.MULTILINE)
    assert shown == [r["number"] for r in ranked[:10]]
    assert f"best: trial {ranked[0]['number']} " in result.stdout
    assert took < 30, f"show took {took:.1f} s"


def test_load_reads_a_big_study_and_follows_its_journal(grown: Path) -> None:
    study = search.load(grown)
    assert len(study.trials) == TRIALS
    assert repr(study).startswith(f"<StudyResults 'scale' at {grown}: ")
    first = study.optuna_study()
    assert len(first.get_trials(deepcopy=False)) == TRIALS
    BUILD.append_trials(grown, 5)  # the run goes on: five more trials in the journal
    again = study.optuna_study()
    assert again._storage is first._storage  # followed, not replayed
    assert len(again.get_trials(deepcopy=False)) == TRIALS + 5
    assert study.metrics(TRIALS + 4) == []  # read from the journal it follows
    record = json.loads((grown / "study.json").read_text(encoding="utf-8"))
    size = record["journal"]["bytes"]
    with open(grown / "study.journal", "r+b") as f:
        f.truncate(size // 2)  # a damaged journal is refused, even to a view that read it
    with pytest.raises(UserError, match="the journal was truncated or replaced"):
        study.optuna_study()


def test_the_report_helper_follows_the_journal_and_trials_csv_keeps_its_rows(
    grown: Path, tmp_path: Path
) -> None:
    from search.core._goals import Goals
    from search.watching._results import ResultsWriter
    from spaces import Space

    stored = StoredTrials(grown)
    trials = stored.trials()
    assert len(trials) == TRIALS
    record = json.loads((grown / "study.json").read_text(encoding="utf-8"))
    writer = ResultsWriter(tmp_path, Space.from_dict(record["space"]),
                           Goals({"value": record["direction"]}))
    writer.update(trials)
    assert (tmp_path / "trials.csv").read_bytes() == (grown / "trials.csv").read_bytes()
    changed = copy.copy(trials[7])  # the store replaces a trial it changes
    changed.user_attrs = {**changed.user_attrs, "note": "again"}
    writer.update([*trials[:7], changed, *trials[8:]])  # the other rows as they were kept
    rows = _rows(tmp_path)
    assert rows[7]["user_attrs_note"] == "again" and rows[8]["user_attrs_note"] == ""
    assert [r["number"] for r in rows] == [str(n) for n in range(TRIALS)]

    study = stored._study
    BUILD.append_trials(grown, 3)  # the run goes on
    assert stored.follow() < 10
    assert stored._study is study  # the same replay, three trials more
    assert [t.number for t in stored.trials()[-3:]] == [TRIALS, TRIALS + 1, TRIALS + 2]


def _get(app: Any, path: str) -> tuple[str, Any]:
    """``app``'s answer to a GET of ``path``, as the page asks: its status and JSON."""
    import io

    route, _, query = path.partition("?")
    said: dict[str, Any] = {}
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": route, "QUERY_STRING": query,
               "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8080", "wsgi.url_scheme": "http",
               "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr}
    body = b"".join(app(environ, lambda status, headers, exc_info=None: said.update(
        status=status, headers=dict(headers))))
    assert int(said["headers"]["Content-Length"]) == len(body)
    return said["status"], json.loads(body)


def test_the_dashboard_sends_a_study_page_by_page(big: Path) -> None:
    import optuna_dashboard

    from search.watching._dashboard import paged, read_only
    from search.watching._dashboard_storage import ResultsStorage

    storage = ResultsStorage(big)
    app = read_only(paged(optuna_dashboard.wsgi(storage), storage))  # as the command serves it
    status, first = _get(app, "/api/studies/0?after=0")
    assert status == "200 OK"
    assert [t["number"] for t in first["trials"]] == list(range(PAGE))
    best = json.loads((big / "best.json").read_text(encoding="utf-8"))
    assert [t["number"] for t in first["best_trials"]] == [best["number"]]
    assert {p["name"] for p in first["union_search_space"]} >= {"model", "scale"}
    status, rest = _get(app, f"/api/studies/0?after={PAGE}")
    assert [t["number"] for t in rest["trials"]] == list(range(PAGE, TRIALS))
    assert rest["trials"][0]["trial_id"] == first["trials"][0]["trial_id"] + PAGE
    assert rest["best_trials"] == first["best_trials"]
    assert _get(app, f"/api/studies/0?after={TRIALS}")[1]["trials"] == []
    assert _get(app, "/api/studies/0?after=-1")[0].startswith("400")  # the dashboard's answer
    assert _get(app, "/api/studies/7?after=0")[0].startswith("404")
