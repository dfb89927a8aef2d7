r"""NIR graphs back into our modules: ours, or another tool's chain of the same shape.

A node's meaning at the graph's step ``dt`` (NIR's Euler step) maps onto our neurons exactly:

* ``nir.LIF``: :math:`v + \frac{dt}{\tau}(0 - v + R\,I) = \beta v + g\,I` with
  :math:`\beta = 1 - dt/\tau` and the gain :math:`g = R\,dt/\tau`; β = 1 (to double precision)
  is an IF neuron;
* ``nir.IF``: :math:`v + R\,dt\,I`, the gain :math:`g = R\,dt`.

A gain other than 1 (a file written with R = 1, as Norse reads) is folded into the synapse
before the neuron. ``dt`` comes from the metadata; a graph without one (snnTorch's exporter
writes none) gets the step its LIF nodes imply (τ/R, the convention R = τ/dt that snnTorch and we
write), else 1/R of its IF nodes, else 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from snn_models.architectures import SpikingNet
from snn_models.config import NetSpec
from snn_models.errors import ConfigError
from snn_models.neurons.base import BaseNeuron
from snn_models.nir.write import DT, _neuron_node

#: The most time steps an imported graph may ask for (a hostile file could ask for 10**12).
MAX_TIMESTEPS = 100_000


def from_nir(graph: Any, timesteps: int | None = None) -> SpikingNet:
    """A :class:`~snn_models.architectures.SpikingNet` MLP from a NIR graph chain.

    Reads the chain Input → [Flatten] → (Affine/Linear → LIF/IF)* → Affine/Linear → [LIF/IF] →
    Output, the neurons' ``tau``/``r``/``v_threshold``/``v_reset`` (one value per layer), and
    ``timesteps``, ``dt`` and ``readout`` from the metadata (see the module docstring for a
    graph without them).

    Args:
        graph: A ``nir.NIRGraph``.
        timesteps: How many steps to run; overrides the metadata's (required when the graph
            records none, as snnTorch's exporter writes).

    Raises:
        ConfigError: a graph that is not such a chain (e.g. a CNN, branches, another neuron:
            the message names the node), or one without timesteps when none are given.
    """
    try:
        return _from_nir(graph, timesteps)
    except ConfigError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, RuntimeError) as e:
        # a graph of the right node types whose contents do not fit together
        text = " ".join(str(e).split())
        raise ConfigError(
            f"from_nir: the graph is malformed ({type(e).__name__}: {text[:160]})"
        ) from None


def _steps(meta: dict[str, Any], timesteps: int | None) -> int:
    value: Any = timesteps if timesteps is not None else meta.get("timesteps")
    if value is None:
        raise ConfigError(
            "from_nir: the graph's metadata has no timesteps (NIR leaves the run length to the "
            "reader); pass timesteps (evolve import-nir --timesteps N)"
        )
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.item()
    if (
        isinstance(value, bool)
        or not isinstance(value, int | np.integer)
        or not 1 <= value <= MAX_TIMESTEPS
    ):
        raise ConfigError(
            f"from_nir: metadata timesteps must be a whole number in 1..{MAX_TIMESTEPS}, "
            f"got {value!r}"
        )
    return int(value)


def _graph_dt(meta: dict[str, Any], neurons: list[tuple[str, Any]]) -> float:
    """The graph's step: its metadata's, else what its neurons imply (module docstring)."""
    import nir

    if "dt" in meta:
        return _positive(meta["dt"], "metadata dt")
    for name, neu in neurons:
        if isinstance(neu, nir.LIF):
            return _positive(_one(neu.tau, "tau", name) / _one(neu.r, "r", name), f"{name} tau/r")
    for name, neu in neurons:
        if isinstance(neu, nir.IF):
            return _positive(1.0 / _one(neu.r, "r", name), f"{name} 1/r")
    return DT


def _layer(name: str, neu: Any, width: int, dt: float) -> tuple[dict[str, Any], float]:
    """Our layer settings for the neuron node ``neu`` and the gain on its input current."""
    import nir

    thr = _one(neu.v_threshold, "v_threshold", name)
    reset = _one(neu.v_reset, "v_reset", name) if getattr(neu, "v_reset", None) is not None else 0
    if isinstance(neu, nir.LIF):
        tau = _positive(_one(neu.tau, "tau", name), f"{name} LIF tau")
        if _one(neu.v_leak, "v_leak", name) != 0:
            raise ConfigError(f"from_nir: node {name!r} (LIF) has v_leak != 0; ours leak to 0")
        beta = 1.0 - dt / tau
        if beta < 0:
            raise ConfigError(
                f"from_nir: node {name!r} (LIF) has tau {tau:g} < dt {dt:g} (a decay below 0)"
            )
        gain = _one(neu.r, "r", name) * dt / tau
        layer: dict[str, Any] = {
            "width": width,
            "threshold": thr,
            "neuron_args": {"v_reset": reset},
        }
        if beta < 1.0:
            layer.update(neuron="lif", decay=beta)
        else:
            layer["neuron"] = "if"
        return layer, gain
    if isinstance(neu, nir.IF):
        gain = _one(neu.r, "r", name) * dt
        return {"width": width, "neuron": "if", "threshold": thr,
                "neuron_args": {"v_reset": reset}}, gain  # fmt: skip
    raise ConfigError(
        f"from_nir: node {name!r} ({type(neu).__name__}) is not LIF or IF, the neurons our "
        "networks have"
    )


def _from_nir(graph: Any, timesteps: int | None) -> SpikingNet:
    import nir

    from snn_models.architectures import build

    meta = dict(graph.metadata or {})
    order = _chain(graph)
    named = [(n, graph.nodes[n]) for n in order]
    if not isinstance(named[0][1], nir.Input) or not isinstance(named[-1][1], nir.Output):
        raise ConfigError("from_nir: the graph must run from an Input to an Output node")
    input_shape = tuple(int(d) for d in np.asarray(named[0][1].input_type["input"]).tolist())
    body = named[1:-1]
    if body and isinstance(body[0][1], nir.Flatten):
        body = body[1:]
    for name, node in body:
        if not isinstance(node, nir.Affine | nir.Linear | nir.LIF | nir.IF):
            raise ConfigError(
                f"from_nir: node {name!r} ({type(node).__name__}) has no counterpart in our MLPs "
                "(they read Flatten, Affine/Linear and LIF/IF)"
            )
    synapses, neurons = body[0::2], body[1::2]
    steps = _steps(meta, timesteps)
    dt = _graph_dt(meta, neurons)
    head_neuron = None
    if len(neurons) == len(synapses) and neurons:  # a spiking readout: the head has a neuron
        head_neuron, neurons = neurons[-1], neurons[:-1]
    if len(synapses) != len(neurons) + 1 or not all(
        isinstance(s, nir.Affine | nir.Linear) for _, s in synapses
    ):
        raise ConfigError(
            "from_nir reads MLP chains (Flatten, then Affine/Linear and LIF/IF alternating, "
            "ending with Affine/Linear)"
        )
    fan_in = int(np.prod(input_shape))
    for name, syn in synapses:
        weight = np.asarray(syn.weight)
        if weight.ndim != 2 or weight.shape[1] != fan_in:
            raise ConfigError(
                f"from_nir: node {name!r} has weights of shape {tuple(weight.shape)}, but "
                f"{fan_in} inputs reach it; the graph's layers do not fit together"
            )
        bias = getattr(syn, "bias", None)
        if bias is not None and np.asarray(bias).shape != (weight.shape[0],):
            raise ConfigError(
                f"from_nir: node {name!r} has a bias of shape {np.asarray(bias).shape} for "
                f"{weight.shape[0]} outputs"
            )
        fan_in = int(weight.shape[0])
    layers, gains = [], []
    for (_, syn), (name, neu) in zip(synapses, neurons, strict=False):
        layer, gain = _layer(name, neu, int(np.asarray(syn.weight).shape[0]), dt)
        layers.append(layer)
        gains.append(gain)
    readout = str(meta.get("readout", "spikes" if head_neuron is not None else "membrane"))
    spec = NetSpec.from_dict(
        {
            "kind": "mlp",
            "timesteps": steps,
            "encoder": "direct",
            "readout": readout,
            "batchnorm": False,
            "layers": layers,
        }
    )
    n_classes = int(np.asarray(synapses[-1][1].weight).shape[0])
    model = build(spec, input_shape, n_classes)
    if (head_neuron is None) != (spec.readout != "spikes"):
        raise ConfigError(
            "from_nir: an output neuron goes with readout 'spikes' in the metadata, and only then"
        )
    if head_neuron is not None:
        gains.append(_head_gain(model, head_neuron, n_classes, dt))
    else:
        gains.append(1.0)
    targets = [m for m in model.modules() if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for (_, syn), lin, gain in zip(synapses, targets, gains, strict=True):
            lin.weight.copy_(_scaled(syn.weight, gain, lin.weight.dtype))
            bias = getattr(syn, "bias", None)
            if lin.bias is not None:
                lin.bias.copy_(
                    _scaled(bias, gain, lin.bias.dtype)
                    if bias is not None
                    else torch.zeros_like(lin.bias)
                )
    return model.eval()


def _head_gain(model: nn.Module, head: tuple[str, Any], n_classes: int, dt: float) -> float:
    """The gain of the file's output neuron, which must otherwise be our spiking readout's."""
    name, node = head
    ours = [m for m in model.modules() if isinstance(m, BaseNeuron)][-1]  # the readout's
    theirs, gain = _layer(name, node, n_classes, dt)
    expected, _ = _layer(name, _neuron_node("head", ours, (n_classes,), dt), n_classes, dt)
    for field in ("neuron", "threshold", "decay", "neuron_args"):
        a, b = theirs.get(field), expected.get(field)
        same = a == b if not isinstance(a, float) else b is not None and np.isclose(a, b)
        if not same:
            shown = [f"{v:.4g}" if isinstance(v, float) else repr(v) for v in (a, b)]
            raise ConfigError(
                f"from_nir: the output neuron {name!r} has {field} {shown[0]}, our spiking "
                f"readout's {shown[1]} (LIF, decay 0.5, threshold 1, reset to 0); end the "
                "network with a linear layer (a membrane readout) or with such a neuron"
            )
    return gain


def _scaled(values: Any, gain: float, dtype: torch.dtype) -> torch.Tensor:
    arr = np.asarray(values)
    if gain != 1.0:
        arr = arr.astype(np.float64) * gain
    return torch.as_tensor(arr, dtype=dtype)


def _positive(value: Any, what: str) -> float:
    """``value`` as a finite float > 0, or a ConfigError naming ``what``."""
    try:
        number = float(np.asarray(value, dtype=np.float64).reshape(-1)[0])
    except (TypeError, ValueError, IndexError):
        raise ConfigError(f"from_nir: {what} must be a number, got {value!r}") from None
    if not (np.isfinite(number) and number > 0):
        raise ConfigError(f"from_nir: {what} must be finite and > 0, got {number}")
    return number


def _one(values: Any, what: str, node: str = "") -> float:
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0 or not np.all(arr == arr.flat[0]):
        where = f"node {node!r}: " if node else ""
        raise ConfigError(
            f"from_nir: {where}{what} differs between neurons of a layer; ours share one"
        )
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


__all__ = ["MAX_TIMESTEPS", "from_nir"]
