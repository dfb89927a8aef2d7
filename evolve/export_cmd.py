"""``evolve export``: a Pareto-front model out of the search, checked, with a model card.

The weights come from the checkpoint the search kept for the trial (``runs/<study>/
checkpoints/``). Every format is reloaded and compared with the in-memory model on the data
set's test split before anything is kept: TorchScript must give bit-identical logits on CPU,
ONNX (run by onnxruntime) logits within 1e-5 and identical predictions, NIR read back through
:func:`snn_models.nir_io.from_nir` identical spikes at every layer. The folder is written
to a temporary directory beside the target and moved into place at the end, so a failure leaves
nothing half-written.

Output folder::

    model.pt           {"format", "spec", "input_shape", "n_classes", "state_dict", ...}
                       (torch.load(weights_only=True))
    model.torchscript  TorchScript (traced, fixed T)
    model.onnx         ONNX (dynamic batch)
    model.nir          NIR graph (MLPs of IF/LIF with hard reset; see snn_models.nir_io)
    model_card.json    architecture, data and preprocessing, metrics with their split, energy
                       per inference and its model, firing rates, library versions, checks, the
                       command
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evolve.errors import UserError
from evolve.runfolder import new_folder

if TYPE_CHECKING:
    import torch

FORMATS = ("torchscript", "onnx", "nir")
PICKS = ("accuracy", "energy", "knee")
ONNX_TOLERANCE = 1e-5
CARD = "model_card.json"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export a Pareto-front model to TorchScript / ONNX / NIR with a model card",
        description=(
            "Export a trial's trained model from a search run. --trial best picks among the "
            "Pareto-front trials by --pick (accuracy, energy, or knee: the front point farthest "
            "from the line through its two extremes), within --max-energy if given. Each "
            "format is reloaded and checked against the in-memory model on the test split."
        ),
        epilog=(
            "examples:\n"
            "  evolve export runs/mine                        # best accuracy, all formats\n"
            "  evolve export runs/mine --pick knee --format onnx\n"
            "  evolve export runs/mine --pick accuracy --max-energy 0.05 --out exported/\n"
            "  evolve export --study mine --storage postgresql://... --trial 12\n"
            "  evolve predict --model runs/mine/exports/trial_12 --input samples.csv"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run", nargs="?", type=Path, help="a run folder (runs/<study>)")
    p.add_argument("--study", help="the study name (its run folder is --runs/<study>)")
    p.add_argument("--runs", type=Path, default=Path("runs"), help="where run folders are")
    p.add_argument("--trial", default="best", help="best (default) or a trial number")
    p.add_argument("--pick", choices=PICKS, default="accuracy", help="how best is chosen")
    p.add_argument("--max-energy", type=float, help="only front trials at or below this µJ")
    p.add_argument(
        "--format",
        default="all",
        help=f"{', '.join(FORMATS)} or all (default); comma-separated for several",
    )
    p.add_argument("--out", type=Path, help="output folder (default runs/<study>/exports/trial_N)")
    p.set_defaults(func=run)


# ----------------------------------------------------------------------------- choosing
def knee(points: Sequence[tuple[float, float]]) -> int:
    """Index of the knee of a 2-D front of (accuracy ↑, energy ↓) points.

    Both coordinates are scaled to [0, 1] over the front; the knee is the point farthest from
    the straight line through the two extremes (the most accurate and the cheapest point). With
    fewer than three points, or all points on that line, it is the most accurate point.
    """
    if not points:
        raise ValueError("an empty front has no knee")
    accs = [p[0] for p in points]
    ens = [p[1] for p in points]

    def scale(v: float, lo: float, hi: float) -> float:
        return 0.0 if hi == lo else (v - lo) / (hi - lo)

    norm = [(scale(a, min(accs), max(accs)), scale(e, min(ens), max(ens))) for a, e in points]
    i_acc = max(range(len(points)), key=lambda i: (accs[i], -ens[i]))
    i_en = min(range(len(points)), key=lambda i: (ens[i], -accs[i]))
    (x1, y1), (x2, y2) = norm[i_acc], norm[i_en]
    length = math.hypot(x2 - x1, y2 - y1)
    if length == 0.0:
        return i_acc
    dist = [abs((y2 - y1) * x - (x2 - x1) * y + x2 * y1 - y2 * x1) / length for x, y in norm]
    best = max(range(len(points)), key=lambda i: (round(dist[i], 12), accs[i]))
    return best if dist[best] > 1e-12 else i_acc


def choose_trial(front: Sequence[Mapping[str, Any]], pick: str, max_energy: float | None) -> int:
    """The trial number ``--trial best`` means: by ``pick`` among front points within budget."""
    points = [f for f in front if "accuracy" in f["values"] and "energy_uj" in f["values"]]
    if not points:
        raise UserError(
            "the run's front has no trial with both accuracy and energy_uj; pass --trial N"
        )
    if max_energy is not None:
        points = [f for f in points if f["values"]["energy_uj"] <= max_energy]
        if not points:
            cheapest = min(f["values"]["energy_uj"] for f in front if "energy_uj" in f["values"])
            raise UserError(
                f"no front trial at or below --max-energy {max_energy:g} µJ (the cheapest needs "
                f"{cheapest:.4g} µJ); raise the budget"
            )
    if pick == "accuracy":
        f = max(points, key=lambda f: (f["values"]["accuracy"], -f["values"]["energy_uj"]))
    elif pick == "energy":
        f = min(points, key=lambda f: (f["values"]["energy_uj"], -f["values"]["accuracy"]))
    else:
        pts = [(f["values"]["accuracy"], f["values"]["energy_uj"]) for f in points]
        f = points[knee(pts)]
    return int(f["trial"])


# ----------------------------------------------------------------------------- formats
def import_extra(module: str, what: str) -> Any:
    """``module`` from the ``export`` extra, or a UserError saying how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(
            f"{what} needs the `export` extra: .venv/bin/pip install -c constraints.txt "
            "-e '.[export]'"
        ) from None


