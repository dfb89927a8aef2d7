r"""Spike-timing-dependent plasticity (STDP) and reward-modulated STDP, applied online.

DESIGN.md §4, trace-based pair rule, for a synapse from a presynaptic neuron ``j`` to a
postsynaptic neuron ``i`` (time in steps, :math:`\lambda_\pm = e^{-1/\tau_\pm}`):

.. math::

    x_j[t] = \lambda_+\, x_j[t-1] + s^{pre}_j[t], \qquad
    y_i[t] = \lambda_-\, y_i[t-1] + s^{post}_i[t],

    P_{ij}[t] = A_+\, x_j[t]\, s^{post}_i[t] - A_-\, y_i[t]\, s^{pre}_j[t],

    \Delta w_{ij} = \eta \sum_t P_{ij}[t], \qquad
    w \leftarrow \mathrm{clip}(w + \Delta w,\ w_{min},\ w_{max}).

Classic values (Song, Miller & Abbott 2000; Bi & Poo 1998): :math:`\tau_+ = \tau_- = 20` steps,
:math:`A_-/A_+ = 1.05` (the defaults of :class:`STDPRule`).

**Ordering within a step** (the equations read top to bottom). At step ``t`` both traces first
decay and take in *this* step's spikes; the pair term then uses the updated traces. Hence, with
no other spikes around:

* pre at ``t0``, post at ``t0 + k`` (k > 0): :math:`\Delta w = +\eta A_+ \lambda_+^{k}`;
* post at ``t0``, pre at ``t0 + k`` (k > 0): :math:`\Delta w = -\eta A_- \lambda_-^{k}`;
* pre and post in the same step: both terms count, :math:`\Delta w = \eta (A_+ - A_-)` (a slight
  depression with the classic :math:`A_- = 1.05 A_+`).

**Batches and positions.** Tensors are time-major ``[T, B, ...]`` and spikes are floats 0/1.
:math:`P[t]` is the outer product (post × pre) summed over *positions* (the extra dimensions of a
``Linear`` input, e.g. tokens; the output positions of a convolution) and **averaged over the
batch**. A convolution is handled in im2col form: its input spikes and traces are unfolded into
patches, and the update is exactly the ``Linear`` rule applied to the patch matrix (weight
sharing sums the contributions of all output positions).

**When the weights change.** The forward pass of a layer runs all T steps with the current
weights; the sum :math:`\eta\sum_t P[t]` of that pass is added once, just after the neuron that
follows the layer has fired (inside its forward hook, under ``torch.no_grad()``, in place), then
the weights are clipped. In single-step mode (``step_mode="s"``) each call is one step, so the
weights change every step and the traces carry over between calls until :meth:`reset`.

**Reward-modulated STDP** (Izhikevich 2007; Florian 2007). The same pair term feeds an
eligibility trace instead of the weights, and a reward turns it into a weight change:

.. math::

    e_{ij}[t] = \lambda_e\, e_{ij}[t-1] + P_{ij}[t], \quad \lambda_e = e^{-1/\tau_e}, \qquad
    \text{on reward } r:\ w \leftarrow \mathrm{clip}(w + \eta\, r\, e,\ w_{min},\ w_{max}).

The eligibility trace is not consumed by a reward (it keeps decaying); :meth:`reset` clears it.
Since :meth:`SpikingNet.forward <snn_models.architectures.SpikingNet.forward>` resets the network
(and so the controller) first, deliver the reward for a batch before the next forward pass.

**Weight normalisation** (optional, as in Diehl & Cook 2015): after each change the incoming
weights of every postsynaptic neuron (a row of a ``Linear`` weight, an output channel of a
convolution) are rescaled to a fixed L1 or L2 norm — the norm they had when plasticity was
attached, or ``norm_target`` — and clipped again: the bounds always hold, the norm is exact
whenever the clip does not bite. Biases never change.

Plasticity does not use autograd. The weights change in place under ``torch.no_grad()``, so a
``backward()`` through a plastic layer after its weights changed raises autograd's in-place error:
use STDP forward-only (e.g. under ``torch.no_grad()``), or keep gradient training away from
plastic layers. Traces are plain tensor attributes, never parameters or buffers: they are not in
``state_dict`` and are rebuilt lazily with the input's dtype and device.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from snn_models.layers import td_linear
    >>> from snn_models.neurons import IFNode
    >>> net = nn.Sequential(td_linear(3, 2, bias=False), IFNode())
    >>> ctrl = attach_stdp(net, STDPRule(lr=0.01), layers=["0"])
    >>> ctrl.layer_names
    ['0']
    >>> _ = nn.init.constant_(net[0].module.weight, 0.5)
    >>> _ = net(torch.ones(4, 1, 3))  # T=4, B=1: every input and both neurons fire every step
    >>> net[0].module.weight[0, 0].item() < 0.5  # same-step pairs: A+ - A- < 0, a depression
    True
    >>> ctrl.detach()
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from snn_models.encoders import LatencyEncoder, RateEncoder
from snn_models.errors import ConfigError
from snn_models.layers import Flatten, TimeDistributed
from snn_models.neurons.base import BaseNeuron

Norm = Literal["l1", "l2"]

#: Modules that may sit between a synaptic layer and the neuron it drives (shape-preserving).
_BETWEEN_SYNAPSE_AND_NEURON: tuple[type[nn.Module], ...] = (
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.Dropout,
    nn.Identity,
)
#: Modules whose output is still spikes when their input is (a max of spikes is a spike).
#: Dropout is included: it only zeroes spikes (and, in training mode, scales the survivors by
#: 1/(1-p), which the traces then carry).
_KEEPS_SPIKES: tuple[type[nn.Module], ...] = (
    Flatten,
    nn.Flatten,
    nn.MaxPool1d,
    nn.MaxPool2d,
    nn.Dropout,
    nn.Identity,
)


# ---------------------------------------------------------------------------------------- rules
@dataclass(frozen=True)
class STDPRule:
    r"""Parameters of the trace-based pair STDP rule (module docstring for the equations).

    Args:
        lr: learning rate :math:`\eta` (a negative value gives anti-Hebbian STDP).
        a_plus: potentiation amplitude :math:`A_+`.
        a_minus: depression amplitude :math:`A_-` (classic: :math:`1.05 A_+`).
        tau_plus: presynaptic trace time constant :math:`\tau_+` in steps.
        tau_minus: postsynaptic trace time constant :math:`\tau_-` in steps.
        w_min: lower weight bound.
        w_max: upper weight bound.

    Raises:
        ConfigError: a non-positive time constant, ``w_min > w_max`` or a non-finite value.
    """

    lr: float = 1e-3
    a_plus: float = 1.0
    a_minus: float = 1.05
    tau_plus: float = 20.0
    tau_minus: float = 20.0
    w_min: float = -1.0
    w_max: float = 1.0

    def __post_init__(self) -> None:
        for key, value in vars(self).items():
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise ConfigError(f"stdp.{key}: must be a finite number, got {value!r}")
        for key in ("tau_plus", "tau_minus"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"stdp.{key}: must be > 0 steps, got {getattr(self, key)}")
        if self.w_min > self.w_max:
            raise ConfigError(
                f"stdp.w_min: must be <= w_max, got w_min={self.w_min}, w_max={self.w_max}"
            )

    @property
    def decay_plus(self) -> float:
        r""":math:`\lambda_+ = e^{-1/\tau_+}`."""
        return math.exp(-1.0 / self.tau_plus)

    @property
    def decay_minus(self) -> float:
        r""":math:`\lambda_- = e^{-1/\tau_-}`."""
        return math.exp(-1.0 / self.tau_minus)


@dataclass(frozen=True)
class RewardSTDPRule(STDPRule):
    r"""Reward-modulated STDP: the pair term fills an eligibility trace; a reward applies it.

    Args:
        tau_e: eligibility trace time constant :math:`\tau_e` in steps
            (:math:`\lambda_e = e^{-1/\tau_e}`).
        **others: as :class:`STDPRule`; ``lr`` is :math:`\eta` in :math:`\Delta w = \eta r e`.
    """

    tau_e: float = 100.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.tau_e <= 0:
            raise ConfigError(f"stdp.tau_e: must be > 0 steps, got {self.tau_e}")

    @property
    def decay_e(self) -> float:
        r""":math:`\lambda_e = e^{-1/\tau_e}`."""
        return math.exp(-1.0 / self.tau_e)


# ----------------------------------------------------------------------------------- functional
def stdp_traces(spikes: Tensor, decay: float, initial: Tensor | None = None) -> Tensor:
    r"""The trace after every step: :math:`x[t] = \lambda x[t-1] + s[t]`, :math:`x[-1]` = ``initial``.

    Args:
        spikes: ``[T, ...]`` spikes (0/1).
        decay: :math:`\lambda \in (0, 1)`.
        initial: the trace before step 0 (zeros when ``None``), shaped like ``spikes[0]``.

    Returns:
        ``[T, ...]``, the trace at each step *including* that step's spike.

    Example:
        >>> stdp_traces(torch.tensor([1.0, 0.0, 1.0]), 0.5).tolist()
        [1.0, 0.5, 1.25]
    """
    out = torch.empty_like(spikes)
    x = initial if initial is not None else torch.zeros_like(spikes[0])
    for t in range(spikes.shape[0]):
        x = x * decay + spikes[t]
        out[t] = x
    return out


def pair_stdp_term(
    pre: Tensor,
    pre_trace: Tensor,
    post: Tensor,
    post_trace: Tensor,
    a_plus: float,
    a_minus: float,
    time_weights: Tensor | None = None,
) -> Tensor:
    r"""The pair term summed over steps and positions, averaged over the batch.

    .. math::

        \frac{1}{B} \sum_{t, b, p} c_t \left(A_+\, s^{post}_{t b p i}\, x_{t b p j}
        - A_-\, y_{t b p i}\, s^{pre}_{t b p j}\right)

    with :math:`c_t = 1` (plain STDP) or the given ``time_weights`` (R-STDP uses
    :math:`c_t = \lambda_e^{T-1-t}` to fold the eligibility recursion into one product).

    Args:
        pre: presynaptic spikes ``[T, B, P, N]`` (P positions, N inputs).
        pre_trace: :math:`x`, same shape as ``pre``.
        post: postsynaptic spikes ``[T, B, P, M]``.
        post_trace: :math:`y`, same shape as ``post``.
        a_plus: :math:`A_+`.
        a_minus: :math:`A_-`.
        time_weights: optional ``[T]`` weights :math:`c_t`.

    Returns:
        ``[M, N]`` (post × pre, the layout of an ``nn.Linear`` weight).
    """
    T, B, P, N = pre.shape
    M = post.shape[-1]
    if post.shape[:3] != (T, B, P):
        raise ConfigError(
            f"stdp: pre {tuple(pre.shape)} and post {tuple(post.shape)} disagree on [T, B, positions]"
        )
    if time_weights is not None:
        c = time_weights.to(post.dtype).view(T, 1, 1, 1)
        post, post_trace = post * c, post_trace * c
    ltp = post.reshape(-1, M).mT @ pre_trace.reshape(-1, N)
    ltd = post_trace.reshape(-1, M).mT @ pre.reshape(-1, N)
    return (a_plus * ltp - a_minus * ltd) / B


# ------------------------------------------------------------------------------------ synapses
def _synaptic_layer(module: nn.Module, where: str) -> nn.Linear | nn.Conv2d:
    inner = module.module if isinstance(module, TimeDistributed) else module
    if isinstance(inner, nn.Linear):
        return inner
    if isinstance(inner, nn.Conv2d):
        if inner.groups != 1:
            raise ConfigError(f"{where}: STDP supports Conv2d with groups=1, got {inner.groups}")
        if isinstance(inner.padding, str) or inner.padding_mode != "zeros":
            raise ConfigError(
                f"{where}: STDP needs integer zero padding on Conv2d, got "
                f"padding={inner.padding!r}, padding_mode={inner.padding_mode!r}"
            )
        return inner
    raise ConfigError(
        f"{where}: STDP applies to nn.Linear or nn.Conv2d (or a TimeDistributed one), "
        f"got {type(inner).__name__}"
    )


class PlasticSynapse:
    """The STDP state and update of one synaptic layer (usable without hooks).

    Args:
        layer: an ``nn.Linear`` or ``nn.Conv2d`` (or a :class:`TimeDistributed` one); its
            ``weight`` is changed in place.
        rule: :class:`STDPRule`, or :class:`RewardSTDPRule` for eligibility + reward.
        normalize: ``"l1"`` or ``"l2"`` to keep each post neuron's incoming weight norm fixed.
        norm_target: that norm; ``None`` keeps each post neuron's norm at construction time.

    Attributes:
        pre_trace: :math:`x` after the last step (``None`` after a reset): ``[B, P, N]`` for a
            ``Linear`` (P positions, 1 for a plain ``[T, B, N]`` input), ``[B, C, H, W]`` for a
            ``Conv2d``.
        post_trace: :math:`y` after the last step: ``[B, P, M]`` or ``[B, C_out, H', W']``.
        eligibility: :math:`e`, shaped like the weight (R-STDP only).
        enabled: when ``False``, :meth:`update` and :meth:`apply_reward` do nothing.
    """

    def __init__(
        self,
        layer: nn.Module,
        rule: STDPRule,
        *,
        normalize: Norm | None = None,
        norm_target: float | None = None,
        name: str = "synapse",
    ) -> None:
        if normalize not in (None, "l1", "l2"):
            raise ConfigError(f"stdp.normalize: choose 'l1', 'l2' or None, got {normalize!r}")
        if norm_target is not None and not norm_target > 0:
            raise ConfigError(f"stdp.norm_target: must be > 0, got {norm_target}")
        self.name = name
        self.layer = _synaptic_layer(layer, name)
        self.rule = rule
        self.normalize: Norm | None = normalize
        self.enabled = True
        self.pre_trace: Tensor | None = None
        self.post_trace: Tensor | None = None
        self.eligibility: Tensor | None = None
        self._norm_target: Tensor | None = None
        if normalize is not None:
            with torch.no_grad():
                norms = self._row_norms(self.layer.weight)
            self._norm_target = (
                norms.clone() if norm_target is None else torch.full_like(norms, norm_target)
            )

    def reset(self) -> None:
        """Forget the traces and the eligibility (the weights stay)."""
        self.pre_trace = None
        self.post_trace = None
        self.eligibility = None

    # ------------------------------------------------------------------ update
    @torch.no_grad()
    def update(self, pre: Tensor, post: Tensor) -> None:
        """Run the rule over one forward pass and change the weights (plain STDP).

        Args:
            pre: the layer's input for these steps, time-major ``[T, B, ...]`` (T and B may be
                folded into one leading dimension, as a :class:`TimeDistributed` layer sees it).
            post: spikes of the neuron the layer drives, ``[T, B, ...]``.
        """
        if not self.enabled:
            return
        weight = self.layer.weight
        T, B = post.shape[:2]
        pre = pre.detach().to(weight.dtype)
        post = post.detach().to(weight.dtype)
        if isinstance(self.layer, nn.Conv2d):
            pre = pre.reshape(T, B, *pre.shape[-3:])
        else:
            pre = pre.reshape(T, B, -1, self.layer.in_features)
            post = post.reshape(T, B, -1, self.layer.out_features)
        self._check_state(pre, post)
        rule = self.rule
        x = stdp_traces(pre, rule.decay_plus, self.pre_trace)
        y = stdp_traces(post, rule.decay_minus, self.post_trace)
        self.pre_trace, self.post_trace = x[-1], y[-1]
        s_pre, x_p, s_post, y_p = self._patches(pre, x, post, y)
        if isinstance(rule, RewardSTDPRule):
            lam = rule.decay_e
            c = lam ** torch.arange(T - 1, -1, -1, dtype=weight.dtype, device=weight.device)
            term = pair_stdp_term(s_pre, x_p, s_post, y_p, rule.a_plus, rule.a_minus, c)
            e = term.view_as(weight)
            self.eligibility = e if self.eligibility is None else self.eligibility * lam**T + e
            return
        term = pair_stdp_term(s_pre, x_p, s_post, y_p, rule.a_plus, rule.a_minus)
        self._change(rule.lr * term.view_as(weight))

    @torch.no_grad()
    def apply_reward(self, reward: float | Tensor) -> None:
        r""":math:`w \leftarrow \mathrm{clip}(w + \eta\, r\, e)` (R-STDP; no-op without eligibility)."""
        if not isinstance(self.rule, RewardSTDPRule):
            raise ConfigError(f"{self.name}: apply_reward needs a RewardSTDPRule")
        if not self.enabled or self.eligibility is None:
            return
        r = torch.as_tensor(reward, dtype=self.eligibility.dtype, device=self.eligibility.device)
        if r.numel() != 1:
            raise ConfigError(f"{self.name}: the reward must be a scalar, got {tuple(r.shape)}")
        self._change(self.rule.lr * r.reshape(()) * self.eligibility)

    # ------------------------------------------------------------------ helpers
    def _check_state(self, pre: Tensor, post: Tensor) -> None:
        for trace, now, what in ((self.pre_trace, pre, "pre"), (self.post_trace, post, "post")):
            if trace is not None and trace.shape != now.shape[1:]:
                raise ConfigError(
                    f"{self.name}: {what} shape changed from {tuple(trace.shape)} to "
                    f"{tuple(now.shape[1:])} without a reset; call reset_net(model) between batches"
                )

    def _patches(
        self, pre: Tensor, x: Tensor, post: Tensor, y: Tensor
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``[T, B, P, N]`` pre spikes/trace and ``[T, B, P, M]`` post spikes/trace."""
        layer = self.layer
        if not isinstance(layer, nn.Conv2d):
            return pre, x, post, y
        T, B = pre.shape[:2]

        def unfold(z: Tensor) -> Tensor:  # [T, B, C, H, W] -> [T, B, L, C*kh*kw]
            cols = F.unfold(
                z.flatten(0, 1),
                layer.kernel_size,
                dilation=layer.dilation,
                padding=layer.padding,  # type: ignore[arg-type]  # ints: checked in __init__
                stride=layer.stride,
            )
            return cols.view(T, B, cols.shape[1], cols.shape[2]).transpose(2, 3)

        def positions(z: Tensor) -> Tensor:  # [T, B, Co, H', W'] -> [T, B, L, Co]
            return z.reshape(T, B, layer.out_channels, -1).transpose(2, 3)

        return unfold(pre), unfold(x), positions(post), positions(y)

    def _row_norms(self, weight: Tensor) -> Tensor:
        rows = weight.reshape(weight.shape[0], -1)
        return rows.abs().sum(1) if self.normalize == "l1" else rows.norm(dim=1)

    def _change(self, dw: Tensor) -> None:
        weight = self.layer.weight
        rule = self.rule
        weight.add_(dw).clamp_(rule.w_min, rule.w_max)
        if self._norm_target is not None:
            norms = self._row_norms(weight)
            target = self._norm_target.to(norms)
            scale = torch.where(norms > 0, target / norms.clamp_min(1e-12), torch.ones_like(norms))
            weight.mul_(scale.view(-1, *([1] * (weight.dim() - 1)))).clamp_(rule.w_min, rule.w_max)


