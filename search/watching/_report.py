"""``report.html``: one self-contained page of plots about a study, readable offline.

Written at the end of a run (and again after the final evaluation) by :class:`ReportWriter`,
and by ``python -m search report RESULTS/NAME`` (:func:`report`). The figures are Optuna's
(history, parallel coordinates, importances, slices, curves, Pareto front), written as plotly.js
JSON; plotly.js is inlined once, so the file opens with no network. Every section
says what is missing instead of failing: a study with no trial, one trial, only failed trials,
no data or a sealed test set still gets a page. The work is split by job: the observer and its
helper process (``_report_observer``), reading the folder and writing the file
(``_report_file``), the page (``_report_page``) with its sections (``_report_sections``), plots
(``_report_plots``) and their figures (``_report_figures``), facts (``_report_study``) and HTML
pieces (``_report_html``).
"""

from __future__ import annotations

from pathlib import Path

from search.core._errors import UserError
from search.core._folder import LOG_FILE, STUDY_JSON, read_record
from search.core._journal_check import check_journal
from search.core._logging import log_helper_to_file
from search.watching._report_file import load_stored_study, write_report
from search.watching._report_observer import ReportWriter, load_drawing_stack

__all__ = ["ReportWriter", "load_stored_study", "report", "write_report"]


def report(directory: Path) -> int:
    """``python -m search report RESULTS/NAME``: (re)write ``report.html`` and say where."""
    if not (directory / STUDY_JSON).is_file():
        raise UserError(f"{directory}: not a study folder (no {STUDY_JSON})")
    check_journal(directory, read_record(directory / STUDY_JSON))  # damaged: exit 2, no page
    if (directory / LOG_FILE).is_file():  # a plot that cannot be drawn logs there, not here
        log_helper_to_file(directory)
    load_drawing_stack()  # this command's process only draws: no scikit-learn
    path = write_report(directory)
    print(f"report: {path}")
    return 0
