"""NIR export/import of our networks: exact round trips, and refusals that name the node."""

from __future__ import annotations

import nir
import pytest
import torch

from snn_models.architectures import build
from snn_models.neurons.base import BaseNeuron
from snn_models.nir_io import NIRUnsupported, from_nir, to_nir

pytestmark = pytest.mark.usefixtures("one_thread")


def _spikes(model: torch.nn.Module, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
    seen: list[torch.Tensor] = []
    hooks = [
        m.register_forward_hook(lambda _m, _a, o: seen.append(o.clone()))
        for m in model.modules()
        if isinstance(m, BaseNeuron)
    ]
    with torch.no_grad():
        y = model(x)
    for h in hooks:
        h.remove()
    return seen, y


@pytest.mark.parametrize("readout", ["membrane", "spikes"])
def test_round_trip_through_a_nir_file_spikes_identically(tmp_path: object, readout: str) -> None:
    spec = {
        "kind": "mlp",
        "timesteps": 5,
        "readout": readout,
        "layers": [
            {"width": 24, "neuron": "lif", "decay": 0.7, "threshold": 0.9},
            {"width": 16, "neuron": "if", "threshold": 1.2, "neuron_args": {"v_reset": 0.1}},
        ],
    }
    model = build(spec, (1, 8, 8), 10).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)  # busy layers: every spike decision is exercised
    path = f"{tmp_path}/m.nir"
    graph = to_nir(model, (1, 8, 8))
    nir.write(path, graph)
    back = from_nir(nir.read(path))
    x = torch.rand(64, 1, 8, 8)
    ours, y = _spikes(model, x)
    theirs, y2 = _spikes(back, x)
    assert len(ours) == len(theirs) == (3 if readout == "spikes" else 2)  # + the output neuron
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True))
    assert all(0.05 < float(a.mean()) < 0.95 for a in ours[:2])  # neither silent nor saturated
    assert torch.equal(y, y2)
    lif = graph.nodes["body.0"]
    # tau = dt / (1 - beta), R = tau / dt, v_leak = 0: NIR's Euler step is beta*v + I
    assert float(lif.tau[0]) == pytest.approx(1 / 0.3) and float(lif.r[0]) == pytest.approx(1 / 0.3)
    assert float(lif.v_leak[0]) == 0.0 and float(lif.v_threshold[0]) == pytest.approx(0.9)
    assert float(graph.nodes["body.2"].v_reset[0]) == pytest.approx(0.1)
    assert graph.metadata["readout"] == readout and graph.metadata["timesteps"] == 5


def test_batchnorm_is_folded_into_the_exported_weights() -> None:
    spec = {"kind": "mlp", "timesteps": 3, "batchnorm": True, "layers": [{"width": 16}]}
    model = build(spec, (1, 8, 8), 10)
    model.train()
    with torch.no_grad():  # give BatchNorm non-trivial running statistics
        for _ in range(5):
            model(torch.rand(32, 1, 8, 8) * 3)
    model.eval()
    graph = to_nir(model, (1, 8, 8))
    assert not any("BatchNorm" in type(n).__name__ for n in graph.nodes.values())
    x = torch.rand(32, 1, 8, 8)
    ours, y = _spikes(model, x)
    theirs, y2 = _spikes(from_nir(graph), x)
    assert torch.allclose(y, y2, atol=1e-5)
    assert all((a != b).float().mean() < 0.01 for a, b in zip(ours, theirs, strict=True))


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({"kind": "mlp", "layers": [{"width": 8, "neuron": "bif"}]}, "body.0 (BIFNode)"),
        ({"kind": "mlp", "layers": [{"width": 8, "neuron": "adaptive"}]}, "body.0 (Adaptive"),
        (
            {"kind": "mlp", "layers": [{"width": 8, "neuron_args": {"soft_reset": True}}]},
            "soft reset",
        ),
        ({"kind": "mlp", "encoder": "rate", "layers": [{"width": 8}]}, "encoder 'rate'"),
        ({"kind": "cnn", "layers": [{"width": 4}]}, "max pooling"),
        ({"kind": "transformer", "layers": [{}]}, "kind 'transformer'"),
    ],
)
def test_what_nir_cannot_express_is_refused_by_name(spec: dict, words: str) -> None:
    model = build(spec, (1, 8, 8), 10).eval()
    with pytest.raises(NIRUnsupported) as info:
        to_nir(model, (1, 8, 8))
    assert words in str(info.value) and "constraint 'nir'" in str(info.value)
