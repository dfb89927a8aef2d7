r"""Maps on the input: what each kind of layer's SAM means, placed on the input it explains.

The method per model kind (``spatial``, ``tokens``, ``input-projection``, ``time``) is described
in :mod:`snn_models.explain`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from snn_models.explain.recording import Activity
from snn_models.explain.sam import GAMMA, neuronal_contribution, spike_activation_map
from snn_models.kinds import KINDS
from snn_models.neurons.base import BaseNeuron
from snn_models.temporal import SeriesEncoder

# --------------------------------------------------------------------------- maps on the input
#: How a layer's map is placed on the input, see the module docstring.
METHODS = ("spatial", "tokens", "input-projection", "time")


def input_canvas(x: Tensor, input_shape: Sequence[int]) -> Tensor:
    """One sample ``x`` (any shape with ``prod(input_shape)`` values) as a picture to draw on.

    ``(C, H, W)``: ``[H, W]`` (the channel mean), or ``[H, W, 3]`` scaled to [0, 1] when C = 3;
    ``(H, W)`` or a sequence ``(L, C)``: as is; ``(F,)``: one row ``[1, F]``.
    """
    shape = tuple(int(d) for d in input_shape)
    x = x.detach().float().reshape(shape)
    if len(shape) == 3:
        if shape[0] == 3:
            img = x.permute(1, 2, 0)
            lo, hi = float(img.min()), float(img.max())
            return (img - lo) / (hi - lo) if hi > lo else torch.zeros_like(img)
        return x.mean(dim=0)
    if len(shape) == 2:
        return x
    return x.reshape(1, -1)


def canvas_size(input_shape: Sequence[int]) -> tuple[int, int]:
    """(rows, columns) of :func:`input_canvas` for this input shape."""
    shape = tuple(int(d) for d in input_shape)
    if len(shape) == 3:
        return shape[1], shape[2]
    if len(shape) == 2:
        return shape[0], shape[1]
    return 1, math.prod(shape)


def token_grid(n_tokens: int, input_shape: Sequence[int]) -> tuple[int, int] | None:
    """The (rows, columns) grid that ``n_tokens`` transformer tokens form on the input canvas:
    square patches of an image ``(C, H, W)``, or runs of consecutive steps of a sequence
    ``(L, C)`` (one column); ``None`` when the tokens cannot tile the input."""
    shape = tuple(int(d) for d in input_shape)
    if n_tokens < 1:
        return None
    if len(shape) == 3:
        h, w = shape[1], shape[2]
        p = math.isqrt(h * w // n_tokens) if (h * w) % n_tokens == 0 else 0
        if p >= 1 and p * p * n_tokens == h * w and h % p == 0 and w % p == 0:
            return h // p, w // p
        return None
    if len(shape) == 2 and shape[0] % n_tokens == 0:
        return n_tokens, 1
    return None


def layout(activity: Activity, layer: str, input_shape: Sequence[int]) -> tuple[str | None, str]:
    """How ``layer`` maps onto the input: ``("spatial" | "tokens" | None, why)``.

    ``[T, B, C, h, w]`` is spatial; ``[T, B, N, D]`` has tokens when N is the model's token count
    (the largest N among its 4-D layers) and they tile the input; anything else has no layout.
    """
    shape = tuple(activity.spikes[layer].shape)
    if len(shape) == 5:
        return "spatial", f"feature maps {shape[2]}x{shape[3]}x{shape[4]}"
    if len(shape) == 4:
        n_tokens = max(s.shape[2] for s in activity.spikes.values() if s.dim() == 4)
        grid = token_grid(shape[2], input_shape)
        if shape[2] != n_tokens:
            return None, f"no token axis (summed over the model's {n_tokens} tokens)"
        if grid is not None:
            return "tokens", f"{shape[2]} tokens on a {grid[0]}x{grid[1]} grid, {shape[3]} features"
        return None, f"its {shape[2]} tokens do not tile the input"
    return None, f"no spatial layout ({shape[-1]} units)"


def _normalise(maps: Tensor) -> Tensor:
    peak = maps.flatten(1).amax(dim=1).view(-1, *([1] * (maps.dim() - 1)))
    return torch.where(peak > 0, maps / peak.clamp_min(1e-12), maps)


def sam_over_input(
    activity: Activity,
    layer: str,
    input_shape: Sequence[int],
    sample: int = 0,
    gamma: float = GAMMA,
) -> Tensor:
    """The per-step SAM of ``layer`` for one sample, resized onto the input canvas.

    Convolutional layers (``[T, B, C, h, w]``) are upsampled bilinearly; transformer token layers
    (``[T, B, N, D]``) are spread over their patches (nearest, one value per token). Each step's
    map is normalised to [0, 1] by its maximum after resizing (all-zero stays zero).

    Returns:
        ``[T, rows, cols]`` with (rows, cols) = :func:`canvas_size` of ``input_shape``.

    Raises:
        ValueError: the layer has no spatial layout (an MLP layer, a pooled head neuron); see
            :func:`input_projection` for an MLP's first layer.
    """
    method, why = layout(activity, layer, input_shape)
    spikes = activity.spikes[layer][:, sample]
    size = canvas_size(input_shape)
    if method == "spatial":
        sam = spike_activation_map(spikes, gamma, normalize=False)
        maps = F.interpolate(sam.unsqueeze(1), size=size, mode="bilinear", align_corners=False)
    elif method == "tokens":
        grid = token_grid(spikes.shape[1], input_shape)
        assert grid is not None
        feats = spikes.transpose(1, 2).reshape(spikes.shape[0], spikes.shape[2], *grid)
        sam = spike_activation_map(feats, gamma, normalize=False)
        maps = F.interpolate(sam.unsqueeze(1), size=size, mode="nearest")
    else:
        raise ValueError(f"{layer}: SAM needs a spatial layout; {why}")
    return _normalise(maps.squeeze(1).clamp_min(0.0))


def _first_synapse(model: nn.Module, activity: Activity) -> tuple[nn.Linear, Tensor] | None:
    """The first ``nn.Linear`` and the per-unit scale of a BatchNorm right behind it (ones if
    none), when it feeds the first spiking layer."""
    if activity.synapse is None:
        return None
    mods = list(model.named_modules())
    names = [k for k, _ in mods]
    if activity.synapse not in names:
        return None
    i = names.index(activity.synapse)
    linear = mods[i][1]
    assert isinstance(linear, nn.Linear)
    scale = torch.ones(linear.out_features)
    for _, m in mods[i + 1 :]:
        if isinstance(m, BaseNeuron):
            break
        if isinstance(m, nn.BatchNorm1d) and m.num_features == linear.out_features:
            w = m.weight.detach() if m.weight is not None else torch.ones(m.num_features)
            var = m.running_var if m.running_var is not None else torch.ones(m.num_features)
            scale = w / torch.sqrt(var.detach() + m.eps)
            break
    return linear, scale


def input_projection(
    model: nn.Module,
    activity: Activity,
    input_shape: Sequence[int],
    sample: int = 0,
    gamma: float = GAMMA,
) -> tuple[str, Tensor]:
    r"""An MLP's first hidden layer's contribution per step, projected onto the input.

    :math:`P_t(p) = \sum_k NCS_t(k)\, s_t(k)\, \max(0, g_k W_{kp} x_t(p))`, with :math:`W` the
    first linear layer, :math:`g_k` the scale of the BatchNorm right after it (1 without),
    :math:`x_t` its input at step t (the static input for direct encoding, the encoded spikes
    otherwise). Normalised per step like a SAM.

    Returns:
        ``(layer, maps)``: the spiking layer projected and ``[T, rows, cols]`` on the canvas.

    Raises:
        ValueError: the model's first linear layer does not take the whole input and feed the
            first spiking layer (a CNN or a transformer: use :func:`sam_over_input`).
    """
    n_in = math.prod(int(d) for d in input_shape)
    found = _first_synapse(model, activity)
    if found is None or not activity.layers:
        raise ValueError("no linear input layer feeding a spiking layer: no input projection")
    linear, scale = found
    layer = activity.layers[0]
    spikes = activity.spikes[layer][:, sample]
    if spikes.dim() != 2 or linear.in_features != n_in or linear.out_features != spikes.shape[1]:
        raise ValueError(
            f"the first linear layer ({linear.in_features} -> {linear.out_features}) does not map "
            f"the {n_in} input values onto {layer}: no input projection"
        )
    assert activity.synapse_input is not None
    T, B = spikes.shape[0], activity.spikes[layer].shape[1]
    xin = activity.synapse_input.reshape(-1, n_in)
    if xin.shape[0] == B:  # static input (direct encoding): the same at every step
        x_t = xin[sample].unsqueeze(0).expand(T, n_in)
    elif xin.shape[0] == T * B:
        x_t = xin.reshape(T, B, n_in)[:, sample]
    else:
        raise ValueError(f"cannot match the first layer's input {tuple(xin.shape)} to T={T}")
    weight = (linear.weight.detach() * scale.unsqueeze(1)).float()  # [K, P]
    current = (weight.unsqueeze(0) * x_t.unsqueeze(1)).clamp_min(0.0)  # [T, K, P]
    ncs = neuronal_contribution(spikes, gamma) * spikes.float()  # [T, K]
    proj = torch.einsum("tk,tkp->tp", ncs, current)
    shape = tuple(int(d) for d in input_shape)
    rows, cols = canvas_size(shape)
    maps = proj.reshape(T, *shape)
    maps = maps.sum(dim=1) if len(shape) == 3 else maps.reshape(T, rows, cols)
    return layer, _normalise(maps)


def _series_encoder(model: nn.Module) -> SeriesEncoder | None:
    """The :class:`~snn_models.temporal.SeriesEncoder` of a temporal network, else ``None``."""
    return next((m for m in model.modules() if isinstance(m, SeriesEncoder)), None)


def _draws_time(model: nn.Module) -> bool:
    """Whether :func:`explain_maps` draws ``model``'s layers over its input series: its kind's
    :attr:`~snn_models.kinds.Kind.explain` is ``time``; without a spec of a registered kind,
    when it has a series encoder."""
    name = getattr(getattr(model, "spec", None), "kind", None)
    kind = KINDS.get(name) if isinstance(name, str) else None
    if kind is not None:
        return kind.explain == "time"
    return _series_encoder(model) is not None


def time_map(
    model: nn.Module,
    activity: Activity,
    layer: str,
    length: int,
    sample: int = 0,
    gamma: float = GAMMA,
) -> Tensor:
    """A temporal network's SAM of ``layer`` over the ``length`` samples of its input series.

    Returns:
        ``[length]`` in [0, 1] (normalised by its maximum; all zero when the layer is silent).

    Raises:
        ValueError: ``model`` is not a temporal network, or its steps do not match the series.
    """
    encoder = _series_encoder(model)
    if encoder is None:
        raise ValueError("not a temporal network (no series encoder)")
    spikes = activity.spikes[layer][:, sample].float()  # [T, K]
    spikes = spikes.reshape(spikes.shape[0], -1)
    per_step = (neuronal_contribution(spikes, gamma) * spikes).sum(dim=1)  # [T]
    w, repeat = int(encoder.window), int(encoder.repeat)
    windows = math.ceil(length / w)
    if per_step.shape[0] != windows * repeat:
        raise ValueError(
            f"{layer}: {per_step.shape[0]} steps do not match {windows} windows x {repeat} steps"
        )
    per_window = per_step.reshape(windows, repeat).mean(dim=1)
    padded = per_window.repeat_interleave(w)  # one value per (left-padded) sample
    curve = padded[windows * w - length :]
    peak = float(curve.max())
    return curve / peak if peak > 0 else curve


@dataclass
class Maps:
    """What :func:`explain_maps` drew and why the other layers were not drawn.

    Attributes:
        maps: layer → ``[T, rows, cols]`` normalised maps on the input canvas, in layer order
            (method ``time``: ``[L]``, one value per sample of the series).
        methods: layer → ``spatial``, ``tokens``, ``input-projection`` or ``time``.
        skipped: layer → the reason it has no map.
    """

    maps: dict[str, Tensor]
    methods: dict[str, str]
    skipped: dict[str, str]


def explain_maps(
    model: nn.Module,
    activity: Activity,
    input_shape: Sequence[int],
    sample: int = 0,
    gamma: float = GAMMA,
) -> Maps:
    """Every map meaningful for this model (see the module docstring): the SAM of each layer with
    a spatial or token layout; for a model with none (an MLP), the input projection of its first
    hidden layer."""
    maps: dict[str, Tensor] = {}
    methods: dict[str, str] = {}
    skipped: dict[str, str] = {}
    if _draws_time(model):
        length = int(input_shape[-1])
        for layer in activity.layers:
            try:
                maps[layer] = time_map(model, activity, layer, length, sample, gamma)
                methods[layer] = "time"
            except ValueError as e:
                skipped[layer] = str(e)
        return Maps(maps, methods, skipped)
    for layer in activity.layers:
        method, why = layout(activity, layer, input_shape)
        if method is None:
            skipped[layer] = why
            continue
        maps[layer] = sam_over_input(activity, layer, input_shape, sample, gamma)
        methods[layer] = method
    if not maps:
        try:
            layer, proj = input_projection(model, activity, input_shape, sample, gamma)
        except ValueError as e:
            return Maps(maps, methods, skipped | {"(input)": str(e)})
        skipped.pop(layer, None)
        maps[layer], methods[layer] = proj, "input-projection"
        for other in activity.layers[1:]:
            skipped[other] = skipped.get(other, "no spatial layout") + (
                "; only the first hidden layer is projected onto the input"
            )
    return Maps(maps, methods, skipped)


__all__ = [
    "METHODS",
    "Maps",
    "canvas_size",
    "explain_maps",
    "input_canvas",
    "input_projection",
    "layout",
    "sam_over_input",
    "token_grid",
]
