"""Train one spiking architecture and measure it: what ``evolve train`` does.

The architecture is a preset (:data:`PRESETS`), a YAML file or a mapping of
:class:`snn_models.NetSpec` keys; keywords override its layers and simulation settings. The run
folder ``out/train-<data>-<date-time>/`` receives ``log.txt``, ``config.yaml``, ``result.json``,
``model.pt`` (a checkpoint of :mod:`evolve.store.checkpoints`' format) and ``model_card.json``
(what ``evolve predict --model <run folder>`` reads).

Example:
    >>> from evolve.training.single import train
    >>> run = train("mlp", "digits", epochs=1, out=getfixture("tmp_path"))  # doctest: +SKIP
    >>> run.test_accuracy > 0.8, run.energy_uj < run.ann_energy_uj           # doctest: +SKIP
    (True, True)
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from evolve.errors import UserError, translated

if TYPE_CHECKING:
    import torch

    from snn_models.energy import EnergyReport

__all__ = ["PRESETS", "TRAIN_KEYS", "TrainRun", "load_arch", "train"]

#: Architectures known by name.
PRESETS: dict[str, dict[str, Any]] = {
    "mlp": {"kind": "mlp", "timesteps": 4, "layers": [{"width": 256}, {"width": 256}]},
    "cnn": {
        "kind": "cnn",
        "timesteps": 4,
        "layers": [
            {"width": 16, "kernel": 3, "pool": True},
            {"width": 32, "kernel": 3, "pool": True},
        ],
    },
}
#: The training settings an architecture file's ``train:`` mapping may hold.
TRAIN_KEYS = ("epochs", "batch_size", "lr", "weight_decay", "seed")


@dataclass
class TrainRun:
    """One trained network, measured.

    Attributes:
        run_dir: The run folder written.
        dataset: The data set's name.
        spec: The :class:`snn_models.NetSpec` trained, as a dict.
        model: The trained network (best validation epoch, eval mode).
        test_accuracy: Accuracy on the held-out test split.
        best_val_accuracy: Validation accuracy of the epoch kept.
        best_epoch: That epoch (from 0).
        energy_uj: Energy per inference (µJ) from the network's spikes on the test split.
        ann_energy_uj: The equivalent ANN's energy per inference (µJ).
        energy: The full energy report (operations, firing rates, profile).
        neuron_kinds: Each spiking layer's neuron type, upper case (``{"body.0": "LIF"}``).
        train_seconds: Time spent training.
        wall_seconds: Time of the whole call.
        summary: What ``result.json`` holds.
    """

    run_dir: Path
    dataset: str
    spec: dict[str, Any]
    model: torch.nn.Module
    test_accuracy: float
    best_val_accuracy: float
    best_epoch: int
    energy_uj: float
    ann_energy_uj: float
    energy: EnergyReport
    neuron_kinds: dict[str, str]
    train_seconds: float
    wall_seconds: float
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def firing_rates(self) -> dict[str, float]:
        """Mean firing rate of each spiking layer on the test split."""
        return dict(self.energy.firing_rates)


def load_arch(
    arch: str | Path | Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The architecture dict and the training overrides of a preset, YAML file or mapping.

    A YAML file (or mapping) holds the NetSpec keys (``kind``, ``layers``, ``timesteps``, ...)
    and optionally a ``train:`` mapping of :data:`TRAIN_KEYS`, returned apart.

    Raises:
        UserError: an unknown preset, a missing or unreadable file, or a ``train:`` entry of
            an unknown key or the wrong type.
    """
    if isinstance(arch, Mapping):
        return _split_train(dict(yaml.safe_load(yaml.safe_dump(dict(arch)))), "arch")
    name = str(arch)
    if name in PRESETS:
        return yaml.safe_load(yaml.safe_dump(PRESETS[name])), {}
    path = Path(arch)
    if not path.suffix and not path.exists():
        raise UserError(
            f"arch: unknown preset {name!r}; choose one of {', '.join(PRESETS)} or give a YAML file"
        )
    if not path.is_file():
        raise UserError(
            f"arch: file {path} not found; give a YAML file or a preset ({', '.join(PRESETS)})"
        )
    from evolve.store.runfolder import read_yaml

    data = read_yaml(path, "fix the architecture file (kind, layers, ...)")
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of architecture settings (kind, layers, ...)")
    return _split_train(data, str(path))