# ---------------------------------------------------------------------------------- controller
class PlasticityController(nn.Module):
    """Online STDP / R-STDP on chosen synaptic layers of a model, through forward hooks.

    For each chosen synaptic layer (``nn.Linear`` / ``nn.Conv2d``, usually inside a
    :class:`TimeDistributed`) a forward hook keeps its input (the pre spikes); a hook on the
    spiking neuron that follows it (a :class:`BaseNeuron`, possibly after a BatchNorm) takes its
    output (the post spikes) and runs :meth:`PlasticSynapse.update`. Use :func:`attach_stdp`,
    which also makes the controller a submodule of the model so that
    :func:`snn_models.functional.reset_net` resets its traces. The controller owns no parameters
    or buffers (``state_dict`` is unchanged), and its ``forward`` is the identity, so attaching
    it to an ``nn.Sequential`` leaves the output alone.

    Args:
        model: the network.
        rule: :class:`STDPRule` or :class:`RewardSTDPRule` (default: ``STDPRule()``).
        layers: which synaptic layers learn: ``None`` for every hidden synaptic layer of
            ``model.body`` (or of ``model`` itself if it is an ``nn.Sequential``) whose input is
            spikes — never the stem, nor the first layer on a real-valued input; a list of module
            names (each one's neuron is the next :class:`BaseNeuron` in its ``nn.Sequential``,
            skipping BatchNorm/Dropout); or a mapping ``{synapse name: neuron name}``.
        normalize: ``"l1"`` / ``"l2"`` weight normalisation per post neuron, or ``None``.
        norm_target: the norm to keep; ``None`` keeps each neuron's norm at attach time.

    Attributes:
        synapses: ``{layer name: PlasticSynapse}`` (each with its own ``enabled`` switch).
        enabled: master switch; when ``False`` the hooks do nothing.

    Raises:
        ConfigError: no eligible layer, a name that is not a synaptic layer, a layer of the
            stem, or a layer without a following spiking neuron.
    """

    def __init__(
        self,
        model: nn.Module,
        rule: STDPRule | None = None,
        layers: Sequence[str] | Mapping[str, str] | None = None,
        *,
        normalize: Norm | None = None,
        norm_target: float | None = None,
    ) -> None:
        super().__init__()
        self.rule = rule if rule is not None else STDPRule()
        self.enabled = True
        pairs = _resolve_pairs(model, layers)
        # Plain dicts/lists (not ModuleDict): the watched layers must not become submodules,
        # or their weights would appear twice in the model's state_dict.
        self.synapses: dict[str, PlasticSynapse] = {}
        self._pending: dict[str, Tensor | None] = {}
        self._handles: list[RemovableHandle] = []
        self._owner: list[tuple[nn.Module, str]] = []
        for syn_name, neuron_name in pairs.items():
            module = model.get_submodule(syn_name)
            neuron = model.get_submodule(neuron_name)
            if not isinstance(neuron, BaseNeuron):
                raise ConfigError(
                    f"stdp.layers: {neuron_name!r} (driven by {syn_name!r}) is not a spiking "
                    f"neuron but {type(neuron).__name__}"
                )
            syn = PlasticSynapse(
                module, self.rule, normalize=normalize, norm_target=norm_target, name=syn_name
            )
            self.synapses[syn_name] = syn
            self._pending[syn_name] = None
            self._handles.append(
                syn.layer.register_forward_hook(functools.partial(self._on_synapse, syn_name))
            )
            self._handles.append(
                neuron.register_forward_hook(functools.partial(self._on_neuron, syn_name))
            )

    @property
    def layer_names(self) -> list[str]:
        """The plastic layers, in model order."""
        return list(self.synapses)

    def forward(self, x: Tensor) -> Tensor:
        """Identity (the controller works through hooks)."""
        return x

    def reset(self) -> None:
        """Forget all traces and eligibilities (called by ``reset_net``)."""
        for name, syn in self.synapses.items():
            syn.reset()
            self._pending[name] = None

    def set_enabled(self, enabled: bool, layer: str | None = None) -> None:
        """Switch learning on/off for every layer (``layer=None``) or for one layer by name."""
        if layer is None:
            self.enabled = bool(enabled)
            return
        if layer not in self.synapses:
            raise ConfigError(
                f"stdp: {layer!r} is not a plastic layer; choose one of {', '.join(self.synapses)}"
            )
        self.synapses[layer].enabled = bool(enabled)

    def apply_reward(self, reward: float | Tensor) -> None:
        r"""R-STDP: :math:`w \leftarrow \mathrm{clip}(w + \eta\, r\, e)` on every enabled layer.

        Raises:
            ConfigError: the rule is not a :class:`RewardSTDPRule`.
        """
        if not isinstance(self.rule, RewardSTDPRule):
            raise ConfigError("stdp: apply_reward needs a RewardSTDPRule (reward-modulated STDP)")
        if not self.enabled:
            return
        for syn in self.synapses.values():
            syn.apply_reward(reward)

    def detach(self) -> None:
        """Remove the hooks, and remove the controller from the model it was attached to."""
        for h in self._handles:
            h.remove()
        self._handles.clear()
        self.reset()
        for owner, name in self._owner:
            if owner._modules.get(name) is self:
                delattr(owner, name)
        self._owner.clear()

    def extra_repr(self) -> str:
        return f"rule={self.rule}, layers={self.layer_names}, enabled={self.enabled}"

    # ------------------------------------------------------------------ hooks
    def _on_synapse(
        self, name: str, module: nn.Module, args: tuple[Tensor, ...], out: Tensor
    ) -> None:
        if self.enabled and self.synapses[name].enabled:
            self._pending[name] = args[0]

    def _on_neuron(
        self, name: str, module: nn.Module, args: tuple[Tensor, ...], out: Tensor
    ) -> None:
        pre = self._pending[name]
        if pre is None:
            return
        self._pending[name] = None
        if not (self.enabled and self.synapses[name].enabled):
            return
        if getattr(module, "step_mode", "m") == "s":
            pre, out = pre.unsqueeze(0), out.unsqueeze(0)
        self.synapses[name].update(pre, out)


