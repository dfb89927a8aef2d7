r"""Energy per inference, counted from the spikes a network actually fires.

The model:

.. math::

    E_{SNN} = E_{MAC}\cdot \mathrm{MAC}_{real} + E_{AC}\cdot \sum_l \mathrm{SOP}_l, \qquad
    E_{ANN} = E_{MAC}\cdot \sum_l \mathrm{MAC}_l

* A synaptic layer (``nn.Linear``, ``nn.Conv1d``, ``nn.Conv2d``) whose input is binary (every
  value 0 or 1) performs one accumulate per spike per outgoing synapse:
  :math:`\mathrm{SOP}_l = \sum_{\text{inputs } i} \text{spikes}_i \times \text{fan-out}_i`,
  summed over all T steps. For a convolution the fan-out of each input position is counted
  exactly (padding and stride included), not estimated from averages.
* A synaptic layer whose input is real-valued (the encoding layer under direct encoding, or any
  non-spiking input) performs dense multiply-accumulates at every step it runs: MACs.
* The equivalent ANN runs every synaptic layer once, densely: :math:`\sum_l \mathrm{MAC}_l` per
  sample.

* Attention internals (QKᵀ, AV, K ⊙ V, ... — products that are not modules) are reported by the
  attention blocks themselves (:class:`snn_models.attention.AttentionBlock`), each term with its
  own counting rule written in the block's docstring: accumulates on binary operands are priced
  like SOPs (E_AC, reported in the ``sops`` column), real-valued products as MACs. Each term is a
  row of the report named ``<block>:<term>`` (e.g. ``body.1.attn:qk``) with kind
  ``<Block class>.<term>``.

Not counted (stated so nobody has to guess): biases, BatchNorm (folded into the weights at
inference), max pooling (a max of spikes is a spike), neuron state updates, position embeddings,
softmax's exponentials, and memory traffic.

Counts come from forward hooks (synaptic layers, neurons) and per-block op sinks (attention) that
:class:`EnergyMeter` installs for the duration of a ``with`` block; nothing is left attached to
the model afterwards.

The energy table is data: add a profile (another process node, INT8, a chip's pJ per SOP) as one
entry in :data:`ENERGY_PROFILES`.

**Energy models** (:data:`ENERGY_MODELS`): with direct encoding the encoding layer (the *stem*)
runs once on the static input and its output is repeated over T (:mod:`snn_models.network`).
``per-inference`` (the default) counts it as it runs: its dense MACs once per inference.
``per-step`` counts it at every one of the T steps, as a chip fed the input at every step runs
it (and as NeuroBench's ``Effective_MACs`` counts a model fed that way).

The meter also counts NeuroBench's metrics (footprint, parameter count, connection and
activation sparsity, synaptic operations) with NeuroBench's definitions from the same forwards:
:attr:`EnergyReport.neurobench`, see :mod:`snn_models.neurobench_metrics`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from snn_models.attention.base import AttentionBlock, OpCount, OpSink
from snn_models.errors import ConfigError
from snn_models.neurobench_metrics import NeuroBenchCounter, NeuroBenchMetrics, stem_repeats
from snn_models.neurons.base import BaseNeuron

PJ_PER_UJ = 1e6


@dataclass(frozen=True)
class EnergyProfile:
    """Energy per operation of one hardware assumption, with its source."""

    name: str
    e_mac_pj: float
    e_ac_pj: float
    citation: str


ENERGY_PROFILES: dict[str, EnergyProfile] = {
    "45nm_fp32": EnergyProfile(
        name="45nm_fp32",
        e_mac_pj=4.6,
        e_ac_pj=0.9,
        citation=(
            "M. Horowitz, 'Computing's energy problem (and what we can do about it)', ISSCC 2014, "
            "45 nm: 32-bit float multiply 3.7 pJ + add 0.9 pJ = MAC 4.6 pJ; accumulate (add) 0.9 pJ"
        ),
    ),
    "45nm_int8": EnergyProfile(
        name="45nm_int8",
        e_mac_pj=0.23,
        e_ac_pj=0.03,
        citation=(
            "M. Horowitz, ISSCC 2014, 45 nm: 8-bit integer multiply 0.2 pJ + add 0.03 pJ = MAC "
            "0.23 pJ; accumulate (add) 0.03 pJ"
        ),
    ),
}


def get_profile(name: str) -> EnergyProfile:
    """Look up an energy profile by name."""
    try:
        return ENERGY_PROFILES[name]
    except KeyError:
        raise ConfigError(
            f"unknown energy profile {name!r}; choose one of {', '.join(ENERGY_PROFILES)}"
        ) from None


SYNAPTIC_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d)

#: How often the encoding layer that runs once on the static input (the stem) is counted:
#: ``per-inference`` once, as the model runs; ``per-step`` at every time step, as a chip fed the
#: input at every step runs it. The first is the default.
ENERGY_MODELS: tuple[str, ...] = ("per-inference", "per-step")
DEFAULT_ENERGY_MODEL = "per-inference"


def check_energy_model(name: str) -> str:
    """``name`` if it is one of :data:`ENERGY_MODELS`.

    Raises:
        ConfigError: any other name.
    """
    if name not in ENERGY_MODELS:
        raise ConfigError(f"energy_model must be one of {', '.join(ENERGY_MODELS)}, got {name!r}")
    return name


@dataclass
class LayerCount:
    """Operation counts of one synaptic layer, summed over every forward seen by the meter."""

    name: str
    kind: str
    sops: int = 0
    macs: int = 0
    input_spikes: int = 0
    spiking_input: bool = True
    dense_macs_per_sample: int = 0  # one time step of one sample, as the equivalent ANN runs it


@dataclass
class NeuronCount:
    """Spikes fired by one neuron layer."""

    name: str
    spikes: int = 0
    elements: int = 0

    @property
    def rate(self) -> float:
        return self.spikes / self.elements if self.elements else 0.0


@dataclass
class LayerEnergy:
    """One synaptic layer's share of the energy of one inference."""

    name: str
    kind: str
    input: str  # "spikes" or "real"
    sops: float
    macs: float
    energy_uj: float
    ann_macs: int


