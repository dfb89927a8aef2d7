"""Forward + backward time of one SDSA block against one standard-attention block (issue 4).

Both blocks take spikes ``[T=4, B=32, N, D=128]`` (2 heads) and are timed interleaved in one
process (rotating order, median over rounds), on the CPU, at N in {64, 256}. The claim to test:
SDSA is no slower than standard attention at N = 256. Prints a table and writes JSON.

    .venv/bin/python benchmarks/attention_speed.py --out benchmarks/results/attention_speed.json
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from meta import default_out, write_result

from snn_models.attention import make_attention
from snn_models.functional import reset_net

T, B, D, HEADS = 4, 32, 128, 2


def step(block: torch.nn.Module, x: torch.Tensor, w: torch.Tensor) -> float:
    reset_net(block)
    xx = x.clone().requires_grad_()
    t0 = time.perf_counter()
    (block(xx) * w).sum().backward()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--tokens", type=int, nargs="+", default=[64, 256])
    ap.add_argument("--out", type=Path, default=default_out("attention_speed"))
    args = ap.parse_args()
    torch.manual_seed(0)
    rows = []
    for n in args.tokens:
        blocks = {kind: make_attention(kind, D, heads=HEADS) for kind in ("standard", "sdsa")}
        x = (torch.rand(T, B, n, D) < 0.2).float()
        w = torch.randn(T, B, n, D)
        times: dict[str, list[float]] = {k: [] for k in blocks}
        for block in blocks.values():  # warm-up
            step(block, x, w)
        for r in range(args.rounds):
            order = list(blocks) if r % 2 == 0 else list(reversed(blocks))
            for kind in order:
                times[kind].append(step(blocks[kind], x, w))
        med = {k: 1000 * statistics.median(v) for k, v in times.items()}
        rows.append(
            {
                "tokens": n,
                "standard_ms": med["standard"],
                "sdsa_ms": med["sdsa"],
                "ratio_sdsa_over_standard": med["sdsa"] / med["standard"],
            }
        )
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "T": T,
        "B": B,
        "D": D,
        "heads": HEADS,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "rows": rows,
        "target": "SDSA no slower than standard at N = 256",
        "pass": all(r["ratio_sdsa_over_standard"] <= 1.0 for r in rows if r["tokens"] == 256),
    }
    write_result(args.out, "attention_speed", result)
    print("| N | standard ms | SDSA ms | SDSA / standard |")
    print("|---|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['tokens']} | {r['standard_ms']:.1f} | {r['sdsa_ms']:.1f} | {r['ratio_sdsa_over_standard']:.2f} |"
        )
    print(f"target (SDSA <= standard at N = 256): {'pass' if result['pass'] else 'FAIL'}")


if __name__ == "__main__":
    main()
