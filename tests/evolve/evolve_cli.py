"""Run the real `evolve` console entry point in a subprocess, as a user would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def evolve(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "evolve", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
