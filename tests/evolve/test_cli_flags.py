"""One name per concept across the commands (``--dataset``, ``--runs``, ``--out``), the old
spellings still accepted but hidden, and "did you mean" for a mistyped flag or command."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from evolve.cli import make_parser

#: (command, new flag, old flag, dest, the other flags the command needs)
ALIASES = [
    (("train",), "--dataset", "--data", "dataset", ()),
    (("convert",), "--dataset", "--data", "dataset", ()),
    (("show",), "--runs", "--out", "runs", ()),
    (("predict",), "--out", "--output", "out", ("--model", "m", "--input", "x.npy")),
]
#: Spellings no command shows any more: each concept has one name.
RETIRED = ("--data", "--output")


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every (sub)command's parser, ``teacher train`` and ``teacher list`` included."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name), sub
                yield from _commands(sub, (*path, name))


def _shows(text: str, flag: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text) is not None


@pytest.mark.parametrize(("command", "new", "old", "dest", "rest"), ALIASES)
def test_both_spellings_parse_to_the_same_value(
    command: tuple[str, ...], new: str, old: str, dest: str, rest: tuple[str, ...]
) -> None:
    parser = make_parser()
    as_new = parser.parse_args([*command, *rest, new, "somewhere"])
    as_old = parser.parse_args([*command, *rest, old, "somewhere"])
    assert getattr(as_new, dest) == getattr(as_old, dest)
    assert str(getattr(as_new, dest)) == "somewhere"
    # and the default is the same whichever spelling exists
    assert not hasattr(parser.parse_args([*command, *rest]), "_spelled")


@pytest.mark.parametrize(("command", "new", "old", "dest", "rest"), ALIASES)
def test_help_shows_the_new_name_only(
    command: tuple[str, ...], new: str, old: str, dest: str, rest: tuple[str, ...]
) -> None:
    text = dict(_commands(make_parser()))[command].format_help()
    assert _shows(text, new), text
    assert not _shows(text, old), text


def test_no_command_shows_a_hidden_or_retired_spelling() -> None:
    commands = list(_commands(make_parser()))
    assert len(commands) >= 16  # 14 commands, 2 teacher actions
    for path, parser in commands:
        text = parser.format_help()
        hidden = [
            s for a in parser._actions if a.help == argparse.SUPPRESS for s in a.option_strings
        ]
        for flag in (*hidden, *RETIRED):
            assert not _shows(text, flag), f"evolve {' '.join(path)} --help shows {flag}"


def test_help_of_a_command_runs_and_hides_the_alias() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "evolve", "show", "--help"], capture_output=True, text=True
    )
    assert proc.returncode == 0 and _shows(proc.stdout, "--runs")
    assert not _shows(proc.stdout, "--out"), proc.stdout


def _evolve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "evolve", *args], capture_output=True, text=True)


def test_a_mistyped_flag_gets_did_you_mean() -> None:
    proc = _evolve("search", "--trails", "3")
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("evolve search: error: unrecognized arguments: --trails")
    assert "did you mean --trials?" in lines[0]


def test_a_mistyped_command_gets_did_you_mean() -> None:
    proc = _evolve("serch")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "evolve: error: invalid choice: 'serch' is not a command; did you mean search?"
    ]


def test_suggestions_come_from_the_command_that_got_the_flag() -> None:
    def error(*argv: str) -> str:
        proc = _evolve(*argv)
        assert proc.returncode == 2
        assert len(proc.stderr.splitlines()) == 1, proc.stderr
        return proc.stderr

    assert "evolve teacher train: error:" in error("teacher", "train", "--datset", "x")
    assert "did you mean --dataset?" in error("teacher", "train", "--datset", "x")
    assert "did you mean knee?" in error("export", "r", "--pick", "knea")
    assert "did you mean train?" in error("teacher", "trian")
    # a hidden old spelling is never suggested; nothing close: point at --help
    assert "evolve --help lists the flags" in error("--frobnicate", "search")
    assert "did you mean --dataset?" in error("train", "--datta", "x")