@dataclass
class EnergyReport:
    """Energy and activity per inference (all counts divided by the number of samples)."""

    profile: str
    n_samples: int
    layers: list[LayerEnergy]
    firing_rates: dict[str, float]
    spikes_per_inference: dict[str, float]
    total_sops: float
    total_macs: float
    energy_uj: float
    ann_energy_uj: float
    citation: str = field(repr=False, default="")
    energy_model: str = DEFAULT_ENERGY_MODEL
    #: NeuroBench's metrics of the same forwards (synaptic operations per inference)
    neurobench: NeuroBenchMetrics | None = None

    @property
    def ratio_to_ann(self) -> float:
        """SNN energy / equivalent-ANN energy (< 1 means the SNN is cheaper)."""
        return self.energy_uj / self.ann_energy_uj if self.ann_energy_uj else float("nan")

    def energy_under(self, module: str) -> float:
        """Energy (µJ) of the rows of ``module`` and everything inside it (e.g. ``body.0.attn``:
        its projections and its attention terms ``body.0.attn:<term>``)."""
        inside = (f"{module}.", f"{module}:")
        return sum(
            r.energy_uj for r in self.layers if r.name == module or r.name.startswith(inside)
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ratio_to_ann"] = self.ratio_to_ann
        if self.neurobench is not None:
            d["neurobench"] = self.neurobench.to_dict()
        return d


def _dense_macs(module: nn.Module, x: Tensor, y: Tensor) -> int:
    """Dense multiply-accumulates of ``module`` on input ``x`` giving output ``y``."""
    if isinstance(module, nn.Linear):
        return y.numel() * module.in_features
    if isinstance(module, nn.Conv1d | nn.Conv2d):
        k = 1
        for s in module.kernel_size:
            k *= s
        return y.numel() * (module.in_channels // module.groups) * k
    raise TypeError(type(module))  # pragma: no cover


def _term_key(block: str, term: str) -> str:
    """Report row of an attention term: ``<block>:<term>`` (just ``<term>`` for a bare block)."""
    return f"{block}:{term}" if block else term


class EnergyMeter:
    """Count SOPs, MACs and spikes of a model during a ``with`` block.

    Args:
        model: any module; its ``nn.Linear``/``nn.Conv1d``/``nn.Conv2d`` layers are metered, its
            attention blocks report their internal products (one row per term), and its spiking
            neurons' outputs are counted for firing rates.
        profile: name of an :data:`ENERGY_PROFILES` entry. Default ``"45nm_fp32"``.
        energy_model: ``per-inference`` (default) or ``per-step``: how often the stem (the
            layers of ``model.stem``, run once on the static input) is counted; see
            :data:`ENERGY_MODELS`.

    Example:
        >>> import torch
        >>> from snn_models.layers import td_linear
        >>> net = td_linear(4, 3, bias=False)
        >>> with EnergyMeter(net) as meter:
        ...     _ = net(torch.ones(2, 1, 4))      # T=2, B=1, 4 inputs spiking every step
        ...     meter.add_samples(1)
        >>> meter.report().total_sops             # 2 steps x 4 spikes x fan-out 3
        24.0
    """

    def __init__(
        self,
        model: nn.Module,
        profile: str = "45nm_fp32",
        energy_model: str = DEFAULT_ENERGY_MODEL,
    ) -> None:
        self.model = model
        self.profile = get_profile(profile)
        self.energy_model = check_energy_model(energy_model)
        self._repeats = stem_repeats(model, energy_model)
        self.neurobench = NeuroBenchCounter(model, self._repeats)
        self.layers: dict[str, LayerCount] = {}
        self.neurons: dict[str, NeuronCount] = {}
        self.n_samples = 0
        self._handles: list[Any] = []
        self._sinks: list[tuple[AttentionBlock, OpSink | None]] = []
        self._fanout_cache: dict[tuple[int, tuple[int, ...]], Tensor] = {}

    # ------------------------------------------------------------------ hooks
    def __enter__(self) -> EnergyMeter:
        for name, m in self.model.named_modules():
            if isinstance(m, SYNAPTIC_TYPES):
                self.layers[name] = LayerCount(name=name, kind=type(m).__name__)
                self._handles.append(m.register_forward_hook(self._synapse_hook(name)))
            elif isinstance(m, BaseNeuron):
                self.neurons[name] = NeuronCount(name=name)
                self._handles.append(m.register_forward_hook(self._neuron_hook(name)))
            elif isinstance(m, AttentionBlock):
                for term, operands in m.OP_TERMS.items():
                    key = _term_key(name, term)
                    self.layers[key] = LayerCount(
                        name=key,
                        kind=f"{type(m).__name__}.{term}",
                        spiking_input=operands == "spikes",
                    )
                self._sinks.append((m, m.op_sink))
                m.op_sink = self._attention_sink(name)
        self.neurobench.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.neurobench.__exit__(*exc)
        for h in self._handles:
            h.remove()
        self._handles.clear()
        for m, previous in reversed(self._sinks):
            m.op_sink = previous
        self._sinks.clear()

    def add_samples(self, n: int) -> None:
        """Record that ``n`` more input samples went through the model."""
        self.n_samples += int(n)

    def _synapse_hook(self, name: str) -> Callable[..., None]:
        def hook(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
            x = inputs[0].detach()
            count = self.layers[name]
            dense = _dense_macs(module, x, output)
            count.dense_macs_per_sample = dense // max(x.shape[0], 1)
            k = self._repeats.get(id(module), 1)  # the stem under per-step: T
            if bool(((x == 0) | (x == 1)).all()):
                n_spikes = int(x.sum())
                count.input_spikes += k * n_spikes
                count.sops += k * self._sops(module, x)
            else:
                count.spiking_input = False
                count.macs += k * dense

        return hook

    def _neuron_hook(self, name: str) -> Callable[..., None]:
        def hook(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
            c = self.neurons[name]
            c.spikes += int(output.detach().sum())
            c.elements += output.numel()

        return hook

    def _attention_sink(self, name: str) -> Callable[[OpCount], None]:
        def sink(ops: OpCount) -> None:
            count = self.layers.get(_term_key(name, ops.term))
            if count is None:
                raise ConfigError(
                    f"energy: attention block {name!r} reported term {ops.term!r}, "
                    "which its OP_TERMS does not declare"
                )
            count.sops += ops.acs
            count.macs += ops.macs
            count.dense_macs_per_sample = ops.dense_macs_per_sample

        return sink

    # ------------------------------------------------------------------ counting
    def _sops(self, module: nn.Module, x: Tensor) -> int:
        if isinstance(module, nn.Linear):
            return int(x.sum()) * module.out_features
        assert isinstance(module, nn.Conv1d | nn.Conv2d)
        fan = self._conv_fanout(module, tuple(x.shape[2:]))
        per_position = x.sum(dim=(0, 1))  # spikes at each spatial position, all channels/steps
        out_per_group = module.out_channels // module.groups
        return round(float((per_position * fan).sum())) * out_per_group

    def _conv_fanout(self, module: nn.Conv1d | nn.Conv2d, spatial: tuple[int, ...]) -> Tensor:
        """Number of output positions each input position feeds, for one in/out channel pair."""
        key = (id(module), spatial)
        if key not in self._fanout_cache:
            probe = torch.ones((1, 1, *spatial), dtype=torch.float64, requires_grad=True)
            kernel = torch.ones((1, 1, *module.kernel_size), dtype=torch.float64)
            conv = F.conv1d if isinstance(module, nn.Conv1d) else F.conv2d
            pad = module.padding
            if isinstance(pad, str):
                raise ConfigError(f"energy: string padding {pad!r} is not supported; use integers")
            if module.padding_mode != "zeros":
                raise ConfigError(f"energy: padding_mode {module.padding_mode!r} is not supported")
            with torch.enable_grad():  # the meter usually runs under no_grad
                out = conv(
                    probe, kernel, stride=module.stride, padding=pad, dilation=module.dilation
                )
                out.sum().backward()
            assert probe.grad is not None
            self._fanout_cache[key] = probe.grad[0, 0].to(torch.float64)
        return self._fanout_cache[key]

    # ------------------------------------------------------------------ report
    def report(self) -> EnergyReport:
        """Per-inference counts and energy for everything seen so far."""
        if self.n_samples <= 0:
            raise ConfigError("energy: no samples recorded; call add_samples(batch_size) per batch")
        n = self.n_samples
        p = self.profile
        layers = []
        for c in self.layers.values():
            sops, macs = c.sops / n, c.macs / n
            layers.append(
                LayerEnergy(
                    name=c.name,
                    kind=c.kind,
                    input="spikes" if c.spiking_input else "real",
                    sops=sops,
                    macs=macs,
                    energy_uj=(p.e_ac_pj * sops + p.e_mac_pj * macs) / PJ_PER_UJ,
                    ann_macs=c.dense_macs_per_sample,
                )
            )
        total_sops = sum(layer.sops for layer in layers)
        total_macs = sum(layer.macs for layer in layers)
        return EnergyReport(
            profile=p.name,
            n_samples=n,
            layers=layers,
            firing_rates={k: c.rate for k, c in self.neurons.items()},
            spikes_per_inference={k: c.spikes / n for k, c in self.neurons.items()},
            total_sops=total_sops,
            total_macs=total_macs,
            energy_uj=(p.e_ac_pj * total_sops + p.e_mac_pj * total_macs) / PJ_PER_UJ,
            ann_energy_uj=p.e_mac_pj * sum(layer.ann_macs for layer in layers) / PJ_PER_UJ,
            citation=p.citation,
            energy_model=self.energy_model,
            neurobench=self.neurobench.metrics(n),
        )


@torch.no_grad()
def measure_energy(
    model: nn.Module,
    batches: Iterable[Tensor],
    *,
    profile: str = "45nm_fp32",
    reset: Callable[[nn.Module], None] | None = None,
    energy_model: str = DEFAULT_ENERGY_MODEL,
) -> EnergyReport:
    """Run ``model`` (in eval mode) over ``batches`` of inputs and return energy per inference.

    Args:
        model: the network; called as ``model(x)`` with ``x`` of shape ``[B, ...]``.
        batches: an iterable of input tensors (labels are not needed).
        profile: energy profile name.
        reset: called on the model before each batch (defaults to
            :func:`snn_models.functional.reset_net`).
        energy_model: ``per-inference`` or ``per-step`` (:data:`ENERGY_MODELS`).
    """
    from snn_models.functional import reset_net

    reset = reset or reset_net
    was_training = model.training
    model.eval()
    try:
        with EnergyMeter(model, profile, energy_model) as meter:
            for x in batches:
                reset(model)
                model(x)
                meter.add_samples(x.shape[0])
        return meter.report()
    finally:
        model.train(was_training)
