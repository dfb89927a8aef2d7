"""Weight sharing: one *supernet* holds the synaptic weights of every narrower network of its
structure (one-shot architecture search: SPOS, AutoSNN).

A :class:`SuperNet` is built from the widest :class:`~snn_models.config.NetSpec` of a structure
(kind, depth, BatchNorm or not, encoded input shape, per-layer kernel and pooling: what
:func:`structure_key` names). A *subnet* is an ordinary network of the same structure, built
with :func:`snn_models.build` from any NetSpec no wider than the supernet: its neuron types,
thresholds, decays, resets, timesteps and encoder are its own (neurons hold no synaptic weights,
T and the encoder reuse the same weights), and each synaptic tensor (``nn.Linear``,
``nn.Conv2d``, BatchNorm weights, biases and running statistics) is the leading slice of the
supernet's: a layer of width ``k`` uses the first ``k`` units or channels of the widest layer,

.. math::

    W^{sub}_\\ell = W^{super}_\\ell[:k_\\ell,\\ :k_{\\ell-1}], \\qquad
    b^{sub}_\\ell = b^{super}_\\ell[:k_\\ell].

(The flattened features of ``k`` CNN channels are the leading ``k·H·W`` features of the
widest layer, so the output layer slices the same way.)

A ``kind: transformer`` supernet (:mod:`snn_models.supernet_transformer`) shares the model
width ``dim`` and each block's MLP width by leading slices the same way, and holds one set of
attention weights per attention type in every block (a choice block): a subnet's block ``i``
of attention type ``a`` uses the type-``a`` weights of block ``i``. Its heads are its own.

:meth:`SuperNet.forward_path` runs a subnet on those slices (``torch.func.functional_call``):
gradients and BatchNorm statistics go to the shared tensors, so training the supernet with one
random subnet per mini-batch is uniform path sampling. :meth:`SuperNet.load_into` copies the
slices into the subnet, which is then an ordinary network: its forward, energy measurement
(:func:`snn_models.energy.measure_energy`, from its real spikes) and export work as for any
built model.

Example:
    >>> import torch
    >>> wide = {"kind": "mlp", "layers": [{"width": 32}, {"width": 32}]}
    >>> sn = SuperNet(wide, (64,), 10)
    >>> sub = build({"kind": "mlp", "timesteps": 2,
    ...              "layers": [{"width": 8, "neuron": "if"}, {"width": 16}]}, (64,), 10)
    >>> x = torch.rand(3, 64)
    >>> torch.equal(sn.forward_path(sub, x), sn.load_into(sub)(x))
    True

    A transformer supernet holding two attention types, and a narrower subnet using both:

    >>> wide = {"kind": "transformer", "dim": 32, "patch": 4, "layers": [{}, {}]}
    >>> sn = SuperNet(wide, (1, 8, 8), 10, attention=["sdsa", "ssa"])
    >>> sub = build({"kind": "transformer", "dim": 16, "heads": 4, "patch": 4, "timesteps": 2,
    ...              "layers": [{"attention": "ssa"}, {"neuron": "if"}]}, (1, 8, 8), 10)
    >>> x = torch.rand(3, 1, 8, 8)
    >>> torch.equal(sn.forward_path(sub, x), sn.load_into(sub)(x))
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call

from snn_models.architectures import build
from snn_models.config import NetSpec
from snn_models.encoders import encoded_shape
from snn_models.errors import ConfigError
from snn_models.network import SpikingNet
from snn_models.supernet_transformer import (
    attention_types,
    canonical_tensors,
    check_subnet,
    choice_net,
    transformer_key,
    widest_transformer_spec,
)

__all__ = [
    "SHARED_KINDS",
    "SYNAPTIC_TYPES",
    "SuperNet",
    "shared_kinds_text",
    "structure_key",
    "synaptic_modules",
    "widest_spec",
]

#: The network kinds a supernet can hold (their hidden layers differ only in width, and for a
#: transformer in model width and attention type per block).
SHARED_KINDS = ("mlp", "cnn", "transformer")
#: The modules whose tensors a subnet shares with its supernet, in forward order.
SYNAPTIC_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.BatchNorm1d, nn.BatchNorm2d)


def synaptic_modules(net: nn.Module) -> list[tuple[str, nn.Module]]:
    """``(name, module)`` of every synaptic layer and BatchNorm of ``net``, in forward order
    (a :class:`SpikingNet` registers preprocess, stem, encoder, body, head in that order)."""
    return [(n, m) for n, m in net.named_modules() if isinstance(m, SYNAPTIC_TYPES)]


def shared_kinds_text() -> str:
    """:data:`SHARED_KINDS` in words: ``'mlp, cnn and transformer'``."""
    return ", ".join(SHARED_KINDS[:-1]) + f" and {SHARED_KINDS[-1]}"


def structure_key(spec: NetSpec | Mapping[str, Any], input_shape: Sequence[int]) -> str:
    """What must match for two specs to share one supernet: kind, depth, BatchNorm, the
    encoded input shape and each layer's kernel and pooling, or a transformer's patch (not
    widths, model width, heads, attention types, neurons, thresholds, timesteps or the encoder
    itself).

    Raises:
        ConfigError: a kind no supernet holds (:data:`SHARED_KINDS`).

    Example:
        >>> structure_key({"kind": "mlp", "layers": [{"width": 8}]}, (64,))
        'mlp/d1/bn0/in64/k3p1'
    """
    spec = NetSpec.from_dict(spec)
    if spec.kind not in SHARED_KINDS:
        raise ConfigError(f"kind: {spec.kind}: weight sharing supports kind {shared_kinds_text()}")
    if spec.kind == "transformer":
        return transformer_key(spec, input_shape)
    shape = encoded_shape(spec.encoder, tuple(int(s) for s in input_shape))
    layers = ",".join(f"k{la.kernel}p{int(la.pool)}" for la in spec.layers)
    dims = "x".join(str(s) for s in shape)
    return f"{spec.kind}/d{len(spec.layers)}/bn{int(spec.use_batchnorm)}/in{dims}/{layers}"


def widest_spec(
    spec: NetSpec | Mapping[str, Any], widths: Sequence[int] | None, *, dim: int | None = None
) -> NetSpec:
    """``spec`` with its layer widths set to ``widths`` (the supernet of its structure); for a
    transformer ``widths`` are the blocks' MLP widths (None: its own) and ``dim`` the model
    width (None: its own).

    Raises:
        ConfigError: ``widths`` does not give one width per layer.
    """
    spec = NetSpec.from_dict(spec)
    if spec.kind == "transformer":
        return widest_transformer_spec(spec, dim, widths)
    if widths is None or len(widths) != len(spec.layers):
        raise ConfigError(f"widths: {len(spec.layers)} layers need {len(spec.layers)} widths")
    d = spec.to_dict()
    d["layers"] = [dict(la, width=int(w)) for la, w in zip(d["layers"], widths, strict=True)]
    return NetSpec.from_dict(d)


def _leading(full: Tensor, shape: torch.Size, where: str) -> Tensor:
    """The leading ``shape`` block of ``full`` (a view)."""
    if full.dim() != len(shape) or any(s > f for s, f in zip(shape, full.shape, strict=True)):
        raise ConfigError(
            f"{where}: shape {tuple(shape)} does not fit the supernet's {tuple(full.shape)}; "
            "the subnet is wider than its supernet"
        )
    return full[tuple(slice(0, s) for s in shape)]


class SuperNet(nn.Module):
    """The shared weights of every subnet of one structure.

    Args:
        spec: the widest spec of the structure (:func:`widest_spec`).
        input_shape, n_classes: as for :func:`snn_models.build`.
        attention: transformer only: the attention types every block holds weights for (the
            spec's own are always included).

    Attributes:
        spec: the widest spec; key: its :func:`structure_key`; net: the widest network, which
            holds the shared tensors (its ``state_dict`` is the supernet's; a transformer's
            blocks hold :class:`~snn_models.supernet_transformer.AttentionChoice` blocks, each
            running the spec's own type); attention_types: the types held (empty for mlp and
            cnn).

    Raises:
        ConfigError: a spec that does not build, a kind no supernet holds, an unknown
            attention type, or attention types for a kind without attention.
    """

    def __init__(
        self,
        spec: NetSpec | Mapping[str, Any],
        input_shape: Sequence[int],
        n_classes: int,
        *,
        attention: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.spec = NetSpec.from_dict(spec)
        self.input_shape = tuple(int(s) for s in input_shape)
        self.n_classes = int(n_classes)
        self.key = structure_key(self.spec, self.input_shape)
        self.attention_types: tuple[str, ...] = ()
        if self.spec.kind == "transformer":
            self.attention_types = attention_types(self.spec, attention)
            self.net: SpikingNet = choice_net(
                self.spec, self.input_shape, self.n_classes, self.attention_types
            )
        elif attention:
            raise ConfigError(
                f"attention: kind {self.spec.kind} has no attention blocks; leave it out"
            )
        else:
            self.net = build(self.spec, self.input_shape, self.n_classes)
        self._slots = [m for _, m in synaptic_modules(self.net)]

    def shared_tensors(self, model: nn.Module) -> dict[str, Tensor]:
        """Each synaptic parameter and buffer of ``model`` by name → the slice of the supernet
        it shares (views: writing one writes the supernet).

        Raises:
            ConfigError: ``model`` is not a subnet of this supernet (another structure, wider,
                or an attention type it holds no weights for).
        """
        if self.spec.kind == "transformer":
            return self._shared_by_name(model)
        mods = synaptic_modules(model)
        if [type(m) for _, m in mods] != [type(m) for m in self._slots]:
            raise ConfigError(
                f"the model is not a subnet of supernet {self.key!r} (other layers); build it "
                "from a spec of the same structure"
            )
        out: dict[str, Tensor] = {}
        for (name, mod), big in zip(mods, self._slots, strict=True):
            for pname, p in mod.named_parameters(recurse=False):
                out[f"{name}.{pname}"] = _leading(getattr(big, pname), p.shape, f"{name}.{pname}")
            for bname, b in mod.named_buffers(recurse=False):
                if b is not None:
                    out[f"{name}.{bname}"] = _leading(
                        getattr(big, bname), b.shape, f"{name}.{bname}"
                    )
        return out

    def _shared_by_name(self, model: nn.Module) -> dict[str, Tensor]:
        """:meth:`shared_tensors` of a transformer: matched by canonical name."""
        check_subnet(model, self.key, self.input_shape, self.attention_types)
        big = canonical_tensors(self.net)
        out: dict[str, Tensor] = {}
        for canon, (name, tensor) in canonical_tensors(model).items():
            if canon not in big:
                raise ConfigError(
                    f"the model is not a subnet of supernet {self.key!r} ({name} has no "
                    "counterpart); build it from a spec of the same structure"
                )
            out[name] = _leading(big[canon][1], tensor.shape, name)
        return out

    def forward_path(self, model: nn.Module, x: Tensor) -> Tensor:
        """``model(x)`` computed on the supernet's tensors: gradients (and, in training mode,
        BatchNorm running statistics) go to the shared weights."""
        out: Tensor = functional_call(model, self.shared_tensors(model), (x,), strict=False)
        return out

    @torch.no_grad()
    def load_into(self, model: nn.Module) -> nn.Module:
        """Copy the shared slices into ``model`` (its inherited weights); returns ``model``."""
        for name, tensor in self.shared_tensors(model).items():
            owner, _, attr = name.rpartition(".")
            getattr(model.get_submodule(owner), attr).copy_(tensor)
        return model
