"""Real servers for tests, on 127.0.0.1, started and stopped by the test that needs them.

Each helper is a context manager with a bounded start-up wait and a stop in ``finally``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from agents.ray_backend import RAY_ENV as _RAY

#: What Ray needs on these machines, for `ray start` and every driver.
RAY_ENV = {**os.environ, **_RAY}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: object, timeout: float, what: str, interval: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(interval)
    raise TimeoutError(f"{what} not ready within {timeout:.0f} s")


def pids_whose_command_starts_with(prefix: str) -> list[int]:
    """Processes (Linux /proc) whose command line starts with ``prefix``, e.g. Ray workers."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cmd.startswith(prefix):
            found.append(int(entry.name))
    return found


def _ray_cli() -> str:
    return str(Path(sys.executable).parent / "ray")


@contextlib.contextmanager
def ray_head(num_cpus: int = 2) -> Iterator[str]:
    """`ray start --head` on 127.0.0.1 (a short temp dir: Ray's socket paths are length-capped);
    yields ``HOST:PORT``; `ray stop --force` afterwards, even on failure."""
    port = free_port()
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    try:
        subprocess.run(
            [
                _ray_cli(),
                "start",
                "--head",
                f"--port={port}",
                "--node-ip-address=127.0.0.1",
                f"--num-cpus={num_cpus}",
                "--num-gpus=0",
                "--include-dashboard=false",
                "--disable-usage-stats",
                f"--temp-dir={temp}",
            ],
            env=RAY_ENV,
            check=True,
            capture_output=True,
            timeout=180,
        )
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run(
            [_ray_cli(), "stop", "--force"], env=RAY_ENV, capture_output=True, timeout=180
        )
        shutil.rmtree(temp, ignore_errors=True)


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for version in ("17", "16", "15", "14"):
        candidate = Path(f"/usr/lib/postgresql/{version}/bin/{name}")
        if candidate.exists():
            return str(candidate)
    raise FileNotFoundError(f"PostgreSQL's {name} is not installed (apt-get install postgresql)")


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """A throw-away PostgreSQL server (initdb + pg_ctl in a temp dir, trust auth, 127.0.0.1).

    PostgreSQL refuses to run as root: as root it runs as the ``postgres`` user. Yields the URL
    ``postgresql://postgres@127.0.0.1:PORT/postgres``; stops the server and removes its data.
    """
    port = free_port()
    data = Path(tempfile.mkdtemp(prefix="pg", dir="/tmp"))
    as_root = os.geteuid() == 0

    def run(args: list[str]) -> None:
        if as_root:
            command = " ".join(f"'{a}'" for a in args)
            args = ["su", "postgres", "-s", "/bin/bash", "-c", command]
        subprocess.run(args, check=True, capture_output=True, timeout=120)

    if as_root:
        shutil.chown(data, "postgres", "postgres")
    pg_ctl = _pg_bin("pg_ctl")
    try:
        run([_pg_bin("initdb"), "-D", str(data / "db"), "-A", "trust", "-U", "postgres"])
        options = f"-p {port} -c listen_addresses=127.0.0.1 -k {data}"
        run([pg_ctl, "-D", str(data / "db"), "-o", options, "-l", str(data / "log"), "-w", "start"])
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            run([pg_ctl, "-D", str(data / "db"), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(data, ignore_errors=True)


@contextlib.contextmanager
def dashboard(run_dir: Path, cwd: Path) -> Iterator[str]:
    """`evolve dashboard RUN --port P` (127.0.0.1); yields the base URL once it answers."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "evolve", "dashboard", str(run_dir), "--port", str(port)],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"evolve dashboard exited with {proc.returncode}: {err}")
        try:
            with urllib.request.urlopen(f"{base}/api/studies", timeout=5) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    try:
        wait_until(up, 90, "optuna-dashboard")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
