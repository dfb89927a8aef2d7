r"""ANN→SNN conversion: fold BatchNorm, normalise by activation statistics, run as IF neurons.

The classic rate-coding route (Diehl et al. 2015; Rueckauer et al. 2017):

1. **Fold BatchNorm** into the synaptic layer before it. In eval mode
   :math:`\mathrm{BN}(Wx + b) = \gamma\frac{Wx + b - \mu}{\sqrt{\sigma^2+\epsilon}} + \beta`, so per
   output channel :math:`W' = sW,\ b' = s(b - \mu) + \beta` with :math:`s = \gamma/\sqrt{\sigma^2+\epsilon}`.
2. **Normalise** layer by layer: :math:`\lambda_l` is the ``percentile`` (99.9 by default; 100 = the
   maximum) of ReLU layer *l*'s activations on calibration data. An IF neuron with threshold
   :math:`\theta_l` and soft reset fires at a rate :math:`\approx a_l/\lambda_l` when its weights are
   :math:`W'_l = W_l\,\lambda_{l-1}\,\theta_l/\lambda_l`, :math:`b'_l = b_l\,\theta_l/\lambda_l`
   (:math:`\lambda_0 = 1`: the first layer sees the real-valued input). The output layer keeps
   :math:`\theta = \lambda = 1` and is read as the mean membrane input, i.e. the time-averaged
   logits.
3. **Run** as IF neurons with soft reset (reset by subtraction keeps the residual charge), the
   membrane starting at :math:`\theta/2` (halves the rate quantisation error), for T steps.

Only ReLU networks without attention convert: MLPs and CNNs (max-pooling commutes with the
positive scaling). A transformer's GELU and softmax have no IF counterpart here.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor, nn

from snn_models.ann import Analog
from snn_models.architectures import SpikingNet
from snn_models.errors import ConfigError
from snn_models.kinds import KINDS, feedforward_kinds
from snn_models.layers import TimeDistributed
from snn_models.neurons import IFNode

__all__ = [
    "ConvertedIF",
    "activation_scales",
    "convert",
    "fold_batchnorm",
    "load_converted",
]

_SYNAPSES = (nn.Linear, nn.Conv1d, nn.Conv2d)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)


class ConvertedIF(IFNode):
    """A soft-reset IF neuron whose membrane starts at ``v_init_fraction`` × threshold."""

    def __init__(self, *, threshold: float = 1.0, v_init_fraction: float = 0.5) -> None:
        super().__init__(threshold=threshold, soft_reset=True)
        self.v_init_fraction = v_init_fraction

    def initial_v(self, like: Tensor) -> Tensor:
        return torch.full_like(like, self.v_init_fraction * float(self.threshold))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, v_init={self.v_init_fraction}·threshold"


def _unwrap(m: nn.Module) -> nn.Module:
    return m.module if isinstance(m, TimeDistributed) else m


@torch.no_grad()
def _fold(synapse: nn.Module, bn: nn.Module) -> None:
    assert isinstance(synapse, _SYNAPSES) and isinstance(bn, _NORMS)
    if bn.running_mean is None or bn.running_var is None:
        raise ConfigError("BatchNorm without running statistics cannot be folded")
    scale = torch.ones_like(bn.running_var) if bn.weight is None else bn.weight.detach().clone()
    scale = scale / torch.sqrt(bn.running_var + bn.eps)
    shift = torch.zeros_like(scale) if bn.bias is None else bn.bias.detach()
    w = synapse.weight
    w.mul_(scale.reshape(-1, *([1] * (w.dim() - 1))))
    old_b = synapse.bias.detach() if synapse.bias is not None else torch.zeros_like(scale)
    new_b = (old_b - bn.running_mean) * scale + shift
    if synapse.bias is None:
        synapse.bias = nn.Parameter(new_b)
    else:
        synapse.bias.copy_(new_b)


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """Fold every BatchNorm that directly follows a Linear/Conv into its weights (in place).

    Pairs are found inside ``nn.Sequential`` containers (time-distributed or not) and in
    modules that apply ``bn`` to their ``linear`` or ``conv`` (attention projections, patch and
    sequence embeddings); each folded BatchNorm becomes an
    ``nn.Identity``. The model must be in eval mode for the result to equal the original.

    Returns:
        ``model``, for chaining.
    """
    for module in list(model.modules()):
        if isinstance(module, nn.Sequential):
            for i in range(len(module) - 1):
                first, second = _unwrap(module[i]), _unwrap(module[i + 1])
                if isinstance(first, _SYNAPSES) and isinstance(second, _NORMS):
                    _fold(first, second)
                    module[i + 1] = nn.Identity()
        norm = getattr(module, "bn", None)
        if isinstance(norm, _NORMS):  # Projection / PatchEmbed / SequenceEmbed: bn(linear|conv(x))
            for attr in ("linear", "conv"):
                syn = getattr(module, attr, None)
                if isinstance(syn, nn.Module) and isinstance(_unwrap(syn), _SYNAPSES):
                    _fold(_unwrap(syn), norm)
                    module.bn = nn.Identity()
                    break
    return model


def _check_convertible(ann: nn.Module) -> list[Analog]:
    spec = getattr(ann, "spec", None)
    kind = KINDS.get(spec.kind) if spec is not None else None
    if spec is not None and (kind is None or not kind.feedforward):
        raise ConfigError(
            f"kind: {spec.kind} cannot be converted to IF neurons (softmax attention and GELU "
            f"have no IF counterpart); convert an {' or '.join(feedforward_kinds())} twin"
        )
    analogs = [m for m in ann.modules() if isinstance(m, Analog)]
    if not analogs:
        raise ConfigError("the network has no Analog (ReLU) layers: build it with build_ann")
    bad = {m.activation for m in analogs if m.activation != "relu"}
    if bad:
        raise ConfigError(f"conversion needs ReLU activations, got {', '.join(sorted(bad))}")
    return analogs


@torch.no_grad()
def activation_scales(
    ann: nn.Module, batches: Iterable[Tensor], percentile: float = 99.9
) -> list[float]:
    """λ_l of every ReLU layer, in forward order: the ``percentile`` of its outputs (100 = max).

    At most 2**20 values per layer and batch are kept (a seeded random subset) for the quantile.
    """
    if not 0 < percentile <= 100:
        raise ConfigError(f"percentile must be in (0, 100], got {percentile}")
    analogs = _check_convertible(ann)
    seen: dict[int, list[Tensor]] = {id(m): [] for m in analogs}
    g = torch.Generator().manual_seed(0)
    cap = 1 << 20

    def hook(m: nn.Module, _inp: Any, out: Tensor) -> None:
        flat = out.detach().flatten().float()
        if flat.numel() > cap:
            flat = flat[torch.randint(flat.numel(), (cap,), generator=g)]
        seen[id(m)].append(flat)

    handles = [m.register_forward_hook(hook) for m in analogs]
    was_training = ann.training
    ann.eval()
    try:
        n = 0
        for x in batches:
            ann(x)
            n += 1
    finally:
        for h in handles:
            h.remove()
        ann.train(was_training)
    if n == 0:
        raise ConfigError("no calibration batches: pass at least one batch of training inputs")
    scales = []
    for m in analogs:
        values = torch.cat(seen[id(m)])
        if values.numel() > 16_000_000:
            values = values[torch.randint(values.numel(), (16_000_000,), generator=g)]
        lam = (
            float(values.max())
            if percentile == 100
            else float(torch.quantile(values, percentile / 100))
        )
        scales.append(lam if lam > 0 else 1.0)  # a dead ReLU layer: any scale is as good
    return scales


def _synapses_and_neurons(model: nn.Module, neuron_type: type[nn.Module]) -> list[nn.Module]:
    """Synaptic layers and neurons in forward (registration) order."""
    return [m for m in model.modules() if isinstance(m, (_SYNAPSES, neuron_type))]


@torch.no_grad()
def _scale_weights(
    seq: list[nn.Module], neuron_type: type[nn.Module], scales: list[float], thresholds: list[float]
) -> None:
    """Apply W'_l = W_l·λ_{l-1}·θ_l/λ_l, b'_l = b_l·θ_l/λ_l along ``seq`` (synapses, neurons)."""
    lam_prev, k, pending = 1.0, 0, None
    for m in seq:
        if isinstance(m, _SYNAPSES):
            if pending is not None:
                raise ConfigError("two synaptic layers without a neuron between them")
            pending = m
        elif isinstance(m, neuron_type):
            if pending is None:
                raise ConfigError("a neuron layer without a synaptic layer before it")
            lam, theta = scales[k], thresholds[k]
            pending.weight.mul_(lam_prev * theta / lam)
            if pending.bias is not None:
                pending.bias.mul_(theta / lam)
            lam_prev, k, pending = lam, k + 1, None
    if pending is None:
        raise ConfigError("the network does not end in a synaptic output layer")
    pending.weight.mul_(lam_prev)  # the output layer: θ = λ = 1


@torch.no_grad()
def convert(
    ann: SpikingNet,
    calibration: Iterable[Tensor],
    *,
    timesteps: int,
    percentile: float = 99.9,
    v_init_fraction: float = 0.5,
) -> SpikingNet:
    """A spiking copy of a trained ReLU twin (``ann`` is left untouched).

    Args:
        ann: a trained :func:`~snn_models.ann.build_ann` MLP or CNN (ReLU).
        calibration: input batches ``[B, ...]`` (training data) for the activation statistics.
        timesteps: T of the converted network (change it later with :func:`set_timesteps`).
        percentile: λ_l's percentile of the ReLU outputs; 100 uses the maximum.
        v_init_fraction: the IF membrane's start, as a fraction of the threshold.

    Returns:
        The converted network: BatchNorm folded, :class:`ConvertedIF` neurons (threshold 1, soft
        reset), direct encoding over ``timesteps`` steps, membrane readout.
    """
    _check_convertible(ann)
    scales = activation_scales(ann, calibration, percentile)
    snn = copy.deepcopy(ann).eval()
    fold_batchnorm(snn)
    _swap_analogs(snn, v_init_fraction)
    _scale_weights(
        _synapses_and_neurons(snn, ConvertedIF), ConvertedIF, scales, [1.0] * len(scales)
    )
    set_timesteps(snn, timesteps)
    snn.spec = dataclasses.replace(snn.spec, soft_reset=True, batchnorm=False)
    return snn


def _swap_analogs(model: nn.Module, v_init_fraction: float) -> None:
    for name, child in list(model.named_children()):
        if isinstance(child, Analog):
            setattr(model, name, ConvertedIF(threshold=1.0, v_init_fraction=v_init_fraction))
        else:
            _swap_analogs(child, v_init_fraction)


def set_timesteps(net: SpikingNet, timesteps: int) -> SpikingNet:
    """Run ``net`` for ``timesteps`` steps from now on (its spec and encoder both follow)."""
    if not isinstance(timesteps, int) or timesteps < 1:
        raise ConfigError(f"timesteps must be a positive integer, got {timesteps!r}")
    net.spec = dataclasses.replace(net.spec, timesteps=timesteps)
    net.encoder.timesteps = timesteps  # type: ignore[assignment]
    return net


@torch.no_grad()
def load_converted(
    snn: SpikingNet,
    ann: SpikingNet,
    calibration: Iterable[Tensor],
    *,
    percentile: float = 99.9,
) -> SpikingNet:
    """Warm-start ``snn`` (built without BatchNorm) from a trained twin's converted weights.

    Every synaptic layer of ``snn`` gets the twin's folded weights scaled for ``snn``'s own
    thresholds (``W'_l = W_l·λ_{l-1}·θ_l/λ_l``), so each layer starts firing at the rates the
    conversion predicts; training with surrogate gradients then fine-tunes it.

    Raises:
        ConfigError: the topologies differ, ``snn`` has BatchNorm, or a layer's threshold is
            learnable/adaptive in a way the scaling cannot honour.
    """
    from snn_models.neurons.base import BaseNeuron

    if any(isinstance(m, _NORMS) for m in snn.modules()):
        raise ConfigError("init: convert needs a network without BatchNorm (batchnorm: false)")
    scales = activation_scales(ann, calibration, percentile)
    folded = fold_batchnorm(copy.deepcopy(ann).eval())
    src = [m for m in folded.modules() if isinstance(m, _SYNAPSES)]
    dst = [m for m in snn.modules() if isinstance(m, _SYNAPSES)]
    if [tuple(m.weight.shape) for m in src] != [tuple(m.weight.shape) for m in dst]:
        raise ConfigError("init: convert: the twin's layers do not match the candidate's")
    neurons = [m for m in snn.modules() if isinstance(m, BaseNeuron)]
    if len(neurons) != len(scales):
        raise ConfigError("init: convert: the candidate's neuron layers do not match the twin's")
    for s, d in zip(src, dst, strict=True):
        d.weight.copy_(s.weight)
        if d.bias is None and s.bias is not None:
            d.bias = nn.Parameter(s.bias.detach().clone())
        elif d.bias is not None:
            d.bias.copy_(s.bias if s.bias is not None else torch.zeros_like(d.bias))
    thresholds = [float(m.threshold) for m in neurons]
    _scale_weights(_synapses_and_neurons(snn, BaseNeuron), BaseNeuron, scales, thresholds)
    return snn
