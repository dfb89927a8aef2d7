r"""NIR (Neuromorphic Intermediate Representation) export and import of spiking MLPs and CNNs.

NIR is read by Lava (Loihi 2), SpiNNaker2, Sinabs (Speck), Rockpool (Xylo), snnTorch and Norse.
The graph is a chain of nodes named after our modules, with ``dt`` and every time constant
explicit:

* ``Flatten`` → ``nir.Flatten``; ``Linear`` → ``nir.Affine`` (``nir.Linear`` without bias);
  ``Conv2d`` → ``nir.Conv2d``; BatchNorm is folded into the layer before it (eval statistics);
* LIF (:math:`h = \beta v + x`) → ``nir.LIF`` with :math:`\tau = dt/(1-\beta)`,
  :math:`R = \tau/dt`, :math:`v_{leak} = 0`, so that NIR's Euler step
  :math:`v + \frac{dt}{\tau}(v_{leak} - v + R\,I)` is exactly :math:`\beta v + I`;
* IF (:math:`h = v + x`) → ``nir.IF`` with :math:`R = 1/dt`;
* spike when :math:`v > v_{thr}` (strict, as ours), hard reset to :math:`v_{reset}`.

The input is presented at every step (direct encoding); the readout (the time-average of the
output layer's currents, or the spike count) is not a NIR node and is named in the graph's
metadata with ``timesteps`` and ``dt``.

What NIR cannot express is refused, naming the node, never approximated: BIF neurons (their
quadratic term), adaptive LIF↔BIF neurons, soft reset, attention (transformers), max pooling,
dropout in training, and stochastic or latency encoders.
"""

from __future__ import annotations

import copy
import itertools
import json
from typing import Any

import numpy as np
import torch
from torch import nn

from snn_models.architectures import SpikingNet
from snn_models.config import NetSpec
from snn_models.conversion import fold_batchnorm
from snn_models.encoders import DirectEncoder
from snn_models.errors import ConfigError
from snn_models.kinds import KINDS
from snn_models.layers import Flatten, TimeDistributed
from snn_models.neurons import IFNode, LIFNode
from snn_models.neurons.base import BaseNeuron
from snn_models.readouts import MeanMembrane, SpikeCount

DT = 1.0
#: The most time steps an imported graph may ask for (a hostile file could ask for 10**12).
MAX_TIMESTEPS = 100_000


class NIRUnsupported(ConfigError):
    """A model part NIR cannot express (the message names the node and the fix)."""


def _unsupported(where: str, what: str) -> NIRUnsupported:
    return NIRUnsupported(
        f"NIR cannot express {where}: {what}; restrict the search space to NIR-expressible "
        "candidates (constraint 'nir')"
    )


def _shape_after(module: nn.Module, shape: tuple[int, ...]) -> tuple[int, ...]:
    with torch.no_grad():
        return tuple(module(torch.zeros(1, *shape)).shape[1:])


def to_nir(
    model: nn.Module,
    input_shape: tuple[int, ...],
    dt: float = DT,
    metadata: dict[str, Any] | None = None,
) -> Any:
    """The NIR graph of a spiking MLP/CNN built by :func:`snn_models.build` (not modified).

    ``metadata`` entries (e.g. the data set's preprocessing) are added to the graph's own.

    Raises:
        NIRUnsupported: a node NIR cannot express (see the module docstring).
    """
    import nir

    spec = getattr(model, "spec", None)
    if not isinstance(spec, NetSpec):
        raise ConfigError("to_nir needs a network built by snn_models.build")
    kind = KINDS.get(spec.kind)
    if kind is None or not kind.feedforward:
        raise _unsupported(f"kind {spec.kind!r}", "attention blocks have no NIR node")
    if not isinstance(model.encoder, DirectEncoder):
        raise _unsupported(
            f"encoder {spec.encoder!r}",
            "only direct encoding (the input at every step) is a NIR graph",
        )
    work = fold_batchnorm(copy.deepcopy(model).eval())
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
            nodes[name] = nir.Flatten(
                input_type={"input": np.array(shape)}, start_dim=0, end_dim=-1
            )
            shape = (int(np.prod(shape)),)
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
            nodes[name] = _neuron_node(name, inner, shape, dt)
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


