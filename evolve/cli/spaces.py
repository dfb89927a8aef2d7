"""``evolve spaces [NAME]``: list the library's search spaces or describe one (with ``--dataset``:
what remains of it for that data)."""

from __future__ import annotations

import argparse
from pathlib import Path

from evolve.data.kinds import DATA_KINDS
from evolve.errors import UserError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "spaces",
        help="list the search spaces shipped with snn-evolve, or describe one",
        description="Without NAME: list the library's spaces. With NAME (or a YAML path): describe its dimensions.",
        epilog=(
            "examples:\n"
            "  evolve spaces\n"
            "  evolve spaces hybrid_neuron\n"
            "  evolve spaces hybrid_neuron --dataset gunpoint   # only what fits series data"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name", nargs="?", help="a library space name or a YAML file")
    p.add_argument(
        "--dataset",
        help="show only what a search on this data set or file samples (the network kinds "
        "that take its data kind)",
    )
    p.add_argument("--data-kind", choices=DATA_KINDS, help="the data's kind (default: recognised)")
    p.add_argument("--data-dir", type=Path, help="folder holding the data set's files")
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from evolve.api.spaces import describe_space, list_spaces

    if a.data_kind and not a.dataset:
        raise UserError("--data-kind needs --dataset: give the data set the space is for")
    if a.name:
        print(describe_space(a.name, a.dataset, data_kind=a.data_kind, data_dir=a.data_dir))
        return 0
    if a.dataset:
        raise UserError("--dataset describes what of a space fits the data: give its NAME too")
    for space in list_spaces():
        print(f"{space.name:20s} {space.description}")
    return 0
