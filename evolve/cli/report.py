"""``evolve report``: one self-contained HTML page about a search, that opens offline (see
:func:`evolve.report.html.make_report`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from evolve.cli._flags import run_dir_of
from evolve.errors import UserError
from evolve.report.html import make_report
from evolve.report.source import counts_text

#: The library's words for settings → the command line's flags.
_PHRASES = (
    ("use study=NAME with storage=URL", "use --study NAME --storage URL"),
    ("give storage=URL", "give --storage URL"),
)


def _flags(message: str) -> str:
    for library, cli in _PHRASES:
        message = message.replace(library, cli)
    return "--" + message if message.startswith("out ") else message


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="write one self-contained HTML report of a search (front, history, best models)",
        description=(
            "Write one HTML file that opens offline, with nothing fetched from the network: the "
            "study's trial counts, the accuracy-energy Pareto front (with the hypervolume "
            "reference energy and the ANN teachers of distilled trials), the hypervolume "
            "history, cards of the best models (best accuracy, lowest energy, knee) with their "
            "firing-rate and Spike Activation Map figures, and a sortable table of every trial."
        ),
        epilog=(
            "examples:\n"
            "  evolve report runs/mine                       # writes runs/mine/report.html\n"
            "  evolve report --study mine --out mine.html\n"
            "  evolve report --study mine --storage postgresql://evolve@db:5432/studies\n"
            "  evolve report runs/mine --no-figures          # skip the per-model figures"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run", nargs="?", type=Path, help="a run folder (runs/<study>)")
    p.add_argument("--study", help="the study name (its run folder is --runs/<study>)")
    p.add_argument(
        "--runs", type=Path, default=Path("runs"), help="where run folders are (default runs/)"
    )
    p.add_argument(
        "--storage",
        help="an Optuna storage URL or journal file holding the study (default: the run's own)",
    )
    p.add_argument(
        "--out",
        type=Path,
        help="the HTML file to write (default runs/<study>/report.html, or <study>-report.html "
        "when the study has no run folder)",
    )
    p.add_argument(
        "--no-figures",
        action="store_true",
        help="skip the best models' firing-rate and SAM figures (faster)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    run_dir_of(a, "report")  # exactly one of RUN and --study
    try:
        report = make_report(
            a.run,
            a.out,
            study=a.study,
            runs=a.runs,
            storage=a.storage,
            figures=not a.no_figures,
            progress=not a.no_progress,
        )
    except UserError as e:  # the library names its keywords; the command line its flags
        raise type(e)(_flags(str(e))) from e
    print(f"report of {report.study} ({counts_text(report.counts)}) written to {report.path}")
    for number, note in report.notes.items():
        if not note.startswith("figures skipped"):
            print(f"  trial {number}: {note}")
    return 0


__all__ = ["add_parser", "run"]