def attach_stdp(
    model: nn.Module,
    rule: STDPRule | None = None,
    layers: Sequence[str] | Mapping[str, str] | None = None,
    *,
    normalize: Norm | None = None,
    norm_target: float | None = None,
    name: str = "plasticity",
) -> PlasticityController:
    """Make chosen layers of ``model`` plastic; returns the controller (``model.<name>``).

    Arguments as :class:`PlasticityController`; ``name`` is the submodule name it is stored
    under, so that ``reset_net(model)`` resets its traces. Undo with ``controller.detach()``.

    Raises:
        ConfigError: ``model`` already has an attribute ``name``, or see the controller.
    """
    if hasattr(model, name):
        raise ConfigError(f"stdp: the model already has an attribute {name!r}; pass another name")
    ctrl = PlasticityController(model, rule, layers, normalize=normalize, norm_target=norm_target)
    model.add_module(name, ctrl)
    ctrl._owner.append((model, name))
    return ctrl


# ------------------------------------------------------------------------------- layer choice
def _is_synapse(module: nn.Module) -> bool:
    inner = module.module if isinstance(module, TimeDistributed) else module
    return isinstance(inner, nn.Linear | nn.Conv2d)


def _unwrap(module: nn.Module) -> nn.Module:
    return module.module if isinstance(module, TimeDistributed) else module


