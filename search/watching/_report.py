"""``report.html``: one self-contained page of plots about a study, readable offline.

Written at the end of a run (and again after the final evaluation) and by
``python -m search report RESULTS/NAME``. The figures are Optuna's own (``optuna.visualization``,
plotly figures); plotly.js is inlined once, so the file opens with no network. Every section
says what is missing instead of failing: a study with no trial, one trial, only failed trials,
no data or a sealed test set still gets a page.
"""

from __future__ import annotations

import contextlib
import html
import logging
import math
import statistics
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.core._errors import UserError
from search.core._folder import (
    BEST_JSON,
    FINAL_JSON,
    REPORT_HTML,
    STORE_FILE,
    STUDY_JSON,
    read_json,
)
from search.core._observers import RunContext, RunObserver
from search.core._trials import best_trial
from search.integrity._ties import fold_scores

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

log = logging.getLogger("search")

TOP = 20  # rows of the leaderboard and of the failed trials
CURVES = 100  # at most this many trials' learning curves
LINES = 300  # at most this many trials in the parallel coordinates
SLICE_GROUP = 4  # parameters per slice figure


def report(directory: Path) -> int:
    """``python -m search report RESULTS/NAME``: (re)write ``report.html`` and say where."""
    if not (directory / STUDY_JSON).is_file():
        raise UserError(f"{directory}: not a study folder (no {STUDY_JSON})")
    path = write_report(directory)
    print(f"report: {path}")
    return 0


class ReportWriter(RunObserver):
    """Writes ``report.html`` when the search ends and again after the final evaluation.

    plotly, Optuna's plots and its importance evaluators (which load scikit-learn) take seconds
    to import. A helper process loads them while the search runs; the driver hands it each
    status (``searched``, then ``finished`` after the final evaluation) without waiting, so the
    report is drawn while the final model is fitted, and waits for it only as the command ends.
    The helper draws the latest status it has been given. When there is no helper (the
    ``final`` command) or it died, the driver writes the report itself.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._helper: Any = None
        self._conn: Any = None
        self._pending: str | None = None  # the last status handed over and not yet drawn

    def search_started(self, context: RunContext, trials: Sequence[FrozenTrial]) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self._conn, theirs = ctx.Pipe()
        self._helper = ctx.Process(
            target=_helper_main,
            args=(str(self.directory), theirs),
            name="search-report",
            daemon=True,
        )
        self._helper.start()
        theirs.close()

    def search_ended(self, trials: Sequence[FrozenTrial], status: str) -> None:
        self._hand_over("searched" if status == "finished" else status)

    def final_evaluated(self, record: dict[str, Any]) -> None:
        self._hand_over("finished")

    def run_ended(self) -> None:
        """Wait for the helper to draw the last status; draw it here if the helper could not."""
        helper, conn, status = self._helper, self._conn, self._pending
        self._helper = self._conn = None
        if helper is None:
            return
        drawn = False
        try:
            conn.send(None)  # no more statuses: draw the last one and stop
            # recv raises EOFError once the helper is gone: the driver holds no copy of its end
            while (answer := conn.recv())[0] != "stopped":
                drawn = True
                if answer[0] != "ok":
                    print(f"report: not written ({answer[1]}); see search.log", file=sys.stderr)
        except (OSError, EOFError):
            if status is not None and not drawn:
                self._write(status)
        except KeyboardInterrupt:
            helper.terminate()
            raise
        finally:
            conn.close()
            helper.join(timeout=5)

    def _hand_over(self, status: str) -> None:
        self._pending = status
        if self._helper is not None:
            try:
                self._conn.send(status)
                return
            except OSError:
                self._helper = None
        self._write(status)

    def _write(self, status: str) -> None:
        try:
            write_report(self.directory, status=status)
        except Exception as exc:  # noqa: BLE001 - a report never fails a run
            log.exception("report: not written")
            print(
                f"report: not written ({type(exc).__name__}: {exc}); see search.log",
                file=sys.stderr,
            )


def _helper_main(directory: str, conn: Any) -> None:
    """The report helper: import the plotting stack, then draw the latest status it is given.

    The driver sends statuses and finally ``None``; statuses already superseded when the helper
    reads them are skipped. One ``(outcome, detail)`` answer per report drawn, then
    ``("stopped", None)``.
    """
    import signal

    from search.core._logging import log_helper_to_file

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver decides
    log_helper_to_file(Path(directory))
    import optuna.importance  # noqa: F401 - warm: scikit-learn comes with it
    import optuna.visualization  # noqa: F401
    import plotly.io  # noqa: F401

    try:
        while True:
            messages = [conn.recv()]
            while messages[-1] is not None and conn.poll():
                messages.append(conn.recv())
            statuses = [m for m in messages if m is not None]
            if statuses:
                _draw(Path(directory), statuses[-1], conn)
            if messages[-1] is None:
                conn.send(("stopped", None))
                return
    except (EOFError, OSError):
        return  # the driver is gone


def _draw(directory: Path, status: str, conn: Any) -> None:
    try:
        write_report(directory, status=status)
        conn.send(("ok", None))
    except Exception as exc:  # noqa: BLE001 - reported to the driver
        log.exception("report: not written")
        conn.send(("error", f"{type(exc).__name__}: {exc}"))


def write_report(directory: Path, status: str | None = None) -> Path:
    """Write ``directory/report.html`` from ``study.json``, the store and ``final.json``.

    ``status`` replaces the one in ``study.json``, which a run updates only after its observers.
    """
    record = read_json(directory / STUDY_JSON)
    if status is not None:
        record["status"] = status
    final = read_json(directory / FINAL_JSON) if (directory / FINAL_JSON).is_file() else None
    with _quiet():
        study = load_stored_study(directory, record["name"])
        trials = list(study.get_trials(deepcopy=False)) if study is not None else []
        best = read_json(directory / BEST_JSON) if (directory / BEST_JSON).is_file() else None
        text = _Page(record, final, trials, study, best).render()
    path = directory / REPORT_HTML
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Keep Optuna's info lines and experimental warnings out of the terminal and the log."""
    import optuna

    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        optuna.logging.set_verbosity(before)


