"""Where every benchmark's JSON goes and the ``meta`` block it carries (no torch import).

Each ``benchmarks/<name>.py`` writes ``benchmarks/results/<name>.json`` (committed); the docs'
tables are rendered from those files by ``benchmarks/render_tables.py``. The ``meta`` block says
what was measured, on which code and how: benchmark name, git commit (short hash of HEAD,
``+dirty`` when tracked files outside ``benchmarks/results``, ``docs`` and ``README.md`` have
uncommitted changes), UTC date, the ``make`` target and the exact script line, python/torch
versions and CPU count. The ``make`` command is recorded only when the script ran with exactly
the Makefile's line for its target (other flags: only the script line).
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"

#: benchmark name (= script stem = JSON stem) -> the make target that runs it (``make bench-all``
#: runs them all); a script without one (e.g. the set-up timings) is run as ``python benchmarks/NAME.py``
TARGETS: dict[str, str] = {
    "neurons": "bench",
    "engine_overhead": "bench-engine",
    "attention_speed": "bench-attention",
    "search_efficiency": "bench-search",
    "bif_vs_lif": "bench-bif",
    "sdsa_single_layer": "bench-sdsa",
    "timesteps": "bench-timesteps",
    "snn_vs_ann": "bench-snn-ann",
    "continual": "bench-continual",
    "ucr": "bench-ucr",
    "tabular_baselines": "bench-tabular",
    "ecg": "bench-ecg",
    "long_run": "bench-long-run",
    "ray_scaling": "bench-ray",
    "quickstart": "bench-quickstart",
    "setup_time": "bench-setup",
    "proxies": "bench-proxies",
    "fashion_target": "bench-fashion",
}

#: paths whose uncommitted changes do not make a measurement "+dirty" (they hold rendered output)
NOT_CODE = ("benchmarks/results", "docs", "README.md")

_IMPORTED = time.monotonic()


def _seconds_since_start() -> float:
    """Seconds since this process started (Linux ``/proc``), else since this module's import."""
    try:
        start_ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.monotonic() - _IMPORTED


def how_to_run(name: str) -> str:
    """The command that measures benchmark ``name``: its make target, else its script."""
    target = TARGETS.get(name)
    return f"make {target}" if target else f"python benchmarks/{name}.py"


def default_out(name: str) -> Path:
    """``benchmarks/results/<name>.json``, relative to the repository root when run from it."""
    path = RESULTS / f"{name}.json"
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def git_commit() -> str:
    """Short hash of HEAD, with ``+dirty`` if tracked code has uncommitted changes; ``unknown`` outside git."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        excludes = [f":(exclude){p}" for p in NOT_CODE]
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".", *excludes)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def script_line(argv: list[str] | None = None) -> str:
    """The command line that ran this script, with the script path relative to the repository."""
    argv = list(sys.argv if argv is None else argv)
    script = Path(argv[0]).resolve() if argv else Path("?")
    try:
        shown = str(script.relative_to(ROOT))
    except ValueError:
        shown = str(argv[0]) if argv else "?"
    return " ".join(["python", shown, *map(shlex.quote, argv[1:])])


def make_command(name: str, script: str) -> str | None:
    """``make <target>`` when ``script`` is exactly the line that target runs, else None."""
    target = TARGETS.get(name)
    if target is None:
        return None
    try:
        makefile = (ROOT / "Makefile").read_text()
    except OSError:
        return None
    recipe = re.search(rf"^{re.escape(target)}:.*\n\t\$\(BIN\)/(python .*)$", makefile, re.M)
    return f"make {target}" if recipe and recipe.group(1).strip() == script else None


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def meta(name: str, argv: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    """The ``meta`` block of benchmark ``name`` run now by ``argv`` (default ``sys.argv``).

    ``wall_seconds`` is the time since the process started.
    """
    script = script_line(argv)
    return {
        "benchmark": name,
        "commit": git_commit(),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": {"make": make_command(name, script), "script": script},
        "python": platform.python_version(),
        "torch": _version("torch"),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "wall_seconds": round(_seconds_since_start(), 1),
        **extra,
    }


def write_result(path: Path, name: str, payload: dict[str, Any], **extra: Any) -> None:
    """Write ``{"meta": meta(name, **extra), **payload}`` as JSON to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    block = meta(name, **extra)
    path.write_text(json.dumps({"meta": block, **payload}, indent=2, default=str) + "\n")
    print(f"json: {path}")


def marked(text: str, begin: str, end: str) -> str:
    """The text between the markers ``begin`` and ``end`` in ``text`` (stripped), or ``""``
    without them (the tables a test regenerates itself: ``nir_peers``, ``energy_example``)."""
    if begin not in text or end not in text:
        return ""
    return text.split(begin, 1)[1].split(end, 1)[0].strip()


def rewrite_marked(doc: Path, begin: str, end: str, body: str) -> bool:
    """Put ``body`` between the markers of ``doc``; True when that changed the file."""
    text = doc.read_text()
    if marked(text, begin, end) == body:
        return False
    head, rest = text.split(begin, 1)
    doc.write_text(f"{head}{begin}\n{body}\n{end}{rest.split(end, 1)[1]}")
    return True
