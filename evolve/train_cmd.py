"""``evolve train``: train one spiking architecture and report accuracy, energy and firing rates."""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from evolve.errors import UserError

# torch, snn_models and the trainer are imported inside run(): `evolve --help` stays fast.

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
TRAIN_KEYS = ("epochs", "batch_size", "lr", "weight_decay", "seed")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train one spiking network and report accuracy, energy and firing rates",
        description=(
            "Train one spiking architecture with surrogate gradients, then report test accuracy, "
            "energy per inference measured from its real spikes (and the equivalent ANN's), "
            "per-layer firing rates and wall time. Writes log.txt, config.yaml, result.json and "
            "model.pt into a new folder under --out."
        ),
        epilog=(
            "examples:\n"
            "  evolve train                                   # spiking MLP on digits\n"
            "  evolve train --arch cnn --neuron lif,bif --timesteps 6\n"
            "  evolve train --arch my_net.yaml --data fashion_mnist --epochs 5\n"
            "A YAML architecture holds the NetSpec keys (kind, layers, timesteps, encoder, ...)\n"
            "and optionally a 'train:' mapping (epochs, batch_size, lr, weight_decay, seed)."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--data",
        default="digits",
        help="digits (default, embedded), fashion-mnist, or an .npz file with arrays x and y",
    )
    p.add_argument(
        "--data-dir", type=Path, help="folder holding the data set's files (Fashion-MNIST IDX)"
    )
    p.add_argument(
        "--arch",
        default="mlp",
        help="preset (mlp, cnn) or a YAML file with the architecture (default: mlp)",
    )
    p.add_argument(
        "--layers", help="hidden widths, comma-separated, e.g. 256,128 (units or channels)"
    )
    p.add_argument(
        "--neuron", help="neuron type for all layers or one per layer: if, lif, bif (e.g. lif,bif)"
    )
    p.add_argument(
        "--threshold", help="firing threshold for all layers or one per layer (e.g. 1.0,0.8)"
    )
    p.add_argument("--decay", help="LIF decay beta in [0, 1] for all layers or one per layer")
    p.add_argument("--timesteps", type=int, help="simulation steps T (default 4)")
    p.add_argument("--encoder", help="input encoding: direct, rate, latency (default direct)")
    p.add_argument("--readout", help="membrane (default) or spikes")
    p.add_argument("--epochs", type=int, help="training epochs (default 20)")
    p.add_argument("--batch-size", type=int, help="mini-batch size (default 64)")
    p.add_argument("--lr", type=float, help="Adam learning rate (default 2e-3)")
    p.add_argument("--seed", type=int, help="seed for the split, init and shuffling (default 0)")
    p.add_argument(
        "--energy-profile",
        default="45nm_fp32",
        help="energy per operation: 45nm_fp32 (default, Horowitz ISSCC 2014) or 45nm_int8",
    )
    p.add_argument(
        "--out", type=Path, default=Path("runs"), help="where run folders go (default runs/)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("-v", "--verbose", action="store_true", help="log INFO messages to stderr too")
    p.set_defaults(func=run)


def _load_arch(arg: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The architecture dict and the training overrides from a preset name or a YAML file."""
    if arg in PRESETS:
        return yaml.safe_load(yaml.safe_dump(PRESETS[arg])), {}
    path = Path(arg)
    if not path.suffix and not path.exists():
        raise UserError(
            f"--arch: unknown preset {arg!r}; choose one of {', '.join(PRESETS)} or give a YAML file"
        )
    if not path.is_file():
        raise UserError(
            f"--arch: file {path} not found; give a YAML file or a preset ({', '.join(PRESETS)})"
        )
    from evolve.runfolder import read_yaml

    data = read_yaml(path, "fix the architecture file (kind, layers, ...)")
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of architecture settings (kind, layers, ...)")
    train_over = data.pop("train", {}) or {}
    if not isinstance(train_over, dict):
        raise UserError(f"{path}: train: expected a mapping (epochs, batch_size, lr, ...)")
    unknown = [k for k in train_over if k not in TRAIN_KEYS]
    if unknown:
        raise UserError(
            f"{path}: train.{unknown[0]}: unknown key (allowed: {', '.join(TRAIN_KEYS)})"
        )
    for key, value in train_over.items():
        _check_train_value(path, key, value)
    return data, train_over


def _check_train_value(path: Path, key: str, value: Any) -> None:
    """A ``train:`` entry of an architecture file has the type its flag has."""
    whole = key in ("epochs", "batch_size", "seed")
    if isinstance(value, bool) or not isinstance(value, int if whole else int | float):
        want = "a whole number" if whole else "a number"
        raise UserError(f"{path}: train.{key}: expected {want}, got {value!r}")
    if not whole and not math.isfinite(value):
        raise UserError(f"{path}: train.{key}: expected a finite number, got {value!r}")


def _per_layer(value: str, n: int, flag: str, cast: Callable[[str], Any]) -> list[Any]:
    parts = [v.strip() for v in value.split(",") if v.strip()]
    try:
        vals = [cast(v) for v in parts]
    except ValueError:
        raise UserError(
            f"{flag}: cannot read {value!r}; give one value or one per layer, comma-separated"
        ) from None
    if len(vals) == 1:
        return vals * n
    if len(vals) != n:
        raise UserError(
            f"{flag}: got {len(vals)} values for {n} layers; give one value or exactly {n}"
        )
    return vals


def _apply_flags(arch: dict[str, Any], a: argparse.Namespace) -> dict[str, Any]:
    if a.layers:
        widths = _per_layer(a.layers, len(a.layers.split(",")), "--layers", int)
        old = arch.get("layers") or []
        arch["layers"] = [dict(old[i]) if i < len(old) else {} for i in range(len(widths))]
        for layer, w in zip(arch["layers"], widths, strict=True):
            layer["width"] = w
    layers = arch.get("layers")
    if not isinstance(layers, list) or not layers:
        raise UserError("the architecture has no layers; pass --layers 256,256 or a 'layers:' list")
    for flag, key, cast in (
        ("--neuron", "neuron", str),
        ("--threshold", "threshold", float),
        ("--decay", "decay", float),
    ):
        value = getattr(a, key)
        if value is not None:
            for layer, v in zip(layers, _per_layer(value, len(layers), flag, cast), strict=True):
                layer[key] = v
    for key in ("timesteps", "encoder", "readout"):
        if getattr(a, key) is not None:
            arch[key] = getattr(a, key)
    return arch


def run(a: argparse.Namespace) -> int:
    import torch
    from loguru import logger

    import snn_models
    from evolve.datasets import load_dataset
    from evolve.runfolder import configure_logging, new_run_dir, write_json, write_yaml
    from evolve.training import TrainConfig, evaluate, train
    from snn_models.energy import get_profile, measure_energy
    from snn_models.functional import neuron_kinds

    t_start = time.perf_counter()
    get_profile(a.energy_profile)  # a bad name fails before any work
    arch, train_over = _load_arch(a.arch)
    arch = _apply_flags(arch, a)
    spec = snn_models.NetSpec.from_dict(arch)  # validates before anything is written
    flags = {k: getattr(a, k, None) for k in TRAIN_KEYS if getattr(a, k, None) is not None}
    tcfg = TrainConfig(**{**train_over, **flags}, progress=not a.no_progress)
    tcfg.validate()

    data = load_dataset(a.data, seed=tcfg.seed, data_dir=a.data_dir)
    run_dir = new_run_dir(a.out, f"train-{data.name}")
    configure_logging(run_dir, verbose=a.verbose)
    write_yaml(
        run_dir / "config.yaml",
        {
            "data": a.data,
            "arch": spec.to_dict(),
            "train": {k: getattr(tcfg, k) for k in TRAIN_KEYS},
        },
    )
    logger.info(
        "run folder {}; data {} ({}); spec {}", run_dir, data.name, data.source, spec.to_dict()
    )

    torch.manual_seed(tcfg.seed)
    model = snn_models.build(spec, data.input_shape, data.n_classes)
    result = train(
        model, data.train, data.val, tcfg, description=f"train {spec.kind} on {data.name}"
    )
    test_acc = evaluate(model, data.test)
    energy = measure_energy(model, (x for x, _ in data.test.batches(256)), profile=a.energy_profile)
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
        "energy": energy.to_dict(),
        "history": result.to_dict()["history"],
    }
    write_json(run_dir / "result.json", summary)
    torch.save(
        {
            "spec": spec.to_dict(),
            "input_shape": data.input_shape,
            "n_classes": data.n_classes,
            "state_dict": model.state_dict(),
        },
        run_dir / "model.pt",
    )
    logger.info("done: test_acc {:.4f} energy {:.4f} uJ", test_acc, energy.energy_uj)

    widths = "-".join(str(layer.width) for layer in spec.layers)
    print(
        f"evolve train: {data.name}, {spec.kind} [{widths}], T={spec.timesteps}, encoder {spec.encoder}"
    )
    print(
        f"  test accuracy       {100 * test_acc:.2f} %  (best val {100 * result.best_val_acc:.2f} % at epoch {result.best_epoch})"
    )
    print(
        f"  energy / inference  {energy.energy_uj:.4f} uJ  (equivalent ANN {energy.ann_energy_uj:.4f} uJ, "
        f"ratio {energy.ratio_to_ann:.3f}; {energy.profile})"
    )
    print(
        f"  operations          {energy.total_sops:,.0f} SOPs + {energy.total_macs:,.0f} MACs per inference"
    )
    print(
        "  firing rates        "
        + "  ".join(f"{n} ({kinds[n]}) {r:.3f}" for n, r in energy.firing_rates.items())
    )
    print(f"  wall time           {wall:.1f} s  (training {result.seconds:.1f} s)")
    print(f"  run folder          {run_dir}")
    return 0
