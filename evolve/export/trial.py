"""Export a search trial's model, checked in every format, with a model card.

The weights come from the checkpoint the search kept for the trial (``runs/<study>/
checkpoints/``). Every format is reloaded and compared with the in-memory model on the data
set's test split before anything is kept (see :mod:`evolve.export.exporters`). The folder is
written to a temporary directory beside the target and moved into place at the end, so a failure
leaves nothing half-written.

Output folder::

    model.pt           {"format", "spec", "input_shape", "n_classes", "state_dict", ...}
                       (torch.load(weights_only=True))
    model.torchscript  TorchScript (traced, fixed T)
    model.onnx         ONNX (dynamic batch)
    model.nir          NIR graph (MLPs of IF/LIF with hard reset; see snn_models.nir_io)
    model_card.json    architecture, data and preprocessing, metrics with their split, energy
                       per inference and its model, firing rates, library versions, checks, the
                       formats skipped and why (``skipped_formats``), the command

With ``formats="all"`` a format that cannot express the model (NIR and a transformer) is
skipped and the reason recorded; a format named explicitly that cannot is refused before any
work, and nothing is written.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evolve.errors import ModelSpecError, RunError, translated
from evolve.export.exporters import (
    EXPORTERS,
    data_section,
    nir_reader_refusal,
    parse_formats,
    versions,
    wants_all,
)
from evolve.store.runfolder import new_folder

if TYPE_CHECKING:
    import torch

__all__ = ["CARD", "ENERGY_MODEL", "ExportResult", "export_trial"]

#: The model card's file name in an export folder.
CARD = "model_card.json"
#: How the energy the card records was estimated.
ENERGY_MODEL = (
    "45nm_fp32: E = 4.6 pJ × MACs (real-valued input layer) + 0.9 pJ × SOPs "
    "(spikes × fan-out), measured from validation spikes (Horowitz, ISSCC 2014)"
)


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_trial` wrote.

    Attributes:
        out: The export folder.
        study: The study's name.
        number: The exported trial's number (``None`` for a model folder's model).
        test_accuracy: The model's accuracy on the test split, measured now.
        n_test: The size of the test split.
        energy: The trial's energy per inference in µJ as recorded (``None`` if not recorded).
        checks: Format name → what its check found (the card's ``formats``).
        card: The model card written to ``model_card.json``.
        skipped: Format name → why it cannot express the model, for the formats ``"all"``
            left out (the card's ``skipped_formats``).
    """

    out: Path
    study: str
    number: int | None
    test_accuracy: float
    n_test: int
    energy: float | None
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)
    card: dict[str, Any] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def _expressible(
    names: list[str], everything: bool, model: torch.nn.Module, input_shape: tuple[int, ...]
) -> tuple[list[str], dict[str, str]]:
    """The formats of ``names`` to export and those skipped (name → why). With ``everything``
    (``"all"``) a format that cannot express ``model`` is skipped; otherwise it is refused."""
    reasons = {n: EXPORTERS[n].refusal(model, input_shape) for n in names}
    skipped = {n: r for n, r in reasons.items() if r is not None}
    kept = [n for n in names if n not in skipped]
    if skipped and (not everything or not kept):
        why = next(iter(skipped.values()))
        others = [  # formats known to express it: asked and fit, or fit every model
            n
            for n in EXPORTERS
            if reasons.get(n, "") is None or (n not in reasons and EXPORTERS[n].supports is None)
        ]
        instead = f", or export formats {','.join(others)} instead" if others else ""
        raise ModelSpecError(f"{why}{instead}")
    return kept, skipped


def _command(
    run_dir: Path,
    trial: int | str,
    formats: str | list[str],
    out: Path | None,
    pick: str,
    max_energy: float | None,
) -> str:
    """The call that made an export, for the card when the caller names none."""
    asked = formats if isinstance(formats, str) else tuple(formats)
    args = [repr(str(run_dir)), repr(trial), f"formats={asked!r}"]
    if out is not None:
        args.append(f"out={str(out)!r}")
    if trial == "best":
        args.append(f"pick={pick!r}")
        if max_energy is not None:
            args.append(f"max_energy={max_energy!r}")
    return f"evolve.export_trial({', '.join(args)})"


