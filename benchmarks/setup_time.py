"""How long the quick start's set-up takes on a clean clone: what ``make search`` installs, what
``make test`` adds (the dev tools, then the Debian packages its tests use).

Clones this repository (its committed HEAD) into a temporary folder and times, in a new venv,
``make .venv/.installed-base`` (= the set-up of ``make search``), ``make .venv/.installed-dev``
and ``make system-deps`` (= what ``make test`` adds before running the suite). pip's download
cache is a new, empty folder unless ``--warm-cache`` is given, so the figures include every
download a first-time user makes (torch itself is the CPU wheel these machines carry on disk).
The Debian packages are timed as they are on this machine: ``system_deps_installed`` in the
JSON says whether they had to be installed.

    .venv/bin/python benchmarks/setup_time.py            # writes benchmarks/results/setup_time.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from meta import default_out, write_result  # noqa: E402


def _size_gb(path: Path) -> float:
    """The size of a folder in GB (du's apparent size)."""
    out = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0]) / 1e9


def _timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    """Run ``cmd``; its wall seconds and the end of its output (it must succeed)."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return seconds, (proc.stdout + proc.stderr)[-2000:]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=default_out("setup_time"))
    ap.add_argument("--warm-cache", action="store_true", help="use pip's own download cache")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="setup-time-") as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        env = dict(os.environ)
        env.pop("VIRTUAL_ENV", None)
        if not args.warm_cache:
            env["PIP_CACHE_DIR"] = str(Path(tmp) / "pip-cache")
        base, _ = _timed(["make", ".venv/.installed-base"], clone, env)
        base_gb = _size_gb(clone / ".venv")
        dev, _ = _timed(["make", ".venv/.installed-dev"], clone, env)
        dev_gb = _size_gb(clone / ".venv")
        sys_s, said = _timed(["make", "system-deps"], clone, env)
        shutil.rmtree(clone / ".venv")
    result = {
        "pip_cache": "warm" if args.warm_cache else "empty",
        "search_setup_seconds": round(base, 1),
        "search_venv_gb": round(base_gb, 2),
        "test_dev_tools_seconds": round(dev, 1),
        "test_venv_gb": round(dev_gb, 2),
        "system_deps_seconds": round(sys_s, 1),
        "system_deps_installed": "installing Debian packages" in said,
    }
    write_result(args.out, "setup_time", result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
