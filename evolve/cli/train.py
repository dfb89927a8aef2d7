"""``evolve train``: train one spiking architecture and report accuracy, energy and firing rates."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evolve.cli._flags import add_flag
from evolve.data.kinds import DATA_KINDS
from evolve.errors import UserError

# torch, snn_models and the trainer are imported inside run(): `evolve --help` stays fast.


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train one spiking network and report accuracy, energy and firing rates",
        description=(
            "Train one spiking architecture with surrogate gradients, then report test accuracy, "
            "energy per inference measured from its real spikes (and the equivalent ANN's), "
            "per-layer firing rates and wall time. Writes log.txt, config.yaml, result.json and "
            "model.pt and model_card.json (for evolve predict --model RUN and evolve export RUN) "
            "into a new folder under --out."
        ),
        epilog=(
            "examples:\n"
            "  evolve train                                   # spiking MLP on digits\n"
            "  evolve export runs/train-digits-*              # export the folder it printed\n"
            "  evolve predict --model runs/train-digits-* --input samples.csv\n"
            "  evolve train --arch cnn --neuron lif,bif --timesteps 6\n"
            "  evolve train --arch my_net.yaml --dataset fashion-mnist --epochs 5\n"
            "A YAML architecture holds the NetSpec keys (kind, layers, timesteps, encoder, ...)\n"
            "and optionally a 'train:' mapping (epochs, batch_size, lr, weight_decay, seed)."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_flag(
        p,
        "--dataset",
        aliases=("--data",),
        default="digits",
        help="digits (default, embedded), fashion-mnist, or an .npz file with arrays x and y",
    )
    p.add_argument("--data-dir", type=Path, help="folder holding the data set's files")
    p.add_argument("--data-kind", choices=DATA_KINDS, help="the data's kind (default: recognised)")
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
    p.add_argument(
        "--batch-size",
        type=int,
        help="mini-batch size (default 64, or smaller so an epoch has 8 steps)",
    )
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


def _values(text: str | None, flag: str, cast: Callable[[str], Any]) -> list[Any] | None:
    """A comma-separated flag value as a list (one value, or one per layer)."""
    if text is None:
        return None
    try:
        return [cast(v.strip()) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UserError(
            f"{flag}: cannot read {text!r}; give one value or one per layer, comma-separated"
        ) from None


def run(a: argparse.Namespace) -> int:
    from evolve.training.single import train

    widths = _values(a.layers, "--layers", int) if a.layers else None
    r = train(
        a.arch,
        a.dataset,
        data_dir=a.data_dir,
        data_kind=a.data_kind,
        layers=widths,
        neuron=_values(a.neuron, "--neuron", str),
        threshold=_values(a.threshold, "--threshold", float),
        decay=_values(a.decay, "--decay", float),
        timesteps=a.timesteps,
        encoder=a.encoder,
        readout=a.readout,
        epochs=a.epochs,
        batch_size=a.batch_size,
        lr=a.lr,
        seed=a.seed,
        energy_profile=a.energy_profile,
        out=a.out,
        progress=not a.no_progress,
        verbose=a.verbose,
    )

    spec, energy = r.spec, r.energy
    widths_text = "-".join(str(layer["width"]) for layer in spec["layers"])
    print(
        f"evolve train: {r.dataset}, {spec['kind']} [{widths_text}], T={spec['timesteps']}, "
        f"encoder {spec['encoder']}"
    )
    print(
        f"  test accuracy       {100 * r.test_accuracy:.2f} %  (best val "
        f"{100 * r.best_val_accuracy:.2f} % at epoch {r.best_epoch})"
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
        + "  ".join(f"{n} ({r.neuron_kinds[n]}) {v:.3f}" for n, v in energy.firing_rates.items())
    )
    print(f"  wall time           {r.wall_seconds:.1f} s  (training {r.train_seconds:.1f} s)")
    print(f"  run folder          {r.run_dir}")
    return 0