def data_section(
    dataset: str, input_shape: Sequence[int], n_classes: int, input_scale: float, **more: Any
) -> dict[str, Any]:
    """The model card's ``data``: what the model reads and how raw values are prepared."""
    return {
        "dataset": dataset,
        **more,
        "input_shape": [int(d) for d in input_shape],
        "n_classes": int(n_classes),
        "preprocessing": {
            "input_scale": float(input_scale),
            "rule": "model input = raw values × input_scale, reshaped to input_shape",
        },
    }


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("torch", "numpy", "onnx", "onnxruntime", "nir", "snn-evolve"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    return out


def export_torchscript(
    model: torch.nn.Module, x: torch.Tensor, path: Path, info: Mapping[str, Any]
) -> dict[str, Any]:
    """Trace, save, reload; the reloaded logits must equal the model's bit for bit."""
    import torch

    from snn_models.functional import step_loop

    with torch.no_grad(), step_loop(model):
        traced = torch.jit.trace(model, x[:2], check_trace=False)
    with torch.no_grad():
        traced.save(str(path))
        reloaded = torch.jit.load(str(path), map_location="cpu")
        ref, got = model(x), reloaded(x)
    if not torch.equal(ref, got):
        diff = float((ref - got).abs().max())
        raise UserError(f"TorchScript export differs from the model by {diff:.3g}; not kept")
    return {"file": path.name, "bit_identical_logits": True, "checked_samples": len(x)}


def export_onnx(
    model: torch.nn.Module, x: torch.Tensor, path: Path, info: Mapping[str, Any]
) -> dict[str, Any]:
    """torch.onnx (dynamo) with a dynamic batch; onnxruntime must agree within 1e-5."""
    import warnings

    import torch

    ort = import_extra("onnxruntime", "ONNX export")
    from snn_models.functional import step_loop

    batch = torch.export.Dim("batch", min=1)
    with torch.no_grad(), warnings.catch_warnings(), step_loop(model):
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            model,
            (x[:2],),
            dynamo=True,
            dynamic_shapes={"x": {0: batch}},
            verbose=False,
        )
        if program is None:  # only when given a file name, which we do not
            raise UserError("torch.onnx.export returned no program; ONNX export failed")
        program.save(str(path))
    with torch.no_grad():
        ref = model(x).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    diff = float(abs(got - ref).max())
    same = bool((got.argmax(1) == ref.argmax(1)).all())
    if diff > ONNX_TOLERANCE or not same:
        raise UserError(
            f"ONNX export differs from the model (max |Δ| {diff:.3g}, predictions "
            f"{'identical' if same else 'differ'}); not kept"
        )
    return {
        "file": path.name,
        "max_abs_logit_diff": diff,
        "identical_predictions": same,
        "tolerance": ONNX_TOLERANCE,
        "checked_samples": len(x),
        "runtime": "onnxruntime CPUExecutionProvider",
    }


def export_nir(
    model: torch.nn.Module, x: torch.Tensor, path: Path, info: Mapping[str, Any]
) -> dict[str, Any]:
    """NIR graph; read back through our importer, every layer's spikes must be identical."""
    import torch

    nir = import_extra("nir", "NIR export")
    from snn_models.neurons.base import BaseNeuron
    from snn_models.nir_io import from_nir, to_nir

    graph = to_nir(model, tuple(x.shape[1:]), metadata=dict(info))
    nir.write(str(path), graph)
    back = from_nir(nir.read(str(path)))

    def spikes(m: torch.nn.Module) -> list[torch.Tensor]:
        seen: list[torch.Tensor] = []
        hooks = [
            n.register_forward_hook(lambda _m, _a, out: seen.append(out.detach().clone()))
            for n in m.modules()
            if isinstance(n, BaseNeuron)
        ]
        try:
            with torch.no_grad():
                m(x)
        finally:
            for h in hooks:
                h.remove()
        return seen

    ours, theirs = spikes(model), spikes(back)
    same = len(ours) == len(theirs) and all(
        torch.equal(a, b) for a, b in zip(ours, theirs, strict=False)
    )
    if not same:
        raise UserError("the NIR graph read back does not spike as the model does; not kept")
    return {
        "file": path.name,
        "identical_spikes_every_layer": True,
        "layers_checked": len(ours),
        "checked_samples": len(x),
        "nodes": list(graph.nodes),
        "dt": graph.metadata["dt"],
        "readout": graph.metadata["readout_rule"],
    }


