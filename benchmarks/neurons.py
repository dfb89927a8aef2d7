"""Speed of snn-evolve's fused neurons against snnTorch and SpikingJelly, on CPU.

What is measured (all contenders interleaved in one process: every round runs each contender
once, in an order rotated by one each round; we report the median time of every contender and
the median of the per-round paired ratios ours/theirs, which cancels slow drifts of the machine):

* **W3** — one LIF layer alone over ``x: [T=16, B=64, N=4096]`` (``x.requires_grad``), forward
  and backward: ``loss = (spikes * w).sum()`` with a fixed random ``w``, backward to ``x``.
  Our ``IFNode`` and ``BIFNode`` run the same workload (compared with our ``LIFNode``).
* **W1** — MLP 64-256-256-10 (Linear, LIF, Linear, LIF, Linear; logits = output averaged over
  T), ``B=128``, ``T=8``: one training step (forward, cross-entropy, backward, Adam step).
* **W2** — conv net (Conv 1→32 k3 p1, BN, LIF, maxpool 2, Conv 32→64 k3 p1, BN, LIF,
  maxpool 2, Linear 64·7·7→10), 28×28 input, ``B=64``, ``T=4``: one training step.

Contenders, all with beta = 0.5, threshold 1, hard reset to 0, ATan(alpha=2) surrogate:

* ours — ``snn_models.neurons.LIFNode(decay=0.5)`` in multi-step mode (``[T, B, ...]``, all T
  steps in one fused autograd Function), synaptic layers time-distributed (T folded into B);
* snnTorch — ``snntorch.Leaky(beta=0.5, reset_mechanism="zero")`` stepped over T in a Python
  loop (its documented usage: ``mem = lif.reset_mem()`` then ``spk, mem = lif(cur, mem)`` per
  step). Its default ``reset_delay=True`` is already our maths: the spike of step t is
  ``H(beta * v + x - theta)`` with the reset applied before the next charge, so spikes *and*
  input gradients equal ours bit for bit (checked below). ``reset_delay=False`` gives the same
  spikes but lets the gradient flow through the reset (it is not detached), so it is not used;
* SpikingJelly — ``neuron.LIFNode(tau=2.0, decay_input=False, v_reset=0.0, detach_reset=True,
  step_mode="m")`` (its charge ``v - v/tau + x`` equals ``0.5 v + x``), with ``layer.*`` in
  multi-step mode. On CPU SpikingJelly runs its Torch (autograd) implementation; cupy and
  Triton are not available.

Also measured: copy bandwidth (``dst.copy_(src)`` on 256 MB, read + write bytes counted), the
memory-bandwidth floor of W3 for our LIF, and exact equality of forward spikes with snnTorch
(W3 neuron alone, both ``reset_delay`` settings, and the W1 MLP with the Linear weights copied
from ours), plus the W3 input gradients against snnTorch and SpikingJelly.

Run (``make bench`` does the first)::

    .venv/bin/python benchmarks/neurons.py --out benchmarks/results/neurons.json
    .venv/bin/python benchmarks/neurons.py --quick          # smoke run, a few rounds

The peers come from the ``bench`` extra (``pip install -c constraints.txt -e '.[dev,bench]'``).
torchvision is never imported (it does not load beside the CPU torch build). Timings on a
shared machine are noisy: run it on an otherwise idle machine (the load average is recorded).
Our fused kernels allocate ``[T, ...]``-sized tensors (16 MB on W3) on every call, so their time
also depends on the allocator: with glibc's defaults such blocks are returned to the OS when
freed and page-faulted in again on the next call (about a third of W3's time on a 2-core VM).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import hashlib
import importlib.metadata
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
import torch.nn.functional as F
from meta import default_out, write_result
from torch import Tensor, nn

from snn_models.functional import reset_net
from snn_models.layers import Flatten, td_batchnorm, td_conv2d, td_linear, td_maxpool
from snn_models.neurons import BIFNode, IFNode, LIFNode
from snn_models.neurons.base import BaseNeuron

BETA = 0.5
TAU = 1.0 / (1.0 - BETA)  # SpikingJelly, decay_input=False: v - v/tau + x = (1 - 1/tau) v + x
THRESHOLD = 1.0
SEED = 0

W3_SHAPE = (16, 64, 4096)  # T, B, N
W1_T, W1_B = 8, 128
W2_T, W2_B = 4, 64

OURS, SNNTORCH, SJ = "ours", "snnTorch", "SpikingJelly"
OURS_IF, OURS_BIF = "ours IF", "ours BIF"

#: (workload, ours, theirs, bound): the paired ratio time(ours)/time(theirs) must be <= bound.
#: "IF within 10 % of LIF" is read as IF/LIF <= 1.10 (IF being faster is not a failure).
Target = tuple[str, str, str, float]
TARGETS: list[Target] = [
    ("W3", OURS, SNNTORCH, 0.2),
    ("W3", OURS, SJ, 0.35),
    ("W3", OURS_IF, OURS, 1.10),
    ("W3", OURS_BIF, OURS, 1.5),
    ("W1", OURS, SNNTORCH, 0.4),
    ("W2", OURS, SNNTORCH, 0.8),
]

Step = Callable[[], None]


# --------------------------------------------------------------------------- peers
@dataclass
class Peers:
    """The optional peer libraries, or why each one is unavailable."""

    snntorch: ModuleType | None = None
    sj: dict[str, ModuleType] = field(default_factory=dict)  # neuron, layer, surrogate, functional
    versions: dict[str, str] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)


def load_peers() -> Peers:
    """Import snnTorch and the SpikingJelly pieces we use; record failures instead of raising."""
    peers = Peers()
    try:
        import snntorch

        peers.snntorch = snntorch
        peers.versions[SNNTORCH] = str(snntorch.__version__)
    except Exception as e:  # any import failure means "unavailable", with the reason
        peers.unavailable[SNNTORCH] = f"{type(e).__name__}: {e}"
    try:
        from spikingjelly.activation_based import functional, layer, neuron, surrogate

        peers.sj = {
            "neuron": neuron,
            "layer": layer,
            "surrogate": surrogate,
            "functional": functional,
        }
        peers.versions[SJ] = importlib.metadata.version("spikingjelly")
    except Exception as e:  # e.g. an import that drags torchvision in and fails
        peers.unavailable[SJ] = f"{type(e).__name__}: {e}"
    return peers


def snntorch_leaky(snntorch: ModuleType, reset_delay: bool = True) -> Any:
    """snnTorch's LIF with our maths: hard reset to zero, strict threshold, detached reset.

    ``reset_delay=True`` (snnTorch's default) only delays the zeroing of the *stored* membrane to
    the start of the next step; spikes and (detached-reset) gradients are ours exactly.
    """
    return snntorch.Leaky(
        beta=BETA, threshold=THRESHOLD, reset_mechanism="zero", reset_delay=reset_delay
    )


def sj_lif(sj: dict[str, ModuleType]) -> Any:
    """SpikingJelly's multi-step LIF with our decay, hard reset to 0 and ATan(alpha=2)."""
    return sj["neuron"].LIFNode(
        tau=TAU,
        decay_input=False,
        v_threshold=THRESHOLD,
        v_reset=0.0,
        surrogate_function=sj["surrogate"].ATan(alpha=2.0),
        detach_reset=True,
        step_mode="m",
    )


# --------------------------------------------------------------------------- models
class OursNet(nn.Module):
    """A time-distributed stack of ours; logits are the output averaged over T."""

    def __init__(self, *layers: nn.Module) -> None:
        super().__init__()
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).mean(0)


