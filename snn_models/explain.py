r"""Gradient-free explanations of spiking networks: spike activation maps (SAM).

Kim & Panda, "Visual explanations from spiking neural networks using inter-spike intervals",
Sci. Rep. 2021 (DESIGN.md §4). For channel (neuron map) :math:`k` at position :math:`(i, j)` and
step :math:`t`, the *neuronal contribution score* sums, over its spike times :math:`t' \le t`,
a decaying trace of each spike:

.. math::

    NCS_t(k,i,j) = \sum_{t' \le t,\; s_{t'}(k,i,j) = 1} e^{-\gamma (t - t')}, \qquad
    SAM_t(i,j) = \sum_k NCS_t(k,i,j)\, s_t(k,i,j),

with :math:`\gamma = 0.5`. A position contributes at step :math:`t` only if it spikes at
:math:`t`, and then more the more recently it also spiked before (short inter-spike intervals);
silent past steps add nothing. Each map is normalised to [0, 1] by its maximum (an all-zero map
stays zero). No gradients are used.

**Recording a network** (:func:`record_activity`). One forward pass runs with every neuron in its
step loop (:func:`snn_models.functional.step_loop`: plain single steps, spikes bit-identical to the
fused kernels) while each neuron's ``single_step`` is wrapped for the duration of the call, so that
every step's spikes and membrane are kept. The membrane recorded at step :math:`t` is the
**pre-reset** potential :math:`h_t` (after integrating :math:`x_t`, before the reset a spike
causes), read from the argument :math:`h_t - \theta` the neuron passes to its surrogate spike
function. That is the value compared with the threshold, so a trace shows the membrane crossing
:math:`\theta` exactly where a spike is marked; the post-reset value would always sit at
``v_reset`` on spike steps. (A neuron that never calls its surrogate would be recorded with its
post-reset state instead, flagged in :attr:`Activity.pre_reset`.) Every wrapper and hook is
removed when the pass ends, even on error.

**What a map means per model kind** (:func:`explain_maps`):

* ``cnn``: every convolutional spiking layer ``[T, B, C, h, w]`` has a spatial layout; its SAM
  (channels as :math:`k`) is upsampled bilinearly onto the input image (method ``spatial``).
* ``transformer``: token layers ``[T, B, N, D]`` (block inputs, Q/K/V, the attention and MLP
  neurons) map token :math:`n` to its patch (image) or its run of ``patch`` steps (sequence); the
  SAM uses the D features as :math:`k` and is drawn patch by patch, without smoothing (method
  ``tokens``). Layers without a token axis (SDSA's column-sum neuron ``[T, B, 1, D]``, the head
  neuron after the token mean) have no layout and are skipped with that reason.
* ``mlp``: hidden units have no spatial layout, so SAM is undefined for them. Instead the first
  hidden layer is drawn by *input projection* (method ``input-projection``): each unit's SAM
  weight :math:`NCS_t(k)\,s_t(k)` is spread over the inputs by the positive part of the current
  each input sent it, :math:`\max(0, g_k W_{kp} x_t(p))` (:math:`g_k` the BatchNorm scale, if
  any). This is not Kim & Panda's SAM, it is its analogue for a dense first layer: which inputs
  drove the units that contributed at step :math:`t`. Deeper MLP layers are skipped.
* ``temporal`` (:mod:`snn_models.temporal`): the network's time *is* the series, so a layer's
  map is one curve over the input's samples (method ``time``): at SNN step :math:`t`,
  :math:`SAM_t = \sum_k NCS_t(k)\, s_t(k)` over the layer's units; each step's value is given to
  the samples of the window it read (the mean over the ``timesteps`` steps a window is shown),
  and the curve is normalised by its maximum over the series. It shows *when* in the series the
  layer's contributing neurons fired.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from snn_models.functional import neuron_kinds, reset_net, spiking_layers, step_loop
from snn_models.neurons.base import BaseNeuron

GAMMA = 0.5


def neuronal_contribution(spikes: Tensor, gamma: float = GAMMA) -> Tensor:
    r""":math:`NCS_t` for every step: ``spikes`` ``[T, ...]`` of 0/1 → the same shape.

    Computed by the recursion :math:`NCS_t = e^{-\gamma} NCS_{t-1} + s_t` (:math:`NCS_{-1} = 0`),
    which equals the sum over earlier and current spike times.
    """
    if spikes.dim() < 1 or spikes.shape[0] == 0:
        raise ValueError(f"spikes must be [T, ...] with T >= 1, got {tuple(spikes.shape)}")
    if not gamma >= 0:
        raise ValueError(f"gamma must be >= 0, got {gamma}")
    decay = math.exp(-gamma)
    out = torch.empty_like(spikes, dtype=torch.float32)
    trace = torch.zeros_like(spikes[0], dtype=torch.float32)
    for t in range(spikes.shape[0]):
        trace = trace * decay + spikes[t].float()
        out[t] = trace
    return out


def spike_activation_map(spikes: Tensor, gamma: float = GAMMA, *, normalize: bool = True) -> Tensor:
    """SAM of one sample's feature maps: ``spikes`` ``[T, C, H, W]`` → ``[T, H, W]``.

    Args:
        spikes: the spikes of one layer for one sample (time first, channels second).
        gamma: the decay of the contribution score per step.
        normalize: scale each step's map to [0, 1] by its maximum.
    """
    if spikes.dim() != 4:
        raise ValueError(f"spikes must be [T, C, H, W] for one sample, got {tuple(spikes.shape)}")
    ncs = neuronal_contribution(spikes, gamma)
    sam = (ncs * spikes.float()).sum(dim=1)
    if normalize:
        peak = sam.flatten(1).amax(dim=1).clamp_min(1e-12).view(-1, 1, 1)
        sam = torch.where(sam.flatten(1).amax(dim=1).view(-1, 1, 1) > 0, sam / peak, sam)
    return sam


# --------------------------------------------------------------------------- recording


@dataclass
class Activity:
    """What one forward pass did, per spiking layer, in the order the layers first ran.

    Attributes:
        spikes: layer name → spikes ``[T, B, ...]`` (0/1 floats). A layer called k times in one
            pass has k·T steps, concatenated in call order.
        membrane: layer name → membrane ``[T, B, ...]`` at each step; pre-reset :math:`h_t` where
            :attr:`pre_reset` says so, else the post-reset state (a neuron that never calls its
            surrogate spike function).
        pre_reset: layer name → whether :attr:`membrane` is the pre-reset potential.
        thresholds: layer name → firing threshold :math:`\\theta`.
        kinds: layer name → neuron type (``if``, ``lif``, ``bif``, ``adaptive``).
        input: the model input ``[B, ...]``.
        output: the model output (class scores ``[B, C]`` for a SpikingNet).
        synapse: name of the first ``nn.Linear`` of the model (in module order), or ``None``.
        synapse_input: what that layer received in its first call: ``[B, F]`` (direct
            encoding: the static input) or ``[T·B, F]`` (time-distributed: encoded spikes).
    """

    spikes: dict[str, Tensor]
    membrane: dict[str, Tensor]
    pre_reset: dict[str, bool]
    thresholds: dict[str, float]
    kinds: dict[str, str]
    input: Tensor
    output: Tensor
    synapse: str | None = None
    synapse_input: Tensor | None = field(default=None, repr=False)

    @property
    def layers(self) -> list[str]:
        """The spiking layers that ran, in order."""
        return list(self.spikes)

    @property
    def timesteps(self) -> int:
        """T of the first layer (0 if no spiking layer ran)."""
        return int(next(iter(self.spikes.values())).shape[0]) if self.spikes else 0

    def _pick(self, t: Tensor, sample: int | None) -> Tensor:
        return t if sample is None else t[:, sample : sample + 1]

    def rates(self, sample: int | None = None) -> dict[str, float]:
        """Mean firing rate of each layer over T, the batch (or one ``sample``) and its neurons."""
        return {n: float(self._pick(s, sample).mean()) for n, s in self.spikes.items()}

    def step_rates(self, sample: int | None = None) -> dict[str, list[float]]:
        """Firing rate of each layer at each step (mean over the batch or one ``sample``)."""
        return {
            n: [float(v) for v in self._pick(s, sample).flatten(1).mean(dim=1)]
            for n, s in self.spikes.items()
        }


def _threshold(n: BaseNeuron) -> float:
    th = n.threshold
    return float(th.detach()) if isinstance(th, Tensor) else float(th)


@dataclass
class _Store:
    spikes: dict[str, list[Tensor]] = field(default_factory=dict)
    membrane: dict[str, list[Tensor]] = field(default_factory=dict)
    pre_reset: dict[str, list[bool]] = field(default_factory=dict)
    synapse: dict[str, Tensor] = field(default_factory=dict)


@contextlib.contextmanager
def _recording(model: nn.Module) -> Iterator[_Store]:
    """Wrap every neuron's ``single_step`` (an instance attribute, deleted afterwards) and hook the
    first ``nn.Linear``; everything is removed on exit, even on error."""
    store = _Store()
    neurons = spiking_layers(model)
    own = {name: n.__dict__.get("single_step") for name, n in neurons.items()}
    handles: list[torch.utils.hooks.RemovableHandle] = []

    def wrap(name: str, n: BaseNeuron) -> Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]:
        step: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]] = own[name] or n.single_step

        def recorded(x: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
            seen: list[Tensor] = []
            hook = n.surrogate.register_forward_pre_hook(
                lambda _m, args: seen.append(args[0].detach())
            )
            try:
                s, v_new = step(x, v)
            finally:
                hook.remove()
            ok = len(seen) == 1 and seen[0].shape == s.shape
            store.spikes.setdefault(name, []).append(s.detach())
            store.membrane.setdefault(name, []).append(
                seen[0] + _threshold(n) if ok else v_new.detach().clone()
            )
            store.pre_reset.setdefault(name, []).append(ok)
            return s, v_new

        return recorded

    def keep_input(key: str) -> Callable[[nn.Module, tuple[Any, ...]], None]:
        def hook(_m: nn.Module, args: tuple[Any, ...]) -> None:
            store.synapse.setdefault(key, args[0].detach())

        return hook

    try:
        for name, n in neurons.items():
            n.__dict__["single_step"] = wrap(name, n)  # shadows the class method
        for key, m in model.named_modules():
            if isinstance(m, nn.Linear):
                handles.append(m.register_forward_pre_hook(keep_input(key)))
                break
        yield store
    finally:
        for h in handles:
            h.remove()
        for name, n in neurons.items():
            if own[name] is None:
                n.__dict__.pop("single_step", None)
            else:
                n.__dict__["single_step"] = own[name]


def record_activity(model: nn.Module, x: Tensor) -> Activity:
    """Run ``model`` once on ``x`` and record every spiking layer's spikes and membrane per step.

    The state of every neuron is reset first. The pass runs without gradients, in the neurons'
    step loop (spikes identical to the fused kernels); the model's training mode is left as is
    (call ``model.eval()`` first: a BIF neuron's initial membrane is noisy in training mode, and
    BatchNorm uses batch statistics). Memory grows with T × batch × neurons: record a few samples.

    Args:
        model: any module containing :class:`~snn_models.neurons.base.BaseNeuron` layers (a
            :class:`~snn_models.SpikingNet` takes ``[B, ...]``; a bare neuron ``[T, B, ...]``).
        x: the input batch.

    Returns:
        An :class:`Activity`; no hook or wrapper stays on the model.

    Example:
        >>> from snn_models import build
        >>> net = build({"kind": "mlp", "timesteps": 3, "layers": [{"width": 8}]}, (4,), 2).eval()
        >>> act = record_activity(net, torch.rand(5, 4))
        >>> act.layers, tuple(act.spikes["body.0"].shape), tuple(act.membrane["body.0"].shape)
        (['body.0'], (3, 5, 8), (3, 5, 8))
    """
    neurons = spiking_layers(model)
    for n in neurons.values():
        n.reset()
    reset_net(model)
    with torch.no_grad(), step_loop(model), _recording(model) as store:
        out = model(x)
    kinds = neuron_kinds(model)
    syn = next(iter(store.synapse.items()), None)
    return Activity(
        spikes={k: torch.stack(v) for k, v in store.spikes.items()},
        membrane={k: torch.stack(v) for k, v in store.membrane.items()},
        pre_reset={k: all(v) for k, v in store.pre_reset.items()},
        thresholds={k: _threshold(neurons[k]) for k in store.spikes},
        kinds={k: kinds[k] for k in store.spikes},
        input=x.detach(),
        output=out.detach() if isinstance(out, Tensor) else out,
        synapse=syn[0] if syn else None,
        synapse_input=syn[1] if syn else None,
    )


def most_active(activity: Activity, layer: str, k: int, sample: int = 0) -> list[int]:
    """Flat indices (over the neurons of one sample) of the ``k`` neurons of ``layer`` that
    spiked most often; ties go to the higher peak membrane, then the lower index."""
    s = activity.spikes[layer][:, sample].flatten(1)
    peak = activity.membrane[layer][:, sample].flatten(1).amax(dim=0)
    count = s.sum(dim=0)
    order = sorted(range(s.shape[1]), key=lambda i: (-float(count[i]), -float(peak[i]), i))
    return order[: max(0, k)]


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


def _series_encoder(model: nn.Module) -> Any:
    """The :class:`~snn_models.temporal.SeriesEncoder` of a temporal network, else ``None``."""
    from snn_models.temporal import SeriesEncoder

    return next((m for m in model.modules() if isinstance(m, SeriesEncoder)), None)


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
    if _series_encoder(model) is not None:
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
    "GAMMA",
    "METHODS",
    "Activity",
    "Maps",
    "canvas_size",
    "explain_maps",
    "input_canvas",
    "input_projection",
    "layout",
    "most_active",
    "neuronal_contribution",
    "record_activity",
    "sam_over_input",
    "spike_activation_map",
    "token_grid",
]
