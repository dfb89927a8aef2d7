r"""NeuroBench's efficiency metrics, counted with NeuroBench's definitions during our energy
measurement (no second pass over the data).

NeuroBench (Yik et al., *Nature Communications* 2025; PyPI ``neurobench`` 2.3) is how the
neuromorphic community reports a model's cost. Its metrics, as its own code computes them
(``neurobench.metrics.static`` and ``neurobench.metrics.workload``), and as
:class:`NeuroBenchCounter` computes them from the forwards :class:`~snn_models.energy.EnergyMeter`
sees:

* **Footprint** (bytes): :math:`\sum` ``numel × element_size`` over parameters and buffers.
* **ParameterCount**: :math:`\sum` ``numel`` over parameters.
* **ConnectionSparsity**: zero weights / all weights of the connection layers (``nn.Linear``,
  ``nn.Conv1d/2d/3d``); NeuroBench rounds it to 4 decimals, we keep it unrounded.
* **ActivationSparsity**: :math:`1 - \text{non-zero outputs} / \text{all outputs}` over every
  activation layer (NeuroBench's ``nn.ReLU``, ``nn.Sigmoid``, plus our spiking neurons: a
  :class:`~snn_models.neurons.BaseNeuron` is the activation module our models register, as
  snnTorch's ``SpikingNeuron`` is for snnTorch), all steps and samples. For spiking layers this
  is one minus the overall firing rate.
* **SynapticOperations** per sample, for every call of a connection layer with input ``x``:
  ``Effective = Σ (x ≠ 0) · (W ≠ 0)`` — a synapse counts when its input is non-zero and its
  weight is non-zero; biases are not counted. The call's count is an **Effective_AC** when every
  input is -1, 0 or 1 (spikes), else an **Effective_MAC**. **Dense** counts every synapse of
  every call as if all inputs and weights were non-zero (for a padded convolution only the
  synapses that touch the input).

How NeuroBench's counts relate to :mod:`snn_models.energy`: for a layer fed by spikes,
``Effective_ACs`` equals our SOP count whenever no weight is exactly zero (trained float weights
never are); our µJ figure prices the real-valued encoding layer's *dense* MACs
(``E_MAC · MAC``), where ``Effective_MACs`` skips zero inputs (many zero pixels on digits); and
the attention products that are not modules (QKᵀ, AV, K ⊙ V) are in our SOP/MAC counts but in
none of NeuroBench's. See ``docs/energy.md``.

**The stem.** With direct encoding our networks run their first synaptic layer once on the
static input and repeat its output over T (:mod:`snn_models.network`): that is what NeuroBench
counts when it runs the model as it is. A chip fed the input at every step runs that layer T
times: with ``repeats`` (the energy model ``per-step``) each call of a stem layer counts T times,
which is exactly what NeuroBench counts on :func:`stem_every_step` (the same network with the
stem inside the time loop; identical outputs).

Example:
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Linear(3, 2, bias=False), nn.ReLU())
    >>> with torch.no_grad():
    ...     _ = net[0].weight.copy_(torch.tensor([[1.0, 0.0, 2.0], [0.0, 0.0, 3.0]]))
    >>> counter = NeuroBenchCounter(net)
    >>> with counter:
    ...     _ = net(torch.tensor([[0.5, 1.0, 0.0]]))
    >>> m = counter.metrics(n_samples=1)
    >>> m.effective_macs, m.effective_acs, m.dense, m.connection_sparsity
    (1.0, 0.0, 6.0, 0.5)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from snn_models.errors import ConfigError
from snn_models.layers import TimeDistributed
from snn_models.neurons.base import BaseNeuron

__all__ = [
    "NEUROBENCH_ACTIVATIONS",
    "NEUROBENCH_CONNECTIONS",
    "NeuroBenchCounter",
    "NeuroBenchMetrics",
    "activation_layers",
    "connection_layers",
    "stem_every_step",
    "stem_repeats",
]

#: What NeuroBench 2.3 treats as an activation layer (its ``SUPPORTED_ACTIVATIONS``), plus our
#: spiking neurons (registered the way ``SNNTorchModel`` registers snnTorch's).
NEUROBENCH_ACTIVATIONS: tuple[type[nn.Module], ...] = (nn.ReLU, nn.Sigmoid, BaseNeuron)
#: NeuroBench 2.3's stateless connection layers (its ``STATELESS_LAYERS``); our models have no
#: recurrent torch layers (NeuroBench's RNN counting is not mirrored here).
NEUROBENCH_CONNECTIONS: tuple[type[nn.Module], ...] = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_CONV_FN: dict[type[nn.Module], Callable[..., Tensor]] = {
    nn.Conv1d: F.conv1d,
    nn.Conv2d: F.conv2d,
    nn.Conv3d: F.conv3d,
}


@dataclass
class NeuroBenchMetrics:
    """NeuroBench's metrics of one model on the samples measured (synaptic operations per sample).

    Attributes:
        footprint_bytes: NeuroBench ``Footprint``.
        parameter_count: NeuroBench ``ParameterCount``.
        connection_sparsity: NeuroBench ``ConnectionSparsity`` (unrounded).
        activation_sparsity: NeuroBench ``ActivationSparsity``.
        effective_macs, effective_acs, dense: NeuroBench ``SynapticOperations`` per sample.
        n_samples: The samples measured.
        stem_repeats: How often each stem call was counted (1: as the model runs; T: the
            ``per-step`` energy model).
    """

    footprint_bytes: int
    parameter_count: int
    connection_sparsity: float
    activation_sparsity: float
    effective_macs: float
    effective_acs: float
    dense: float
    n_samples: int
    stem_repeats: int = 1

    @property
    def synops(self) -> float:
        """Effective synaptic operations per sample: ``effective_macs + effective_acs``."""
        return self.effective_macs + self.effective_acs

    def to_dict(self) -> dict[str, Any]:
        """Plain data (the field names, and ``synops``)."""
        return {**asdict(self), "synops": self.synops}

    def as_neurobench(self) -> dict[str, Any]:
        """The metrics under the names ``neurobench.benchmarks.Benchmark.run`` returns."""
        return {
            "Footprint": self.footprint_bytes,
            "ParameterCount": self.parameter_count,
            "ConnectionSparsity": self.connection_sparsity,
            "ActivationSparsity": self.activation_sparsity,
            "SynapticOperations": {
                "Effective_MACs": self.effective_macs,
                "Effective_ACs": self.effective_acs,
                "Dense": self.dense,
            },
        }


def activation_layers(model: nn.Module) -> list[nn.Module]:
    """The activation layers NeuroBench hooks: children found depth-first, not looking inside an
    activation layer (``NeuroBenchModel.activation_layers``)."""
    found: list[nn.Module] = []
    for child in model.children():
        if isinstance(child, NEUROBENCH_ACTIVATIONS):
            found.append(child)
        elif list(child.children()):
            found.extend(activation_layers(child))
    return found


def connection_layers(model: nn.Module) -> list[nn.Module]:
    """The connection layers NeuroBench hooks (``NeuroBenchModel.connection_layers``)."""
    found: list[nn.Module] = []
    for child in model.children():
        if isinstance(child, NEUROBENCH_CONNECTIONS):
            found.append(child)
        elif list(child.children()):
            found.extend(connection_layers(child))
    return found


def stem_repeats(model: nn.Module, energy_model: str) -> dict[int, int]:
    """``id(layer) → T`` for the connection layers of ``model.stem`` under ``per-step`` (none
    under ``per-inference``, or for a model without a stem)."""
    stem = getattr(model, "stem", None)
    if energy_model != "per-step" or not isinstance(stem, nn.Module):
        return {}
    timesteps = int(getattr(model, "timesteps", 1))
    return {id(m): timesteps for m in connection_layers(stem)}


class _StemEveryStep(nn.Module):
    """``net`` with its stem run on every step of the encoded input (see
    :func:`stem_every_step`); the modules are ``net``'s own (shared weights)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        parts = {name: getattr(net, name, None) for name in ("encoder", "stem", "body", "head")}
        parts["readout"] = getattr(net, "readout", None)
        modules = {k: v for k, v in parts.items() if isinstance(v, nn.Module)}
        if len(modules) != len(parts):
            raise ConfigError(
                "stem_every_step: needs a SpikingNet (stem, encoder, body, head, readout)"
            )
        preprocess = getattr(net, "preprocess", None)
        self.preprocess = preprocess if isinstance(preprocess, nn.Module) else nn.Identity()
        self.encoder = modules["encoder"]
        self.stem = TimeDistributed(modules["stem"])
        self.body = modules["body"]
        self.head = modules["head"]
        self.readout = modules["readout"]

    def forward(self, x: Tensor) -> Tensor:
        from snn_models.functional import reset_net

        reset_net(self)
        x = self.encoder(self.preprocess(x))
        return self.readout(self.head(self.body(self.stem(x))))


