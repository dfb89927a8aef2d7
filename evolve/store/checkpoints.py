"""Trained weights of a search's trials: ``runs/<study>/checkpoints/trial_<N>.pt``.

Every COMPLETE trial's model is saved when it finishes; after each trial the search deletes the
checkpoints of trials no longer on the Pareto front (:func:`prune`), so the folder holds the
front and nothing else. A checkpoint is a plain dict of tensors, numbers, strings and lists —
loadable with ``torch.load(weights_only=True)``, never executing code from the file:

    {"format": 1, "trial": N, "spec": NetSpec dict, "input_shape": [...], "n_classes": C,
     "dataset": name, "state_dict": {...}}

The spec's ``preprocess`` (:mod:`snn_models.preprocess`) names the model's front; its fitted
statistics are buffers in ``state_dict`` (``preprocess.shift``, ``preprocess.scale``, ...). A
checkpoint written before preprocessing existed has neither and loads with the identity front.

Writes go to a temporary file first and are moved into place, so a crash never leaves half a
checkpoint under the final name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from evolve.errors import UserError
from evolve.store.runfolder import atomic_file

FORMAT = 1
FOLDER = "checkpoints"
_NAME = re.compile(r"^trial_(\d+)\.pt$")


def path_of(run_dir: Path, number: int) -> Path:
    """Where trial ``number``'s checkpoint lives in ``run_dir``."""
    return run_dir / FOLDER / f"trial_{number}.pt"


def write(
    path: Path,
    model: nn.Module,
    spec: Mapping[str, Any],
    input_shape: Sequence[int],
    n_classes: int,
    dataset: str,
    trial: int = -1,
) -> Path:
    """Write a model's weights and the spec to rebuild them to ``path`` (atomically)."""
    blob = {
        "format": FORMAT,
        "trial": int(trial),
        "spec": dict(spec),
        "input_shape": [int(d) for d in input_shape],
        "n_classes": int(n_classes),
        "dataset": str(dataset),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    atomic_file(path, lambda tmp: torch.save(blob, tmp))
    return path


def save(
    run_dir: Path,
    number: int,
    model: nn.Module,
    spec: Mapping[str, Any],
    input_shape: Sequence[int],
    n_classes: int,
    dataset: str,
) -> Path:
    """Write trial ``number``'s checkpoint into ``run_dir`` (see :func:`write`)."""
    (run_dir / FOLDER).mkdir(parents=True, exist_ok=True)
    return write(
        path_of(run_dir, number), model, spec, input_shape, n_classes, dataset, trial=number
    )


def saved_trials(run_dir: Path) -> list[int]:
    """Trial numbers that have a checkpoint, ascending."""
    folder = run_dir / FOLDER
    if not folder.is_dir():
        return []
    found = (_NAME.match(p.name) for p in folder.iterdir())
    return sorted(int(m.group(1)) for m in found if m)


def prune(run_dir: Path, keep: Iterable[int]) -> list[int]:
    """Delete the checkpoints of trials not in ``keep``; returns the numbers deleted."""
    keep_set = set(keep)
    gone = [n for n in saved_trials(run_dir) if n not in keep_set]
    for n in gone:
        path_of(run_dir, n).unlink(missing_ok=True)
    return gone


@dataclass
class Checkpoint:
    """A loaded checkpoint: the rebuilt model (eval mode) and what was stored with it."""

    model: nn.Module
    spec: dict[str, Any]
    input_shape: tuple[int, ...]
    n_classes: int
    dataset: str
    trial: int
    path: Path


def load(run_dir: Path, number: int) -> Checkpoint:
    """Rebuild trial ``number``'s model from its checkpoint.

    Raises:
        UserError: no checkpoint for that trial (it was never on the front, or the run predates
            checkpoints), or a file that is not a readable checkpoint of this format.
    """
    path = path_of(run_dir, number)
    if not path.is_file():
        have = saved_trials(run_dir)
        raise UserError(
            f"trial {number} has no saved weights in {path.parent} (only Pareto-front trials keep "
            f"a checkpoint; saved: {', '.join(map(str, have)) or 'none'}); pick one of those "
            "(evolve continual also takes --retrain to rebuild an architecture from scratch)"
        )
    return read(path, what="checkpoint", fix="delete it and rerun the trial, or choose another")


def read(path: Path, *, what: str = "model", fix: str = "re-export it") -> Checkpoint:
    """Rebuild the model a file written by :func:`write` holds (eval mode).

    Raises:
        UserError: ``{path}: not a readable {what} (...); {fix}`` for a file torch cannot read,
            one of another format, or weights that do not fit the stored spec.
    """
    from snn_models import NetSpec, build

    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a damaged file
        raise UserError(f"{path}: not a readable {what} ({type(e).__name__}); {fix}") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT or "state_dict" not in blob:
        raise UserError(f"{path}: not an snn-evolve {what} of format {FORMAT}; {fix}")
    try:
        model = build(
            NetSpec.from_dict(blob["spec"]), tuple(blob["input_shape"]), blob["n_classes"]
        )
        model.load_state_dict(blob["state_dict"])
    except (RuntimeError, KeyError, TypeError, ValueError) as e:
        raise UserError(
            f"{path}: the weights do not fit the stored spec ({_brief(e)}); the file is damaged"
        ) from None
    model.eval()
    return Checkpoint(
        model=model,
        spec=dict(blob["spec"]),
        input_shape=tuple(blob["input_shape"]),
        n_classes=int(blob["n_classes"]),
        dataset=str(blob["dataset"]),
        trial=int(blob["trial"]),
        path=path,
    )


def _brief(e: Exception, limit: int = 200) -> str:
    """An error's message on one line, cut to ``limit`` characters (torch lists every
    mismatched tensor of a state dict on a line of its own)."""
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


__all__ = [
    "FOLDER",
    "Checkpoint",
    "load",
    "path_of",
    "prune",
    "read",
    "save",
    "saved_trials",
    "write",
]