EXPORTERS = {
    "torchscript": (export_torchscript, "model.torchscript"),
    "onnx": (export_onnx, "model.onnx"),
    "nir": (export_nir, "model.nir"),
}


def parse_formats(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if names == ["all"]:
        return list(FORMATS)
    bad = [n for n in names if n not in FORMATS]
    if bad or not names:
        raise UserError(
            f"--format: unknown {', '.join(bad) or 'empty'}; choose {', '.join(FORMATS)} or all"
        )
    return names


# ----------------------------------------------------------------------------- the command
def run_dir_of(a: argparse.Namespace, command: str = "export") -> Path:
    """The run folder of a command that takes ``RUN`` or ``--study NAME [--runs DIR]``."""
    if (a.run is None) == (a.study is None):
        raise UserError(f"give a run folder (evolve {command} runs/<study>) or --study NAME")
    return Path(a.run if a.run is not None else a.runs / a.study).resolve()


def run(a: argparse.Namespace) -> int:

    from evolve import checkpoints
    from evolve.datasets import load_dataset
    from evolve.results import pareto_summary
    from evolve.show_cmd import dataset_of, front_settings, load_run
    from evolve.training import evaluate

    formats = parse_formats(a.format)
    run_dir = run_dir_of(a)
    study, cfg = load_run(run_dir)
    if a.trial == "best":
        objectives, reference = front_settings(cfg, run_dir)
        summary = pareto_summary(study, objectives, reference)
        number = choose_trial(summary["front"], a.pick, a.max_energy)
    else:
        try:
            number = int(a.trial)
        except ValueError:
            raise UserError(f"--trial must be best or a trial number, got {a.trial!r}") from None
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    if number not in trials:
        raise UserError(
            f"study {run_dir.name!r} has no trial {number}; see `evolve show {run_dir}`"
        )
    trial = trials[number]
    out = (a.out or run_dir / "exports" / f"trial_{number}").resolve()
    if out.exists():  # before any work; new_folder checks again
        raise UserError(f"{out} already exists; choose another --out or delete it")
    ckpt = checkpoints.load(run_dir, number)  # a damaged file is refused before a folder is made
    model = ckpt.model
    data = load_dataset(
        dataset_of(cfg, run_dir),
        seed=int(cfg.get("seed", 0)),
        data_dir=Path(cfg["data_dir"]) if cfg.get("data_dir") else None,
    )
    with new_folder(out) as tmp:
        x = data.test.x
        test_acc = evaluate(model, data.test)
        attrs = trial.user_attrs
        shutil.copyfile(ckpt.path, tmp / "model.pt")
        checks = {}
        info = {"dataset": data.name, "input_scale": data.input_scale, "n_classes": data.n_classes}
        for name in formats:
            fn, filename = EXPORTERS[name]
            checks[name] = fn(model, x, tmp / filename, info)
        card = {
            "study": run_dir.name,
            "trial": number,
            "picked_by": a.pick if a.trial == "best" else "--trial",
            "arch": attrs.get("arch"),
            "spec": ckpt.spec,
            "data": data_section(
                data.name,
                data.input_shape,
                data.n_classes,
                data.input_scale,
                source=data.source,
                seed=int(cfg.get("seed", 0)),
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
                "model": "45nm_fp32: E = 4.6 pJ × MACs (real-valued input layer) + 0.9 pJ × SOPs "
                "(spikes × fan-out), measured from validation spikes (Horowitz, ISSCC 2014)",
                "sops": attrs.get("sops"),
                "macs": attrs.get("macs"),
            },
            "firing_rates": attrs.get("firing_rates"),
            "formats": checks,
            "versions": _versions(),
            "command": "evolve " + " ".join(sys.argv[1:]),
            "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        (tmp / CARD).write_text(json.dumps(card, indent=2, default=str) + "\n")
    print(f"exported trial {number} of {run_dir.name} to {out}")
    print(
        f"  test accuracy {test_acc * 100:.2f} % (n={len(data.test)}), energy "
        f"{attrs.get('energy_uj', float('nan')):.4g} µJ/inference"
    )
    for name, c in checks.items():
        what = {
            "torchscript": "bit-identical logits",
            "onnx": f"max |Δ| {c.get('max_abs_logit_diff', 0.0):.2g}",
            "nir": "identical spikes at every layer, read back",
        }[name]
        print(f"  {name:<12} {c['file']}  ({what} on {c['checked_samples']} test samples)")
    return 0


__all__ = [
    "EXPORTERS",
    "FORMATS",
    "add_parser",
    "choose_trial",
    "data_section",
    "import_extra",
    "knee",
    "run",
]