def export_trial(
    run: str | Path,
    trial: int | str = "best",
    *,
    formats: str | Iterable[str] = "all",
    out: str | Path | None = None,
    pick: str = "accuracy",
    max_energy: float | None = None,
    storage: str | None = None,
    command: str | None = None,
    nir_for: str = "nir",
) -> ExportResult:
    """Export a search trial's trained model, or a model folder's, to TorchScript / ONNX / NIR
    with a model card.

    Each format is reloaded and checked against the in-memory model on the test split (see
    :data:`evolve.export.exporters.EXPORTERS`); a format that does not reproduce the model is an
    error, and nothing is written. With ``"all"``, a format that cannot express the model (NIR
    and a transformer) is skipped and the reason recorded (``skipped``); a format named
    explicitly that cannot is refused before any work. The folder holds ``model.pt`` (the checkpoint), one file per
    format and ``model_card.json``.

    Args:
        run: The run folder (``runs/<study>``) of a search, or a folder holding one trained
            model (``model.pt`` and ``model_card.json``: what ``evolve train`` writes, the final
            model of ``evolve continual``, an earlier export; see :mod:`evolve.export.source`).
        trial: A trial number, or ``"best"``: the front trial chosen by ``pick`` (a model
            folder takes only ``"best"``).
        formats: Format names (``torchscript``, ``onnx``, ``nir``), a comma-separated string of
            them, or ``"all"`` (the default: every format that can express the model).
        out: The folder to create (default ``<run>/exports/trial_<N>``, for a model folder
            ``<folder>/exports/model``); it must not exist.
        pick: With ``trial="best"``: ``accuracy`` (the most accurate), ``energy`` (the
            cheapest) or ``knee`` (see :func:`agents.pareto.knee`).
        max_energy: With ``trial="best"``: only front trials at or below this many µJ.
        storage: Read the study from this storage instead of the recorded one.
        command: The command recorded in the card (default: this call, written out).
        nir_for: The reader the NIR file is written for: ``nir`` (the textbook file, the
            default), ``snntorch`` or ``norse`` (the way that tool's importer reads NIR; see
            :mod:`snn_models.nir.peers`); a model the reader cannot read is refused up front.

    Returns:
        The export folder, the trial, its test accuracy, energy and the format checks.

    Raises:
        UserError: An unknown format or pick; not a search run folder; no such trial, or no
            front trial within ``max_energy``; a trial without saved weights or a damaged
            checkpoint; ``out`` exists; a format named explicitly that cannot express the model
            (before any work), or a format whose file does not reproduce the model.

    Example:
        >>> result = export_trial("runs/mine", pick="knee", formats="onnx")  # doctest: +SKIP
        >>> result.out, result.test_accuracy                                 # doctest: +SKIP
    """
    from evolve.export.source import from_model_folder, from_search, is_model_folder
    from evolve.training.trainer import evaluate

    with translated():
        formats = formats if isinstance(formats, str) else [str(f) for f in formats]
        names, everything = parse_formats(formats), wants_all(formats)
        run_dir = Path(run).resolve()
        if is_model_folder(run_dir):
            src = from_model_folder(run_dir, trial)
        else:
            src = from_search(run_dir, trial, pick=pick, max_energy=max_energy, storage=storage)
        default = (
            run_dir / "exports" / (f"trial_{src.number}" if src.number is not None else "model")
        )
        target = Path(out).resolve() if out is not None else default
        if target.exists():  # before any work; new_folder checks again
            raise RunError(f"{target} already exists; choose another --out or delete it")
        model, data, recorded = src.model, src.data, src.recorded
        kept, skipped = _expressible(names, everything, model, src.input_shape)
        if "nir" in kept or nir_for != "nir":  # an unknown reader is named even without NIR
            why = nir_reader_refusal(model, src.input_shape, nir_for)
            if why is not None and "nir" in kept:
                raise ModelSpecError(why)
        if command is None:
            given = None if out is None else target
            asked = "all" if everything else names
            command = _command(run_dir, trial, asked, given, pick, max_energy)
        with new_folder(target) as tmp:
            x = data.test.x
            test_acc = evaluate(model, data.test)
            shutil.copyfile(src.checkpoint, tmp / "model.pt")
            checks: dict[str, dict[str, Any]] = {}
            info = {
                "dataset": data.name,
                "input_scale": data.input_scale,
                "n_classes": data.n_classes,
                "nir_for": nir_for,
            }
            for name in kept:
                exporter = EXPORTERS[name]
                checks[name] = exporter.fn(model, x, tmp / exporter.file, info)
            energy_card = {**recorded["energy"], "model": ENERGY_MODEL}
            card = {
                "study": src.name,
                "trial": src.number,
                "made_by": src.origin,
                "picked_by": recorded["picked_by"],
                "arch": recorded["arch"],
                "spec": src.spec,
                "data": data_section(
                    data.name,
                    data.input_shape,
                    data.n_classes,
                    data.input_scale,
                    model=model,
                    source=data.source,
                    seed=src.seed,
                    **data.card_entries(),
                ),
                "timesteps": src.spec.get("timesteps"),
                "metrics": {
                    "val_accuracy": {"value": recorded["val_accuracy"], "split": "validation"},
                    "test_accuracy": {"value": test_acc, "split": "test", "n": len(data.test)},
                    "recorded_test_accuracy": recorded["test_accuracy"],
                },
                "energy": energy_card,
                "firing_rates": recorded["firing_rates"],
                "neurobench": recorded.get("neurobench"),
                "formats": checks,
                "skipped_formats": skipped,
                "versions": versions(),
                "command": command,
                "created": time.strftime("%Y-%m-%d %H:%M:%S"),
            }
            (tmp / CARD).write_text(json.dumps(card, indent=2, default=str) + "\n")
    energy = recorded["energy"].get("energy_uj_per_inference")
    return ExportResult(
        out=target,
        study=src.name,
        number=src.number,
        test_accuracy=float(test_acc),
        n_test=len(data.test),
        energy=None if energy is None else float(energy),
        checks=checks,
        card=card,
        skipped=skipped,
    )
