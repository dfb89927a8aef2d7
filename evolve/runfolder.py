"""The run folder ``runs/<name>/``: created once, logged into, results written atomically."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from loguru import logger


def new_run_dir(root: Path, prefix: str) -> Path:
    """Create ``root/<prefix>-<YYYYmmdd-HHMMSS>[-k]/`` (never reuses an existing folder)."""
    root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for k in range(1000):
        path = root / (f"{prefix}-{stamp}" + (f"-{k}" if k else ""))
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"cannot create a new run folder under {root}")  # pragma: no cover


def configure_logging(run_dir: Path, *, verbose: bool = False) -> int:
    """One loguru sink into ``run_dir/log.txt`` (DEBUG) and warnings (or INFO with -v) on stderr."""
    logger.remove()
    logger.add(sys.stderr, level="INFO" if verbose else "WARNING", format="{level}: {message}")
    return logger.add(run_dir / "log.txt", level="DEBUG", enqueue=False)


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (a crash never leaves half a file)."""
    _atomic_write(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def write_yaml(path: Path, data: Any) -> None:
    """Write YAML atomically."""
    _atomic_write(path, yaml.safe_dump(data, sort_keys=False))


def write_text(path: Path, text: str) -> None:
    """Write a text file atomically, readable as any new file is (the umask decides; mkstemp
    alone would leave it 0600)."""
    _atomic_write(path, text)


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def new_folder(out: Path, *, replace: bool = False) -> Iterator[Path]:
    """Build a new folder ``out`` whole or not at all.

    Yields a temporary folder beside ``out``; when the block ends normally it is moved to
    ``out``, otherwise it is removed. An existing ``out`` is refused (and left untouched), or,
    with ``replace`` (derived output that is regenerated, e.g. explanations in their default
    place), swapped for the new one only once the new one is complete.

    Raises:
        UserError: ``out`` exists and ``replace`` is false.
    """
    from evolve.errors import UserError

    if out.exists() and not replace:
        raise UserError(f"{out} already exists; choose another --out or delete it")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes it 0700; the folder is for anyone to read
    try:
        yield tmp
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.replace(out, old / out.name)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
