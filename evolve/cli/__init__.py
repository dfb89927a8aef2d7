"""The ``evolve`` command line. Bad input prints one line naming the problem and exits with 2."""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

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


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _shown_flags(parser: argparse.ArgumentParser) -> list[str]:
    """The option strings ``--help`` shows (hidden old spellings left out)."""
    return [s for a in parser._actions if a.help != argparse.SUPPRESS for s in a.option_strings]


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word.split("=", 1)[0], list(choices), n=1)
    return f"; did you mean {close[0]}?" if close else ""


class Parser(argparse.ArgumentParser):
    """Bad input on the command line is one line, ``evolve <cmd>: error: ...``, exit status 2;
    an unknown flag or choice close to a known one gets "did you mean ...?"."""

    def error(self, message: str) -> NoReturn:
        head, could, matches = message.partition(" could match ")
        if could:  # an abbreviation: name the flags --help shows, not the hidden old spellings
            shown = _shown_flags(self)
            message = head + could + ", ".join(m for m in matches.split(", ") if m in shown)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: Any = None
    ) -> argparse.Namespace:
        argv = list(sys.argv[1:] if args is None else args)
        parsed, extras = self.parse_known_args(argv, namespace)
        if extras:
            owner = self._owner(argv, extras[0])
            hints = (_did_you_mean(x, _shown_flags(owner)) for x in extras)
            hint = next((h for h in hints if h), f" ({owner.prog} --help lists the flags)")
            owner.error(f"unrecognized arguments: {' '.join(extras)}{hint}")
        return parsed

    def _owner(self, argv: list[str], first_unknown: str) -> argparse.ArgumentParser:
        """The (sub)command parser that ``first_unknown`` was given to: the innermost command
        named before it in ``argv``."""
        owner: argparse.ArgumentParser = self
        for token in argv:
            commands = _subcommands(owner)
            if token in commands:
                owner = commands[token]
            elif token in (first_unknown, "--"):
                break
        return owner

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        if action.choices is None or value in action.choices:
            return
        choices = [str(c) for c in action.choices]
        hint = _did_you_mean(str(value), choices)
        if isinstance(action, argparse._SubParsersAction):
            what = hint or f" (choose from {', '.join(choices)})"
            raise argparse.ArgumentError(None, f"invalid choice: {value!r} is not a command{what}")
        raise argparse.ArgumentError(
            action, f"invalid choice: {value!r} (choose from {', '.join(choices)}){hint}"
        )


def make_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="evolve",
        description=(
            "snn-evolve: search, train and measure spiking neural networks on accuracy and "
            "energy counted from their real spikes."
        ),
    )
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=Parser
    )
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
    except BrokenPipeError:
        # the reader went away (`evolve show | head`): stop quietly, as a Unix filter does; the
        # rest of stdout goes nowhere so that Python's exit flush does not fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
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
