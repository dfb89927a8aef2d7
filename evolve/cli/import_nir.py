"""``evolve import-nir``: a NIR graph back into our modules, as a folder `evolve predict` runs.

Reads the chain a NIR export writes (Flatten, Affine/Linear and LIF/IF alternating; see
:func:`snn_models.nir.from_nir`) — ours, or another tool's of the same shape — and writes
``model.pt`` (spec + weights) and a ``model_card.json`` whose preprocessing comes from the
graph's metadata (``input_scale``; 1.0 when absent). The folder is written atomically. The work
is :func:`evolve.export.import_nir.import_nir`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import-nir",
        help="read a NIR graph back into a spiking network (for evolve predict)",
        description=__doc__.split("\n\n", 1)[0] if __doc__ else None,
        epilog=(
            "example:\n"
            "  evolve import-nir runs/mine/exports/trial_0/model.nir --out imported/\n"
            "  evolve predict --model imported/ --input samples.csv"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("graph", type=Path, help="a .nir file")
    p.add_argument("--out", type=Path, required=True, help="folder to create")
    p.add_argument(
        "--timesteps",
        type=int,
        help="steps to run (overrides the graph's metadata; needed for a graph without one, "
        "e.g. one written by snnTorch's exporter)",
    )
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from evolve.export.import_nir import import_nir

    result = import_nir(
        a.graph, a.out, timesteps=a.timesteps, command="evolve " + " ".join(sys.argv[1:])
    )
    print(f"imported {a.graph} ({result.nodes} nodes) into {result.out}")
    return 0


__all__ = ["add_parser", "run"]