def _neuron_node(name: str, neuron: BaseNeuron, shape: tuple[int, ...], dt: float) -> Any:
    import nir

    kind = type(neuron).__name__
    if not isinstance(neuron, LIFNode):  # BIF, adaptive, anything else
        what = "the quadratic term of BIF" if "BIF" in kind else f"{kind}"
        raise _unsupported(f"{name} ({kind})", f"{what} has no NIR neuron")
    if neuron.soft_reset:
        raise _unsupported(f"{name} ({kind})", "soft reset (subtract threshold); use hard reset")
    ones = np.ones(shape, dtype=np.float64)
    threshold = (
        float(neuron.threshold) if not isinstance(neuron.threshold, float) else neuron.threshold
    )
    v_thr = ones * threshold
    v_reset = ones * neuron.v_reset
    if isinstance(neuron, IFNode):
        return nir.IF(r=ones / dt, v_threshold=v_thr, v_reset=v_reset)
    beta = float(neuron._beta())
    if not beta < 1.0:
        return nir.IF(r=ones / dt, v_threshold=v_thr, v_reset=v_reset)
    tau = dt / (1.0 - beta)
    return nir.LIF(
        tau=ones * tau, r=ones * (tau / dt), v_leak=ones * 0.0, v_threshold=v_thr, v_reset=v_reset
    )


def from_nir(graph: Any) -> SpikingNet:
    """A :class:`~snn_models.architectures.SpikingNet` MLP from a NIR graph of this module's shape.

    Reads the chain Input → Flatten → (Affine → LIF/IF)* → Affine → Output, the neurons'
    ``tau``/``r``/``v_threshold``/``v_reset`` (one value per layer), and ``timesteps``,
    ``dt`` and ``readout`` from the metadata.

    Raises:
        ConfigError: a graph that is not such a chain (e.g. a CNN, branches, another neuron).
    """
    try:
        return _from_nir(graph)
    except ConfigError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, RuntimeError) as e:
        # a graph of the right node types whose contents do not fit together
        text = " ".join(str(e).split())
        raise ConfigError(
            f"from_nir: the graph is malformed ({type(e).__name__}: {text[:160]})"
        ) from None


