"""The SNN-vs-ANN table (issue 5): accuracy, CPU latency, energy and spikes, side by side.

For each data set (digits; Fashion-MNIST from the Debian package ``dataset-fashion-mnist``, cut
to a seeded subset so the table builds in minutes on 2 cores), the rows are:

* **ANN baseline**: the ANN twin of the SNN's architecture (same layers, ReLU, one pass),
  energy with 45 nm fp32 MACs; and the same network costed with INT8 MACs (0.2 pJ multiply +
  0.03 pJ add), given as data: an INT8 ANN narrows the gap to the SNN;
* **SNN**: the SNN architecture trained with surrogate gradients; the best-validation point of a
  search run when ``--search-run-<data>`` is given, else the fixed architecture printed above the
  table (say which in any report);
* **SNN + KD**: the same architecture distilled from the cached ANN teacher of ``--teacher-family``
  (default: the SNN's own family at the cache's default width, ``evolve teacher``), α and τ as
  given; the teacher's one-off training time is reported;
* **converted SNN** at T = 8, 16, 32: the ANN twin converted (BatchNorm folded, 99.9th-percentile
  normalisation, soft-reset IF).

Accuracy and energy are means over ``--seeds`` seeds (the seed of the initialisation and the data
order; the split is fixed). Energy is per inference on the test split, from measured spikes
(45 nm model; it ignores memory access, which favours neither side in a fair way: see
docs/training.md, "SNN against ANN").
Latency is the median wall time per sample of ``model(x)`` on this CPU for batch 1 and batch 256.

    .venv/bin/python benchmarks/snn_vs_ann.py --out benchmarks/results/snn_vs_ann.json

``--reuse OLD.json --only-kd`` retrains only the KD rows (e.g. with another teacher) and takes
every other row from OLD.json, which must come from the same data and architecture settings.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

import torch
from _common import front_of, latency_ms, load, mean_std, table, write_json
from meta import default_out
from tqdm import tqdm

from evolve.engine.arch import arch_to_specs
from evolve.training.distill import Distiller
from evolve.training.teachers import TeacherCache
from evolve.training.trainer import TrainConfig, evaluate, train
from snn_models import build, measure_energy
from snn_models.ann import build_ann
from snn_models.conversion import convert, set_timesteps

DEFAULT_ARCH = {  # used when no search run is given
    "digits": {
        "kind": "mlp",
        "timesteps": 4,
        "layers": [{"width": 256, "neuron": "lif"}, {"width": 256, "neuron": "lif"}],
    },
    "fashion_mnist": {
        "kind": "cnn",
        "timesteps": 4,
        "layers": [{"width": 16, "neuron": "lif"}, {"width": 32, "neuron": "lif"}],
    },
}


def measure(model: torch.nn.Module, data: Any, profile: str = "45nm_fp32") -> dict[str, Any]:
    model.eval()
    e = measure_energy(model, (x for x, _ in data.test.batches(256)), profile=profile)
    return {
        "test_accuracy": evaluate(model, data.test),
        "energy_uj": e.energy_uj,
        "spikes_per_inference": sum(e.spikes_per_inference.values()),
    }


def with_latency(row: dict[str, Any], model: torch.nn.Module, data: Any) -> dict[str, Any]:
    x = data.test.x
    row["latency_b1_ms"] = latency_ms(model, x, 1, 30)
    row["latency_b256_ms"] = latency_ms(model, x, 256, 5)
    return row


def arch_for(name: str, search_run: Path | None) -> tuple[dict[str, Any], dict[str, Any], str]:
    """(NetSpec dict, training overrides, where it came from)."""
    if search_run is None:
        return DEFAULT_ARCH[name], {}, "fixed architecture (no search run given)"
    best = max(front_of(search_run), key=lambda p: p["values"]["accuracy"])
    arch = {k: v for k, v in best["arch"].items() if not k.startswith("kd_")}
    net, over = arch_to_specs(arch)
    return net, over, f"{search_run} trial {best['trial']} (best validation accuracy on its front)"


def run_dataset(name: str, args: argparse.Namespace) -> dict[str, Any]:
    if name == "digits":
        data, epochs = load("digits"), args.digits_epochs
    else:
        data = load(name, train=args.fashion_train, evaluate=args.fashion_eval)
        epochs = args.fashion_epochs
    net, over, source = arch_for(name, getattr(args, f"search_run_{name}"))
    lr = float(over.get("lr", 3e-3))
    print(f"{data.name}: SNN {source}: {net}")
    rows: dict[str, list[dict[str, Any]]] = {}
    family = net["kind"] if args.teacher_family == "same" else args.teacher_family
    teacher = TeacherCache(args.teacher_cache).get(data, family, seed=0, epochs=args.teacher_epochs)
    reused = None
    if args.only_kd:
        old = {d["dataset"]: d for d in json.loads(args.reuse.read_text())["datasets"]}
        if data.name not in old or old[data.name]["snn_spec"] != net:
            raise SystemExit(f"--reuse {args.reuse}: no {data.name} rows for this architecture")
        rows = {k: v for k, v in old[data.name]["rows"].items() if k != "SNN + KD"}
        reused = str(args.reuse)
    bar = tqdm(total=args.seeds * (1 if args.only_kd else 4), desc=data.name, unit="model")
    for seed in range(args.seeds):
        cfg = TrainConfig(epochs=epochs, lr=lr, seed=seed, progress=False)
        if args.only_kd:
            torch.manual_seed(seed)
            snn = build(net, data.input_shape, data.n_classes)
            kd = Distiller(teacher.model, alpha=args.kd_alpha, temperature=args.kd_temperature)
            train(snn, data.train, data.val, cfg, loss_fn=kd)
            rows.setdefault("SNN + KD", []).append(
                with_latency(measure(snn, data) | {"timesteps": snn.timesteps}, snn, data)
            )
            bar.update()
            continue
        # the ANN twin: baseline and source of the conversion
        torch.manual_seed(seed)
        ann = build_ann(net, data.input_shape, data.n_classes)
        train(ann, data.train, data.val, cfg)
        r = measure(ann, data)
        rows.setdefault("ANN twin (fp32)", []).append(with_latency(r | {"timesteps": 1}, ann, data))
        r8 = measure(ann, data, "45nm_int8")
        rows.setdefault("ANN twin, INT8 energy", []).append(
            r8 | {"timesteps": 1, "latency_b1_ms": None, "latency_b256_ms": None}
        )
        bar.update()
        calibration = [data.train.x[:512]]
        snn_conv = convert(ann, calibration, timesteps=32)
        for t in args.convert_timesteps:
            set_timesteps(snn_conv, t)
            rows.setdefault(f"converted SNN, T={t}", []).append(
                with_latency(measure(snn_conv, data) | {"timesteps": t}, snn_conv, data)
            )
        bar.update()
        for label, kd in (("SNN", False), ("SNN + KD", True)):
            torch.manual_seed(seed)
            snn = build(net, data.input_shape, data.n_classes)
            loss_fn = None
            if kd:
                loss_fn = Distiller(
                    teacher.model, alpha=args.kd_alpha, temperature=args.kd_temperature
                )
            train(snn, data.train, data.val, cfg, loss_fn=loss_fn)
            rows.setdefault(label, []).append(
                with_latency(measure(snn, data) | {"timesteps": snn.timesteps}, snn, data)
            )
            bar.update()
    bar.close()
    ann_energy = mean_std([r["energy_uj"] for r in rows["ANN twin (fp32)"]])[0]
    summary = []
    for label, rs in rows.items():
        acc = mean_std([r["test_accuracy"] for r in rs])
        energy = mean_std([r["energy_uj"] for r in rs])[0]
        lat1 = [r["latency_b1_ms"] for r in rs if r["latency_b1_ms"] is not None]
        lat256 = [r["latency_b256_ms"] for r in rs if r["latency_b256_ms"] is not None]
        summary.append(
            {
                "row": label,
                "test_accuracy": acc[0],
                "test_accuracy_std": acc[1],
                "energy_uj": energy,
                "energy_vs_ann": energy / ann_energy,
                "spikes_per_inference": mean_std([r["spikes_per_inference"] for r in rs])[0],
                "timesteps": rs[0]["timesteps"],
                "latency_b1_ms": statistics.median(lat1) if lat1 else None,
                "latency_b256_ms": statistics.median(lat256) if lat256 else None,
            }
        )
    by = {s["row"]: s for s in summary}
    kd_gain = 100 * (by["SNN + KD"]["test_accuracy"] - by["SNN"]["test_accuracy"])
    target_acc = 0.97 if name == "digits" else 0.90
    snn_rows = [s for s in summary if "SNN" in s["row"]]
    meets = [
        s["row"] for s in snn_rows if s["test_accuracy"] >= target_acc and s["energy_vs_ann"] <= 0.2
    ]
    conv32 = by.get("converted SNN, T=32")
    result = {
        "dataset": data.name,
        "snn_source": source,
        "snn_spec": net,
        "epochs": epochs,
        "teacher": {
            k: teacher.meta[k] for k in ("name", "val_accuracy", "test_accuracy", "train_seconds")
        }
        | {"cached": teacher.cached},
        "rows_reused_from": reused,
        "rows": rows,
        "summary": summary,
        "kd_gain_points": kd_gain,
        "target_snn": f">= {100 * target_acc:.0f}% at <= 20% of the ANN's energy",
        "rows_meeting_target": meets,
        "conversion_gap_points_t32": None
        if conv32 is None
        else 100 * (by["ANN twin (fp32)"]["test_accuracy"] - conv32["test_accuracy"]),
    }
    return result


def fmt(v: float | None, digits: int = 3) -> str:
    return "" if v is None else f"{v:.{digits}f}"


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--datasets", nargs="+", default=["digits", "fashion_mnist"])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--digits-epochs", type=int, default=20)
    ap.add_argument("--fashion-epochs", type=int, default=6)
    ap.add_argument("--fashion-train", type=int, default=20000, help="training samples kept")
    ap.add_argument("--fashion-eval", type=int, default=5000, help="val and test samples kept")
    ap.add_argument("--search-run-digits", type=Path, help="search run whose best SNN is used")
    ap.add_argument("--search-run-fashion_mnist", type=Path, dest="search_run_fashion_mnist")
    ap.add_argument("--kd-alpha", type=float, default=0.5)
    ap.add_argument("--kd-temperature", type=float, default=4.0)
    ap.add_argument("--teacher-epochs", type=int, default=20)
    ap.add_argument(
        "--teacher-family", default="same", help="same (the SNN's kind), mlp, cnn or transformer"
    )
    ap.add_argument(
        "--only-kd", action="store_true", help="retrain only the KD rows (needs --reuse)"
    )
    ap.add_argument("--reuse", type=Path, help="an earlier JSON whose other rows are kept")
    ap.add_argument("--teacher-cache", type=Path, default=Path("runs/teachers"))
    ap.add_argument("--convert-timesteps", type=int, nargs="+", default=[8, 16, 32])
    ap.add_argument("--out", type=Path, default=default_out("snn_vs_ann"))
    args = ap.parse_args()
    if args.only_kd and args.reuse is None:
        ap.error("--only-kd needs --reuse OLD.json")
    results = [run_dataset(name, args) for name in args.datasets]
    for res in results:
        print(f"\n{res['dataset']} — SNN: {res['snn_source']}")
        header = [
            "row",
            "test acc %",
            "latency b1 ms",
            "latency b256 ms",
            "energy µJ",
            "vs ANN",
            "spikes/inf",
            "T",
        ]
        rows = [
            [
                s["row"],
                f"{100 * s['test_accuracy']:.2f} ± {100 * s['test_accuracy_std']:.2f}",
                fmt(s["latency_b1_ms"]),
                fmt(s["latency_b256_ms"], 4),
                f"{s['energy_uj']:.4f}",
                f"{s['energy_vs_ann']:.3f}",
                f"{s['spikes_per_inference']:.0f}",
                str(s["timesteps"]),
            ]
            for s in res["summary"]
        ]
        print(table(header, rows))
        t = res["teacher"]
        print(
            f"teacher {t['name']}: test {100 * t['test_accuracy']:.2f}%, trained once in "
            f"{t['train_seconds']:.1f} s{' (reused from the cache)' if t['cached'] else ''}"
        )
        print(f"KD gain on the same architecture: {res['kd_gain_points']:+.2f} points")
        print(
            f"SNN rows meeting {res['target_snn']}: {', '.join(res['rows_meeting_target']) or 'none'}"
        )
        if res["conversion_gap_points_t32"] is not None:
            print(
                f"conversion gap to the ANN at T=32: {res['conversion_gap_points_t32']:.2f} points"
            )
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    write_json(args.out, {"settings": settings, "datasets": results})


if __name__ == "__main__":
    main()