def ours_mlp() -> OursNet:
    return OursNet(
        td_linear(64, 256),
        LIFNode(decay=BETA, threshold=THRESHOLD),
        td_linear(256, 256),
        LIFNode(decay=BETA, threshold=THRESHOLD),
        td_linear(256, 10),
    )


def ours_cnn() -> OursNet:
    return OursNet(
        td_conv2d(1, 32, 3, padding=1),
        td_batchnorm(32, 2),
        LIFNode(decay=BETA, threshold=THRESHOLD),
        td_maxpool(2),
        td_conv2d(32, 64, 3, padding=1),
        td_batchnorm(64, 2),
        LIFNode(decay=BETA, threshold=THRESHOLD),
        td_maxpool(2),
        Flatten(),
        td_linear(64 * 7 * 7, 10),
    )


class SnnTorchMLP(nn.Module):
    """The W1 MLP written the snnTorch way: per-step layers in a Python loop over T."""

    def __init__(self, snntorch: ModuleType) -> None:
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(64, 256), nn.Linear(256, 256), nn.Linear(256, 10)
        self.lif1, self.lif2 = snntorch_leaky(snntorch), snntorch_leaky(snntorch)
        self.record: list[list[Tensor]] | None = None  # hidden spikes per layer, when set

    def forward(self, x: Tensor) -> Tensor:
        mem1, mem2 = self.lif1.reset_mem(), self.lif2.reset_mem()
        out = []
        for t in range(x.shape[0]):
            spk1, mem1 = self.lif1(self.fc1(x[t]), mem1)
            spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
            out.append(self.fc3(spk2))
            if self.record is not None:
                self.record[0].append(spk1)
                self.record[1].append(spk2)
        return torch.stack(out).mean(0)


