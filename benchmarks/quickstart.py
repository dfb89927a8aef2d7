"""The quick start's search, as ``make search`` runs it, timed: the README's output and time.

Runs ``evolve search --space hybrid_attention`` (the default space and budget on digits) in a new
temporary folder, so that its ``runs/`` and teacher cache start empty as on a first run, and
records the wall time, what the command printed and the run's hypervolume. The README's
quick-start output and time are rendered from this file (``benchmarks/render_tables.py``).

    .venv/bin/python benchmarks/quickstart.py      # writes benchmarks/results/quickstart.json
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from meta import default_out, write_result  # noqa: E402

#: The command ``make search`` runs after its set-up.
COMMAND = ["evolve", "search", "--space", "hybrid_attention"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=default_out("quickstart"))
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="quickstart-") as tmp:
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "evolve", *COMMAND[1:], "--no-progress"],
            cwd=tmp,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"the quick-start search failed:\n{proc.stderr[-3000:]}")
    printed = proc.stdout.strip()
    hv = re.search(r"hypervolume ([0-9.]+)", printed)
    counts = re.search(r"(\d+) complete, (\d+) pruned", printed)
    result = {
        "command": " ".join(COMMAND),
        "seconds": round(seconds, 1),
        "printed": printed,
        "hypervolume": float(hv.group(1)) if hv else None,
        "complete": int(counts.group(1)) if counts else None,
        "pruned": int(counts.group(2)) if counts else None,
    }
    write_result(args.out, "quickstart", result)
    print(printed)
    print(f"{seconds:.0f} s")


if __name__ == "__main__":
    main()
