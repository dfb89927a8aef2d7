"""The ``evolve`` command line. Bad input prints one line naming the problem and exits with 2."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from evolve import (
    continual_cmd,
    convert_cmd,
    dashboard_cmd,
    ecg_cmd,
    explain_cmd,
    export_cmd,
    import_nir_cmd,
    predict_cmd,
    report_cmd,
    search_cmd,
    show_cmd,
    spaces_cmd,
    teacher_cmd,
    train_cmd,
)
from evolve.errors import UserError

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
    teacher_cmd.add_parser(sub)
    convert_cmd.add_parser(sub)
    continual_cmd.add_parser(sub)
    dashboard_cmd.add_parser(sub)
    ecg_cmd.add_parser(sub)
    explain_cmd.add_parser(sub)
    export_cmd.add_parser(sub)
    import_nir_cmd.add_parser(sub)
    predict_cmd.add_parser(sub)
    report_cmd.add_parser(sub)
    return parser


def _is_bad_input(e: Exception) -> bool:
    """Errors that mean "the input is wrong". Each package has its own class; one that is not
    loaded yet cannot have raised anything, so nothing is imported here."""
    if isinstance(e, UserError):
        return True
    for module, name in (
        ("snn_models.errors", "ConfigError"),
        ("search_spaces.errors", "SpaceError"),
        ("agents.errors", "AgentError"),
    ):
        mod = sys.modules.get(module)
        if mod is not None and isinstance(e, getattr(mod, name)):
            return True
    return False


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except Exception as e:
        if not _is_bad_input(e):
            raise
        # one line, whatever the message holds (a wrapped library error may span several)
        message = " ".join(line.strip() for line in str(e).splitlines() if line.strip())
        print(f"evolve: error: {message or type(e).__name__}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("evolve: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
