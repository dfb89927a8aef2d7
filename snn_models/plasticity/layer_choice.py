"""Which layers learn: each synaptic layer paired with the spiking neuron it drives."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from torch import nn

from snn_models.encoders import LatencyEncoder, RateEncoder
from snn_models.errors import ConfigError
from snn_models.layers import Flatten, TimeDistributed
from snn_models.neurons.base import BaseNeuron
from snn_models.plasticity.synapse import _synaptic_layer

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
