r"""Zero-cost proxies: scores of an *untrained* spiking network from a few mini-batches.

A proxy ranks candidates before any training, so a search can spend its training budget on the
proposals that look most promising (``evolve search --proxy-filter``). Two scores, chosen by name
from :data:`PROXIES`:

``sahd`` — sparsity-aware Hamming distance of spike patterns (the score of SNASNet: Kim et al.
2022, "Neural Architecture Search for Spiking Neural Networks", itself built on the NASWOT kernel
of Mellor et al. 2021). For every spiking layer :math:`l` and time step :math:`t`, sample
:math:`i` of a batch of :math:`B` leaves a binary code :math:`c_i \in \{0, 1\}^{N_l}` (which of
the layer's :math:`N_l` units fired). Two samples the network tells apart have distant codes. The
Hamming distance :math:`d_H(c_i, c_j)` of sparse codes is small even for unrelated inputs, so it is
rescaled by the distance two independent codes with the samples' own firing rates
:math:`r_i, r_j` would have on average, :math:`p_{ij} = r_i (1 - r_j) + (1 - r_i) r_j` per unit:

.. math::

    K^{l,t}_{ij} = N_l - \frac{d_H(c_i, c_j)}{2\,(p_{ij} + \epsilon)}, \qquad
    K = \frac{1}{L T} \sum_{l, t} K^{l,t}, \qquad
    \mathrm{score} = \log \lvert \det (K + \lambda I) \rvert

with :math:`\epsilon = 10^{-3}` and a ridge :math:`\lambda = 10^{-6} \bar{K}_{ii}` that keeps a
network that never spikes (every code equal, :math:`K` of rank one) finite and lowest. Identical
codes give :math:`N_l`, codes as different as chance give about :math:`N_l / 2`; the more
distinct the patterns of a batch, the larger the determinant. The score is averaged over the
batches.

``grad`` — a gradient saliency with the surrogate gradient (SNIP, Lee et al. 2019): the
cross-entropy loss of a few labelled batches is back-propagated once and the score is
:math:`\log \sum_w \lvert w \cdot \partial L / \partial w \rvert` over the weight matrices and
kernels (parameters with two or more dimensions).

Both run the network in training mode (BatchNorm on batch statistics, as the first training step
would; its running statistics move, so score a network you are about to discard or re-initialise),
without changing the caller's random state: ``seed`` drives whatever the forward pass draws (a
rate encoder). Given the same network and batches they return the same number.

Example:
    >>> import torch
    >>> from snn_models import NetSpec, build
    >>> net = build(NetSpec.from_dict({"kind": "mlp", "layers": [{"width": 32}]}), (1, 8, 8), 10)
    >>> x = torch.rand(16, 1, 8, 8)
    >>> y = torch.arange(16) % 10
    >>> a = proxy_score("sahd", net, [(x, y)])
    >>> a == proxy_score("sahd", net, [(x, y)])
    True
    >>> math.isfinite(proxy_score("grad", net, [(x, y)]))
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from snn_models.errors import ConfigError
from snn_models.functional import spiking_layers

__all__ = ["PROXIES", "Batch", "grad_score", "proxy_score", "sahd_kernel", "sahd_score"]

#: One labelled mini-batch ``(x [B, ...], y [B])``.
Batch = tuple[Tensor, Tensor]

SAHD_EPS = 1e-3  # added to the expected per-unit distance p_ij (a silent pair of samples)
RIDGE = 1e-6  # relative ridge on K's diagonal: a never-spiking network scores finite and lowest


def _spike_codes(model: nn.Module, x: Tensor) -> list[Tensor]:
    """The binary spike codes ``[B, N]`` of every (spiking layer, time step) of one forward."""
    neurons = spiking_layers(model)
    if not neurons:
        raise ConfigError("the network has no spiking layers: a spike-pattern proxy needs some")
    codes: list[Tensor] = []

    def hook(module: nn.Module, inputs: tuple[Tensor, ...], out: Any) -> None:
        out = out[0] if isinstance(out, tuple) else out
        steps = out.detach().unbind(0) if getattr(module, "step_mode", "m") == "m" else (out,)
        codes.extend((s.reshape(s.shape[0], -1) > 0).float() for s in steps)

    handles = [m.register_forward_hook(hook) for m in neurons.values()]
    try:
        model(x)
    finally:
        for h in handles:
            h.remove()
    return codes


def sahd_kernel(codes: Sequence[Tensor]) -> Tensor:
    r"""SNASNet's kernel :math:`K` (float64 ``[B, B]``) from binary codes ``[B, N_l]`` (the
    module docstring gives the equation): the mean over codes of
    :math:`N - d_H / (2 (p + \epsilon))`."""
    if not codes:
        raise ConfigError("no spike codes: the network has no spiking layers")
    b = codes[0].shape[0]
    k = torch.zeros(b, b, dtype=torch.float64)
    for c in codes:
        n = c.shape[1]
        both = (c @ c.T).double()  # units firing in both: exact in float32 below 2**24 units
        ones = both.diagonal()
        dist = ones[:, None] + ones[None, :] - 2 * both  # Hamming distances
        r = ones / max(n, 1)
        p = r[:, None] * (1 - r[None, :]) + (1 - r[:, None]) * r[None, :]
        k += n - dist / (2 * (p + SAHD_EPS))
    return k / len(codes)


def _logabsdet(k: Tensor) -> float:
    ridge = RIDGE * float(k.diagonal().abs().mean().clamp_min(1.0))
    _, logabs = torch.linalg.slogdet(k + ridge * torch.eye(k.shape[0], dtype=k.dtype))
    return float(logabs)


def sahd_score(model: nn.Module, batches: Sequence[Batch]) -> float:
    """The sparsity-aware Hamming-distance score (``sahd``): mean over ``batches`` of
    :math:`\\log |\\det K|`; higher is better. The labels are not used.

    Raises:
        ConfigError: the network has no spiking layer, or ``batches`` is empty.
    """
    if not batches:
        raise ConfigError("a proxy needs at least one mini-batch")
    with torch.no_grad():
        scores = [_logabsdet(sahd_kernel(_spike_codes(model, x))) for x, _ in batches]
    return sum(scores) / len(scores)


def grad_score(model: nn.Module, batches: Sequence[Batch]) -> float:
    """The gradient saliency (``grad``): :math:`\\log \\sum |w \\cdot \\partial L/\\partial w|`
    over weight tensors (two or more dimensions) with the surrogate gradient of the
    cross-entropy summed over ``batches``; higher is better. Leaves no gradient behind.

    Raises:
        ConfigError: ``batches`` is empty or the network has no weight tensor.
    """
    if not batches:
        raise ConfigError("a proxy needs at least one mini-batch")
    weights = [p for p in model.parameters() if p.dim() >= 2 and p.requires_grad]
    if not weights:
        raise ConfigError("the network has no trainable weight tensor to score")
    params = list(model.parameters())
    before = [p.grad for p in params]  # the caller's gradients come back afterwards
    for p in params:
        p.grad = None
    try:
        with torch.enable_grad():
            for x, y in batches:
                F.cross_entropy(model(x), y).backward()
        total = sum(float((p.grad * p.detach()).abs().sum()) for p in weights if p.grad is not None)
    finally:
        for p, g in zip(params, before, strict=True):
            p.grad = g
    return math.log(total) if total > 0 else -math.inf


#: Proxy name -> ``fn(model, batches) -> score`` (higher is better).
PROXIES: dict[str, Callable[[nn.Module, Sequence[Batch]], float]] = {
    "sahd": sahd_score,
    "grad": grad_score,
}


def proxy_score(name: str, model: nn.Module, batches: Sequence[Batch], *, seed: int = 0) -> float:
    """Score the untrained ``model`` with the proxy ``name`` (a key of :data:`PROXIES`).

    The model runs in training mode (restored afterwards) under a forked random state seeded with
    ``seed``, so the score is deterministic and the caller's random state is untouched.

    Raises:
        ConfigError: an unknown proxy name, or one the network cannot be scored with.
    """
    fn = PROXIES.get(name)
    if fn is None:
        raise ConfigError(f"unknown proxy {name!r}; choose from {', '.join(PROXIES)}")
    was_training = model.training
    model.train()
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return fn(model, batches)
    finally:
        model.train(was_training)
