"""``report.html``: written by a run and by ``python -m search report``, opened in Chromium."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, run_cli
from tests.search.test_report_figures import plotted

pytest.importorskip("plotly")

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"

BRANCHED_STUDY = """
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from objectives import SklearnObjective
from search import Data, Study
from spaces import Categorical, Float, Int, Space

study = Study(
    name="branched",
    data=Data("iris"),
    space=Space({
        "model": Categorical({
            "lr": {"C": Float(1e-2, 1e2, log=True, default=1.0)},
            "knn": {"n_neighbors": Int(1, 15), "weights": Categorical(["uniform", "distance"])},
        }, default="lr"),
    }),
    objective=SklearnObjective(
        {"lr": LogisticRegression(max_iter=300), "knn": KNeighborsClassifier()},
        choice="model", folds=3,
    ),
    metric="accuracy",
    trials=30,
    sampler="random",
    pruner="none",
    seed=0,
)
"""

FUNCTION_STUDY = """
from search import Study
from spaces import Float, Space

def objective(config):
    {body}

study = Study(name="{name}", space=Space({{"x": Float(0.0, 1.0)}}), objective=objective,
              direction="minimize", trials={trials}, seed=3)
"""


def figures(page: str) -> int:
    found = re.search(r'<meta name="search-figures" content="(\d+)">', page)
    assert found is not None
    return int(found.group(1))


def not_shown(page: str) -> list[str]:
    return re.findall(r'<p class="missing">Not shown: (.*?)\.</p>', page)


# -- headless Chromium through the DevTools protocol -----------------------------------------


class Page:
    """A page in headless Chromium, driven over the DevTools protocol (websocket-client)."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, timeout: float = 60, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))
            self.events.append(message)
        raise TimeoutError(f"{method}: no answer within {timeout} s")

    def wait_event(self, method: str, after: int, timeout: float = 60) -> None:
        """Read events until ``method`` arrives (or arrived after event number ``after``)."""
        if any(e.get("method") == method for e in self.events[after:]):
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = json.loads(self.socket.recv())
            self.events.append(message)
            if message.get("method") == method:
                return
        raise TimeoutError(f"{method}: not seen within {timeout} s")

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.25)
        raise TimeoutError(f"{expression}: still false after {timeout} s")

    def errors(self) -> list[str]:
        """JavaScript exceptions, console errors and error log entries seen so far."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                found.append(details.get("exception", {}).get("description") or details["text"])
            elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
                found.append(" ".join(str(a.get("value", a)) for a in params.get("args", [])))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(params["entry"]["text"])
        return found

    def requests(self) -> list[str]:
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e.get("method") == "Network.requestWillBeSent"
        ]


@contextlib.contextmanager
def chromium(tmp_path: Path) -> Iterator[Page]:
    """Headless Chromium with a DevTools port it picks itself; stopped when the block ends."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run installs it)")
    import websocket

    profile = tmp_path / "chromium-profile"
    proc = subprocess.Popen(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "--window-size=1280,2000",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    socket = None
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.is_file() and port_file.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("Chromium did not open its DevTools port")
            time.sleep(0.2)
        port = int(port_file.read_text().splitlines()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            targets = json.load(r)
        target = next(t for t in targets if t["type"] == "page")
        socket = websocket.create_connection(
            target["webSocketDebuggerUrl"], timeout=60, suppress_origin=True
        )
        page = Page(socket)
        for domain in ("Runtime", "Log", "Network", "Page"):
            page.call(f"{domain}.enable")
        yield page
    finally:
        if socket is not None:
            socket.close()
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def open_report(page: Page, path: Path, screenshot: str | None = None) -> int:
    """Load ``path``, wait until every figure is drawn; return how many were drawn."""
    expected = figures(path.read_text(encoding="utf-8"))
    seen = len(page.events)
    page.call("Page.navigate", url=path.resolve().as_uri())
    page.wait_event("Page.loadEventFired", after=seen)
    drawn = (  # plotly marks its div and adds an svg once a figure is drawn
        "[...document.querySelectorAll('.js-plotly-plot')]"
        ".filter(d => d.querySelector('svg.main-svg')).length"
    )
    page.wait_for(f"{drawn} >= {expected}")
    time.sleep(0.5)  # let late errors surface
    if screenshot is not None:
        shot = page.call("Page.captureScreenshot", format="png")
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / screenshot).write_bytes(base64.b64decode(shot["data"]))
    return int(page.evaluate(drawn))


# -- tests -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_run_writes_a_report_that_draws_every_plot_offline_in_chromium(write_study, tmp_path):
    path = write_study(BRANCHED_STUDY)
    result = run_cli(path, "--results", tmp_path / "out", "--no-tracking", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = tmp_path / "out" / "branched" / "report.html"
    page = report.read_text(encoding="utf-8")
    final = json.loads((tmp_path / "out" / "branched" / "final.json").read_text())

    assert page.count("<script") == 1 + figures(page)  # plotly.js once, then one per figure
    assert "cdn.plot.ly" not in page.split("</script>", 1)[1]
    for title in (
        "Final evaluation on the sealed test set",
        "Optimization history",
        "Leaderboard",
        "Parallel coordinates",
        "Parameter importances",
        "Slices",
        "Learning curves",
        "Classification report (test)",
    ):
        assert f">{title}<" in page, title
    gap = final["generalization_gap"]
    assert f"{gap['gap']:+.4g} accuracy (validation − test; positive: test is worse)" in page
    assert gap["note"] in page
    assert "Hyperparameter importances: model = knn" in page  # conditional parameters
    assert "model.knn.n_neighbors" in page and "model.lr.C" in page
    assert not_shown(page) == []
    assert "Learning curves: accuracy after each fold" in page and "fold (from 0)" in page
    assert "model.knn.\\u003cbr\\u003en_neighbors" in page  # full names on the axes, wrapped
    drawn_figures = {f["layout"].get("title", {}).get("text", f["div"]): f for f in plotted(page)}
    history = drawn_figures["Optimization history: accuracy"]["data"]
    assert history[1]["y"][-1] == max(history[0]["y"]) == final["validation_value"]
    parallel = next(f for f in plotted(page) if "shapes" in f["layout"])["data"]
    assert len([line for line in parallel if line["mode"] == "lines"]) == 30
    assert {"Hyperparameter importances: model = lr", "Hyperparameter importances: all trials",
            "Hyperparameter importances: model = knn"} <= set(drawn_figures)

    with chromium(tmp_path) as browser:
        drawn = open_report(browser, report, screenshot="report.png")
        assert drawn == figures(page) >= 7
        assert browser.errors() == []
        assert {url.split(":", 1)[0] for url in browser.requests()} <= {"file", "data", "blob"}
        fits = "[...document.querySelectorAll('table')].every(t => t.scrollWidth <= t.clientWidth + 1)"
        assert browser.evaluate(fits) is True  # every table fits the page: no sideways scroll
        axes = browser.evaluate(
            "[...document.querySelectorAll('.xtick text')].map(t => t.textContent)"
        )
        assert not [a for a in axes if a.endswith("...")]  # no name cut short
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000


@pytest.mark.slow
def test_the_report_command_says_what_is_missing_instead_of_failing(write_study, tmp_path):
    cases = {
        "one": ("return (config['x'] - 0.3) ** 2", 1),
        "failing": ("raise ValueError('no luck')", 3),
    }
    out = tmp_path / "out"
    for name, (body, trials) in cases.items():
        path = write_study(
            FUNCTION_STUDY.format(name=name, body=body, trials=trials), name=f"{name}.py"
        )
        ran = run_cli(path, "--results", out, "--no-tracking", cwd=tmp_path)
        if name == "failing":  # no trial completed: exit 1 with one line saying why
            assert ran.returncode == 1 and ran.stderr.count("\n") == 1, ran.stderr
            assert "no trial completed (3 FAIL); the first failure: ValueError" in ran.stderr
        else:
            assert ran.returncode == 0, ran.stderr
    empty = out / "empty"
    shutil.copytree(out / "one", empty)
    (empty / "study.journal").unlink()  # a study still starting: its store holds nothing yet
    record = json.loads((empty / "study.json").read_text(encoding="utf-8"))
    record.pop("journal")  # the ledger is recorded once the journal holds the study
    (empty / "study.json").write_text(json.dumps({**record, "status": "starting"}))
    for name in ("one", "failing", "empty"):
        (out / name / "report.html").unlink()
        result = run_cli("report", out / name, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"report: {out / name / 'report.html'}"
        assert result.stderr == ""

    one = (out / "one" / "report.html").read_text(encoding="utf-8")
    assert figures(one) == 1  # the history; a slice needs two values, the rest more trials
    assert "for want of two different values among the complete trials: x" in one
    assert "needs 2 complete trials; this study has 1" in not_shown(one)
    assert "this study has no data, so it has no test set" in not_shown(one)

    failing = (out / "failing" / "report.html").read_text(encoding="utf-8")
    assert figures(failing) == 0 and "<script" not in failing
    assert "needs 1 complete trial; this study has 0" in not_shown(failing)
    assert failing.count("ValueError: no luck") == 3

    empty_page = (out / "empty" / "report.html").read_text(encoding="utf-8")
    assert figures(empty_page) == 0 and "no trials yet" in not_shown(empty_page)

    with chromium(tmp_path) as browser:
        assert open_report(browser, out / "one" / "report.html") == figures(one)
        open_report(browser, out / "failing" / "report.html")
        assert browser.errors() == []


def test_report_of_a_folder_that_is_not_a_study_is_a_user_error(tmp_path):
    result = run_cli("report", tmp_path, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == f"error: {tmp_path}: not a study folder (no study.json)\n"
    assert not (tmp_path / "report.html").exists()


def test_the_plots_are_drawn_once_per_set_of_trials_and_a_redrawn_page_is_the_same(
    write_study, tmp_path, monkeypatch
):
    from search.watching import _report_page
    from search.watching._report_file import write_report

    body = "return (config['x'] - 0.3) ** 2"
    path = write_study(FUNCTION_STUDY.format(name="f", body=body, trials=12), name="f.py")
    assert run_cli(path, "--results", tmp_path, "--no-tracking", cwd=tmp_path).returncode == 0
    folder, report = tmp_path / "f", tmp_path / "f" / "report.html"

    def page() -> str:  # the page, but when study.json was last updated (after the run drew it)
        return re.sub(r"updated [^)]*\)", "updated …)", report.read_text(encoding="utf-8"))

    by_the_run = page()
    helper = (  # as the run's helper draws: without scikit-learn and matplotlib
        "import sys; from pathlib import Path\n"
        "from search.watching._report_observer import load_drawing_stack\n"
        "load_drawing_stack()\n"
        "from search.watching._report_file import write_report\n"
        f"write_report(Path({str(folder)!r}))\n"
        "print(sorted(m for m in ('sklearn', 'matplotlib') if sys.modules.get(m)))\n"
    )
    drew = subprocess.run([sys.executable, "-c", helper], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    assert drew.stdout == "[]\n"
    assert page() == by_the_run and "Hyperparameter importances: all trials" in by_the_run
    drawn: dict[str, Any] = {}
    write_report(folder, drawn=drawn)
    assert page() == by_the_run  # drawn anew: the same page
    assert figures(by_the_run) >= 3

    class NotAgain:
        def __init__(self, study: Any) -> None:
            raise AssertionError("the plots of these trials were drawn already")

    monkeypatch.setattr(_report_page, "Plots", NotAgain)
    write_report(folder, drawn=drawn)  # the same trials: the plots are kept
    assert page() == by_the_run
    drawn["key"] = ("other trials",)
    with pytest.raises(AssertionError, match="drawn already"):
        write_report(folder, drawn=drawn)  # other trials: drawn anew
