"""The run's report observer: hands each status to a helper process that draws ``report.html``.

Optuna and its importance evaluators take a while to import. A spawned helper loads them
(without the scikit-learn Optuna would bring along, which the report never uses) while the
search runs; the driver sends it each status
(``searched``, then ``finished`` after the final evaluation) down a pipe without waiting, so the
report is drawn while the final model is fitted, and the driver waits for it only as the command
ends. The helper draws the latest status it has been given. When there is no helper (the
``final`` command) or it died, the driver draws the report itself.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.core._observers import RunContext, RunObserver
from search.watching._report_file import StoredTrials, write_report

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

log = logging.getLogger(__name__)


class ReportWriter(RunObserver):
    """Writes ``report.html`` when the search ends and again after the final evaluation."""

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
    ``("stopped", None)``. The plots are kept between drawings: the report after the final
    evaluation draws only what the final evaluation changed. While it waits, the helper follows
    the journal (:class:`StoredTrials`), so the report at the end reads only the last trials.
    """
    import signal

    from search.core._logging import log_helper_to_file

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver decides
    log_helper_to_file(Path(directory))
    load_drawing_stack()
    drawn: dict[str, Any] = {}
    stored = StoredTrials(Path(directory))
    wait = FOLLOW_S
    try:
        while True:
            if not conn.poll(wait):
                wait = max(FOLLOW_S, _follow(stored) / FOLLOW_BUDGET)
                continue
            messages = [conn.recv()]
            while messages[-1] is not None and conn.poll():
                messages.append(conn.recv())
            statuses = [m for m in messages if m is not None]
            if statuses:
                _draw(Path(directory), statuses[-1], conn, drawn, stored)
            if messages[-1] is None:
                conn.send(("stopped", None))
                return
    except (EOFError, OSError):
        return  # the driver is gone


#: seconds between two looks at the journal while the search runs, at least
FOLLOW_S = 5.0
#: the share of the helper's time that following the journal may take, at most
FOLLOW_BUDGET = 0.05


def _follow(stored: StoredTrials) -> float:
    """Take in the trials that finished since the last look; the seconds it took. A journal
    that cannot be read now is read again when the report is drawn, which says why."""
    try:
        return stored.follow()
    except Exception:  # noqa: BLE001 - the drawing reports what is wrong
        log.debug("report: the journal could not be followed", exc_info=True)
        return FOLLOW_S * FOLLOW_BUDGET


#: Optuna imports scikit-learn (1.4–1.9 s) for importance evaluators the report never uses
UNUSED_BY_THE_REPORT = ("sklearn",)


def load_drawing_stack() -> None:
    """Import what drawing the report needs, without what it never uses.

    ``optuna.importance`` imports scikit-learn when it is installed, for its fANOVA and MDI
    evaluators; the report weighs parameters with PED-ANOVA. In this process, which only draws
    the report, scikit-learn is marked absent (``None`` in ``sys.modules`` makes its import raise
    ``ImportError``, which Optuna's optional import expects), so the report is ready seconds
    earlier after a short run.
    """
    for name in UNUSED_BY_THE_REPORT:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
    import optuna.importance  # noqa: F401


def _draw(
    directory: Path, status: str, conn: Any, drawn: dict[str, Any], stored: StoredTrials
) -> None:
    try:
        write_report(directory, status=status, drawn=drawn, stored=stored)
        conn.send(("ok", None))
    except Exception as exc:  # noqa: BLE001 - reported to the driver
        log.exception("report: not written")
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
