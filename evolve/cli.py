"""The ``evolve`` command line. Bad input prints one line naming the problem and exits with 2."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from agents import AgentError
from evolve import search_cmd, show_cmd, spaces_cmd, train_cmd
from evolve.errors import UserError
from search_spaces import SpaceError
from snn_models.errors import ConfigError

EXIT_BAD_INPUT = 2


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evolve",
        description=(
            "snn-evolve: search, train and measure spiking neural networks on accuracy and "
            "energy counted from their real spikes."
        ),
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    search_cmd.add_parser(sub)
    show_cmd.add_parser(sub)
    spaces_cmd.add_parser(sub)
    train_cmd.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (UserError, ConfigError, SpaceError, AgentError) as e:
        print(f"evolve: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("evolve: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
