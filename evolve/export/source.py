"""Where an exported model comes from: a search trial, or a folder holding one trained model.

:func:`evolve.export_trial` exports either; this module turns each into one
:class:`ModelSource` (the model, its checkpoint, the data its checks run on and what was recorded
about it), so the exporters and the model card do not care which it was.

* A **search run** (``runs/<study>``, with ``config.yaml`` naming a storage): a trial number or
  ``"best"`` picked off the Pareto front; the weights come from ``checkpoints/trial_<N>.pt``.
* A **model folder**: ``model.pt`` (a checkpoint, :mod:`evolve.store.checkpoints`) beside
  ``model_card.json``, as ``evolve train``, ``evolve continual`` (its final model) and
  ``evolve export`` write them. The card's ``data`` section names the data set the checks use.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evolve.errors import RunError, UserError

if TYPE_CHECKING:
    from torch import nn

    from evolve.data.datasets import Dataset

__all__ = ["ModelSource", "from_model_folder", "from_search", "is_model_folder"]


@dataclass
class ModelSource:
    """One trained model to export, and what is known about it.

    Attributes:
        model: The model, eval mode.
        checkpoint: Its checkpoint file (copied into the export as ``model.pt``).
        spec: The architecture spec it was built from.
        input_shape: One sample's shape, as the model takes it.
        data: The data set whose test split the format checks run on.
        seed: The seed the data set was split with.
        name: The study's or the model folder's name.
        number: The trial's number, ``None`` for a model folder.
        origin: ``"search trial"`` or what the model folder's card says made it.
        recorded: What was recorded about the model when it was trained: ``arch``,
            ``picked_by``, ``val_accuracy``, ``test_accuracy``, ``energy`` (a dict),
            ``firing_rates``.
    """

    model: nn.Module
    checkpoint: Path
    spec: dict[str, Any]
    input_shape: tuple[int, ...]
    data: Dataset
    seed: int
    name: str
    number: int | None
    origin: str
    recorded: dict[str, Any] = field(default_factory=dict)


def is_model_folder(folder: Path) -> bool:
    """Whether ``folder`` holds one trained model (``model.pt`` and ``model_card.json``)."""
    return (folder / "model.pt").is_file() and (folder / "model_card.json").is_file()


def from_search(
    run_dir: Path,
    trial: int | str,
    *,
    pick: str,
    max_energy: float | None,
    storage: str | None,
) -> ModelSource:
    """A search run's trial (a number, or ``"best"`` picked by ``pick`` within
    ``max_energy``).

    Raises:
        UserError: not a search run folder; no such trial; no front trial within
            ``max_energy``; no saved weights or a damaged checkpoint.
    """
    from agents import AgentError
    from evolve.data.datasets import load_dataset
    from evolve.store import checkpoints
    from evolve.store.run import dataset_of, load_run

    store, cfg = load_run(run_dir, storage)
    number = _number(run_dir, store, cfg, trial, pick, max_energy)
    try:
        record = store.trial(number)
    except AgentError:
        raise RunError(
            f"study {run_dir.name!r} has no trial {number}; see `evolve show {run_dir}`"
        ) from None
    ckpt = checkpoints.load(run_dir, number)  # a damaged file is refused before any work
    seed = int(cfg.get("seed", 0))
    data_dir = Path(cfg["data_dir"]) if cfg.get("data_dir") else None
    if cfg.get("scenario"):  # a continual run: its checkpoints hold the final models
        data = _stream_data(cfg, seed, data_dir)
    else:
        data = load_dataset(
            dataset_of(cfg, run_dir), seed=seed, data_dir=data_dir, kind=cfg.get("data_kind")
        )
    attrs = record.attrs
    return ModelSource(
        model=ckpt.model,
        checkpoint=ckpt.path,
        spec=ckpt.spec,
        input_shape=ckpt.input_shape,
        data=data,
        seed=seed,
        name=run_dir.name,
        number=number,
        origin="continual trial (final model)" if cfg.get("scenario") else "search trial",
        recorded={
            "arch": record.arch,
            "picked_by": pick if trial == "best" else "--trial",
            "val_accuracy": attrs.get("val_accuracy"),
            "test_accuracy": attrs.get("test_accuracy"),
            "energy": {
                "energy_uj_per_inference": attrs.get("energy_uj"),
                "ann_energy_uj": attrs.get("ann_energy_uj"),
                "sops": attrs.get("sops"),
                "macs": attrs.get("macs"),
                "energy_model": attrs.get("energy_model", "per-inference"),
            },
            "firing_rates": attrs.get("firing_rates"),
            "neurobench": neurobench_card(attrs),
        },
    )


def from_model_folder(folder: Path, trial: int | str = "best") -> ModelSource:
    """The model in ``folder`` (``model.pt`` + ``model_card.json``).

    Raises:
        UserError: ``trial`` other than ``"best"`` (a model folder holds one model); an
            unreadable card or checkpoint; a card that names no data set to check against.
    """
    from evolve.data.arrays import as_dataset
    from evolve.store import checkpoints

    if trial != "best":
        raise UserError(f"trial: {folder} holds one trained model, not a search; leave trial out")
    card_path = folder / "model_card.json"
    try:
        card = json.loads(card_path.read_text())
        data_card = card["data"]
        dataset = data_card.get("path") or data_card["dataset"]
        seed = int(data_card.get("seed", 0))
    except (ValueError, KeyError, TypeError, OSError) as e:
        raise UserError(
            f"{card_path}: not a readable model card ({type(e).__name__}: {e}); write the "
            "folder again with the command that made it"
        ) from None
    ckpt = checkpoints.read(folder / "model.pt", fix="write the folder again")
    data = as_dataset(
        dataset, seed=seed, data_dir=data_card.get("data_dir"), kind=data_card.get("data_kind")
    )
    if tuple(data.input_shape) != tuple(ckpt.input_shape):
        raise UserError(
            f"{folder}: the model takes input {list(ckpt.input_shape)} but data set "
            f"{dataset!r} gives {list(data.input_shape)}; the card names the wrong data"
        )
    metrics = card.get("metrics", {})
    return ModelSource(
        model=ckpt.model,
        checkpoint=ckpt.path,
        spec=ckpt.spec,
        input_shape=ckpt.input_shape,
        data=data,
        seed=seed,
        name=folder.name,
        number=None,
        origin=str(card.get("made_by", "trained model")),
        recorded={
            "arch": card.get("arch"),
            "picked_by": None,
            "val_accuracy": _value(metrics.get("val_accuracy")),
            "test_accuracy": _value(metrics.get("test_accuracy")),
            "energy": dict(card.get("energy") or {}),
            "firing_rates": card.get("firing_rates"),
            "neurobench": card.get("neurobench"),
        },
    )


def neurobench_card(attrs: dict[str, Any]) -> dict[str, Any] | None:
    """A model card's ``neurobench`` section from a trial's attributes: NeuroBench's metrics
    under NeuroBench's names, measured with the trial's energy on the same validation samples
    (:mod:`snn_models.neurobench_metrics`); ``None`` for a trial recorded before they were."""
    if attrs.get("effective_acs") is None:
        return None
    return {
        "Footprint": attrs.get("footprint_bytes"),
        "ParameterCount": attrs.get("n_params"),
        "ConnectionSparsity": attrs.get("connection_sparsity"),
        "ActivationSparsity": attrs.get("activation_sparsity"),
        "SynapticOperations": {
            "Effective_MACs": attrs.get("effective_macs"),
            "Effective_ACs": attrs.get("effective_acs"),
            "Dense": attrs.get("dense_synops"),
        },
        "energy_model": attrs.get("energy_model", "per-inference"),
        "split": "validation",
    }


def _stream_data(cfg: dict[str, Any], seed: int, data_dir: Path | None) -> Dataset:
    """A continual run's task stream as one data set: every task's test split, in task order
    (the final model answers for all of them). Its ``input_scale`` is the stream's first data
    set's; a permuted stream's inputs are permuted per task (``source`` says so)."""
    import torch

    from evolve.continual_learning.streams import make_stream
    from evolve.data.datasets import Dataset, Split, load_dataset

    stream = make_stream(
        str(cfg["scenario"]),
        seed=seed,
        n_tasks=cfg.get("n_tasks"),
        limit=cfg.get("limit"),
        data_dir=data_dir,
    )
    first = str(cfg["scenario"]).split(",")[0].strip()
    base = {
        "split-digits": "digits",
        "permuted-digits": "digits",
        "split-fashion-mnist": "fashion-mnist",
    }.get(first, first)
    test = Split(
        torch.cat([t.test.x for t in stream.tasks]), torch.cat([t.test.y for t in stream.tasks])
    )
    return Dataset(
        name=stream.name,
        train=test,
        val=test,
        test=test,
        input_shape=tuple(stream.input_shape),
        n_classes=stream.n_classes,
        source=f"{stream.description}: the test splits of its {len(stream.tasks)} tasks",
        input_scale=load_dataset(base, seed=seed, data_dir=data_dir).input_scale,
    )


def _value(metric: Any) -> Any:
    """A card metric's number (cards write ``{"value": v, "split": ...}``)."""
    return metric.get("value") if isinstance(metric, dict) else metric


def _number(
    run_dir: Path,
    store: Any,
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
