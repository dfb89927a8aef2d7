"""Every ``evolve`` command line in the README and ``docs/*.md`` (inside ```bash blocks) parses
with today's command-line interface: no renamed flag, removed choice or misspelt command.

This is the parse-level check of every documented command; the ones a new user types first also
run end to end elsewhere (the README script and quick start: ``test_api.py``; each command's
``--help`` examples: ``test_help_examples.py``; the data guide's commands:
``test_data_kinds.py``).
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)
PROGRAM = re.compile(r"^(?:\.venv/bin/)?evolve(?:\s|$)")


def documented_commands() -> list[tuple[str, str]]:
    """(file, command line) of every ``evolve ...`` line of a bash block, continuations joined,
    comments dropped."""
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for block in BLOCK.findall(path.read_text()):
            for line in block.replace("\\\n", " ").splitlines():
                line = line.strip()
                if PROGRAM.match(line):
                    found.append((path.relative_to(ROOT).as_posix(), line))
    return found


COMMANDS = documented_commands()


def test_the_docs_have_commands() -> None:
    files = {f for f, _ in COMMANDS}
    assert len(COMMANDS) >= 40 and {"docs/search.md", "docs/export.md", "docs/data.md"} <= files


@pytest.mark.parametrize(("doc", "line"), COMMANDS, ids=[f"{f}:{c[:60]}" for f, c in COMMANDS])
def test_a_documented_command_parses(doc: str, line: str) -> None:
    from evolve.cli import make_parser

    argv = shlex.split(line, comments=True)[1:]
    if argv[-1:] == ["--help"]:
        argv = argv[:-1]  # the help itself is test_help_examples.py's
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            make_parser().parse_args(argv)
    except SystemExit as e:
        pytest.fail(f"{doc}: `{line}` does not parse (exit {e.code}): {err.getvalue().strip()}")
