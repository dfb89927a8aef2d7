"""``evolve dashboard``: optuna-dashboard on a run's study, on loopback by default (see
:func:`evolve.report.dashboard.dashboard`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from evolve.errors import UserError
from evolve.report.dashboard import DEFAULT_HOST, DEFAULT_PORT, dashboard


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


def run(a: argparse.Namespace) -> int:
    if not 0 < a.port < 65536:
        raise UserError(f"--port must be 1-65535, got {a.port}")
    if (a.run is None) == (a.storage is None):
        raise UserError("give a run folder (evolve dashboard runs/<study>) or --storage URL")

    def ready(address: str) -> None:
        print(f"optuna-dashboard on {address} (Ctrl-C to stop)", flush=True)

    try:
        dashboard(a.run, storage=a.storage, host=a.host, port=a.port, on_ready=ready)
    except UserError as e:  # the library names its keywords; the command line its flags
        raise type(e)(str(e).replace("; try another port", "; try another --port")) from e
    return 0


__all__ = ["add_parser", "run"]
