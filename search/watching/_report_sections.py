"""The report's sections in words and tables: summary, final evaluation, leaderboard, failures.

Each function takes the :class:`ReportStudy` and returns one section's HTML, or a note saying
what is missing (no data, a sealed test set, no complete trial) instead of failing. The
plots are in :mod:`search.watching._report_plots`.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from search.core._auto import sampler_label
from search.core._folder import unscored_final
from search.core._strategies import strategy_label
from search.core._trials import best_trial
from search.watching._report_html import (
    fmt,
    key_values,
    missing,
    seconds,
    section,
    short_labels,
    spread,
    table,
)
from search.watching._report_study import ReportStudy

TOP = 20  # rows of the leaderboard and of the failed trials
FINAL_TITLE = "Final evaluation on the sealed test set"


def summary(study: ReportStudy) -> str:
    """The page's heading: what the study is, how far it got, its best trial."""
    r = study.record
    counts: dict[str, int] = {}
    for t in study.trials:
        counts[t.state.name] = counts.get(t.state.name, 0) + 1
    shown = ", ".join(f"{n} {s.lower()}" for s, n in sorted(counts.items())) or "no trials"
    if study.multi:
        front = (study.best or {}).get("pareto") or []
        best_line = f"a Pareto front of {len(front)} configs"
        goal = ", ".join(f"{name} ({d})" for name, d in study.directions.items())
    else:
        best = best_trial(study.complete, study.direction)  # the same, read sooner
        best_line = (
            "none yet" if best is None else f"trial {best.number}: {fmt(best.values[0])} {spread(best)}"
        )
        goal = f"{study.metric} ({study.direction})"
    rows = [
        ("objectives" if study.multi else "metric", goal),
        ("trials", f"{shown} (budget {r.get('trials')})"),
        ("best", best_line),
        ("sampler / pruner", f"{sampler_label(r.get('sampler'))} / {strategy_label(r.get('pruner'))}"),
        ("backend / workers", f"{r.get('backend')} / {r.get('workers')}"),
        ("seed", str(r.get("seed"))),
        ("data", _data_line(r)),
        (
            "status",
            f"{r.get('status')} (created {r.get('created_at')}, updated {r.get('updated_at')})",
        ),
    ]
    return f"<h1>{html.escape(r['name'])}</h1>{key_values(rows)}"


def pareto_table(study: ReportStudy) -> str:
    """Several objectives: the configs on the Pareto front, the one evaluated marked."""
    best = study.best or {}
    front = best.get("pareto") or []
    if not front:
        return section("Pareto front configs", missing("no complete, feasible trial yet"))
    names = list(study.directions)
    selected = (best.get("selected") or {}).get("number")
    rows = [
        [str(p["number"]), "evaluated" if p["number"] == selected else "",
         *(fmt(p["values"].get(n)) for n in names), str(p["config"])]
        for p in front
    ]
    rule = (best.get("selected") or {}).get("rule", "")
    head = ["trial", "", *(f"{n} ({d[:3]})" for n, d in study.directions.items()), "config"]
    note = f"<p>The final evaluation uses the {html.escape(rule)}.</p>" if rule else ""
    return section("Pareto front configs", note + table(head, rows))


def final(study: ReportStudy) -> str:
    """The one evaluation on the sealed test set, or why there is none."""
    if study.record.get("fingerprints") is None:
        return section(FINAL_TITLE, missing("this study has no data, so it has no test set"))
    f = study.final
    if f is None:
        return section(
            FINAL_TITLE,
            missing(
                "the test set is still sealed; run <code>python -m search final "
                f"RESULTS/{html.escape(study.record['name'])}</code> to open it once",
                escape=False,
            ),
        )
    unscored = unscored_final(f, Path("RESULTS") / str(study.record["name"]))
    if unscored is not None:
        return section(FINAL_TITLE, missing(unscored))
    parts = [_final_values(f, study.direction, study.metric), _test_metrics(f)]
    return section(FINAL_TITLE, "".join(parts))