class SnnTorchCNN(nn.Module):
    """The W2 conv net written the snnTorch way (BN runs per time step)."""

    def __init__(self, snntorch: ModuleType) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.fc = nn.Linear(64 * 7 * 7, 10)
        self.lif1, self.lif2 = snntorch_leaky(snntorch), snntorch_leaky(snntorch)

    def forward(self, x: Tensor) -> Tensor:
        mem1, mem2 = self.lif1.reset_mem(), self.lif2.reset_mem()
        out = []
        for t in range(x.shape[0]):
            spk1, mem1 = self.lif1(self.bn1(self.conv1(x[t])), mem1)
            spk2, mem2 = self.lif2(self.bn2(self.conv2(F.max_pool2d(spk1, 2))), mem2)
            out.append(self.fc(F.max_pool2d(spk2, 2).flatten(1)))
        return torch.stack(out).mean(0)


def sj_mlp(sj: dict[str, ModuleType]) -> OursNet:
    layer = sj["layer"]
    return OursNet(
        layer.Linear(64, 256, step_mode="m"),
        sj_lif(sj),
        layer.Linear(256, 256, step_mode="m"),
        sj_lif(sj),
        layer.Linear(256, 10, step_mode="m"),
    )


def sj_cnn(sj: dict[str, ModuleType]) -> OursNet:
    layer = sj["layer"]
    return OursNet(
        layer.Conv2d(1, 32, 3, padding=1, bias=False, step_mode="m"),
        layer.BatchNorm2d(32, step_mode="m"),
        sj_lif(sj),
        layer.MaxPool2d(2, step_mode="m"),
        layer.Conv2d(32, 64, 3, padding=1, bias=False, step_mode="m"),
        layer.BatchNorm2d(64, step_mode="m"),
        sj_lif(sj),
        layer.MaxPool2d(2, step_mode="m"),
        layer.Flatten(start_dim=1, step_mode="m"),
        layer.Linear(64 * 7 * 7, 10, step_mode="m"),
    )


def copy_synapses(src: nn.Module, dst: nn.Module) -> None:
    """Copy the Linear/Conv2d weights of ``src`` into ``dst`` (same order, same shapes)."""
    kinds = (nn.Linear, nn.Conv2d)
    a = [m for m in src.modules() if isinstance(m, kinds)]
    b = [m for m in dst.modules() if isinstance(m, kinds)]
    if len(a) != len(b):
        raise RuntimeError(f"cannot copy synapses: {len(a)} layers vs {len(b)}")
    with torch.no_grad():
        for m, n in zip(a, b, strict=True):
            n.weight.copy_(m.weight)
            if m.bias is not None and n.bias is not None:
                n.bias.copy_(m.bias)


