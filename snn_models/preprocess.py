r"""Input preprocessing as the first module of a network, fitted on the training split only.

A network's ``preprocess`` (:attr:`snn_models.config.NetSpec.preprocess`) is a fixed affine map
applied to the raw input before anything else, with statistics fitted once on the training split
(:func:`fit_preprocess`) and stored as buffers: they travel in the checkpoint's ``state_dict``,
are traced into every TorchScript and ONNX export, and :func:`fold_into_first_layer` folds them
into the first synaptic layer where a format has no node for them (NIR). So ``evolve predict``
and every exported file apply it without the user doing anything.

.. math::

    y = (x - \mathrm{shift}) \cdot \mathrm{scale}

* ``none``: the identity (an :class:`torch.nn.Identity`; checkpoints written before
  preprocessing existed load as this).
* ``standardize``: :math:`\mathrm{shift} = \mu`, :math:`\mathrm{scale} = 1/\sigma` (population
  standard deviation; a constant feature, :math:`\sigma <` :data:`MIN_STD`, is only centred).
* ``minmax``: :math:`\mathrm{shift} = \min`, :math:`\mathrm{scale} = 1/(\max - \min)`: the
  training split lands in [0, 1] (what the ``rate`` and ``latency`` encoders read); values outside
  the training range land outside [0, 1].

The statistics are pooled per *feature* (tabular data ``(F,)``: one mean per column) or per
*channel* (images ``(C, H, W)`` and series ``(C, L)``: one per channel, pooled over pixels or
time; sequences ``(L, C)``: the last axis), see :data:`GROUPING`. :data:`DEFAULTS` gives the
choice made when a run does not name one: tabular and series data are standardised, images
(already in [0, 1] after the data set's ``input_scale``) are kept as they are; with the ``rate``
or ``latency`` encoder (which read probabilities in [0, 1]) tabular and series data are min-max
scaled instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from snn_models.errors import ConfigError

#: The preprocessing choices of :attr:`snn_models.config.NetSpec.preprocess`.
PREPROCESSORS: tuple[str, ...] = ("none", "standardize", "minmax")

#: Standard deviations (and ranges) below this count as a constant feature: centred, not scaled.
MIN_STD = 1e-6

#: Data kind → how the statistics are pooled: ``feature`` (one per value of a sample) or
#: ``channel`` (one per channel: the first axis of an image or series, the last of a sequence).
GROUPING: dict[str, str] = {
    "tabular": "feature",
    "vector": "feature",
    "image": "channel",
    "series": "channel",
    "sequence": "channel",
    "events": "channel",
}

#: Data kind → the preprocessing used when a run does not choose one (direct encoding).
DEFAULTS: dict[str, str] = {
    "tabular": "standardize",
    "vector": "standardize",
    "series": "standardize",
    "image": "none",
    "sequence": "none",
    "events": "none",
}

#: Encoders that read probabilities in [0, 1]: tabular and series data are min-max scaled for them.
UNIT_RANGE_ENCODERS = ("rate", "latency")


def default_preprocess(data_kind: str, encoder: str = "direct") -> str:
    """The preprocessing a run uses when it names none (see the module docstring).

    Example:
        >>> default_preprocess("tabular"), default_preprocess("image")
        ('standardize', 'none')
        >>> default_preprocess("tabular", "rate")
        'minmax'
    """
    choice = DEFAULTS.get(data_kind, "none")
    if choice == "standardize" and encoder in UNIT_RANGE_ENCODERS:
        return "minmax"
    return choice


def data_kind_of(input_shape: Sequence[int], declared: str | None = None) -> str:
    """The data kind of a data set: ``declared`` when given, else guessed from one sample's
    shape: ``(F,)`` tabular, ``(C, L)`` series, ``(C, H, W)`` image."""
    if declared:
        return str(declared)
    rank = len(tuple(input_shape))
    return {1: "tabular", 2: "series", 3: "image"}.get(rank, "image")


class Preprocess(nn.Module):
    """``y = (x - shift) * scale`` with per-feature or per-channel statistics (buffers).

    Args:
        method: ``standardize`` or ``minmax`` (``none`` is an :class:`torch.nn.Identity`; see
            :func:`make_preprocess`).
        input_shape: one sample's shape; the buffers have this shape (a per-channel statistic is
            repeated over its channel), so the map is one elementwise multiply-add in any format.

    Attributes:
        shift, scale: the fitted statistics (shift 0, scale 1 until :meth:`fit`).
        fitted: whether :meth:`fit` has run (a buffer, so a reloaded model knows).
        channel_axis: ``-1``: pooled per feature; ``-2``: one statistic for everything;
            ``>= 0``: pooled per channel along that axis of a sample.
        n_fit: how many training samples the statistics come from.
    """

    shift: Tensor
    scale: Tensor
    fitted: Tensor
    channel_axis: Tensor
    n_fit: Tensor

    def __init__(self, method: str, input_shape: Sequence[int]) -> None:
        super().__init__()
        if method not in PREPROCESSORS or method == "none":
            raise ConfigError(
                f"preprocess: unknown method {method!r}; choose one of {', '.join(PREPROCESSORS)}"
            )
        self.method = method
        shape = tuple(int(d) for d in input_shape)
        self.register_buffer("shift", torch.zeros(shape))
        self.register_buffer("scale", torch.ones(shape))
        self.register_buffer("fitted", torch.tensor(False))
        self.register_buffer("channel_axis", torch.tensor(-1, dtype=torch.long))
        self.register_buffer("n_fit", torch.tensor(0, dtype=torch.long))

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.shift) * self.scale

    @torch.no_grad()
    def fit(self, x: Tensor, grouping: str = "feature", channel_axis: int = 0) -> Preprocess:
        """Fit the statistics on the training inputs ``x`` ``[N, *input_shape]``.

        Args:
            x: the training split's inputs (as the model receives them).
            grouping: ``feature`` (one statistic per value of a sample), ``channel`` or ``all``
                (one statistic for everything: a univariate series).
            channel_axis: with ``channel``: the channel axis of one sample (``-1``: the last).

        Raises:
            ConfigError: ``x`` does not have the model's input shape, or fewer than 2 samples.
        """
        shape = tuple(self.shift.shape)
        if tuple(x.shape[1:]) != shape:
            raise ConfigError(
                f"preprocess: fitted on samples of shape {tuple(x.shape[1:])}, the model reads {shape}"
            )
        if x.shape[0] < 2:
            raise ConfigError("preprocess: needs at least 2 training samples to fit")
        x = x.detach().to(torch.float64)
        if grouping == "channel" and len(shape) >= 1:
            axis = channel_axis % len(shape)
            dims = [0] + [d + 1 for d in range(len(shape)) if d != axis]
            stored_axis = axis
        elif grouping == "feature":
            dims, stored_axis = [0], -1
        elif grouping == "all":
            dims, stored_axis = list(range(len(shape) + 1)), -2
        else:
            raise ConfigError(
                f"preprocess: grouping must be feature, channel or all, got {grouping!r}"
            )
        if self.method == "standardize":
            shift = x.mean(dim=dims, keepdim=True)
            spread = x.std(dim=dims, keepdim=True, unbiased=False)
        else:  # minmax
            shift = x.amin(dim=dims, keepdim=True)
            spread = x.amax(dim=dims, keepdim=True) - shift
        scale = torch.where(spread < MIN_STD, torch.ones_like(spread), 1.0 / spread)
        self.shift.copy_(shift[0].expand(shape).to(self.shift.dtype))
        self.scale.copy_(scale[0].expand(shape).to(self.scale.dtype))
        self.fitted.fill_(True)
        self.channel_axis.fill_(stored_axis)
        self.n_fit.fill_(int(x.shape[0]))
        return self

    def describe(self) -> dict[str, Any]:
        """What the model card records: the method, its pooling, the rule and the statistics
        (per feature or per channel; at most 256 values each, else their range)."""
        axis = int(self.channel_axis)
        if axis == -2:
            shift, scale, per = self.shift.flatten()[:1], self.scale.flatten()[:1], "all"
        elif axis < 0:
            shift, scale, per = self.shift.flatten(), self.scale.flatten(), "feature"
        else:
            index = [0] * self.shift.dim()
            idx: list[Any] = list(index)
            idx[axis] = slice(None)
            shift, scale, per = self.shift[tuple(idx)], self.scale[tuple(idx)], "channel"
        names = ("mean", "std") if self.method == "standardize" else ("min", "range")
        spread = 1.0 / scale.double()
        out: dict[str, Any] = {
            "method": self.method,
            "per": per,
            "fitted_on": f"training split ({int(self.n_fit)} samples)"
            if bool(self.fitted)
            else "not fitted (identity)",
            "rule": f"x' = (x - {names[0]}) / {names[1]}, applied inside the model "
            "(TorchScript and ONNX files include it; feed raw × input_scale values)",
        }
        if shift.numel() <= 256:
            out[names[0]] = [round(float(v), 6) for v in shift]
            out[names[1]] = [round(float(v), 6) for v in spread]
        else:
            out[names[0] + "_range"] = [float(shift.min()), float(shift.max())]
            out[names[1] + "_range"] = [float(spread.min()), float(spread.max())]
        return out

    def extra_repr(self) -> str:
        return f"method={self.method}, shape={tuple(self.shift.shape)}"


def make_preprocess(method: str | None, input_shape: Sequence[int]) -> nn.Module:
    """The front module for ``method``: :class:`Preprocess`, or an ``nn.Identity`` for ``none``."""
    if method in (None, "none"):
        return nn.Identity()
    return Preprocess(str(method), input_shape)


def preprocess_of(model: nn.Module) -> Preprocess | None:
    """The model's fitted-or-not :class:`Preprocess` front module, or ``None`` (identity)."""
    module = getattr(model, "preprocess", None)
    return module if isinstance(module, Preprocess) else None


