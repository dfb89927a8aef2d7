"""Optuna storages from what a user gives: a database URL, a journal file, or nothing (memory).

Both the agents (which write a study) and :mod:`agents.optuna_store` (which reads one) open their
storage here. Messages mask passwords (:func:`describe_storage`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

import optuna

from agents.errors import AgentError

__all__ = [
    "JOURNAL_SUFFIXES",
    "SCHEMA_RACE_ATTEMPTS",
    "close_storage",
    "describe_storage",
    "open_storage",
    "set_user_attrs",
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


def set_user_attrs(trial: optuna.Trial, attrs: Mapping[str, Any]) -> None:
    """Sets every user attribute of ``attrs`` on a running ``trial``, in one commit where it can.

    ``Trial.set_user_attr`` commits once per key, and a finished trial carries about 35
    attributes: on a database storage those commits were most of the engine's own time per
    trial. On an ``RDBStorage`` (behind Optuna's cache or not) the rows are written in one
    transaction instead: the trial checked updatable as Optuna checks it, the keys' old rows
    deleted and the new ones inserted (``value_json`` = ``json.dumps(value)``, as Optuna writes
    it), so a reader sees exactly what ``set_user_attr`` per key would have left. Any other
    storage, or an Optuna without those internals, gets ``set_user_attr`` per key.
    """
    if not attrs:
        return
    backend = getattr(trial.storage, "_backend", trial.storage)
    session_of = getattr(backend, "scoped_session", None)
    trial_id = getattr(trial, "_trial_id", None)
    cached = getattr(getattr(trial, "_cached_frozen_trial", None), "user_attrs", None)
    if (
        isinstance(backend, optuna.storages.RDBStorage)
        and session_of is not None
        and isinstance(trial_id, int)
        and isinstance(cached, dict)
    ):
        try:
            from optuna.storages._rdb import models
            from optuna.storages._rdb.storage import _create_scoped_session
        except ImportError:  # pragma: no cover - an Optuna layout change
            pass
        else:
            import json

            import sqlalchemy

            table = models.TrialUserAttributeModel
            rows = [
                {"trial_id": trial_id, "key": key, "value_json": json.dumps(value)}
                for key, value in attrs.items()
            ]
            with _create_scoped_session(session_of) as session:
                state = models.TrialModel.find_or_raise_by_id(trial_id, session).state
                backend.check_trial_is_updatable(trial_id, state)
                session.execute(
                    sqlalchemy.delete(table).where(
                        table.trial_id == trial_id, table.key.in_(list(attrs))
                    )
                )
                session.execute(sqlalchemy.insert(table), rows)
            cached.update(attrs)
            return
    for key, value in attrs.items():
        trial.set_user_attr(key, value)


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
    *,
    writer: bool = False,
) -> optuna.storages.BaseStorage:
    """An Optuna storage from what a user gives.

    ``writer``: the storage of a process that runs trials; an SQLite database then writes
    through its write-ahead log until :func:`close_storage` (see :func:`_sqlite_tuned`).

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
            opened = optuna.storages.RDBStorage(url)
            return _sqlite_tuned(opened) if writer else opened
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


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _sqlite_tuned(storage: optuna.storages.RDBStorage) -> optuna.storages.RDBStorage:
    """A writer's SQLite storage whose commits cost a fraction of a millisecond, not an
    ``fsync`` each.

    Every connection after the first (which created the tables) sets the write-ahead log
    (``journal_mode=WAL``) and ``synchronous=NORMAL``: a crash of the process loses nothing, a
    power cut may lose the last commits but never corrupts the file (SQLite's documented
    guarantee for that pair), and readers never block the writer. A trial makes some twenty
    commits (its parameters, curve and record), so with the default (``FULL``, one ``fsync``
    each) they were close to half of the engine's own time per trial. :func:`close_storage`
    puts the file back in the default rollback-journal mode, so a finished run is one file
    (``study.db``) again. Other databases are left as they are.
    """
    engine = storage.engine
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return storage
    import sqlalchemy

    sqlalchemy.event.listen(engine, "connect", _tune_sqlite)
    engine.dispose()  # the connection that created the tables predates the listener
    return storage


def close_storage(storage: optuna.storages.BaseStorage) -> None:
    """Closes a storage's database connections; an SQLite file a writer opened goes back to
    the rollback journal (its write-ahead log folded in and removed).

    When another process still has the file open (``join``), the switch is left to the last
    one to close (SQLite refuses it while others read). Idempotent; other storages: a no-op.
    """
    backend = getattr(storage, "_backend", storage)
    if not isinstance(backend, optuna.storages.RDBStorage):
        return
    import sqlalchemy

    engine = backend.engine
    if sqlalchemy.event.contains(engine, "connect", _tune_sqlite):
        sqlalchemy.event.remove(engine, "connect", _tune_sqlite)
        engine.dispose()
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA journal_mode=DELETE")
        except sqlalchemy.exc.OperationalError:  # another process has it open: it will
            pass
    engine.dispose()


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
