from __future__ import annotations

import pytest
import torch

from snn_models import ConfigError, NetSpec, build, firing_rates, spiking_layers
from snn_models.neurons import BIFNode, IFNode, LIFNode


@pytest.mark.parametrize("encoder", ["direct", "rate", "latency"])
@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_build_shapes_and_per_layer_neurons(kind: str, encoder: str) -> None:
    spec = {
        "kind": kind,
        "timesteps": 3,
        "encoder": encoder,
        "layers": [
            {"width": 6, "neuron": "if", "threshold": 0.7},
            {"width": 5, "neuron": "bif", "threshold": 0.9},
            {"width": 4, "neuron": "lif", "decay": 0.8, "pool": False},
        ],
    }
    net = build(spec, (1, 8, 8), 10)
    out = net(torch.rand(2, 1, 8, 8))
    assert out.shape == (2, 10)
    neurons = list(spiking_layers(net).values())
    assert [type(n) for n in neurons] == [IFNode, BIFNode, LIFNode]
    assert [n.threshold for n in neurons] == [0.7, 0.9, 1.0]
    assert neurons[2].decay == 0.8
    assert set(firing_rates(net)) == set(spiking_layers(net))


def test_spec_round_trips_through_a_plain_dict() -> None:
    spec = NetSpec.from_dict(
        {
            "kind": "mlp",
            "timesteps": 2,
            "layers": [{"width": 3, "neuron_args": {"v_reset": 0.7}, "neuron": "bif"}],
        }
    )
    again = NetSpec.from_dict(spec.to_dict())
    assert again == spec


def test_spike_readout_and_gradients_flow() -> None:
    net = build(
        {
            "kind": "mlp",
            "timesteps": 4,
            "readout": "spikes",
            "layers": [{"width": 16, "threshold": 0.2}],
        },
        (8,),
        3,
    )
    out = net(torch.rand(4, 8))
    assert out.shape == (4, 3) and float(out.detach().min()) >= 0 and float(out.detach().max()) <= 1
    out.sum().backward()
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    assert grads and any(float(g.abs().sum()) > 0 for g in grads)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"kind": "mlp", "layers": [{"width": 4, "neuron": "izhikevich"}]},
            r"layers\[0\]\.neuron: unknown neuron type 'izhikevich'",
        ),
        (
            {"kind": "mlp", "timesteps": 0, "layers": [{"width": 4}]},
            r"timesteps: must be a positive integer",
        ),
        ({"kind": "mlp", "timesteps": -3, "layers": [{"width": 4}]}, r"timesteps"),
        (
            {"kind": "mlp", "layers": [{"width": 4, "treshold": 1.0}]},
            r"layers\[0\]\.treshold: unknown key \(did you mean 'threshold'\?\)",
        ),
        (
            {"kind": "mlp", "timestep": 4, "layers": [{"width": 4}]},
            r"timestep: unknown key \(did you mean 'timesteps'\?\)",
        ),
        ({"kind": "rnn", "layers": [{"width": 4}]}, r"kind: unknown network kind 'rnn'"),
        ({"kind": "mlp", "layers": []}, r"layers: must be a non-empty list"),
        ({"kind": "mlp", "layers": [{"width": 0}]}, r"layers\[0\]\.width: must be >= 1"),
        ({"kind": "mlp", "layers": [{"width": 4, "threshold": -1}]}, r"threshold: must be > 0"),
        (
            {"kind": "mlp", "encoder": "morse", "layers": [{"width": 4}]},
            r"encoder: unknown encoder 'morse'",
        ),
        (
            {
                "kind": "mlp",
                "layers": [{"width": 4, "neuron": "bif", "neuron_args": {"v_reset": 5.0}}],
            },
            r"v_reset",
        ),
    ],
)
def test_bad_specs_name_the_key(spec: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build(spec, (1, 8, 8), 10)


def test_cnn_pooling_beyond_the_image_is_refused() -> None:
    spec = {"kind": "cnn", "layers": [{"width": 2}] * 4}
    with pytest.raises(ConfigError, match="pool: the feature map is already 1x1"):
        build(spec, (1, 8, 8), 10)
