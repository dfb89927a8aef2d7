"""A NIR graph back into our modules, as an export folder :func:`evolve.predict` runs.

Reads the chain a NIR export writes (Flatten, Affine/Linear and LIF/IF alternating; see
:func:`snn_models.nir.from_nir`) — ours in any flavour, or another tool's of the same shape, such
as snnTorch's ``export_to_nir`` of a ``Leaky`` network — and writes ``model.pt`` (spec + weights)
and a ``model_card.json`` whose preprocessing comes from the graph's metadata (``input_scale``;
1.0 when absent). A graph without our metadata takes its input shape from its Input node, its
``dt`` from its neurons and its length from ``timesteps``. A node our networks have no
counterpart for is refused by name. The folder is written atomically.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from evolve.errors import UserError, translated
from evolve.export.exporters import data_section, import_extra
from evolve.store.runfolder import new_folder

__all__ = ["NirImport", "import_nir"]


@dataclass(frozen=True)
class NirImport:
    """What :func:`import_nir` wrote.

    Attributes:
        out: The folder created (``model.pt`` and ``model_card.json``).
        nodes: How many nodes the graph has.
        card: The model card written.
    """

    out: Path
    nodes: int
    card: dict[str, Any] = field(default_factory=dict)


def import_nir(
    path: str | Path,
    out: str | Path,
    *,
    timesteps: int | None = None,
    command: str | None = None,
) -> NirImport:
    """Read a NIR graph into our modules and write it as a folder :func:`evolve.predict` runs.

    Args:
        path: A ``.nir`` file (a chain of Flatten, Affine/Linear and LIF/IF nodes whose
            metadata gives ``input_shape``).
        out: The folder to create; it must not exist.
        timesteps: How many steps the network runs; overrides the graph's metadata, and is
            needed for a graph without one (another tool's).
        command: The command recorded in the card (default: this call, written out).

    Returns:
        The folder, the graph's size and the model card.

    Raises:
        UserError: A missing or unreadable file, a graph our modules cannot express (naming the
            node), no ``timesteps`` anywhere, an unusable ``input_shape`` or ``input_scale``,
            ``out`` exists, or the ``export`` extra is missing.

    Example:
        >>> import_nir("exported/model.nir", "imported/").out  # doctest: +SKIP
    """
    import torch

    from evolve.store import checkpoints
    from snn_models.nir import from_nir

    graph_path, target = Path(path), Path(out).resolve()
    with translated():
        nir = import_extra("nir", "import_nir")
        if not graph_path.is_file():
            raise UserError(f"{graph_path}: no such file")
        if target.exists():  # before reading anything; new_folder checks again
            raise UserError(f"{target} already exists; choose another --out or delete it")
        try:
            graph = nir.read(str(graph_path))
        except Exception as e:  # h5py and nir raise many types for a damaged file
            text = " ".join(str(e).split())
            detail = f"{type(e).__name__}: {text[:160]}" if text else type(e).__name__
            raise UserError(f"{graph_path}: not a readable NIR file ({detail})") from None
        model = from_nir(graph, timesteps=timesteps)
        meta = dict(graph.metadata or {})
        spec = model.spec.to_dict()
        shape = meta.get("input_shape")
        if shape is None and isinstance(graph.nodes.get("input"), nir.Input):
            shape = graph.nodes["input"].input_type.get("input")
        try:
            input_shape = [
                int(d) for d in np.asarray(shape if shape is not None else []).reshape(-1)
            ]
        except (TypeError, ValueError):
            input_shape = []
        if not input_shape or min(input_shape) < 1:
            raise UserError(
                f"{graph_path}: its metadata has no input_shape of positive sizes; cannot "
                "rebuild the input"
            )
        try:
            with torch.no_grad():
                n_classes = int(model(torch.zeros(1, *input_shape)).shape[1])
        except RuntimeError:
            raise UserError(
                f"{graph_path}: its metadata input_shape {input_shape} does not fit the graph's "
                "input"
            ) from None
        try:
            scale = float(meta.get("input_scale", 1.0))
        except (TypeError, ValueError):
            scale = math.nan
        if not math.isfinite(scale):
            raise UserError(f"{graph_path}: its metadata input_scale is not a finite number")
        with new_folder(target) as tmp:
            dataset = str(meta.get("dataset", "unknown"))
            checkpoints.write(tmp / "model.pt", model, spec, input_shape, n_classes, dataset)
            card = {
                "imported_from": str(graph_path.resolve()),
                "spec": spec,
                "data": data_section(dataset, input_shape, n_classes, scale),
                "timesteps": spec["timesteps"],
                "nir_metadata": {k: v for k, v in meta.items() if k != "spec"},
                "command": command or f"evolve.import_nir({str(graph_path)!r}, {str(out)!r})",
                "created": time.strftime("%Y-%m-%d %H:%M:%S"),
            }
            (tmp / "model_card.json").write_text(json.dumps(card, indent=2, default=str) + "\n")
    return NirImport(out=target, nodes=len(graph.nodes), card=card)
