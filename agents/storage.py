"""Optuna storages from what a user gives: a database URL, a journal file, or nothing (memory).

Both the agents (which write a study) and :mod:`agents.optuna_store` (which reads one) open their
storage here. Messages mask passwords (:func:`describe_storage`).
"""

from __future__ import annotations

import re
import time

import optuna

from agents.errors import AgentError

__all__ = [
    "JOURNAL_SUFFIXES",
    "SCHEMA_RACE_ATTEMPTS",
    "describe_storage",
    "open_storage",
    "with_trial_cache",
]


def with_trial_cache(storage: optuna.storages.BaseStorage) -> optuna.storages.BaseStorage:
    """``storage`` as an ``optuna.Study`` uses it: a database storage behind Optuna's cache of
    finished trials (read once, never changed again), other storages as they are.

    Without it, reading every trial of a database study queries every trial again each time.
    """
    get_storage = getattr(optuna.storages, "get_storage", None)
    if not callable(get_storage):  # pragma: no cover - an Optuna layout change
        return storage
    cached: optuna.storages.BaseStorage = get_storage(storage)
    return cached


def describe_storage(storage: str | optuna.storages.BaseStorage | None) -> str:
    """A storage as a user may see it in a message (password masked)."""
    if storage is None:
        return "memory"
    if isinstance(storage, str):
        return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", storage)
    return type(storage).__name__


#: Opening attempts when processes race to create a new database's tables.
SCHEMA_RACE_ATTEMPTS = 6
_SCHEMA_RACE = ("UniqueViolation", "already exists", "database is locked", "duplicate key")
#: File suffixes that name an Optuna journal file (``JournalStorage``) instead of a database URL.
JOURNAL_SUFFIXES = (".log", ".journal", ".jsonl")


def open_storage(
    storage: str | optuna.storages.BaseStorage | None,
) -> optuna.storages.BaseStorage:
    """An Optuna storage from what a user gives.

    * ``None``: in memory;
    * a database URL (``sqlite:////abs/study.db``, ``postgresql://user@host:5432/db``, any
      SQLAlchemy URL): ``RDBStorage``;
    * a file path ending in ``.log``, ``.journal`` or ``.jsonl`` (or ``journal:PATH``): a
      ``JournalStorage`` on that file, which several processes may append to at once;
    * a storage object: itself.

    Raises:
        AgentError: a URL or file that cannot be opened (the message masks passwords).
    """
    if storage is None:
        return optuna.storages.InMemoryStorage()
    if not isinstance(storage, str):
        return storage
    path = storage.removeprefix("journal:")
    if storage.startswith("journal:") or ("://" not in storage and path.endswith(JOURNAL_SUFFIXES)):
        from optuna.storages.journal import JournalFileBackend

        try:
            return optuna.storages.JournalStorage(JournalFileBackend(path))
        except OSError as error:
            raise AgentError(f"cannot open journal file {path}: {error}") from error
    if "://" not in storage:
        raise AgentError(
            f"storage {storage!r} is neither a database URL (sqlite:///..., postgresql://...) "
            f"nor a journal file ({', '.join(JOURNAL_SUFFIXES)})"
        )
    url = _with_driver(storage)
    for attempt in range(SCHEMA_RACE_ATTEMPTS):
        try:
            return optuna.storages.RDBStorage(url)
        except ImportError as error:
            raise AgentError(
                f"cannot open storage {describe_storage(storage)}: its database driver is not installed "
                "(PostgreSQL: pip install -c constraints.txt -e '.[cluster]')"
            ) from error
        except Exception as error:  # sqlalchemy raises several types for a bad URL
            # Several processes opening a new database at once race to create Optuna's tables
            # (PostgreSQL: duplicate pg_type key; SQLite: locked); the loser retries, bounded.
            racing = any(word in str(error) for word in _SCHEMA_RACE)
            if racing and attempt + 1 < SCHEMA_RACE_ATTEMPTS:
                time.sleep(0.5 * (attempt + 1))
                continue
            text = str(error).strip()
            first = text.splitlines()[0] if text else type(error).__name__
            raise AgentError(f"cannot open storage {describe_storage(storage)}: {first}") from error
    raise AssertionError("unreachable")  # pragma: no cover


def _with_driver(url: str) -> str:
    """``postgresql://`` with the driver that is installed.

    SQLAlchemy 2.1 reads a bare ``postgresql://`` as psycopg 3; the ``cluster`` extra installs
    psycopg2 (``psycopg2-binary``). A URL naming its driver (``postgresql+...://``) is kept.
    """
    if not url.startswith("postgresql://"):
        return url
    import importlib.util

    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2"):
        return "postgresql+psycopg2://" + url.removeprefix("postgresql://")
    return url
