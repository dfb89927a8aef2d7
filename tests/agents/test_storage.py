"""The storage helpers: one-commit attribute writes equal to Optuna's own per-key writes, and
a writer's SQLite file back to one file (rollback journal) once closed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import optuna
import pytest

from agents.storage import close_storage, open_storage, set_user_attrs

ATTRS = {
    "energy_uj": 1.25,
    "spikes": {"layer.0": [1, 2, 3]},
    "arch": {"kind": "mlp", "layer.0.width": 32},
    "note": "a string",
    "flag": True,
    "nothing": None,
}


def _stored(storage: optuna.storages.BaseStorage, name: str) -> list[dict[str, object]]:
    study = optuna.load_study(study_name=name, storage=storage)
    return [dict(t.user_attrs) for t in study.get_trials(deepcopy=False)]


@pytest.mark.parametrize("kind", ["sqlite", "memory"])
def test_set_user_attrs_stores_what_set_user_attr_stores(tmp_path: Path, kind: str) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}" if kind == "sqlite" else None
    storage = open_storage(url, writer=True)
    for name, per_key in (("batched", False), ("per_key", True)):
        study = optuna.create_study(study_name=name, storage=storage)
        trial = study.ask()
        trial.set_user_attr("energy_uj", -1.0)  # an existing key is replaced
        if per_key:
            for k, v in ATTRS.items():
                trial.set_user_attr(k, v)
        else:
            set_user_attrs(trial, ATTRS)
        assert trial.user_attrs == ATTRS  # the live trial's own view too
        study.tell(trial, 0.5)
    assert _stored(storage, "batched") == _stored(storage, "per_key") == [ATTRS]
    if kind == "sqlite":  # and a fresh reader of the file sees the same
        reader = open_storage(url)
        assert _stored(reader, "batched") == [ATTRS]
        close_storage(reader)
    close_storage(storage)


def test_set_user_attrs_refuses_a_finished_trial(tmp_path: Path) -> None:
    storage = open_storage(f"sqlite:///{tmp_path / 'a.db'}", writer=True)
    study = optuna.create_study(study_name="s", storage=storage)
    trial = study.ask()
    study.tell(trial, 0.5)
    with pytest.raises(RuntimeError, match="finished"):
        set_user_attrs(trial, {"late": 1})
    assert _stored(storage, "s") == [{}]
    close_storage(storage)


def _journal_mode(path: Path) -> str:
    connection = sqlite3.connect(path)
    try:
        return str(connection.execute("PRAGMA journal_mode").fetchone()[0])
    finally:
        connection.close()


def test_a_writers_sqlite_file_is_one_file_again_after_close(tmp_path: Path) -> None:
    path = tmp_path / "study.db"
    storage = open_storage(f"sqlite:///{path}", writer=True)
    study = optuna.create_study(study_name="s", storage=storage)
    study.tell(study.ask(), 0.5)
    assert _journal_mode(path) == "wal"  # while it writes: the write-ahead log beside it
    assert (tmp_path / "study.db-wal").exists()
    close_storage(storage)
    assert _journal_mode(path) == "delete"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.db"]
    close_storage(storage)  # idempotent
    reader = open_storage(f"sqlite:///{path}")  # a reader leaves the mode alone
    assert len(_stored(reader, "s")) == 1
    close_storage(reader)
    assert _journal_mode(path) == "delete"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.db"]


def test_another_connection_keeps_the_log_until_the_last_writer_closes(tmp_path: Path) -> None:
    """``join``: a second process still has the file open, so the first leaves the mode."""
    path = tmp_path / "study.db"
    first = open_storage(f"sqlite:///{path}", writer=True)
    optuna.create_study(study_name="s", storage=first).tell(
        optuna.load_study(study_name="s", storage=first).ask(), 0.5
    )
    second = open_storage(f"sqlite:///{path}", writer=True)
    assert len(_stored(second, "s")) == 1  # holds a connection
    close_storage(first)  # refused by SQLite while the second reads: left to it
    assert _journal_mode(path) == "wal"
    close_storage(second)
    assert _journal_mode(path) == "delete"
