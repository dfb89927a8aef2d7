"""``evolve spaces [NAME]``: list the library's search spaces or describe one."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "spaces",
        help="list the search spaces shipped with snn-evolve, or describe one",
        description="Without NAME: list the library's spaces. With NAME (or a YAML path): describe its dimensions.",
    )
    p.add_argument("name", nargs="?", help="a library space name or a YAML file")
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from evolve.api.spaces import describe_space, list_spaces

    if a.name:
        print(describe_space(a.name))
        return 0
    for space in list_spaces():
        print(f"{space.name:20s} {space.description}")
    return 0