# --------------------------------------------------------------------------- workloads
def w3_inputs() -> tuple[Tensor, Tensor]:
    """``x ~ N(0.4, 0.6)`` (LIF fires ~20 %) with grad, and the fixed loss weights ``w``."""
    g = torch.Generator().manual_seed(SEED)
    x = (torch.randn(W3_SHAPE, generator=g) * 0.6 + 0.4).requires_grad_()
    w = torch.randn(W3_SHAPE, generator=g)
    return x, w


def w3_steps(peers: Peers) -> dict[str, Step]:
    """One forward + backward of a neuron layer alone, per contender."""
    x, w = w3_inputs()
    T = x.shape[0]

    def ours(node: BaseNeuron) -> Step:
        def step() -> None:
            node.reset()
            x.grad = None
            (node(x) * w).sum().backward()

        return step

    steps: dict[str, Step] = {
        OURS: ours(LIFNode(decay=BETA, threshold=THRESHOLD)),
        OURS_IF: ours(IFNode(threshold=THRESHOLD)),
        OURS_BIF: ours(BIFNode(threshold=THRESHOLD)),
    }
    if peers.snntorch is not None:
        leaky = snntorch_leaky(peers.snntorch)

        def snntorch_step() -> None:
            x.grad = None
            mem = leaky.reset_mem()
            spikes = []
            for t in range(T):
                spk, mem = leaky(x[t], mem)
                spikes.append(spk)
            (torch.stack(spikes) * w).sum().backward()

        steps[SNNTORCH] = snntorch_step
    if peers.sj:
        sj_node, reset = sj_lif(peers.sj), peers.sj["functional"].reset_net

        def sj_step() -> None:
            reset(sj_node)
            x.grad = None
            (sj_node(x) * w).sum().backward()

        steps[SJ] = sj_step
    return steps


