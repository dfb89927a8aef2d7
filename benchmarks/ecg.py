"""ECG anomaly detection on real MIT-BIH data: detection rate, false positives, energy per beat.

Each run is the exact pipeline of ``evolve ecg`` (:func:`evolve.apps.ecg.pipeline.run_pipeline`): R peaks and
beats of MIT-BIH record 208 (unlabelled), normal beats chosen by shape and rhythm without labels,
an autoencoder trained on 70 % of them, the threshold at the ``--quantile`` of the scores of the
other 30 % (normal data only), then evaluation on sktime's labelled MIT-BIH excerpt (one
labelled premature beat, about 22 normal beats). Two networks of the same size:

* ``SNN`` — the spiking autoencoder 65 → 64 → 16 → 64 → 65 (LIF, T = 8, mean-membrane output);
  energy per beat counted from its spikes on the excerpt's beats (45 nm fp32);
* ``ANN`` — its ANN twin (ReLU, one pass), trained and thresholded the same way; energy = its
  dense MACs.

Reported per network over ``--seeds`` seeds (the split, the initialisation and the batches):
whether the labelled anomaly is detected, detection rate (flagged abnormal / abnormal beats),
false-positive rate (flagged normal / normal beats of the excerpt), the abnormal beat's score
over the threshold, the flag rate of record 208's held-out normal beats and of the beats the
normal-beat rule rejected (mostly PVCs), and energy per beat.

    .venv/bin/python benchmarks/ecg.py --out benchmarks/results/ecg.json
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from _common import mean_std, pm, table, write_json
from meta import default_out

from evolve.apps.ecg.pipeline import ECGSettings, load_excerpt, run_pipeline
from snn_models.energy import PJ_PER_UJ, get_profile

NETWORKS = (("SNN", "snn"), ("ANN (same size)", "ann"))


def one_run(settings: ECGSettings, excerpt: Any) -> dict[str, Any]:
    result = run_pipeline(settings, excerpt=excerpt)
    s = result.summary()
    r, e, en = s["record_208"], s["excerpt"], s["energy"]
    return {
        "seed": settings.seed,
        "anomaly_detected": e["anomaly_detected"],
        "detection_rate": e["detection_rate"],
        "false_positive_rate": e["false_positive_rate"],
        "false_positives": e["false_positives"],
        "n_normal": e["n_normal"],
        "n_abnormal": e["n_abnormal"],
        "abnormal_score_over_threshold": [v / r["threshold"] for v in e["abnormal_scores"]],
        "abnormal_rhythm_share": e["abnormal_rhythm_share"],
        "max_normal_score_over_threshold": e["max_normal_score"] / r["threshold"],
        "border_flagged": e["border_flagged"],
        "threshold": r["threshold"],
        "heldout_flag_rate": r["heldout_flag_rate"],
        "rejected_flag_rate": r["rejected_flag_rate"],
        "energy_per_beat_uj": en["energy_per_beat_uj"],
        "mac_energy_per_beat_uj": en["ann_energy_per_beat_uj"],
        "sops_per_beat": en["sops_per_beat"],
        "macs_per_beat": en["macs_per_beat"],
        "firing_rates": en["firing_rates"],
        "train_seconds": r["train_seconds"],
        "seconds": s["seconds"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=ECGSettings.epochs)
    ap.add_argument("--quantile", type=float, default=ECGSettings.quantile)
    ap.add_argument("--out", type=Path, default=default_out("ecg"))
    args = ap.parse_args()
    excerpt = load_excerpt()
    runs: dict[str, list[dict[str, Any]]] = {}
    for label, network in NETWORKS:
        for seed in range(args.seeds):
            settings = ECGSettings(
                epochs=args.epochs, quantile=args.quantile, seed=seed, network=network
            )
            runs.setdefault(label, []).append(one_run(settings, excerpt))
    print(
        f"MIT-BIH record 208 (train, unlabelled) -> sktime MIT-BIH excerpt (labelled); "
        f"{args.epochs} epochs, threshold q{args.quantile:g} of held-out normal scores, "
        f"{args.seeds} seeds"
    )
    header = [
        "network",
        "anomaly detected",
        "detection rate",
        "false-positive rate",
        "abnormal score / threshold",
        "energy / beat (µJ)",
        "PVC-rich rest of 208 flagged",
    ]
    rows = []
    summary: dict[str, dict[str, Any]] = {}
    for label, _ in NETWORKS:
        rs = runs[label]
        found = sum(bool(r["anomaly_detected"]) for r in rs)
        rows.append(
            [
                label,
                f"{found}/{len(rs)}",
                pm([r["detection_rate"] for r in rs]),
                pm([r["false_positive_rate"] for r in rs], digits=3),
                pm([r["abnormal_score_over_threshold"][0] for r in rs], digits=1),
                pm([r["energy_per_beat_uj"] for r in rs], digits=4),
                pm([r["rejected_flag_rate"] for r in rs]),
            ]
        )
        summary[label] = {
            "anomaly_detected": f"{found}/{len(rs)}",
            **{
                k: mean_std([r[k] for r in rs])
                for k in (
                    "detection_rate",
                    "false_positive_rate",
                    "energy_per_beat_uj",
                    "heldout_flag_rate",
                    "rejected_flag_rate",
                    "train_seconds",
                )
            },
        }
    print(table(header, rows))
    snn, ann = summary["SNN"], summary["ANN (same size)"]
    ratio = snn["energy_per_beat_uj"][0] / ann["energy_per_beat_uj"][0]
    e_mac = get_profile(ECGSettings.energy_profile).e_mac_pj / PJ_PER_UJ
    first = runs["SNN"][0]
    note = (
        f"SNN energy per beat = {ratio:.2f} x the same-size ANN's MACs; the SNN's encoding "
        f"layer (65 x 64 MACs on the real-valued beat) is "
        f"{first['macs_per_beat'] * e_mac / first['energy_per_beat_uj']:.0%} "
        "of its energy"
    )
    print(note)
    write_json(
        args.out,
        {
            "settings": {"epochs": args.epochs, "quantile": args.quantile, "seeds": args.seeds},
            "excerpt": excerpt.source,
            "summary": summary,
            "note": note,
            "table": table(header, rows),
            "runs": runs,
        },
    )


if __name__ == "__main__":
    main()
