"""The docs table "which tools run our NIR files with identical spikes", from its JSON.

``tests/interop/test_nir_peers.py`` measures every reader (each tool's own importer, run on the
same inputs for T steps, spikes compared layer by layer) and writes
``benchmarks/results/nir_peers.json`` (with the usual ``meta`` block, only when the measurement
changed); :func:`render` turns that into the Markdown table kept in ``docs/export.md`` between
the ``<!-- nir-peers:begin -->`` and ``<!-- nir-peers:end -->`` markers, and the test fails when
the doc's table differs. Measure again and rewrite the doc's table with::

    .venv/bin/python benchmarks/nir_peers.py
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import meta

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "nir_peers.json"
DOC = ROOT / "docs" / "export.md"
BEGIN, END = "<!-- nir-peers:begin -->", "<!-- nir-peers:end -->"
#: The columns: MLPs with IF, LIF and mixed hidden layers, and a small CNN (LIF then IF).
NETWORKS = ("IF", "LIF", "IF+LIF", "CNN")


def render(results: dict[str, Any]) -> str:
    """The Markdown table of ``results`` (the JSON the peer test writes): one row per reader and
    file flavour, one column per network."""
    lines = [
        "| reader (its own importer) | version | file written with | "
        + " | ".join(NETWORKS)
        + " |",
        "|---|---|---|" + "---|" * len(NETWORKS),
    ]
    for row in results["rows"]:
        cells = [row["results"].get(n, "not measured") for n in NETWORKS]
        lines.append(
            f"| {row['reader']} | {row['version']} | {row['file']} | " + " | ".join(cells) + " |"
        )
    lines.append("")
    lines.append(
        f"Measured by `{results['command']}` on {results['samples']} digits test samples, "
        f'T = {results["timesteps"]} steps; "identical": every layer\'s spikes equal ours at '
        "every step. The MLPs are sampled from `hybrid_neuron` under `--constraint nir`; the CNN "
        "(two 3×3 convolutions, LIF then IF, no pooling) is built directly, since max pooling "
        "has no NIR node. A graph with a Flatten node runs one sample at a time in these readers "
        "(their Flatten flattens the batch); one whose Input is declared flat runs batched."
    )
    return "\n".join(lines)


def doc_table(text: str) -> str:
    """The text between the markers in ``text`` (stripped), or ``""`` without markers."""
    return meta.marked(text, BEGIN, END)


def save(payload: dict[str, Any], path: Path = RESULTS) -> bool:
    """Write ``payload`` with a fresh ``meta`` block to ``path`` unless the file already holds
    the same measurement (so that re-running the tests changes no file); True if written."""
    if path.exists():
        old = json.loads(path.read_text())
        old.pop("meta", None)
        if old == json.loads(json.dumps(payload)):
            return False
    argv = [str(Path(__file__).resolve())]
    path.parent.mkdir(parents=True, exist_ok=True)
    block = meta.meta("nir_peers", argv=argv, measured_by=payload.get("command"))
    path.write_text(json.dumps({"meta": block, **payload}, indent=2) + "\n")
    return True


def rewrite(doc: Path = DOC, results: Path = RESULTS) -> bool:
    """Put the table rendered from ``results`` between the markers of ``doc``; True if changed."""
    return meta.rewrite_marked(doc, BEGIN, END, render(json.loads(results.read_text())))


def main() -> int:
    """Measure (the peer test writes the JSON), then rewrite the doc's table from it."""
    test = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/interop/test_nir_peers.py"]
    subprocess.run([sys.executable, *test, "-k", "not docs_table"], cwd=ROOT, check=True)
    changed = rewrite()
    print(f"{DOC.relative_to(ROOT)}: {'rewritten' if changed else 'already up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
