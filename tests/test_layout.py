"""The layout rules of the package tree (CONTRIBUTING.md, "Where things live").

* ``evolve/`` has one folder per role; its top level holds only the package's entry points.
* A command module (``evolve/cli/<command>.py``) parses flags, calls the API and prints: it
  imports no other command and stays short.
* No source file is over ~500 lines.
* ``evolve --help`` loads no heavy package (it answers in well under a second).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("evolve", "agents", "search_spaces", "snn_models")
MAX_LINES = 500
#: Files allowed past MAX_LINES: data tables, not logic.
DATA_TABLES: set[str] = set()
MAX_COMMAND_LINES = 150
ROLES = {
    "api",
    "apps",
    "cli",
    "continual_learning",
    "data",
    "engine",
    "export",
    "report",
    "store",
    "training",
}
TOP_LEVEL = {"__init__.py", "__main__.py", "config.py", "errors.py", "py.typed"}
CLI = ROOT / "evolve" / "cli"
COMMANDS = sorted(p for p in CLI.glob("*.py") if not p.name.startswith("_"))


def _sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_source_file_is_over_500_lines(path: Path) -> None:
    rel = str(path.relative_to(ROOT))
    n = len(path.read_text().splitlines())
    assert n <= MAX_LINES or rel in DATA_TABLES, f"{rel} has {n} lines; split it by concept"


def test_evolve_has_one_folder_per_role() -> None:
    top = {p.name for p in (ROOT / "evolve").iterdir() if p.name != "__pycache__"}
    folders = {n for n in top if (ROOT / "evolve" / n).is_dir()}
    assert folders == ROLES, f"role folders differ: {sorted(folders ^ ROLES)}"
    assert top - folders == TOP_LEVEL, (
        f"loose files in evolve/: {sorted(top - folders - TOP_LEVEL)}"
    )


def _evolve_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "evolve.cli":
                names.update(f"evolve.cli.{a.name}" for a in node.names)
            else:
                names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: p.stem)
def test_command_modules_are_thin_and_import_no_other_command(path: Path) -> None:
    others = {f"evolve.cli.{p.stem}" for p in COMMANDS if p != path}
    bad = _evolve_imports(path) & others
    assert not bad, (
        f"{path.name} imports the commands {sorted(bad)}; move the shared code into the library"
    )
    n = len(path.read_text().splitlines())
    assert n <= MAX_COMMAND_LINES, (
        f"evolve/cli/{path.name} has {n} lines; move logic into the library"
    )


def test_every_command_is_registered() -> None:
    from evolve.cli import make_parser

    sub = next(a for a in make_parser()._actions if a.dest == "command")
    assert set(sub.choices) == {p.stem.replace("_", "-") for p in COMMANDS}


def test_help_loads_no_heavy_package() -> None:
    code = (
        "import sys, contextlib, io\n"
        "from evolve.cli import main\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['--help'])\n"
        "heavy = [m for m in ('torch', 'optuna', 'ray', 'pandas', 'matplotlib') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "", f"`evolve --help` imports {proc.stdout.strip()}"