def fit_preprocess(
    model: nn.Module, x: Tensor, data_kind: str | None = None, *, refit: bool = False
) -> dict[str, Any] | None:
    """Fit ``model``'s front preprocessing on the training inputs ``x`` (once: a fitted one is
    kept unless ``refit``); returns its :meth:`Preprocess.describe`, or ``None`` without one.

    Args:
        model: a network built by :func:`snn_models.build` (or its ANN twin).
        x: the training split's inputs ``[N, *input_shape]``; never validation or test data.
        data_kind: ``tabular``, ``image``, ``series``, ``sequence`` (pooling: :data:`GROUPING`);
            ``None``: guessed from the shape (:func:`data_kind_of`).
        refit: fit again even when already fitted.

    Example:
        >>> import torch
        >>> from snn_models import build
        >>> net = build({"kind": "mlp", "preprocess": "standardize", "layers": [{"width": 8}]},
        ...             (3,), 2)
        >>> x = torch.randn(100, 3) * 5 + 2
        >>> fit_preprocess(net, x)["per"]
        'feature'
        >>> y = net.preprocess(x)
        >>> bool(y.mean(0).abs().max() < 1e-4), bool((y.std(0, unbiased=False) - 1).abs().max() < 1e-4)
        (True, True)
    """
    pre = preprocess_of(model)
    if pre is None:
        return None
    if bool(pre.fitted) and not refit:
        return pre.describe()
    kind = data_kind_of(tuple(x.shape[1:]), data_kind)
    grouping = GROUPING.get(kind, "channel")
    axis = -1 if kind == "sequence" else 0
    if len(x.shape) == 2 and kind == "series":  # (L,): one channel, pooled over time
        grouping = "all"
    pre.fit(x, grouping, axis)
    return pre.describe()


