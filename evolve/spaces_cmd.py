"""``evolve spaces [NAME]``: list the library's search spaces or describe one."""

from __future__ import annotations

import argparse

from search_spaces import list_spaces, load_space


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "spaces",
        help="list the search spaces shipped with snn-evolve, or describe one",
        description="Without NAME: list the library's spaces. With NAME (or a YAML path): describe its dimensions.",
    )
    p.add_argument("name", nargs="?", help="a library space name or a YAML file")
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    if a.name:
        print(load_space(a.name).describe())
        return 0
    for name, description in sorted(list_spaces().items()):
        print(f"{name:20s} {' '.join(description.split())}")
    return 0
