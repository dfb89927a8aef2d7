"""Plain-data descriptions of spiking networks: :class:`NetSpec` and :class:`LayerSpec`.

A network is data, not code: a dict (from YAML, JSON, the CLI or a search-space sample) is
validated into frozen dataclasses by :meth:`NetSpec.from_dict`, and :func:`snn_models.build` turns
that into a module. Every error names the offending key and the fix.

Example dicts::

    {"kind": "mlp", "timesteps": 4, "encoder": "direct",
     "layers": [{"width": 256, "neuron": "lif", "threshold": 1.0, "decay": 0.5},
                {"width": 128, "neuron": "bif", "threshold": 0.9}]}

    {"kind": "transformer", "timesteps": 4, "dim": 32, "heads": 2, "mlp_ratio": 4, "patch": 2,
     "layers": [{"attention": "sdsa", "neuron": "lif"},
                {"attention": "ssa", "neuron": "if", "threshold": 0.8}]}

For ``kind: transformer`` each entry of ``layers`` is one transformer block (attention + spiking
MLP); its ``width`` is optional and sets that block's MLP hidden width (default
``mlp_ratio * dim``). The model width is the network-level ``dim``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from snn_models.attention import ATTENTIONS
from snn_models.encoders import ENCODERS
from snn_models.errors import ConfigError
from snn_models.kinds import KIND_FIELDS, KIND_LAYER_FIELDS, KINDS, users_of
from snn_models.neurons import NEURONS
from snn_models.preprocess import PREPROCESSORS
from snn_models.readouts import READOUTS
from snn_models.surrogate import SURROGATES

#: Network-level fields only a transformer uses, with the values taken when a spec leaves them out.
TRANSFORMER_DEFAULTS: dict[str, Any] = {"dim": 32, "heads": 2, "mlp_ratio": 4.0}


def _unknown_keys(given: Mapping[str, Any], allowed: list[str], where: str) -> None:
    for key in given:
        if not isinstance(key, str):
            raise ConfigError(f"{where}{key!r}: keys must be text (allowed: {', '.join(allowed)})")
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
    """One hidden layer (MLP, CNN) or one transformer block: its width and its neuron.

    Attributes:
        width: units (MLP) or output channels (CNN), >= 1, required there. For a transformer
            block: the hidden width of its spiking MLP, optional (default ``mlp_ratio * dim``).
        neuron: ``if``, ``lif``, ``bif`` or ``adaptive`` (LIF <-> BIF, moved by the selector).
        threshold: firing threshold (> 0). ``None``: 1.0 for MLP/CNN layers; for transformer
            blocks a gentle decrease with depth, 1.0 at the first block to 0.8 at the last.
        decay: LIF membrane decay beta in [0, 1] (LIF and adaptive; ``None`` = the default).
        learn_threshold: train the threshold.
        learn_decay: train the decay (LIF only).
        kernel: convolution kernel size (CNN; temporal: steps of the causal convolution).
        dilation: spacing of a temporal convolution's taps (``kind: temporal`` only; ``None``
            = 1, adjacent steps): kernel ``k`` with dilation ``d`` reads steps
            ``t, t-d, .., t-(k-1)d``, a TCN's dilated causal convolution.
        pool: 2x2 max-pool after this layer (CNN only).
        neuron_args: extra keyword arguments for the neuron (e.g. ``v_reset`` for BIF).
        attention: the block's attention type, a key of
            :data:`snn_models.attention.ATTENTIONS` (transformer only; ``None`` = ``sdsa``).
    """

    width: int | None = None
    neuron: str = "lif"
    threshold: float | None = None
    decay: float | None = None
    learn_threshold: bool = False
    learn_decay: bool = False
    kernel: int = 3
    dilation: int | None = None
    pool: bool = True
    neuron_args: Mapping[str, Any] = field(default_factory=dict)
    attention: str | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str) -> LayerSpec:
        if not isinstance(d, Mapping):
            raise ConfigError(f"{where}: expected a mapping of layer settings, got {d!r}")
        _unknown_keys(d, [f.name for f in fields(cls)], f"{where}.")
        spec = cls(**d)
        spec.validate(where)
        return spec

    def validate(self, where: str) -> None:
        """Check the values that do not depend on the network kind (:meth:`NetSpec.validate`
        checks the rest)."""
        if self.width is not None:
            _check_type(self.width, (int,), f"{where}.width")
            if self.width < 1:
                raise ConfigError(f"{where}.width: must be >= 1, got {self.width}")
        if not isinstance(self.neuron, str) or self.neuron not in NEURONS:
            raise ConfigError(
                f"{where}.neuron: unknown neuron type {self.neuron!r}; choose one of {', '.join(NEURONS)}"
            )
        if self.threshold is not None:
            _check_type(self.threshold, (int, float), f"{where}.threshold")
            if not self.threshold > 0:
                raise ConfigError(f"{where}.threshold: must be > 0, got {self.threshold}")
        if self.decay is not None:
            _check_type(self.decay, (int, float), f"{where}.decay")
            if not 0 <= self.decay <= 1:
                raise ConfigError(f"{where}.decay: must be in [0, 1], got {self.decay}")
        for key in ("learn_threshold", "learn_decay", "pool"):
            _check_type(getattr(self, key), (bool,), f"{where}.{key}")
        _check_type(self.kernel, (int,), f"{where}.kernel")
        if self.kernel < 1:
            raise ConfigError(f"{where}.kernel: must be >= 1, got {self.kernel}")
        if self.dilation is not None:
            _check_type(self.dilation, (int,), f"{where}.dilation")
            if self.dilation < 1:
                raise ConfigError(f"{where}.dilation: must be >= 1, got {self.dilation}")
        if not isinstance(self.neuron_args, Mapping):
            raise ConfigError(f"{where}.neuron_args: expected a mapping, got {self.neuron_args!r}")
        if self.attention is not None and (
            not isinstance(self.attention, str) or self.attention not in ATTENTIONS
        ):
            raise ConfigError(
                f"{where}.attention: unknown attention type {self.attention!r}; "
                f"choose one of {', '.join(ATTENTIONS)}"
            )

    def neuron_kwargs(self, default_threshold: float = 1.0) -> dict[str, Any]:
        """Keyword arguments for :func:`snn_models.neurons.make_neuron`.

        Args:
            default_threshold: the threshold when :attr:`threshold` is ``None``.
        """
        threshold = self.threshold if self.threshold is not None else default_threshold
        kw: dict[str, Any] = {
            "threshold": float(threshold),
            "learn_threshold": self.learn_threshold,
        }
        if self.neuron == "lif":
            if self.decay is not None:
                kw["decay"] = float(self.decay)
            kw["learn_decay"] = self.learn_decay
        elif self.neuron == "adaptive" and self.decay is not None:  # its LIF side's decay
            kw["decay"] = float(self.decay)
        kw.update(self.neuron_args)
        return kw


@dataclass(frozen=True)
class NetSpec:
    """A whole spiking network.

    Attributes:
        kind: a key of :data:`snn_models.kinds.KINDS`: ``mlp``, ``cnn``, ``transformer`` or
            ``temporal`` (series: the series is the network's time; see
            :mod:`snn_models.temporal`). Which optional fields a kind uses, its defaults and its
            further checks come from its registry entry.
        layers: hidden layers (transformer: blocks), in order (at least one).
        timesteps: simulation steps T (>= 1). For ``temporal``: steps per window of the series.
        encoder: ``direct`` (default), ``repeat``, ``rate``, ``latency``, ``signed_rate`` or
            ``signed_latency`` (what each does to signed inputs: :mod:`snn_models.encoders`).
        preprocess: the model's front: ``none`` (default), ``standardize`` or ``minmax``,
            fitted on the training split (:mod:`snn_models.preprocess`).
        readout: ``membrane`` (default) or ``spikes``.
        surrogate: ``atan`` (default), ``sigmoid`` or ``triangle``.
        surrogate_alpha: the surrogate's shape parameter (``None``: its default).
        batchnorm: BatchNorm after each synaptic layer (default on for CNN, off for MLP; always
            on for a transformer, which refuses ``false``).
        soft_reset: IF/LIF subtract the threshold instead of resetting to zero.
        dropout: dropout probability on hidden spikes (MLP; a transformer refuses it).
        dim: transformer model width D (default 32).
        heads: transformer attention heads H, dividing ``dim`` (default 2).
        mlp_ratio: transformer MLP hidden width / D, > 0 (default 4.0); a block's ``width``
            overrides it.
        patch: transformer token size: ``patch x patch`` pixels of an image (default 4) or
            ``patch`` consecutive steps of a sequence (default 1). It must divide the input.
            For ``temporal``: samples of the series per window (SNN step), default 1.

    The four transformer fields stay ``None`` (= their default) for other kinds, which refuse
    them; :meth:`transformer_dims` gives their values with the defaults filled in.
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
    dim: int | None = None
    heads: int | None = None
    mlp_ratio: float | None = None
    patch: int | None = None
    preprocess: str = "none"

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
        if not isinstance(self.kind, str) or self.kind not in KINDS:
            raise ConfigError(
                f"kind: unknown network kind {self.kind!r}; choose one of {', '.join(KINDS)}"
            )
        if (
            isinstance(self.timesteps, bool)
            or not isinstance(self.timesteps, int)
            or self.timesteps < 1
        ):
            raise ConfigError(f"timesteps: must be a positive integer, got {self.timesteps!r}")
        for key, table in (
            ("encoder", ENCODERS),
            ("readout", READOUTS),
            ("surrogate", SURROGATES),
            ("preprocess", PREPROCESSORS),
        ):
            value = getattr(self, key)
            if not isinstance(value, str) or value not in table:
                raise ConfigError(
                    f"{key}: unknown {key} {value!r}; choose one of {', '.join(table)}"
                )
        _check_type(self.dropout, (int, float), "dropout")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout: must be in [0, 1), got {self.dropout}")
        _check_type(self.soft_reset, (bool,), "soft_reset")
        if self.batchnorm is not None:
            _check_type(self.batchnorm, (bool,), "batchnorm")
        if self.surrogate_alpha is not None:
            _check_type(self.surrogate_alpha, (int, float), "surrogate_alpha")
            if not 0 < self.surrogate_alpha < float("inf"):
                raise ConfigError(
                    f"surrogate_alpha: must be a finite number > 0, got {self.surrogate_alpha}"
                )
        for i, layer in enumerate(self.layers):
            layer.validate(f"layers[{i}]")
        self._validate_kind_fields()
        check = KINDS[self.kind].validate
        if check is not None:
            check(self)

    def _validate_kind_fields(self) -> None:
        """Refuse the optional fields this kind does not use; require the widths it needs."""
        kind = KINDS[self.kind]
        for key in KIND_FIELDS:
            if key not in kind.fields and getattr(self, key) is not None:
                raise ConfigError(
                    f"{key}: only used by kind: {' or '.join(users_of(key))} "
                    f"(this is kind: {self.kind}); remove it"
                )
        for i, layer in enumerate(self.layers):
            if kind.needs_width and layer.width is None:
                raise ConfigError(f"layers[{i}].width: missing (number of units or channels)")
            for key in KIND_LAYER_FIELDS:
                if key not in kind.layer_fields and getattr(layer, key) is not None:
                    raise ConfigError(
                        f"layers[{i}].{key}: only used by kind: {' or '.join(users_of(key))} "
                        f"(this is kind: {self.kind}); remove it"
                    )

    def transformer_dims(self) -> tuple[int, int, float]:
        """``(dim, heads, mlp_ratio)`` with :data:`TRANSFORMER_DEFAULTS` for the unset ones."""
        dim = self.dim if self.dim is not None else TRANSFORMER_DEFAULTS["dim"]
        heads = self.heads if self.heads is not None else TRANSFORMER_DEFAULTS["heads"]
        ratio = self.mlp_ratio if self.mlp_ratio is not None else TRANSFORMER_DEFAULTS["mlp_ratio"]
        return int(dim), int(heads), float(ratio)

    @property
    def use_batchnorm(self) -> bool:
        """``batchnorm``, or when unset its kind's default (:attr:`.kinds.Kind.batchnorm`)."""
        if self.batchnorm is not None:
            return self.batchnorm
        kind = KINDS.get(self.kind) if isinstance(self.kind, str) else None
        return kind is not None and kind.batchnorm

    def to_dict(self) -> dict[str, Any]:
        """A JSON/YAML-serialisable dict that :meth:`from_dict` turns back into this spec."""
        d = asdict(self)
        d["layers"] = [dict(layer, neuron_args=dict(layer["neuron_args"])) for layer in d["layers"]]
        return d
