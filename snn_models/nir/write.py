r"""Our spiking MLPs and CNNs as NIR graphs (see :mod:`snn_models.nir` for the mapping)."""

from __future__ import annotations

import copy
import itertools
import json
from typing import Any

import numpy as np
import torch
from torch import nn

from snn_models.config import NetSpec
from snn_models.conversion import fold_batchnorm
from snn_models.encoders import DirectEncoder
from snn_models.errors import ConfigError
from snn_models.kinds import KINDS
from snn_models.layers import Flatten, TimeDistributed
from snn_models.neurons import IFNode, LIFNode
from snn_models.neurons.base import BaseNeuron
from snn_models.nir.peers import PEERS, NirPeer
from snn_models.preprocess import fold_into_first_layer
from snn_models.readouts import MeanMembrane, SpikeCount

DT = 1.0
#: τ/dt (and R) of an IF layer written as ``nir.LIF`` for a reader that misreads ``nir.IF``:
#: β = 1 − 2⁻⁶⁰ is exactly 1.0 in double precision.
IF_AS_LIF_GAIN = 2.0**60

#: Why a kind that is not a plain feed-forward stack has no NIR graph.
_KIND_REASONS = {
    "transformer": "attention blocks have no NIR node",
    "temporal": (
        "its layers are causal convolutions over SNN time (each step also reads the previous "
        "k-1 inputs) and its input is a series read window by window, and NIR has no node for "
        "either"
    ),
}


class NIRUnsupported(ConfigError):
    """A model part NIR cannot express (the message names the node and the fix)."""


class NIRPeerUnsupported(NIRUnsupported):
    """A model part one NIR reader cannot read (the message names the reader, the part, and the
    fix); the textbook file (``peer="nir"``) may still express it."""


def _unsupported(where: str, what: str) -> NIRUnsupported:
    return NIRUnsupported(
        f"NIR cannot express {where}: {what}; restrict the search space to NIR-expressible "
        "candidates (constraint 'nir')"
    )


def peer_of(peer: str) -> NirPeer:
    """The reader ``peer`` names (a key of :data:`~snn_models.nir.peers.PEERS`).

    Raises:
        ConfigError: an unknown name (the message lists the known ones).
    """
    if peer not in PEERS:
        raise ConfigError(f"nir_for: unknown reader {peer!r}; choose {', '.join(PEERS)}")
    return PEERS[peer]


def _shape_after(module: nn.Module, shape: tuple[int, ...]) -> tuple[int, ...]:
    with torch.no_grad():
        return tuple(module(torch.zeros(1, *shape)).shape[1:])


