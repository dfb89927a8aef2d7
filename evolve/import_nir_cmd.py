"""``evolve import-nir``: a NIR graph back into our modules, as a folder `evolve predict` runs.

Reads the chain a NIR export writes (Flatten, Affine/Linear and LIF/IF alternating; see
:func:`snn_models.nir_io.from_nir`) — ours, or another tool's of the same shape — and writes
``model.pt`` (spec + weights) and a ``model_card.json`` whose preprocessing comes from the
graph's metadata (``input_scale``; 1.0 when absent). The folder is written atomically.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from evolve.errors import UserError
from evolve.runfolder import new_folder


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import-nir",
        help="read a NIR graph back into a spiking network (for evolve predict)",
        description=__doc__.split("\n\n", 1)[0] if __doc__ else None,
        epilog=(
            "example:\n"
            "  evolve import-nir runs/mine/exports/trial_3/model.nir --out imported/\n"
            "  evolve predict --model imported/ --input samples.csv"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("graph", type=Path, help="a .nir file")
    p.add_argument("--out", type=Path, required=True, help="folder to create")
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    import torch

    from evolve import checkpoints
    from evolve.export_cmd import data_section, import_extra
    from snn_models.nir_io import from_nir

    nir = import_extra("nir", "import-nir")
    if not a.graph.is_file():
        raise UserError(f"{a.graph}: no such file")
    if a.out.exists():  # before reading anything; new_folder checks again
        raise UserError(f"{a.out.resolve()} already exists; choose another --out or delete it")
    try:
        graph = nir.read(str(a.graph))
    except Exception as e:  # h5py and nir raise many types for a damaged file
        text = " ".join(str(e).split())
        detail = f"{type(e).__name__}: {text[:160]}" if text else type(e).__name__
        raise UserError(f"{a.graph}: not a readable NIR file ({detail})") from None
    model = from_nir(graph)
    meta = dict(graph.metadata or {})
    spec = model.spec.to_dict()
    try:
        input_shape = [int(d) for d in np.asarray(meta.get("input_shape", [])).reshape(-1)]
    except (TypeError, ValueError):
        input_shape = []
    if not input_shape or min(input_shape) < 1:
        raise UserError(
            f"{a.graph}: its metadata has no input_shape of positive sizes; cannot rebuild the input"
        )
    try:
        with torch.no_grad():
            n_classes = int(model(torch.zeros(1, *input_shape)).shape[1])
    except RuntimeError:
        raise UserError(
            f"{a.graph}: its metadata input_shape {input_shape} does not fit the graph's input"
        ) from None
    try:
        scale = float(meta.get("input_scale", 1.0))
    except (TypeError, ValueError):
        scale = math.nan
    if not math.isfinite(scale):
        raise UserError(f"{a.graph}: its metadata input_scale is not a finite number")
    with new_folder(a.out.resolve()) as tmp:
        dataset = str(meta.get("dataset", "unknown"))
        checkpoints.write(tmp / "model.pt", model, spec, input_shape, n_classes, dataset)
        card = {
            "imported_from": str(a.graph.resolve()),
            "spec": spec,
            "data": data_section(dataset, input_shape, n_classes, scale),
            "timesteps": spec["timesteps"],
            "nir_metadata": {k: v for k, v in meta.items() if k != "spec"},
            "command": "evolve " + " ".join(sys.argv[1:]),
            "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        (tmp / "model_card.json").write_text(json.dumps(card, indent=2, default=str) + "\n")
    out = a.out.resolve()
    print(f"imported {a.graph} ({len(graph.nodes)} nodes) into {out}")
    return 0


__all__ = ["add_parser", "run"]
