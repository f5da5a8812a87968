"""The command line: ``python -m search``. Each command is a function of its parsed arguments.

Only argparse loads before a command runs; a :class:`~search.core._errors.UserError` becomes one
line on stderr and exit status 2, Ctrl-C exit status 130.
"""

from __future__ import annotations

import sys
from dataclasses import fields

from search.cli._parse import (
    EXIT_USAGE,
    dashboard_parser,
    file_and_sweep,
    final_parser,
    folder_parser,
    run_parser,
    space_parser,
)

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv``, run the command and return its exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except Exception as exc:  # noqa: BLE001 - map the user's errors to exit 2, one line
        from search.core._errors import RunError, UserError, cannot_write

        if isinstance(exc, OSError):  # a full disk met where no write point named the file
            exc = cannot_write(exc, exc.filename or "") or exc
        if isinstance(exc, UserError):
            sys.stderr.write(f"error: {exc}\n")
            return EXIT_USAGE
        if isinstance(exc, RunError):
            sys.stderr.write(f"error: {exc}\n")
            return 1
        raise


def _dispatch(args: list[str]) -> int:
    command = args[0] if args else None
    if command == "final":
        ns = final_parser().parse_args(args[1:])
        from search.cli._run import run_final

        return run_final(ns.folder, ns.study_file)
    if command == "show":
        ns = folder_parser("show", "Leaderboard and best trial of a study.").parse_args(args[1:])
        from search.watching._show import show

        return show(ns.folder)
    if command == "report":
        ns = folder_parser(
            "report", "Write RESULTS/NAME/report.html: the study's plots, one offline file."
        ).parse_args(args[1:])
        from search.watching._report import report

        return report(ns.folder)
    if command == "dashboard":
        ns = dashboard_parser().parse_args(args[1:])
        from search.watching._dashboard import serve

        return serve(ns.results, ns.port)
    if command == "space":
        ns = space_parser().parse_args(args[1:])
        from search.cli._space_command import print_space

        return print_space(ns.space, ns.to)
    own, script_args = _split_script_args(args)
    ns = run_parser().parse_args(own)
    from search.cli._run import run
    from search.core._options import RunOptions

    options = RunOptions(**{f.name: getattr(ns, f.name) for f in fields(RunOptions)})
    file, sweep = file_and_sweep(ns.study, ns.file)
    return run(file, options, args, script_args, sweep=sweep)


def _split_script_args(args: list[str]) -> tuple[list[str], list[str]]:
    """The framework's arguments, and the script's own after ``--`` (its ``sys.argv[1:]``)."""
    if "--" not in args:
        return args, []
    at = args.index("--")
    return args[:at], args[at + 1:]