def to_nir(
    model: nn.Module,
    input_shape: tuple[int, ...],
    dt: float | None = None,
    metadata: dict[str, Any] | None = None,
    peer: str = "nir",
) -> Any:
    """The NIR graph of a spiking MLP/CNN built by :func:`snn_models.build` (not modified).

    Args:
        model: The network.
        input_shape: One sample's shape.
        dt: The time step written into the graph (default: the reader's, 1.0 for ``nir``).
        metadata: Entries (e.g. the data set's preprocessing) added to the graph's own.
        peer: The reader the file is written for: ``nir`` (textbook, read by our importer),
            ``snntorch``, ``norse`` (see :mod:`snn_models.nir.peers`); every reading gives the
            same spikes as ``model``.

    Raises:
        NIRUnsupported: a node NIR cannot express (see :mod:`snn_models.nir`).
        NIRPeerUnsupported: a part the chosen reader cannot read (e.g. a reset value other than
            0 for snnTorch), or a reader that can read none of our files.
    """
    import nir

    reader = peer_of(peer)
    dt = float(dt) if dt is not None else reader.dt
    spec = getattr(model, "spec", None)
    if not isinstance(spec, NetSpec):
        raise ConfigError("to_nir needs a network built by snn_models.build")
    kind = KINDS.get(spec.kind)
    if kind is None or not kind.feedforward:
        why = _KIND_REASONS.get(spec.kind, "it is not a plain feed-forward stack")
        raise _unsupported(f"kind {spec.kind!r}", why)
    if not isinstance(model.encoder, DirectEncoder):
        raise _unsupported(
            f"encoder {spec.encoder!r}",
            "only direct encoding (the input at every step) is a NIR graph",
        )
    if reader.cannot:
        raise NIRPeerUnsupported(
            f"no NIR file for {reader.title}: {reader.cannot}; export the textbook file "
            "(nir_for 'nir') and read it with another tool"
        )
    work = fold_batchnorm(copy.deepcopy(model).eval())
    refused = fold_into_first_layer(work)  # a standardising front becomes the first layer's
    if refused is not None:
        raise _unsupported("preprocess", refused)
    chain: list[tuple[str, nn.Module]] = []
    for part in ("stem", "body", "head"):
        chain += [(f"{part}.{n}", m) for n, m in getattr(work, part).named_children()]
    nodes: dict[str, Any] = {"input": nir.Input(input_type={"input": np.array(input_shape)})}
    order = ["input"]
    shape = tuple(input_shape)
    for name, module in chain:
        inner = module.module if isinstance(module, TimeDistributed) else module
        if isinstance(inner, nn.Identity | nn.Dropout):
            continue
        if isinstance(inner, Flatten | nn.Flatten):
            flat = (int(np.prod(shape)),)
            if reader.flat_input and order == ["input"]:  # the Input itself is declared flat
                nodes["input"] = nir.Input(input_type={"input": np.array(flat)})
                shape = flat
                continue
            nodes[name] = nir.Flatten(
                input_type={"input": np.array(shape)}, start_dim=0, end_dim=-1
            )
            shape = flat
        elif isinstance(inner, nn.Linear):
            w = inner.weight.detach().numpy().astype(np.float32)
            if inner.bias is None:
                nodes[name] = nir.Linear(weight=w)
            else:
                nodes[name] = nir.Affine(
                    weight=w, bias=inner.bias.detach().numpy().astype(np.float32)
                )
            shape = (inner.out_features,)
        elif isinstance(inner, nn.Conv2d):
            if isinstance(inner.padding, str):
                raise _unsupported(name, f"padding={inner.padding!r}")
            bias = (
                inner.bias.detach().numpy()
                if inner.bias is not None
                else np.zeros(inner.out_channels)
            )
            nodes[name] = nir.Conv2d(
                input_shape=tuple(shape[1:]),
                weight=inner.weight.detach().numpy().astype(np.float32),
                stride=inner.stride,
                padding=inner.padding,
                dilation=inner.dilation,
                groups=inner.groups,
                bias=bias.astype(np.float32),
            )
            shape = _shape_after(inner, shape)
        elif isinstance(inner, BaseNeuron):
            nodes[name] = _neuron_node(name, inner, shape, dt, reader)
            if reader.unit_r and isinstance(nodes[name], nir.LIF):
                nodes[order[-1]], nodes[name] = _unit_r(order[-1], nodes[order[-1]], nodes[name])
        elif isinstance(inner, nn.MaxPool2d | nn.MaxPool1d):
            raise _unsupported(
                name, "max pooling has no NIR node (NIR has sum and average pooling)"
            )
        else:
            raise _unsupported(name, f"{type(inner).__name__} has no NIR node")
        order.append(name)
    readout = work.readout
    if not isinstance(readout, MeanMembrane | SpikeCount):
        raise _unsupported("the readout", f"{type(readout).__name__}")
    nodes["output"] = nir.Output(output_type={"output": np.array(shape)})
    order.append("output")
    edges = list(itertools.pairwise(order))
    metadata = {
        "producer": "snn-evolve",
        "nir_for": reader.name,
        "dt": dt,
        "timesteps": spec.timesteps,
        "encoder": "direct: the input is presented unchanged at every step",
        "readout": "membrane" if isinstance(readout, MeanMembrane) else "spikes",
        "readout_rule": (
            "class scores = mean over the timesteps of the output node"
            if isinstance(readout, MeanMembrane)
            else "class scores = spike count of the output node over the timesteps"
        ),
        "input_shape": list(input_shape),
        "spec": json.dumps(spec.to_dict()) if hasattr(spec, "to_dict") else None,
        **(metadata or {}),
    }
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)


