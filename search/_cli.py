"""``python -m search``: the command line. Only argparse loads before a command runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

COMMANDS = ("final", "show")
EXIT_USAGE = 2

_DESCRIPTION = """\
Honest hyperparameter search.

  python -m search STUDY.py [options]    search, then the single final evaluation of the best model
  python -m search final RESULTS/NAME    the final evaluation alone (after a run with --no-final)
  python -m search show RESULTS/NAME     leaderboard and best trial in the terminal

Exit status: 0 done; 2 wrong input (one line on stderr, nothing written); 130 interrupted
(finished trials kept); 1 anything else."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _nested_folds(text: str) -> int:
    value = _positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be >= 2, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse with our one-line error format and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"error: {self.prog}: {message}\n")
        raise SystemExit(EXIT_USAGE)


def run_parser() -> argparse.ArgumentParser:
    from search._study import PRUNERS, SAMPLERS

    p = _Parser(
        prog="python -m search",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("study", type=Path, help="the study file (a Python file defining `study`)")
    p.add_argument("--trials", type=_positive_int, help="the study's total number of trials")
    p.add_argument(
        "--timeout",
        type=_positive_float,
        metavar="SECONDS",
        help="start no new trial after this long",
    )
    p.add_argument("--backend", choices=("local",), help="where trials run (default local)")
    p.add_argument("--workers", type=_positive_int, help="trials run at the same time")
    p.add_argument("--sampler", choices=SAMPLERS, help="Optuna sampler (default tpe)")
    p.add_argument("--pruner", choices=PRUNERS, help="Optuna pruner (default median)")
    p.add_argument(
        "--results",
        type=Path,
        default=Path("results"),
        metavar="DIR",
        help="output root (default ./results)",
    )
    p.add_argument("--seed", type=_seed, help="one seed for splits, sampler and training")
    p.add_argument("--resume", action="store_true", help="continue the existing study")
    p.add_argument("--no-final", action="store_true", help="do not open the test set")
    p.add_argument("--prefer", metavar="[min:|max:]PARAM",
                   help="among configs tied with the best, evaluate the one with the smallest "
                        "(or largest) PARAM")
    p.add_argument("--strict", action="store_const", const=True,
                   help="leak checks stop the run (exit 2) instead of warning")
    p.add_argument("--stop-below-noise", action="store_const", const=True,
                   help="end the search once the room for improvement is below the CV noise")
    p.add_argument("--nested", type=_nested_folds, metavar="K",
                   help="also estimate the tuned pipeline by K-fold nested cross-validation")
    return p


def folder_parser(command: str, help_text: str) -> argparse.ArgumentParser:
    p = _Parser(prog=f"python -m search {command}", description=help_text)
    p.add_argument("folder", type=Path, metavar="RESULTS/NAME", help="a study's results folder")
    return p


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv``, run the command and return its exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except Exception as exc:  # noqa: BLE001 - map the user's errors to exit 2, one line
        from search._errors import UserError

        if isinstance(exc, UserError):
            sys.stderr.write(f"error: {exc}\n")
            return EXIT_USAGE
        raise


def _dispatch(args: list[str]) -> int:
    if args and args[0] == "final":
        ns = folder_parser(
            "final", "The final evaluation alone: open the test set once."
        ).parse_args(args[1:])
        from search._run import run_final

        return run_final(ns.folder)
    if args and args[0] == "show":
        ns = folder_parser("show", "Leaderboard and best trial of a study.").parse_args(args[1:])
        from search._show import show

        return show(ns.folder)
    ns = run_parser().parse_args(args)
    from search._run import RunOptions, run

    options = RunOptions(
        trials=ns.trials,
        timeout=ns.timeout,
        backend=ns.backend,
        workers=ns.workers,
        sampler=ns.sampler,
        pruner=ns.pruner,
        seed=ns.seed,
        results=ns.results,
        resume=ns.resume,
        final=not ns.no_final,
        prefer=ns.prefer,
        strict=ns.strict,
        stop_below_noise=ns.stop_below_noise,
        nested=ns.nested,
    )
    return run(ns.study, options, args)
