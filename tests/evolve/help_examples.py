"""Every example line of every command's ``--help``, and a runner that executes them in order.

Run as a script (``python help_examples.py RESULTS.json``) in a folder :func:`prepare` made, it
executes each
example line as written, in one process (``evolve.cli.main``), with a small budget appended to
the commands that train (:data:`BUDGET`: the example's own flags still parse and apply, a later
``--trials``/``--epochs`` only shortens the run), and writes what each line returned.

Lines that need what a test on one machine must not do are only parsed (:data:`PARSE_ONLY`):
a cluster behind a placeholder address, a server bound beyond the loopback interface or left
serving, a full-size data set trained for minutes. The test checks that list stays short and
that each of its lines parses.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import glob
import io
import json
import re
import shlex
import sys
import time
import traceback
from pathlib import Path

#: Appended to the example lines of commands that train, so that the whole set runs in seconds.
BUDGET = {
    "search": ["--trials", "2", "--epochs", "1", "--no-progress"],
    "continual": ["--trials", "1", "--epochs", "1", "--no-progress"],
    "train": ["--epochs", "1", "--no-progress"],
    "convert": ["--epochs", "1", "--no-progress"],
    "teacher train": ["--epochs", "1", "--no-progress"],
    "ecg": ["--epochs", "2"],
}

#: Parsed, not run: (a fragment of the line, why).
PARSE_ONLY = (
    ("--ray-address HEAD:6379", "a Ray cluster and a PostgreSQL server behind placeholders"),
    ("postgresql://", "a PostgreSQL server behind a placeholder address"),
    ("evolve dashboard", "starts a server that serves until stopped (tests/evolve/test_report.py)"),
    ("--dataset fashion-mnist", "trains on 60,000 images (tests/evolve/test_datasets.py)"),
)


#: The examples' search run ``runs/mine``: one trial of a small space NIR can express.
SPACE = (
    "name: tiny\n"
    "params:\n"
    "  kind: {type: categorical, choices: [mlp], default: mlp}\n"
    "  depth: {type: int, low: 1, high: 1, default: 1}\n"
    "  timesteps: {type: int, low: 2, high: 3, default: 2}\n"
    "layers:\n"
    "  repeat: depth\n"
    "  params:\n"
    "    width: {type: int, low: 16, high: 32, step: 16, default: 32}\n"
    "    neuron: {type: categorical, choices: [if, lif], default: lif}\n"
)


def prepare(folder: Path) -> None:
    """Make ``folder`` what a user's is after the quick start: a search run ``runs/mine`` (and a
    copy under ``shared/runs/``), and the files the examples name (``samples.csv`` and
    ``x.npy``/``y.npy`` of raw digits, ``my_space.yaml``, ``my_net.yaml``, ``my_series.csv``)."""
    import shutil
    import subprocess

    import numpy as np
    import pandas as pd

    from evolve.apps.ecg.records import sktime_excerpt_path
    from evolve.data.datasets import load_dataset

    (folder / "tiny.yaml").write_text(SPACE)
    proc = subprocess.run(
        [sys.executable, "-m", "evolve", "search", "--space", "tiny.yaml", "--study", "mine",
         "--trials", "1", "--epochs", "2", "--constraint", "nir", "--no-progress"],
        cwd=folder, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"the examples' search run failed:\n{proc.stderr[-3000:]}")
    shutil.copytree(folder / "runs" / "mine", folder / "shared" / "runs" / "mine")
    test = load_dataset("digits").test
    raw = (test.x.numpy() * 16).reshape(len(test), -1)  # raw pixel counts, as users hold them
    table = pd.DataFrame(raw, columns=[f"p{i}" for i in range(raw.shape[1])])
    table["label"] = test.y.numpy()
    table.to_csv(folder / "samples.csv", index=False)
    np.save(folder / "x.npy", raw)
    np.save(folder / "y.npy", test.y.numpy())
    (folder / "my_space.yaml").write_text(SPACE.replace("tiny", "my_space"))
    (folder / "my_net.yaml").write_text("kind: mlp\nlayers: [{width: 32}]\ntimesteps: 4\n")
    shutil.copyfile(sktime_excerpt_path(), folder / "my_series.csv")


def examples() -> list[tuple[str, str]]:
    """(command, example line) for every ``evolve ...`` line under ``examples:`` in the help of
    every command, in the order ``evolve --help`` lists the commands."""
    from evolve.cli import _subcommands, make_parser

    found: list[tuple[str, str]] = []

    def collect(name: str, parser: argparse.ArgumentParser) -> None:
        text = parser.epilog or ""
        section = re.split(r"^examples?:$", text, maxsplit=1, flags=re.M)
        if len(section) == 2:
            for line in section[1].splitlines():
                line = line.split("  #", 1)[0].strip()
                if line.startswith("evolve "):
                    found.append((name, line))
        for sub, child in _subcommands(parser).items():
            collect(f"{name} {sub}", child)

    for name, parser in _subcommands(make_parser()).items():
        collect(name, parser)
    return found


def argv_of(line: str) -> list[str]:
    """The arguments of an example line (globs expanded as a shell would), budget appended."""
    words = shlex.split(line)[1:]
    argv = []
    for w in words:
        hits = sorted(glob.glob(w)) if any(c in w for c in "*?[") else []
        argv += hits or [w]
    for command, extra in BUDGET.items():
        if " ".join(argv).startswith(command + " ") or " ".join(argv) == command:
            if "--trial" in argv:  # continuing one trial is no search: it takes no --trials
                extra = [
                    w for a, w in zip(["", *extra], extra, strict=False) if "--trials" not in (a, w)
                ]
            argv += extra
    return argv


def parse_only(line: str) -> str | None:
    """Why ``line`` is only parsed, or None."""
    return next((why for frag, why in PARSE_ONLY if frag in line), None)


def run(line: str) -> dict[str, object]:
    """Run (or only parse) one example line in this process; its exit status and stderr."""
    from evolve.cli import main, make_parser

    err = io.StringIO()
    out = io.StringIO()
    why = parse_only(line)
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        if why is not None:
            try:
                make_parser().parse_args(shlex.split(line)[1:])
                rc = 0
            except SystemExit as e:
                rc = int(e.code or 0)
        else:
            try:
                rc = main(argv_of(line))
            except SystemExit as e:
                rc = int(e.code or 0)
            except Exception:  # a crash is a failed example, reported with its traceback
                traceback.print_exc()
                rc = 1
            finally:
                gc.unfreeze()  # a search freezes what start-up made; the next line starts clean
    return {"line": line, "rc": rc, "parse_only": why, "stderr": err.getvalue()[-2000:]}


if __name__ == "__main__":
    results = []
    for _, line in examples():  # written after every line: a timeout still shows how far it got
        t0 = time.perf_counter()
        results.append({**run(line), "seconds": round(time.perf_counter() - t0, 1)})
        Path(sys.argv[1]).write_text(json.dumps(results, indent=1))
