"""``evolve show``: the Pareto front of a run as a table, its hypervolume, best per objective."""

from __future__ import annotations

import argparse

from evolve.cli._flags import add_run_argument
from evolve.errors import UserError
from evolve.report.summary import format_summary, run_summary


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "show",
        help="show a search's Pareto front, hypervolume and trial counts",
        description="Read a run folder's study and print the accuracy-energy front as a table.",
        epilog=(
            "examples:\n  evolve show runs/mine\n  evolve show --study mine --runs shared/runs"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_run_argument(p, aliases=("--out",))
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    if a.run is None and a.study is None:
        raise UserError("give a run folder (evolve show runs/NAME) or --study NAME")
    run_dir = a.run if a.run is not None else a.runs / a.study
    print(format_summary(run_summary(run_dir)))
    return 0


__all__ = ["add_parser", "run"]
