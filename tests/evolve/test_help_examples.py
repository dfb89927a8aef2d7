"""Every example in every command's ``--help`` runs as written (issue 17).

A folder is prepared as a user's would be after the quick start (``help_examples.prepare``: a
search run ``runs/mine`` of one NIR-expressible trial and the files the examples name), then
``help_examples.py`` executes every example line in the order ``evolve --help`` lists the
commands, each on what the earlier lines made (a teacher before the conversion that reads it, an
export before the prediction). See that module for the small budget appended to training
commands and the few lines that are only parsed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from help_examples import PARSE_ONLY, examples, prepare


def test_every_command_shows_examples() -> None:
    from evolve.cli import _subcommands, make_parser

    assert {c.split()[0] for c, _ in examples()} == set(_subcommands(make_parser()))


def test_every_help_example_runs_as_written(tmp_path: Path) -> None:
    prepare(tmp_path)
    out = tmp_path / "results.json"
    runner = Path(__file__).with_name("help_examples.py")
    proc = subprocess.run(
        [sys.executable, str(runner), str(out)],
        cwd=tmp_path, capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(out.read_text())
    assert [r["line"] for r in results] == [line for _, line in examples()]
    failed = [f"{r['line']}\n  -> exit {r['rc']}: {r['stderr'][-600:]}" for r in results if r["rc"]]
    assert not failed, "\n".join(failed)
    # most examples really run; the few only parsed are the ones PARSE_ONLY names
    parsed = [r for r in results if r["parse_only"]]
    assert len(results) >= 40 and len(parsed) <= 10, [r["line"] for r in parsed]
    assert all(any(f in r["line"] for f, _ in PARSE_ONLY) for r in parsed)
    # what the lines made is there: the exports, the prediction, the report, the train export
    assert (tmp_path / "runs" / "mine" / "exports" / "trial_0" / "model.nir").is_file()
    assert (tmp_path / "preds.csv").is_file() and (tmp_path / "mine.html").is_file()
    assert list((tmp_path / "runs").glob("train-digits-*/exports/model/model_card.json"))
