"""Network kinds: one registry entry per value of ``NetSpec.kind``.

Everything the library does differently per kind is a field of that kind's :class:`Kind` in
:data:`KINDS`: how the spiking network is built, what input it takes, which optional spec fields
it uses and what else it checks, its ANN twin, how :mod:`snn_models.explain` draws it, and
whether it is a plain feed-forward stack. Code elsewhere looks the entry up
(``KINDS[spec.kind].batchnorm``, ...) instead of comparing kind names.

Add a kind by writing one module with its builder (and, if it needs them, a spec check and a
reference architecture) and one line in :data:`KINDS`; the kind contract test
(``tests/contract/test_kind_contract.py``) then checks it like every other kind.

This module imports the kind modules and nothing that imports it back (the kind modules import
:mod:`snn_models.config` for type hints only), so :mod:`snn_models.config` can validate a spec
against the registry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from snn_models import cnn, mlp, temporal, transformer
from snn_models.network import SpikingNet

if TYPE_CHECKING:
    from snn_models.config import NetSpec

#: What a network reads, per sample: ``vector`` ``(F,)`` features, ``image`` ``(C, H, W)``,
#: ``sequence`` ``(L, C)`` (steps first, a transformer's token sequence) or ``series``
#: ``(C, L)`` (channels first, aeon's layout; the network's own time).
InputKind = Literal["vector", "image", "sequence", "series"]
INPUT_KINDS: tuple[InputKind, ...] = ("vector", "image", "sequence", "series")

#: Optional :class:`~snn_models.config.NetSpec` fields that only some kinds use; a kind lists the
#: ones it uses in :attr:`Kind.fields`, the others are refused when set.
KIND_FIELDS = ("dim", "heads", "mlp_ratio", "patch")
#: Optional :class:`~snn_models.config.LayerSpec` fields that only some kinds use.
KIND_LAYER_FIELDS = ("attention", "dilation")

Builder = Callable[["NetSpec", tuple[int, ...], int], SpikingNet]
SpecCheck = Callable[["NetSpec"], None]
ReferenceSpec = Callable[[int, tuple[int, ...]], dict[str, Any]]


@dataclass(frozen=True)
class Kind:
    """One network kind.

    Attributes:
        name: the ``kind`` value of a spec.
        build: ``(spec, input_shape, n_classes) -> SpikingNet``: the spiking network of a
            validated spec (:func:`snn_models.build` calls it after validating the spec, with
            ``input_shape`` as a tuple of ints and ``n_classes >= 2``). It creates the modules
            in a fixed order, so a fixed seed gives the same weights.
        inputs: the input kinds it accepts (:data:`INPUT_KINDS`), its main one first.
        fields: the optional :data:`KIND_FIELDS` of the spec it uses; setting another is an
            error.
        layer_fields: the optional :data:`KIND_LAYER_FIELDS` of each layer it uses.
        needs_width: every layer must set ``width``.
        validate: further checks of a spec of this kind (raise
            :class:`~snn_models.errors.ConfigError`), run after the common ones; ``None``: none.
        batchnorm: the default of ``NetSpec.batchnorm``.
        ann_activation: the :class:`~snn_models.ann.Analog` activation of its ANN twin
            (``relu`` or ``gelu``).
        twin_layer: layer settings its ANN twin overrides (:func:`snn_models.ann.twin_spec`),
            e.g. softmax attention for a transformer.
        explain: how :func:`snn_models.explain.explain_maps` draws its layers: ``layout`` (each
            layer by its spatial or token layout on the input; a model with none gets the input
            projection of its first layer) or ``time`` (one curve over the input series).
        feedforward: a plain stack of ``Linear``/``Conv2d`` synapses and spiking neurons (no
            attention, no causal convolution): what ANN→SNN conversion
            (:mod:`snn_models.conversion`), NIR export (:mod:`snn_models.nir_io`) and STDP take.
        reference_spec: ``(width, input_shape) -> spec dict``: the kind's reference
            architecture at a given width (what distillation teachers are built from);
            ``None``: none.
        reference_width: the default width of :attr:`reference_spec`.
    """

    name: str
    build: Builder
    inputs: tuple[InputKind, ...]
    fields: tuple[str, ...] = ()
    layer_fields: tuple[str, ...] = ()
    needs_width: bool = True
    validate: SpecCheck | None = None
    batchnorm: bool = False
    ann_activation: str = "relu"
    twin_layer: Mapping[str, Any] = field(default_factory=dict)
    explain: Literal["layout", "time"] = "layout"
    feedforward: bool = False
    reference_spec: ReferenceSpec | None = None
    reference_width: int | None = None

    @property
    def input_kind(self) -> InputKind:
        """Its main input kind (the first of :attr:`inputs`)."""
        return self.inputs[0]


KINDS: dict[str, Kind] = {
    "mlp": Kind(
        "mlp",
        mlp.build_mlp,
        inputs=("vector", "image", "sequence", "series"),
        feedforward=True,
        reference_spec=mlp.reference_spec,
        reference_width=256,
    ),
    "cnn": Kind(
        "cnn",
        cnn.build_cnn,
        inputs=("image",),
        batchnorm=True,
        feedforward=True,
        reference_spec=cnn.reference_spec,
        reference_width=64,
    ),
    "transformer": Kind(
        "transformer",
        transformer.build_transformer,
        inputs=("image", "sequence"),
        fields=KIND_FIELDS,
        layer_fields=("attention",),
        needs_width=False,
        validate=transformer.validate_transformer_spec,
        batchnorm=True,
        ann_activation="gelu",
        twin_layer={"attention": "standard"},
        reference_spec=transformer.reference_spec,
        reference_width=64,
    ),
    "temporal": Kind(
        "temporal",
        temporal.build_temporal,
        inputs=("series",),
        fields=("patch",),
        layer_fields=("dilation",),
        validate=temporal.validate_temporal_spec,
        batchnorm=True,
        explain="time",
    ),
}


def users_of(key: str) -> tuple[str, ...]:
    """The kinds whose spec uses the optional field ``key`` (:data:`KIND_FIELDS`,
    :data:`KIND_LAYER_FIELDS`).

    Example:
        >>> users_of("patch")
        ('transformer', 'temporal')
    """
    return tuple(
        name for name, kind in KINDS.items() if key in kind.fields or key in kind.layer_fields
    )


def feedforward_kinds() -> tuple[str, ...]:
    """The kinds that are plain feed-forward stacks (:attr:`Kind.feedforward`).

    Example:
        >>> feedforward_kinds()
        ('mlp', 'cnn')
    """
    return tuple(name for name, kind in KINDS.items() if kind.feedforward)


__all__ = [
    "INPUT_KINDS",
    "KINDS",
    "KIND_FIELDS",
    "KIND_LAYER_FIELDS",
    "InputKind",
    "Kind",
    "feedforward_kinds",
    "users_of",
]
