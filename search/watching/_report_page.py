"""The whole of ``report.html``: its sections in reading order, its style, its footer.

The page is one self-contained file: the CSS is inline and plotly.js is inlined once, only when
the page has a figure, so it opens offline. A ``search-figures`` meta tag says how many figures
it holds, for whoever checks that each one was drawn.
"""

from __future__ import annotations

import html
from typing import Any

from search.core._folder import FINAL_JSON, STORE_FILE, STUDY_JSON
from search.watching._report_plots import Plots, plotly_js
from search.watching._report_sections import (
    failures,
    final,
    leaderboard,
    pareto_table,
    summary,
)
from search.watching._report_study import ReportStudy


def render_page(study: ReportStudy, drawn: dict[str, Any] | None = None) -> str:
    """The report of ``study`` as one HTML document.

    ``drawn`` keeps the plots between pages of one run: a page whose trials are those of the
    last (the report after the final evaluation, after the one at the search's end) reuses
    them instead of drawing them again.
    """
    plots, figures = _plots(study, drawn)
    if study.multi:
        sections = [
            summary(study),
            final(study),
            plots["pareto"],
            pareto_table(study),
            plots["histories"],
            failures(study),
        ]
    else:
        sections = [
            summary(study),
            final(study),
            plots["history"],
            leaderboard(study),
            plots["parallel"],
            plots["importances"],
            plots["slices"],
            plots["curves"],
            plots["lineage"],
            failures(study),
        ]
    body = "\n".join(s for s in sections if s)
    script = plotly_js() if figures else ""
    name = html.escape(study.record["name"])
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="search-figures" content="{figures}">'
        f"<title>{name} — search report</title><style>{_CSS}</style>"
        f"{script}</head><body><main>\n{body}\n"
        f"<footer>Written by <code>python -m search report</code> from {STUDY_JSON}, "
        f"{STORE_FILE} and {FINAL_JSON}; {html.escape(_versions(study.record))}.</footer>"
        "</main></body></html>\n"
    )


def _plots(study: ReportStudy, drawn: dict[str, Any] | None) -> tuple[dict[str, str], int]:
    """The plot sections by name, in page order, and how many figures they hold; from
    ``drawn`` when it holds the plots of the same trials."""
    key = study.plot_key() if drawn is not None else None
    if drawn is not None and drawn.get("key") == key:
        return drawn["plots"], drawn["figures"]
    plots = Plots(study)
    names = ("pareto", "histories") if study.multi else (
        "history", "parallel", "importances", "slices", "curves", "lineage")
    sections = {name: getattr(plots, name)() for name in names}
    if drawn is not None:
        drawn.update(key=key, plots=sections, figures=len(plots.figures))
    return sections, len(plots.figures)


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
table.grid th,table.grid td{border-bottom:1px solid #e9ecf1;padding:4px 8px;text-align:right;
white-space:nowrap}
table.grid th{white-space:normal;vertical-align:bottom}
table.grid th{background:#f0f2f5}
p.missing{color:#8a5a00;background:#fff7e6;padding:8px 12px;border-radius:6px}
footer{color:#7a8394;font-size:.8rem;margin:24px 0}
code{background:#f0f2f5;padding:1px 4px;border-radius:4px}
"""
