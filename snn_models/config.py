"""Plain-data descriptions of spiking networks: :class:`NetSpec` and :class:`LayerSpec`.

A network is data, not code: a dict (from YAML, JSON, the CLI or a search-space sample) is
validated into frozen dataclasses by :meth:`NetSpec.from_dict`, and :func:`snn_models.build` turns
that into a module. Every error names the offending key and the fix.

Example dict::

    {"kind": "mlp", "timesteps": 4, "encoder": "direct",
     "layers": [{"width": 256, "neuron": "lif", "threshold": 1.0, "decay": 0.5},
                {"width": 128, "neuron": "bif", "threshold": 0.9}]}
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from snn_models.encoders import ENCODERS
from snn_models.errors import ConfigError
from snn_models.neurons import NEURONS
from snn_models.readouts import READOUTS
from snn_models.surrogate import SURROGATES

KINDS = ("mlp", "cnn")


def _unknown_keys(given: Mapping[str, Any], allowed: list[str], where: str) -> None:
    for key in given:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(allowed)}"
            raise ConfigError(f"{where}{key}: unknown key ({hint})")


def _check_type(value: Any, types: tuple[type, ...], where: str) -> None:
    if isinstance(value, bool) and bool not in types:
        raise ConfigError(f"{where}: expected {'/'.join(t.__name__ for t in types)}, got {value!r}")
    if not isinstance(value, types):
        raise ConfigError(f"{where}: expected {'/'.join(t.__name__ for t in types)}, got {value!r}")


@dataclass(frozen=True)
class LayerSpec:
    """One hidden layer: its width (units or channels) and its neuron.

    Attributes:
        width: units (MLP) or output channels (CNN), >= 1.
        neuron: ``if``, ``lif`` or ``bif``.
        threshold: firing threshold (> 0).
        decay: LIF membrane decay beta in [0, 1] (LIF only; ``None`` = the neuron's default).
        learn_threshold: train the threshold.
        learn_decay: train the decay (LIF only).
        kernel: convolution kernel size (CNN only).
        pool: 2x2 max-pool after this layer (CNN only).
        neuron_args: extra keyword arguments for the neuron (e.g. ``v_reset`` for BIF).
    """

    width: int
    neuron: str = "lif"
    threshold: float = 1.0
    decay: float | None = None
    learn_threshold: bool = False
    learn_decay: bool = False
    kernel: int = 3
    pool: bool = True
    neuron_args: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str) -> LayerSpec:
        if not isinstance(d, Mapping):
            raise ConfigError(f"{where}: expected a mapping of layer settings, got {d!r}")
        _unknown_keys(d, [f.name for f in fields(cls)], f"{where}.")
        if "width" not in d:
            raise ConfigError(f"{where}.width: missing (number of units or channels)")
        spec = cls(**d)
        spec.validate(where)
        return spec

    def validate(self, where: str) -> None:
        _check_type(self.width, (int,), f"{where}.width")
        if self.width < 1:
            raise ConfigError(f"{where}.width: must be >= 1, got {self.width}")
        if self.neuron not in NEURONS:
            raise ConfigError(
                f"{where}.neuron: unknown neuron type {self.neuron!r}; choose one of {', '.join(NEURONS)}"
            )
        _check_type(self.threshold, (int, float), f"{where}.threshold")
        if not self.threshold > 0:
            raise ConfigError(f"{where}.threshold: must be > 0, got {self.threshold}")
        if self.decay is not None:
            _check_type(self.decay, (int, float), f"{where}.decay")
            if not 0 <= self.decay <= 1:
                raise ConfigError(f"{where}.decay: must be in [0, 1], got {self.decay}")
        _check_type(self.kernel, (int,), f"{where}.kernel")
        if self.kernel < 1:
            raise ConfigError(f"{where}.kernel: must be >= 1, got {self.kernel}")
        if not isinstance(self.neuron_args, Mapping):
            raise ConfigError(f"{where}.neuron_args: expected a mapping, got {self.neuron_args!r}")

    def neuron_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`snn_models.neurons.make_neuron`."""
        kw: dict[str, Any] = {
            "threshold": float(self.threshold),
            "learn_threshold": self.learn_threshold,
        }
        if self.neuron == "lif":
            if self.decay is not None:
                kw["decay"] = float(self.decay)
            kw["learn_decay"] = self.learn_decay
        kw.update(self.neuron_args)
        return kw


@dataclass(frozen=True)
class NetSpec:
    """A whole spiking network.

    Attributes:
        kind: ``mlp`` or ``cnn``.
        layers: hidden layers, in order (at least one).
        timesteps: simulation steps T (>= 1).
        encoder: ``direct`` (default), ``repeat``, ``rate`` or ``latency``.
        readout: ``membrane`` (default) or ``spikes``.
        surrogate: ``atan`` (default), ``sigmoid`` or ``triangle``.
        surrogate_alpha: the surrogate's shape parameter (``None``: its default).
        batchnorm: BatchNorm after each synaptic layer (default on for CNN, off for MLP).
        soft_reset: IF/LIF subtract the threshold instead of resetting to zero.
        dropout: dropout probability on hidden spikes (MLP).
    """

    kind: str
    layers: tuple[LayerSpec, ...]
    timesteps: int = 4
    encoder: str = "direct"
    readout: str = "membrane"
    surrogate: str = "atan"
    surrogate_alpha: float | None = None
    batchnorm: bool | None = None
    soft_reset: bool = False
    dropout: float = 0.0

    @classmethod
    def from_dict(cls, d: NetSpec | Mapping[str, Any]) -> NetSpec:
        """Validate a plain dict into a :class:`NetSpec` (errors name the key and the fix)."""
        if isinstance(d, NetSpec):
            return d
        if not isinstance(d, Mapping):
            raise ConfigError(f"architecture: expected a mapping, got {type(d).__name__}")
        _unknown_keys(d, [f.name for f in fields(cls)], "")
        if "kind" not in d:
            raise ConfigError(f"kind: missing; choose one of {', '.join(KINDS)}")
        raw_layers = d.get("layers")
        if not isinstance(raw_layers, list | tuple) or not raw_layers:
            raise ConfigError(
                "layers: must be a non-empty list of layer settings, e.g. [{width: 128}]"
            )
        layers = tuple(
            LayerSpec.from_dict(layer, f"layers[{i}]") for i, layer in enumerate(raw_layers)
        )
        spec = cls(**{**d, "layers": layers})
        spec.validate()
        return spec

    def validate(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(
                f"kind: unknown network kind {self.kind!r}; choose one of {', '.join(KINDS)}"
            )
        if (
            isinstance(self.timesteps, bool)
            or not isinstance(self.timesteps, int)
            or self.timesteps < 1
        ):
            raise ConfigError(f"timesteps: must be a positive integer, got {self.timesteps!r}")
        for key, table in (("encoder", ENCODERS), ("readout", READOUTS), ("surrogate", SURROGATES)):
            value = getattr(self, key)
            if value not in table:
                raise ConfigError(
                    f"{key}: unknown {key} {value!r}; choose one of {', '.join(table)}"
                )
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout: must be in [0, 1), got {self.dropout}")
        for i, layer in enumerate(self.layers):
            layer.validate(f"layers[{i}]")

    @property
    def use_batchnorm(self) -> bool:
        return self.batchnorm if self.batchnorm is not None else self.kind == "cnn"

    def to_dict(self) -> dict[str, Any]:
        """A JSON/YAML-serialisable dict that :meth:`from_dict` turns back into this spec."""
        d = asdict(self)
        d["layers"] = [dict(layer, neuron_args=dict(layer["neuron_args"])) for layer in d["layers"]]
        return d
