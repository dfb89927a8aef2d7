"""The run folder ``runs/<name>/``: created once, logged into, results written atomically."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml


def new_run_dir(root: Path, prefix: str) -> Path:
    """Create ``root/<prefix>-<YYYYmmdd-HHMMSS>[-k]/`` (never reuses an existing folder).

    Raises:
        UserError: ``root`` is a file, or cannot be created.
    """
    from evolve.errors import UserError

    if root.exists() and not root.is_dir():
        raise UserError(f"--out {root} is a file; give a folder for the run folders")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(
            f"--out {root}: cannot create it ({e.strerror}); give another folder"
        ) from None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for k in range(1000):
        path = root / (f"{prefix}-{stamp}" + (f"-{k}" if k else ""))
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"cannot create a new run folder under {root}")  # pragma: no cover


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (a crash never leaves half a file)."""
    write_text(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def write_yaml(path: Path, data: Any) -> None:
    """Write YAML atomically."""
    write_text(path, yaml.safe_dump(data, sort_keys=False))


def atomic_file(path: Path, write: Callable[[Path], object]) -> None:
    """Create ``path`` whole or not at all: ``write(tmp)`` writes a temporary file beside it,
    which then replaces ``path`` in one step (a crash leaves the old file or the new one, never
    half of one). The file gets the mode any new file gets (the umask decides; ``mkstemp`` alone
    would leave it 0600)."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o666 & ~umask)
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    """Write a text file atomically (:func:`atomic_file`), synced to disk before it replaces
    the old one."""

    def write(tmp: Path) -> None:
        with tmp.open("w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())

    atomic_file(path, write)


def read_yaml(path: Path, fix: str) -> Any:
    """A YAML file, read with the safe loader; every way it can be unreadable is one
    :class:`~evolve.errors.UserError` naming the file (and line) and ending with ``fix``.

    Never builds Python objects from tags (``!!python/...`` is refused), and a file nested too
    deeply for PyYAML's recursive composer, or holding a number too long for Python to read, is
    refused rather than crashing.
    """
    from evolve.errors import UserError

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: no such file; {fix}") from None
    except IsADirectoryError:
        raise UserError(f"{path} is a folder, not a YAML file; {fix}") from None
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not UTF-8 text ({e.reason}); {fix}") from None
    except OSError as e:
        raise UserError(f"{path}: cannot read it ({e.strerror}); {fix}") from None
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        what = " ".join(str(e.problem or e.context or "invalid").split())
        raise UserError(f"{where}: invalid YAML ({what}); {fix}") from None
    except yaml.YAMLError as e:
        raise UserError(f"{path}: invalid YAML ({' '.join(str(e).split())}); {fix}") from None
    except RecursionError:
        raise UserError(f"{path}: nested too deeply to read; {fix}") from None
    except (ValueError, OverflowError):  # an int of more digits than Python converts
        raise UserError(f"{path}: holds a number too long to read; {fix}") from None


def read_run_config(run_dir: Path) -> dict[str, Any]:
    """The ``config.yaml`` of a search run folder, as a mapping with a ``storage`` URL.

    Raises:
        UserError: no config.yaml (not a run folder), or one that is unreadable, not a mapping,
            or records no storage.
    """
    from evolve.errors import UserError

    path = run_dir / "config.yaml"
    if not path.is_file():
        raise UserError(
            f"{run_dir} is not a search run folder (no config.yaml); list runs with `ls runs/`"
        )
    damaged = "the run folder is damaged; restore its config.yaml or start a new study"
    cfg = read_yaml(path, damaged)
    if not isinstance(cfg, dict):
        raise UserError(f"{path}: expected a mapping of run settings; {damaged}")
    if not isinstance(cfg.get("storage"), str) or not cfg["storage"]:
        raise UserError(f"{path}: records no storage URL; {damaged}")
    return cfg


#: The first bytes of every SQLite 3 database file.
_SQLITE_HEADER = b"SQLite format 3\x00"


def check_sqlite_storage(url: str, *, must_exist: bool) -> None:
    """Refuse an ``sqlite:///`` storage that is not (or cannot become) an Optuna database,
    before Optuna opens it: SQLAlchemy creates a missing file, and Optuna adds its tables to
    any SQLite database it is given, so both would change files the user did not mean to.

    Other URLs (journal files, PostgreSQL) pass unchecked: their backends say what is wrong.

    Args:
        url: the storage URL.
        must_exist: refuse a file that does not exist (reading a study); a new search may
            create it.

    Raises:
        UserError: a missing file (with ``must_exist``), a folder, a file that is not an SQLite
            database, or one holding tables but none of Optuna's.
    """
    import sqlite3

    from evolve.errors import UserError

    if not url.startswith("sqlite:///"):
        return
    path = Path(url.removeprefix("sqlite:///").split("?", 1)[0])
    if not path.exists():
        if must_exist:
            raise UserError(f"--storage {url}: no such database file {path}; check the path")
        return
    if not path.is_file():
        raise UserError(f"--storage {url}: {path} is a folder; give a database file")
    with path.open("rb") as f:
        header = f.read(len(_SQLITE_HEADER))
    if header == b"" and not must_exist:
        return  # an empty file is an empty SQLite database
    if header != _SQLITE_HEADER:
        raise UserError(f"--storage {url}: {path} is not a database (not SQLite); check the path")
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    except sqlite3.Error:
        return  # e.g. a hot journal a read-only look cannot replay: Optuna's own open decides
    if tables and "studies" not in tables:
        shown = ", ".join(sorted(tables)[:3])
        raise UserError(
            f"--storage {url}: {path} is not an Optuna database (it holds {shown}); "
            "give an Optuna study database or a new file"
        )


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
    made = [p for p in (out.parent, *out.parent.parents) if not p.exists()]
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(
            f"{out}: cannot create its folder ({e.strerror}); choose another --out"
        ) from None
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
        for folder in made:  # the folders made for it, innermost first, if still empty
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