def _next_neuron(children: list[tuple[str, nn.Module]], i: int) -> str | None:
    for name, m in children[i + 1 :]:
        if isinstance(m, BaseNeuron):
            return name
        if not isinstance(_unwrap(m), _BETWEEN_SYNAPSE_AND_NEURON):
            return None
    return None


def _default_pairs(model: nn.Module) -> dict[str, str]:
    body = getattr(model, "body", None)
    if isinstance(body, nn.Sequential):
        container, prefix = body, "body."
        stem = getattr(model, "stem", None)
        no_stem = not (isinstance(stem, nn.Sequential) and len(stem) > 0)
        spikes_in = no_stem and isinstance(
            getattr(model, "encoder", None), RateEncoder | LatencyEncoder
        )
    elif isinstance(model, nn.Sequential):
        container, prefix, spikes_in = model, "", False
    else:
        raise ConfigError(
            f"stdp.layers: cannot choose layers of a {type(model).__name__} (no nn.Sequential "
            "body); name them, e.g. layers=['body.1']"
        )
    children = list(container.named_children())
    pairs: dict[str, str] = {}
    for i, (name, m) in enumerate(children):
        if _is_synapse(m):
            neuron = _next_neuron(children, i)
            if spikes_in and neuron is not None:
                pairs[prefix + name] = prefix + neuron
            spikes_in = False
        elif isinstance(m, BaseNeuron):
            spikes_in = True
        elif not isinstance(_unwrap(m), _KEEPS_SPIKES):
            spikes_in = False
    if not pairs:
        raise ConfigError(
            "stdp.layers: no hidden nn.Linear/nn.Conv2d layer with spiking input followed by a "
            "spiking neuron; name the layers explicitly"
        )
    return pairs


