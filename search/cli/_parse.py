"""The command line's parsers, built from the declared run options. Only argparse loads here."""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

EXIT_USAGE = 2

DESCRIPTION = """\
Honest hyperparameter search.

  python -m search STUDY.py [options]    search, then the single final evaluation of the best model
  python -m search SCRIPT.py [options] [-- SCRIPT ARGS]
                                         an Optuna script, run as __main__, its trials on the engine
  python -m search SWEEP.yaml [FILE.py]  a W&B sweep (space, metric, method, early_terminate) for
                                         FILE's objective (default: the sweep's program)
  python -m search final RESULTS/NAME [STUDY.py]
                                         the final evaluation alone (after a run with --no-final)
  python -m search show RESULTS/NAME     leaderboard and best trial in the terminal
  python -m search report RESULTS/NAME   (re)write RESULTS/NAME/report.html
  python -m search dashboard [RESULTS]   serve a live dashboard over the studies under RESULTS
  python -m search space SPACE --to wandb|ray|json
                                         print a space as a W&B sweep, Ray Tune code, or JSON

Runs are tracked in MLflow (default: sqlite:///RESULTS/mlflow.db; open it with
`mlflow ui --backend-store-uri sqlite:///RESULTS/mlflow.db`).

Exit status: 0 done; 2 wrong input (one line on stderr, nothing written); 130 interrupted
(finished trials kept); 1 anything else."""


class Parser(argparse.ArgumentParser):
    """argparse with our one-line error format and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"error: {self.prog}: {message}\n")
        raise SystemExit(EXIT_USAGE)


def _argparse_type(parse: Any) -> Any:
    """An argparse ``type`` from an option's parser (``ValueError`` -> argparse's error)."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = getattr(parse, "__name__", "value")
    return convert


def run_parser() -> argparse.ArgumentParser:
    """``python -m search STUDY.py [options]``: one argument per declared run option."""
    from search.core._options import RunOptions

    p = Parser(
        prog="python -m search",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("study", type=Path, help="the study file (a Python file defining `study`), "
                   "or an Optuna script (run as __main__; its own arguments after --), or a W&B "
                   "sweep file (YAML) followed by the file")
    p.add_argument("file", type=Path, nargs="?", help="after a W&B sweep file: the study file "
                   "or script whose objective the sweep tunes (default: the sweep's program)")
    groups: dict[str, Any] = {}
    for f in fields(RunOptions):
        meta = f.metadata
        target: Any = p
        if meta["group"]:
            if meta["group"] not in groups:
                groups[meta["group"]] = p.add_mutually_exclusive_group()
            target = groups[meta["group"]]
        kwargs: dict[str, Any] = {"dest": f.name, "help": meta["help"], "default": f.default}
        if meta["switch"] is not None:
            target.add_argument(meta["flag"], action="store_const", const=meta["switch"], **kwargs)
            continue
        if meta["parse"] is not None:
            kwargs["type"] = _argparse_type(meta["parse"])
        if meta["choices"]:
            kwargs["choices"] = meta["choices"]
        if meta["metavar"]:
            kwargs["metavar"] = meta["metavar"]
        if meta["many"]:
            kwargs["nargs"] = "+"
        target.add_argument(meta["flag"], **kwargs)
    return p


def file_and_sweep(first: Path, second: Path | None) -> tuple[Path, Path | None]:
    """The file to run, and the W&B sweep file before it (if any): ``SWEEP.yaml FILE.py``, or
    ``SWEEP.yaml`` alone, whose ``program:`` names the file."""
    if first.suffix.lower() not in (".yaml", ".yml", ".json"):
        if second is not None:
            from search.core._errors import UserError

            raise UserError(f"{second}: a second file comes after a W&B sweep file only "
                            f"(python -m search SWEEP.yaml FILE.py), but {first} is not one")
        return first, None
    if second is not None:
        return second, first
    from search.core._sweep import read_sweep_file

    program = read_sweep_file(first).program
    if program is None:
        from search.core._errors import UserError

        raise UserError(f"{first}: the sweep names no program; give the file to run: "
                        f"python -m search {first} FILE.py")
    return first.parent / program, first



def folder_parser(command: str, help_text: str) -> argparse.ArgumentParser:
    p = Parser(prog=f"python -m search {command}", description=help_text)
    p.add_argument("folder", type=Path, metavar="RESULTS/NAME", help="a study's results folder")
    return p


def final_parser() -> argparse.ArgumentParser:
    p = folder_parser("final", "The final evaluation alone: open the test set once.")
    p.add_argument(
        "study_file", type=Path, nargs="?", metavar="STUDY_FILE",
        help="the study file to run (default: the one study.json names, while its digest under "
        "your key verifies: a results folder alone never makes final run code)",
    )
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
    p = Parser(
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


def space_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="python -m search space",
        description="Print a space in another tool's format: a W&B sweep configuration (YAML), "
        "Python code defining a Ray Tune param_space, or this framework's own JSON.",
    )
    p.add_argument(
        "space",
        metavar="SPACE",
        help="a YAML/JSON space file, a ready-made space name, or a study file (.py) whose "
        "space is used (and whose metric goes into the W&B sweep)",
    )
    p.add_argument(
        "--to", required=True, choices=("wandb", "ray", "json"), help="the format to print"
    )
    return p
