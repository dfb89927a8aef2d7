"""Fixtures for the agent tests: a tiny fake search space and quiet Optuna logging."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from agent_fakes import ToySpace


@pytest.fixture(autouse=True)
def _quiet_optuna() -> Iterator[None]:
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    yield
    optuna.logging.set_verbosity(verbosity)


@pytest.fixture
def space() -> ToySpace:
    return ToySpace()


@pytest.fixture
def storage_url(tmp_path: Path) -> str:
    # tmp_path is absolute, so this has the four slashes SQLite needs for an absolute path.
    return f"sqlite:///{tmp_path}/study.db"
