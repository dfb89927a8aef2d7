"""``evolve convert``: ANN→SNN conversion of a ReLU MLP/CNN, accuracy and energy against T."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from evolve.errors import UserError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert",
        help="convert a trained ReLU network to IF neurons and report accuracy against T",
        description=(
            "Train the ANN twin of an MLP/CNN architecture (or load a trained one with --ann), "
            "fold its BatchNorms, normalise each layer by the percentile of its ReLU activations "
            "on training data, run it as soft-reset IF neurons, and print test accuracy, energy "
            "and spikes per inference for each number of time steps T. Writes result.json, "
            "ann.pt, log.txt (and accuracy_vs_T.png with matplotlib) into a new run folder."
        ),
        epilog=(
            "examples:\n"
            "  evolve convert                                 # MLP twin on digits\n"
            "  evolve convert --arch cnn --timesteps 8,16,32,64,128\n"
            "  evolve convert --ann runs/teachers/digits-mlp-w256-s0.pt\n"
            "  evolve convert --ann runs/convert-digits-.../ann.pt --percentile 100"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data", default="digits", help="digits (default), fashion-mnist, or .npz")
    p.add_argument("--data-dir", type=Path, help="folder holding the data set's files")
    p.add_argument("--arch", default="mlp", help="preset (mlp, cnn) or a YAML architecture file")
    p.add_argument(
        "--ann", type=Path, help="a trained ANN: ann.pt from this command or a teacher's .pt"
    )
    p.add_argument(
        "--timesteps", default="8,16,32,64", help="comma-separated T values (default 8,16,32,64)"
    )
    p.add_argument(
        "--percentile",
        type=float,
        default=99.9,
        help="activation percentile for each layer's scale; 100 = max (default 99.9)",
    )
    p.add_argument("--epochs", type=int, default=20, help="ANN training epochs (default 20)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split and training")
    p.add_argument("--out", type=Path, default=Path("runs"), help="where run folders go")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("-v", "--verbose", action="store_true", help="log INFO messages to stderr too")
    p.set_defaults(func=run)


def _timesteps(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UserError(f"--timesteps: cannot read {text!r}; give integers, e.g. 8,16,32") from None
    if not values or min(values) < 1:
        raise UserError(f"--timesteps: give positive integers, e.g. 8,16,32 (got {text!r})")
    return values


def _load_ann(path: Path, data: Any) -> tuple[Any, dict[str, Any]]:
    """A trained twin from ``ann.pt`` ({spec, state_dict, ...}) or a teacher ``.pt`` + ``.json``."""
    import torch

    from snn_models.ann import build_ann
    from snn_models.errors import ConfigError

    if not path.is_file():
        raise UserError(f"--ann: file {path} not found")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise UserError(
            f"--ann: {path} is not a readable PyTorch file ({type(e).__name__}); "
            "retrain it (evolve convert without --ann)"
        ) from None
    if isinstance(blob, dict) and "state_dict" in blob and "spec" in blob:
        spec, state = blob["spec"], blob["state_dict"]
    else:
        meta_path = path.with_suffix(".json")
        if not meta_path.is_file():
            raise UserError(
                f"--ann: {path} has no spec: expected ann.pt from evolve convert, "
                f"or a teacher .pt with its .json beside it"
            )
        try:
            spec, state = json.loads(meta_path.read_text())["spec"], blob
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise UserError(
                f"--ann: {meta_path}: no readable spec ({type(e).__name__}: {e}); "
                "retrain the teacher (evolve teacher train --force)"
            ) from None
    try:
        model = build_ann(spec, data.input_shape, data.n_classes)
    except (ConfigError, KeyError, TypeError, ValueError) as e:
        raise UserError(
            f"--ann: {path}: its spec cannot be built on {data.name} ({e}); "
            "retrain it (evolve convert without --ann)"
        ) from None
    try:
        model.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError, AttributeError) as e:
        first = str(e).strip().splitlines()[0]
        raise UserError(f"--ann: {path} does not fit its spec on {data.name} ({first})") from None
    return model, spec


def run(a: argparse.Namespace) -> int:
    import torch
    from loguru import logger

    from evolve.datasets import load_dataset
    from evolve.runfolder import configure_logging, new_run_dir, write_json
    from evolve.train_cmd import _load_arch
    from evolve.training import TrainConfig, evaluate, train
    from snn_models.ann import build_ann, twin_spec
    from snn_models.conversion import convert, set_timesteps
    from snn_models.energy import measure_energy

    steps = _timesteps(a.timesteps)
    if not 0 < a.percentile <= 100:
        raise UserError(f"--percentile must be in (0, 100], got {a.percentile}")
    if a.epochs < 1:
        raise UserError(f"--epochs must be >= 1, got {a.epochs}")
    data = load_dataset(a.data, seed=a.seed, data_dir=a.data_dir)
    if a.ann is not None:
        ann, spec = _load_ann(a.ann, data)
        source = str(a.ann)
    else:
        arch, _ = _load_arch(a.arch)
        spec = twin_spec(arch).to_dict()
        if spec["kind"] not in ("mlp", "cnn"):
            raise UserError(f"--arch: kind {spec['kind']} cannot be converted; use an mlp or cnn")
        ann, source = None, f"twin of {a.arch}, trained here"
    run_dir = new_run_dir(a.out, f"convert-{data.name}")
    configure_logging(run_dir, verbose=a.verbose)
    t0 = time.perf_counter()
    if ann is None:
        torch.manual_seed(a.seed)
        ann = build_ann(spec, data.input_shape, data.n_classes)
        cfg = TrainConfig(epochs=a.epochs, seed=a.seed, progress=not a.no_progress)
        train(ann, data.train, data.val, cfg, description=f"ANN twin on {data.name}")
        torch.save(
            {
                "spec": spec,
                "input_shape": list(data.input_shape),
                "n_classes": data.n_classes,
                "state_dict": ann.state_dict(),
            },
            run_dir / "ann.pt",
        )
    ann.eval()
    ann_acc = evaluate(ann, data.test)
    ann_energy = measure_energy(ann, (x for x, _ in data.test.batches(256))).energy_uj
    calibration = [x for x, _ in data.train.batches(256)][:8]
    snn = convert(ann, calibration, timesteps=max(steps), percentile=a.percentile)
    rows = []
    for t in steps:
        set_timesteps(snn, t)
        acc = evaluate(snn, data.test)
        e = measure_energy(snn, (x for x, _ in data.test.batches(256)))
        spikes = sum(e.spikes_per_inference.values())
        rows.append(
            {
                "timesteps": t,
                "test_accuracy": acc,
                "energy_uj": e.energy_uj,
                "ratio_to_ann": e.energy_uj / ann_energy,
                "spikes_per_inference": spikes,
            }
        )
        logger.info("T={} test_acc {:.4f} energy {:.4f} uJ", t, acc, e.energy_uj)
    result = {
        "data": data.name,
        "source": source,
        "spec": spec,
        "percentile": a.percentile,
        "ann_test_accuracy": ann_acc,
        "ann_energy_uj": ann_energy,
        "rows": rows,
        "seconds": time.perf_counter() - t0,
    }
    write_json(run_dir / "result.json", result)
    _plot(result, run_dir / "accuracy_vs_T.png")
    print(f"evolve convert: {data.name}, {spec['kind']} ({source}), percentile {a.percentile}")
    print(f"  ANN        test {100 * ann_acc:6.2f} %  energy {ann_energy:.4f} uJ")
    for r in rows:
        print(
            f"  SNN T={r['timesteps']:<4d} test {100 * r['test_accuracy']:6.2f} %  energy "
            f"{r['energy_uj']:.4f} uJ ({r['ratio_to_ann']:.2f}x ANN)  "
            f"{r['spikes_per_inference']:,.0f} spikes"
        )
    print(f"  run folder {run_dir}")
    return 0


def _plot(result: dict[str, Any], png: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    ts = [r["timesteps"] for r in result["rows"]]
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ax.plot(ts, [100 * r["test_accuracy"] for r in result["rows"]], "o-", label="converted SNN")
    ax.axhline(100 * result["ann_test_accuracy"], color="grey", ls="--", label="ANN")
    ax.set_xscale("log", base=2)
    ax.set_xticks(ts, [str(t) for t in ts])
    ax.set_xlabel("time steps T")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"ANN→SNN conversion on {result['data']}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    plt.close(fig)
