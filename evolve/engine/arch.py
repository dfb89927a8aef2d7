"""Turn a flat search-space sample (an ``ArchSpec``) into a model spec and training overrides.

A sample is flat, labelled data: ``{"kind": "mlp", "depth": 2, "timesteps": 4, "lr": 0.003,
"layer.0.width": 128, "layer.0.neuron": "bif", "layer.0.v_reset": 0.6, ...}``. The rules:

* ``layer.<i>.<field>`` goes to layer ``i``: ``width``/``channels`` → its width, any
  :class:`~snn_models.config.LayerSpec` field to that field, a neuron constructor argument
  (``v_reset``, ``v_c``, ``tau``, ...) into its ``neuron_args``;
* a :class:`~snn_models.config.NetSpec` field (``kind``, ``timesteps``, ``encoder``, ...) stays
  top-level;
* ``lr``, ``batch_size``, ``epochs``, ``weight_decay`` are training settings, and so are the
  distillation settings ``kd_enabled``, ``kd_alpha``, ``kd_temperature``, ``kd_teacher``,
  ``kd_teacher_width``, ``kd_per_step`` and the initialisation ``init`` (``random`` or
  ``convert``: warm-start from the converted weights of a trained ANN twin, which needs a
  network without BatchNorm, so ``init: convert`` also sets ``batchnorm: false``);
* the continual-learning keys ``cl_*`` (:data:`CL_KEYS`; ``evolve continual`` only) are
  training settings too;
* ``depth`` only says how many layers there are (checked against the layer keys).

Any other key is an error naming it, so a typo in a space never trains silently with a default.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from evolve.errors import UserError
from snn_models.config import LayerSpec, NetSpec
from snn_models.neurons import neuron_arg_names

TRAIN_KEYS = ("lr", "batch_size", "epochs", "weight_decay")
KD_KEYS = (
    "kd_enabled",
    "kd_alpha",
    "kd_temperature",
    "kd_teacher",
    "kd_teacher_width",
    "kd_per_step",
)
#: Continual-learning settings (`evolve continual`): the strategy and its options.
CL_KEYS = (
    "cl_strategy",
    "cl_buffer_size",
    "cl_stdp_lr",
    "cl_stdp_epochs",
    "cl_readout_lr",
    "cl_feature_rate",
    "cl_balanced",
)
INIT_CHOICES = ("random", "convert")
_LAYER_KEY = re.compile(r"^layer\.(\d+)\.(\w+)$")


def arch_to_specs(arch: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a flat sample into (NetSpec dict, training overrides)."""
    net_fields = {f.name for f in fields(NetSpec)} - {"layers"}
    layer_fields = {f.name for f in fields(LayerSpec)} - {"neuron_args"}
    net: dict[str, Any] = {}
    train: dict[str, Any] = {}
    layers: dict[int, dict[str, Any]] = {}
    depth = None
    for key, value in arch.items():
        m = _LAYER_KEY.match(key)
        if m:
            i, name = int(m.group(1)), m.group(2)
            layer = layers.setdefault(i, {})
            if name in ("width", "channels"):
                layer["width"] = value
            elif name in layer_fields:
                layer[name] = value
            elif name in neuron_arg_names():
                layer.setdefault("neuron_args", {})[name] = value
            else:
                raise UserError(f"search space key {key!r}: unknown layer setting {name!r}")
        elif key == "depth":
            depth = int(value)
        elif key in TRAIN_KEYS or key in KD_KEYS or key in CL_KEYS:
            train[key] = value
        elif key == "init":
            if value not in INIT_CHOICES:
                raise UserError(
                    f"search space key 'init': unknown value {value!r}; choose one of {', '.join(INIT_CHOICES)}"
                )
            train[key] = value
            if value == "convert":
                net["batchnorm"] = False
        elif key in net_fields:
            net[key] = value
        else:
            raise UserError(f"search space key {key!r}: not a model or training setting")
    if sorted(layers) != list(range(len(layers))):
        raise UserError(f"search space layers must be numbered 0..n-1, got {sorted(layers)}")
    if depth is not None and depth != len(layers):
        raise UserError(f"search space says depth {depth} but defines {len(layers)} layers")
    net["layers"] = [layers[i] for i in range(len(layers))]
    return net, train
