"""Run evolve as a user would: the real `evolve` console entry point in a subprocess, or a tiny
search through the public API in this process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def evolve(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "evolve", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def tiny_search(folder: Path, space_yaml: str, *args: str) -> Path:
    """Write ``space_yaml`` to ``folder/tiny.yaml`` and run ``evolve search`` on it as study
    ``x`` (no progress bar, no early stopping, plus ``args``); returns the run folder."""
    (folder / "tiny.yaml").write_text(space_yaml)
    proc = evolve(
        "search", "--space", "tiny.yaml", "--study", "x", "--no-progress", "--no-early-stop",
        *args, cwd=folder,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return folder / "runs" / "x"


def api_search(space: str, out: Path, trials: int, **kw: Any) -> Any:
    """``evolve.search(space, "digits", ...)`` of ``trials`` one-epoch trials, seed 0, study
    ``p`` under ``out/runs``, hold-out selection, no early stopping, plus ``kw``."""
    import evolve

    return evolve.search(
        space,
        "digits",
        trials=trials,
        epochs=1,
        seed=0,
        study="p",
        out=out / "runs",
        selection="holdout",
        no_early_stop=True,
        **kw,
    )


def evolve_at_once(
    commands: Sequence[Sequence[str]],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> None:
    """Start every ``evolve`` command at the same instant and wait; each must succeed (a
    failure shows the end of its stderr). Nothing is left running."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "evolve", *args],
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for args in commands
    ]
    try:
        errors = [p.communicate(timeout=timeout)[1].decode() for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=60)
    assert [p.returncode for p in procs] == [0] * len(procs), [e[-2000:] for e in errors]
