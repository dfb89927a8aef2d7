"""optuna-dashboard on a run's study (``evolve dashboard``), on loopback by default."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from evolve.errors import UserError

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "dashboard", "storage_of"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


def storage_of(run_dir: str | Path | None, storage: str | None) -> str:
    """The storage a run folder records, or the one given (exactly one of the two).

    Raises:
        UserError: neither or both given, or a run folder without a readable config.yaml.
    """
    if (run_dir is None) == (storage is None):
        raise UserError("give run_dir (a run folder) or storage (a storage URL)")
    if storage is not None:
        return storage
    assert run_dir is not None
    from evolve.store.runfolder import read_run_config

    recorded: str = read_run_config(Path(run_dir))["storage"]
    return recorded


def dashboard(
    run_dir: str | Path | None = None,
    *,
    storage: str | None = None,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve optuna-dashboard on a run's Optuna storage until interrupted (Ctrl-C).

    The dashboard shows the Pareto front, every trial with its parameters and attributes,
    hypervolume and parameter plots, live while the search runs. It needs the ``dashboard``
    extra (``pip install -e '.[dashboard]'``).

    Args:
        run_dir: A run folder (its recorded storage is served).
        storage: A storage URL or journal file instead of a run folder.
        host: The address to bind; the default serves this machine only.
        port: The port, 1-65535.
        on_ready: Called with the dashboard's address just before serving starts.

    Raises:
        UserError: a bad port, neither or both of ``run_dir`` and ``storage``, a run folder or
            storage that cannot be read, optuna-dashboard not installed, or an address that
            cannot be served.
    """
    if not 0 < port < 65536:
        raise UserError(f"port must be 1-65535, got {port}")
    url = storage_of(run_dir, storage)
    try:
        import optuna_dashboard
    except ImportError:
        raise UserError(
            "optuna-dashboard is not installed; install the extra: "
            ".venv/bin/pip install -c constraints.txt -e '.[dashboard]'"
        ) from None
    from agents import open_storage
    from evolve.store.runfolder import check_sqlite_storage

    check_sqlite_storage(url, must_exist=True)  # SQLAlchemy would create a missing file
    backend = open_storage(url)
    if on_ready is not None:
        on_ready(f"http://{host}:{port}/dashboard/")
    try:
        optuna_dashboard.run_server(backend, host=host, port=port)
    except OSError as e:
        raise UserError(
            f"cannot serve on {host}:{port}: {e.strerror or e}; try another port"
        ) from None
