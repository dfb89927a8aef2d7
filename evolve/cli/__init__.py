"""The ``evolve`` command line. Bad input prints one line naming the problem and exits with 2."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from evolve.cli import (
    continual,
    convert,
    dashboard,
    ecg,
    explain,
    export,
    import_nir,
    predict,
    report,
    search,
    show,
    spaces,
    teacher,
    train,
)
from evolve.cli._flags import flags_for
from evolve.errors import as_user_error, one_line
from evolve.store.runlog import run_log

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
    search.add_parser(sub)
    show.add_parser(sub)
    spaces.add_parser(sub)
    train.add_parser(sub)
    teacher.add_parser(sub)
    convert.add_parser(sub)
    continual.add_parser(sub)
    dashboard.add_parser(sub)
    ecg.add_parser(sub)
    explain.add_parser(sub)
    export.add_parser(sub)
    import_nir.add_parser(sub)
    predict.add_parser(sub)
    report.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. The process-wide settings the library never touches are made here:
    messages on the terminal (warnings; INFO with ``-v``) and Optuna's verbosity."""
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
    except ImportError:  # pragma: no cover - optuna is a dependency
        pass
    # what a command's library calls say reaches the terminal: warnings, INFO with -v
    echo = "INFO" if getattr(args, "verbose", False) else "WARNING"
    try:
        with run_log(None, echo=echo):
            return int(args.func(args))
    except Exception as e:
        err = as_user_error(e)
        if err is None:
            raise
        print(f"evolve: error: {flags_for(one_line(err))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("evolve: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