def _split_train(data: dict[str, Any], where: str) -> tuple[dict[str, Any], dict[str, Any]]:
    train_over = data.pop("train", {}) or {}
    if not isinstance(train_over, dict):
        raise UserError(f"{where}: train: expected a mapping (epochs, batch_size, lr, ...)")
    unknown = [k for k in train_over if k not in TRAIN_KEYS]
    if unknown:
        raise UserError(
            f"{where}: train.{unknown[0]}: unknown key (allowed: {', '.join(TRAIN_KEYS)})"
        )
    for key, value in train_over.items():
        _check_train_value(where, key, value)
    return data, train_over


def _check_train_value(where: str, key: str, value: Any) -> None:
    """A ``train:`` entry of an architecture file has the type its keyword has."""
    whole = key in ("epochs", "batch_size", "seed")
    if isinstance(value, bool) or not isinstance(value, int if whole else int | float):
        want = "a whole number" if whole else "a number"
        raise UserError(f"{where}: train.{key}: expected {want}, got {value!r}")
    if not whole and not math.isfinite(value):
        raise UserError(f"{where}: train.{key}: expected a finite number, got {value!r}")


def _per_layer(value: Any, n: int, key: str) -> list[Any]:
    """One value for every layer, or exactly one per layer."""
    values = list(value) if isinstance(value, Sequence) and not isinstance(value, str) else [value]
    if len(values) == 1:
        return values * n
    if len(values) != n:
        raise UserError(
            f"{key}: got {len(values)} values for {n} layers; give one value or exactly {n}"
        )
    return values


