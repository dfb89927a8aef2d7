"""``evolve dashboard``: optuna-dashboard on a run's study, on loopback by default."""

from __future__ import annotations

import argparse
from pathlib import Path

from evolve.errors import UserError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "dashboard",
        help="browse a study live in optuna-dashboard (needs the `dashboard` extra)",
        description=(
            "Serve optuna-dashboard on a run's Optuna storage: the Pareto front, every trial "
            "with its parameters and attributes, hypervolume and parameter plots, live while "
            "the search runs. Binds to 127.0.0.1 unless --host says otherwise. Stop with Ctrl-C."
        ),
        epilog=(
            "examples:\n"
            "  evolve dashboard runs/mine\n"
            "  evolve dashboard --storage postgresql://evolve@db:5432/studies --port 8081\n"
            "  evolve dashboard runs/mine --host 0.0.0.0   # reachable from other machines"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run", nargs="?", type=Path, help="a run folder (runs/<study>)")
    p.add_argument("--storage", help="an Optuna storage URL or journal file instead of a run")
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    p.set_defaults(func=run)


def storage_of(run: Path | None, storage: str | None) -> str:
    """The storage a run folder records, or the one given (exactly one of the two)."""
    if (run is None) == (storage is None):
        raise UserError("give a run folder (evolve dashboard runs/<study>) or --storage URL")
    if storage is not None:
        return storage
    assert run is not None
    from evolve.runfolder import read_run_config

    recorded: str = read_run_config(run)["storage"]
    return recorded


def run(a: argparse.Namespace) -> int:
    if not 0 < a.port < 65536:
        raise UserError(f"--port must be 1-65535, got {a.port}")
    url = storage_of(a.run, a.storage)
    try:
        import optuna_dashboard
    except ImportError:
        raise UserError(
            "optuna-dashboard is not installed; install the extra: "
            ".venv/bin/pip install -c constraints.txt -e '.[dashboard]'"
        ) from None
    from agents import open_storage
    from evolve.runfolder import check_sqlite_storage

    check_sqlite_storage(url, must_exist=True)  # SQLAlchemy would create a missing file
    storage = open_storage(url)
    print(f"optuna-dashboard on http://{a.host}:{a.port}/dashboard/ (Ctrl-C to stop)", flush=True)
    try:
        optuna_dashboard.run_server(storage, host=a.host, port=a.port)
    except OSError as e:
        raise UserError(
            f"cannot serve on {a.host}:{a.port}: {e.strerror or e}; try another --port"
        ) from None
    return 0


__all__ = ["add_parser", "run", "storage_of"]