def _neuron_after(model: nn.Module, syn_name: str) -> str:
    parent_name, _, child = syn_name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    if isinstance(parent, nn.Sequential):
        children = list(parent.named_children())
        i = [n for n, _ in children].index(child)
        neuron = _next_neuron(children, i)
        if neuron is not None:
            return f"{parent_name}.{neuron}" if parent_name else neuron
    raise ConfigError(
        f"stdp.layers: no spiking neuron follows {syn_name!r} in its nn.Sequential; "
        "pass a mapping {synapse: neuron}"
    )


def _resolve_pairs(
    model: nn.Module, layers: Sequence[str] | Mapping[str, str] | None
) -> dict[str, str]:
    if layers is None:
        return _default_pairs(model)
    if isinstance(layers, str):
        raise ConfigError(
            f"stdp.layers: expected a list of module names, got the string {layers!r}"
        )
    items: Iterable[tuple[str, str | None]] = (
        layers.items() if isinstance(layers, Mapping) else ((n, None) for n in layers)
    )
    pairs: dict[str, str] = {}
    has_stem = isinstance(getattr(model, "stem", None), nn.Module)
    for syn_name, neuron_name in items:
        if has_stem and (syn_name == "stem" or syn_name.startswith("stem.")):
            raise ConfigError(
                f"stdp.layers: {syn_name!r} is in the stem, which sees the real-valued input; "
                "STDP needs spiking input"
            )
        try:
            module = model.get_submodule(syn_name)
        except AttributeError:
            raise ConfigError(f"stdp.layers: the model has no module {syn_name!r}") from None
        _synaptic_layer(module, f"stdp.layers[{syn_name!r}]")
        parent_name, _, leaf = syn_name.rpartition(".")
        if leaf == "module" and isinstance(model.get_submodule(parent_name), TimeDistributed):
            syn_name = parent_name  # the wrapper's position in its Sequential decides
        if syn_name in pairs:
            raise ConfigError(f"stdp.layers: {syn_name!r} is listed twice")
        if neuron_name is None:
            neuron_name = _neuron_after(model, syn_name)
        else:
            try:
                model.get_submodule(neuron_name)
            except AttributeError:
                raise ConfigError(f"stdp.layers: the model has no module {neuron_name!r}") from None
        pairs[syn_name] = neuron_name
    if not pairs:
        raise ConfigError("stdp.layers: empty list; pass None for the default layers")
    return pairs


__all__ = [
    "Norm",
    "PlasticSynapse",
    "PlasticityController",
    "RewardSTDPRule",
    "STDPRule",
    "attach_stdp",
    "pair_stdp_term",
    "stdp_traces",
]
