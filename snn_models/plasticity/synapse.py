r"""One plastic synaptic layer: its traces, eligibility and in-place weight update.

The rule is applied as described in :mod:`snn_models.plasticity`; a convolution in im2col form.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from snn_models.errors import ConfigError
from snn_models.layers import TimeDistributed
from snn_models.plasticity.rules import RewardSTDPRule, STDPRule, pair_stdp_term, stdp_traces

Norm = Literal["l1", "l2"]


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


__all__ = ["Norm", "PlasticSynapse"]