def _unit_r(name: str, synapse: Any, lif: Any) -> tuple[Any, Any]:
    """``synapse`` with the LIF's gain R folded in, and the LIF with R = 1 (same meaning)."""
    import nir

    gain = np.asarray(lif.r, dtype=np.float64).reshape(-1)[0]
    weight = (np.asarray(synapse.weight, dtype=np.float64) * gain).astype(np.float32)
    bias = getattr(synapse, "bias", None)
    bias = None if bias is None else (np.asarray(bias, dtype=np.float64) * gain).astype(np.float32)
    if isinstance(synapse, nir.Conv2d):
        synapse = nir.Conv2d(
            input_shape=synapse.input_shape,
            weight=weight,
            stride=synapse.stride,
            padding=synapse.padding,
            dilation=synapse.dilation,
            groups=synapse.groups,
            bias=bias,
        )
    elif isinstance(synapse, nir.Affine | nir.Linear):
        synapse = nir.Linear(weight=weight) if bias is None else nir.Affine(weight, bias)
    else:
        raise NIRPeerUnsupported(f"node {name} ({type(synapse).__name__}) cannot carry R")
    unit = nir.LIF(
        tau=lif.tau,
        r=np.ones_like(lif.r),
        v_leak=lif.v_leak,
        v_threshold=lif.v_threshold,
        v_reset=lif.v_reset,
    )
    return synapse, unit


def _neuron_node(
    name: str,
    neuron: BaseNeuron,
    shape: tuple[int, ...],
    dt: float,
    reader: NirPeer | None = None,
) -> Any:
    import nir

    reader = reader or PEERS["nir"]
    kind = type(neuron).__name__
    if not isinstance(neuron, LIFNode):  # BIF, adaptive, anything else
        what = "the quadratic term of BIF" if "BIF" in kind else f"{kind}"
        raise _unsupported(f"{name} ({kind})", f"{what} has no NIR neuron")
    if neuron.soft_reset:
        raise _unsupported(f"{name} ({kind})", "soft reset (subtract threshold); use hard reset")
    if reader.zero_reset and neuron.v_reset != 0:
        raise NIRPeerUnsupported(
            f"{reader.title} cannot read {name} ({kind}): it resets every neuron to 0, this "
            f"layer to {neuron.v_reset:g}; export the textbook file (nir_for 'nir') or search "
            "with v_reset 0"
        )
    ones = np.ones(shape, dtype=np.float64)
    threshold = (
        float(neuron.threshold) if not isinstance(neuron.threshold, float) else neuron.threshold
    )
    v_thr = ones * threshold
    v_reset = ones * neuron.v_reset
    beta = 1.0 if isinstance(neuron, IFNode) else float(neuron._beta())
    if not beta < 1.0:
        if reader.if_as_lif:
            return nir.LIF(
                tau=ones * dt * IF_AS_LIF_GAIN,
                r=ones * IF_AS_LIF_GAIN,
                v_leak=ones * 0.0,
                v_threshold=v_thr,
                v_reset=v_reset,
            )
        return nir.IF(r=ones / dt, v_threshold=v_thr, v_reset=v_reset)
    tau = dt / (1.0 - beta)
    return nir.LIF(
        tau=ones * tau, r=ones * (tau / dt), v_leak=ones * 0.0, v_threshold=v_thr, v_reset=v_reset
    )


__all__ = [
    "DT",
    "IF_AS_LIF_GAIN",
    "NIRPeerUnsupported",
    "NIRUnsupported",
    "peer_of",
    "to_nir",
]
