"""What every network kind shares: :class:`SpikingNet` and the pieces its builders assemble.

A kind's builder (:mod:`snn_models.mlp`, :mod:`snn_models.cnn`, :mod:`snn_models.transformer`,
:mod:`snn_models.temporal`; listed in :data:`snn_models.kinds.KINDS`) makes the hidden layers
from a :class:`~snn_models.config.NetSpec` with :func:`layer_width` and :func:`layer_neuron`, and
hands them to :func:`spiking_net`, which adds the output layer, the readout and the encoder.

With ``direct`` encoding the input is the same real-valued tensor at every step, so the first
synaptic layer (and its BatchNorm) of a plain layer stack runs once on the static input — the
*stem* (:func:`split_stem`) — and its output current is repeated over T. That is what an
efficient implementation computes, and it is what the energy model then counts: one dense pass of
MACs for the encoding layer, SOPs for the rest.

This module imports no builder and no :mod:`snn_models.config` at run time, so the kind modules
and the registry can import it without an import cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import Tensor, nn

from snn_models.encoders import make_encoder
from snn_models.errors import ConfigError
from snn_models.functional import reset_net
from snn_models.layers import Flatten, TimeDistributed, td_linear
from snn_models.neurons import BaseNeuron, make_neuron
from snn_models.readouts import make_readout
from snn_models.surrogate import make_surrogate

if TYPE_CHECKING:
    from snn_models.config import NetSpec


class SpikingNet(nn.Module):
    """Preprocess → stem → encoder → hidden spiking layers → output layer → readout.

    Attributes:
        spec: the :class:`NetSpec` it was built from.
        preprocess: the fitted input standardisation (:mod:`snn_models.preprocess`), or an
            identity; :func:`snn_models.build` sets it from ``spec.preprocess``.
        stem: layers run once on the static input (direct encoding), else empty.
        encoder, body, head, readout: the other stages.
    """

    def __init__(
        self,
        spec: NetSpec,
        stem: nn.Sequential,
        encoder: nn.Module,
        body: nn.Sequential,
        head: nn.Sequential,
        readout: nn.Module,
    ) -> None:
        super().__init__()
        self.spec = spec
        self.preprocess: nn.Module = nn.Identity()
        self.stem = stem
        self.encoder = encoder
        self.body = body
        self.head = head
        self.readout = readout

    @property
    def timesteps(self) -> int:
        return self.spec.timesteps

    def forward(self, x: Tensor) -> Tensor:
        """Class scores ``[B, C]`` for a static input batch ``[B, ...]`` (state is reset first)."""
        reset_net(self)
        return self.readout(self.head(self.body(self.encoder(self.stem(self.preprocess(x))))))


def layer_neuron(spec: NetSpec, i: int) -> BaseNeuron:
    """The spiking neuron of hidden layer ``i`` of ``spec``: its type and settings, the
    network's surrogate and, for IF/LIF without their own ``soft_reset``, the network's reset."""
    layer = spec.layers[i]
    kwargs = layer.neuron_kwargs()
    kwargs["surrogate"] = make_surrogate(spec.surrogate, spec.surrogate_alpha)
    if layer.neuron in ("if", "lif"):
        kwargs.setdefault("soft_reset", spec.soft_reset)
    return make_neuron(layer.neuron, where=f"layers[{i}].neuron", **kwargs)


def layer_width(spec: NetSpec, i: int) -> int:
    """The width of hidden layer ``i`` (units or channels).

    Raises:
        ConfigError: the layer has no width.
    """
    width = spec.layers[i].width
    if width is None:
        raise ConfigError(f"layers[{i}].width: missing (number of units or channels)")
    return width


def readout_neuron(spec: NetSpec) -> BaseNeuron:
    """The LIF neuron after the output layer of a spiking readout (``readout: spikes``)."""
    return make_neuron(
        "lif", where="readout", surrogate=make_surrogate(spec.surrogate, spec.surrogate_alpha)
    )


def split_stem(body_mods: list[nn.Module]) -> nn.Sequential:
    """Move the encoding layer (leading Flatten, first synaptic layer, its BatchNorm) out of
    ``body_mods`` (in place); they become plain modules applied once to the static input
    ``[B, ...]``."""
    stem: list[nn.Module] = []
    if isinstance(body_mods[0], Flatten):
        body_mods.pop(0)
        stem.append(nn.Flatten(1))
    synapse = body_mods.pop(0)
    assert isinstance(synapse, TimeDistributed)
    stem.append(synapse.module)
    nxt = body_mods[0]
    if isinstance(nxt, TimeDistributed) and isinstance(nxt.module, nn.BatchNorm1d | nn.BatchNorm2d):
        body_mods.pop(0)
        stem.append(nxt.module)
    return nn.Sequential(*stem)


def spiking_net(
    spec: NetSpec,
    stem: nn.Sequential | None,
    body_mods: list[nn.Module],
    width: int,
    n_classes: int,
) -> SpikingNet:
    """Finish a network from its hidden layers: output layer, spiking readout neuron (if the
    readout needs one), readout and encoder, created in that order.

    Args:
        spec: the validated spec.
        stem: the modules run once on the static input; ``None``: take them from the front of
            ``body_mods`` with :func:`split_stem` when the encoder is ``direct`` or ``repeat``
            (empty otherwise).
        body_mods: the hidden layers, ``[T, B, ...]`` in, ``[T, B, width]`` out.
        width: the features the output layer reads.
        n_classes: number of output classes.
    """
    head: list[nn.Module] = [td_linear(width, n_classes)]
    readout = make_readout(spec.readout)
    if getattr(readout, "spiking", False):
        head.append(readout_neuron(spec))
    if stem is None:
        stem = split_stem(body_mods) if spec.encoder in ("direct", "repeat") else nn.Sequential()
    return SpikingNet(
        spec,
        stem,
        make_encoder(spec.encoder, spec.timesteps),
        nn.Sequential(*body_mods),
        nn.Sequential(*head),
        readout,
    )


__all__ = [
    "SpikingNet",
    "layer_neuron",
    "layer_width",
    "readout_neuron",
    "spiking_net",
    "split_stem",
]