def _from_nir(graph: Any) -> SpikingNet:
    import nir

    from snn_models.architectures import build

    meta = dict(graph.metadata or {})
    dt = _positive(meta.get("dt", DT), "metadata dt")
    timesteps = meta.get("timesteps", 4)
    if isinstance(timesteps, np.ndarray) and timesteps.size == 1:
        timesteps = timesteps.item()
    if (
        isinstance(timesteps, bool)
        or not isinstance(timesteps, int | np.integer)
        or not 1 <= timesteps <= MAX_TIMESTEPS
    ):
        raise ConfigError(
            f"from_nir: metadata timesteps must be a whole number in 1..{MAX_TIMESTEPS}, "
            f"got {timesteps!r}"
        )
    order = _chain(graph)
    nodes = [graph.nodes[n] for n in order]
    if not isinstance(nodes[0], nir.Input) or not isinstance(nodes[-1], nir.Output):
        raise ConfigError("from_nir: the graph must run from an Input to an Output node")
    input_shape = tuple(int(d) for d in np.asarray(nodes[0].input_type["input"]).tolist())
    body = nodes[1:-1]
    if body and isinstance(body[0], nir.Flatten):
        body = body[1:]
    synapses, neurons = body[0::2], body[1::2]
    head_neuron = None
    if len(neurons) == len(synapses) and neurons:  # a spiking readout: the head has a neuron
        head_neuron, neurons = neurons[-1], neurons[:-1]
    if len(synapses) != len(neurons) + 1 or not all(
        isinstance(s, nir.Affine | nir.Linear) for s in synapses
    ):
        raise ConfigError(
            "from_nir reads MLP chains (Flatten, then Affine/Linear and LIF/IF alternating, "
            "ending with Affine/Linear)"
        )
    fan_in = int(np.prod(input_shape))
    for i, syn in enumerate(synapses):
        weight = np.asarray(syn.weight)
        if weight.ndim != 2 or weight.shape[1] != fan_in:
            raise ConfigError(
                f"from_nir: synapse {i} has weights of shape {tuple(weight.shape)}, but "
                f"{fan_in} inputs reach it; the graph's layers do not fit together"
            )
        bias = getattr(syn, "bias", None)
        if bias is not None and np.asarray(bias).shape != (weight.shape[0],):
            raise ConfigError(
                f"from_nir: synapse {i} has a bias of shape {np.asarray(bias).shape} for "
                f"{weight.shape[0]} outputs"
            )
        fan_in = int(weight.shape[0])
    layers = []
    for syn, neu in zip(synapses, neurons, strict=False):
        width = int(np.asarray(syn.weight).shape[0])
        thr = _one(neu.v_threshold, "v_threshold")
        reset = _one(neu.v_reset, "v_reset")
        if isinstance(neu, nir.LIF):
            tau = _positive(_one(neu.tau, "tau"), "LIF tau")
            if not np.isclose(_one(neu.r, "r"), tau / dt) or _one(neu.v_leak, "v_leak") != 0:
                raise ConfigError("from_nir: LIF with r != tau/dt or v_leak != 0 is not ours")
            layers.append(
                {"width": width, "neuron": "lif", "threshold": thr, "decay": 1.0 - dt / tau,
                 "neuron_args": {"v_reset": reset}}
            )  # fmt: skip
        elif isinstance(neu, nir.IF):
            layers.append(
                {
                    "width": width,
                    "neuron": "if",
                    "threshold": thr,
                    "neuron_args": {"v_reset": reset},
                }
            )
        else:
            raise ConfigError(f"from_nir: neuron node {type(neu).__name__} is not LIF or IF")
    n_classes = int(np.asarray(synapses[-1].weight).shape[0])
    spec = NetSpec.from_dict(
        {
            "kind": "mlp",
            "timesteps": int(timesteps),
            "encoder": "direct",
            "readout": str(meta.get("readout", "membrane")),
            "batchnorm": False,
            "layers": layers,
        }
    )
    model = build(spec, input_shape, n_classes)
    if (head_neuron is None) != (spec.readout != "spikes"):
        raise ConfigError(
            "from_nir: an output neuron goes with readout 'spikes' in the metadata, and only then"
        )
    if head_neuron is not None:
        ours = next(m for m in model.head.modules() if isinstance(m, BaseNeuron))
        expected = _neuron_node("head", ours, (n_classes,), dt)
        for field in ("tau", "r", "v_threshold", "v_reset"):
            a, b = getattr(head_neuron, field, None), getattr(expected, field, None)
            if (a is None) != (b is None) or (
                a is not None and not np.allclose(np.asarray(a), np.asarray(b))
            ):
                raise ConfigError(
                    f"from_nir: the output neuron's {field} differs from our spiking readout's"
                )
    targets = [m for m in model.modules() if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for syn, lin in zip(synapses, targets, strict=True):
            lin.weight.copy_(torch.as_tensor(np.asarray(syn.weight), dtype=lin.weight.dtype))
            bias = getattr(syn, "bias", None)
            if lin.bias is not None:
                lin.bias.copy_(
                    torch.as_tensor(np.asarray(bias), dtype=lin.bias.dtype)
                    if bias is not None
                    else torch.zeros_like(lin.bias)
                )
    return model.eval()


def _positive(value: Any, what: str) -> float:
    """``value`` as a finite float > 0, or a ConfigError naming ``what``."""
    try:
        number = float(np.asarray(value, dtype=np.float64).reshape(-1)[0])
    except (TypeError, ValueError, IndexError):
        raise ConfigError(f"from_nir: {what} must be a number, got {value!r}") from None
    if not (np.isfinite(number) and number > 0):
        raise ConfigError(f"from_nir: {what} must be finite and > 0, got {number}")
    return number


def _one(values: Any, what: str) -> float:
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0 or not np.all(arr == arr.flat[0]):
        raise ConfigError(f"from_nir: {what} differs between neurons of a layer; ours share one")
    return float(arr.flat[0])


def _chain(graph: Any) -> list[str]:
    nexts: dict[str, list[str]] = {}
    for a, b in graph.edges:
        nexts.setdefault(a, []).append(b)
    start = [n for n in graph.nodes if n not in {b for _, b in graph.edges}]
    if len(start) != 1:
        raise ConfigError("from_nir: the graph must be a single chain")
    order = [start[0]]
    while nexts.get(order[-1]):
        following = nexts[order[-1]]
        if len(following) != 1:
            raise ConfigError(f"from_nir: node {order[-1]!r} branches; only chains are read")
        if following[0] in order:
            raise ConfigError(
                f"from_nir: the graph loops back to {following[0]!r}; only chains are read"
            )
        order.append(following[0])
    return order


__all__ = ["DT", "NIRUnsupported", "from_nir", "to_nir"]
