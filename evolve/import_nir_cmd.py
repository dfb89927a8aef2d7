"""``evolve import-nir``: a NIR graph back into our modules, as a folder `evolve predict` runs.

Reads the chain a NIR export writes (Flatten, Affine/Linear and LIF/IF alternating; see
:func:`snn_models.nir_io.from_nir`) — ours, or another tool's of the same shape — and writes
``model.pt`` (spec + weights) and a ``model_card.json`` whose preprocessing comes from the
graph's metadata (``input_scale``; 1.0 when absent). The folder is written atomically.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from evolve.errors import UserError


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

    try:
        import nir
    except ImportError:
        raise UserError(
            "import-nir needs the `export` extra: .venv/bin/pip install -c constraints.txt "
            "-e '.[export]'"
        ) from None
    from snn_models.nir_io import from_nir

    if not a.graph.is_file():
        raise UserError(f"{a.graph}: no such file")
    out = a.out.resolve()
    if out.exists():
        raise UserError(f"{out} already exists; choose another --out or delete it")
    try:
        graph = nir.read(str(a.graph))
    except Exception as e:  # h5py and nir raise many types for a damaged file
        raise UserError(f"{a.graph}: not a readable NIR file ({type(e).__name__})") from None
    model = from_nir(graph)
    meta = dict(graph.metadata or {})
    spec = model.spec.to_dict()
    input_shape = [int(d) for d in meta.get("input_shape", [])] or None
    if input_shape is None:
        raise UserError(f"{a.graph}: its metadata has no input_shape; cannot rebuild the input")
    with torch.no_grad():
        n_classes = int(model(torch.zeros(1, *input_shape)).shape[1])
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        blob = {
            "format": 1,
            "trial": -1,
            "spec": spec,
            "input_shape": input_shape,
            "n_classes": n_classes,
            "dataset": str(meta.get("dataset", "unknown")),
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        }
        torch.save(blob, tmp / "model.pt")
        card = {
            "imported_from": str(a.graph.resolve()),
            "spec": spec,
            "data": {
                "dataset": blob["dataset"],
                "input_shape": input_shape,
                "n_classes": n_classes,
                "preprocessing": {
                    "input_scale": float(meta.get("input_scale", 1.0)),
                    "rule": "model input = raw values × input_scale, reshaped to input_shape",
                },
            },
            "timesteps": spec["timesteps"],
            "nir_metadata": {k: v for k, v in meta.items() if k != "spec"},
            "command": "evolve " + " ".join(sys.argv[1:]),
            "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        (tmp / "model_card.json").write_text(json.dumps(card, indent=2, default=str) + "\n")
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(f"imported {a.graph} ({len(graph.nodes)} nodes) into {out}")
    return 0


__all__ = ["add_parser", "run"]