def fold_into_first_layer(model: nn.Module) -> str | None:
    """Fold ``model.preprocess`` into its first synaptic layer, in place (for formats with no
    node for it, e.g. NIR): ``W' = W·diag(scale)``, ``b' = b − W'·shift`` on the flattened input;
    the front becomes the identity. Exact for a stem of ``Flatten`` + ``Linear``.

    Returns:
        ``None`` when folded (or nothing to fold), else why it cannot be (one line).
    """
    pre = preprocess_of(model)
    if pre is None:
        return None
    stem = getattr(model, "stem", None)
    mods = [m for m in stem if not isinstance(m, nn.Flatten)] if stem is not None else []
    if not mods or not isinstance(mods[0], nn.Linear):
        return (
            f"the {pre.method} front folds only into a dense first layer under direct "
            "encoding; use preprocess: none, or export torchscript/onnx, which include it"
        )
    linear = mods[0]
    with torch.no_grad():
        scale = pre.scale.flatten().to(linear.weight.dtype)
        shift = pre.shift.flatten().to(linear.weight.dtype)
        linear.weight.mul_(scale.unsqueeze(0))
        offset = linear.weight @ shift
        if linear.bias is None:
            linear.bias = nn.Parameter(-offset)
        else:
            linear.bias.sub_(offset)
    model.preprocess = nn.Identity()
    return None


def prepare_inputs(
    model: nn.Module, x_train: Tensor, data_kind: str | None = None
) -> dict[str, Any]:
    """Fit ``model``'s front on the training inputs and say how its inputs are coded: what a
    trial records (``input_coding``) and the model card shows.

    Returns:
        ``{"preprocess": method, "per": pooling, "encoder": name, "signed_inputs": what the
        encoder does with negative values, "clipped_fraction": the share of the preprocessed
        training values outside the encoder's range}`` (see
        :func:`snn_models.encoders.clipped_fraction`).
    """
    from snn_models.encoders import ENCODERS, clipped_fraction

    described = fit_preprocess(model, x_train, data_kind)
    spec = getattr(model, "spec", None)
    encoder = str(getattr(spec, "encoder", "direct"))
    front = getattr(model, "preprocess", None)
    with torch.no_grad():
        seen = front(x_train) if front is not None else x_train
    cls = ENCODERS.get(encoder)
    return {
        "preprocess": described["method"] if described else "none",
        "per": described["per"] if described else None,
        "encoder": encoder,
        "signed_inputs": cls.signed_inputs if cls is not None else None,
        "clipped_fraction": round(clipped_fraction(encoder, seen), 6),
    }


__all__ = [
    "DEFAULTS",
    "GROUPING",
    "MIN_STD",
    "PREPROCESSORS",
    "Preprocess",
    "data_kind_of",
    "default_preprocess",
    "fit_preprocess",
    "fold_into_first_layer",
    "make_preprocess",
    "prepare_inputs",
    "preprocess_of",
]
