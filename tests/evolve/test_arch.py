from __future__ import annotations

import pytest

from evolve.engine.arch import arch_to_specs
from evolve.errors import UserError
from snn_models import NetSpec


def test_flat_sample_maps_to_layers_neuron_args_and_training() -> None:
    arch = {
        "kind": "mlp",
        "depth": 2,
        "timesteps": 5,
        "encoder": "rate",
        "lr": 0.004,
        "layer.0.width": 64,
        "layer.0.neuron": "lif",
        "layer.0.threshold": 0.8,
        "layer.0.decay": 0.6,
        "layer.1.channels": 32,
        "layer.1.neuron": "bif",
        "layer.1.threshold": 1.1,
        "layer.1.v_reset": 0.7,
    }
    net, train = arch_to_specs(arch)
    assert train == {"lr": 0.004}
    spec = NetSpec.from_dict(net)
    assert spec.timesteps == 5 and spec.encoder == "rate"
    assert [layer.width for layer in spec.layers] == [64, 32]
    assert spec.layers[0].decay == 0.6
    assert dict(spec.layers[1].neuron_args) == {"v_reset": 0.7}


@pytest.mark.parametrize(
    ("arch", "message"),
    [
        (
            {"kind": "mlp", "layer.0.width": 4, "layer.0.colour": "red"},
            "unknown layer setting 'colour'",
        ),
        (
            {"kind": "mlp", "layer.0.width": 4, "momentum": 0.9},
            "'momentum': not a model or training setting",
        ),
        ({"kind": "mlp", "depth": 3, "layer.0.width": 4}, "depth 3 but defines 1 layers"),
        ({"kind": "mlp", "layer.1.width": 4}, "numbered 0..n-1"),
    ],
)
def test_bad_samples_are_named(arch: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        arch_to_specs(arch)