def _apply(arch: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The architecture with the keywords' layers and settings applied."""
    widths = overrides.get("layers")
    if widths is not None:
        widths = list(widths) if isinstance(widths, Sequence) else [widths]
        old = arch.get("layers") or []
        arch["layers"] = [dict(old[i]) if i < len(old) else {} for i in range(len(widths))]
        for layer, w in zip(arch["layers"], widths, strict=True):
            layer["width"] = w
    layers = arch.get("layers")
    if not isinstance(layers, list) or not layers:
        raise UserError(
            "the architecture has no layers; give layers=[256, 256] or a 'layers:' list"
        )
    for key in ("neuron", "threshold", "decay"):
        if overrides.get(key) is not None:
            for layer, v in zip(layers, _per_layer(overrides[key], len(layers), key), strict=True):
                layer[key] = v
    for key in ("timesteps", "encoder", "readout"):
        if overrides.get(key) is not None:
            arch[key] = overrides[key]
    return arch


def train(
    arch: str | Path | Mapping[str, Any] = "mlp",
    dataset: Any = "digits",
    *,
    data_dir: str | Path | None = None,
    data_kind: str | None = None,
    layers: Sequence[int] | None = None,
    neuron: str | Sequence[str] | None = None,
    threshold: float | Sequence[float] | None = None,
    decay: float | Sequence[float] | None = None,
    timesteps: int | None = None,
    encoder: str | None = None,
    readout: str | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    weight_decay: float | None = None,
    seed: int | None = None,
    energy_profile: str = "45nm_fp32",
    out: str | Path = "runs",
    progress: bool = False,
    verbose: bool = False,
) -> TrainRun:
    """Train one spiking network with surrogate gradients and measure it.

    Reports test accuracy, energy per inference measured from its real spikes (and the
    equivalent ANN's), per-layer firing rates and wall time, and writes them with the model
    into a new folder ``out/train-<data>-<date-time>/``. Every keyword has the name of an
    ``evolve train`` flag; ``None`` keeps the architecture's (or the trainer's default) value.

    Args:
        arch: A preset (``"mlp"``, ``"cnn"``), a YAML file or a mapping of NetSpec keys, with
            an optional ``train:`` mapping (epochs, batch_size, lr, weight_decay, seed).
        dataset: A data set name (``digits``, ``fashion-mnist``), an ``.npz`` file, ``(x, y)``
            arrays, an :class:`evolve.data.Dataset` or a torch Dataset.
        data_dir: Folder holding the data set's files.
        data_kind: ``image``, ``tabular`` or ``series`` (default: recognised from the file and
            its shape, :mod:`evolve.data.kinds`); recorded, so ``evolve export`` and
            ``predict`` read the data the same way.
        layers: Hidden widths (units or channels), one per layer; replaces the layer count.
        neuron: Neuron type (``if``, ``lif``, ``bif``, ...) for every layer, or one per layer.
        threshold: Firing threshold for every layer, or one per layer.
        decay: LIF decay beta in [0, 1] for every layer, or one per layer.
        timesteps: Simulation steps T.
        encoder: Input encoding: ``direct``, ``rate`` or ``latency``.
        readout: ``membrane`` or ``spikes``.
        epochs, batch_size, lr, weight_decay, seed: Training settings (override ``train:``).
        energy_profile: Energy per operation: ``45nm_fp32`` or ``45nm_int8``.
        out: Where run folders go.
        progress: Show a progress bar and warnings on standard error.
        verbose: Also show INFO messages on standard error.

    Returns:
        The :class:`TrainRun`.

    Raises:
        UserError: bad input (an unknown preset or neuron, a bad value, unreadable data);
            nothing is written then.
    """
    with translated():
        return _train(
            arch,
            dataset,
            data_dir=data_dir,
            data_kind=data_kind,
            overrides={
                "layers": layers,
                "neuron": neuron,
                "threshold": threshold,
                "decay": decay,
                "timesteps": timesteps,
                "encoder": encoder,
                "readout": readout,
            },
            settings={
                "epochs": epochs,
                "batch_size": batch_size,
                "lr": lr,
                "weight_decay": weight_decay,
                "seed": seed,
            },
            energy_profile=energy_profile,
            out=Path(out),
            progress=progress,
            verbose=verbose,
        )


def _train(
    arch_arg: str | Path | Mapping[str, Any],
    dataset: Any,
    *,
    data_dir: str | Path | None,
    data_kind: str | None,
    overrides: dict[str, Any],
    settings: dict[str, Any],
    energy_profile: str,
    out: Path,
    progress: bool,
    verbose: bool,
) -> TrainRun:
    import torch

    import snn_models
    from evolve.data.arrays import as_dataset
    from evolve.store import checkpoints
    from evolve.store.runfolder import new_run_dir, write_json, write_yaml
    from evolve.store.runlog import echo_level, logger, run_log
    from evolve.training import trainer
    from snn_models.energy import get_profile, measure_energy
    from snn_models.functional import neuron_kinds
    from snn_models.preprocess import data_kind_of, default_preprocess, prepare_inputs

    t_start = time.perf_counter()
    get_profile(energy_profile)  # a bad name fails before any work
    arch, train_over = load_arch(arch_arg)
    arch = _apply(arch, overrides)
    spec = snn_models.NetSpec.from_dict(arch)  # validates before anything is written
    given = {k: v for k, v in settings.items() if v is not None}
    tcfg = trainer.TrainConfig(**{**train_over, **given}, progress=progress)
    tcfg.validate()

    data = as_dataset(dataset, seed=tcfg.seed, data_dir=data_dir, kind=data_kind)
    tcfg = trainer.resolved(tcfg, len(data.train))  # config.yaml records the batch size used
    kind = data_kind_of(data.input_shape, getattr(data, "kind", None))
    if "preprocess" not in arch:  # the data kind's default (snn_models.preprocess.DEFAULTS)
        spec = dataclasses.replace(spec, preprocess=default_preprocess(kind, spec.encoder))
    run_dir = new_run_dir(out, f"train-{data.name}")
    echo = echo_level(progress, verbose)
    with run_log(run_dir / "log.txt", echo=echo):
        data_name = str(dataset) if isinstance(dataset, str | Path) else data.name
        write_yaml(
            run_dir / "config.yaml",
            {
                "data": data_name,
                **({"data_kind": data_kind} if data_kind else {}),
                "arch": spec.to_dict(),
                "train": {k: getattr(tcfg, k) for k in TRAIN_KEYS},
            },
        )
        logger.info(
            "run folder {}; data {} ({}); spec {}", run_dir, data.name, data.source, spec.to_dict()
        )

        torch.manual_seed(tcfg.seed)
        model = snn_models.build(spec, data.input_shape, data.n_classes)
        input_coding = prepare_inputs(model, data.train.x, kind)  # the training split only
        result = trainer.train(
            model, data.train, data.val, tcfg, description=f"train {spec.kind} on {data.name}"
        )
        test_acc = trainer.evaluate(model, data.test)
        energy = measure_energy(
            model, (x for x, _ in data.test.batches(256)), profile=energy_profile
        )
        kinds = {name: kind.upper() for name, kind in neuron_kinds(model).items()}
        wall = time.perf_counter() - t_start

        summary = {
            "data": data.name,
            "test_accuracy": test_acc,
            "best_val_accuracy": result.best_val_acc,
            "best_epoch": result.best_epoch,
            "energy_uj_per_inference": energy.energy_uj,
            "ann_energy_uj_per_inference": energy.ann_energy_uj,
            "energy_ratio_to_ann": energy.ratio_to_ann,
            "firing_rates": energy.firing_rates,
            "train_seconds": result.seconds,
            "wall_seconds": wall,
            "input_coding": input_coding,
            "energy": energy.to_dict(),
            # NeuroBench's metrics of the same test forwards, under NeuroBench's names
            "neurobench": {
                **(energy.neurobench.as_neurobench() if energy.neurobench else {}),
                "energy_model": energy.energy_model,
                "split": "test",
            },
            "history": result.to_dict()["history"],
        }
        write_json(run_dir / "result.json", summary)
        spec_dict = spec.to_dict()
        checkpoints.write(
            run_dir / "model.pt", model, spec_dict, data.input_shape, data.n_classes, data.name
        )
        loaded_from = {  # how evolve export / predict load the same data again
            "path": str(dataset) if isinstance(dataset, str | Path) else None,
            "seed": tcfg.seed,
            "data_dir": str(data_dir) if data_dir else None,
        }
        write_json(
            run_dir / "model_card.json",
            _model_card(run_dir, spec_dict, data, summary, loaded_from, model),
        )
        logger.info("done: test_acc {:.4f} energy {:.4f} uJ", test_acc, energy.energy_uj)
    model.eval()
    return TrainRun(
        run_dir=run_dir,
        dataset=data.name,
        spec=spec_dict,
        model=model,
        test_accuracy=test_acc,
        best_val_accuracy=result.best_val_acc,
        best_epoch=result.best_epoch,
        energy_uj=energy.energy_uj,
        ann_energy_uj=energy.ann_energy_uj,
        energy=energy,
        neuron_kinds=kinds,
        train_seconds=result.seconds,
        wall_seconds=wall,
        summary=summary,
    )


def _model_card(
    run_dir: Path,
    spec: dict[str, Any],
    data: Any,
    summary: Mapping[str, Any],
    loaded_from: Mapping[str, Any],
    model: Any = None,
) -> dict[str, Any]:
    """The model card ``evolve predict`` and ``evolve export`` read beside ``model.pt``: what
    the model takes, how raw values are prepared (the ``data`` section of an ``evolve export``
    card) and how to load the data set again (``path``, ``seed``, ``data_dir``)."""
    from evolve.export.exporters import data_section

    where = {k: v for k, v in loaded_from.items() if v is not None}
    return {
        "run": run_dir.name,
        "made_by": "evolve train",
        "spec": spec,
        "data": data_section(
            data.name,
            data.input_shape,
            data.n_classes,
            data.input_scale,
            model=model,
            source=data.source,
            **where,
            **data.card_entries(),
        ),
        "timesteps": spec.get("timesteps"),
        "metrics": {
            "val_accuracy": {"value": summary["best_val_accuracy"], "split": "validation"},
            "test_accuracy": {
                "value": summary["test_accuracy"],
                "split": "test",
                "n": len(data.test),
            },
        },
        "energy": {
            "energy_uj_per_inference": summary["energy_uj_per_inference"],
            "ann_energy_uj": summary["ann_energy_uj_per_inference"],
            "profile": summary["energy"].get("profile"),
        },
        "firing_rates": summary["firing_rates"],
        "neurobench": summary.get("neurobench"),
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
