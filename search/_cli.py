"""``python -m search``: the command line. Only argparse loads before a command runs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

COMMANDS = ("final", "show", "report", "dashboard")
EXIT_USAGE = 2

_DESCRIPTION = """\
Honest hyperparameter search.

  python -m search STUDY.py [options]    search, then the single final evaluation of the best model
  python -m search final RESULTS/NAME    the final evaluation alone (after a run with --no-final)
  python -m search show RESULTS/NAME     leaderboard and best trial in the terminal
  python -m search report RESULTS/NAME   (re)write RESULTS/NAME/report.html
  python -m search dashboard [RESULTS]   serve a live dashboard over the studies under RESULTS

Runs are tracked in MLflow (default: sqlite:///RESULTS/mlflow.db; open it with
`mlflow ui --backend-store-uri sqlite:///RESULTS/mlflow.db`).

Exit status: 0 done; 2 wrong input (one line on stderr, nothing written); 130 interrupted
(finished trials kept); 1 anything else."""


def _bounded(kind: type, accept: Callable[[float], bool], says: str) -> Callable[[str], Any]:
    """An argparse ``type``: parse ``kind`` (int or float) and check it, with a one-line error."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            expected = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not accept(value):
            raise argparse.ArgumentTypeError(f"must be {says}, got {text}")
        return value

    return parse


_positive_int = _bounded(int, lambda v: v >= 1, ">= 1")
_seed = _bounded(int, lambda v: v >= 0, ">= 0")
_nested_folds = _bounded(int, lambda v: v >= 2, ">= 2")
_positive_float = _bounded(float, lambda v: v > 0, "> 0")
_non_negative_float = _bounded(float, lambda v: 0 <= v < float("inf"), "a number >= 0")


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
    p.add_argument(
        "--backend",
        choices=("local", "ray"),
        help="local: Optuna in this machine's processes; ray: Ray Tune (default local)",
    )
    p.add_argument("--workers", type=_positive_int, help="trials run at the same time")
    p.add_argument(
        "--cpus-per-trial", type=_positive_float, metavar="F", help="Ray: CPUs per trial"
    )
    p.add_argument(
        "--gpus-per-trial",
        type=_non_negative_float,
        metavar="F",
        help="Ray: GPUs per trial; fractions share a GPU",
    )
    p.add_argument(
        "--address", metavar="ADDR", help="Ray: a running cluster to use (auto or host:port)"
    )
    p.add_argument(
        "--max-retries",
        type=_seed,
        metavar="N",
        help="Ray: restarts of a trial whose process died (default 2)",
    )
    p.add_argument("--sampler", choices=SAMPLERS, help="Optuna sampler (default tpe)")
    p.add_argument(
        "--pruner", choices=PRUNERS, help="early stopping (default median; ray: a Tune scheduler)"
    )
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
    tracking = p.add_mutually_exclusive_group()
    tracking.add_argument(
        "--tracking-uri",
        metavar="URI",
        help="MLflow tracking server or store (default sqlite:///RESULTS/mlflow.db)",
    )
    tracking.add_argument("--no-tracking", action="store_true", help="do not log to MLflow")
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


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number 1-65535, got {value}")
    return value


def dashboard_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m search dashboard",
        description="Serve optuna-dashboard over every study under RESULTS on 127.0.0.1, live "
        "and read-only, and say how to open the MLflow UI on the same results.",
    )
    p.add_argument(
        "results",
        type=Path,
        nargs="?",
        default=Path("results"),
        metavar="RESULTS",
        help="the results root (default ./results)",
    )
    p.add_argument("--port", type=_port, help="port (default 8080 if free, else any free port)")
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
    if args and args[0] == "report":
        ns = folder_parser(
            "report", "Write RESULTS/NAME/report.html: the study's plots, one offline file."
        ).parse_args(args[1:])
        from search._report import report

        return report(ns.folder)
    if args and args[0] == "dashboard":
        ns = dashboard_parser().parse_args(args[1:])
        from search._dashboard import serve

        return serve(ns.results, ns.port)
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
        cpus_per_trial=ns.cpus_per_trial,
        gpus_per_trial=ns.gpus_per_trial,
        address=ns.address,
        max_retries=ns.max_retries,
        tracking=not ns.no_tracking,
        tracking_uri=ns.tracking_uri,
    )
    return run(ns.study, options, args)