def load_stored_study(directory: Path, name: str) -> optuna.Study | None:
    """The study in ``directory``'s journal, read only; ``None`` when there is none yet."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    path = directory / STORE_FILE
    if not path.is_file() or path.stat().st_size == 0:
        return None
    storage = JournalStorage(JournalFileBackend(str(path)))

    class _ReadOnlyStudy(optuna.Study):
        """The report only reads trials, so they need no defensive deep copies."""

        def get_trials(self, deepcopy: bool = True, states: Any = None) -> list[FrozenTrial]:
            return super().get_trials(deepcopy=False, states=states)

    try:
        return _ReadOnlyStudy(study_name=name, storage=storage)
    except KeyError:
        return None


class _Page:
    """The report's sections, in reading order."""

    def __init__(
        self,
        record: dict[str, Any],
        final: dict[str, Any] | None,
        trials: list[FrozenTrial],
        study: optuna.Study | None,
        best: dict[str, Any] | None = None,
    ) -> None:
        self.record = record
        self.final = final
        self.best = best or {}
        self.trials = trials
        self.study = study
        self.direction = record["direction"]
        self.metric = record.get("metric") or "value"
        self.complete = [t for t in trials if t.state.name == "COMPLETE" and t.value is not None]
        self.figures: list[str] = []

    # -- the page ----------------------------------------------------------------------------

    def render(self) -> str:
        sections = [
            self._summary(),
            self._final(),
            self._history(),
            self._leaderboard(),
            self._parallel(),
            self._importances(),
            self._slices(),
            self._curves(),
            self._failures(),
        ]
        body = "\n".join(s for s in sections if s)
        plotly_js = _plotly_js() if self.figures else ""
        name = html.escape(self.record["name"])
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta name="search-figures" content="{len(self.figures)}">'
            f"<title>{name} — search report</title><style>{_CSS}</style>"
            f"{plotly_js}</head><body><main>\n{body}\n"
            f"<footer>Written by <code>python -m search report</code> from {STUDY_JSON}, "
            f"{STORE_FILE} and {FINAL_JSON}; {html.escape(_versions(self.record))}.</footer>"
            "</main></body></html>\n"
        )

    def _figure(self, fig: Any, height: int = 440) -> str:
        import plotly.io as pio

        fig.update_layout(height=height, template="plotly_white", margin={"t": 60, "b": 50})
        div = f"figure-{len(self.figures)}"
        self.figures.append(div)
        return str(
            pio.to_html(
                fig,
                full_html=False,
                include_plotlyjs=False,
                div_id=div,
                config={"displaylogo": False, "responsive": True},
                default_height=f"{height}px",
            )
        )

    def _plot(self, title: str, draw: Callable[[], str], need: str | None) -> str:
        """A section with one or more figures, or the reason it has none."""
        if need is not None:
            return _section(title, _missing(need))
        try:
            return _section(title, draw())
        except Exception as exc:  # noqa: BLE001 - one bad plot leaves the others
            log.exception("report: %s not drawn", title)
            return _section(title, _missing(f"could not be drawn: {type(exc).__name__}: {exc}"))

    # -- sections ------------------------------------------------------------------------------

    def _summary(self) -> str:
        r = self.record
        counts: dict[str, int] = {}
        for t in self.trials:
            counts[t.state.name] = counts.get(t.state.name, 0) + 1
        shown = ", ".join(f"{n} {s.lower()}" for s, n in sorted(counts.items())) or "no trials"
        best = best_trial(self.trials, self.direction)
        rows = [
            ("metric", f"{self.metric} ({self.direction})"),
            ("trials", f"{shown} (budget {r.get('trials')})"),
            (
                "best",
                "none yet"
                if best is None
                else f"trial {best.number}: {_fmt(best.value)} {_spread(best)}",
            ),
            ("sampler / pruner", f"{r.get('sampler')} / {r.get('pruner')}"),
            ("backend / workers", f"{r.get('backend')} / {r.get('workers')}"),
            ("seed", str(r.get("seed"))),
            ("data", _data_line(r)),
            (
                "status",
                f"{r.get('status')} (created {r.get('created_at')}, updated {r.get('updated_at')})",
            ),
        ]
        table = "".join(f"<tr><th>{k}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
        return f'<h1>{html.escape(r["name"])}</h1><table class="kv">{table}</table>'

    def _final(self) -> str:
        title = "Final evaluation on the sealed test set"
        if self.record.get("fingerprints") is None:
            return _section(title, _missing("this study has no data, so it has no test set"))
        if self.final is None:
            return _section(
                title,
                _missing(
                    "the test set is still sealed; run <code>python -m search final "
                    f"RESULTS/{html.escape(self.record['name'])}</code> to open it once",
                    escape=False,
                ),
            )
        f = self.final
        if f.get("status") != "evaluated":
            return _section(
                title,
                _missing(
                    f"the test set was opened at {f.get('opened_at')} but no result was recorded"
                ),
            )
        validation, test = f.get("validation_value"), f.get("test_value")
        spread = f.get("validation_spread") or {}
        gap = _gap_text(f, self.direction, f.get("metric", self.metric))
        rows = [
            ("trial", str(f.get("trial"))),
            (
                "validation",
                f"{_fmt(validation)}"
                + (f" ± {_fmt(spread['std'])} over {spread['n']} folds" if spread.get("n") else ""),
            ),
            (
                "test",
                f"{_fmt(test)} on {f.get('test_rows')} sealed rows, opened {f.get('opened_at')}",
            ),
            ("gap", gap),
        ]
        parts = [
            '<table class="kv">'
            + "".join(
                f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows
            )
            + "</table>"
        ]
        metrics = f.get("test_metrics") or {}
        if metrics:
            parts.append(
                "<h3>Test metrics</h3>"
                + _table(["metric", "value"], [[k, _fmt(v)] for k, v in metrics.items()])
            )
        per_class = f.get("classification_report")
        if per_class:
            head = ["class", "precision", "recall", "f1-score", "support"]
            body = []
            for label, scores in per_class.items():
                if isinstance(scores, dict):
                    body.append([label] + [_fmt(scores.get(k)) for k in head[1:]])
                else:
                    body.append([label, "", "", _fmt(scores), ""])
            parts.append("<h3>Classification report (test)</h3>" + _table(head, body))
        return _section(title, "".join(parts))

    def _history(self) -> str:
        def draw() -> str:
            from optuna.visualization import plot_optimization_history

            return self._figure(
                plot_optimization_history(self._study(), target_name=self.metric, error_bar=False)
            )

        return self._plot("Optimization history", draw, self._need(1))

    def _ranked(self) -> list[FrozenTrial]:
        """The complete trials, best first (lowest number first on ties)."""
        sign = -1.0 if self.direction == "maximize" else 1.0
        return sorted(self.complete, key=lambda t: (sign * float(t.value or 0.0), t.number))

    def _leaderboard(self) -> str:
        if not self.complete:
            return _section("Leaderboard", _missing(self._need(1) or ""))
        ranked = self._ranked()
        paths = sorted({p for t in ranked[:TOP] for p in t.params})
        marks = self._tie_marks()
        head = ["#", "trial", "", self.metric, "spread", "seconds", *paths]
        rows = []
        for rank, t in enumerate(ranked[:TOP], start=1):
            rows.append(
                [str(rank), str(t.number), marks.get(t.number, ""), _fmt(t.value), _spread(t)]
                + [_seconds(t)]
                + [_fmt(t.params.get(p, "—")) for p in paths]
            )
        note = f"<p>top {min(TOP, len(ranked))} of {len(ranked)} complete trials</p>"
        return _section("Leaderboard", note + self._tie_note() + _table(head, rows))

    def _tie_marks(self) -> dict[int, str]:
        """``best``, ``=`` (tied with the best) and ``selected`` marks, from ``best.json``."""
        if "number" not in self.best:
            return {}
        marks = {self.best["number"]: "best"}
        for tie in (self.best.get("ties") or {}).get("tied", []):
            marks[tie["number"]] = "="
        selected = (self.best.get("selected") or {}).get("number")
        if selected is not None and selected != self.best["number"]:
            marks[selected] = "= selected"
        return marks

    def _tie_note(self) -> str:
        ties = self.best.get("ties") or {}
        if not ties:
            return ""
        if ties.get("note"):
            return f"<p>{html.escape(ties['note'])}</p>"
        tied = len(ties.get("tied", []))
        selected = self.best.get("selected") or {}
        text = (
            f"= : not distinguishable from the best at alpha {ties.get('alpha')} "
            f"({ties.get('method')}); {tied} of {ties.get('compared')} compared configs are tied."
        )
        if selected.get("rule"):
            text += f" Evaluated on the test set: trial {selected.get('number')} ({selected['rule']})."
        return f"<p>{html.escape(text)}</p>"

    def _parallel(self) -> str:
        def draw() -> str:
            from optuna.visualization import plot_parallel_coordinate

            shown, note = self.complete, ""
            if len(shown) > LINES:  # Optuna draws a trace per trial: keep the page light
                shown = self._ranked()[: LINES // 2]
                rest = self._ranked()[LINES // 2 :]
                step = len(rest) / (LINES - len(shown))
                shown = shown + [rest[int(i * step)] for i in range(LINES - len(shown))]
                note = (
                    f"<p>{len(shown)} of {len(self.complete)} complete trials drawn: the "
                    f"{LINES // 2} best and an even sample of the others.</p>"
                )
            study = self._study() if shown is self.complete else _in_memory(shown, self.direction)
            fig = plot_parallel_coordinate(study, target_name=self.metric)
            return note + self._note_conditional() + self._figure(fig, height=480)

        return self._plot("Parallel coordinates", draw, self._need(2) or self._need_params())

    def _importances(self) -> str:
        def draw() -> str:
            from optuna.visualization import plot_param_importances

            parts = []
            groups = self._branch_groups()
            for label, trials in groups:
                params = _common_params(trials)
                if len(trials) < 2 or not params:
                    continue
                sub = _in_memory(trials, self.direction)
                fig = plot_param_importances(
                    sub, evaluator=_evaluator(), params=params, target_name=self.metric
                )
                fig.update_layout(title=f"Hyperparameter importances: {label}")
                parts.append(self._figure(fig, height=max(260, 60 + 32 * len(params))))
            if not parts:
                return _missing("no group of trials shares a varying parameter")
            return (
                "<p>PED-ANOVA importances: how much each parameter explains where the best "
                "trials lie. Parameters of a conditional branch are assessed among the "
                "trials that took the branch.</p>" + "".join(parts)
            )

        return self._plot("Parameter importances", draw, self._need(2) or self._need_params())

    def _slices(self) -> str:
        def draw() -> str:
            from optuna.visualization import plot_slice

            study = self._study()
            paths = sorted({p for t in self.complete for p in t.params})
            parts = []
            for i in range(0, len(paths), SLICE_GROUP):
                group = paths[i : i + SLICE_GROUP]
                fig = plot_slice(study, params=group, target_name=self.metric)
                fig.update_layout(width=None, autosize=True)  # Optuna fixes 300 px a parameter
                parts.append(self._figure(fig, height=380))
            return "".join(parts)

        return self._plot("Slices", draw, self._need(1) or self._need_params())

    def _curves(self) -> str:
        stepped = [t for t in self.trials if t.intermediate_values and t.state.is_finished()]

        def draw() -> str:
            from optuna.visualization import plot_intermediate_values

            shown = stepped
            note = (
                "<p>Intermediate values the objective reported (folds or epochs); pruned "
                "trials stop early.</p>"
            )
            if len(stepped) > CURVES:
                numbers = {t.number for t in stepped}
                done = [t for t in self._ranked() if t.number in numbers]
                keep = {t.number for t in done[: CURVES // 2]}
                keep |= {t.number for t in stepped[-(CURVES - len(keep)) :]}
                shown = [t for t in stepped if t.number in keep]
                note += (
                    f"<p>{len(shown)} of {len(stepped)} trials shown: the best complete "
                    "ones and the latest.</p>"
                )
            fig = plot_intermediate_values(_in_memory(shown, self.direction))
            fig.update_layout(showlegend=len(shown) <= 20)
            return note + self._figure(fig)

        need = None if stepped else "no trial reported intermediate values (folds or steps)"
        return self._plot("Learning curves", draw, need)

    def _failures(self) -> str:
        failed = [t for t in self.trials if t.state.name == "FAIL"]
        if not failed:
            return ""
        rows = [
            [str(t.number), str(t.user_attrs.get("error", "")), _seconds(t)] for t in failed[-TOP:]
        ]
        note = (
            f"<p>{len(failed)} failed trials"
            + (f", the last {TOP} shown" if len(failed) > TOP else "")
            + "; tracebacks are in "
            "<code>search.log</code>.</p>"
        )
        return _section("Failed trials", note + _table(["trial", "reason", "seconds"], rows))

    # -- helpers -----------------------------------------------------------------------------

    def _need(self, n: int) -> str | None:
        have = len(self.complete)
        if have >= n:
            return None
        if not self.trials:
            return "no trials yet"
        what = "trial" if n == 1 else "trials"
        return f"needs {n} complete {what}; this study has {have}"

    def _need_params(self) -> str | None:
        if any(t.params for t in self.complete):
            return None
        return "the complete trials have no parameters"

    def _study(self) -> optuna.Study:
        assert self.study is not None
        return self.study

    def _note_conditional(self) -> str:
        paths = {p for t in self.complete for p in t.params}
        partial = sorted(p for p in paths if any(p not in t.params for t in self.complete))
        if not partial:
            return ""
        return (
            "<p>Conditional parameters (" + html.escape(", ".join(partial)) + ") sit on "
            "the axis's <em>missing</em> mark in trials that did not take their branch.</p>"
        )

    def _branch_groups(self) -> list[tuple[str, list[FrozenTrial]]]:
        """All complete trials, then those of each option of each branch parameter."""
        groups: list[tuple[str, list[FrozenTrial]]] = [("all trials", self.complete)]
        paths = sorted({p for t in self.complete for p in t.params})
        for path in paths:
            branch_children = [p for p in paths if p.startswith(path + ".")]
            if not branch_children:
                continue
            options = sorted({str(t.params[path]) for t in self.complete if path in t.params})
            for option in options:
                members = [t for t in self.complete if str(t.params.get(path)) == option]
                groups.append((f"{path} = {option}", members))
        return groups


def _common_params(trials: Sequence[FrozenTrial]) -> list[str]:
    """Parameters every trial has and that take more than one value."""
    if not trials:
        return []
    common = set(trials[0].params)
    for t in trials[1:]:
        common &= set(t.params)
    return sorted(p for p in common if len({repr(t.params[p]) for t in trials}) > 1)


def _in_memory(trials: Sequence[FrozenTrial], direction: str) -> optuna.Study:
    import optuna

    study = optuna.create_study(direction=direction)  # type: ignore[arg-type]
    study.add_trials(trials)
    return study


def _evaluator() -> Any:
    from optuna.importance import PedAnovaImportanceEvaluator

    return PedAnovaImportanceEvaluator()


def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return f'<script type="text/javascript">{get_plotlyjs()}</script>'


def _section(title: str, content: str) -> str:
    return f"<section><h2>{html.escape(title)}</h2>{content}</section>"


def _missing(reason: str, escape: bool = True) -> str:
    return f'<p class="missing">Not shown: {html.escape(reason) if escape else reason}.</p>'


def _table(head: list[str], rows: list[list[str]]) -> str:
    h = "".join(f"<th>{html.escape(c)}</th>" for c in head)
    b = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="grid"><thead><tr>{h}</tr></thead><tbody>{b}</tbody></table>'


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


def _spread(trial: FrozenTrial) -> str:
    """``± std over n folds`` of a trial's validation scores, or nothing."""
    scores = fold_scores(trial)
    if len(scores) < 2:
        return ""
    return f"± {statistics.stdev(scores):.3g} over {len(scores)} folds"


def _seconds(trial: FrozenTrial) -> str:
    if trial.datetime_start is None or trial.datetime_complete is None:
        return ""
    return f"{(trial.datetime_complete - trial.datetime_start).total_seconds():.2f}"


def _gap_text(final: dict[str, Any], direction: str, metric: str) -> str:
    """The validation-vs-test gap as ``final.json`` judged it (positive: test is worse)."""
    judged = final.get("generalization_gap")
    if isinstance(judged, dict) and isinstance(judged.get("gap"), (int, float)):
        noise = judged.get("expected_noise")
        text = f"{judged['gap']:+.4g} {metric} (validation − test"
        if direction == "minimize":
            text = f"{judged['gap']:+.4g} {metric} (test − validation"
        text += "; positive: test is worse)"
        if isinstance(noise, (int, float)):
            text += f", expected noise ± {noise:.3g}"
        return text + (f": {judged['note']}" if judged.get("note") else "")
    validation, test = final.get("validation_value"), final.get("test_value")
    if not isinstance(validation, (int, float)) or not isinstance(test, (int, float)):
        return "—"
    gap = float(validation) - float(test)
    if direction == "minimize":
        gap = -gap
    return f"{gap:+.4g} {metric} (positive: test is worse)"


def _data_line(record: dict[str, Any]) -> str:
    data = record.get("data")
    if not data:
        return "none (a plain function of the config)"
    prints = record.get("fingerprints") or {}
    shapes = ", ".join(
        f"{part} {'×'.join(str(n) for n in fp.get('shape', []))} (sha256 {fp.get('sha256', '')[:12]})"
        for part, fp in prints.items()
    )
    return f"{data.get('source')} → {shapes}"


def _versions(record: dict[str, Any]) -> str:
    found = record.get("versions") or {}
    return ", ".join(f"{k} {v}" for k, v in found.items()) or "versions unknown"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f7f9;
color:#1d2330}
main{max-width:1200px;margin:0 auto;padding:24px}
h1{margin:0 0 12px}h2{margin:0 0 12px;font-size:1.25rem}h3{font-size:1rem;margin:18px 0 8px}
section{background:#fff;border:1px solid #e1e4ea;border-radius:8px;padding:16px 20px;
margin:16px 0}
table{border-collapse:collapse;font-size:.9rem}
table.kv th{text-align:left;padding:3px 16px 3px 0;color:#5b6475;font-weight:600}
table.grid{display:block;overflow-x:auto;max-width:100%}
table.grid th,table.grid td{border-bottom:1px solid #e9ecf1;padding:4px 10px;text-align:right;
white-space:nowrap}
table.grid th{background:#f0f2f5}
p.missing{color:#8a5a00;background:#fff7e6;padding:8px 12px;border-radius:6px}
footer{color:#7a8394;font-size:.8rem;margin:24px 0}
code{background:#f0f2f5;padding:1px 4px;border-radius:4px}
"""