def stem_every_step(net: nn.Module) -> nn.Module:
    """The network ``net`` (a :class:`~snn_models.SpikingNet`) with its stem inside the time
    loop: the encoder repeats the raw input over T and the stem runs on each step, as a chip fed
    the input at every step does. Same weights, same outputs; NeuroBench's counts on it are what
    the ``per-step`` energy model records.

    Raises:
        ConfigError: ``net`` has no stem/encoder/body/head/readout (not a ``SpikingNet``).
    """
    return _StemEveryStep(net)


def _spiking(x: Tensor) -> bool:
    """NeuroBench's test of a call's input: spikes when every value is -1, 0 or 1."""
    return bool(((x == 0) | (x == 1) | (x == -1)).all())


def _linear_ops(layer: nn.Linear, x: Tensor) -> tuple[int, int]:
    """(effective, dense) synaptic operations of one call of a linear layer."""
    nz_inputs = (x != 0).reshape(-1, layer.in_features).sum(0, dtype=torch.float64)
    fan_out = (layer.weight != 0).sum(0, dtype=torch.float64)  # non-zero weights per input
    effective = round(float(nz_inputs @ fan_out))
    return effective, (x.numel() // layer.in_features) * layer.in_features * layer.out_features


def _conv_ops(layer: nn.Module, x: Tensor) -> tuple[int, int]:
    """(effective, dense) synaptic operations of one call of a convolution: a convolution of
    the non-zero pattern (summed over the batch, which is exact as convolution is linear) with
    the non-zero pattern of the weights; dense with all ones."""
    assert isinstance(layer, _CONVS)
    if isinstance(layer.padding, str) or layer.padding_mode != "zeros":
        raise ConfigError(
            "neurobench: only integer zero padding is counted; got "
            f"padding={layer.padding!r}, padding_mode={layer.padding_mode!r}"
        )
    spatial = layer.weight.dim() - 2
    x = x.reshape(-1, *x.shape[-(spatial + 1) :])
    conv = _CONV_FN[type(layer)]
    kw = {
        "stride": layer.stride,
        "padding": layer.padding,
        "dilation": layer.dilation,
        "groups": layer.groups,
    }
    nz = (x != 0).sum(0, keepdim=True, dtype=torch.float64)
    effective = conv(nz, (layer.weight != 0).to(torch.float64), **kw).sum()
    ones = torch.ones_like(nz)
    dense = conv(ones, torch.ones_like(layer.weight, dtype=torch.float64), **kw).sum()
    return round(float(effective)), round(float(dense)) * x.shape[0]


class NeuroBenchCounter:
    """NeuroBench's metrics of ``model`` counted from the forwards inside a ``with`` block.

    The static metrics are read when the block starts (NeuroBench reads them before its run);
    forward hooks on :func:`connection_layers` and :func:`activation_layers` count synaptic
    operations and activations; nothing stays attached afterwards.

    Args:
        model: Any module.
        repeats: ``id(connection layer) → factor`` for calls that a chip would make more often
            than the model does (:func:`stem_repeats`); 1 for every other layer.
    """

    def __init__(self, model: nn.Module, repeats: Mapping[int, int] | None = None) -> None:
        self.model = model
        self.repeats = dict(repeats or {})
        self.effective_macs = 0
        self.effective_acs = 0
        self.dense = 0
        self.nonzero = 0
        self.activations = 0
        self._static: dict[str, Any] = {}
        self._handles: list[Any] = []

    def __enter__(self) -> NeuroBenchCounter:
        model = self.model
        params = list(model.parameters())
        weights = [
            m.weight
            for m in model.modules()
            if isinstance(m, NEUROBENCH_CONNECTIONS) and isinstance(m.weight, Tensor)
        ]
        n_weights = sum(w.numel() for w in weights)
        zeros = sum(int(torch.count_nonzero(w == 0)) for w in weights)
        self._static = {
            "footprint_bytes": sum(p.numel() * p.element_size() for p in params)
            + sum(b.numel() * b.element_size() for b in model.buffers()),
            "parameter_count": sum(p.numel() for p in params),
            "connection_sparsity": zeros / n_weights if n_weights else 0.0,
        }
        for layer in connection_layers(model):
            self._handles.append(layer.register_forward_hook(self._connection_hook))
        for layer in activation_layers(model):
            self._handles.append(layer.register_forward_hook(self._activation_hook))
        return self

    def __exit__(self, *exc: object) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def _connection_hook(self, layer: nn.Module, inputs: tuple[Tensor, ...], _: Tensor) -> None:
        x = inputs[0].detach()
        if isinstance(layer, nn.Linear):
            effective, dense = _linear_ops(layer, x)
        else:
            effective, dense = _conv_ops(layer, x)
        k = self.repeats.get(id(layer), 1)
        if _spiking(x):
            self.effective_acs += k * effective
        else:
            self.effective_macs += k * effective
        self.dense += k * dense

    def _activation_hook(self, layer: nn.Module, inputs: tuple[Tensor, ...], out: Any) -> None:
        y = out[0] if isinstance(out, tuple) else out
        self.nonzero += int(torch.count_nonzero(y.detach()))
        self.activations += y.numel()

    def metrics(self, n_samples: int) -> NeuroBenchMetrics:
        """The metrics, synaptic operations divided by ``n_samples``.

        Raises:
            ConfigError: ``n_samples`` < 1, or called before the ``with`` block started.
        """
        if n_samples < 1 or not self._static:
            raise ConfigError("neurobench: no samples measured")
        sparsity = 1 - self.nonzero / self.activations if self.activations else 0.0
        return NeuroBenchMetrics(
            **self._static,
            activation_sparsity=sparsity,
            effective_macs=self.effective_macs / n_samples,
            effective_acs=self.effective_acs / n_samples,
            dense=self.dense / n_samples,
            n_samples=n_samples,
            stem_repeats=max(self.repeats.values(), default=1),
        )
