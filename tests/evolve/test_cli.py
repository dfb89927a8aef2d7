"""The CLI front door: fast help, every command listed, one-line errors."""

from __future__ import annotations

import subprocess
import sys


def test_building_the_parser_imports_no_heavy_package() -> None:
    code = (
        "import sys; from evolve.cli import make_parser; make_parser(); "
        "heavy = [m for m in ('torch', 'optuna', 'ray', 'pandas') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"`evolve --help` imports {out.stdout.strip()}"


def test_help_lists_every_command() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "evolve", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("search", "show", "spaces", "train"):
        assert command in out.stdout


def test_no_command_is_a_usage_error() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "evolve"], capture_output=True, text=True, check=False
    )
    assert out.returncode == 2 and "COMMAND" in out.stderr


def test_a_reader_that_goes_away_gets_no_traceback() -> None:
    # `evolve spaces | head -1`: the pipe's reader closes before the command writes
    proc = subprocess.Popen(
        [sys.executable, "-m", "evolve", "spaces"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert b"Traceback" not in err and b"BrokenPipe" not in err, err.decode()
    assert proc.returncode == 1