def train_step(model: nn.Module, reset: Callable[[nn.Module], None], x: Tensor, y: Tensor) -> Step:
    """One training step of ``model`` on the fixed batch ``(x, y)`` with its own Adam."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step() -> None:
        reset(model)
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    return step


def _no_reset(model: nn.Module) -> None:
    """snnTorch models re-initialise their membranes inside ``forward``."""


def network_steps(workload: str, peers: Peers) -> dict[str, Step]:
    """W1 (MLP) or W2 (CNN) training steps; all contenders start from our initial weights."""
    torch.manual_seed(SEED)
    if workload == "W1":
        x = torch.randn(W1_B, 64).expand(W1_T, -1, -1).contiguous()
        y = torch.randint(0, 10, (W1_B,))
        ours = ours_mlp()
    else:
        x = torch.randn(W2_B, 1, 28, 28).expand(W2_T, -1, -1, -1, -1).contiguous()
        y = torch.randint(0, 10, (W2_B,))
        ours = ours_cnn()
    steps = {OURS: train_step(ours, reset_net, x, y)}
    if peers.snntorch is not None:
        snt = SnnTorchMLP(peers.snntorch) if workload == "W1" else SnnTorchCNN(peers.snntorch)
        copy_synapses(ours, snt)
        steps[SNNTORCH] = train_step(snt, _no_reset, x, y)
    if peers.sj:
        sjn = sj_mlp(peers.sj) if workload == "W1" else sj_cnn(peers.sj)
        copy_synapses(ours, sjn)
        steps[SJ] = train_step(sjn, peers.sj["functional"].reset_net, x, y)
    return steps


# --------------------------------------------------------------------------- timing
def interleaved(steps: dict[str, Step], rounds: int, warmup: int) -> dict[str, list[float]]:
    """Milliseconds of every contender in every round; the order rotates by one each round."""
    names = list(steps)
    for _ in range(warmup):
        for name in names:
            steps[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for r in range(rounds):
            k = r % len(names)
            gc.collect()
            for name in names[k:] + names[:k]:
                t0 = time.perf_counter()
                steps[name]()
                times[name].append((time.perf_counter() - t0) * 1e3)
    finally:
        if gc_was_enabled:
            gc.enable()
    return times


def paired_ratio(times: dict[str, list[float]], ours: str, theirs: str) -> float:
    """Median over rounds of time(ours) / time(theirs) measured in the same round."""
    return statistics.median(a / b for a, b in zip(times[ours], times[theirs], strict=True))


def w3_breakdown(rounds: int) -> dict[str, dict[str, float]]:
    """Median forward / backward milliseconds of our three neurons on W3 (for diagnosis)."""
    x, w = w3_inputs()
    nodes: dict[str, BaseNeuron] = {
        OURS: LIFNode(decay=BETA, threshold=THRESHOLD),
        OURS_IF: IFNode(threshold=THRESHOLD),
        OURS_BIF: BIFNode(threshold=THRESHOLD),
    }
    out: dict[str, dict[str, list[float]]] = {n: {"forward": [], "backward": []} for n in nodes}
    for _ in range(rounds + 1):  # the first round is a warm-up
        for name, node in nodes.items():
            node.reset()
            x.grad = None
            t0 = time.perf_counter()
            loss = (node(x) * w).sum()
            t1 = time.perf_counter()
            loss.backward()
            t2 = time.perf_counter()
            out[name]["forward"].append((t1 - t0) * 1e3)
            out[name]["backward"].append((t2 - t1) * 1e3)
    return {n: {k: statistics.median(v[1:]) for k, v in parts.items()} for n, parts in out.items()}


def copy_bandwidth(megabytes: int = 256, reps: int = 10) -> float:
    """Copy bandwidth in GB/s: ``dst.copy_(src)`` on ``megabytes`` MB, read + write counted."""
    src = torch.rand(megabytes * 2**20 // 4)
    dst = torch.empty_like(src)
    dst.copy_(src)  # touch the pages
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        dst.copy_(src)
        samples.append(time.perf_counter() - t0)
    return 2 * src.numel() * src.element_size() / statistics.median(samples) / 1e9


#: The minimal memory traffic of a fused LIF forward + backward, per element of [T, B, N].
FLOOR_BYTES = {
    "forward: read x (f32)": 4,
    "forward: write spikes (f32)": 4,
    "forward: write h for backward (f32)": 4,
    "backward: read h (f32)": 4,
    "backward: read dL/dspikes (f32)": 4,
    "backward: write dL/dx (f32)": 4,
}


# --------------------------------------------------------------------------- equality
def _compare(a: Tensor, b: Tensor) -> dict[str, Any]:
    return {
        "equal": bool(torch.equal(a, b)),
        "mismatch_fraction": float((a != b).float().mean()),
        "elements": a.numel(),
        "spike_rate": float(a.float().mean()),
    }


def _grad_compare(a: Tensor, b: Tensor) -> dict[str, Any]:
    return {
        "equal": bool(torch.equal(a, b)),
        "max_abs_diff": float((a - b).abs().max()),
        "allclose_1e-5": bool(torch.allclose(a, b, rtol=1e-5, atol=1e-6)),
    }


def _w3_run(neuron: Callable[[Tensor], Tensor], x: Tensor, w: Tensor) -> tuple[Tensor, Tensor]:
    """Spikes of ``neuron`` on W3 and ``d((spikes * w).sum()) / dx``."""
    x = x.detach().clone().requires_grad_()
    spikes = neuron(x)
    (spikes * w).sum().backward()
    assert x.grad is not None
    return spikes.detach(), x.grad


def equality_checks(peers: Peers) -> dict[str, Any]:
    """Spikes (exact) and input gradients of ours vs snnTorch; SpikingJelly for information."""
    out: dict[str, Any] = {}
    if peers.snntorch is None:
        return {"skipped": f"snnTorch unavailable: {peers.unavailable.get(SNNTORCH)}"}
    snntorch = peers.snntorch
    x, w = w3_inputs()
    ours_s, ours_g = _w3_run(LIFNode(decay=BETA, threshold=THRESHOLD), x, w)

    def snntorch_neuron(reset_delay: bool) -> Callable[[Tensor], Tensor]:
        def run(x: Tensor) -> Tensor:
            leaky = snntorch_leaky(snntorch, reset_delay)
            mem = leaky.reset_mem()
            spikes = []
            for t in range(x.shape[0]):
                spk, mem = leaky(x[t], mem)
                spikes.append(spk)
            return torch.stack(spikes)

        return run

    for reset_delay in (True, False):
        s, g = _w3_run(snntorch_neuron(reset_delay), x, w)
        key = "W3_vs_snntorch" + ("" if reset_delay else "_reset_delay_False")
        out[key] = {
            **_compare(ours_s, s),
            "config": f'Leaky(beta=0.5, reset_mechanism="zero", reset_delay={reset_delay})',
            "grad_x": _grad_compare(ours_g, g),
        }
    out["W3_vs_snntorch_reset_delay_False"]["note"] = (
        "same spikes; gradients differ because snnTorch then backpropagates through the reset "
        "(do_reset = spk - reset is not detached); not the configuration timed"
    )
    if peers.sj:
        s, g = _w3_run(sj_lif(peers.sj), x, w)
        out["W3_vs_spikingjelly"] = {
            **_compare(ours_s, s),
            "grad_x": _grad_compare(ours_g, g),
            "note": "information only: SpikingJelly fires on h >= theta (we on h > theta) and "
            "computes v - v/tau + x instead of beta * v + x",
        }
    out.update(_w1_equality(snntorch))
    return out


def _w1_equality(snntorch: ModuleType) -> dict[str, Any]:
    """Hidden spikes of our W1 MLP vs snnTorch's with the same Linear weights.

    Run on the timed model (its second layer barely fires at initialisation) and with the second
    Linear's weights scaled by 4 (``fc2_gain4``), so that both layers fire.
    """
    out: dict[str, Any] = {}
    for tag, gain in (("W1", 1.0), ("W1_fc2_gain4", 4.0)):
        out.update({f"{tag}_{k}": v for k, v in _w1_case(snntorch, gain).items()})
    return out


@torch.no_grad()
def _w1_case(snntorch: ModuleType, gain: float) -> dict[str, Any]:
    torch.manual_seed(SEED)
    x = torch.randn(W1_B, 64).expand(W1_T, -1, -1).contiguous()
    mlp = ours_mlp()
    fc2 = [m for m in mlp.modules() if isinstance(m, nn.Linear)][1]
    fc2.weight.mul_(gain)
    hidden: list[Tensor] = []
    hooks = [
        m.register_forward_hook(lambda _m, _i, o: hidden.append(o))
        for m in mlp.modules()
        if isinstance(m, LIFNode)
    ]
    logits = mlp(x)
    for h in hooks:
        h.remove()
    snt = SnnTorchMLP(snntorch)
    copy_synapses(mlp, snt)
    snt.record = [[], []]
    snt_logits = snt(x)
    out: dict[str, Any] = {
        f"layer{i}_vs_snntorch": _compare(a, torch.stack(b))
        for i, (a, b) in enumerate(zip(hidden, snt.record, strict=True), start=1)
    }
    out["logits_max_abs_diff"] = float((logits - snt_logits).abs().max())
    return out


# --------------------------------------------------------------------------- report
def build_rows(
    medians: dict[str, dict[str, float]],
    ratios: dict[str, dict[str, float]],
    peers: Peers,
    floor: dict[str, Any],
) -> list[dict[str, Any]]:
    """Table rows: one per (workload, contender); targets attached where the issue sets one."""
    targets = {(w, o, t): b for w, o, t, b in TARGETS}
    rows: list[dict[str, Any]] = []
    for workload, meds in medians.items():
        for name in [OURS, OURS_IF, OURS_BIF, SNNTORCH, SJ]:
            if name not in meds and name in (OURS_IF, OURS_BIF) and workload != "W3":
                continue
            row: dict[str, Any] = {"workload": workload, "contender": name}
            if name not in meds:
                row["note"] = f"unavailable: {peers.unavailable.get(name, 'not run')}"
                rows.append(row)
                continue
            row["median_ms"] = meds[name]
            if name in (OURS_IF, OURS_BIF):
                ours, theirs = name, OURS
                row["contender"] = f"{name} (ratio vs ours LIF)"
            else:
                ours, theirs = OURS, name
            if name != OURS:
                row["ratio"] = ratios[workload][f"{ours}/{theirs}"]
                if (workload, ours, theirs) in targets:
                    bound = targets[(workload, ours, theirs)]
                    row["target"] = f"<= {bound:g}"
                    row["pass"] = row["ratio"] <= bound
            rows.append(row)
        if workload == "W3":
            rows.append(
                {
                    "workload": "W3",
                    "contender": "bandwidth floor (ratio = ours LIF / floor)",
                    "median_ms": floor["floor_ms"],
                    "ratio": floor["ours_over_floor"],
                }
            )
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| workload | contender | median ms | ratio ours/theirs | target | pass/fail |",
        "|---|---|---:|---:|---|---|",
    ]
    for r in rows:
        ms = f"{r['median_ms']:.2f}" if "median_ms" in r else r.get("note", "")
        ratio = f"{r['ratio']:.3f}" if "ratio" in r else "—"
        target = r.get("target", "—")
        verdict = ("pass" if r["pass"] else "FAIL") if "pass" in r else "—"
        lines.append(
            f"| {r['workload']} | {r['contender']} | {ms} | {ratio} | {target} | {verdict} |"
        )
    return "\n".join(lines)


def equality_lines(equality: dict[str, Any]) -> list[str]:
    """One line per check: spikes equal (or the mismatch fraction), and input gradients."""
    lines = []
    for key, v in equality.items():
        if not isinstance(v, dict):
            lines.append(f"{key}: {v}")
            continue
        spikes = "equal" if v["equal"] else f"MISMATCH {v['mismatch_fraction']:.3e}"
        line = f"{key}: spikes {spikes} ({v['elements']} elements, rate {v['spike_rate']:.3f})"
        if "grad_x" in v:
            g = v["grad_x"]
            line += "; grad_x " + ("equal" if g["equal"] else f"max |diff| {g['max_abs_diff']:.3g}")
        lines.append(line)
    return lines


def code_version() -> dict[str, str | None]:
    """The git commit and a hash of the kernel source, since the kernels change between runs."""
    import snn_models.neurons._kernels as kernels

    root = Path(__file__).resolve().parent.parent
    try:
        head: str | None = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        head = None
    source = Path(kernels.__file__).read_bytes()
    return {"git_head": head, "kernels_sha256": hashlib.sha256(source).hexdigest()[:16]}


# --------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--out", type=Path, default=default_out("neurons"), help="JSON path")
    p.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="rounds for W3 and W1 (W2 gets a third of it, at least 3); default 60/60/20",
    )
    p.add_argument("--quick", action="store_true", help="a few rounds only (smoke test)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.quick:
        rounds, warmup = {"W3": 3, "W1": 3, "W2": 2}, 1
    elif args.rounds is not None:
        rounds, warmup = {"W3": args.rounds, "W1": args.rounds, "W2": max(3, args.rounds // 3)}, 3
    else:
        rounds, warmup = {"W3": 60, "W1": 60, "W2": 20}, 3
    torch.manual_seed(SEED)
    started = time.perf_counter()
    load_before = os.getloadavg()
    peers = load_peers()
    for name, why in peers.unavailable.items():
        print(f"[bench] {name} unavailable: {why}", file=sys.stderr)
    print(
        f"[bench] torch {torch.__version__}, threads {torch.get_num_threads()}, "
        f"peers {peers.versions}, load average {load_before}",
        file=sys.stderr,
    )

    equality = equality_checks(peers)
    bandwidth = copy_bandwidth()

    medians: dict[str, dict[str, float]] = {}
    ratios: dict[str, dict[str, float]] = {}
    raw: dict[str, dict[str, list[float]]] = {}
    for workload in ("W3", "W1", "W2"):
        steps = w3_steps(peers) if workload == "W3" else network_steps(workload, peers)
        print(
            f"[bench] {workload}: {len(steps)} contenders x {rounds[workload]} rounds",
            file=sys.stderr,
        )
        times = interleaved(steps, rounds[workload], warmup)
        raw[workload] = times
        medians[workload] = {n: statistics.median(v) for n, v in times.items()}
        ratios[workload] = {
            f"{OURS}/{n}": paired_ratio(times, OURS, n)
            for n in times
            if n not in (OURS, OURS_IF, OURS_BIF)
        }
        if workload == "W3":
            ratios[workload].update(
                {f"{n}/{OURS}": paired_ratio(times, n, OURS) for n in (OURS_IF, OURS_BIF)}
            )

    elements = W3_SHAPE[0] * W3_SHAPE[1] * W3_SHAPE[2]
    floor_bytes = elements * sum(FLOOR_BYTES.values())
    floor_ms = floor_bytes / (bandwidth * 1e9) * 1e3
    floor: dict[str, Any] = {
        "copy_bandwidth_GBps": bandwidth,
        "bytes_per_element": FLOOR_BYTES,
        "elements": elements,
        "bytes": floor_bytes,
        "floor_ms": floor_ms,
        "ours_over_floor": medians["W3"][OURS] / floor_ms,
        "note": "neuron only: the loss (spikes * w).sum() and its backward are timed but not "
        "counted in the floor",
    }
    breakdown = w3_breakdown(rounds=max(3, rounds["W3"] // 4))

    rows = build_rows(medians, ratios, peers, floor)
    table = markdown(rows)
    print(table)
    print(
        f"\nW3 floor: {sum(FLOOR_BYTES.values())} B/element x {elements} elements = "
        f"{floor_bytes / 1e6:.1f} MB at {bandwidth:.1f} GB/s copy bandwidth -> {floor_ms:.2f} ms"
    )
    print(
        "W3 forward/backward ms (ours): "
        + ", ".join(f"{n}: {v['forward']:.1f} / {v['backward']:.1f}" for n, v in breakdown.items())
    )
    print("equality with the same inputs/weights:")
    for line in equality_lines(equality):
        print(f"  {line}")

    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            SNNTORCH: peers.versions.get(SNNTORCH),
            SJ: peers.versions.get(SJ),
        },
        "unavailable": peers.unavailable,
        "torch_num_threads": torch.get_num_threads(),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
        "torchvision_imported": "torchvision" in sys.modules,
        "code": code_version(),
        "config": {
            "beta": BETA,
            "sj_tau": TAU,
            "threshold": THRESHOLD,
            "seed": SEED,
            "rounds": rounds,
            "warmup": warmup,
            "W3_shape": W3_SHAPE,
            "W1": {"T": W1_T, "B": W1_B},
            "W2": {"T": W2_T, "B": W2_B},
        },
        "medians_ms": medians,
        "ratios": ratios,
        "targets": [
            {
                "workload": w,
                "ours": o,
                "theirs": t,
                "bound": b,
                "ratio": ratios[w].get(f"{o}/{t}"),
                "pass": None if f"{o}/{t}" not in ratios[w] else ratios[w][f"{o}/{t}"] <= b,
            }
            for w, o, t, b in TARGETS
        ],
        "rows": rows,
        "bandwidth_floor": floor,
        "w3_forward_backward_ms": breakdown,
        "equality": equality,
        "raw_ms": raw,
        "wall_s": time.perf_counter() - started,
    }
    write_result(args.out, "neurons", result)
    print(f"\n[bench] wrote {args.out} in {result['wall_s']:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
