"""What the experiment scripts share: data subsets, one training run, statistics, output.

Output: :func:`write_json` writes ``benchmarks/results/<name>.json`` with the ``meta`` block of
``benchmarks/meta.py``; ``benchmarks/render_tables.py`` renders the docs' tables from it.

Every run goes through :func:`evolve.engine.trial.evaluate_trial`, the exact code a search trial runs:
the model is selected on validation accuracy, energy is measured from its spikes on the
validation split, and accuracy is reported on the held-out test split.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from meta import write_result
from table_parts import mean_std, pm  # noqa: F401  (the scripts' tables and the docs' agree)

from evolve.data.datasets import Dataset, Split, load_dataset
from evolve.engine.trial import TrialSettings, evaluate_trial
from evolve.store.runlog import run_log


def load(
    name: str, seed: int = 0, train: int | None = None, evaluate: int | None = None
) -> Dataset:
    """A data set, optionally cut to ``train`` training and ``evaluate`` val/test samples.

    The cut takes a seeded random subset of each split, so every class stays represented.
    """
    data = load_dataset(name, seed=seed)

    def cut(split: Split, n: int | None, offset: int) -> Split:
        if n is None or n >= len(split):
            return split
        g = torch.Generator().manual_seed(seed + offset)
        idx = torch.randperm(len(split), generator=g)[:n]
        return Split(split.x[idx], split.y[idx])

    return Dataset(
        name=data.name,
        train=cut(data.train, train, 1),
        val=cut(data.val, evaluate, 2),
        test=cut(data.test, evaluate, 3),
        input_shape=data.input_shape,
        n_classes=data.n_classes,
        source=data.source,
        input_scale=data.input_scale,
    )


def run(arch: Mapping[str, Any], data: Dataset, *, epochs: int, seed: int) -> dict[str, Any]:
    """Train and measure one architecture; the figures the experiment tables use."""
    # warnings on stderr; the trial's per-run INFO lines would drown the table
    with run_log(None, echo="WARNING"):
        out = evaluate_trial(dict(arch), data, TrialSettings(epochs=epochs, seed=seed))
    a = out.attrs
    rates = list(a["firing_rates"].values())
    return {
        "seed": seed,
        "val_accuracy": a["val_accuracy"],
        "test_accuracy": a["test_accuracy"],
        "energy_uj": a["energy_uj"],
        "attention_energy_uj": a.get("attention_energy_uj"),
        "attention_types": a.get("attention_types"),
        "attention_energy_by_block": a.get("attention_energy_by_block"),
        "firing_rate": statistics.fmean(rates) if rates else 0.0,
        "firing_rates": a["firing_rates"],
        "latency_ms": a["latency_ms"],
        "n_params": a["n_params"],
        "train_seconds": a["train_seconds"],
    }


@torch.no_grad()
def latency_ms(model: torch.nn.Module, x: torch.Tensor, batch: int, repeats: int) -> float:
    """Median milliseconds per sample of ``model(x[:batch])`` (eval mode, after one warm-up).

    The networks run dense tensor ops, so this does not depend on the weights or the spikes.
    """
    model.eval()
    xb = x[:batch]
    model(xb)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model(xb)
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times) / len(xb)


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-markdown table (also readable in a terminal)."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def write_json(path: Path, payload: dict[str, Any], name: str | None = None) -> None:
    """Write ``payload`` with its ``meta`` block (see ``benchmarks/meta.py``) to ``path``.

    ``name`` is the benchmark's name (default: the running script's stem).
    """
    write_result(path, name or Path(sys.argv[0]).stem, payload, threads=torch.get_num_threads())


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend, or None (with a note) when it is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed (pip install -e '.[bench]'): no plot")
        return None
    return plt


def latest_search_run(root: Path, space: str) -> Path | None:
    """The newest ``runs/<space>-*`` folder holding a pareto.json, if any."""
    runs = sorted(
        (p for p in root.glob(f"{space}-*") if (p / "pareto.json").exists()),
        key=lambda p: p.stat().st_mtime,
    )
    return runs[-1] if runs else None


def front_of(run_dir: Path) -> list[dict[str, Any]]:
    """The Pareto front of a search run (each point: trial, values, test_accuracy, arch)."""
    return json.loads((run_dir / "pareto.json").read_text())["front"]