def _final_values(f: dict[str, Any], direction: str, metric: str) -> str:
    validation, test = f.get("validation_value"), f.get("test_value")
    spread_ = f.get("validation_spread") or {}
    folds = f" ± {fmt(spread_['std'])} over {spread_['n']} folds" if spread_.get("n") else ""
    rows = [
        ("trial", str(f.get("trial"))),
        ("validation", f"{fmt(validation)}{folds}"),
        ("test", f"{fmt(test)} on {f.get('test_rows')} sealed rows, opened {f.get('opened_at')}"),
        ("gap", _gap_text(f, direction, f.get("metric", metric))),
    ]
    return key_values(rows)


def _test_metrics(f: dict[str, Any]) -> str:
    """The test metrics and, for a classifier, the per-class report."""
    parts = []
    values = f.get("test_values") or {}
    if values:
        validation = f.get("validation_values") or {}
        parts.append(
            f"<h3>The study's values, validation and test (chosen by "
            f"{html.escape(str(f.get('selected_by')))})</h3>"
            + table(
                ["value", "validation", "test"],
                [[k, fmt(validation.get(k)), fmt(v)] for k, v in values.items()],
            )
        )
    metrics = f.get("test_metrics") or {}
    if metrics:
        parts.append(
            "<h3>Test metrics</h3>"
            + table(["metric", "value"], [[k, fmt(v)] for k, v in metrics.items()])
        )
    per_class = f.get("classification_report")
    if per_class:
        head = ["class", "precision", "recall", "f1-score", "support"]
        body = []
        for label, scores in per_class.items():
            if isinstance(scores, dict):
                body.append([label] + [fmt(scores.get(k)) for k in head[1:]])
            else:
                body.append([label, "", "", fmt(scores), ""])
        parts.append("<h3>Classification report (test)</h3>" + table(head, body))
    return "".join(parts)


def leaderboard(study: ReportStudy) -> str:
    """The best complete trials with their parameters, marked where tied with the best."""
    if not study.complete:
        return section("Leaderboard", missing(study.need(1) or ""))
    ranked = study.ranked()
    paths = sorted({p for t in ranked[:TOP] for p in t.params})
    marks = _tie_marks(study.best)
    names = short_labels(paths)  # unambiguous, short enough to fit the page
    head = ["#", "trial", "", study.metric, "spread", "seconds", *(names[p] for p in paths)]
    rows = []
    for rank, t in enumerate(ranked[:TOP], start=1):
        rows.append(
            [str(rank), str(t.number), marks.get(t.number, ""), fmt(t.value), spread(t)]
            + [seconds(t)]
            + [fmt(t.params.get(p, "—")) for p in paths]
        )
    note = f"<p>top {min(TOP, len(ranked))} of {len(ranked)} complete trials</p>"
    return section("Leaderboard", note + _tie_note(study.best) + table(head, rows))


def _tie_marks(best: dict[str, Any]) -> dict[int, str]:
    """``best``, ``=`` (tied with the best) and ``selected`` marks, from ``best.json``."""
    if "number" not in best:
        return {}
    marks = {best["number"]: "best"}
    for tie in (best.get("ties") or {}).get("tied", []):
        marks[tie["number"]] = "="
    selected = (best.get("selected") or {}).get("number")
    if selected is not None and selected != best["number"]:
        marks[selected] = "= selected"
    return marks


def _tie_note(best: dict[str, Any]) -> str:
    ties = best.get("ties") or {}
    if not ties:
        return ""
    if ties.get("note"):
        return f"<p>{html.escape(ties['note'])}</p>"
    tied = len(ties.get("tied", []))
    selected = best.get("selected") or {}
    text = (
        f"= : not distinguishable from the best at alpha {ties.get('alpha')} "
        f"({ties.get('method')}); {tied} of {ties.get('compared')} compared configs are tied."
    )
    if selected.get("rule"):
        text += f" Evaluated on the test set: trial {selected.get('number')} ({selected['rule']})."
    return f"<p>{html.escape(text)}</p>"


def failures(study: ReportStudy) -> str:
    """The last failed trials and their reasons; nothing when none failed."""
    failed = [t for t in study.trials if t.state.name == "FAIL"]
    if not failed:
        return ""
    rows = [[str(t.number), str(t.user_attrs.get("error", "")), seconds(t)] for t in failed[-TOP:]]
    note = (
        f"<p>{len(failed)} failed trials"
        + (f", the last {TOP} shown" if len(failed) > TOP else "")
        + "; tracebacks are in <code>search.log</code>.</p>"
    )
    return section("Failed trials", note + table(["trial", "reason", "seconds"], rows))


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
