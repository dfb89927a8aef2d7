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

from evolve.errors import ModelSpecError, RunError, UserError, translated
from evolve.export.exporters import (
    EXPORTERS,
    data_section,
    parse_formats,
    versions,
    wants_all,
)
from evolve.store.runfolder import new_folder

if TYPE_CHECKING:
    import torch

    from agents import RunStore

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
        number: The exported trial's number.
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
    number: int
    test_accuracy: float
    n_test: int
    energy: float | None
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)
    card: dict[str, Any] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def _number(
    run_dir: Path,
    store: RunStore,
    cfg: dict[str, Any],
    trial: int | str,
    pick: str,
    max_energy: float | None,
) -> int:
    """The trial number ``trial`` means (``"best"``: picked off the front by ``pick``)."""
    if isinstance(trial, bool):
        raise UserError(f"trial must be 'best' or a trial number, got {trial!r}")
    if trial != "best":
        try:
            return int(trial)
        except (TypeError, ValueError):
            raise UserError(f"trial must be 'best' or a trial number, got {trial!r}") from None
    from agents.pareto import pick as pick_trial
    from evolve.store.results import pareto_summary
    from evolve.store.run import front_settings

    objectives, reference = front_settings(cfg, run_dir)
    front = pareto_summary(store, objectives, reference)["front"]
    return pick_trial(front, pick, max_energy)


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
) -> ExportResult:
    """Export a trial's trained model to TorchScript / ONNX / NIR with a model card.

    Each format is reloaded and checked against the in-memory model on the test split (see
    :data:`evolve.export.exporters.EXPORTERS`); a format that does not reproduce the model is an
    error, and nothing is written. With ``"all"``, a format that cannot express the model (NIR
    and a transformer) is skipped and the reason recorded (``skipped``); a format named
    explicitly that cannot is refused before any work. The folder holds ``model.pt`` (the checkpoint), one file per
    format and ``model_card.json``.

    Args:
        run: The run folder (``runs/<study>``) of a search.
        trial: A trial number, or ``"best"``: the front trial chosen by ``pick``.
        formats: Format names (``torchscript``, ``onnx``, ``nir``), a comma-separated string of
            them, or ``"all"`` (the default: every format that can express the model).
        out: The folder to create (default ``<run>/exports/trial_<N>``); it must not exist.
        pick: With ``trial="best"``: ``accuracy`` (the most accurate), ``energy`` (the
            cheapest) or ``knee`` (see :func:`agents.pareto.knee`).
        max_energy: With ``trial="best"``: only front trials at or below this many µJ.
        storage: Read the study from this storage instead of the recorded one.
        command: The command recorded in the card (default: this call, written out).

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
    from agents import AgentError
    from evolve.data.datasets import load_dataset
    from evolve.store import checkpoints
    from evolve.store.run import dataset_of, load_run
    from evolve.training.trainer import evaluate

    with translated():
        formats = formats if isinstance(formats, str) else [str(f) for f in formats]
        names, everything = parse_formats(formats), wants_all(formats)
        run_dir = Path(run).resolve()
        store, cfg = load_run(run_dir, storage)
        number = _number(run_dir, store, cfg, trial, pick, max_energy)
        try:
            record = store.trial(number)
        except AgentError:
            raise RunError(
                f"study {run_dir.name!r} has no trial {number}; see `evolve show {run_dir}`"
            ) from None
        target = Path(out).resolve() if out is not None else run_dir / "exports" / f"trial_{number}"
        if target.exists():  # before any work; new_folder checks again
            raise RunError(f"{target} already exists; choose another --out or delete it")
        ckpt = checkpoints.load(run_dir, number)  # a damaged file is refused before a folder
        model = ckpt.model
        kept, skipped = _expressible(names, everything, model, ckpt.input_shape)
        seed = int(cfg.get("seed", 0))
        data = load_dataset(
            dataset_of(cfg, run_dir),
            seed=seed,
            data_dir=Path(cfg["data_dir"]) if cfg.get("data_dir") else None,
        )
        attrs = record.attrs
        if command is None:
            given = None if out is None else target
            asked = "all" if everything else names
            command = _command(run_dir, trial, asked, given, pick, max_energy)
        with new_folder(target) as tmp:
            x = data.test.x
            test_acc = evaluate(model, data.test)
            shutil.copyfile(ckpt.path, tmp / "model.pt")
            checks: dict[str, dict[str, Any]] = {}
            info = {
                "dataset": data.name,
                "input_scale": data.input_scale,
                "n_classes": data.n_classes,
            }
            for name in kept:
                exporter = EXPORTERS[name]
                checks[name] = exporter.fn(model, x, tmp / exporter.file, info)
            card = {
                "study": run_dir.name,
                "trial": number,
                "picked_by": pick if trial == "best" else "--trial",
                "arch": record.arch,
                "spec": ckpt.spec,
                "data": data_section(
                    data.name,
                    data.input_shape,
                    data.n_classes,
                    data.input_scale,
                    source=data.source,
                    seed=seed,
                ),
                "timesteps": ckpt.spec.get("timesteps"),
                "metrics": {
                    "val_accuracy": {"value": attrs.get("val_accuracy"), "split": "validation"},
                    "test_accuracy": {"value": test_acc, "split": "test", "n": len(data.test)},
                    "recorded_test_accuracy": attrs.get("test_accuracy"),
                },
                "energy": {
                    "energy_uj_per_inference": attrs.get("energy_uj"),
                    "ann_energy_uj": attrs.get("ann_energy_uj"),
                    "model": ENERGY_MODEL,
                    "sops": attrs.get("sops"),
                    "macs": attrs.get("macs"),
                },
                "firing_rates": attrs.get("firing_rates"),
                "formats": checks,
                "skipped_formats": skipped,
                "versions": versions(),
                "command": command,
                "created": time.strftime("%Y-%m-%d %H:%M:%S"),
            }
            (tmp / CARD).write_text(json.dumps(card, indent=2, default=str) + "\n")
    energy = attrs.get("energy_uj")
    return ExportResult(
        out=target,
        study=run_dir.name,
        number=number,
        test_accuracy=float(test_acc),
        n_test=len(data.test),
        energy=None if energy is None else float(energy),
        checks=checks,
        card=card,
        skipped=skipped,
    )
